//! The environment: `OJSCOG_*` overrides of the settings, and the few
//! variables that locate files (the developers' model store, ONNX Runtime).
//! This is the one place of the library that reads the environment.

use super::{invalid, Access, Config, ConfigError};
use std::path::PathBuf;

/// `OJSCOG_*` variables of the build and test scripts (lower case, prefix dropped): not config, but set in the
/// environment the binary runs in, so accepted and ignored (`scripts/test` with `OJSCOG_SKIP_APPLIANCE=1` once
/// failed on this).
pub const SCRIPT_VARS: [&str; 20] = [
    "skip_appliance",
    "flash_allow_non_removable",
    "image_build",
    "aarch64_bin",
    "aarch64_target_dir",
    "host_bin",
    "axe",
    "kernel_pkg",
    "ort_sha",
    "ort_version",
    "rauc_cert",
    "rauc_key",
    "rauc_keyring",
    "release",
    "update_keys",
    "tools",
    "test_mysql_host",
    "test_mysql_port",
    "test_mysql_url",
    "test_mysql_user",
];

/// The developers' and tests' model store, searched after `<data_dir>/models`:
/// `$OJSCOG_TEST_MODELS`, else `$OJSCOG_CACHE/models`, else
/// `$HOME/.cache/ojscog/models` (what `scripts/fetch-models.sh` fills). Read
/// here because this module is the one that reads the environment.
pub fn developer_model_dir() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|p| !p.is_empty());
    if let Some(p) = var("OJSCOG_TEST_MODELS") {
        return PathBuf::from(p);
    }
    if let Some(p) = var("OJSCOG_CACHE") {
        return PathBuf::from(p).join("models");
    }
    let home = var("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/ojscog/models")
}

/// `$ORT_DYLIB_PATH` (ONNX Runtime's own variable): a library that overrides
/// the model store's `onnxruntime` entry.
pub fn ort_dylib_override() -> Option<PathBuf> {
    std::env::var_os("ORT_DYLIB_PATH")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// Whether a service manager waits for `sd_notify` messages (systemd sets `NOTIFY_SOCKET` for a `Type=notify` unit).
pub fn under_service_manager() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some_and(|v| !v.is_empty())
}

