//! `update` (check, apply, status, import) and `release` (keygen, index, sign):
//! the box's side and the publisher's side of an update channel.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use ojscog::config::Config;
use ojscog::update::{release, Channel, Updater};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Subcommand)]
pub(crate) enum UpdateAction {
    /// Fetch and verify the channel's signed index; show what is available.
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Check, then download, verify, install and self-test what is available.
    Apply {
        /// Print progress as plain lines instead of a bar.
        #[arg(long)]
        quiet: bool,
    },
    /// What was accepted, what is pending, and the recent history.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Install from a channel directory (a USB stick): the same signature,
    /// replay, size, hash, format and self-test checks as a download.
    Import {
        dir: PathBuf,
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum ReleaseAction {
    /// Make a signing key pair DIR/NAME.pub and DIR/NAME.key.
    Keygen {
        dir: PathBuf,
        #[arg(long, default_value = "ojscog-update")]
        name: String,
        /// Leave the secret key unencrypted (test channels, or a signing machine
        /// that protects the key itself). Otherwise a password is asked for.
        #[arg(long)]
        unencrypted: bool,
    },
    /// Hash the channel directory's artifacts into DIR/index.json (and sign it with --key).
    Index {
        dir: PathBuf,
        /// Must grow with every publication (default: the current unix time).
        #[arg(long)]
        serial: Option<u64>,
        #[arg(long, default_value = "")]
        channel: String,
        /// Secret key to sign with right away.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Sign DIR/index.json into DIR/index.json.minisig.
    Sign {
        dir: PathBuf,
        #[arg(long)]
        key: PathBuf,
    },
}

fn password_for(key: &std::path::Path) -> Result<Option<String>> {
    let text =
        std::fs::read_to_string(key).with_context(|| format!("cannot read {}", key.display()))?;
    let encrypted = minisign::SecretKeyBox::from_string(&text)
        .and_then(|b| b.into_unencrypted_secret_key())
        .map(|k| k.is_encrypted())
        .unwrap_or(false);
    if !encrypted {
        return Ok(None);
    }
    Ok(Some(rpassword_prompt(&format!(
        "password for {}: ",
        key.display()
    ))?))
}

fn rpassword_prompt(prompt: &str) -> Result<String> {
    eprint!("{prompt}");
    let mut s = String::new();
    std::io::stdin()
        .read_line(&mut s)
        .context("cannot read the password")?;
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}

pub(crate) fn release_cmd(action: ReleaseAction) -> Result<()> {
    match action {
        ReleaseAction::Keygen {
            dir,
            name,
            unencrypted,
        } => {
            let pw = if unencrypted {
                None
            } else {
                Some(rpassword_prompt("password for the new key: ")?)
            };
            let (p, k) = release::keygen(&dir, &name, pw)?;
            println!(
                "public key (put it in /etc/ojscog/update-keys/ or update.extra_keys): {}",
                p.display()
            );
            println!("secret key (keep it off the box): {}", k.display());
            Ok(())
        }
        ReleaseAction::Index {
            dir,
            serial,
            channel,
            key,
        } => {
            let now = ojscog::system::unix_now();
            let index =
                release::build_index(&dir, serial.unwrap_or(now.max(0) as u64), &channel, now)?;
            let path = release::write_index(&dir, &index)?;
            println!(
                "{}: serial {}, {} artifacts",
                path.display(),
                index.serial,
                index.artifacts.len()
            );
            for a in &index.artifacts {
                println!(
                    "  {:<6} {:<28} {:<14} {:>10.1} MB",
                    a.kind.as_str(),
                    a.name,
                    a.version,
                    a.total_bytes() as f64 / 1e6
                );
            }
            if let Some(key) = key {
                let sig = release::sign(&dir, &key, password_for(&key)?)?;
                println!("signed: {}", sig.display());
            }
            Ok(())
        }
        ReleaseAction::Sign { dir, key } => {
            let sig = release::sign(&dir, &key, password_for(&key)?)?;
            println!("signed: {}", sig.display());
            Ok(())
        }
    }
}

pub(crate) fn update_cmd(cfg: &Config, action: UpdateAction) -> Result<()> {
    let updater = Updater::from_config(cfg, None)?;
    let now = ojscog::system::unix_now;
    // A finished activation that a crash interrupted comes first.
    for r in updater.recover(now())? {
        println!(
            "recovered: {} {} {}: {}",
            r.name, r.to_version, r.result, r.reason
        );
    }
    match action {
        UpdateAction::Check { json } => {
            let channel =
                Updater::configured_channel(cfg).ok_or(ojscog::update::UpdateError::NoChannel)?;
            let plan = updater.check(&channel, now())?;
            let status = updater.status.get();
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
                return Ok(());
            }
            println!(
                "{}: serial {}, signed by {}",
                channel.describe(),
                plan.index.serial,
                plan.signed.key_id
            );
            for a in &status.available {
                println!(
                    "  {:<6} {:<28} {:<14} installed {:<14} {}",
                    a.kind,
                    a.name,
                    a.version,
                    a.installed.as_deref().unwrap_or("-"),
                    a.note
                );
            }
            Ok(())
        }
        UpdateAction::Apply { quiet } => {
            let channel =
                Updater::configured_channel(cfg).ok_or(ojscog::update::UpdateError::NoChannel)?;
            run_with_progress(&updater, &channel, quiet)
        }
        UpdateAction::Import { dir, quiet } => {
            if !dir.is_dir() {
                bail!("{} is not a directory", dir.display());
            }
            run_with_progress(&updater, &Channel::Dir(dir), quiet)
        }
        UpdateAction::Status { json } => {
            let store = ojscog::store::Store::open(&cfg.store_path())?;
            let accepted = store.accepted_index()?;
            let pending = store.pending_activations()?;
            let history = store.update_history(20)?;
            if json {
                let v = serde_json::json!({
                    "channel": cfg.update.channel_url,
                    "accepted": accepted,
                    "pending": pending,
                    "history": history,
                    "trusted_keys": updater.keys.ids(),
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            println!(
                "channel: {}",
                if cfg.update.channel_url.is_empty() {
                    "(none configured)"
                } else {
                    &cfg.update.channel_url
                }
            );
            println!("trusted keys: {}", updater.keys.ids().join(", "));
            match accepted {
                Some(a) => println!(
                    "accepted index: serial {} (key {}, {})",
                    a.serial,
                    a.key_id,
                    ojscog::human::ago(ojscog::system::unix_now() - a.accepted_at)
                ),
                None => println!("accepted index: none yet"),
            }
            for p in pending {
                println!(
                    "pending activation: {} {} -> {}",
                    p.name, p.from_version, p.to_version
                );
            }
            for h in history {
                println!("{} {}", ojscog::human::utc(h.at), describe(&h));
            }
            Ok(())
        }
    }
}

/// Runs check + apply with a progress bar on stderr (or plain lines).
pub(crate) fn run_with_progress(updater: &Updater, channel: &Channel, quiet: bool) -> Result<()> {
    let done = Arc::new(AtomicBool::new(false));
    let status = updater.status.clone();
    let bar = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut last = String::new();
            while !done.load(Ordering::Relaxed) {
                let s = status.get();
                if s.state == "downloading" && s.total_bytes > 0 {
                    let pct = s.done_bytes as f64 * 100.0 / s.total_bytes as f64;
                    let filled = (pct / 5.0) as usize;
                    let line = format!(
                        "{} [{}{}] {:5.1}% {:.1}/{:.1} MB",
                        s.current,
                        "#".repeat(filled.min(20)),
                        " ".repeat(20 - filled.min(20)),
                        pct,
                        s.done_bytes as f64 / 1e6,
                        s.total_bytes as f64 / 1e6
                    );
                    if !quiet {
                        eprint!("\r{line}");
                        let _ = std::io::stderr().flush();
                    } else if line != last && pct as u64 % 25 == 0 {
                        eprintln!("{line}");
                    }
                    last = line;
                } else if s.state != "idle" && !quiet && !last.is_empty() {
                    eprint!("\r{:<70}\r{}…", "", s.state);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let result = updater.run_once(channel, &ojscog::system::unix_now, &|| false);
    done.store(true, Ordering::Relaxed);
    let _ = bar.join();
    if !quiet {
        eprintln!();
    }
    let records = result?;
    if records.is_empty() {
        println!("nothing to install: everything on the channel is installed");
    }
    let mut failed = 0;
    for r in &records {
        println!("{}", describe(r));
        if !matches!(r.result.as_str(), "installed" | "staged") {
            failed += 1;
        }
    }
    if failed > 0 {
        bail!("{failed} of {} updates did not install", records.len());
    }
    Ok(())
}

/// One history row for people: `model minilm 1.0.0 -> 2.0.0: installed (why)`.
fn describe(r: &ojscog::store::UpdateRecord) -> String {
    let from = if r.from_version.is_empty() {
        "-"
    } else {
        &r.from_version
    };
    format!(
        "{} {} {from} -> {}: {} ({})",
        r.kind, r.name, r.to_version, r.result, r.reason
    )
}
