//! The transport: hyper 1 on tokio, with every resource a client can make the
//! server spend bounded.
//!
//! | what a client can do | what bounds it |
//! |---|---|
//! | open many connections | `web.max_connections` permits, at most [`per_client_limit`] of them per client address; beyond: one `503` written without waiting, then closed; [`LOOPBACK_EXTRA`] more for the box itself (127.0.0.1/::1: its own watchdog) |
//! | send a head slowly or not at all | hyper's `header_read_timeout` + a read timeout on the socket (`web.read_timeout_secs`) |
//! | send a huge head / many headers | `web.max_header_bytes` (hyper's buffer cap) and `web.max_headers`: `431` |
//! | declare a huge body | `413` with `Connection: close`, the body is never read |
//! | trickle a body | the whole body must arrive within `web.read_timeout_secs`: `408`, closed |
//! | not read the answer | a write timeout on the socket (`web.write_timeout_secs`) |
//! | keep a connection forever | [`MAX_CONNECTION_AGE`], then a graceful close |
//! | ask for expensive work | the model lane (`web.ai_workers`): `503` + `Retry-After` at once when busy |
//! | keep every worker busy | one permit kept for `/health`, `/metrics` and `/` |
//!
//! [`run`] is the whole life of the server (mini-redis style): it accepts
//! until `shutdown`, then stops accepting, asks every connection to finish its
//! request and waits at most [`DRAIN`]. It returns an error when the listener
//! itself fails for good, so that the process can exit non-zero and init
//! restarts it.

use super::auth::Gate;
use super::io::{Busy, GuardedIo};
use super::route::{Cost, Route};
use super::{dispatch, Reply, Req};
use crate::context::AppContext;
use crate::metrics::names;
use crate::system::Shutdown;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a stopping server waits for requests in flight.
pub const DRAIN: Duration = Duration::from_secs(2);
/// Connections kept for the box's own clients (its health watcher connects
/// from 127.0.0.1 or ::1) beyond `web.max_connections`.
pub const LOOPBACK_EXTRA: usize = 8;
/// A connection is closed (after its current request) when it is this old.
pub const MAX_CONNECTION_AGE: Duration = Duration::from_secs(300);
/// How long an ordinary request may wait for a worker before it gets a 503.
const QUEUE_WAIT: Duration = Duration::from_secs(5);
/// `accept` failing without a break for this long means the listener is dead.
const LISTENER_GIVE_UP: Duration = Duration::from_secs(30);
/// What an over-limit connection gets, written once without waiting.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
Retry-After: 1\r\nConnection: close\r\nContent-Length: 52\r\n\r\n\
{\"error\": \"too many connections; try again shortly\"}";

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("the HTTP listener failed: {0}")]
    Listener(std::io::Error),
    #[error("cannot start the web runtime: {0}")]
    Runtime(std::io::Error),
}

/// The permits that decide how many handlers run at once (see the module docs).
pub(crate) struct Lanes {
    ordinary: Arc<Semaphore>,
    reserved: Arc<Semaphore>,
    model: Arc<Semaphore>,
    queue_wait: Duration,
}

impl Lanes {
    pub(crate) fn new(workers: usize, ai_workers: usize) -> Lanes {
        Lanes {
            ordinary: Arc::new(Semaphore::new(workers.max(1))),
            reserved: Arc::new(Semaphore::new(1)),
            model: Arc::new(Semaphore::new(ai_workers.max(1))),
            queue_wait: QUEUE_WAIT,
        }
    }

    /// The most handler threads the lanes let run at once.
    fn threads(workers: usize, ai_workers: usize) -> usize {
        workers.max(1) + ai_workers.max(1) + 1
    }

    async fn acquire(&self, cost: Cost) -> Result<OwnedSemaphorePermit, Reply> {
        let busy = |secs: u64, what: &str| {
            Reply::error(503, format!("{what}; try again in {secs} s"))
                .with_header("Retry-After", secs.to_string())
        };
        match cost {
            Cost::Model => self
                .model
                .clone()
                .try_acquire_owned()
                .map_err(|_| busy(5, "the box is busy with other model work")),
            Cost::Essential => {
                if let Ok(p) = self.ordinary.clone().try_acquire_owned() {
                    return Ok(p);
                }
                if let Ok(p) = self.reserved.clone().try_acquire_owned() {
                    return Ok(p);
                }
                let wait = async {
                    tokio::select! {
                        p = self.ordinary.clone().acquire_owned() => p,
                        p = self.reserved.clone().acquire_owned() => p,
                    }
                };
                match tokio::time::timeout(self.queue_wait, wait).await {
                    Ok(Ok(p)) => Ok(p),
                    _ => Err(busy(2, "every worker is busy")),
                }
            }
            Cost::Ordinary => {
                let wait = self.ordinary.clone().acquire_owned();
                match tokio::time::timeout(self.queue_wait, wait).await {
                    Ok(Ok(p)) => Ok(p),
                    _ => Err(busy(2, "every worker is busy")),
                }
            }
        }
    }
}

