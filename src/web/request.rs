//! Reading one request before its handler runs: the target parsed, the head's
//! checks, and the body read within its route's limit and the read timeout —
//! bodies over the ordinary limit (uploads) only from the admin.

use super::auth::Role;
use super::route::Route;
use super::server::Shared;
use super::{http, Reply, Req};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The request head checked and the body read within its limits.
pub(super) async fn prepare(
    shared: &Arc<Shared>,
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    local: Option<SocketAddr>,
) -> Result<(Route, Req), (Route, Reply)> {
    let web = &shared.ctx.config.web;
    let (parts, body) = req.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let (path, query) = match http::split_target(target) {
        Ok(t) => t,
        Err(msg) => return Err((Route::Other, Reply::error(400, msg))),
    };
    let route = Route::of_path(path);
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut req = Req {
        method: parts.method.as_str().to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body: Vec::new(),
        peer: peer.ip(),
        local,
        http11: parts.version == hyper::Version::HTTP_11,
    };
    let limit = route.max_body(web.max_body_bytes);
    let declared = req
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > limit as u64) {
        let reply = Reply::error(
            413,
            format!("the request body ({n} bytes) is larger than the limit of {limit} bytes"),
        );
        return Err((route, reply.closing()));
    }
    let has_body =
        declared.map(|n| n > 0).unwrap_or(false) || req.header("transfer-encoding").is_some();
    if has_body
        && limit > web.max_body_bytes
        && declared.is_none_or(|n| n > web.max_body_bytes as u64)
    {
        if let Err(reply) = admin_before_body(shared, &req).await {
            // Read and dropped, not buffered, so that the client gets to see the answer
            // instead of a reset; bounded by the route's limit and the read timeout.
            tokio::spawn(discard(
                body,
                limit,
                Duration::from_secs(web.read_timeout_secs),
            ));
            return Err((route, reply.closing()));
        }
    }
    if has_body {
        let mut closing = shared.closing.clone();
        let read = tokio::select! {
            r = tokio::time::timeout(
                Duration::from_secs(web.read_timeout_secs),
                Limited::new(body, limit).collect(),
            ) => r,
            _ = closing.wait_for(|c| *c) => {
                let reply = Reply::error(503, "the service is stopping").with_header("Retry-After", "5");
                return Err((route, reply.closing()));
            }
        };
        match read {
            Ok(Ok(collected)) => req.body = collected.to_bytes().to_vec(),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                let reply = Reply::error(
                    413,
                    format!("the request body is larger than the limit of {limit} bytes"),
                );
                return Err((route, reply.closing()));
            }
            Ok(Err(e)) if !timed_out(e.as_ref()) => {
                let reply = Reply::error(400, format!("cannot read the request body: {e}"));
                return Err((route, reply.closing()));
            }
            Ok(Err(_)) | Err(_) => {
                let reply = Reply::error(408, "the request body did not arrive in time");
                return Err((route, reply.closing()));
            }
        }
    }
    Ok((route, req))
}

/// Reads a refused body to its end and drops every frame, stopping after `cap`
/// bytes or `time`: closing a socket with unread data makes the kernel send a
/// reset, which can destroy the answer before the client has read it.
async fn discard(mut body: Incoming, cap: usize, time: Duration) {
    let mut seen = 0usize;
    let _ = tokio::time::timeout(time, async {
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > cap {
                break;
            }
        }
    })
    .await;
}

/// Whether a body error comes from the socket's read timeout.
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

/// Bodies over the ordinary limit (uploads) are read only from the admin: nobody else can make the box buffer them.
/// The handler checks the role again, as for every route.
async fn admin_before_body(shared: &Arc<Shared>, req: &Req) -> Result<(), Reply> {
    let (s, head) = (shared.clone(), req.clone());
    let role = tokio::task::spawn_blocking(move || {
        s.gate.identify(&s.ctx, &head, crate::system::unix_now())
    })
    .await
    .unwrap_or_else(|_| Err(Reply::error(500, "cannot check the credentials")));
    match role {
        Ok(Role::Admin) => Ok(()),
        Ok(Role::Anonymous) => Err(super::auth::unauthorized(
            "uploads need the header `Authorization: Bearer <admin token>` (or an admin sign-in)",
        )),
        Ok(_) => Err(Reply::error(403, "uploads need the admin token")),
        Err(reply) => Err(reply),
    }
}
