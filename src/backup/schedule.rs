//! Scheduled backups, run by the service: every `[backup] interval_secs` into
//! `[backup] dir`, the newest `keep` kept. The last outcome is kept in the
//! store (the status page reads it) and in `/metrics`.

use crate::config::Config;
use crate::metrics::{names, Metrics};
use crate::store::Store;
use crate::system::{unix_now, Shutdown};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Store state keys of the last scheduled backup.
pub const LAST_AT: &str = "backup_last_at";
pub const LAST_PATH: &str = "backup_last_path";
pub const LAST_BYTES: &str = "backup_last_bytes";
pub const LAST_ERROR: &str = "backup_last_error";
pub const LAST_ERROR_AT: &str = "backup_last_error_at";

/// The last scheduled backup, as the store remembers it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LastBackup {
    pub at: Option<i64>,
    pub path: Option<String>,
    pub bytes: Option<u64>,
    pub error: Option<String>,
    pub error_at: Option<i64>,
}

impl LastBackup {
    pub fn read(store: &Store) -> LastBackup {
        let get = |k: &str| store.state(k).ok().flatten();
        LastBackup {
            at: get(LAST_AT).and_then(|v| v.parse().ok()),
            path: get(LAST_PATH),
            bytes: get(LAST_BYTES).and_then(|v| v.parse().ok()),
            error: get(LAST_ERROR).filter(|e| !e.is_empty()),
            error_at: get(LAST_ERROR_AT).and_then(|v| v.parse().ok()),
        }
    }
}

/// The backups in `dir` this box made (`ojscog-*.backup`), oldest first.
pub fn backups(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().is_some_and(|n| {
                        let n = n.to_string_lossy();
                        n.starts_with("ojscog-") && n.ends_with(super::SUFFIX)
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Removes the oldest backups in `dir` beyond `keep`; the ones removed.
pub fn prune(dir: &Path, keep: usize) -> Vec<PathBuf> {
    let all = backups(dir);
    let extra = all.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for p in all.into_iter().take(extra) {
        if std::fs::remove_file(&p).is_ok() {
            removed.push(p);
        }
    }
    removed
}

/// Runs until `shutdown`: a backup whenever the last one is an interval old (at once when there was none).
pub fn run(config: &Config, metrics: &Metrics, shutdown: &Shutdown) {
    let cfg = &config.backup;
    let interval = cfg.interval_secs as i64;
    if let Some(at) = Store::open_read_only(&config.store_path())
        .ok()
        .and_then(|s| LastBackup::read(&s).at)
    {
        metrics.set(names::BACKUP_LAST_SUCCESS, &[], at as f64);
    }
    loop {
        let last = Store::open_read_only(&config.store_path())
            .map(|s| LastBackup::read(&s))
            .unwrap_or_default();
        let now = unix_now();
        // After a failure, the next try comes a tenth of an interval later (at least a minute), not at once.
        let next = match (last.at, last.error_at) {
            (_, Some(e)) if last.at.is_none_or(|a| e > a) => e + (interval / 10).max(60),
            (Some(a), _) => a + interval,
            (None, _) => now,
        };
        if next <= now {
            once(config, metrics, now);
            continue;
        }
        let wait = (next - now).clamp(1, 60) as u64;
        if !shutdown.sleep(Duration::from_secs(wait)) {
            return;
        }
    }
}

/// One scheduled backup and its bookkeeping.
pub fn once(config: &Config, metrics: &Metrics, now: i64) {
    let cfg = &config.backup;
    let dest = super::destination(&cfg.dir, now);
    let result = if cfg.dir.is_dir() {
        super::take(config, &dest, false, now).map_err(|e| e.to_string())
    } else {
        Err(format!(
            "the backup directory {} is not there (is the stick or share mounted?)",
            cfg.dir.display()
        ))
    };
    let store = match Store::open(&config.store_path()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot record the backup");
            return;
        }
    };
    let set = |k: &str, v: String| {
        if let Err(e) = store.set_state(k, &v) {
            tracing::warn!(error = %e, "cannot record the backup");
        }
    };
    match result {
        Ok(t) => {
            set(LAST_AT, now.to_string());
            set(LAST_PATH, t.path.display().to_string());
            set(LAST_BYTES, t.bytes.to_string());
            set(LAST_ERROR, String::new());
            let removed = prune(&cfg.dir, cfg.keep);
            metrics.inc(names::BACKUPS, &[("outcome", "ok")], 1.0);
            metrics.set(names::BACKUP_LAST_SUCCESS, &[], now as f64);
            tracing::info!(path = %t.path.display(), bytes = t.bytes, removed = removed.len(), "backup taken");
        }
        Err(e) => {
            set(LAST_ERROR, e.clone());
            set(LAST_ERROR_AT, now.to_string());
            metrics.inc(names::BACKUPS, &[("outcome", "error")], 1.0);
            tracing::warn!(error = %e, "scheduled backup failed");
        }
    }
}
