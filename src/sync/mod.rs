//! Keeping the local store in step with OJS: one run (`run_once`) and the
//! loop around it ([`SyncLoop`]: interval, capped exponential backoff, manual
//! trigger, shutdown), used by `serve` and `sync` alike; and the one judgement
//! of how the sync stands ([`SyncStatus::state`]) that the page, `/health` and
//! the API all render.
//!
//! A run reads a cheap per-submission fingerprint from OJS, compares it with
//! the stored ones, then fetches and applies the changed submissions in
//! batches; each batch is one SQLite transaction, so an interrupted run leaves
//! every batch either fully applied or not at all, and the next run finishes
//! the rest.

use crate::config::OjsConfig;
use crate::metrics::{names, Metrics};
use crate::ojs::{OjsError, OjsSource};
use crate::store::{Batch, BatchOutcome, Store, StoreError};
use crate::system::{unix_now, Shutdown};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("no OJS database is configured (set ojs.url or OJSCOG_OJS_URL)")]
    NotConfigured,
    #[error(transparent)]
    Ojs(#[from] OjsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the sync was interrupted by shutdown; the unfinished batch was not applied")]
    Interrupted,
}

/// sync_state keys.
pub mod keys {
    pub const OJS_VERSION: &str = "ojs_version";
    pub const LAST_ATTEMPT: &str = "last_attempt_at";
    pub const LAST_SUCCESS: &str = "last_success_at";
    pub const LAST_ERROR: &str = "last_error";
    pub const LAST_ERROR_AT: &str = "last_error_at";
    pub const WATERMARK: &str = "watermark_last_activity";
    pub const SOURCE: &str = "source";
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SyncReport {
    pub ojs_version: String,
    pub submissions_seen: usize,
    pub submissions_fetched: usize,
    pub submissions_deleted: usize,
    pub reviewers: usize,
    pub rows_changed: u64,
    pub rows_deleted: u64,
    pub batches: usize,
    pub duration_seconds: f64,
}

/// Runs one complete sync from OJS into `store`.
pub async fn run_once(
    cfg: &OjsConfig,
    store: &mut Store,
    metrics: &Metrics,
) -> Result<SyncReport, SyncError> {
    run_until(cfg, store, metrics, &Shutdown::new()).await
}

/// One run that gives up when `shutdown` is triggered: the batch in flight is
/// not applied (each batch is one transaction) and the run is recorded as
/// `interrupted`, never left `running`.
pub async fn run_until(
    cfg: &OjsConfig,
    store: &mut Store,
    metrics: &Metrics,
    shutdown: &Shutdown,
) -> Result<SyncReport, SyncError> {
    if !cfg.is_configured() {
        return Err(SyncError::NotConfigured);
    }
    let started = Instant::now();
    let now = unix_now();
    store.set_state(keys::LAST_ATTEMPT, &now.to_string())?;
    let run = store.start_run(now)?;
    let mut outcome = BatchOutcome::default();
    let result = tokio::select! {
        r = sync_into(cfg, store, &mut outcome) => r,
        () = shutdown.wait() => Err(SyncError::Interrupted),
    };
    let elapsed = started.elapsed().as_secs_f64();
    metrics.observe(names::SYNC_DURATION, &[], elapsed);
    metrics.inc(names::SYNC_ROWS_CHANGED, &[], outcome.rows_changed as f64);
    metrics.inc(names::SYNC_ROWS_DELETED, &[], outcome.rows_deleted as f64);
    let done = unix_now();
    match result {
        Ok(mut report) => {
            report.duration_seconds = elapsed;
            store.finish_run(run, done, outcome, None)?;
            store.set_state(keys::LAST_SUCCESS, &done.to_string())?;
            store.set_state(keys::LAST_ERROR, "")?;
            metrics.inc(names::SYNC_RUNS, &[("outcome", "ok")], 1.0);
            metrics.set(names::SYNC_LAST_SUCCESS, &[], done as f64);
            tracing::info!(
                version = %report.ojs_version,
                fetched = report.submissions_fetched,
                deleted = report.submissions_deleted,
                rows_changed = report.rows_changed,
                seconds = elapsed,
                "OJS sync done"
            );
            Ok(report)
        }
        Err(SyncError::Interrupted) => {
            tracing::info!("sync stopped by shutdown; the unfinished batch was not applied");
            let _ = store.interrupt_run(run, done, outcome);
            metrics.inc(names::SYNC_RUNS, &[("outcome", "interrupted")], 1.0);
            Err(SyncError::Interrupted)
        }
        Err(e) => {
            // The full text (with host and user) goes to the log only; the store's
            // copy is what open routes show.
            tracing::warn!(error = %e, "OJS sync failed");
            let msg = crate::ojs::public_error_text(&e.to_string(), &cfg.url);
            // Bookkeeping must not hide the real error.
            let _ = store.finish_run(run, done, outcome, Some(&msg));
            let _ = store.set_state(keys::LAST_ERROR, &msg);
            let _ = store.set_state(keys::LAST_ERROR_AT, &done.to_string());
            metrics.inc(names::SYNC_RUNS, &[("outcome", "error")], 1.0);
            Err(e)
        }
    }
}

async fn sync_into(
    cfg: &OjsConfig,
    store: &mut Store,
    outcome: &mut BatchOutcome,
) -> Result<SyncReport, SyncError> {
    let timeout = Duration::from_secs(cfg.timeout_secs);
    let ca = Some(cfg.ssl_ca.as_path()).filter(|p| !p.as_os_str().is_empty());
    let mut src = OjsSource::connect_tls(&cfg.url, ca, timeout).await?;
    let result = sync_from(&mut src, cfg, store, outcome).await;
    src.disconnect().await;
    result
}

/// The body of a run on an open OJS session.
async fn sync_from(
    src: &mut OjsSource,
    cfg: &OjsConfig,
    store: &mut Store,
    outcome: &mut BatchOutcome,
) -> Result<SyncReport, SyncError> {
    let info = src.detect().await?;
    let (journals, sections) = src.journals().await?;
    let locale = journals
        .first()
        .map(|j| j.primary_locale.clone())
        .unwrap_or_default();
    let reviewers = src.reviewers(&info, &locale).await?;
    let remote = src.fingerprints(&info).await?;
    let local = store.submission_fingerprints()?;

    let remote_ids: HashSet<i64> = remote.iter().map(|(id, _)| *id).collect();
    let mut delete: Vec<i64> = local
        .keys()
        .filter(|id| !remote_ids.contains(id))
        .copied()
        .collect();
    delete.sort_unstable();
    let changed: Vec<i64> = remote
        .iter()
        .filter(|(id, fp)| local.get(id) != Some(fp))
        .map(|(id, _)| *id)
        .collect();
    let fingerprints: HashMap<i64, String> = remote.iter().cloned().collect();

    let mut report = SyncReport {
        ojs_version: info.version.to_string(),
        submissions_seen: remote.len(),
        submissions_deleted: delete.len(),
        reviewers: reviewers.len(),
        ..Default::default()
    };

    // First batch: the journal structure, the reviewers and the deletions.
    let first = Batch {
        journals: Some((journals, sections)),
        reviewers: Some(reviewers),
        delete,
        state: vec![
            (keys::OJS_VERSION.into(), info.version.to_string()),
            (keys::SOURCE.into(), Source::Ojs.as_str().into()),
        ],
        ..Default::default()
    };
    add(outcome, store.apply(&first)?);
    report.batches += 1;

    for chunk in changed.chunks(cfg.batch_size.max(1)) {
        let records = src.submissions(&info, chunk, &fingerprints).await?;
        report.submissions_fetched += records.len();
        let watermark = records
            .iter()
            .filter_map(|r| r.date_last_activity.clone())
            .max();
        let mut batch = Batch {
            upsert: records,
            ..Default::default()
        };
        if let Some(w) = watermark {
            let current = store.state(keys::WATERMARK)?.unwrap_or_default();
            if w > current {
                batch.state.push((keys::WATERMARK.into(), w));
            }
        }
        add(outcome, store.apply(&batch)?);
        report.batches += 1;
    }
    report.rows_changed = outcome.rows_changed;
    report.rows_deleted = outcome.rows_deleted;
    Ok(report)
}

fn add(total: &mut BatchOutcome, b: BatchOutcome) {
    total.rows_changed += b.rows_changed;
    total.rows_deleted += b.rows_deleted;
}

/// Where the journal data in the store comes from.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Nothing synced yet and no OJS configured.
    #[default]
    None,
    /// A mirror of the journal's OJS database.
    Ojs,
    /// The built-in demo journal (`serve --demo`).
    Demo,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::None => "none",
            Source::Ojs => "ojs",
            Source::Demo => "demo",
        }
    }

    /// What the store's `source` key says (anything unknown reads as none).
    pub fn parse(s: &str) -> Source {
        match s {
            "ojs" => Source::Ojs,
            "demo" => Source::Demo,
            _ => Source::None,
        }
    }
}

