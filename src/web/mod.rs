//! The LAN web server: status page, JSON API, `/health`, `/metrics`.
//! Only this module knows HTTP.
//!
//! `tiny_http` reads request heads on its own per-connection threads and
//! queues complete requests; [`serve`] answers them on a fixed pool of
//! `web.workers` threads. A slow client therefore holds one of tiny_http's
//! connection threads, never a worker. Every answer is counted in
//! `ojscog_http_requests_total` / `ojscog_http_request_duration_seconds`,
//! labelled with the route *template* (never an id).

mod ai;
mod api;
mod chart;
mod format;
mod http;
mod page;

use crate::metrics::names;
use crate::service::AppContext;
use crate::system::Shutdown;
use serde::Serialize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tiny_http::{Header, Method, Request, Response, Server};

/// How long a worker waits for a request before looking at the shutdown flag.
const POLL: Duration = Duration::from_millis(200);

/// tiny_http buffers bodies up to this size (without `Expect: 100-continue`)
/// before handing the request over; larger ones are read from the socket.
const TINY_HTTP_BUFFERED_BODY: usize = 1024;

/// tiny_http 0.12 throws away an unread body when the request is dropped by
/// allocating one buffer as large as what is left of the declared
/// `Content-Length`. For an absurd length that allocation fails and aborts
/// the whole process, so such requests must never be dropped (see [`send`]).
const MAX_DROPPABLE_BODY: usize = 64 * 1024 * 1024;

/// Answers requests from `server` on `ctx.config.web.workers` threads until `shutdown`.
pub fn serve(server: Arc<tiny_http::Server>, ctx: Arc<AppContext>, shutdown: Shutdown) {
    serve_with(server, ctx, shutdown, handle);
}

/// Produces the reply to one request; [`handle`] outside of tests.
type Handler = fn(&AppContext, &mut Request, Route) -> Reply;

fn serve_with(server: Arc<Server>, ctx: Arc<AppContext>, shutdown: Shutdown, handler: Handler) {
    let n = ctx.config.web.workers.max(1);
    let mut workers = Vec::with_capacity(n);
    for i in 0..n {
        let (server, ctx, shutdown) = (server.clone(), ctx.clone(), shutdown.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("web-{i}"))
            .spawn(move || worker(&server, &ctx, &shutdown, handler));
        match spawned {
            Ok(h) => workers.push(h),
            Err(e) => tracing::error!(error = %e, worker = i, "cannot start a web worker"),
        }
    }
    if workers.is_empty() {
        // Not even one thread: answer on this one rather than not at all.
        worker(&server, &ctx, &shutdown, handler);
    }
    for w in workers {
        if w.join().is_err() {
            tracing::error!("a web worker ended with a panic");
        }
    }
    // Requests still queued would be dropped with the server, and tiny_http
    // would drain (or, for an absurd length, abort on) their bodies: answer them.
    while let Ok(Some(req)) = server.try_recv() {
        send(
            req,
            Reply::error(503, "the service is shutting down").with_header("Retry-After", "5"),
        );
    }
    tracing::debug!("web workers stopped");
}

fn worker(server: &Server, ctx: &AppContext, shutdown: &Shutdown, handler: Handler) {
    let mut listener_failed = false;
    while !shutdown.is_triggered() {
        match server.recv_timeout(POLL) {
            Ok(Some(req)) => answer(ctx, req, handler),
            Ok(None) => {}
            Err(e) => {
                // tiny_http reports a failed accept() once and stops accepting.
                if !listener_failed {
                    tracing::error!(error = %e, "the HTTP listener failed; no new connections are accepted");
                    listener_failed = true;
                }
                std::thread::sleep(POLL);
            }
        }
    }
}

