//! The machine: device readings (CPU, memory, disk, temperature, uptime via
//! `sysinfo`), the clock, the shutdown signal ([`Shutdown`]) and the hardware
//! watchdog ([`watchdog::Watchdog`]), systemd's notify protocol on a server
//! install ([`notify`]), sound through ALSA ([`alsa::Pcm`]), a push button on a GPIO line
//! ([`gpio::Button`]) and giving freed heap memory back ([`release_freed_memory`]).

pub mod alsa;
pub mod appliance;
pub mod gpio;
pub mod lock;
pub mod notify;
mod shutdown;
pub mod watchdog;

pub use shutdown::Shutdown;

use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use sysinfo::{Components, Disks, Networks, System};

/// This process's peak resident memory (VmHWM), in bytes; 0 when /proc cannot tell.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .unwrap_or(0)
        * 1024
}

/// Gives freed memory back to the system: glibc keeps freed memory in its heaps (and raises its mmap threshold after
/// each large free), so after model work on inputs of many sizes — embedding batches, page and figure images — the
/// process would otherwise stay near the sum of its peaks. Called after each such piece of work.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and shrinks glibc's own heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Seconds since the unix epoch (0 if the clock is before 1970).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A device reading for the status page and `/metrics`.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct DeviceStatus {
    pub hostname: String,
    pub cpu_usage_ratio: f64,
    pub cpu_count: usize,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    pub disk_free_bytes: u64,
    pub disk_total_bytes: u64,
    pub temperature_celsius: Option<f64>,
    pub uptime_seconds: u64,
    pub load_average_1m: f64,
    /// Bytes written to the data directory's disk since boot (SD-card wear), where the kernel tells.
    pub disk_written_bytes: Option<u64>,
    /// Bytes received and sent per network interface since boot (loopback left out).
    pub network: Vec<NetworkCounters>,
}

/// One network interface's byte counters.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct NetworkCounters {
    pub interface: String,
    pub received_bytes: u64,
    pub transmitted_bytes: u64,
}

/// Keeps `sysinfo` state between readings (CPU usage needs two).
pub struct Device {
    sys: System,
    data_dir: PathBuf,
}

impl Device {
    pub fn new(data_dir: &Path) -> Device {
        let mut sys = System::new();
        sys.refresh_cpu_usage();
        sys.refresh_memory();
        Device {
            sys,
            data_dir: data_dir.to_path_buf(),
        }
    }

    pub fn read(&mut self) -> DeviceStatus {
        self.sys.refresh_cpu_usage();
        self.sys.refresh_memory();
        let (disk_free_bytes, disk_total_bytes, disk_written_bytes) = disk_of(&self.data_dir);
        let network = Networks::new_with_refreshed_list()
            .iter()
            .filter(|(name, _)| name.as_str() != "lo")
            .map(|(name, n)| NetworkCounters {
                interface: name.clone(),
                received_bytes: n.total_received(),
                transmitted_bytes: n.total_transmitted(),
            })
            .collect();
        let components = Components::new_with_refreshed_list();
        let temperature_celsius = components
            .iter()
            .filter_map(|c| c.temperature())
            .filter(|t| t.is_finite() && *t > -50.0)
            .map(f64::from)
            .reduce(f64::max);
        DeviceStatus {
            hostname: System::host_name().unwrap_or_default(),
            cpu_usage_ratio: (f64::from(self.sys.global_cpu_usage()) / 100.0).clamp(0.0, 1.0),
            cpu_count: self.sys.cpus().len(),
            memory_used_bytes: self.sys.used_memory(),
            memory_total_bytes: self.sys.total_memory(),
            disk_free_bytes,
            disk_total_bytes,
            temperature_celsius,
            uptime_seconds: System::uptime(),
            load_average_1m: System::load_average().one,
            disk_written_bytes,
            network,
        }
    }
}

/// Free and total bytes of the filesystem holding `dir` (longest mount-point prefix).
/// Bytes an unprivileged process may still write on the file system holding
/// `path` (statvfs: available blocks × fragment size).
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("path contains a NUL byte"))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a NUL-terminated path; `st` is written by statvfs on success.
    let r = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled `st`.
    let st = unsafe { st.assume_init() };
    // The field types differ between targets (u32 on some 32-bit ones).
    #[allow(clippy::unnecessary_cast)]
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

fn disk_of(dir: &Path) -> (u64, u64, Option<u64>) {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let disks = Disks::new_with_refreshed_list();
    disks
        .iter()
        .filter(|d| dir.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len())
        .map(|d| {
            let written = d.usage().total_written_bytes;
            (
                d.available_space(),
                d.total_space(),
                (written > 0).then_some(written),
            )
        })
        .unwrap_or((0, 0, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_machine() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = Device::new(dir.path());
        let s = d.read();
        assert!(s.memory_total_bytes > 0);
        assert!(s.memory_used_bytes <= s.memory_total_bytes);
        assert!(s.disk_total_bytes > 0, "the temp dir's filesystem is found");
        assert!(s.cpu_count > 0);
        assert!(s.uptime_seconds > 0);
    }
}
