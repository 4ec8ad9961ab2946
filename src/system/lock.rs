//! The data directory's lock (`<data_dir>/.ojscog.lock`, a `flock`): the
//! service holds it shared while it runs; a restore takes it exclusively, so
//! a store is never replaced under a running service. A killed process
//! releases it with its descriptor.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The lock file's name in the data directory.
pub const LOCK_FILE: &str = ".ojscog.lock";

/// A held lock; released on drop.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open the lock file {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is in use by another ojscog process (is the service running? stop it first)")]
    Busy(PathBuf),
}

impl DataDirLock {
    /// Shared: any number of readers and writers of the store (the service, a sync); refused while a restore runs.
    pub fn shared(data_dir: &Path) -> Result<DataDirLock, LockError> {
        Self::take(data_dir, libc::LOCK_SH)
    }

    /// Exclusive: no service or sync holds the directory.
    pub fn exclusive(data_dir: &Path) -> Result<DataDirLock, LockError> {
        Self::take(data_dir, libc::LOCK_EX)
    }

    fn take(data_dir: &Path, how: libc::c_int) -> Result<DataDirLock, LockError> {
        let path = data_dir.join(LOCK_FILE);
        let file = std::fs::create_dir_all(data_dir)
            .and_then(|_| {
                OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
            })
            .map_err(|source| LockError::Open {
                path: path.clone(),
                source,
            })?;
        // SAFETY: flock(2) on a descriptor `file` owns for the whole call.
        if unsafe { libc::flock(file.as_raw_fd(), how | libc::LOCK_NB) } == 0 {
            Ok(DataDirLock { _file: file })
        } else {
            Err(LockError::Busy(data_dir.to_path_buf()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restore_cannot_lock_a_directory_the_service_holds() {
        let dir = tempfile::tempdir().unwrap();
        let service = DataDirLock::shared(dir.path()).unwrap();
        let _sync = DataDirLock::shared(dir.path()).unwrap();
        assert!(matches!(
            DataDirLock::exclusive(dir.path()),
            Err(LockError::Busy(_))
        ));
        drop(service);
        drop(_sync);
        let restore = DataDirLock::exclusive(dir.path()).unwrap();
        assert!(DataDirLock::shared(dir.path()).is_err());
        drop(restore);
    }
}
