//! The service's life: open the store, start the sync loop, the metrics
//! sampler and the web server, and stop them all cleanly on shutdown.

use crate::agents::screening::{ScreeningAgent, ScreeningError};
use crate::config::Config;
use crate::inference::{Embedder, FailureMemo};
use crate::metrics::{names, Metrics};
use crate::store::{Store, StoreError};
use crate::sync::{self, SyncHandle, SyncStatus};
use crate::system::{unix_now, Device, Shutdown};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {message}")]
    Listen { addr: String, message: String },
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    #[error("cannot make a sign-in token: {0}")]
    Token(String),
}

/// The models, loaded on first use: start-up stays fast and a missing model
/// is an error on the routes that need it, not a service that will not start.
/// A failed load is remembered ([`FailureMemo`]: 60 s, or until the model's
/// files change), so a broken model is not loaded again on every request.
pub struct Ai {
    data_dir: PathBuf,
    llm: crate::inference::llm::LlmConfig,
    metrics: Arc<Metrics>,
    embedder: Mutex<Option<Arc<dyn Embedder>>>,
    screening: Mutex<Option<Arc<ScreeningAgent>>>,
    embedder_failure: FailureMemo,
    screening_failure: FailureMemo,
}

impl Ai {
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> Ai {
        Ai {
            data_dir: config.data_dir.clone(),
            llm: config.llm.clone(),
            metrics,
            embedder: Mutex::new(None),
            screening: Mutex::new(None),
            embedder_failure: FailureMemo::default(),
            screening_failure: FailureMemo::default(),
        }
    }

    /// The sentence-embedding model, or (with the reason) the exact-term
    /// fallback when the model cannot be loaded; loading is retried after 60 s
    /// or when the model's files change.
    pub fn embedder(&self) -> (Arc<dyn Embedder>, Option<String>) {
        let mut slot = self.embedder.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = slot.as_ref() {
            return (e.clone(), None);
        }
        let state = crate::inference::embedder_state(&self.data_dir);
        if let Some((message, ago)) = self.embedder_failure.recall(&state) {
            let e: Arc<dyn Embedder> = Arc::new(crate::inference::HashingEmbedder::default());
            return (
                e,
                Some(format!(
                    "{message} (failed {} s ago; not retried yet)",
                    ago.as_secs()
                )),
            );
        }
        let (e, warning) = crate::inference::open_embedder_or_fallback(&self.data_dir);
        match &warning {
            None => *slot = Some(e.clone()),
            Some(w) => self.embedder_failure.remember(state, w.clone()),
        }
        (e, warning)
    }

    /// The screening agent (loads the LLM on first use; a failure is
    /// answered again at once for 60 s, or until the model's files change).
    pub fn screening(&self) -> Result<Arc<ScreeningAgent>, ScreeningError> {
        let mut slot = self.screening.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(a) = slot.as_ref() {
            return Ok(a.clone());
        }
        let state = crate::inference::llm::model_state(&self.llm, &self.data_dir);
        if let Some((message, ago)) = self.screening_failure.recall(&state) {
            return Err(ScreeningError::Llm(
                crate::inference::llm::LlmError::RecentlyFailed {
                    message,
                    seconds_ago: ago.as_secs(),
                },
            ));
        }
        let agent =
            match ScreeningAgent::load(self.llm.clone(), &self.data_dir, self.metrics.clone()) {
                Ok(a) => Arc::new(a),
                Err(e) => {
                    self.screening_failure.remember(state, e.to_string());
                    return Err(e);
                }
            };
        *slot = Some(agent.clone());
        Ok(agent)
    }
}

/// Everything the web workers read; cheap to share.
pub struct AppContext {
    pub config: Config,
    pub store_path: PathBuf,
    pub metrics: Arc<Metrics>,
    pub sync: SyncHandle,
    pub device: Mutex<Device>,
    /// True when serving the built-in demo journal instead of an OJS mirror.
    pub demo: bool,
    pub ai: Ai,
    /// The search index and its background embedding job.
    pub indexer: Arc<crate::agents::indexer::Indexer>,
}

impl AppContext {
    /// A read-only store connection for one request or worker.
    pub fn open_store(&self) -> Result<Store, StoreError> {
        Store::open_read_only(&self.store_path)
    }

    /// A writable connection, for the agents that cache what they compute.
    pub fn open_store_rw(&self) -> Result<Store, StoreError> {
        if !self.store_path.exists() {
            // Never recreate a store that vanished under the service.
            return Store::open_read_only(&self.store_path);
        }
        Store::open(&self.store_path)
    }
}

/// A running service; [`Service::stop`] shuts it down and waits.
pub struct Service {
    pub ctx: Arc<AppContext>,
    pub local_addr: std::net::SocketAddr,
    made_read_token: bool,
    shutdown: Shutdown,
    shutdown_tx: tokio::sync::watch::Sender<bool>,
    failed: tokio::sync::watch::Receiver<Option<String>>,
    threads: Vec<JoinHandle<()>>,
}