/// What every connection task shares.
pub(crate) struct Shared {
    pub(crate) ctx: Arc<AppContext>,
    /// Voice commands (None if the command grammar could not be read).
    pub(crate) desk: Option<Arc<crate::voice::Desk>>,
    pub(crate) gate: Gate,
    lanes: Lanes,
    /// Set when the server stops: body reads give up at once.
    pub(super) closing: tokio::sync::watch::Receiver<bool>,
    close_tx: tokio::sync::watch::Sender<bool>,
}

/// Open connections per client address, with the limits of the module docs.
struct ConnectionCount {
    total: usize,
    own: usize,
    per_client: HashMap<IpAddr, usize>,
}

/// The most connections one client address (other than the box itself) may hold.
pub fn per_client_limit(max_connections: usize) -> usize {
    (max_connections / 8).max(8)
}

/// The box itself: 127.0.0.1 and ::1 (other 127/8 addresses count as clients).
fn is_own(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
        IpAddr::V6(v6) => {
            v6 == std::net::Ipv6Addr::LOCALHOST
                || v6.to_ipv4_mapped() == Some(std::net::Ipv4Addr::LOCALHOST)
        }
    }
}

/// One open connection, counted until dropped.
struct ConnectionSlot {
    counts: Arc<Mutex<ConnectionCount>>,
    peer: IpAddr,
}

impl ConnectionSlot {
    fn take(counts: &Arc<Mutex<ConnectionCount>>, peer: IpAddr, max: usize) -> Option<Self> {
        let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
        if is_own(peer) {
            if c.total >= max && c.own >= LOOPBACK_EXTRA {
                return None;
            }
            c.own += 1;
        } else {
            let mine = c.per_client.get(&peer).copied().unwrap_or(0);
            if c.total >= max || mine >= per_client_limit(max) {
                return None;
            }
            c.per_client.insert(peer, mine + 1);
        }
        c.total += 1;
        Some(ConnectionSlot {
            counts: counts.clone(),
            peer,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if is_own(self.peer) {
            c.own = c.own.saturating_sub(1);
        } else if let Some(n) = c.per_client.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                c.per_client.remove(&self.peer);
            }
        }
    }
}

/// Binds the web listener (`web.listen`); `main` does it before the service
/// starts, so a port in use is an error before anything else runs.
pub fn bind(addr: &str) -> Result<std::net::TcpListener, WebError> {
    std::net::TcpListener::bind(addr).map_err(|source| WebError::Bind {
        addr: addr.to_string(),
        source,
    })
}

/// Serves `listener` on a runtime of its own until `shutdown`; blocks. `desk` answers voice commands (None: the
/// voice routes say voice commands are off).
pub fn serve(
    listener: std::net::TcpListener,
    ctx: Arc<AppContext>,
    desk: Option<Arc<crate::voice::Desk>>,
    shutdown: Shutdown,
) -> Result<(), WebError> {
    let web = &ctx.config.web;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(Lanes::threads(web.workers, web.ai_workers))
        .thread_name("web")
        .enable_all()
        .build()
        .map_err(WebError::Runtime)?;
    let (close_tx, closing) = tokio::sync::watch::channel(false);
    let shared = Arc::new(Shared {
        desk,
        gate: Gate::new(web),
        lanes: Lanes::new(web.workers, web.ai_workers),
        ctx: ctx.clone(),
        closing,
        close_tx,
    });
    rt.block_on(async move {
        listener.set_nonblocking(true).map_err(WebError::Listener)?;
        let listener = TcpListener::from_std(listener).map_err(WebError::Listener)?;
        run(listener, shared, shutdown).await
    })
}

