//! Who may ask what: the access model of the LAN web server.
//!
//! - **Host allowlist** (against DNS rebinding): a request must name the box
//!   by one of its own names (`hostname`, `hostname.local`, `localhost`,
//!   `web.allowed_hosts`) or by the address it arrived on (or a loopback
//!   address); anything else is answered 421 before any route runs.
//! - **Credentials**: `Authorization: Bearer <token>` for API clients, or the
//!   `ojscog_session` cookie (HttpOnly, SameSite=Strict, expiring) that the
//!   sign-in form or a sign-in link (`/signin?token=…`) sets. The read token
//!   gives [`Role::Read`], the admin token [`Role::Admin`]. Sessions live in the
//!   store as the SHA-256 of their id. Tokens are compared in constant time.
//! - **Failed sign-ins** (a wrong token in a form, a link or a Bearer header)
//!   are logged with the client's address and limited per client
//!   ([`FailureLimiter`]): past the limit the client gets 429 until its window ends.
//! - **Cross-site requests**: an unsafe method (POST) whose `Origin` is not this
//!   box, or whose `Sec-Fetch-Site` says cross-site, is refused (403).
//!
//! With `web.access = "lan"` reading needs no credentials; admin actions still do.

use super::{http, Reply, Req};
use crate::config::{Access, WebConfig};
use crate::context::AppContext;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "ojscog_session";
/// Failed sign-ins allowed per client in one [`FAILURE_WINDOW`].
pub(crate) const MAX_FAILURES: u32 = 10;
pub(crate) const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// Clients tracked at once; the oldest windows are dropped beyond it.
const MAX_TRACKED_CLIENTS: usize = 4096;

/// What a request's credentials allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Role {
    Anonymous,
    Read,
    Admin,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Anonymous => "anonymous",
            Role::Read => "read",
            Role::Admin => "admin",
        }
    }
}

/// The access settings and state shared by every request.
pub(crate) struct Gate {
    access: Access,
    read_token: String,
    admin_token: String,
    names: Vec<String>,
    session_secs: i64,
    pub(crate) failures: FailureLimiter,
}

impl Gate {
    /// `web.read_token` is the effective one (configured, or made at start).
    pub(crate) fn new(web: &WebConfig) -> Gate {
        let mut names: Vec<String> = vec!["localhost".into()];
        if let Some(h) = this_host_name() {
            names.push(format!("{h}.local"));
            names.push(format!("{h}.lan"));
            names.push(h);
        }
        names.extend(web.allowed_hosts.iter().map(|h| h.to_ascii_lowercase()));
        Gate {
            access: web.access,
            read_token: web.read_token.clone(),
            admin_token: web.admin_token.clone(),
            names,
            session_secs: (web.session_hours * 3600) as i64,
            failures: FailureLimiter::new(MAX_FAILURES, FAILURE_WINDOW),
        }
    }

    /// Whether an admin token is configured (admin actions are off without one).
    pub(crate) fn admin_enabled(&self) -> bool {
        !self.admin_token.is_empty()
    }

    /// The role a token gives, compared in constant time against both tokens.
    pub(crate) fn role_of_token(&self, token: &str) -> Option<Role> {
        let t = token.as_bytes();
        // Both comparisons always run, so timing does not tell which matched.
        let admin =
            !self.admin_token.is_empty() && http::constant_time_eq(t, self.admin_token.as_bytes());
        let read =
            !self.read_token.is_empty() && http::constant_time_eq(t, self.read_token.as_bytes());
        if admin {
            Some(Role::Admin)
        } else if read {
            Some(Role::Read)
        } else {
            None
        }
    }

    /// Checks the `Host` header: `Err` is the reply (400 or 421).
    pub(crate) fn check_host(&self, req: &Req) -> Result<(), Reply> {
        let Some(host) = req.header("host") else {
            if req.http11 {
                return Err(Reply::error(400, "HTTP/1.1 requests need a Host header"));
            }
            return Ok(());
        };
        let name = host_part(host);
        if self.host_allowed(&name, req.local) {
            Ok(())
        } else {
            Err(Reply::error(
                421,
                format!(
                    "this box does not answer to the name `{}`; add it to web.allowed_hosts \
                     if it is really this box's name",
                    http::truncate(&name, 80)
                ),
            ))
        }
    }

    fn host_allowed(&self, name: &str, local: Option<SocketAddr>) -> bool {
        if name.is_empty() {
            return false;
        }
        if let Ok(ip) = name.parse::<IpAddr>() {
            return ip.is_loopback()
                || local.map(|l| same_ip(l.ip(), ip)).unwrap_or(false)
                || self
                    .names
                    .iter()
                    .any(|n| n.parse::<IpAddr>().ok() == Some(ip));
        }
        let name = name.trim_end_matches('.');
        self.names.iter().any(|n| n == name)
    }

