//! `backup` and `restore`: a consistent copy of the store (taken while the service runs), the settings and the list
//! of installed models, in one checksummed file; and putting it back into a stopped box.

use anyhow::{bail, Context, Result};
use ojscog::backup;
use ojscog::config::Config;
use ojscog::update::Updater;
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
    if r.missing_models.is_empty() {
        return Ok(());
    }
    println!("models the backup lists that this box does not have:");
    for m in &r.missing_models {
        println!(
            "  {} {} (sha256 {}, from {})",
            m.name, m.version, m.sha256, m.source
        );
    }
    let Some(channel) = Updater::configured_channel(&cfg) else {
        println!("no update channel is configured: install them again with scripts/fetch-models.sh --data-dir {} or `ojscog models install`", cfg.data_dir.display());
        return Ok(());
    };
    // The channel's current versions of them (checked, verified and self-tested like any update).
    println!(
        "fetching them from the update channel {}",
        channel.describe()
    );
    let updater = Updater::from_config(&cfg, None)?;
    super::update::run_with_progress(&updater, &channel, true)
        .context("the store is restored, but fetching the models failed")?;
    let have = backup::installed_models(&cfg.data_dir);
    let still: Vec<_> = r
        .missing_models
        .iter()
        .filter(|m| !have.iter().any(|h| h.name == m.name))
        .collect();
    for m in &r.missing_models {
        if let Some(h) = have.iter().find(|h| h.name == m.name) {
            println!("  {}: {} installed", m.name, h.version);
        }
    }
    if !still.is_empty() {
        let names: Vec<&str> = still.iter().map(|m| m.name.as_str()).collect();
        bail!(
            "the channel does not offer {}: install them with scripts/fetch-models.sh or `ojscog models install`",
            names.join(", ")
        );
    }
    Ok(())
}
