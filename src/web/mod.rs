//! The LAN web server: status page, JSON API, sign-in, `/health`, `/metrics`.
//! Only this module knows HTTP.
//!
//! The box sits on a shared office LAN, so the server is built to be bounded
//! in every resource a client can make it spend (see `server.rs`): hyper 1
//! parses request heads on the tokio runtime with a cap on head size and
//! header count (431), read/write timeouts on every socket, a cap on open
//! connections (503 at once beyond it), bodies over `web.max_body_bytes`
//! refused without being read (413 + `Connection: close`). Handlers are plain
//! blocking functions run on `spawn_blocking` behind three *lanes*
//! ([`server::Lanes`]): ordinary routes share `web.workers` permits, model
//! routes have their own `web.ai_workers` (503 + Retry-After at once when
//! busy), and one permit is kept for `/health`, `/metrics` and `/` so that
//! the watchdog's probe always gets an answer.
//!
//! Who may read what is decided in `auth.rs` (sign-in, Host allowlist, Origin
//! check). Every answer is counted in `ojscog_http_requests_total` /
//! `ojscog_http_request_duration_seconds`, labelled with the route *template*
//! (never an id).

mod agents;
mod api;
pub(crate) mod auth;
mod chart;
mod figures;
mod format;
mod http;
mod io;
mod page;
mod request;
mod route;
mod server;
mod signin;
mod voice;

pub use server::{bind, serve, WebError};

/// Whether the server at `addr` answers `GET /health` at all (any status: a
/// broken data disk is reported as 503, not a hang) within `timeout`. The
/// watchdog's probe: the service asks itself, as the box's health watcher
/// does; loopback connections have their own reserve.
pub fn answers_health(addr: std::net::SocketAddr, timeout: std::time::Duration) -> bool {
    use std::io::{Read, Write};
    let addr = if addr.ip().is_unspecified() {
        std::net::SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
    } else {
        addr
    };
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    if s.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

use crate::context::AppContext;
use auth::{Gate, Role};
pub(crate) use route::{Need, Route};
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};

/// A request as the handlers see it: the head parsed by hyper, the body
/// already read within its limits.
#[derive(Clone)]
pub(crate) struct Req {
    pub method: String,
    /// The path without the query (one trailing slash dropped).
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub peer: IpAddr,
    /// The address the connection arrived on.
    pub local: Option<SocketAddr>,
    pub http11: bool,
}

impl Req {
    /// The value of the first header named `name` (lower case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of cookie `name`, if the request carries it.
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "cookie")
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Whether a browser asked for a page (so a redirect beats a 401).
    fn wants_html(&self) -> bool {
        self.header("accept")
            .map(|a| a.contains("text/html"))
            .unwrap_or(false)
    }
}

/// The production handler: the checks that apply to every route, then the
/// route. A browser gets the errors of page routes as pages.
pub(crate) fn dispatch(
    ctx: &AppContext,
    gate: &Gate,
    desk: Option<&crate::voice::Desk>,
    req: &Req,
    route: Route,
) -> Reply {
    let reply = checked(ctx, gate, desk, req, route);
    if route.is_page() && reply.status >= 400 && reply.content_type == JSON && req.wants_html() {
        let mut page = page::Page::from_reply(Reply {
            status: reply.status,
            content_type: reply.content_type,
            body: reply.body.clone(),
            headers: Vec::new(),
            close: false,
        })
        .render(ctx, Role::Anonymous);
        page.headers.extend(
            reply
                .headers
                .into_iter()
                .filter(|(n, _)| *n != "Content-Security-Policy"),
        );
        page.close = reply.close;
        return page;
    }
    reply
}