/// Routes, answers and counts one request. A panicking handler becomes a 500.
fn answer(ctx: &AppContext, mut req: Request, handler: Handler) {
    let started = Instant::now();
    let route = Route::of(req.url());
    let reply = match catch_unwind(AssertUnwindSafe(|| handler(ctx, &mut req, route))) {
        Ok(reply) => reply,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(route = route.template(), panic = %msg, "a request handler panicked");
            Reply::error(500, "internal error; the details are in the service log")
        }
    };
    // Counted before the client can see the answer, so that a scrape that
    // follows a request always includes it. The duration is the handler's.
    let status = reply.status;
    let secs = started.elapsed().as_secs_f64();
    let code = status.to_string();
    let template = route.template();
    ctx.metrics.inc(
        names::HTTP_REQUESTS,
        &[("route", template), ("status", &code)],
        1.0,
    );
    ctx.metrics
        .observe(names::HTTP_DURATION, &[("route", template)], secs);
    tracing::debug!(method = %req.method(), route = template, status, seconds = secs, "answered");
    send(req, reply);
}

/// What is left of the request body once the handler is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leftover {
    /// Nothing, or only what tiny_http already buffered: dropping is free.
    Nothing,
    /// Bytes still on the socket that tiny_http reads (and blocks on) when
    /// the request is dropped.
    OnSocket,
    /// More than tiny_http can safely throw away (see [`MAX_DROPPABLE_BODY`]).
    TooLargeToDrop,
}

fn leftover(req: &Request, consumed: bool) -> Leftover {
    if consumed {
        return Leftover::Nothing;
    }
    let expects_continue = header(req, "Expect").is_some();
    match req.body_length() {
        Some(n) if n > MAX_DROPPABLE_BODY => Leftover::TooLargeToDrop,
        Some(n) if n > TINY_HTTP_BUFFERED_BODY || (n > 0 && expects_continue) => Leftover::OnSocket,
        // Chunked bodies are not drained on drop; a missing length means no body.
        _ => Leftover::Nothing,
    }
}

/// Sends `reply`. A worker never waits for a client's unread body: such
/// requests are answered (and their body drained) on a short-lived thread.
fn send(req: Request, reply: Reply) {
    let left = leftover(&req, reply.body_consumed);
    let response = reply.into_response();
    match left {
        Leftover::Nothing => respond(req, response),
        Leftover::OnSocket => {
            let spawned = std::thread::Builder::new()
                .name("web-drain".into())
                .spawn(move || respond(req, response));
            if let Err(e) = spawned {
                // The request was dropped with the closure, here: tiny_http
                // answered 500 and drained the body on this worker.
                tracing::warn!(error = %e, "cannot start a thread to drain a request body");
            }
        }
        Leftover::TooLargeToDrop => {
            // Answer, then keep the connection's reader forever instead of letting
            // tiny_http allocate the declared length. The client gets the status
            // and headers; the leak is one idle connection per such request.
            let stream = req.upgrade("close", response);
            std::mem::forget(stream);
            tracing::warn!(
                "refused a request declaring an absurd body length; its connection is parked"
            );
        }
    }
}

fn respond(req: Request, response: Response<std::io::Cursor<Vec<u8>>>) {
    if let Err(e) = req.respond(response) {
        tracing::debug!(error = %e, "could not send a response");
    }
}

/// The value of the first header named `name` (case-insensitive).
fn header<'a>(req: &'a Request, name: &'static str) -> Option<&'a str> {
    req.headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

/// The routes; `template` is what the metrics are labelled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Page,
    Health,
    Metrics,
    Submissions,
    Submission,
    SubmissionReviewers,
    Assessment,
    Reviewers,
    Search,
    Sync,
    Other,
}

impl Route {
    fn of(url: &str) -> Route {
        match http::split_target(url) {
            Ok((path, _)) => Route::of_path(path),
            Err(_) => Route::Other,
        }
    }

    fn of_path(path: &str) -> Route {
        match path {
            "/" => Route::Page,
            "/health" => Route::Health,
            "/metrics" => Route::Metrics,
            "/api/submissions" => Route::Submissions,
            "/api/reviewers" => Route::Reviewers,
            "/api/search" => Route::Search,
            "/api/sync" => Route::Sync,
            p => match p.strip_prefix("/api/submissions/") {
                Some(id) if !id.is_empty() && !id.contains('/') => Route::Submission,
                Some(rest) => match rest.split_once('/') {
                    Some((id, "reviewers")) if !id.is_empty() => Route::SubmissionReviewers,
                    Some((id, "assessment")) if !id.is_empty() => Route::Assessment,
                    _ => Route::Other,
                },
                _ => Route::Other,
            },
        }
    }

