//! The service's life, in mini-redis's shape: `main` binds the listener
//! ([`crate::web::bind`]), [`Service::start`] opens the store and starts every
//! part on it (the sync loop, the metrics sampler, the search indexer, the web
//! server), and [`Service::stop`] triggers the one [`Shutdown`] they all obey
//! and waits for them.

use crate::config::{Access, Config};
use crate::context::AppContext;
use crate::metrics::{names, Metrics};
use crate::store::{Store, StoreError};
use crate::sync::{Source, SyncHandle, SyncLoop, SyncStatus};
use crate::system::Shutdown;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot use the listening socket: {0}")]
    Listener(std::io::Error),
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    #[error("cannot make a sign-in token: {0}")]
    Token(String),
    #[error("no OJS database is configured (set ojs.url or OJSCOG_OJS_URL)")]
    NotConfigured,
    #[error(transparent)]
    Locked(#[from] crate::system::lock::LockError),
}

/// A running service; [`Service::stop`] shuts it down and waits.
pub struct Service {
    pub ctx: Arc<AppContext>,
    pub local_addr: SocketAddr,
    made_read_token: bool,
    shutdown: Shutdown,
    failed: tokio::sync::watch::Receiver<Option<String>>,
    threads: Vec<JoinHandle<()>>,
    /// Held while the service runs: `ojscog restore` refuses to replace the store under it.
    _lock: crate::system::lock::DataDirLock,
}