/// Accepts and serves connections until `shutdown` (see the module docs).
pub(crate) async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: Shutdown,
) -> Result<(), WebError> {
    let max = shared.ctx.config.web.max_connections;
    let counts = Arc::new(Mutex::new(ConnectionCount {
        total: 0,
        own: 0,
        per_client: HashMap::new(),
    }));
    let mut tasks = tokio::task::JoinSet::new();
    let mut failing_since: Option<Instant> = None;
    let result = loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = shutdown.wait() => break Ok(()),
        };
        while tasks.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(a) => {
                failing_since = None;
                a
            }
            Err(e) if transient(&e) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() > LISTENER_GIVE_UP {
                    break Err(WebError::Listener(e));
                }
                tracing::warn!(error = %e, "accept failed; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => break Err(WebError::Listener(e)),
        };
        let Some(slot) = ConnectionSlot::take(&counts, peer.ip(), max) else {
            // Never queue: one answer if the socket takes it now, then close.
            let _ = stream.try_write(BUSY);
            shared
                .ctx
                .metrics
                .inc(names::HTTP_CONNECTIONS_REFUSED, &[], 1.0);
            continue;
        };
        tasks.spawn(connection(stream, peer, slot, shared.clone()));
    };
    drop(listener);
    let _ = shared.close_tx.send(true);
    let drained =
        tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            connections = tasks.len(),
            "connections still open after the drain time; closing them"
        );
        tasks.abort_all();
    }
    result
}

