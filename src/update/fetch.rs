//! Getting a channel's bytes: the index and its signature, and artifact files
//! downloaded with HTTP Range resume, bounded retries with backoff, a
//! bandwidth limit, a free-space check and progress — or read from a
//! directory (a USB stick) through the same code.
//!
//! A file is downloaded to `<downloads>/<sha256>.part` and renamed to
//! `<downloads>/<sha256>` only once its size and sha256 match the index: a
//! file under its final name is always complete and right. A `.part` that
//! survives a crash, a dead server or a full disk is resumed from where it
//! stopped.

use super::index::{
    ArtifactFile, INDEX_FILE, MAX_INDEX_BYTES, MAX_SIGNATURE_BYTES, SIGNATURE_FILE,
};
use super::UpdateError;
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Where updates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// `http(s)://host/path/index.json` (or the directory URL that holds it).
    Http(String),
    /// A directory with `index.json`, its signature and the files (a USB stick).
    Dir(PathBuf),
}

impl Channel {
    /// An `http://` or `https://` URL, else a directory path.
    pub fn parse(s: &str) -> Channel {
        if s.starts_with("http://") || s.starts_with("https://") {
            Channel::Http(s.to_string())
        } else {
            Channel::Dir(PathBuf::from(s))
        }
    }

    /// The URL (or path) of the index, as shown to people.
    pub fn describe(&self) -> String {
        match self {
            Channel::Http(u) => self.url_of(INDEX_FILE).unwrap_or_else(|| u.clone()),
            Channel::Dir(d) => d.join(INDEX_FILE).display().to_string(),
        }
    }

    /// `rel` resolved against the index's directory URL.
    fn url_of(&self, rel: &str) -> Option<String> {
        let Channel::Http(u) = self else { return None };
        let base = if u.ends_with(".json") {
            u.rsplit_once('/').map(|(b, _)| b).unwrap_or(u)
        } else {
            u.trim_end_matches('/')
        };
        Some(format!("{base}/{rel}"))
    }

    fn index_name(&self) -> String {
        match self {
            Channel::Http(u) if u.ends_with(".json") => {
                u.rsplit('/').next().unwrap_or(INDEX_FILE).to_string()
            }
            _ => INDEX_FILE.to_string(),
        }
    }

    /// The index's bytes and its signature's text.
    pub fn fetch_index(&self, limits: &Limits) -> Result<(Vec<u8>, String), UpdateError> {
        let name = self.index_name();
        let sig_name = if name == INDEX_FILE {
            SIGNATURE_FILE.to_string()
        } else {
            format!("{name}.minisig")
        };
        let index = self.read_all(&name, MAX_INDEX_BYTES, limits)?;
        let sig = self
            .read_all(&sig_name, MAX_SIGNATURE_BYTES, limits)
            .map_err(|e| match e {
                UpdateError::Channel { message, .. }
                    if message.contains("404") || message.contains("No such file") =>
                {
                    UpdateError::Signature(format!("the channel has no signature ({sig_name})"))
                }
                e => e,
            })?;
        let sig = String::from_utf8(sig)
            .map_err(|_| UpdateError::Signature("the signature file is not text".into()))?;
        Ok((index, sig))
    }

    fn read_all(&self, rel: &str, max: u64, limits: &Limits) -> Result<Vec<u8>, UpdateError> {
        let mut out = Vec::new();
        let (mut r, _, _) = self.open(rel, 0, limits)?;
        r.by_ref()
            .take(max + 1)
            .read_to_end(&mut out)
            .map_err(|e| self.err(rel, e.to_string()))?;
        if out.len() as u64 > max {
            return Err(self.err(rel, format!("is larger than {max} bytes")));
        }
        Ok(out)
    }

    fn err(&self, rel: &str, message: String) -> UpdateError {
        UpdateError::Channel {
            url: match self {
                Channel::Http(_) => self.url_of(rel).unwrap_or_default(),
                Channel::Dir(d) => d.join(rel).display().to_string(),
            },
            message,
        }
    }

