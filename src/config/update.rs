//! `[update]`: the over-the-air update channel's settings and their checks.

use super::{invalid, ConfigError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The keys baked into the read-only image. Always trusted; not a setting,
/// so a config file can add keys (`extra_keys`) but never remove these.
pub const BAKED_KEYS_DIR: &str = "/etc/ojscog/update-keys";

/// `[update]`: where updates come from and how they are fetched.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct UpdateConfig {
    /// The channel's index, `http(s)://host/path/index.json`. Empty: no
    /// automatic checks (`ojscog update import DIR` still works).
    pub channel_url: String,
    /// Seconds between two checks of the channel.
    pub check_interval_secs: u64,
    /// Install what a check finds without asking (else only `update apply`
    /// or `POST /api/update` installs).
    pub auto_apply: bool,
    /// Download speed limit in bytes per second; 0: none.
    pub bandwidth_limit_bytes_per_second: u64,
    /// Free bytes that must remain on the data disk after a download.
    pub reserve_bytes: u64,
    /// Retries of a failed download (each resumes where it stopped).
    pub retries: u32,
    /// More trusted minisign public keys: `.pub` file paths or base64 key lines.
    pub extra_keys: Vec<String>,
    /// Installs a system bundle into the other root slot.
    pub system_installer: PathBuf,
    /// The running system's release file (`VERSION=…`).
    pub system_release: PathBuf,
}

impl Default for UpdateConfig {
    fn default() -> Self {
        UpdateConfig {
            channel_url: String::new(),
            check_interval_secs: 6 * 3600,
            auto_apply: true,
            bandwidth_limit_bytes_per_second: 0,
            reserve_bytes: 512 << 20,
            retries: 5,
            extra_keys: Vec::new(),
            system_installer: PathBuf::from("/usr/sbin/ojscog-update"),
            system_release: PathBuf::from("/etc/ojscog-release"),
        }
    }
}

impl UpdateConfig {
    pub fn is_configured(&self) -> bool {
        !self.channel_url.is_empty()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let u = &self.channel_url;
        if !u.is_empty() {
            let rest = u
                .strip_prefix("http://")
                .or_else(|| u.strip_prefix("https://"))
                .ok_or_else(|| {
                    invalid("update.channel_url", "must start with http:// or https://")
                })?;
            if rest.is_empty() || rest.starts_with('/') || u.chars().any(|c| c.is_whitespace()) {
                return Err(invalid(
                    "update.channel_url",
                    "must name a host, like http://updates.lan/stable/index.json",
                ));
            }
        }
        if !(1..=31 * 24 * 3600).contains(&self.check_interval_secs) {
            return Err(invalid(
                "update.check_interval_secs",
                "must be between 1 and 2678400",
            ));
        }
        if self.retries > 100 {
            return Err(invalid("update.retries", "must be at most 100"));
        }
        for k in &self.extra_keys {
            if k.trim().is_empty() {
                return Err(invalid("update.extra_keys", "must not hold empty entries"));
            }
        }
        Ok(())
    }
}
