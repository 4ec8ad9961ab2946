//! `[voice]`: voice commands spoken at the box.

use super::{invalid, ConfigError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
    /// The microphone's ALSA PCM (`default`, `plughw:1,0`, …); empty: no microphone, commands come as WAV or text.
    pub capture_device: String,
    /// The speaker's ALSA PCM; empty: answers are not played (they are still on the page and in the API).
    pub playback_device: String,
    /// The longest a push-to-talk recording runs (it stops earlier after 0.8 s of quiet).
    pub max_utterance_secs: u32,
    /// A push-to-talk button on a GPIO line: `CHIP:OFFSET` (`gpiochip0:17`) or the line's name (`GPIO17` on a
    /// Raspberry Pi); empty: no button (push-to-talk from the page or the CLI).
    pub button: String,
    /// Whether the button connects the line to ground when pressed (a pull-up keeps it high otherwise); false: it
    /// connects the line to 3.3 V (a pull-down keeps it low).
    pub button_active_low: bool,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        VoiceConfig {
            espeak_data_dir: PathBuf::from(default_espeak_dir()),
            threads: 2,
            speak: true,
            capture_device: String::new(),
            playback_device: String::new(),
            max_utterance_secs: 10,
            button: String::new(),
            button_active_low: true,
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
        if !(2..=28).contains(&self.max_utterance_secs) {
            return Err(invalid(
                "voice.max_utterance_secs",
                "must be between 2 and 28",
            ));
        }
        if !self.button.is_empty() {
            crate::system::gpio::LineSpec::parse(&self.button)
                .map_err(|e| invalid("voice.button", e.to_string()))?;
            if self.capture_device.is_empty() {
                return Err(invalid(
                    "voice.button",
                    "a push-to-talk button needs a microphone (voice.capture_device)",
                ));
            }
        }
        if !self.espeak_data_dir.is_absolute() {
            return Err(invalid("voice.espeak_data_dir", "must be an absolute path"));
        }
        Ok(())
    }
}

/// The variable piper-rs's phonemizer (espeak-rs) reads, once, for the directory holding `espeak-ng-data`.
pub const ESPEAK_ENV: &str = "PIPER_ESPEAKNG_DATA_DIRECTORY";

/// The directory piper-rs will read `espeak-ng-data` from: an operator's own `PIPER_ESPEAKNG_DATA_DIRECTORY`
/// if set, else `dir`, which is then put in the environment for piper-rs (once per process: the binary does it at
/// start, while it has one thread; a library user's first voice load does it otherwise).
pub fn espeak_dir_for_piper(dir: &Path) -> PathBuf {
    static SET: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    SET.get_or_init(|| match std::env::var_os(ESPEAK_ENV) {
        Some(own) => PathBuf::from(own),
        None => {
            std::env::set_var(ESPEAK_ENV, dir);
            dir.to_path_buf()
        }
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let env: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load_with_env(None, &env).map_err(|e| e.to_string())
    }

    #[test]
    fn a_push_to_talk_button_is_a_gpio_line_and_needs_a_microphone() {
        let c = load(&[
            ("OJSCOG_VOICE_BUTTON", "GPIO17"),
            ("OJSCOG_VOICE_CAPTURE_DEVICE", "plughw:1,0"),
            ("OJSCOG_VOICE_BUTTON_ACTIVE_LOW", "false"),
        ])
        .unwrap();
        assert_eq!(c.voice.button, "GPIO17");
        assert!(!c.voice.button_active_low);
        let e = load(&[("OJSCOG_VOICE_BUTTON", "gpiochip0:17")]).unwrap_err();
        assert!(
            e.contains("voice.button") && e.contains("microphone"),
            "{e}"
        );
        let e = load(&[
            ("OJSCOG_VOICE_BUTTON", "gpiochip0:seventeen"),
            ("OJSCOG_VOICE_CAPTURE_DEVICE", "default"),
        ])
        .unwrap_err();
        assert!(
            e.contains("voice.button") && e.contains("CHIP:OFFSET"),
            "{e}"
        );
        assert!(
            Config::default().voice.button.is_empty(),
            "no button by default"
        );
    }
}