/// How the sync stands: decided here once, rendered by the page, `/health`
/// and the API.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// Showing the built-in demo journal; there is nothing to sync.
    Demo,
    /// No OJS database is configured; there is nothing to be stale about.
    NotConfigured,
    /// Configured, but no run has succeeded yet.
    NeverSynced,
    /// The last success is older than `stale_after_seconds`.
    Stale,
    /// Fresh enough, but the latest attempt failed.
    Failing,
    UpToDate,
}

impl SyncState {
    /// Whether this state needs someone's attention (`/health` says degraded).
    pub fn needs_attention(self) -> bool {
        matches!(
            self,
            SyncState::NeverSynced | SyncState::Stale | SyncState::Failing
        )
    }
}

/// What the web page and API show of the sync.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SyncStatus {
    pub source: Source,
    pub configured: bool,
    pub running: bool,
    pub ojs_version: Option<String>,
    pub last_attempt_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub consecutive_failures: u32,
    pub next_attempt_at: Option<i64>,
    pub last_report: Option<SyncReport>,
    pub stale_after_seconds: u64,
}

impl SyncStatus {
    /// Seconds since the last success (None if there never was one).
    pub fn staleness_seconds(&self, now: i64) -> Option<i64> {
        self.last_success_at.map(|t| (now - t).max(0))
    }

