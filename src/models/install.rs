//! Changing the store: installs (staged, hashed, fsynced, switched
//! atomically), rollback, staging clean-up and pruning, each under the model's
//! exclusive `flock`.

use super::*;

/// An exclusive `flock` on `<model>/.lock`; released on drop (or when the process dies).
pub(super) struct ModelLock {
    _file: File,
}

impl ModelStore {
    /// Takes the model's install lock, waiting for a running install or rollback.
    fn lock(&self, mdir: &Path) -> Result<ModelLock, ModelError> {
        let file = open_lock_file(mdir)?;
        flock(&file, libc::LOCK_EX, &mdir.join(LOCK_FILE))?;
        Ok(ModelLock { _file: file })
    }

    /// The model's install lock if no one holds it, else None.
    fn try_lock(&self, mdir: &Path) -> Result<Option<ModelLock>, ModelError> {
        let file = open_lock_file(mdir)?;
        match flock(&file, libc::LOCK_EX | libc::LOCK_NB, &mdir.join(LOCK_FILE)) {
            Ok(()) => Ok(Some(ModelLock { _file: file })),
            Err(ModelError::Io { source, .. })
                if source.raw_os_error() == Some(libc::EWOULDBLOCK) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Installs `files` as `name`/`version` and makes it current. Installing the
    /// version that is already current and verifies is a no-op (returns it).
    /// Installs of one model wait for each other (the model's lock).
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
        // The root and the model dir, each fsynced into its parent when created here.
        create_dirs_synced(&mdir)?;
        let _lock = self.lock(&mdir)?;
        self.clean_staging_locked(&mdir)?;

        // Already there? Reuse the version when its files verify and match the sources.
        let target = mdir.join(version);
        if fs::symlink_metadata(&target).is_ok() {
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
                    remove_version(&mdir, version)?;
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
        fs::create_dir(&staging).map_err(io("cannot create", &staging))?;
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
            // Only now, complete and on disk, does the version get its name;
            // `current` moves to it after that (in `switch`).
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

    /// Points `current` at `version` (which must verify) and `previous` at the
    /// old current. The caller holds the model's lock.
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
        let mdir = self.model_dir(name)?;
        let _lock = if mdir.is_dir() {
            Some(self.lock(&mdir)?)
        } else {
            None
        };
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

    /// Removes what interrupted installs left (staging directories, half-removed
    /// versions, temporary pointer links). While another install of the model
    /// runs (it holds the model's lock) nothing is removed and 0 is returned:
    /// its staging directory is live.
    pub fn clean_staging(&self, name: &str) -> Result<usize, ModelError> {
        let mdir = self.model_dir(name)?;
        if !mdir.is_dir() {
            return Ok(0);
        }
        match self.try_lock(&mdir)? {
            Some(_lock) => self.clean_staging_locked(&mdir),
            None => Ok(0),
        }
    }

    /// [`ModelStore::clean_staging`] for a caller holding the model's lock.
    fn clean_staging_locked(&self, mdir: &Path) -> Result<usize, ModelError> {
        let mut n = 0;
        let Ok(rd) = fs::read_dir(mdir) else {
            return Ok(0);
        };
        for e in rd.flatten() {
            let fname = e.file_name().to_string_lossy().to_string();
            let path = e.path();
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir && (fname.starts_with(STAGING_PREFIX) || fname.starts_with(TRASH_PREFIX)) {
                fs::remove_dir_all(&path).map_err(io("cannot remove", &path))?;
                n += 1;
            } else if fname.starts_with(".current.tmp-") || fname.starts_with(".previous.tmp-") {
                fs::remove_file(&path).map_err(io("cannot remove", &path))?;
            }
        }
        Ok(n)
    }

    /// `models gc`: removes what interrupted installs left and every version
    /// that is neither `current` nor `previous`. Waits for a running install.
    /// Returns how many directories were removed.
    pub fn gc(&self, name: &str) -> Result<usize, ModelError> {
        let mdir = self.model_dir(name)?;
        if !mdir.is_dir() {
            return Ok(0);
        }
        let _lock = self.lock(&mdir)?;
        let n = self.clean_staging_locked(&mdir)?;
        let before = self.versions(name)?.len();
        self.prune(name)?;
        Ok(n + before - self.versions(name)?.len())
    }

    /// Takes back a version that was made current but must not stay so (it
    /// failed its self-test): `previous` becomes current again when there is
    /// one, else `current` is removed; the version itself is deleted either way.
    /// Returns the version now current, if any.
    pub fn withdraw(&self, name: &str, version: &str) -> Result<Option<String>, ModelError> {
        check_name("version", version)?;
        let mdir = self.model_dir(name)?;
        if !mdir.is_dir() {
            return Ok(None);
        }
        let _lock = self.lock(&mdir)?;
        if self.current_version(name)?.as_deref() == Some(version) {
            match self.previous_version(name)? {
                Some(prev) if prev != version => {
                    self.switch(name, &prev)?;
                    // `switch` made the withdrawn version `previous`: forget it.
                    let _ = fs::remove_file(mdir.join(PREVIOUS));
                }
                _ => {
                    let link = mdir.join(CURRENT);
                    fs::remove_file(&link).map_err(io("cannot remove", &link))?;
                }
            }
            sync_dir(&mdir)?;
        }
        if fs::symlink_metadata(mdir.join(version)).is_ok() {
            remove_version(&mdir, version)?;
        }
        self.current_version(name)
    }

    /// Keeps only `current` and `previous`. The caller holds the model's lock.
    fn prune(&self, name: &str) -> Result<(), ModelError> {
        let keep = [self.current_version(name)?, self.previous_version(name)?];
        let mdir = self.model_dir(name)?;
        for v in self.versions(name)? {
            if !keep.iter().any(|k| k.as_deref() == Some(v.as_str())) {
                remove_version(&mdir, &v)?;
            }
        }
        Ok(())
    }
}

/// Removes `<mdir>/<version>`: renamed to a `.trash-` name first (atomic, so a
/// crash never leaves a half-deleted directory that looks like a version), then deleted.
fn remove_version(mdir: &Path, version: &str) -> Result<(), ModelError> {
    let dir = mdir.join(version);
    let meta = fs::symlink_metadata(&dir).map_err(io("cannot stat", &dir))?;
    if !meta.is_dir() {
        // A stray file or symbolic link under a version's name: remove the entry only.
        return fs::remove_file(&dir).map_err(io("cannot remove", &dir));
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let trash = mdir.join(format!(
        "{TRASH_PREFIX}{version}-{}-{nanos}",
        std::process::id()
    ));
    fs::rename(&dir, &trash).map_err(io("cannot rename version dir to", &trash))?;
    sync_dir(mdir)?;
    fs::remove_dir_all(&trash).map_err(io("cannot remove", &trash))
}

fn open_lock_file(mdir: &Path) -> Result<File, ModelError> {
    let path = mdir.join(LOCK_FILE);
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| open_error(&path, e))
}

fn flock(file: &File, op: libc::c_int, path: &Path) -> Result<(), ModelError> {
    loop {
        // SAFETY: flock(2) on a descriptor this `File` owns for the whole call.
        let r = unsafe { libc::flock(file.as_raw_fd(), op) };
        if r == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(io("cannot lock", path)(e));
        }
    }
}

/// `create_dir_all` that fsyncs the parent of every directory it creates, so
/// a new store root or model directory is still there after a power loss.
fn create_dirs_synced(dir: &Path) -> Result<(), ModelError> {
    let mut missing = Vec::new();
    let mut cur = dir;
    loop {
        match fs::symlink_metadata(cur) {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                missing.push(cur.to_path_buf());
                match cur.parent() {
                    Some(p) if !p.as_os_str().is_empty() => cur = p,
                    _ => break,
                }
            }
            Err(e) => return Err(io("cannot stat", cur)(e)),
        }
    }
    for d in missing.iter().rev() {
        match fs::create_dir(d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io("cannot create", d)(e)),
        }
        if let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    Ok(())
}
