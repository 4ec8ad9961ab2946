//! `backup` and `restore`: a consistent copy of the store (taken while the service runs), the settings and the list
//! of installed models, in one checksummed file; and putting it back into a stopped box.

use anyhow::{Context, Result};
use ojscog::backup;
use ojscog::config::Config;
use std::path::{Path, PathBuf};

/// `ojscog backup [--to DIR|FILE] [--with-secrets]`: prints where the backup went.
pub(crate) fn backup_cmd(cfg: Config, to: Option<PathBuf>, with_secrets: bool) -> Result<()> {
    let now = ojscog::system::unix_now();
    anyhow::ensure!(
        cfg.store_path().exists(),
        "there is no store to back up at {} (has the service run yet?)",
        cfg.store_path().display()
    );
    let to = to.unwrap_or_else(|| cfg.data_dir.join("backups"));
    if to.extension().is_none() {
        std::fs::create_dir_all(&to).with_context(|| format!("cannot create {}", to.display()))?;
    }
    let dest = backup::destination(&to, now);
    let t = backup::take(&cfg, &dest, with_secrets, now).context("the backup failed")?;
    println!(
        "backup written: {} ({}, store schema {}, {} model{} listed{}; sha256 {})",
        t.path.display(),
        ojscog::human::bytes(t.bytes),
        t.manifest.schema_version,
        t.manifest.models.len(),
        if t.manifest.models.len() == 1 {
            ""
        } else {
            "s"
        },
        if with_secrets {
            ", settings WITH secrets"
        } else {
            ""
        },
        t.sha256
    );
    Ok(())
}

/// `ojscog restore FILE`: the service must be stopped.
pub(crate) fn restore_cmd(cfg: Config, file: &Path) -> Result<()> {
    let now = ojscog::system::unix_now();
    let r = backup::restore(&cfg, file, now).context("the restore failed; nothing was changed")?;
    println!(
        "restored the store from {} (taken {}, ojscog {}) into {}",
        file.display(),
        ojscog::human::utc(r.manifest.created_at),
        r.manifest.ojscog_version,
        cfg.store_path().display()
    );
    if let Some(p) = &r.previous {
        println!("the store it replaced is kept as {}", p.display());
    }
    println!(
        "the backup's settings{} are in {}: compare them with your config and take over what you need",
        if r.manifest.with_secrets {
            " (with secrets)"
        } else {
            " (secrets left out)"
        },
        r.config.display()
    );
    if !r.missing_models.is_empty() {
        println!("models the backup lists that this box does not have (install them again with scripts/fetch-models.sh, `ojscog models install`, or the update channel):");
        for m in &r.missing_models {
            println!(
                "  {} {} (sha256 {}, from {})",
                m.name, m.version, m.sha256, m.source
            );
        }
    }
    Ok(())
}