    pub(crate) fn template(self) -> &'static str {
        match self {
            Route::Page => "/",
            Route::Health => "/health",
            Route::Metrics => "/metrics",
            Route::Submissions => "/api/submissions",
            Route::Submission => "/api/submissions/{id}",
            Route::SubmissionReviewers => "/api/submissions/{id}/reviewers",
            Route::Assessment => "/api/submissions/{id}/assessment",
            Route::Reviewers => "/api/reviewers",
            Route::Search => "/api/search",
            Route::Sync => "/api/sync",
            Route::Other => "other",
        }
    }

    /// The `Allow` header value.
    fn allow(self) -> &'static str {
        match self {
            Route::Sync => "GET, HEAD, POST",
            _ => "GET, HEAD",
        }
    }

    fn allows(self, method: &Method) -> bool {
        match method {
            Method::Get | Method::Head => true,
            Method::Post => self == Route::Sync,
            _ => false,
        }
    }
}

/// The production handler: checks that apply to every route, then the route.
fn handle(ctx: &AppContext, req: &mut Request, route: Route) -> Reply {
    let url = req.url().to_string();
    let (path, query) = match http::split_target(&url) {
        Ok(t) => t,
        Err(msg) => return Reply::error(400, msg),
    };
    let limit = ctx.config.web.max_body_bytes;
    if let Some(n) = req.body_length().filter(|n| *n > limit) {
        return Reply::error(
            413,
            format!("the request body ({n} bytes) is larger than the limit of {limit} bytes"),
        );
    }
    if route == Route::Other {
        return Reply::json(
            404,
            &serde_json::json!({
                "error": format!("nothing here: {path}"),
                "routes": ["/", "/health", "/metrics", "/api/submissions",
                           "/api/submissions/{id}", "/api/submissions/{id}/reviewers",
                           "/api/submissions/{id}/assessment", "/api/reviewers",
                           "/api/search", "/api/sync"],
            }),
        );
    }
    let method = req.method().clone();
    if !route.allows(&method) {
        return Reply::error(
            405,
            format!("{method} is not allowed on {path}; use {}", route.allow()),
        )
        .with_header("Allow", route.allow());
    }
    match (route, method) {
        (Route::Page, _) => page::render(ctx),
        (Route::Health, _) => api::health(ctx),
        (Route::Metrics, _) => api::metrics(ctx),
        (Route::Submissions, _) => api::submissions(ctx, query),
        (Route::Submission, _) => {
            let id = path.strip_prefix("/api/submissions/").unwrap_or_default();
            api::submission(ctx, id)
        }
        (Route::SubmissionReviewers | Route::Assessment, _) => {
            let rest = path.strip_prefix("/api/submissions/").unwrap_or_default();
            let id = rest.split('/').next().unwrap_or_default();
            if route == Route::Assessment {
                ai::assessment(ctx, id, query)
            } else {
                ai::reviewers_for(ctx, id, query)
            }
        }
        (Route::Search, _) => ai::search(ctx, query),
        (Route::Reviewers, _) => api::reviewers(ctx),
        (Route::Sync, Method::Post) => api::request_sync(ctx, req),
        (Route::Sync, _) => api::sync_status(ctx),
        (Route::Other, _) => Reply::error(404, format!("nothing here: {path}")),
    }
}

