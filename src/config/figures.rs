//! `[figures]`: where the figure checks find OJS's files, and how much they check.

use super::{invalid, ConfigError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[figures]`: the figure checks on submission files.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FiguresConfig {
    /// OJS's `files_dir` as this box sees it (a read-only mount of the OJS server's files directory); empty: the
    /// box cannot read OJS's files, and only files uploaded by hand are checked.
    pub files_dir: PathBuf,
    /// The OJS file stages whose files are checked (2 submission, 4 review file, 15 review revision).
    pub stages: Vec<i64>,
    /// At most this many files of one submission are checked per request (the newest first).
    pub max_files: usize,
}

impl Default for FiguresConfig {
    fn default() -> Self {
        FiguresConfig {
            files_dir: PathBuf::new(),
            stages: vec![2, 4, 15],
            max_files: 6,
        }
    }
}

impl FiguresConfig {
    /// Whether the box can read OJS's files.
    pub fn has_files_dir(&self) -> bool {
        !self.files_dir.as_os_str().is_empty()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.has_files_dir() && !self.files_dir.is_absolute() {
            return Err(invalid(
                "figures.files_dir",
                "must be an absolute path (the mount of OJS's files directory)",
            ));
        }
        if !(1..=50).contains(&self.max_files) {
            return Err(invalid("figures.max_files", "must be between 1 and 50"));
        }
        if self.stages.is_empty() || self.stages.iter().any(|s| !(1..=100).contains(s)) {
            return Err(invalid(
                "figures.stages",
                "must list OJS file stages (numbers such as 2, 4, 15)",
            ));
        }
        Ok(())
    }
}
