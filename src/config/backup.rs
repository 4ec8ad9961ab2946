//! `[backup]`: scheduled backups (off unless a directory is named).

use super::{invalid, ConfigError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[backup]`: where the service puts its scheduled backups, how often, how many it keeps.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// A mounted USB stick or network share; empty: no scheduled backups (`ojscog backup` still works).
    pub dir: PathBuf,
    /// Seconds between two backups.
    pub interval_secs: u64,
    /// Backups kept in `dir` (the oldest are removed).
    pub keep: usize,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            dir: PathBuf::new(),
            interval_secs: 86_400,
            keep: 7,
        }
    }
}

impl BackupConfig {
    pub fn is_scheduled(&self) -> bool {
        !self.dir.as_os_str().is_empty()
    }

    /// A backup older than this is worth a warning on the status page (two intervals).
    pub fn stale_after_secs(&self) -> i64 {
        (self.interval_secs.saturating_mul(2)).min(i64::MAX as u64) as i64
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.is_scheduled() && !self.dir.is_absolute() {
            return Err(invalid(
                "backup.dir",
                "must be an absolute path (a mounted USB stick or network share)",
            ));
        }
        if self.interval_secs == 0 {
            return Err(invalid("backup.interval_secs", "must be at least 1"));
        }
        if !(1..=1000).contains(&self.keep) {
            return Err(invalid("backup.keep", "must be between 1 and 1000"));
        }
        Ok(())
    }
}