fn checked(
    ctx: &AppContext,
    gate: &Gate,
    desk: Option<&crate::voice::Desk>,
    req: &Req,
    route: Route,
) -> Reply {
    if let Err(r) = gate.check_host(req) {
        return r;
    }
    if route == Route::Other {
        return Reply::json(
            404,
            &serde_json::json!({
                "error": format!("nothing here: {}", http::truncate(&req.path, 200)),
                "routes": Route::LISTED,
            }),
        );
    }
    if !route.allows(&req.method) {
        return Reply::error(
            405,
            format!(
                "{} is not allowed on {}; use {}",
                http::truncate(&req.method, 20),
                route.template(),
                route.allow()
            ),
        )
        .with_header("Allow", route.allow());
    }
    if let Err(r) = gate.check_origin(req) {
        return r;
    }
    let now = crate::system::unix_now();
    let need = route.need(&req.method);
    if need == Need::Admin && !gate.admin_enabled() {
        return auth::unauthorized(
            "admin API calls are disabled on this box: set web.admin_token \
             (or OJSCOG_WEB_ADMIN_TOKEN) to enable them",
        );
    }
    let role = match gate.identify(ctx, req, now) {
        Ok(role) => role,
        // Credentials that are not the admin token, on an admin route: 403,
        // whatever they were (the read token or no token at all).
        Err(reply) if reply.status == 401 && need == Need::Admin => {
            return Reply::error(
                403,
                "this action needs the admin token; the one sent is not it",
            )
        }
        // A wrong token is refused even on open routes, so that a client
        // cannot probe tokens there without being counted.
        Err(reply) => return reply,
    };
    let required = match need {
        Need::Nothing => Role::Anonymous,
        Need::Read => gate.read_role(),
        Need::Admin => Role::Admin,
    };
    if role < required {
        return denied(req, need, role);
    }
    let read = role >= gate.read_role();
    match (route, req.method.as_str()) {
        (Route::Page, _) => page::render(ctx, role, page::auto_refresh(&req.query), desk),
        (Route::Health, _) => api::health(ctx, read),
        (Route::Metrics, _) => api::metrics(ctx),
        (Route::SignIn, "POST") => signin::submit(ctx, gate, req, now),
        (Route::SignIn, _) => signin::show(ctx, gate, req, role, now),
        (Route::SignOut, _) => signin::sign_out(ctx, gate, req),
        (Route::Submissions, _) => api::submissions(ctx, &req.query).unwrap_or_else(|r| r),
        (Route::Submission, _) => api::submission(ctx, route.id(&req.path)).unwrap_or_else(|r| r),
        (Route::SubmissionReviewers, _) => {
            agents::reviewers_for(ctx, route.id(&req.path), &req.query).unwrap_or_else(|r| r)
        }
        (Route::Assessment, "POST") => {
            agents::make_assessment(ctx, route.id(&req.path)).unwrap_or_else(|r| r)
        }
        (Route::Assessment, _) => {
            agents::assessment(ctx, route.id(&req.path), &req.query).unwrap_or_else(|r| r)
        }
        (Route::Figures, "POST") => {
            figures::check(ctx, route.id(&req.path), &req.query, &req.body).unwrap_or_else(|r| r)
        }
        (Route::Figures, _) => figures::reports(ctx, route.id(&req.path)).unwrap_or_else(|r| r),
        (Route::FiguresAction, _) => {
            page_or_error(ctx, role, figures::action(ctx, route.id(&req.path), req))
        }
        (Route::Search, _) => agents::search(ctx, &req.query).unwrap_or_else(|r| r),
        (Route::Reviewers, _) => api::reviewers(ctx).unwrap_or_else(|r| r),
        (Route::Sync, "POST") => api::request_sync(ctx),
        (Route::Sync, _) => api::sync_status(ctx),
        (Route::Update, "POST") => api::request_update(ctx, &req.body),
        (Route::Update, _) => api::update_status(ctx),
        (Route::SubmissionsPage, _) => {
            page_or_error(ctx, role, page::submission::list(ctx, role, &req.query))
        }
        (Route::SubmissionPage, _) => page_or_error(
            ctx,
            role,
            page::submission::show(ctx, role, route.id(&req.path), &req.query),
        ),
        (Route::ScreeningAction, _) => page_or_error(
            ctx,
            role,
            page::actions::make_screening(ctx, route.id(&req.path)),
        ),
        (Route::SearchPage, _) => {
            page_or_error(ctx, role, page::search::show(ctx, role, &req.query))
        }
        (Route::ReviewersPage, _) => {
            page_or_error(ctx, role, page::reviewers::list(ctx, role, &req.query))
        }
        (Route::ReviewerPage, _) => page_or_error(
            ctx,
            role,
            page::reviewers::show(ctx, role, route.id(&req.path)),
        ),
        (Route::SyncAction, _) => page_or_error(ctx, role, page::actions::sync_now(ctx)),
        (Route::Voice, "POST") => voice::command(ctx, desk, &req.body).unwrap_or_else(|r| r),
        (Route::Voice, _) => voice::recent(desk).unwrap_or_else(|r| r),
        (Route::VoiceAction, _) => page_or_error(ctx, role, voice::typed(ctx, desk, &req.body)),
        (Route::ListenAction, _) => page_or_error(ctx, role, voice::listen(ctx, desk)),
        (Route::Other, _) => Reply::error(404, "nothing here"),
    }
}

/// A page, or its error as a page.
fn page_or_error(ctx: &AppContext, role: Role, r: Result<Reply, page::Page>) -> Reply {
    r.unwrap_or_else(|p| p.render(ctx, role))
}

/// What a handler answers: `Err` is an error reply, so handlers can use `?`.
pub(crate) type Handled = Result<Reply, Reply>;

/// The answer to a caller without the role a route needs.
fn denied(req: &Req, need: Need, role: Role) -> Reply {
    if need == Need::Admin && role > Role::Anonymous {
        return Reply::error(403, "this action needs the admin token");
    }
    if req.wants_html() && matches!(req.method.as_str(), "GET" | "HEAD") {
        let next = if req.query.is_empty() {
            req.path.clone()
        } else {
            format!("{}?{}", req.path, req.query)
        };
        return Reply::new(303, HTML, "")
            .with_header("Location", format!("/signin?next={}", http::encode(&next)));
    }
    match need {
        Need::Admin => auth::unauthorized(
            "this call needs the header `Authorization: Bearer <admin token>`",
        ),
        _ => auth::unauthorized(
            "sign in first: send `Authorization: Bearer <read token>`, or open /signin in a browser",
        ),
    }
}