    /// A reader of `rel` from byte `offset`: the offset the source really
    /// starts at (0 when an HTTP server ignored the Range) and the total size
    /// when known.
    fn open(&self, rel: &str, offset: u64, limits: &Limits) -> Result<Opened, UpdateError> {
        match self {
            Channel::Dir(d) => {
                let path = d.join(rel);
                let mut f = File::open(&path).map_err(|e| self.err(rel, e.to_string()))?;
                let len = f
                    .metadata()
                    .map(|m| m.len())
                    .map_err(|e| self.err(rel, e.to_string()))?;
                f.seek(SeekFrom::Start(offset.min(len)))
                    .map_err(|e| self.err(rel, e.to_string()))?;
                Ok((Box::new(f), offset.min(len), Some(len)))
            }
            Channel::Http(_) => {
                let url = self.url_of(rel).unwrap_or_default();
                let agent = ureq::AgentBuilder::new()
                    .timeout_connect(limits.connect_timeout)
                    .timeout_read(limits.read_timeout)
                    .redirects(0)
                    .build();
                let mut req = agent.get(&url);
                if offset > 0 {
                    req = req.set("Range", &format!("bytes={offset}-"));
                }
                let resp = match req.call() {
                    Ok(r) => r,
                    Err(ureq::Error::Status(416, _)) if offset > 0 => {
                        // Asked past the end: the server has no more bytes than we do.
                        return Ok((Box::new(std::io::empty()), offset, Some(offset)));
                    }
                    Err(ureq::Error::Status(code, r)) => {
                        return Err(self.err(rel, format!("HTTP {code} {}", r.status_text())))
                    }
                    Err(e) => return Err(self.err(rel, e.to_string())),
                };
                let start = if resp.status() == 206 {
                    content_range_start(resp.header("Content-Range")).ok_or_else(|| {
                        self.err(rel, "a 206 answer without a usable Content-Range".into())
                    })?
                } else {
                    0
                };
                if start != 0 && start != offset {
                    return Err(self.err(rel, format!("asked for byte {offset}, got {start}")));
                }
                let len = resp
                    .header("Content-Length")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|l| l + start);
                Ok((resp.into_reader(), start, len))
            }
        }
    }
}

/// A source opened at an offset: the reader, where it really starts, the total size if known.
type Opened = (Box<dyn Read + Send>, u64, Option<u64>);

/// `bytes START-END/TOTAL` → START.
fn content_range_start(v: Option<&str>) -> Option<u64> {
    let v = v?.trim().strip_prefix("bytes ")?;
    v.split('-').next()?.trim().parse().ok()
}

/// Bounds of one download.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Attempts per file after the first failure (each resumes).
    pub retries: u32,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Bytes per second at most; 0: no limit.
    pub bytes_per_second: u64,
    pub connect_timeout: Duration,
    /// A server that sends nothing for this long is given up on (then retried).
    pub read_timeout: Duration,
    /// Free bytes that must remain on the data disk after the download and
    /// the install's copy.
    pub reserve_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            retries: 5,
            backoff_min: Duration::from_secs(2),
            backoff_max: Duration::from_secs(120),
            bytes_per_second: 0,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            reserve_bytes: 512 << 20,
        }
    }
}

/// Bytes done and expected, shared with the page and the CLI's progress bar.
#[derive(Debug, Default)]
pub struct Progress {
    pub done: AtomicU64,
    pub total: AtomicU64,
}

impl Progress {
    pub fn get(&self) -> (u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }
}

/// Room for a download of `remaining` bytes followed by an install copying
/// `install` bytes, keeping `reserve` free. A pure rule: `free` is measured
/// by the caller.
pub fn check_space(
    free: u64,
    remaining: u64,
    install: u64,
    reserve: u64,
) -> Result<(), UpdateError> {
    // 1 % + 16 MiB for the file system's own blocks and the manifest.
    let needed = remaining + install + install / 100 + (16 << 20);
    if free < needed.saturating_add(reserve) {
        return Err(UpdateError::NoSpace {
            needed,
            free,
            reserve,
        });
    }
    Ok(())
}

