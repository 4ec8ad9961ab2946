//! System bundles: the running release, and a verified RAUC bundle handed to
//! the installer — run directly as root (the CLI), or left for the
//! appliance's root side (healthwatch) by the unprivileged service.

use super::index::Artifact;
use super::trust;
use super::updater::{record, Updater};
use super::UpdateError;
use crate::store::UpdateRecord;
use std::path::{Path, PathBuf};

impl Updater {
    /// The running system's release version, when on the appliance image.
    pub fn system_version(&self) -> Option<String> {
        let text = trust::read_small(&self.system_release, 64 * 1024).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("VERSION="))
            .map(|v| v.trim().trim_matches('"').to_string())
    }

    /// A verified system bundle goes to the RAUC path: run as root (the CLI),
    /// the installer writes it to the other slot now; run as the service's
    /// user, it is handed to the appliance's root side
    /// ([`Updater::system_handover_dir`]).
    pub(super) fn stage_system(
        &self,
        a: &Artifact,
        serial: u64,
        from: &str,
        bundle: &Path,
        now: &dyn Fn() -> i64,
    ) -> Result<UpdateRecord, UpdateError> {
        // SAFETY: geteuid(2) cannot fail and touches no memory.
        let reason = if unsafe { libc::geteuid() } == 0 {
            self.run_installer(bundle)?
        } else {
            self.hand_over_system(&a.version, bundle)?
        };
        Ok(record(
            ("system", &a.name, from, &a.version),
            "staged",
            reason,
            serial,
            now(),
        ))
    }

    fn run_installer(&self, bundle: &Path) -> Result<String, UpdateError> {
        let installer = self.system_installer.display();
        let out = std::process::Command::new(&self.system_installer)
            .arg(bundle)
            .output()
            .map_err(|e| UpdateError::System(format!("cannot run {installer}: {e}")))?;
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        let mut last: Vec<&str> = text.lines().rev().take(3).collect();
        last.reverse();
        let tail = last.join(" / ");
        if !out.status.success() {
            return Err(UpdateError::System(format!("{installer} said: {tail}")));
        }
        Ok(format!(
            "written to the other slot; boots at the next reboot ({tail})"
        ))
    }

    /// Where the (unprivileged) service leaves a verified system bundle for
    /// the appliance's root installer (healthwatch runs `ojscog-update` on it,
    /// which checks the bundle's own RAUC signature again as root).
    pub fn system_handover_dir(&self) -> PathBuf {
        self.data_dir.join("update").join("system")
    }

    /// Moves the verified bundle to [`Updater::system_handover_dir`] with a
    /// `request` file naming its version (written, fsynced, renamed).
    fn hand_over_system(&self, version: &str, bundle: &Path) -> Result<String, UpdateError> {
        let dir = self.system_handover_dir();
        let io = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| UpdateError::Io { op, path, source }
        };
        std::fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
        let dest = dir.join("bundle.raucb");
        std::fs::rename(bundle, &dest).map_err(io("cannot move the bundle to", &dest))?;
        let tmp = dir.join(".request.tmp");
        std::fs::write(&tmp, format!("{version}\n")).map_err(io("cannot write", &tmp))?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io("cannot fsync", &tmp))?;
        let req = dir.join("request");
        std::fs::rename(&tmp, &req).map_err(io("cannot rename", &tmp))?;
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io("cannot fsync", &dir))?;
        Ok("verified and handed to the appliance's root installer, which writes it to the other slot; it boots in the maintenance hour or on the admin's request (POST /api/update {\"action\": \"reboot\"})".into())
    }

    /// Asks the appliance's root side to reboot (the admin's request).
    pub fn request_reboot(&self) -> Result<(), UpdateError> {
        let dir = self.system_handover_dir();
        let path = dir.join("reboot");
        std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(&path, b"1\n"))
            .map_err(|source| UpdateError::Io {
                op: "cannot write",
                path,
                source,
            })
    }
}
