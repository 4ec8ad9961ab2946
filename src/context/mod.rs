//! The running service's shared state ([`AppContext`]), below the web server
//! and the sampler that use it; the lazily loaded models ([`LazyModels`]);
//! and the sampling of gauges and metric history ([`AppContext::sample_once`]).

mod models;
mod sampling;

pub use models::LazyModels;
pub use sampling::refresh_gauges;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::sync::SyncHandle;
use crate::system::{Device, DeviceStatus};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What every part of the running service shares: the settings, the store's
/// path, the metrics, the sync's status, the device, the models and the
/// search index. Web handlers read it (and write caches and logs through
/// [`AppContext::open_store_rw`]); the sampler and the indexer run on it.
pub struct AppContext {
    pub config: Config,
    pub store_path: PathBuf,
    pub metrics: Arc<Metrics>,
    pub sync: SyncHandle,
    pub device: Mutex<Device>,
    pub models: LazyModels,
    /// The search index and its background embedding job.
    pub indexer: Arc<crate::agents::indexer::Indexer>,
    /// Over-the-air updates: status, and requests to the updater thread.
    pub updates: crate::update::UpdateHandle,
    /// Screening reports the pages asked for, made in the background.
    pub screening_jobs: Arc<crate::agents::jobs::Jobs>,
    /// Figure checks the pages and the API asked for, made in the background.
    pub figure_jobs: Arc<crate::agents::jobs::Jobs>,
    /// Recent reviewer rankings (keyed on the mirror generation and the model).
    pub matches: Arc<crate::agents::matching::MatchMemo>,
}

impl AppContext {
    /// The shared state for `config` over the store at `store_path`, with the
    /// sync's status `sync` (the service's and the CLI's one way to make it).
    pub fn new(
        config: Config,
        store_path: PathBuf,
        metrics: Arc<Metrics>,
        sync: SyncHandle,
    ) -> AppContext {
        AppContext {
            models: LazyModels::new(&config, metrics.clone()),
            indexer: Arc::new(crate::agents::indexer::Indexer::new(
                store_path.clone(),
                Default::default(),
            )),
            device: Mutex::new(Device::new(&config.data_dir)),
            updates: crate::update::UpdateHandle::new(&config, metrics.clone()),
            screening_jobs: crate::agents::jobs::Jobs::new("screening", 1),
            figure_jobs: crate::agents::jobs::Jobs::new("figures", 1),
            matches: Arc::new(crate::agents::matching::MatchMemo::new()),
            config,
            store_path,
            metrics,
            sync,
        }
    }

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

impl AppContext {
    /// The reviewer ranking for a submission (through the memo and the score cache); a ranking computed now is
    /// counted as a `reviewer_matching` agent run in `/metrics`.
    pub fn rank_reviewers(
        &self,
        store: &Store,
        embedder: &dyn crate::inference::Embedder,
        submission_id: i64,
        limit: usize,
    ) -> Result<crate::agents::matching::MatchResult, crate::agents::AgentError> {
        let (t0, started) = (std::time::Instant::now(), crate::system::unix_now());
        let r = self
            .matches
            .ranking(store, embedder, submission_id, limit)?;
        if !r.cached && r.computed_at >= started {
            self.metrics.agent_run(
                "reviewer_matching",
                "ok",
                t0.elapsed().as_secs_f64(),
                r.computed_at,
            );
        }
        Ok(r)
    }

    /// A search through the indexer's current snapshot, counted as a `search` agent run in `/metrics` (outcome
    /// `ok`, `not_ready` before the first index is built, or `error`; an empty query is the caller's mistake and
    /// not a run).
    pub fn search(
        &self,
        embedder: &dyn crate::inference::Embedder,
        query: &str,
        limit: usize,
    ) -> Result<crate::agents::indexer::SearchResults, crate::agents::AgentError> {
        use crate::agents::AgentError;
        let t0 = std::time::Instant::now();
        let r = self.indexer.search(embedder, query, limit);
        let outcome = match &r {
            Ok(_) => "ok",
            Err(AgentError::EmptyQuery) => return r,
            Err(AgentError::Indexing { .. }) => "not_ready",
            Err(_) => "error",
        };
        self.metrics.agent_run(
            "search",
            outcome,
            t0.elapsed().as_secs_f64(),
            crate::system::unix_now(),
        );
        r
    }

    /// A current reading of the device (the sampler and `/health` share one `Device`).
    pub fn read_device(&self) -> DeviceStatus {
        self.device.lock().unwrap_or_else(|p| p.into_inner()).read()
    }
}
