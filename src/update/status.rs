//! The updater's state as the page, the API and the CLI's progress bar see it.

use super::fetch::Progress;
use serde::Serialize;
use std::sync::Mutex;

/// An artifact on offer, as the page and the API show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Available {
    pub kind: String,
    pub name: String,
    pub version: String,
    pub bytes: u64,
    pub installed: Option<String>,
    pub note: String,
}

/// The updater's state for the page, the API and the CLI.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct UpdateStatus {
    pub channel: String,
    /// `idle`, `checking`, `downloading`, `installing`, `self-testing`.
    pub state: String,
    pub last_check_at: Option<i64>,
    /// `ok`, or the refusal's kind (`bad_signature`, `replay`…).
    pub last_check_result: String,
    pub serial: Option<u64>,
    pub available: Vec<Available>,
    /// The artifact being downloaded and its bytes done / expected.
    pub current: String,
    pub done_bytes: u64,
    pub total_bytes: u64,
    pub last_failure: Option<String>,
    pub last_failure_at: Option<i64>,
}

/// The status shared between the updater's thread and its readers.
#[derive(Default)]
pub struct StatusCell {
    status: Mutex<UpdateStatus>,
    pub progress: Progress,
}

impl StatusCell {
    pub fn get(&self) -> UpdateStatus {
        let mut s = self
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let (done, total) = self.progress.get();
        if s.state == "downloading" {
            s.done_bytes = done;
            s.total_bytes = total;
        }
        s
    }

    pub(super) fn edit(&self, f: impl FnOnce(&mut UpdateStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }
}
