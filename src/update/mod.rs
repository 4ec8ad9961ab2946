//! Over-the-air updates: one signed channel for models and the system image.
//!
//! A channel is a directory of files behind an HTTP(S) URL (or on a USB
//! stick) with an `index.json` ([`index::Index`]) and its minisign signature.
//! [`Updater::check`] fetches both, verifies the signature against the
//! trusted keys ([`trust::TrustedKeys`]: the baked ones in the read-only root,
//! plus any `update.extra_keys`), refuses an index older than the last one
//! accepted (the serial kept in the store: a replayed index changes nothing)
//! and says which artifacts differ from what is installed.
//! [`Updater::apply`] downloads them ([`fetch`]: Range resume, retries with
//! backoff, bandwidth limit, free-space check, progress), checks every file's
//! size, sha256 and format ([`formats`]), then:
//! - a **model** is installed through the model store (staged, fsynced,
//!   switched atomically, `previous` kept), recorded as a pending activation,
//!   and **self-tested** ([`selftest`]) by loading it the way the service does;
//!   a failure takes it back by itself ([`crate::models::ModelStore::withdraw`])
//!   and the reason is recorded. A crash between the switch and the verdict
//!   is finished by [`Updater::recover`] at the next start.
//! - a **system** bundle is handed to the RAUC path (`ojscog-update`) for the
//!   other slot; the box boots into it at a reboot, and the health watchdog
//!   keeps it or falls back.
//!
//! Every outcome, refusals included, goes into the store's update history.
//! Invariants: only this module downloads; nothing is installed before its
//! signature, size and hash are checked.

pub mod fetch;
pub mod formats;
mod handle;
pub mod index;
pub mod release;
pub mod selftest;
mod status;
mod system;
pub mod trust;
mod updater;

pub use fetch::{Channel, Limits, Progress};
pub use handle::{Request, UpdateHandle};
pub use index::{Artifact, ArtifactFile, Index, Kind};
pub use selftest::{ModelSelfTest, Outcome, SelfTest};
pub use status::{Available, StatusCell, UpdateStatus};
pub use trust::TrustedKeys;
pub use updater::{Applied, Plan, Updater};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("no update channel is configured (set update.channel_url, or use `ojscog update import DIR`)")]
    NoChannel,
    #[error("cannot read {url}: {message}")]
    Channel { url: String, message: String },
    #[error("the index {0}")]
    Index(String),
    #[error("the index's signature is refused: {0}")]
    Signature(String),
    #[error("the index is signed by key {key_id}, which this box does not trust (trusted: {})", if trusted.is_empty() { "none".to_string() } else { trusted.join(", ") })]
    UntrustedKey {
        key_id: String,
        trusted: Vec<String>,
    },
    #[error("update keys: {0}")]
    Keys(String),
    #[error("the index has serial {serial}, older than the {accepted} already accepted (a replayed or rolled-back channel); nothing changed")]
    Replay { serial: u64, accepted: u64 },
    #[error("{file}: {actual} bytes, the index says {expected}")]
    SizeMismatch {
        file: String,
        expected: u64,
        actual: u64,
    },
    #[error("{file}: sha256 {actual}, the index says {expected} (tampered or corrupt)")]
    HashMismatch {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("{file} is not a valid model file: {message}")]
    Format { file: String, message: String },
    #[error("not enough space on the data disk: {needed} bytes needed, {free} free, {reserve} must stay free (update.reserve_bytes)")]
    NoSpace {
        needed: u64,
        free: u64,
        reserve: u64,
    },
    #[error("the system bundle was not installed: {0}")]
    System(String),
    #[error("cancelled")]
    Cancelled,
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl UpdateError {
    /// A short word for `/metrics` labels and the history's `result`.
    pub fn kind(&self) -> &'static str {
        match self {
            UpdateError::NoChannel => "no_channel",
            UpdateError::Channel { .. } => "unreachable",
            UpdateError::Index(_) => "bad_index",
            UpdateError::Signature(_) => "bad_signature",
            UpdateError::UntrustedKey { .. } => "untrusted_key",
            UpdateError::Keys(_) => "bad_keys",
            UpdateError::Replay { .. } => "replay",
            UpdateError::SizeMismatch { .. } | UpdateError::HashMismatch { .. } => "bad_file",
            UpdateError::Format { .. } => "bad_format",
            UpdateError::NoSpace { .. } => "no_space",
            UpdateError::System(_) => "system_failed",
            UpdateError::Cancelled => "cancelled",
            UpdateError::Model(_) | UpdateError::Store(_) | UpdateError::Io { .. } => "error",
        }
    }
}