/// A response before it is handed to tiny_http.
pub(crate) struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    /// The handler read the request body to its end.
    body_consumed: bool,
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
            body_consumed: false,
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

    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    fn into_response(self) -> Response<std::io::Cursor<Vec<u8>>> {
        let mut response = Response::from_data(self.body)
            .with_status_code(self.status)
            // Always send a Content-Length: simpler for every client.
            .with_chunked_threshold(usize::MAX);
        let common = [
            ("Content-Type", self.content_type.to_string()),
            ("Cache-Control", "no-store".to_string()),
            ("X-Content-Type-Options", "nosniff".to_string()),
            ("Referrer-Policy", "no-referrer".to_string()),
        ];
        for (name, value) in common.into_iter().chain(self.headers) {
            match Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                Ok(h) => response.add_header(h),
                Err(()) => tracing::warn!(header = name, "dropped a header that is not ASCII"),
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::metrics::Metrics;
    use crate::sync::{SyncHandle, SyncStatus};
    use crate::system::Device;
    use std::io::{Read, Write};
    use std::sync::Mutex;

    #[test]
    fn routes_and_templates() {
        assert_eq!(Route::of("/"), Route::Page);
        assert_eq!(Route::of("/?x=1"), Route::Page);
        assert_eq!(Route::of("/health"), Route::Health);
        assert_eq!(Route::of("/health/"), Route::Health);
        assert_eq!(
            Route::of("/api/submissions?status=queued"),
            Route::Submissions
        );
        assert_eq!(Route::of("/api/submissions/17"), Route::Submission);
        assert_eq!(Route::of("/api/submissions/abc"), Route::Submission);
        assert_eq!(Route::of("/api/submissions/1/2"), Route::Other);
        assert_eq!(Route::of("/api/submissions//"), Route::Other);
        assert_eq!(Route::of("http://box:8080/metrics"), Route::Metrics);
        assert_eq!(Route::of("*"), Route::Other);
        assert_eq!(Route::of("/nope"), Route::Other);
        assert_eq!(Route::Submission.template(), "/api/submissions/{id}");
        assert_eq!(Route::Other.template(), "other");
        assert!(Route::Sync.allows(&Method::Post));
        assert!(!Route::Page.allows(&Method::Post));
        assert!(!Route::Page.allows(&Method::Delete));
    }

    fn test_ctx(dir: &std::path::Path, workers: usize) -> Arc<AppContext> {
        let mut config = Config {
            data_dir: dir.to_path_buf(),
            ..Default::default()
        };
        config.web.workers = workers;
        let store_path = config.store_path();
        crate::store::Store::open(&store_path).unwrap();
        Arc::new(AppContext {
            indexer: Arc::new(crate::agents::indexer::Indexer::new(
                store_path.clone(),
                Default::default(),
            )),
            device: Mutex::new(Device::new(dir)),
            config,
            store_path,
            metrics: Arc::new(Metrics::new()),
            sync: SyncHandle::new(SyncStatus::default()),
            demo: false,
            ai: crate::service::Ai::new(&Config::default(), Arc::new(Metrics::new())),
        })
    }

    fn raw(addr: std::net::SocketAddr, request: &str) -> String {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    fn panicky(ctx: &AppContext, req: &mut Request, route: Route) -> Reply {
        if req.url() == "/health?panic" {
            panic!("boom");
        }
        handle(ctx, req, route)
    }

    /// A panicking handler answers 500 and the (single) worker keeps serving.
    #[test]
    fn handler_panic_is_a_500_and_the_worker_survives() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = test_ctx(dir.path(), 1);
        let server = Arc::new(Server::http("127.0.0.1:0").unwrap());
        let addr = server.server_addr().to_ip().unwrap();
        let shutdown = Shutdown::new();
        let t = {
            let (server, ctx, shutdown) = (server.clone(), ctx.clone(), shutdown.clone());
            std::thread::spawn(move || serve_with(server, ctx, shutdown, panicky))
        };
        for _ in 0..3 {
            let r = raw(
                addr,
                "GET /health?panic HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            );
            assert!(r.starts_with("HTTP/1.1 500"), "{r}");
            assert!(r.contains("internal error"), "{r}");
        }
        let r = raw(
            addr,
            "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert_eq!(
            ctx.metrics.value(
                names::HTTP_REQUESTS,
                Some(&[("route", "/health"), ("status", "500")])
            ),
            3.0
        );
        shutdown.trigger();
        t.join().unwrap();
    }
}