impl Service {
    /// Opens the store and starts every part on `listener`. `source` says what
    /// the store holds: [`Source::Ojs`] (synced from `config.ojs`, which must
    /// be configured), [`Source::Demo`] (the built-in journal is loaded; see
    /// [`Config::for_demo`]) or [`Source::None`] (serve what is there).
    ///
    /// With `web.access = "token"` and no read token configured, a fresh one is
    /// made (see [`Service::sign_in_url`]).
    pub fn start(
        mut config: Config,
        source: Source,
        listener: TcpListener,
    ) -> Result<Service, ServiceError> {
        if source == Source::Ojs && !config.ojs.is_configured() {
            return Err(ServiceError::NotConfigured);
        }
        let made_read_token =
            config.web.access == Access::Token && config.web.read_token.is_empty();
        if made_read_token {
            config.web.read_token =
                crate::web::auth::random_token().map_err(ServiceError::Token)?;
        }
        let local_addr = listener.local_addr().map_err(ServiceError::Listener)?;
        let lock = crate::system::lock::DataDirLock::shared(&config.data_dir)?;
        let store_path = config.store_path();
        let store = Store::open(&store_path)?;
        if source == Source::Demo {
            crate::demo::load(&store_path)?;
        }
        let metrics = Arc::new(Metrics::new());
        let mut status = SyncStatus::load(&store)?;
        status.configured = source == Source::Ojs;
        status.stale_after_seconds = config.ojs.stale_after_secs;
        if let Some(t) = status.last_success_at {
            metrics.set(names::SYNC_LAST_SUCCESS, &[], t as f64);
        }
        let ctx = Arc::new(AppContext::new(
            config,
            store_path,
            metrics,
            SyncHandle::new(status),
        ));
        let shutdown = Shutdown::new();
        let mut threads = Vec::new();

        if source == Source::Ojs {
            let sync = SyncLoop {
                cfg: ctx.config.ojs.clone(),
                store,
                metrics: ctx.metrics.clone(),
                handle: ctx.sync.clone(),
            };
            threads.push(sync.spawn(shutdown.clone()).map_err(ServiceError::Thread)?);
        } else {
            drop(store);
        }
        {
            let (ctx, shutdown) = (ctx.clone(), shutdown.clone());
            threads.push(spawn("sampler", move || sample(&ctx, &shutdown))?);
        }
        {
            let (ctx, shutdown) = (ctx.clone(), shutdown.clone());
            threads.push(spawn("indexer", move || {
                ctx.indexer.run(
                    &|| ctx.models.embedder().0,
                    &|| ctx.sync.data_generation(),
                    &|| shutdown.is_triggered(),
                )
            })?);
        }
        {
            let (ctx, shutdown) = (ctx.clone(), shutdown.clone());
            threads.push(spawn("updater", move || {
                let u = &ctx.config.update;
                ctx.updates.run(
                    Duration::from_secs(u.check_interval_secs),
                    u.auto_apply,
                    &|| shutdown.is_triggered(),
                    &|| {
                        ctx.models.reload();
                        // New vectors for the new model: the index recomputes lazily.
                        ctx.indexer.notify();
                    },
                )
            })?);
        }
        if ctx.config.backup.is_scheduled() {
            let (ctx, shutdown) = (ctx.clone(), shutdown.clone());
            threads.push(spawn("backup", move || {
                crate::backup::schedule::run(&ctx.config, &ctx.metrics, &shutdown)
            })?);
        }
        if ctx.config.watchdog.is_configured() {
            let (ctx, shutdown) = (ctx.clone(), shutdown.clone());
            threads.push(spawn("watchdog", move || {
                pet_watchdog(&ctx, local_addr, &shutdown)
            })?);
        }
        let desk = match crate::voice::Desk::new(&ctx.config) {
            Ok(d) => Some(Arc::new(d)),
            Err(e) => {
                tracing::error!(error = %e, "voice commands are off");
                None
            }
        };
        if let (Some(desk), false) = (&desk, ctx.config.voice.button.is_empty()) {
            let (ctx, desk, shutdown) = (ctx.clone(), desk.clone(), shutdown.clone());
            threads.push(spawn("voice-button", move || {
                crate::voice::button::run(&desk, &ctx, &|| shutdown.is_triggered())
            })?);
        }
        let (failed_tx, failed) = tokio::sync::watch::channel(None);
        {
            let (ctx, shutdown) = (ctx.clone(), shutdown.clone());
            threads.push(spawn("web", move || {
                if let Err(e) = crate::web::serve(listener, ctx, desk, shutdown.clone()) {
                    tracing::error!(error = %e, "the web server stopped; the service stops too");
                    let _ = failed_tx.send(Some(e.to_string()));
                    shutdown.trigger();
                }
            })?);
        }
        if crate::config::under_service_manager() {
            // systemd's Type=notify: READY once /health answers, then its watchdog.
            let shutdown = shutdown.clone();
            threads.push(spawn("systemd", move || {
                crate::system::notify::run(
                    &format!("serving on {local_addr}"),
                    &|| crate::web::answers_health(local_addr, Duration::from_secs(5)),
                    &shutdown,
                );
            })?);
        }
        tracing::info!(%local_addr, source = source.as_str(), "ojscog serving");
        Ok(Service {
            ctx,
            local_addr,
            made_read_token,
            shutdown,
            failed,
            threads,
            _lock: lock,
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
    /// the requests they hold; a sync in flight is abandoned (its unfinished
    /// batch is not applied) and recorded as interrupted.
    pub fn stop(self) {
        crate::system::notify::stopping();
        self.shutdown.trigger();
        // The indexer sleeps on its own wake-up signal: wake it to see the stop.
        self.ctx.indexer.notify();
        self.ctx.updates.notify();
        for t in self.threads {
            let _ = t.join();
        }
        tracing::info!("ojscog stopped");
    }
}

/// The watchdog thread: opens the device (retrying while another process,
/// such as the boot-time daemon, still holds it) and pets it while the
/// service answers its own `/health` on loopback.
fn pet_watchdog(ctx: &AppContext, addr: SocketAddr, shutdown: &Shutdown) {
    use crate::system::watchdog::Watchdog;
    let cfg = &ctx.config.watchdog;
    let wd = loop {
        match Watchdog::open(&cfg.device, cfg.timeout_secs) {
            Ok(wd) => break wd,
            Err(e) => {
                tracing::warn!(error = %e, "watchdog not open yet; retrying in 5 s");
                if !shutdown.sleep(Duration::from_secs(5)) {
                    return;
                }
            }
        }
    };
    tracing::info!(device = %wd.path().display(), timeout_s = wd.timeout.as_secs(), "petting the hardware watchdog while /health answers");
    let probe_timeout = (wd.timeout / 3).clamp(Duration::from_secs(1), Duration::from_secs(10));
    wd.run(&|| crate::web::answers_health(addr, probe_timeout), &|| {
        shutdown.is_triggered()
    });
}

/// The sampler thread: one sample at start, then every `sample_interval_secs`.
fn sample(ctx: &AppContext, shutdown: &Shutdown) {
    let interval = Duration::from_secs(ctx.config.metrics.sample_interval_secs);
    let mut writer = match Store::open(&ctx.store_path) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "metrics sampler cannot open the store");
            return;
        }
    };
    loop {
        if let Err(e) = ctx.sample_once(&mut writer) {
            tracing::warn!(error = %e, "metrics sample failed");
        }
        if !shutdown.sleep(interval) {
            return;
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, ServiceError> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map_err(ServiceError::Thread)
}
