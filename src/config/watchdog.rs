//! `[watchdog]`: the hardware watchdog the service pets.

use super::{invalid, ConfigError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[watchdog]`: off unless `device` is set (the appliance image sets
/// `/dev/watchdog`; a server install may leave it off).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WatchdogConfig {
    /// The watchdog device; empty: the service does not pet one.
    pub device: PathBuf,
    /// Seconds without a pet before the board resets (drivers with a shorter
    /// maximum keep theirs).
    pub timeout_secs: u32,
}

impl Default for WatchdogConfig {
    fn default() -> Self {
        WatchdogConfig {
            device: PathBuf::new(),
            timeout_secs: 60,
        }
    }
}

impl WatchdogConfig {
    pub fn is_configured(&self) -> bool {
        !self.device.as_os_str().is_empty()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(5..=3600).contains(&self.timeout_secs) {
            return Err(invalid(
                "watchdog.timeout_secs",
                "must be between 5 and 3600",
            ));
        }
        Ok(())
    }
}
