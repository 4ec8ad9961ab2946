//! Backups of the box and restoring them: `ojscog backup` and `ojscog restore`.
//!
//! A backup is one file: a header line, a JSON manifest (when, which ojscog,
//! the store's schema version, the settings — secrets only when asked —, the
//! installed models with versions and sha256, not their weights), the store
//! as one SQLite image taken with SQLite's online backup API while the service
//! runs ([`crate::store::Store::backup_to`]), and a trailing SHA-256 of
//! everything before it. It is written to a temporary name, fsynced, renamed
//! into place and the directory fsynced: a file with the final name is always
//! whole; a killed backup leaves only a `.tmp` file, removed by the next one.
//! Backups are mode 0600 (the store holds reviewers' names and emails).
//!
//! A restore checks the trailer and the manifest before it touches anything,
//! refuses a store from a newer schema, runs `PRAGMA integrity_check` on the
//! image, and needs the data directory to itself (the service holds it while it
//! runs: [`crate::system::lock::DataDirLock`]). The store it replaces is kept
//! beside it.

pub mod schedule;

use crate::config::Config;
use crate::models::ModelStore;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The first line of every backup file.
pub const MAGIC: &str = "ojscog-backup 1";
/// What backup files are called: `ojscog-20261130-181500.backup`.
pub const SUFFIX: &str = ".backup";
/// `sha256 <64 hex>\n`.
const TRAILER_LEN: u64 = 7 + 64 + 1;
/// The manifest line is at most this long.
const MAX_MANIFEST: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Lock(#[from] crate::system::lock::LockError),
    #[error("{path} is not an ojscog backup: {why}")]
    NotABackup { path: PathBuf, why: String },
    #[error("{path} is damaged: its checksum does not match (expected {expected}, found {found})")]
    Checksum {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{path} comes from a newer ojscog (store schema {found}; this one knows up to {known}): restore it with that version")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("the store in {path} fails SQLite's integrity check: {findings}")]
    Corrupt { path: PathBuf, findings: String },
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BackupError + 'a {
    move |source| BackupError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// An installed model as a backup lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelEntry {
    pub name: String,
    pub version: String,
    /// The version's combined sha256 (over its files' names and hashes).
    pub sha256: String,
    pub source: String,
}

/// What a backup holds besides the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub created_at: i64,
    pub ojscog_version: String,
    pub schema_version: i64,
    pub store_bytes: u64,
    pub store_sha256: String,
    /// The settings as TOML; tokens and passwords are `***` unless `with_secrets`.
    pub config_toml: String,
    pub with_secrets: bool,
    pub models: Vec<ModelEntry>,
}

/// A backup written.
#[derive(Debug, Clone)]
pub struct Taken {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    pub manifest: Manifest,
}

/// The models installed in the box's own store (`<data_dir>/models`).
pub fn installed_models(data_dir: &Path) -> Vec<ModelEntry> {
    let store = ModelStore::for_data_dir(data_dir);
    let mut out = Vec::new();
    for m in store.list().unwrap_or_default() {
        if let Ok(installed) = store.current(&m.name) {
            out.push(ModelEntry {
                name: m.name.clone(),
                version: installed.manifest.version.clone(),
                sha256: installed.manifest.combined_sha256(),
                source: installed.manifest.source.clone(),
            });
        }
    }
    out
}