    pub fn is_stale(&self, now: i64) -> bool {
        match self.staleness_seconds(now) {
            Some(s) => s as u64 > self.stale_after_seconds,
            None => true,
        }
    }

    /// The one judgement of how the sync stands.
    pub fn state(&self, now: i64) -> SyncState {
        if self.source == Source::Demo {
            SyncState::Demo
        } else if !self.configured {
            SyncState::NotConfigured
        } else if self.last_success_at.is_none() {
            SyncState::NeverSynced
        } else if self.is_stale(now) {
            SyncState::Stale
        } else if self.last_error.is_some() || self.consecutive_failures > 0 {
            SyncState::Failing
        } else {
            SyncState::UpToDate
        }
    }

    /// Restores what the store remembers of earlier runs (after a restart).
    pub fn load(store: &Store) -> Result<SyncStatus, StoreError> {
        let num = |k: &str| -> Result<Option<i64>, StoreError> {
            Ok(store.state(k)?.and_then(|v| v.parse().ok()))
        };
        Ok(SyncStatus {
            source: Source::parse(&store.state(keys::SOURCE)?.unwrap_or_default()),
            ojs_version: store.state(keys::OJS_VERSION)?.filter(|v| !v.is_empty()),
            last_attempt_at: num(keys::LAST_ATTEMPT)?,
            last_success_at: num(keys::LAST_SUCCESS)?,
            // Texts stored by older versions may still name the user or host.
            last_error: store
                .state(keys::LAST_ERROR)?
                .filter(|v| !v.is_empty())
                .map(|v| crate::ojs::public_error_text(&v, "")),
            last_error_at: num(keys::LAST_ERROR_AT)?,
            ..Default::default()
        })
    }
}

/// Shared between the sync loop (writer) and the web workers (readers, trigger).
#[derive(Clone)]
pub struct SyncHandle {
    status: Arc<Mutex<SyncStatus>>,
    trigger: Arc<tokio::sync::Notify>,
    /// Moves whenever a sync changed the store's data (the search indexer watches it).
    data_generation: Arc<AtomicU64>,
}