/// Errors of `accept` that pass (out of fds or memory, a client gone early).
fn transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock | TimedOut | OutOfMemory
    ) || matches!(
        e.raw_os_error(),
        Some(
            libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EPROTO | libc::EPERM
        )
    )
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    _slot: ConnectionSlot,
    shared: Arc<Shared>,
) {
    let mut close = shared.closing.clone();
    let web = &shared.ctx.config.web;
    let read_timeout = Duration::from_secs(web.read_timeout_secs);
    let local = stream.local_addr().ok();
    let _ = stream.set_nodelay(true);
    let busy = Busy::default();
    let in_flight = busy.clone();
    let io = GuardedIo::new(
        stream,
        read_timeout,
        Duration::from_secs(web.write_timeout_secs),
        busy.clone(),
    );
    let io = TokioIo::new(io);
    let svc_shared = shared.clone();
    let svc = hyper::service::service_fn(move |req| {
        let shared = svc_shared.clone();
        let busy = busy.clone();
        async move { Ok::<_, Infallible>(answer(&shared, req, peer, local, busy).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(read_timeout)
        .max_buf_size(web.max_header_bytes)
        .max_headers(web.max_headers)
        // A client may send its request and then shut down its sending side
        // (`nc -N`, some probes): it still gets its answer.
        .half_close(true)
        .keep_alive(true);
    let conn = builder.serve_connection(io, svc);
    tokio::pin!(conn);
    let age = tokio::time::sleep(MAX_CONNECTION_AGE);
    tokio::pin!(age);
    let finished = tokio::select! {
        r = conn.as_mut() => Some(r),
        _ = close.changed() => None,
        () = &mut age => None,
    };
    let result = match finished {
        Some(r) => r,
        // Nothing being handled (idle, or a head or body still arriving):
        // close now rather than wait for a slow client.
        None if !in_flight.active() => return,
        None => {
            conn.as_mut().graceful_shutdown();
            match tokio::time::timeout(DRAIN, conn.as_mut()).await {
                Ok(r) => r,
                Err(_) => return,
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(client = %peer, error = %e, "connection ended with an error");
    }
}

/// One request: limits, lane, handler, metrics. Never fails: every problem
/// is an HTTP answer.
async fn answer(
    shared: &Arc<Shared>,
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    busy: Busy,
) -> hyper::Response<Full<Bytes>> {
    let started = Instant::now();
    let (route, reply) = match super::request::prepare(shared, req, peer, local).await {
        Ok((route, req)) => {
            // The head and body are in: no read deadline while the handler works.
            let _busy = busy.enter();
            let mut cost = route.cost(&req.method);
            if cost == Cost::Model && !shared.gate.may_hold_a_role(&req) {
                // No credentials at all: the answer is a 401, no model lane needed.
                cost = Cost::Ordinary;
            }
            let reply = match shared.lanes.acquire(cost).await {
                Ok(permit) => run_handler(shared, req, route, permit).await,
                Err(busy) => busy,
            };
            (route, reply)
        }
        Err((route, reply)) => (route, reply),
    };
    // Counted before the client can see the answer, so that a scrape that
    // follows a request always includes it.
    let code = reply.status.to_string();
    let template = route.template();
    let metrics = &shared.ctx.metrics;
    metrics.inc(
        names::HTTP_REQUESTS,
        &[("route", template), ("status", &code)],
        1.0,
    );
    metrics.observe(
        names::HTTP_DURATION,
        &[("route", template)],
        started.elapsed().as_secs_f64(),
    );
    tracing::debug!(route = template, status = reply.status, client = %peer, "answered");
    to_response(reply)
}

/// Runs the blocking handler on a blocking thread while holding `permit`.
async fn run_handler(
    shared: &Arc<Shared>,
    req: Req,
    route: Route,
    permit: OwnedSemaphorePermit,
) -> Reply {
    let shared = shared.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        dispatch(
            &shared.ctx,
            &shared.gate,
            shared.desk.as_deref(),
            &req,
            route,
        )
    })
    .await;
    match joined {
        Ok(reply) => reply,
        Err(e) => {
            let msg = match e.try_into_panic() {
                Ok(panic) => panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into()),
                Err(e) => e.to_string(),
            };
            tracing::error!(route = route.template(), panic = %msg, "a request handler panicked");
            Reply::error(500, "internal error; the details are in the service log")
        }
    }
}

fn to_response(reply: Reply) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder().status(reply.status);
    let headers: Vec<(&'static str, String)> = reply
        .all_headers()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    for (name, value) in &headers {
        match hyper::header::HeaderValue::from_str(value) {
            Ok(v) => builder = builder.header(*name, v),
            Err(_) => tracing::warn!(header = name, "dropped a header that is not ASCII"),
        }
    }
    match builder.body(Full::new(Bytes::from(reply.body))) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot build a response");
            let mut r = hyper::Response::new(Full::new(Bytes::from_static(
                b"{\"error\": \"internal error\"}\n",
            )));
            *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_busy_model_lane_answers_503_with_retry_after_at_once() {
        rt().block_on(async {
            let lanes = Lanes::new(2, 1);
            let held = lanes.acquire(Cost::Model).await.unwrap();
            let started = Instant::now();
            let busy = lanes.acquire(Cost::Model).await.err().unwrap();
            assert!(
                started.elapsed() < QUEUE_WAIT,
                "no waiting in the model lane"
            );
            assert_eq!(busy.status, 503);
            assert!(busy.headers.iter().any(|(k, _)| *k == "Retry-After"));
            // Model work never takes an ordinary worker.
            let _a = lanes.acquire(Cost::Ordinary).await.unwrap();
            let _b = lanes.acquire(Cost::Ordinary).await.unwrap();
            drop(held);
            assert!(lanes.acquire(Cost::Model).await.is_ok());
        });
    }

    #[test]
    fn health_gets_the_reserved_worker_when_every_other_is_busy() {
        rt().block_on(async {
            let mut lanes = Lanes::new(1, 1);
            lanes.queue_wait = Duration::from_millis(100);
            let _busy = lanes.acquire(Cost::Ordinary).await.unwrap();
            let queued = lanes.acquire(Cost::Ordinary).await.err().unwrap();
            assert_eq!(queued.status, 503, "ordinary requests wait, then 503");
            let health = lanes.acquire(Cost::Essential).await;
            assert!(health.is_ok(), "the reserved permit serves /health");
        });
    }

    #[test]
    fn a_dead_listener_ends_serve_with_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::config::Config {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        config.web.read_token = "read-token-0123456789".into();
        let store_path = config.store_path();
        crate::store::Store::open(&store_path).unwrap();
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let ctx = Arc::new(AppContext::new(
            config,
            store_path,
            metrics,
            crate::sync::SyncHandle::new(crate::sync::SyncStatus::default()),
        ));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let twin = listener.try_clone().unwrap();
        let shutdown = Shutdown::new();
        let stop = shutdown.clone();
        let server = std::thread::spawn(move || serve(listener, ctx, None, stop));
        std::thread::sleep(Duration::from_millis(200));
        // shutdown(2) on a listening socket makes accept() fail with EINVAL
        // for good: what a dead listener looks like.
        let rc = unsafe { libc::shutdown(std::os::fd::AsRawFd::as_raw_fd(&twin), libc::SHUT_RDWR) };
        assert_eq!(rc, 0);
        let _ = std::net::TcpStream::connect(twin.local_addr().unwrap());
        let deadline = Instant::now() + Duration::from_secs(20);
        while !server.is_finished() {
            assert!(
                Instant::now() < deadline,
                "serve() did not notice its listener died"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        shutdown.trigger();
        let result = server.join().unwrap();
        assert!(matches!(result, Err(WebError::Listener(_))), "{result:?}");
    }
}
