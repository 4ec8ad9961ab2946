//! The update run: check the channel, download, verify, install, self-test,
//! take back on failure, record everything. Blocking; the service runs it
//! on its own thread and the CLI in the foreground.

use super::fetch::{self, Channel, Limits};
use super::index::{Artifact, Index, Kind, RUNTIME_FILE};
use super::selftest::{Outcome, SelfTest};
use super::status::{Available, StatusCell};
use super::trust::{self, Signed, TrustedKeys};
use super::{formats, UpdateError};
use crate::metrics::{names, Metrics};
use crate::models::{ModelStore, SourceFile};
use crate::store::{AcceptedIndex, PendingActivation, Store, UpdateRecord};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a check found: the verified index and what to do about it.
#[derive(Debug, Clone)]
pub struct Plan {
    pub index: Index,
    pub signed: Signed,
    /// Artifacts that differ from what is installed and run on this ojscog.
    pub todo: Vec<Artifact>,
    /// Artifacts left alone, with the reason (already installed, too new…).
    pub skipped: Vec<(Artifact, String)>,
}

/// One artifact's result.
pub type Applied = UpdateRecord;

pub struct Updater {
    pub data_dir: PathBuf,
    pub store_path: PathBuf,
    pub keys: TrustedKeys,
    pub limits: Limits,
    /// The RAUC path's installer (`/usr/sbin/ojscog-update BUNDLE`).
    pub system_installer: PathBuf,
    /// `/etc/ojscog-release`: the running system's VERSION (absent off the image).
    pub system_release: PathBuf,
    pub status: Arc<StatusCell>,
    pub metrics: Option<Arc<Metrics>>,
    pub selftest: Box<dyn SelfTest>,
}

/// A history row: `what` is (kind, name, from version, to version).
pub(super) fn record(
    what: (&str, &str, &str, &str),
    result: &str,
    reason: String,
    serial: u64,
    at: i64,
) -> UpdateRecord {
    let (kind, name, from, to) = what;
    UpdateRecord {
        at,
        kind: kind.into(),
        name: name.into(),
        from_version: from.into(),
        to_version: to.into(),
        result: result.into(),
        reason,
        serial,
    }
}