/// A response before it is handed to hyper.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    /// Close the connection after this answer (its body was not read).
    pub(crate) close: bool,
}

pub(crate) const JSON: &str = "application/json";
pub(crate) const HTML: &str = "text/html; charset=utf-8";
pub(crate) const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Reply {
    pub(crate) fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            content_type,
            body: body.into(),
            headers: Vec::new(),
            close: false,
        }
    }

    pub(crate) fn json(status: u16, value: &impl Serialize) -> Reply {
        match serde_json::to_vec_pretty(value) {
            Ok(mut body) => {
                body.push(b'\n');
                Reply::new(status, JSON, body)
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize a JSON reply");
                Reply::new(
                    500,
                    JSON,
                    &b"{\"error\": \"cannot serialize the reply\"}\n"[..],
                )
            }
        }
    }

    /// `{"error": message}`.
    pub(crate) fn error(status: u16, message: impl Into<String>) -> Reply {
        Reply::json(status, &serde_json::json!({ "error": message.into() }))
    }

    /// The message of an error reply made by [`Reply::error`].
    pub(crate) fn error_message(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        v.get("error")?.as_str().map(str::to_string)
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    /// Marks the answer as the last on its connection.
    pub(crate) fn closing(mut self) -> Reply {
        self.close = true;
        self
    }

    /// The headers every answer carries, then the reply's own.
    fn all_headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("Content-Type", self.content_type),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            // `same-origin`: a browser sends its real `Origin` on same-site form
            // POSTs (under `no-referrer` Chromium sends `Origin: null`).
            ("Referrer-Policy", "same-origin"),
            ("X-Frame-Options", "DENY"),
        ]
        .into_iter()
        .chain(self.headers.iter().map(|(k, v)| (*k, v.as_str())))
        .chain(self.close.then_some(("Connection", "close")))
    }
}

/// The one parser of a submission id in a path.
pub(crate) fn submission_id(id: &str) -> Result<i64, Reply> {
    id.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        Reply::error(
            400,
            format!(
                "a submission id is a positive whole number, not `{}`",
                http::truncate(id, 40)
            ),
        )
    })
}

/// Reads the only allowed parameters of `query`; anything else is a 400.
pub(crate) fn params(query: &str, allowed: &[&str]) -> Result<Vec<(String, String)>, Reply> {
    let p = http::parse_query(query).map_err(|m| Reply::error(400, m))?;
    for (k, _) in &p {
        if !allowed.contains(&k.as_str()) {
            return Err(Reply::error(
                400,
                format!(
                    "unknown parameter `{}`; allowed: {}",
                    http::truncate(k, 40),
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_templates() {
        let of = |t: &str| match http::split_target(t) {
            Ok((p, _)) => Route::of_path(p),
            Err(_) => Route::Other,
        };
        assert_eq!(of("/"), Route::Page);
        assert_eq!(of("/?x=1"), Route::Page);
        assert_eq!(of("/health"), Route::Health);
        assert_eq!(of("/health/"), Route::Health);
        assert_eq!(of("/api/submissions?status=queued"), Route::Submissions);
        assert_eq!(of("/api/submissions/17"), Route::Submission);
        assert_eq!(of("/api/submissions/abc"), Route::Submission);
        assert_eq!(of("/api/submissions/1/2"), Route::Other);
        assert_eq!(of("/api/submissions//"), Route::Other);
        assert_eq!(of("http://box:8080/metrics"), Route::Metrics);
        assert_eq!(of("*"), Route::Other);
        assert_eq!(of("/nope"), Route::Other);
        assert_eq!(of("/signin"), Route::SignIn);
        assert_eq!(Route::Submission.template(), "/api/submissions/{id}");
        assert_eq!(Route::Other.template(), "other");
        assert!(Route::Sync.allows("POST"));
        assert!(Route::Assessment.allows("POST"));
        assert!(!Route::Page.allows("POST"));
        assert!(!Route::Page.allows("DELETE"));
        assert!(!Route::SignOut.allows("GET"));
        assert_eq!(Route::Sync.need("POST"), Need::Admin);
        assert_eq!(Route::Sync.need("GET"), Need::Read);
        assert_eq!(Route::Health.need("GET"), Need::Nothing);
        assert_eq!(Route::Assessment.need("POST"), Need::Admin);
    }

    #[test]
    fn cookies_are_found_among_others() {
        let req = Req {
            method: "GET".into(),
            path: "/".into(),
            query: String::new(),
            headers: vec![
                ("cookie".into(), "a=1; ojscog_session=abc ; b=2".into()),
                ("cookie".into(), "c=3".into()),
            ],
            body: Vec::new(),
            peer: "127.0.0.1".parse().unwrap(),
            local: None,
            http11: true,
        };
        assert_eq!(req.cookie("ojscog_session"), Some("abc"));
        assert_eq!(req.cookie("c"), Some("3"));
        assert_eq!(req.cookie("d"), None);
    }
}
