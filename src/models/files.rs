//! The bytes of model files: hashing (each file's sha256 remembered for the
//! process under its device/inode/size/mtime/ctime stamp), reading without
//! following symlinks, copying while hashing, and writing durably (fsync of
//! the file and of its directory).

use super::{io, FileEntry, ModelError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Identity of a file's bytes on disk, read without reading the bytes: any
/// write changes mtime and ctime, a replacement changes the inode, and ctime
/// cannot be set back from user space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileStamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl FileStamp {
    pub fn of(meta: &fs::Metadata) -> FileStamp {
        FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        }
    }

    /// The stamp of the file at `path` (not following a final symbolic link).
    pub fn read(path: &Path) -> Result<FileStamp, ModelError> {
        Ok(FileStamp::of(&lstat_regular(path)?))
    }
}

/// A file and the sha256 of its bytes as they were when hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedFile {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub stamp: FileStamp,
}

impl HashedFile {
    /// Errors unless the file at `path` still has the stamp it was hashed with.
    pub fn check_unchanged(&self) -> Result<(), ModelError> {
        match FileStamp::read(&self.path) {
            Ok(s) if s == self.stamp => Ok(()),
            Ok(_) | Err(ModelError::Missing { .. }) => Err(ModelError::Changed {
                path: self.path.clone(),
            }),
            Err(e) => Err(e),
        }
    }
}

/// Hashes remembered for the process lifetime, by file identity.
pub(super) fn hash_memo() -> &'static Mutex<HashMap<FileStamp, String>> {
    static MEMO: OnceLock<Mutex<HashMap<FileStamp, String>>> = OnceLock::new();
    MEMO.get_or_init(Default::default)
}

/// Real hashing done, in total and per path (tests and metrics read them).
static FILES_HASHED: AtomicU64 = AtomicU64::new(0);
pub(super) fn hashed_by_path() -> &'static Mutex<HashMap<PathBuf, u64>> {
    static BY_PATH: OnceLock<Mutex<HashMap<PathBuf, u64>>> = OnceLock::new();
    BY_PATH.get_or_init(Default::default)
}
/// More entries than any real store needs; past it the memo starts afresh.
const MEMO_LIMIT: usize = 4096;

/// File timestamps are coarse (a kernel tick): a write in the same tick as the
/// one before it leaves mtime and ctime unchanged. A stamp whose ctime is this
/// recent is not remembered (git's "racily clean" rule), so such a write is
/// never mistaken for no change.
const RACY_SECS: i128 = 2;

pub(super) fn is_racy(stamp: &FileStamp) -> bool {
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0);
    // A ctime in the future (the clock was set back) is racy too.
    now_ns - stamp.ctime_ns < RACY_SECS * 1_000_000_000
}

pub(super) fn remember_hash(stamp: FileStamp, sha256: &str) {
    let mut memo = hash_memo().lock().unwrap_or_else(|p| p.into_inner());
    if memo.len() >= MEMO_LIMIT {
        memo.clear();
    }
    memo.insert(stamp, sha256.to_string());
}

pub(super) fn count_hash(path: &Path) {
    FILES_HASHED.fetch_add(1, Ordering::Relaxed);
    let mut by = hashed_by_path().lock().unwrap_or_else(|p| p.into_inner());
    if by.len() >= MEMO_LIMIT {
        by.clear();
    }
    *by.entry(path.to_path_buf()).or_insert(0) += 1;
}

/// How many files this process has read through to hash (memo hits excluded).
pub fn files_hashed() -> u64 {
    FILES_HASHED.load(Ordering::Relaxed)
}

/// How many times this process has read `path` (as given to [`hash_file`]) through to hash it.
pub fn times_hashed(path: &Path) -> u64 {
    hashed_by_path()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(path)
        .copied()
        .unwrap_or(0)
}

/// The sha256 of a regular file (a symbolic link is refused), computed once per
/// process for an unchanged file: the answer is remembered under the file's
/// [`FileStamp`]. The stamp is taken from the open descriptor before and after
/// reading; a file that changes while being read is [`ModelError::Changed`].
pub fn hash_file(path: &Path) -> Result<HashedFile, ModelError> {
    lstat_regular(path)?;
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| open_error(path, e))?;
    let before = f.metadata().map_err(io("cannot stat", path))?;
    if !before.is_file() {
        return Err(ModelError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let stamp = FileStamp::of(&before);
    let known = hash_memo()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&stamp)
        .cloned();
    let sha256 = match known {
        Some(h) => h,
        None => {
            let h = sha256_reader(&mut f, path)?;
            count_hash(path);
            let after = f.metadata().map_err(io("cannot stat", path))?;
            if FileStamp::of(&after) != stamp {
                return Err(ModelError::Changed {
                    path: path.to_path_buf(),
                });
            }
            if !is_racy(&stamp) {
                remember_hash(stamp, &h);
            }
            h
        }
    };
    Ok(HashedFile {
        path: path.to_path_buf(),
        sha256,
        size: stamp.size,
        stamp,
    })
}