/// Downloads `file` into `dir` (see the module docs) and returns its final
/// path. `cancel` is asked between chunks and while waiting to retry.
pub fn download(
    channel: &Channel,
    file: &ArtifactFile,
    dir: &Path,
    limits: &Limits,
    progress: &Progress,
    cancel: &dyn Fn() -> bool,
) -> Result<PathBuf, UpdateError> {
    fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
    let done = dir.join(&file.sha256);
    let part = dir.join(format!("{}.part", file.sha256));
    if done.is_file() {
        if hash_of(&done)? == (file.sha256.clone(), file.size) {
            progress.done.fetch_add(file.size, Ordering::Relaxed);
            return Ok(done);
        }
        fs::remove_file(&done).map_err(io("cannot remove", &done))?;
    }
    let counted = progress.done.load(Ordering::Relaxed);
    let mut failures = 0u32;
    loop {
        let have = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        progress
            .done
            .store(counted + have.min(file.size), Ordering::Relaxed);
        match fetch_once(
            channel, file, &part, have, limits, progress, counted, cancel,
        ) {
            Ok(()) => break,
            Err(e @ (UpdateError::Cancelled | UpdateError::NoSpace { .. })) => return Err(e),
            Err(e @ UpdateError::SizeMismatch { .. }) if failures >= limits.retries => {
                return Err(e)
            }
            Err(e) => {
                failures += 1;
                if failures > limits.retries {
                    return Err(e);
                }
                let wait = backoff(limits, failures);
                tracing::warn!(error = %e, attempt = failures, wait_s = wait.as_secs_f64(), "download failed; resuming later");
                if !sleep_unless(wait, cancel) {
                    return Err(UpdateError::Cancelled);
                }
            }
        }
    }
    let (sha, size) = hash_of(&part)?;
    if size != file.size || sha != file.sha256 {
        // Wrong bytes under the right length: never resumed, fetched again next time.
        let _ = fs::remove_file(&part);
        return Err(if size != file.size {
            UpdateError::SizeMismatch {
                file: file.url.clone(),
                expected: file.size,
                actual: size,
            }
        } else {
            UpdateError::HashMismatch {
                file: file.url.clone(),
                expected: file.sha256.clone(),
                actual: sha,
            }
        });
    }
    fs::rename(&part, &done).map_err(io("cannot rename", &part))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("cannot fsync", dir))?;
    Ok(done)
}

/// Doubling from `backoff_min`, capped at `backoff_max`.
pub fn backoff(limits: &Limits, failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    (limits.backoff_min * factor).min(limits.backoff_max)
}

#[allow(clippy::too_many_arguments)]
fn fetch_once(
    channel: &Channel,
    file: &ArtifactFile,
    part: &Path,
    have: u64,
    limits: &Limits,
    progress: &Progress,
    counted: u64,
    cancel: &dyn Fn() -> bool,
) -> Result<(), UpdateError> {
    if have > file.size {
        fs::remove_file(part).map_err(io("cannot remove", part))?;
        return Err(UpdateError::SizeMismatch {
            file: file.url.clone(),
            expected: file.size,
            actual: have,
        });
    }
    if have == file.size {
        return Ok(());
    }
    let (mut reader, start, total) = channel.open(&file.url, have, limits)?;
    if let Some(t) = total.filter(|&t| t != file.size) {
        return Err(UpdateError::SizeMismatch {
            file: file.url.clone(),
            expected: file.size,
            actual: t,
        });
    }
    let mut out = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(part)
        .map_err(io("cannot open", part))?;
    out.set_len(start).map_err(io("cannot truncate", part))?;
    out.seek(SeekFrom::Start(start))
        .map_err(io("cannot seek", part))?;
    let mut pos = start;
    let began = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    while pos < file.size {
        if cancel() {
            let _ = out.sync_data();
            return Err(UpdateError::Cancelled);
        }
        let want = buf.len().min((file.size - pos) as usize);
        let n = match reader.read(&mut buf[..want]) {
            Ok(0) => {
                let _ = out.sync_data();
                return Err(channel.err(
                    &file.url,
                    format!("the connection ended at byte {pos} of {}", file.size),
                ));
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = out.sync_data();
                return Err(channel.err(&file.url, format!("at byte {pos}: {e}")));
            }
        };
        if let Err(e) = out.write_all(&buf[..n]) {
            return Err(if e.raw_os_error() == Some(libc::ENOSPC) {
                UpdateError::NoSpace {
                    needed: file.size - pos,
                    free: 0,
                    reserve: limits.reserve_bytes,
                }
            } else {
                io("cannot write", part)(e)
            });
        }
        pos += n as u64;
        progress.done.store(counted + pos, Ordering::Relaxed);
        if limits.bytes_per_second > 0 {
            let due =
                Duration::from_secs_f64((pos - start) as f64 / limits.bytes_per_second as f64);
            if let Some(wait) = due.checked_sub(began.elapsed()) {
                if !sleep_unless(wait, cancel) {
                    let _ = out.sync_data();
                    return Err(UpdateError::Cancelled);
                }
            }
        }
    }
    out.sync_all().map_err(io("cannot fsync", part))?;
    Ok(())
}