impl Service {
    /// Opens the store, binds the listener and starts every part. With
    /// `web.access = "token"` and no read token configured, a fresh one is made
    /// (see [`Service::sign_in_url`]).
    pub fn start(mut config: Config, demo: bool) -> Result<Service, ServiceError> {
        let made_read_token =
            config.web.access == crate::config::Access::Token && config.web.read_token.is_empty();
        if made_read_token {
            config.web.read_token =
                crate::web::auth::random_token().map_err(ServiceError::Token)?;
        }
        let store_path = config.store_path();
        let store = Store::open(&store_path)?;
        if demo {
            crate::demo::load(&store_path)?;
        }
        let metrics = Arc::new(Metrics::new());
        let mut status = SyncStatus::load(&store)?;
        status.configured = !config.ojs.url.is_empty() && !demo;
        status.stale_after_seconds = config.ojs.stale_after_secs;
        if let Some(t) = status.last_success_at {
            metrics.set(names::SYNC_LAST_SUCCESS, &[], t as f64);
        }
        let handle = SyncHandle::new(status);
        let addr = config.web.listen.clone();
        let listen_err = |e: std::io::Error| ServiceError::Listen {
            addr: addr.clone(),
            message: e.to_string(),
        };
        let listener = std::net::TcpListener::bind(&addr).map_err(listen_err)?;
        let local_addr = listener.local_addr().map_err(listen_err)?;
        let indexer = Arc::new(crate::agents::indexer::Indexer::new(
            store_path.clone(),
            Default::default(),
        ));
        let ctx = Arc::new(AppContext {
            ai: Ai::new(&config, metrics.clone()),
            indexer,
            device: Mutex::new(Device::new(&config.data_dir)),
            config,
            store_path,
            metrics,
            sync: handle,
            demo,
        });
        let shutdown = Shutdown::new();
        let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
        let mut threads = Vec::new();

        if ctx.sync.status().configured {
            let (cfg, metrics, handle) = (
                ctx.config.ojs.clone(),
                ctx.metrics.clone(),
                ctx.sync.clone(),
            );
            let rx = shutdown_rx.clone();
            threads.push(spawn("sync", move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start the sync runtime");
                        return;
                    }
                };
                rt.block_on(sync::run_loop(cfg, store, metrics, handle, rx));
            })?);
        } else {
            drop(store);
        }

        {
            let ctx = ctx.clone();
            let shutdown = shutdown.clone();
            threads.push(spawn("sampler", move || {
                crate::metrics::sampler::run(&ctx, &shutdown)
            })?);
        }
        let (failed_tx, failed) = tokio::sync::watch::channel(None);
        {
            let ctx = ctx.clone();
            let shutdown = shutdown.clone();
            threads.push(spawn("indexer", move || {
                ctx.indexer.run(
                    &|| ctx.ai.embedder().0,
                    &|| ctx.sync.data_generation(),
                    &|| shutdown.is_triggered(),
                )
            })?);
        }
        {
            let (ctx, shutdown) = (ctx.clone(), shutdown.clone());
            threads.push(spawn("web", move || {
                if let Err(e) = crate::web::serve(listener, ctx, shutdown.clone()) {
                    tracing::error!(error = %e, "the web server stopped; the service stops too");
                    let _ = failed_tx.send(Some(e.to_string()));
                    shutdown.trigger();
                }
            })?);
        }
        tracing::info!(%local_addr, demo, "ojscog serving");
        Ok(Service {
            ctx,
            local_addr,
            made_read_token,
            shutdown,
            shutdown_tx,
            failed,
            threads,
        })
    }

    /// A link that signs a browser in with the read token, when this start
    /// made that token (nobody else knows it); `None` when it was configured.
    pub fn sign_in_url(&self) -> Option<String> {
        if !self.made_read_token {
            return None;
        }
        let host = if self.local_addr.ip().is_unspecified() {
            format!("127.0.0.1:{}", self.local_addr.port())
        } else {
            self.local_addr.to_string()
        };
        Some(format!(
            "http://{host}/signin?token={}",
            self.ctx.config.web.read_token
        ))
    }

    /// Completes when a part of the service failed for good (the web
    /// listener died): the caller should stop and exit non-zero.
    pub async fn failed(&self) -> String {
        let mut rx = self.failed.clone();
        loop {
            if let Some(e) = rx.borrow().clone() {
                return e;
            }
            if rx.changed().await.is_err() {
                // The web thread ended without a failure: never completes.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Signals every part to stop and waits for them: the web workers finish
    /// the requests they hold, the sync loop stops between batches.
    pub fn stop(self) {
        self.shutdown.trigger();
        // The indexer sleeps between passes: wake it to see the flag.
        self.ctx.indexer.notify();
        let _ = self.shutdown_tx.send(true);
        for t in self.threads {
            let _ = t.join();
        }
        tracing::info!("ojscog stopped");
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, ServiceError> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map_err(ServiceError::Thread)
}

/// Sleeps up to `d`, waking early on shutdown. Returns false if shutting down.
pub fn sleep_unless_shutdown(shutdown: &Shutdown, d: Duration) -> bool {
    let end = std::time::Instant::now() + d;
    while std::time::Instant::now() < end {
        if shutdown.is_triggered() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100).min(end - std::time::Instant::now()));
    }
    !shutdown.is_triggered()
}

/// Seconds since the epoch; re-exported for callers of the service.
pub fn now() -> i64 {
    unix_now()
}