pub(super) fn open_error(path: &Path, e: std::io::Error) -> ModelError {
    match e.raw_os_error() {
        Some(libc::ELOOP) => ModelError::Symlink {
            path: path.to_path_buf(),
        },
        _ if e.kind() == std::io::ErrorKind::NotFound => ModelError::Missing {
            path: path.to_path_buf(),
        },
        _ => io("cannot open", path)(e),
    }
}

/// `lstat`: the file must exist, not be a symbolic link, and be a regular file.
pub(super) fn lstat_regular(path: &Path) -> Result<fs::Metadata, ModelError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ModelError::Missing {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(io("cannot stat", path)(e)),
    };
    if meta.file_type().is_symlink() {
        return Err(ModelError::Symlink {
            path: path.to_path_buf(),
        });
    }
    if !meta.is_file() {
        return Err(ModelError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    Ok(meta)
}

/// Errors if `path` exists and is a symbolic link (missing is fine).
pub(super) fn refuse_symlink(path: &Path) -> Result<(), ModelError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(ModelError::Symlink {
            path: path.to_path_buf(),
        }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("cannot stat", path)(e)),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// sha256 hex of bytes in memory (an uploaded file, a text).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// sha256 of a file, streamed (no memo: for install sources and one-off checks).
pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let mut f = File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ModelError::Missing {
                path: path.to_path_buf(),
            }
        } else {
            io("cannot open", path)(e)
        }
    })?;
    sha256_reader(&mut f, path)
}

pub(super) fn sha256_reader(f: &mut File, path: &Path) -> Result<String, ModelError> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match f.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io("cannot read", path)(e)),
        };
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Checks one manifest entry below `dir`: no symbolic link on the way, a
/// regular file of the recorded size, the recorded sha256 (memoised hash).
pub(super) fn verify_file(dir: &Path, entry: &FileEntry) -> Result<HashedFile, ModelError> {
    let path = dir.join(&entry.path);
    // Every directory between the version directory and the file must be real.
    let mut cur = dir.to_path_buf();
    let parts: Vec<_> = Path::new(&entry.path).components().collect();
    for c in &parts[..parts.len().saturating_sub(1)] {
        cur.push(c);
        refuse_symlink(&cur)?;
    }
    let meta = lstat_regular(&path)?;
    if meta.len() != entry.size {
        return Err(ModelError::SizeMismatch {
            path,
            expected: entry.size,
            actual: meta.len(),
        });
    }
    let hashed = hash_file(&path)?;
    if hashed.size != entry.size {
        return Err(ModelError::SizeMismatch {
            path,
            expected: entry.size,
            actual: hashed.size,
        });
    }
    if hashed.sha256 != entry.sha256 {
        return Err(ModelError::HashMismatch {
            path,
            expected: entry.sha256.clone(),
            actual: hashed.sha256,
        });
    }
    Ok(hashed)
}

/// Copies `src` to a new file `dest`, hashing the bytes as they pass; fsyncs `dest`.
pub(super) fn copy_hashing(src: &Path, dest: &Path) -> Result<(String, u64), ModelError> {
    let mut input = File::open(src).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ModelError::Missing {
                path: src.to_path_buf(),
            }
        } else {
            io("cannot open", src)(e)
        }
    })?;
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dest)
        .map_err(io("cannot create", dest))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io("cannot read", src)(e)),
        };
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(io("cannot write", dest))?;
        size += n as u64;
    }
    out.sync_all().map_err(io("cannot fsync", dest))?;
    Ok((hex(&h.finalize()), size))
}

pub(super) fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    let mut f = File::create(path).map_err(io("cannot create", path))?;
    f.write_all(bytes).map_err(io("cannot write", path))?;
    f.sync_all().map_err(io("cannot fsync", path))
}

pub(super) fn sync_dir(dir: &Path) -> Result<(), ModelError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("cannot fsync directory", dir))
}

pub(super) fn sync_tree(dir: &Path) -> Result<(), ModelError> {
    for e in fs::read_dir(dir).map_err(io("cannot list", dir))? {
        let e = e.map_err(io("cannot list", dir))?;
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            sync_tree(&e.path())?;
        }
    }
    sync_dir(dir)
}

/// Atomically makes `<dir>/<link>` a symlink to `target` (rename over the old one).
/// The caller holds the model's lock, so the temporary name is not shared.
pub(super) fn replace_symlink(dir: &Path, link: &str, target: &str) -> Result<(), ModelError> {
    let tmp = dir.join(format!(".{link}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(io("cannot create symlink", &tmp))?;
    let dest = dir.join(link);
    fs::rename(&tmp, &dest).map_err(io("cannot switch symlink", &dest))
}

/// A manifest larger than this is refused (real ones are a few hundred bytes).
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// Reads a text file of at most `max` bytes; a larger one is an error, never a
/// buffer of its size.
pub(super) fn read_bounded(path: &Path, max: u64) -> std::io::Result<String> {
    let mut text = String::new();
    fs::File::open(path)?
        .take(max + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod bounded_tests {
    #[test]
    fn an_oversized_manifest_is_refused_without_reading_it_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("manifest.json");
        std::fs::write(&p, vec![b' '; 2048]).unwrap();
        assert!(super::read_bounded(&p, 1024).is_err());
        assert_eq!(super::read_bounded(&p, 4096).unwrap().len(), 2048);
    }
}