    /// Refuses cross-site unsafe requests (403). Safe methods pass.
    pub(crate) fn check_origin(&self, req: &Req) -> Result<(), Reply> {
        if matches!(req.method.as_str(), "GET" | "HEAD" | "OPTIONS") {
            return Ok(());
        }
        let refuse = |why: &str| {
            Err(Reply::error(
                403,
                format!("cross-site request refused: {why}"),
            ))
        };
        if let Some(origin) = req.header("origin") {
            let Some(rest) = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
            else {
                return refuse("the Origin is not a web origin of this box");
            };
            let https = origin.starts_with("https://");
            let origin_host = host_part(rest);
            let request = req.header("host").unwrap_or_default();
            let request_host = host_part(request);
            // Another port of the same host is another origin (another service).
            let same_port = port_of(rest, https) == port_of(request, https);
            if !self.host_allowed(&origin_host, req.local)
                || origin_host != request_host
                || !same_port
            {
                return refuse("the Origin is another site");
            }
            return Ok(());
        }
        match req.header("sec-fetch-site") {
            None | Some("same-origin") | Some("none") => Ok(()),
            Some(_) => refuse("the browser says the request comes from another site"),
        }
    }

    /// The role of a request's credentials. A wrong Bearer token is a failed
    /// sign-in (counted against the client); a missing or unknown session
    /// cookie is simply anonymous. `Err` is a 429 for a client over its limit.
    pub(crate) fn identify(&self, ctx: &AppContext, req: &Req, now: i64) -> Result<Role, Reply> {
        if let Some(value) = req.header("authorization") {
            self.failures.check(req.peer)?;
            return match http::bearer_token(value).and_then(|t| self.role_of_token(t)) {
                Some(role) => Ok(role),
                None => {
                    self.failed(req.peer, "a wrong or malformed Authorization header");
                    Err(unauthorized(
                        "the Authorization header does not carry a valid token",
                    ))
                }
            };
        }
        if let Some(id) = req.cookie(COOKIE) {
            let hash = sha256_hex(id.as_bytes());
            match ctx.open_store().and_then(|s| s.session(&hash, now)) {
                Ok(Some(row)) => {
                    return Ok(match row.role.as_str() {
                        "admin" => Role::Admin,
                        _ => Role::Read,
                    })
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot look up a web session"),
            }
        }
        Ok(Role::Anonymous)
    }

    /// Whether a request could be more than anonymous where that matters: it
    /// carries credentials, or reading is open (`access = "lan"`).
    pub(crate) fn may_hold_a_role(&self, req: &Req) -> bool {
        self.access == Access::Lan
            || req.header("authorization").is_some()
            || req.cookie(COOKIE).is_some()
    }

    /// The role needed to read confidential routes.
    pub(crate) fn read_role(&self) -> Role {
        match self.access {
            Access::Token => Role::Read,
            Access::Lan => Role::Anonymous,
        }
    }

    /// Records and logs a failed sign-in by `peer`.
    pub(crate) fn failed(&self, peer: IpAddr, what: &str) {
        let n = self.failures.fail(peer);
        tracing::warn!(client = %peer, failures = n, "failed sign-in: {what}");
    }

    /// Starts a session for `role`: the cookie's value and its Set-Cookie header.
    pub(crate) fn start_session(
        &self,
        ctx: &AppContext,
        role: Role,
        peer: IpAddr,
        now: i64,
    ) -> Result<String, Reply> {
        let id = random_token().map_err(|e| Reply::error(500, e))?;
        let mut store = ctx
            .open_store_rw()
            .map_err(|e| Reply::error(503, format!("the local store is unavailable: {e}")))?;
        store
            .create_session(
                &sha256_hex(id.as_bytes()),
                role.as_str(),
                now,
                now + self.session_secs,
                &peer.to_string(),
            )
            .map_err(|e| Reply::error(503, format!("cannot record the session: {e}")))?;
        Ok(format!(
            "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
            self.session_secs
        ))
    }

    /// Ends the request's session, if it has one.
    pub(crate) fn end_session(&self, ctx: &AppContext, req: &Req) {
        if let Some(id) = req.cookie(COOKIE) {
            let ended = ctx
                .open_store_rw()
                .and_then(|s| s.delete_session(&sha256_hex(id.as_bytes())));
            if let Err(e) = ended {
                tracing::warn!(error = %e, "cannot end a web session");
            }
        }
    }
}

/// The Set-Cookie value that clears the session cookie.
pub(crate) fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// A 401 for API clients.
pub(crate) fn unauthorized(message: &str) -> Reply {
    Reply::error(401, message).with_header("WWW-Authenticate", "Bearer realm=\"ojscog\"")
}

/// The host of a `Host` header or an origin's authority, lower case, without
/// the port (`[::1]:8080` → `::1`, `Box.local:80` → `box.local`).
pub(crate) fn host_part(authority: &str) -> String {
    let a = authority.trim();
    let a = a.split('/').next().unwrap_or(a);
    let host = if let Some(rest) = a.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        match a.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => a,
        }
    };
    host.to_ascii_lowercase()
}