impl Updater {
    /// The updater `config` describes: the baked keys plus `update.extra_keys`,
    /// the real self-tests, the download limits.
    pub fn from_config(
        config: &crate::config::Config,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Updater, UpdateError> {
        let u = &config.update;
        let keys = TrustedKeys::load(Path::new(crate::config::BAKED_KEYS_DIR), &u.extra_keys)?;
        let status = Arc::new(StatusCell::default());
        status.edit(|s| {
            s.channel = if u.is_configured() {
                u.channel_url.clone()
            } else {
                String::new()
            };
            s.state = "idle".into();
        });
        Ok(Updater {
            data_dir: config.data_dir.clone(),
            store_path: config.store_path(),
            keys,
            limits: Limits {
                retries: u.retries,
                bytes_per_second: u.bandwidth_limit_bytes_per_second,
                reserve_bytes: u.reserve_bytes,
                ..Limits::default()
            },
            system_installer: u.system_installer.clone(),
            system_release: u.system_release.clone(),
            status,
            metrics,
            selftest: Box::new(super::ModelSelfTest {
                data_dir: config.data_dir.clone(),
                llm: config.llm.clone(),
            }),
        })
    }

    /// The configured channel, if any.
    pub fn configured_channel(config: &crate::config::Config) -> Option<Channel> {
        config
            .update
            .is_configured()
            .then(|| Channel::Http(config.update.channel_url.clone()))
    }

    /// The models store updates install into.
    pub fn models(&self) -> ModelStore {
        ModelStore::for_data_dir(&self.data_dir)
    }

    fn downloads(&self) -> PathBuf {
        self.data_dir.join("update").join("downloads")
    }

    fn store(&self) -> Result<Store, UpdateError> {
        Ok(Store::open(&self.store_path)?)
    }

    fn count(&self, name: &str, labels: &[(&str, &str)]) {
        if let Some(m) = &self.metrics {
            m.inc(name, labels, 1.0);
        }
    }

    /// Fetches and verifies the channel's index, refuses replays, records the
    /// accepted serial, and plans. A refusal is recorded in the history and
    /// changes nothing else.
    pub fn check(&self, channel: &Channel, now: i64) -> Result<Plan, UpdateError> {
        self.status.edit(|s| {
            s.channel = channel.describe();
            s.state = "checking".into();
        });
        let result = self.check_inner(channel, now);
        let (label, failure) = match &result {
            Ok(_) => ("ok", None),
            Err(e) => (e.kind(), Some(e.to_string())),
        };
        self.count(names::UPDATE_CHECKS, &[("result", label)]);
        if let Some(m) = &self.metrics {
            m.set(names::UPDATE_LAST_CHECK, &[], now as f64);
        }
        if let Some(f) = &failure {
            tracing::warn!(channel = %channel.describe(), error = %f, "update check refused");
            if let Ok(mut st) = self.store() {
                let _ = st.record_update(&record(
                    ("index", "index", "", ""),
                    "refused",
                    f.clone(),
                    0,
                    now,
                ));
            }
        }
        let plan = result.as_ref().ok();
        let available = plan.map(|p| self.available(p)).unwrap_or_default();
        self.status.edit(|s| {
            s.state = "idle".into();
            s.last_check_at = Some(now);
            s.last_check_result = label.into();
            if let Some(p) = plan {
                s.serial = Some(p.index.serial);
                s.available = available;
            }
            if let Some(f) = failure {
                s.last_failure = Some(f);
                s.last_failure_at = Some(now);
            }
        });
        result
    }

    fn check_inner(&self, channel: &Channel, now: i64) -> Result<Plan, UpdateError> {
        if self.keys.is_empty() {
            return Err(UpdateError::Keys(
                "no trusted update keys (none in the keys directory or update.extra_keys)".into(),
            ));
        }
        let (bytes, sig) = channel.fetch_index(&self.limits)?;
        // The signature first: nothing of an unsigned index is even parsed.
        let signed = self.keys.verify(&bytes, &sig)?;
        let index = Index::parse(&bytes)?;
        let sha = crate::models::hex(&sha2::Digest::finalize(
            <sha2::Sha256 as sha2::Digest>::new_with_prefix(&bytes),
        ));
        let mut st = self.store()?;
        trust::check_fresh(st.accepted_index()?.as_ref(), &index, &sha)?;
        st.accept_index(&AcceptedIndex {
            serial: index.serial,
            index_sha256: sha,
            key_id: signed.key_id.clone(),
            accepted_at: now,
        })?;
        Ok(self.plan(index, signed))
    }

    fn plan(&self, index: Index, signed: Signed) -> Plan {
        let models = self.models();
        let system = self.system_version();
        let (mut todo, mut skipped) = (Vec::new(), Vec::new());
        for a in &index.artifacts {
            let installed = match a.kind {
                Kind::Model => models.current_version(&a.name).ok().flatten(),
                Kind::System => system.clone(),
            };
            let skip = if !a.runs_on(env!("CARGO_PKG_VERSION")) {
                Some(format!("needs ojscog {} or newer", a.min_ojscog))
            } else if installed.as_deref() == Some(a.version.as_str()) {
                Some("installed".to_string())
            } else if a.kind == Kind::System && system.is_none() {
                Some("not running on the appliance image".to_string())
            } else {
                // Whether a different system release is newer (version, then build
                // time) is the installer's decision: it refuses older ones.
                None
            };
            match skip {
                Some(why) => skipped.push((a.clone(), why)),
                None => todo.push(a.clone()),
            }
        }
        Plan {
            index,
            signed,
            todo,
            skipped,
        }
    }

    fn available(&self, plan: &Plan) -> Vec<Available> {
        let models = self.models();
        let system = self.system_version();
        let todo = plan.todo.iter().map(|a| (a, String::from("to install")));
        let skipped = plan.skipped.iter().map(|(a, why)| (a, why.clone()));
        todo.chain(skipped)
            .map(|(a, note)| Available {
                kind: a.kind.as_str().into(),
                name: a.name.clone(),
                version: a.version.clone(),
                bytes: a.total_bytes(),
                installed: match a.kind {
                    Kind::Model => models.current_version(&a.name).ok().flatten(),
                    Kind::System => system.clone(),
                },
                note,
            })
            .collect()
    }

    /// Downloads, verifies and activates every artifact of `plan.todo`, one at
    /// a time; returns one record per artifact (also written to the history).
    pub fn apply(
        &self,
        channel: &Channel,
        plan: &Plan,
        now: &dyn Fn() -> i64,
        cancel: &dyn Fn() -> bool,
    ) -> Vec<Applied> {
        let mut out = Vec::new();
        let lock = match self.try_lock() {
            Ok(Some(l)) => l,
            busy => {
                let why = match busy {
                    Err(e) => e.to_string(),
                    _ => "another ojscog process is applying updates now; nothing was done".into(),
                };
                let rec = record(
                    ("index", "index", "", ""),
                    "failed",
                    why,
                    plan.index.serial,
                    now(),
                );
                self.finish(&rec);
                return vec![rec];
            }
        };
        for a in &plan.todo {
            let from = match a.kind {
                Kind::Model => self.models().current_version(&a.name).ok().flatten(),
                Kind::System => self.system_version(),
            }
            .unwrap_or_default();
            let result = self.apply_one(channel, a, plan.index.serial, &from, now, cancel);
            let rec = match result {
                Ok(r) => r,
                Err(e) => {
                    let result = if matches!(
                        e,
                        UpdateError::SizeMismatch { .. }
                            | UpdateError::HashMismatch { .. }
                            | UpdateError::Format { .. }
                    ) {
                        "refused"
                    } else {
                        "failed"
                    };
                    record(
                        (a.kind.as_str(), &a.name, &from, &a.version),
                        result,
                        e.to_string(),
                        plan.index.serial,
                        now(),
                    )
                }
            };
            self.finish(&rec);
            out.push(rec);
            if cancel() {
                break;
            }
        }
        self.status.edit(|s| {
            s.state = "idle".into();
            s.current.clear();
        });
        drop(lock);
        out
    }

    fn finish(&self, rec: &UpdateRecord) {
        self.count(
            names::UPDATE_ARTIFACTS,
            &[("kind", &rec.kind), ("result", &rec.result)],
        );
        let ok = matches!(rec.result.as_str(), "installed" | "staged");
        if ok {
            tracing::info!(kind = %rec.kind, name = %rec.name, from = %rec.from_version, to = %rec.to_version, reason = %rec.reason, "update {}", rec.result);
        } else {
            tracing::warn!(kind = %rec.kind, name = %rec.name, to = %rec.to_version, reason = %rec.reason, "update {}", rec.result);
            self.status.edit(|s| {
                s.last_failure = Some(format!(
                    "{} {} {}: {}",
                    rec.kind, rec.name, rec.to_version, rec.reason
                ));
                s.last_failure_at = Some(rec.at);
            });
        }
        match self.store() {
            Ok(mut st) => {
                if let Err(e) = st.record_update(rec) {
                    tracing::error!(error = %e, "cannot record the update in the store");
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot record the update in the store"),
        }
    }

    fn apply_one(
        &self,
        channel: &Channel,
        a: &Artifact,
        serial: u64,
        from: &str,
        now: &dyn Fn() -> i64,
        cancel: &dyn Fn() -> bool,
    ) -> Result<UpdateRecord, UpdateError> {
        let downloads = self.downloads();
        std::fs::create_dir_all(&downloads).map_err(|source| UpdateError::Io {
            op: "cannot create",
            path: downloads.clone(),
            source,
        })?;
        let have: u64 = a
            .files
            .iter()
            .map(|f| {
                let done = downloads.join(&f.sha256);
                let part = downloads.join(format!("{}.part", f.sha256));
                std::fs::metadata(&done)
                    .or_else(|_| std::fs::metadata(&part))
                    .map(|m| m.len().min(f.size))
                    .unwrap_or(0)
            })
            .sum();
        let install = if a.kind == Kind::Model {
            a.total_bytes()
        } else {
            0
        };
        let free = crate::system::free_bytes(&downloads).map_err(|source| UpdateError::Io {
            op: "cannot measure free space on",
            path: downloads.clone(),
            source,
        })?;
        fetch::check_space(
            free,
            a.total_bytes() - have,
            install,
            self.limits.reserve_bytes,
        )?;

        self.status
            .progress
            .done
            .store(0, std::sync::atomic::Ordering::Relaxed);
        self.status
            .progress
            .total
            .store(a.total_bytes(), std::sync::atomic::Ordering::Relaxed);
        self.status.edit(|s| {
            s.state = "downloading".into();
            s.current = a.label();
        });
        let mut paths = Vec::new();
        for f in &a.files {
            let p = fetch::download(
                channel,
                f,
                &downloads,
                &self.limits,
                &self.status.progress,
                cancel,
            )?;
            paths.push(p);
        }
        if let Some(m) = &self.metrics {
            m.inc(
                names::UPDATE_DOWNLOADED,
                &[],
                (a.total_bytes() - have) as f64,
            );
        }
        self.status.edit(|s| s.state = "installing".into());
        let names: Vec<&str> = a.files.iter().map(|f| f.path.as_str()).collect();
        for (f, p) in a.files.iter().zip(&paths) {
            formats::check(&f.path, p, &names).map_err(|message| UpdateError::Format {
                file: f.url.clone(),
                message,
            })?;
        }
        let result = match a.kind {
            Kind::Model => self.activate_model(channel, a, serial, from, &paths, now),
            Kind::System => self.stage_system(a, serial, from, &paths[0], now),
        };
        // Installed (copied into the store) or refused: the downloads are done with.
        // A failure elsewhere (a self-test, the installer) keeps them for a retry.
        if result.is_ok() || matches!(result, Err(UpdateError::Format { .. })) {
            for p in &paths {
                let _ = std::fs::remove_file(p);
            }
        }
        result
    }

    fn activate_model(
        &self,
        channel: &Channel,
        a: &Artifact,
        serial: u64,
        from: &str,
        paths: &[PathBuf],
        now: &dyn Fn() -> i64,
    ) -> Result<UpdateRecord, UpdateError> {
        let mut files: Vec<SourceFile> = a
            .files
            .iter()
            .zip(paths)
            .map(|(f, p)| SourceFile {
                src: p.clone(),
                dest: f.path.clone(),
                expect_sha256: Some(f.sha256.clone()),
            })
            .collect();
        let runtime_tmp = self
            .downloads()
            .join(format!("{}-{}-{RUNTIME_FILE}", a.name, a.version));
        if !a.runtime.is_empty() {
            let text = serde_json::to_vec_pretty(&a.runtime)
                .map_err(|e| UpdateError::Index(e.to_string()))?;
            std::fs::write(&runtime_tmp, text).map_err(|source| UpdateError::Io {
                op: "cannot write",
                path: runtime_tmp.clone(),
                source,
            })?;
            files.push(SourceFile {
                src: runtime_tmp.clone(),
                dest: RUNTIME_FILE.into(),
                expect_sha256: None,
            });
        }
        let mut st = self.store()?;
        st.set_pending_activation(&PendingActivation {
            name: a.name.clone(),
            from_version: from.into(),
            to_version: a.version.clone(),
            started_at: now(),
        })?;
        let source = format!("update channel {} serial {serial}", channel.describe());
        let installed = self.models().install(&a.name, &a.version, &source, &files);
        let _ = std::fs::remove_file(&runtime_tmp);
        if let Err(e) = installed {
            st.clear_pending_activation(&a.name)?;
            return Err(e.into());
        }
        let rec = self.self_test(&a.name, from, &a.version, serial, now());
        st.clear_pending_activation(&a.name)?;
        Ok(rec)
    }

    /// Self-tests `name` (now current at `to`); takes it back on failure.
    fn self_test(&self, name: &str, from: &str, to: &str, serial: u64, at: i64) -> UpdateRecord {
        self.status.edit(|s| s.state = "self-testing".into());
        let started = std::time::Instant::now();
        let outcome = self.selftest.run(name);
        if let Some(m) = &self.metrics {
            m.observe(
                names::UPDATE_SELFTEST_DURATION,
                &[],
                started.elapsed().as_secs_f64(),
            );
        }
        match outcome {
            Outcome::Passed(how) => record(
                ("model", name, from, to),
                "installed",
                format!("self-test passed: {how}"),
                serial,
                at,
            ),
            Outcome::Skipped(why) => record(
                ("model", name, from, to),
                "installed",
                format!("not self-tested: {why}"),
                serial,
                at,
            ),
            Outcome::Failed(why) => {
                let back = match self.models().withdraw(name, to) {
                    Ok(Some(v)) => format!("; {v} is current again"),
                    Ok(None) => {
                        "; no earlier version to return to, the model is uninstalled".into()
                    }
                    Err(e) => format!("; taking it back failed: {e}"),
                };
                record(
                    ("model", name, from, to),
                    "rolled_back",
                    format!("self-test failed: {why}{back}"),
                    serial,
                    at,
                )
            }
        }
    }

    /// The update lock (`<data_dir>/update/.lock`, an exclusive `flock`): one
    /// process applies or recovers at a time — the service's updater thread or
    /// a CLI run. None when another process holds it. A killed process
    /// releases it with its descriptor.
    fn try_lock(&self) -> Result<Option<std::fs::File>, UpdateError> {
        use std::os::fd::AsRawFd;
        let dir = self.data_dir.join("update");
        let path = dir.join(".lock");
        let file = std::fs::create_dir_all(&dir)
            .and_then(|_| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
            })
            .map_err(|source| UpdateError::Io {
                op: "cannot open",
                path: path.clone(),
                source,
            })?;
        // SAFETY: flock(2) on a descriptor `file` owns for the whole call.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            Ok(Some(file))
        } else {
            Ok(None)
        }
    }

    /// Finishes activations a crash interrupted: a model made current whose
    /// self-test never ended is tested now (and taken back if it fails); one
    /// whose install never switched is simply forgotten.
    pub fn recover(&self, now: i64) -> Result<Vec<UpdateRecord>, UpdateError> {
        // Another process is applying: its activation is its own to finish.
        let Some(_lock) = self.try_lock()? else {
            return Ok(Vec::new());
        };
        let mut st = self.store()?;
        let mut out = Vec::new();
        for p in st.pending_activations()? {
            let current = self.models().current_version(&p.name).ok().flatten();
            if current.as_deref() == Some(p.to_version.as_str()) {
                let mut rec = self.self_test(&p.name, &p.from_version, &p.to_version, 0, now);
                rec.reason = format!("after an interrupted activation: {}", rec.reason);
                self.finish(&rec);
                out.push(rec);
            }
            st.clear_pending_activation(&p.name)?;
        }
        for name in self
            .models()
            .list()
            .map(|l| l.into_iter().map(|m| m.name).collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let _ = self.models().clean_staging(&name);
        }
        Ok(out)
    }

    /// `check` then `apply`: what the service's timer and `POST /api/update` run.
    pub fn run_once(
        &self,
        channel: &Channel,
        now: &dyn Fn() -> i64,
        cancel: &dyn Fn() -> bool,
    ) -> Result<Vec<Applied>, UpdateError> {
        let plan = self.check(channel, now())?;
        Ok(self.apply(channel, &plan, now, cancel))
    }
}