/// `ojscog-20261130-181500.backup` for `now`.
pub fn file_name(now: i64) -> String {
    let (y, m, d) = crate::human::civil_from_days(now.div_euclid(86_400));
    let s = now.rem_euclid(86_400);
    format!(
        "ojscog-{y:04}{m:02}{d:02}-{:02}{:02}{:02}{SUFFIX}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Where a backup to `to` goes: into `to` when it is a directory (a new name per backup), else `to` itself.
pub fn destination(to: &Path, now: i64) -> PathBuf {
    if to.is_dir() {
        to.join(file_name(now))
    } else {
        to.to_path_buf()
    }
}

/// Takes a backup of `config`'s store (while the service may be running) into `dest` (a file path).
pub fn take(
    config: &Config,
    dest: &Path,
    with_secrets: bool,
    now: i64,
) -> Result<Taken, BackupError> {
    let dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
    remove_stale_temporaries(dir);
    let file_name = dest
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "backup".into());
    let image = dir.join(format!(".{file_name}.{}.store.tmp", std::process::id()));
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&image);
    let result = (|| {
        let store = Store::open_read_only(&config.store_path())?;
        store.backup_to(&image)?;
        drop(store);
        let (store_sha256, store_bytes) = hash_file(&image)?;
        let schema_version = Store::open_read_only(&image)?.schema_version()?;
        let config_toml = if with_secrets {
            config.to_toml()
        } else {
            config.redacted().to_toml()
        };
        let manifest = Manifest {
            created_at: now,
            ojscog_version: env!("CARGO_PKG_VERSION").into(),
            schema_version,
            store_bytes,
            store_sha256,
            config_toml,
            with_secrets,
            models: installed_models(&config.data_dir),
        };
        let sha256 = write_container(&tmp, &manifest, &image)?;
        std::fs::rename(&tmp, dest).map_err(io("cannot rename into place", dest))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("cannot fsync directory", dir))?;
        let bytes = std::fs::metadata(dest)
            .map_err(io("cannot stat", dest))?
            .len();
        Ok(Taken {
            path: dest.to_path_buf(),
            bytes,
            sha256,
            manifest,
        })
    })();
    let _ = std::fs::remove_file(&image);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Temporaries of killed backups (`.NAME.PID.tmp`, `.NAME.PID.store.tmp` and its journal) whose process is gone.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        // SQLite may leave its journal beside the image: `.NAME.PID.store.tmp-journal`.
        let base = ["-journal", "-wal", "-shm"]
            .iter()
            .fold(name.as_str(), |n, side| n.trim_end_matches(side));
        if !(name.starts_with('.') && base.ends_with(".tmp")) {
            continue;
        }
        let pid = base
            .trim_end_matches(".tmp")
            .trim_end_matches(".store")
            .rsplit('.')
            .next()
            .and_then(|p| p.parse::<i32>().ok());
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if pid.is_some() && !alive {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn hash_file(path: &Path) -> Result<(String, u64), BackupError> {
    let mut f = File::open(path).map_err(io("cannot open", path))?;
    let mut h = Sha256::new();
    let n = std::io::copy(&mut f, &mut h).map_err(io("cannot read", path))?;
    Ok((hex(&h.finalize()), n))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A writer that hashes what goes through it.
struct Hashing<W> {
    inner: W,
    h: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.h.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the container to `path` (0600, fsynced); its sha256.
fn write_container(path: &Path, manifest: &Manifest, image: &Path) -> Result<String, BackupError> {
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io("cannot create", path))?;
    let mut w = Hashing {
        inner: std::io::BufWriter::new(f),
        h: Sha256::new(),
    };
    let json = serde_json::to_string(manifest).map_err(|e| BackupError::NotABackup {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    let mut src = File::open(image).map_err(io("cannot open", image))?;
    (|| {
        writeln!(w, "{MAGIC}")?;
        writeln!(w, "{json}")?;
        std::io::copy(&mut src, &mut w)?;
        Ok(())
    })()
    .map_err(io("cannot write", path))?;
    let sha = hex(&w.h.clone().finalize());
    let mut inner = w.inner;
    (|| {
        writeln!(inner, "sha256 {sha}")?;
        inner.flush()?;
        inner.get_ref().sync_all()
    })()
    .map_err(io("cannot write", path))?;
    Ok(sha)
}

/// Checks a backup file whole (trailer checksum, header, manifest) and returns its manifest and where the store
/// image starts.
pub fn verify(path: &Path) -> Result<(Manifest, u64), BackupError> {
    let not = |why: &str| BackupError::NotABackup {
        path: path.to_path_buf(),
        why: why.into(),
    };
    let mut f = File::open(path).map_err(io("cannot open", path))?;
    let len = f.metadata().map_err(io("cannot stat", path))?.len();
    if len < TRAILER_LEN + MAGIC.len() as u64 {
        return Err(not("it is too short"));
    }
    let mut magic = vec![0u8; MAGIC.len() + 1];
    f.read_exact(&mut magic).map_err(io("cannot read", path))?;
    if magic != format!("{MAGIC}\n").as_bytes() {
        return Err(not("it does not start with the backup header"));
    }
    f.seek(SeekFrom::Start(len - TRAILER_LEN))
        .map_err(io("cannot read", path))?;
    let mut trailer = String::new();
    f.take(TRAILER_LEN)
        .read_to_string(&mut trailer)
        .map_err(|_| not("its last line is not a checksum (was it cut short?)"))?;
    let expected = trailer
        .strip_prefix("sha256 ")
        .and_then(|t| t.strip_suffix('\n'))
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| not("its last line is not a checksum (was it cut short?)"))?
        .to_string();
    let mut f = File::open(path).map_err(io("cannot open", path))?;
    let mut h = Sha256::new();
    std::io::copy(&mut (&mut f).take(len - TRAILER_LEN), &mut h)
        .map_err(io("cannot read", path))?;
    let found = hex(&h.finalize());
    if found != expected {
        return Err(BackupError::Checksum {
            path: path.to_path_buf(),
            expected,
            found,
        });
    }
    let mut r = BufReader::new(File::open(path).map_err(io("cannot open", path))?);
    let mut line = String::new();
    r.read_line(&mut line).map_err(io("cannot read", path))?;
    line.clear();
    (&mut r)
        .take(MAX_MANIFEST)
        .read_line(&mut line)
        .map_err(io("cannot read", path))?;
    let manifest: Manifest =
        serde_json::from_str(line.trim_end()).map_err(|e| not(&format!("its manifest: {e}")))?;
    let start = (MAGIC.len() + 1 + line.len()) as u64;
    if start + manifest.store_bytes + TRAILER_LEN != len {
        return Err(not("its store image is not the size its manifest says"));
    }
    Ok((manifest, start))
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub manifest: Manifest,
    /// The store that was replaced, kept (None when there was none).
    pub previous: Option<PathBuf>,
    /// The backup's settings, written beside the store for the operator to compare and take over.
    pub config: PathBuf,
    /// Models the backup lists that this box does not have (name, version): fetch them again.
    pub missing_models: Vec<ModelEntry>,
}

/// Restores `backup` into `config`'s data directory; the service must be stopped.
pub fn restore(config: &Config, backup: &Path, now: i64) -> Result<Restored, BackupError> {
    let (manifest, start) = verify(backup)?;
    let known = Store::known_schema_version();
    if manifest.schema_version > known {
        return Err(BackupError::TooNew {
            path: backup.to_path_buf(),
            found: manifest.schema_version,
            known,
        });
    }
    let _lock = crate::system::lock::DataDirLock::exclusive(&config.data_dir)?;
    let store_path = config.store_path();
    let dir = store_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let incoming = dir.join(".ojscog.sqlite3.restore.tmp");
    let _ = std::fs::remove_file(&incoming);
    let result = (|| {
        {
            let mut src = File::open(backup).map_err(io("cannot open", backup))?;
            src.seek(SeekFrom::Start(start))
                .map_err(io("cannot read", backup))?;
            let mut out = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&incoming)
                .map_err(io("cannot create", &incoming))?;
            std::io::copy(&mut src.take(manifest.store_bytes), &mut out)
                .map_err(io("cannot write", &incoming))?;
            out.sync_all().map_err(io("cannot fsync", &incoming))?;
        }
        let findings = Store::open_read_only(&incoming)?.integrity_check()?;
        if findings != ["ok"] {
            return Err(BackupError::Corrupt {
                path: backup.to_path_buf(),
                findings: findings.join("; "),
            });
        }
        let previous = if store_path.exists() {
            // The old store is kept whole: its WAL and index files move with it.
            let kept = dir.join(format!("ojscog.sqlite3.before-restore-{now}"));
            for side in ["-wal", "-shm"] {
                let from = PathBuf::from(format!("{}{side}", store_path.display()));
                if from.exists() {
                    let to = PathBuf::from(format!("{}{side}", kept.display()));
                    std::fs::rename(&from, &to).map_err(io("cannot move aside", &from))?;
                }
            }
            std::fs::rename(&store_path, &kept).map_err(io("cannot move aside", &store_path))?;
            Some(kept)
        } else {
            None
        };
        std::fs::rename(&incoming, &store_path)
            .map_err(io("cannot move into place", &store_path))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io("cannot fsync directory", &dir))?;
        let config_path = dir.join(format!("config.restored-{now}.toml"));
        let mut c = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&config_path)
            .map_err(io("cannot create", &config_path))?;
        c.write_all(manifest.config_toml.as_bytes())
            .and_then(|_| c.sync_all())
            .map_err(io("cannot write", &config_path))?;
        let have = installed_models(&config.data_dir);
        let missing_models = manifest
            .models
            .iter()
            .filter(|m| {
                !have
                    .iter()
                    .any(|h| h.name == m.name && h.sha256 == m.sha256)
            })
            .cloned()
            .collect();
        Ok(Restored {
            manifest: manifest.clone(),
            previous,
            config: config_path,
            missing_models,
        })
    })();
    let _ = std::fs::remove_file(&incoming);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names_sort_by_time() {
        assert_eq!(file_name(1_764_526_500), "ojscog-20251130-181500.backup");
        assert!(file_name(1_764_526_500) < file_name(1_764_526_501));
    }
}
