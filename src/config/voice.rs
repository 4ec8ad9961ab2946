//! `[voice]`: voice commands spoken at the box.

use super::{invalid, ConfigError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[voice]`: where Piper's phonemizer data is and how the speech models run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceConfig {
    /// The directory that holds `espeak-ng-data` (Debian's `espeak-ng-data` package puts it in
    /// `/usr/lib/<multiarch triplet>/`).
    pub espeak_data_dir: PathBuf,
    /// Threads for speech-to-text and text-to-speech (each runs one utterance at a time).
    pub threads: usize,
    /// Whether spoken answers are made (a box without a speaker, or a server, may turn them off).
    pub speak: bool,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        VoiceConfig {
            espeak_data_dir: PathBuf::from(default_espeak_dir()),
            threads: 2,
            speak: true,
        }
    }
}

/// Debian's place for `espeak-ng-data` on this architecture.
pub fn default_espeak_dir() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "/usr/lib/aarch64-linux-gnu"
    } else {
        "/usr/lib/x86_64-linux-gnu"
    }
}

impl VoiceConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=8).contains(&self.threads) {
            return Err(invalid("voice.threads", "must be between 1 and 8"));
        }
        if !self.espeak_data_dir.is_absolute() {
            return Err(invalid("voice.espeak_data_dir", "must be an absolute path"));
        }
        Ok(())
    }
}