/// Sleeps `d` in short steps; false when `cancel` said stop.
fn sleep_unless(d: Duration, cancel: &dyn Fn() -> bool) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if cancel() {
            return false;
        }
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
    }
    !cancel()
}

/// sha256 (lowercase hex) and size of a file.
pub fn hash_of(path: &Path) -> Result<(String, u64), UpdateError> {
    let mut f = File::open(path).map_err(io("cannot open", path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io("cannot read", path)(e)),
        };
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((crate::models::hex(&h.finalize()), size))
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> UpdateError {
    let path = path.to_path_buf();
    move |source| UpdateError::Io { op, path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let l = Limits {
            backoff_min: Duration::from_secs(2),
            backoff_max: Duration::from_secs(10),
            ..Limits::default()
        };
        let waits: Vec<u64> = (1..=5).map(|f| backoff(&l, f).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 10, 10]);
    }

    #[test]
    fn space_is_refused_when_the_reserve_would_be_touched() {
        let mb = 1 << 20;
        assert!(check_space(2000 * mb, 100 * mb, 100 * mb, 512 * mb).is_ok());
        assert!(matches!(
            check_space(600 * mb, 100 * mb, 100 * mb, 512 * mb),
            Err(UpdateError::NoSpace { .. })
        ));
    }

    #[test]
    fn channel_urls_resolve_beside_the_index() {
        let c = Channel::parse("http://box.lan:8000/stable/index.json");
        assert_eq!(
            c.url_of("a/b.onnx").unwrap(),
            "http://box.lan:8000/stable/a/b.onnx"
        );
        let c = Channel::parse("https://vendor.example/stable/");
        assert_eq!(
            c.url_of("index.json").unwrap(),
            "https://vendor.example/stable/index.json"
        );
        assert_eq!(
            Channel::parse("/media/usb"),
            Channel::Dir("/media/usb".into())
        );
        assert_eq!(content_range_start(Some("bytes 100-199/200")), Some(100));
        assert_eq!(content_range_start(Some("garbage")), None);
    }

    #[test]
    fn a_directory_channel_copies_through_the_same_checks() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("m")).unwrap();
        fs::write(src.join("m/f.bin"), vec![7u8; 200_000]).unwrap();
        let (sha, size) = hash_of(&src.join("m/f.bin")).unwrap();
        let file = ArtifactFile {
            url: "m/f.bin".into(),
            path: "f.bin".into(),
            sha256: sha.clone(),
            size,
        };
        let downloads = dir.path().join("dl");
        // A partial download left by a crash is resumed, not restarted.
        fs::create_dir_all(&downloads).unwrap();
        fs::write(downloads.join(format!("{sha}.part")), vec![7u8; 50_000]).unwrap();
        let p = Progress::default();
        let got = download(
            &Channel::Dir(src.clone()),
            &file,
            &downloads,
            &Limits::default(),
            &p,
            &|| false,
        )
        .unwrap();
        assert_eq!(hash_of(&got).unwrap(), (sha.clone(), size));
        assert_eq!(p.get().0, size);
        // A tampered source fails its hash and leaves nothing under the final name.
        let mut bad = file.clone();
        bad.sha256 = "00".repeat(32);
        let e = download(
            &Channel::Dir(src),
            &bad,
            &downloads,
            &Limits::default(),
            &Progress::default(),
            &|| false,
        )
        .unwrap_err();
        assert!(matches!(e, UpdateError::HashMismatch { .. }), "{e}");
        assert!(!downloads.join(&bad.sha256).exists());
    }
}