impl Config {
    pub(super) fn apply_env(&mut self, env: &[(String, String)]) -> Result<(), ConfigError> {
        for (name, value) in env {
            let Some(key) = name.strip_prefix("OJSCOG_") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            let v = value.as_str();
            match key.as_str() {
                "data_dir" => self.data_dir = PathBuf::from(v),
                "ojs_url" => self.ojs.url = v.to_string(),
                "ojs_sync_interval_secs" => self.ojs.sync_interval_secs = num(name, v)?,
                "ojs_min_backoff_secs" => self.ojs.min_backoff_secs = num(name, v)?,
                "ojs_max_backoff_secs" => self.ojs.max_backoff_secs = num(name, v)?,
                "ojs_batch_size" => self.ojs.batch_size = num(name, v)?,
                "ojs_timeout_secs" => self.ojs.timeout_secs = num(name, v)?,
                "ojs_stale_after_secs" => self.ojs.stale_after_secs = num(name, v)?,
                "ojs_ssl_ca" => self.ojs.ssl_ca = PathBuf::from(v),
                "web_listen" => self.web.listen = v.to_string(),
                "web_admin_token" => self.web.admin_token = v.to_string(),
                "web_read_token" => self.web.read_token = v.to_string(),
                "web_access" => {
                    self.web.access = match v.trim() {
                        "token" => Access::Token,
                        "lan" => Access::Lan,
                        _ => return Err(invalid(name, format!("`{v}` is not `token` or `lan`"))),
                    }
                }
                "web_allowed_hosts" => {
                    self.web.allowed_hosts = v
                        .split(',')
                        .map(|h| h.trim().to_string())
                        .filter(|h| !h.is_empty())
                        .collect()
                }
                "web_session_hours" => self.web.session_hours = num(name, v)?,
                "web_ai_workers" => self.web.ai_workers = num(name, v)?,
                "web_max_connections" => self.web.max_connections = num(name, v)?,
                "web_max_header_bytes" => self.web.max_header_bytes = num(name, v)?,
                "web_max_headers" => self.web.max_headers = num(name, v)?,
                "web_write_timeout_secs" => self.web.write_timeout_secs = num(name, v)?,
                "web_workers" => self.web.workers = num(name, v)?,
                "web_max_body_bytes" => self.web.max_body_bytes = num(name, v)?,
                "web_read_timeout_secs" => self.web.read_timeout_secs = num(name, v)?,
                "web_slots_file" => self.web.slots_file = PathBuf::from(v),
                "metrics_sample_interval_secs" => self.metrics.sample_interval_secs = num(name, v)?,
                "metrics_retention_hours" => self.metrics.retention_hours = num(name, v)?,
                "update_channel_url" => self.update.channel_url = v.to_string(),
                "update_check_interval_secs" => self.update.check_interval_secs = num(name, v)?,
                "update_bandwidth_limit_bytes_per_second" => {
                    self.update.bandwidth_limit_bytes_per_second = num(name, v)?
                }
                "update_reserve_bytes" => self.update.reserve_bytes = num(name, v)?,
                "update_retries" => self.update.retries = num(name, v)?,
                "update_auto_apply" => self.update.auto_apply = boolean(name, v)?,
                "update_extra_keys" => {
                    self.update.extra_keys = v
                        .split(',')
                        .map(|k| k.trim().to_string())
                        .filter(|k| !k.is_empty())
                        .collect()
                }
                "update_system_installer" => self.update.system_installer = PathBuf::from(v),
                "update_system_release" => self.update.system_release = PathBuf::from(v),
                "watchdog_device" => self.watchdog.device = PathBuf::from(v),
                "watchdog_timeout_secs" => self.watchdog.timeout_secs = num(name, v)?,
                "voice_espeak_data_dir" => self.voice.espeak_data_dir = PathBuf::from(v),
                "voice_threads" => self.voice.threads = num(name, v)?,
                "voice_speak" => self.voice.speak = boolean(name, v)?,
                "voice_capture_device" => self.voice.capture_device = v.to_string(),
                "voice_playback_device" => self.voice.playback_device = v.to_string(),
                "voice_max_utterance_secs" => self.voice.max_utterance_secs = num(name, v)?,
                "voice_button" => self.voice.button = v.to_string(),
                "voice_button_active_low" => self.voice.button_active_low = boolean(name, v)?,
                "backup_dir" => self.backup.dir = PathBuf::from(v),
                "backup_interval_secs" => self.backup.interval_secs = num(name, v)?,
                "backup_keep" => self.backup.keep = num(name, v)?,
                "figures_files_dir" => self.figures.files_dir = PathBuf::from(v),
                "figures_max_files" => self.figures.max_files = num(name, v)?,
                "figures_stages" => {
                    self.figures.stages = v
                        .split(',')
                        .map(|s| num(name, s.trim()))
                        .collect::<Result<_, _>>()?
                }
                // Settings of the process itself, not of the config.
                "llm_model_path" => self.llm.model_path = PathBuf::from(v),
                "llm_model" => self.llm.model = v.to_string(),
                "llm_n_threads" => self.llm.n_threads = num(name, v)?,
                "llm_timeout_secs" => self.llm.timeout_secs = num(name, v)?,
                "llm_max_tokens" => self.llm.max_tokens = num(name, v)?,
                "log" | "config" | "test_data" | "test_models" | "test_llm" | "voice_testset"
                | "vision_pages" | "cache" | "bin" => {}
                // The build and test scripts' own settings: exported while they run the binary.
                n if SCRIPT_VARS.contains(&n) => {}
                _ => return Err(invalid(name, "unknown OJSCOG_* variable")),
            }
        }
        Ok(())
    }
}

fn boolean(name: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(invalid(name, format!("`{v}` is not true or false"))),
    }
}

fn num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| invalid(name, format!("`{v}` is not a whole number")))
}