/// The port of an authority (`host:port`, `[v6]:port`), or the scheme's default.
fn port_of(authority: &str, https: bool) -> u16 {
    let a = authority.trim().split('/').next().unwrap_or("");
    let port = match a.strip_prefix('[') {
        Some(rest) => rest.split_once("]:").map(|(_, p)| p),
        None => a.rsplit_once(':').map(|(_, p)| p),
    };
    port.and_then(|p| p.parse().ok())
        .unwrap_or(if https { 443 } else { 80 })
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    canon(a) == canon(b)
}

/// This machine's host name, lower case.
fn this_host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_ascii_lowercase())
        .find(|s| !s.is_empty() && s != "localhost")
}

pub(crate) use crate::models::sha256_hex;

/// 32 random bytes from the OS as URL-safe text (64 hex digits).
pub fn random_token() -> Result<String, String> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).map_err(|e| format!("no randomness from the OS: {e}"))?;
    Ok(crate::models::hex(&buf))
}

/// Failed sign-ins per client address in fixed windows, bounded in memory.
pub(crate) struct FailureLimiter {
    max: u32,
    window: Duration,
    clients: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl FailureLimiter {
    pub(crate) fn new(max: u32, window: Duration) -> FailureLimiter {
        FailureLimiter {
            max,
            window,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(429)` while `peer` is over its limit.
    pub(crate) fn check(&self, peer: IpAddr) -> Result<(), Reply> {
        let clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        match clients.get(&peer) {
            Some((n, since)) if *n >= self.max && since.elapsed() < self.window => {
                let wait = self.window.saturating_sub(since.elapsed()).as_secs().max(1);
                Err(Reply::error(
                    429,
                    format!("too many failed sign-ins from {peer}; try again in {wait} s"),
                )
                .with_header("Retry-After", wait.to_string()))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failure; returns the client's failures in its window.
    pub(crate) fn fail(&self, peer: IpAddr) -> u32 {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if clients.len() >= MAX_TRACKED_CLIENTS && !clients.contains_key(&peer) {
            let window = self.window;
            clients.retain(|_, (_, since)| since.elapsed() < window);
            if clients.len() >= MAX_TRACKED_CLIENTS {
                if let Some(oldest) = clients
                    .iter()
                    .min_by_key(|(_, (_, since))| *since)
                    .map(|(ip, _)| *ip)
                {
                    clients.remove(&oldest);
                }
            }
        }
        let entry = clients.entry(peer).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        entry.0
    }

    /// A successful sign-in clears the client's record.
    pub(crate) fn succeeded(&self, peer: IpAddr) {
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&peer);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_authority_without_a_port_has_its_scheme_default() {
        assert_eq!(super::port_of("box.local", false), 80);
        assert_eq!(super::port_of("box.local", true), 443);
        assert_eq!(super::port_of("box.local:8080", false), 8080);
        assert_eq!(super::port_of("[::1]:8080", false), 8080);
        assert_eq!(super::port_of("[::1]", false), 80);
        assert_eq!(super::port_of("10.0.0.2:80/x", false), 80);
    }

    use super::*;

    #[test]
    fn host_parts() {
        assert_eq!(host_part("Box.Local:8080"), "box.local");
        assert_eq!(host_part("[::1]:8080"), "::1");
        assert_eq!(host_part("[fe80::1]"), "fe80::1");
        assert_eq!(host_part("10.0.0.5"), "10.0.0.5");
        assert_eq!(host_part("evil.example:80/x"), "evil.example");
    }

    #[test]
    fn failures_are_limited_per_client_and_cleared_by_success() {
        let l = FailureLimiter::new(3, Duration::from_secs(60));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(a).is_ok());
            l.fail(a);
        }
        assert_eq!(l.check(a).err().map(|r| r.status), Some(429));
        assert!(l.check(b).is_ok(), "another client is not affected");
        l.succeeded(a);
        assert!(l.check(a).is_ok());
    }

    #[test]
    fn the_limiter_tracks_a_bounded_number_of_clients() {
        let l = FailureLimiter::new(3, Duration::from_secs(60));
        for i in 0..(MAX_TRACKED_CLIENTS as u32 + 100) {
            l.fail(IpAddr::from(i.to_be_bytes()));
        }
        assert!(l.clients.lock().unwrap().len() <= MAX_TRACKED_CLIENTS);
    }

    #[test]
    fn tokens_give_roles() {
        let web = WebConfig {
            admin_token: "admin-token-0123456789".into(),
            read_token: "read-token-0123456789".into(),
            ..Default::default()
        };
        let g = Gate::new(&web);
        assert_eq!(g.role_of_token("admin-token-0123456789"), Some(Role::Admin));
        assert_eq!(g.role_of_token("read-token-0123456789"), Some(Role::Read));
        assert_eq!(g.role_of_token("read-token-012345678"), None);
        assert_eq!(g.role_of_token(""), None);
        let open = Gate::new(&WebConfig::default());
        assert_eq!(open.role_of_token(""), None, "empty tokens never match");
    }

    #[test]
    fn random_tokens_differ() {
        let a = random_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_token().unwrap());
    }
}