impl SyncHandle {
    pub fn new(initial: SyncStatus) -> SyncHandle {
        SyncHandle {
            status: Arc::new(Mutex::new(initial)),
            trigger: Arc::new(tokio::sync::Notify::new()),
            data_generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A number that changes whenever a sync changed data (rows written or deleted).
    pub fn data_generation(&self) -> u64 {
        self.data_generation.load(Ordering::SeqCst)
    }

    /// Records that the store's data changed (the sync loop calls it after a
    /// run that changed rows; anything else that writes the mirror may too).
    pub fn note_data_changed(&self) {
        self.data_generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn status(&self) -> SyncStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut SyncStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Asks the loop to sync now. Returns false when no OJS is configured.
    pub fn request_sync(&self) -> bool {
        if !self.status().configured {
            return false;
        }
        self.trigger.notify_one();
        true
    }
}

/// Delay before the next attempt: the interval after a success, otherwise
/// `min_backoff * 2^(failures-1)` capped at `max_backoff`.
pub fn next_delay(cfg: &OjsConfig, consecutive_failures: u32) -> Duration {
    if consecutive_failures == 0 {
        return Duration::from_secs(cfg.sync_interval_secs);
    }
    let exp = consecutive_failures.saturating_sub(1).min(30);
    let secs = cfg.min_backoff_secs.saturating_mul(1u64 << exp);
    Duration::from_secs(secs.min(cfg.max_backoff_secs))
}

/// The sync loop, as `serve` and `sync` (without `--once`) run it.
pub struct SyncLoop {
    pub cfg: OjsConfig,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub handle: SyncHandle,
}

impl SyncLoop {
    /// Runs the loop on a thread of its own (with its own small runtime)
    /// until `shutdown`; a run in flight is recorded as interrupted.
    pub fn spawn(self, shutdown: Shutdown) -> std::io::Result<std::thread::JoinHandle<()>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("sync".into())
            .spawn(move || rt.block_on(self.run(shutdown)))
    }

    /// The loop itself; returns when `shutdown` is triggered.
    pub async fn run(mut self, shutdown: Shutdown) {
        let (cfg, handle) = (self.cfg.clone(), self.handle.clone());
        let mut failures: u32 = 0;
        while !shutdown.is_triggered() {
            handle.update(|s| s.running = true);
            let result = run_until(&cfg, &mut self.store, &self.metrics, &shutdown).await;
            let now = unix_now();
            match result {
                Err(SyncError::Interrupted) => {
                    handle.update(|s| s.running = false);
                    return;
                }
                Ok(report) => {
                    failures = 0;
                    if report.rows_changed + report.rows_deleted > 0 {
                        handle.note_data_changed();
                    }
                    handle.update(|s| {
                        s.last_success_at = Some(now);
                        s.last_error = None;
                        s.ojs_version = Some(report.ojs_version.clone());
                        s.source = Source::Ojs;
                        s.last_report = Some(report);
                    });
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    // Batches before the failure may have been applied.
                    handle.note_data_changed();
                    let msg = crate::ojs::public_error_text(&e.to_string(), &cfg.url);
                    handle.update(|s| {
                        s.last_error = Some(msg);
                        s.last_error_at = Some(now);
                    });
                }
            }
            let delay = next_delay(&cfg, failures);
            handle.update(|s| {
                s.running = false;
                s.last_attempt_at = Some(now);
                s.consecutive_failures = failures;
                s.next_attempt_at = Some(now + delay.as_secs() as i64);
            });
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = handle.trigger.notified() => { tracing::info!("sync requested"); }
                () = shutdown.wait() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let cfg = OjsConfig {
            sync_interval_secs: 300,
            min_backoff_secs: 5,
            max_backoff_secs: 60,
            ..Default::default()
        };
        let d: Vec<u64> = (0..7).map(|f| next_delay(&cfg, f).as_secs()).collect();
        assert_eq!(d, vec![300, 5, 10, 20, 40, 60, 60]);
        assert_eq!(next_delay(&cfg, u32::MAX).as_secs(), 60);
    }
}

#[cfg(test)]
mod state_tests {
    use super::*;

    fn configured(now: i64) -> SyncStatus {
        SyncStatus {
            source: Source::Ojs,
            configured: true,
            last_success_at: Some(now - 60),
            stale_after_seconds: 3600,
            ..Default::default()
        }
    }

    #[test]
    fn one_judgement_covers_every_case() {
        let now = 1_000_000;
        let ok = configured(now);
        assert_eq!(ok.state(now), SyncState::UpToDate);
        let failing = SyncStatus {
            last_error: Some("refused".into()),
            ..ok.clone()
        };
        assert_eq!(failing.state(now), SyncState::Failing);
        let stale_and_failing = SyncStatus {
            last_success_at: Some(now - 7200),
            ..failing.clone()
        };
        assert_eq!(stale_and_failing.state(now), SyncState::Stale);
        let never = SyncStatus {
            last_success_at: None,
            ..ok.clone()
        };
        assert_eq!(never.state(now), SyncState::NeverSynced);
        let unconfigured = SyncStatus {
            configured: false,
            last_success_at: None,
            ..ok.clone()
        };
        assert_eq!(unconfigured.state(now), SyncState::NotConfigured);
        let demo = SyncStatus {
            source: Source::Demo,
            configured: false,
            ..ok
        };
        assert_eq!(demo.state(now), SyncState::Demo);
        assert!(!SyncState::Demo.needs_attention());
        assert!(SyncState::Failing.needs_attention());
    }

    #[test]
    fn source_reads_back_what_it_writes() {
        for s in [Source::None, Source::Ojs, Source::Demo] {
            assert_eq!(Source::parse(s.as_str()), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(Source::parse("something else"), Source::None);
    }
}
