//! The hardware watchdog (`/dev/watchdog`), petted by the service itself
//! through the Linux watchdog ioctls (`nix`), so that a hung service — not
//! only a hung kernel — reboots the box.
//!
//! [`Watchdog::run`] pets every third of the timeout while `alive()` says the
//! service works (the service asks its own `/health` on loopback); when it
//! stops saying so, petting stops and the board resets after the timeout. A
//! stop does NOT disarm it (no "magic close"): if the service does not come
//! back (init respawns it) the box reboots, which is the point.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// <linux/watchdog.h>: WATCHDOG_IOCTL_BASE 'W'.
nix::ioctl_read!(wdioc_keepalive, b'W', 5, libc::c_int);
nix::ioctl_readwrite!(wdioc_settimeout, b'W', 6, libc::c_int);
nix::ioctl_read!(wdioc_gettimeout, b'W', 7, libc::c_int);

#[derive(Debug, thiserror::Error)]
pub enum WatchdogError {
    #[error("cannot open the watchdog {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a watchdog device: {source}")]
    NotAWatchdog { path: PathBuf, source: nix::Error },
}

/// An open, armed watchdog.
pub struct Watchdog {
    file: File,
    path: PathBuf,
    /// The timeout the driver accepted (drivers with a shorter maximum keep theirs).
    pub timeout: Duration,
}

impl Watchdog {
    /// Opens (and so arms) `path` and asks for `timeout_secs`; the driver may
    /// keep a shorter maximum, which [`Watchdog::timeout`] then reports.
    pub fn open(path: &Path, timeout_secs: u32) -> Result<Watchdog, WatchdogError> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|source| WatchdogError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        let fd = file.as_raw_fd();
        let mut t = timeout_secs.min(i32::MAX as u32) as libc::c_int;
        // SAFETY: `fd` is open for the whole call; `t` is a valid c_int the driver reads and writes.
        if unsafe { wdioc_settimeout(fd, &mut t) }.is_err() {
            // SAFETY: as above; the driver writes its timeout into `t`.
            unsafe { wdioc_gettimeout(fd, &mut t) }.map_err(|source| {
                WatchdogError::NotAWatchdog {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        }
        let wd = Watchdog {
            file,
            path: path.to_path_buf(),
            timeout: Duration::from_secs(t.max(1) as u64),
        };
        wd.pet().map_err(|source| WatchdogError::NotAWatchdog {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(wd)
    }

    pub fn pet(&self) -> Result<(), nix::Error> {
        let mut dummy: libc::c_int = 0;
        // SAFETY: the fd is open while `self` lives; KEEPALIVE ignores its argument.
        unsafe { wdioc_keepalive(self.file.as_raw_fd(), &mut dummy) }.map(|_| ())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Pets every third of the timeout while `alive()` holds; returns when
    /// `stopping()` (armed: see the module docs) or when `alive()` failed
    /// for longer than the timeout (the board is resetting). Returns the
    /// number of pets.
    pub fn run(&self, alive: &dyn Fn() -> bool, stopping: &dyn Fn() -> bool) -> u64 {
        let period = (self.timeout / 3).max(Duration::from_millis(200));
        let mut pets = 0;
        let mut last_alive = Instant::now();
        loop {
            if stopping() {
                return pets;
            }
            if alive() {
                last_alive = Instant::now();
                match self.pet() {
                    Ok(()) => pets += 1,
                    Err(e) => {
                        tracing::error!(device = %self.path.display(), error = %e, "cannot pet the watchdog")
                    }
                }
            } else if last_alive.elapsed() > self.timeout * 2 {
                tracing::error!(device = %self.path.display(), "the service has not been healthy for twice the watchdog timeout; the board should have reset");
                return pets;
            } else {
                tracing::warn!(device = %self.path.display(), "the service does not answer its own /health: not petting the watchdog");
            }
            let until = Instant::now() + period;
            while Instant::now() < until {
                if stopping() {
                    return pets;
                }
                std::thread::sleep(Duration::from_millis(100).min(period));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_watchdog_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("not-a-watchdog");
        std::fs::write(&p, b"").unwrap();
        let e = Watchdog::open(&p, 60).err().expect("refused");
        assert!(matches!(e, WatchdogError::NotAWatchdog { .. }), "{e}");
        assert!(e.to_string().contains("not-a-watchdog"));
        let e = Watchdog::open(&dir.path().join("missing"), 60)
            .err()
            .expect("refused");
        assert!(matches!(e, WatchdogError::Open { .. }), "{e}");
    }
}
