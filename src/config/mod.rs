//! Configuration: built-in defaults < TOML file < `OJSCOG_*` environment variables.
//!
//! Every key is validated at start-up and errors name the key. Secrets (the OJS
//! URL's password, the admin token) are never printed: [`Config::redacted`]
//! replaces them before anything is shown.

mod backup;
mod env;
mod figures;
mod llm;
mod update;
mod voice;
mod watchdog;

pub use backup::BackupConfig;
pub use env::{developer_model_dir, ort_dylib_override, under_service_manager};
pub use figures::FiguresConfig;
pub use llm::{LlmConfig, DEFAULT_LLM_MODEL};
pub use update::{UpdateConfig, BAKED_KEYS_DIR};
pub use voice::{default_espeak_dir, espeak_dir_for_piper, VoiceConfig, ESPEAK_ENV};
pub use watchdog::WatchdogConfig;

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the appliance looks for its config when `--config` is not given.
pub const DEVICE_CONFIG_PATH: &str = "/etc/ojscog/config.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value for `{key}`: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory holding the SQLite store (and later models).
    pub data_dir: PathBuf,
    pub ojs: OjsConfig,
    pub web: WebConfig,
    pub metrics: MetricsConfig,
    /// The screening LLM (a GGUF chat model through llama.cpp).
    pub llm: LlmConfig,
    /// Over-the-air updates of models and the system.
    pub update: UpdateConfig,
    /// The hardware watchdog the service pets (off unless set).
    pub watchdog: WatchdogConfig,
    /// Voice commands (speech models, Piper's phonemizer data).
    pub voice: VoiceConfig,
    /// The figure checks on submission files (where OJS's files are mounted).
    pub figures: FiguresConfig,
    /// Scheduled backups (off unless a directory is named).
    pub backup: BackupConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OjsConfig {
    /// `mysql://user:pass@host:port/db`; empty means "no OJS configured".
    pub url: String,
    /// Seconds between two syncs when the last one succeeded.
    pub sync_interval_secs: u64,
    /// First retry delay after a failure; doubles up to `max_backoff_secs`.
    pub min_backoff_secs: u64,
    pub max_backoff_secs: u64,
    /// Submissions fetched and applied per transaction.
    pub batch_size: usize,
    /// Give up on connecting / a query after this many seconds.
    pub timeout_secs: u64,
    /// After this many seconds without a successful sync the data is called stale.
    pub stale_after_secs: u64,
    /// PEM file of the CA that signed the MySQL server's certificate (a
    /// private CA). Setting it turns TLS on, like `?require_ssl=true` in `url`.
    pub ssl_ca: PathBuf,
}

/// Who may read the confidential parts of the web server (reviewer identities,
/// manuscripts, the status page).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Sign-in with the read (or admin) token; only `/health` (status only)
    /// and `/metrics` are open. The default.
    #[default]
    Token,
    /// Anyone who reaches the box may read; an explicit choice for open journals.
    /// Admin actions still need the admin token.
    Lan,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    pub listen: String,
    /// `token` (sign-in needed) or `lan` (open reading on the LAN).
    pub access: Access,
    /// Token that signs a reader in. Empty with `access = "token"`: a fresh
    /// one is made at each start and printed with a sign-in link.
    pub read_token: String,
    /// Bearer token required by state-changing API calls. Empty disables them.
    pub admin_token: String,
    /// Host names (besides the box's own name, `localhost` and its addresses)
    /// that browsers may use to reach the box; anything else is refused (DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// A signed-in browser session lasts this long.
    pub session_hours: u64,
    /// Worker threads answering ordinary HTTP requests.
    pub workers: usize,
    /// Requests that run models (matching, search, screening) at the same time;
    /// more are answered 503 with Retry-After at once.
    pub ai_workers: usize,
    /// Open connections at most; more are answered 503 and closed at once.
    pub max_connections: usize,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Largest request head (request line + headers); larger is answered 431.
    pub max_header_bytes: usize,
    /// Most header lines in one request; more is answered 431.
    pub max_headers: usize,
    /// A client that sends nothing for this long is cut off; also the time
    /// allowed for a whole request head and for a whole body.
    pub read_timeout_secs: u64,
    /// A client that takes no bytes of an answer for this long is cut off.
    pub write_timeout_secs: u64,
    /// The appliance's A/B root-slot state (written at boot by `ojscog-slot`);
    /// shown on the status page when it exists.
    pub slots_file: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// How often gauges and counters are sampled into the store.
    pub sample_interval_secs: u64,
    /// How long samples are kept.
    pub retention_hours: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: default_data_dir(),
            ojs: OjsConfig::default(),
            web: WebConfig::default(),
            metrics: MetricsConfig::default(),
            llm: Default::default(),
            update: Default::default(),
            watchdog: Default::default(),
            voice: Default::default(),
            figures: Default::default(),
            backup: Default::default(),
        }
    }
}

impl OjsConfig {
    /// Whether an OJS database is configured at all (the one place that decides).
    pub fn is_configured(&self) -> bool {
        !self.url.is_empty()
    }
}

impl Default for OjsConfig {
    fn default() -> Self {
        OjsConfig {
            url: String::new(),
            sync_interval_secs: 300,
            min_backoff_secs: 5,
            max_backoff_secs: 900,
            batch_size: 50,
            timeout_secs: 20,
            stale_after_secs: 3600,
            ssl_ca: PathBuf::new(),
        }
    }
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            listen: "0.0.0.0:8080".into(),
            access: Access::Token,
            read_token: String::new(),
            admin_token: String::new(),
            allowed_hosts: Vec::new(),
            session_hours: 24 * 7,
            workers: 4,
            ai_workers: 2,
            max_connections: 128,
            max_body_bytes: 64 * 1024,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            read_timeout_secs: 10,
            write_timeout_secs: 10,
            slots_file: PathBuf::from("/run/ojscog/slots.json"),
        }
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            sample_interval_secs: 60,
            retention_hours: 24,
        }
    }
}

/// `/data/ojscog` on the device (where `/data` exists), `./ojscog-data` elsewhere.
pub fn default_data_dir() -> PathBuf {
    if Path::new("/data").is_dir() && Path::new(DEVICE_CONFIG_PATH).exists() {
        PathBuf::from("/data/ojscog")
    } else {
        PathBuf::from("./ojscog-data")
    }
}

impl Config {
    /// Loads defaults, then `file` (or the device path when it exists), then
    /// the process environment, and validates the result.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_with_env(file, &env)
    }

    pub fn load_with_env(
        file: Option<&Path>,
        env: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let mut cfg = match file {
            Some(p) => Self::from_file(p)?,
            None if Path::new(DEVICE_CONFIG_PATH).exists() => {
                Self::from_file(Path::new(DEVICE_CONFIG_PATH))?
            }
            None => Config::default(),
        };
        cfg.apply_env(env)?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
    }

    /// `OJSCOG_SECTION_KEY=value`, e.g. `OJSCOG_OJS_URL`, `OJSCOG_WEB_LISTEN`,
    /// `OJSCOG_DATA_DIR`. Unknown `OJSCOG_*` names are an error, so a typo
    /// is not silently ignored.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "must not be empty"));
        }
        if self.ojs.is_configured() {
            if !self.ojs.url.starts_with("mysql://") {
                return Err(invalid(
                    "ojs.url",
                    "must look like mysql://user:password@host:3306/database",
                ));
            }
            mysql_async::Opts::from_url(&self.ojs.url)
                .map_err(|e| invalid("ojs.url", redact_url_in(&e.to_string(), &self.ojs.url)))?;
        }
        if !self.ojs.ssl_ca.as_os_str().is_empty() && !self.ojs.ssl_ca.is_file() {
            return Err(invalid(
                "ojs.ssl_ca",
                format!("{} is not a file", self.ojs.ssl_ca.display()),
            ));
        }
        if self.ojs.sync_interval_secs == 0 {
            return Err(invalid("ojs.sync_interval_secs", "must be at least 1"));
        }
        if self.ojs.min_backoff_secs == 0 || self.ojs.min_backoff_secs > self.ojs.max_backoff_secs {
            return Err(invalid(
                "ojs.min_backoff_secs",
                "must be at least 1 and not above ojs.max_backoff_secs",
            ));
        }
        if !(1..=10_000).contains(&self.ojs.batch_size) {
            return Err(invalid("ojs.batch_size", "must be between 1 and 10000"));
        }
        if self.ojs.timeout_secs == 0 {
            return Err(invalid("ojs.timeout_secs", "must be at least 1"));
        }
        self.listen_addr()?;
        if !(1..=64).contains(&self.web.workers) {
            return Err(invalid("web.workers", "must be between 1 and 64"));
        }
        if self.web.max_body_bytes == 0 {
            return Err(invalid("web.max_body_bytes", "must be at least 1"));
        }
        if !self.web.admin_token.is_empty() && self.web.admin_token.len() < 16 {
            return Err(invalid(
                "web.admin_token",
                "must be at least 16 characters (or empty to disable admin calls)",
            ));
        }
        if !self.web.read_token.is_empty() && self.web.read_token.len() < 16 {
            return Err(invalid(
                "web.read_token",
                "must be at least 16 characters (or empty: a fresh one is made at each start)",
            ));
        }
        for (key, token) in [
            ("web.read_token", &self.web.read_token),
            ("web.admin_token", &self.web.admin_token),
        ] {
            if !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(invalid(key, "must be printable ASCII without spaces"));
            }
        }
        if !self.web.admin_token.is_empty() && self.web.admin_token == self.web.read_token {
            return Err(invalid(
                "web.read_token",
                "must differ from web.admin_token",
            ));
        }
        for host in &self.web.allowed_hosts {
            if host.is_empty()
                || host.len() > 253
                || !host.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                })
            {
                return Err(invalid(
                    "web.allowed_hosts",
                    format!("`{host}` is not a host name or address"),
                ));
            }
        }
        if !(1..=24 * 366).contains(&self.web.session_hours) {
            return Err(invalid("web.session_hours", "must be between 1 and 8784"));
        }
        if !(1..=16).contains(&self.web.ai_workers) {
            return Err(invalid("web.ai_workers", "must be between 1 and 16"));
        }
        if !(8..=100_000).contains(&self.web.max_connections) {
            return Err(invalid(
                "web.max_connections",
                "must be between 8 and 100000",
            ));
        }
        if !(8192..=1024 * 1024).contains(&self.web.max_header_bytes) {
            return Err(invalid(
                "web.max_header_bytes",
                "must be between 8192 and 1048576",
            ));
        }
        if !(8..=1000).contains(&self.web.max_headers) {
            return Err(invalid("web.max_headers", "must be between 8 and 1000"));
        }
        for (key, secs) in [
            ("web.read_timeout_secs", self.web.read_timeout_secs),
            ("web.write_timeout_secs", self.web.write_timeout_secs),
        ] {
            if !(1..=3600).contains(&secs) {
                return Err(invalid(key, "must be between 1 and 3600 seconds"));
            }
        }
        if !self.llm.model_path.as_os_str().is_empty() && !self.llm.model_path.is_file() {
            return Err(invalid(
                "llm.model_path",
                format!("{} is not a file", self.llm.model_path.display()),
            ));
        }
        if self.llm.timeout_secs == 0 || self.llm.max_tokens == 0 || self.llm.queue_depth == 0 {
            return Err(invalid(
                "llm",
                "timeout_secs, max_tokens and queue_depth must be at least 1",
            ));
        }
        self.llm
            .validate()
            .map_err(|e| invalid("llm", format!("LLM settings are invalid: {e}")))?;
        self.update.validate()?;
        self.watchdog.validate()?;
        self.voice.validate()?;
        self.figures.validate()?;
        self.backup.validate()?;
        if self.metrics.sample_interval_secs == 0 {
            return Err(invalid(
                "metrics.sample_interval_secs",
                "must be at least 1",
            ));
        }
        if !(1..=24 * 366).contains(&self.metrics.retention_hours) {
            return Err(invalid(
                "metrics.retention_hours",
                "must be between 1 and 8784",
            ));
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.web
            .listen
            .parse()
            .map_err(|_| invalid("web.listen", "must be an address like 0.0.0.0:8080"))
    }

    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("ojscog.sqlite3")
    }

    /// The same settings pointed at the built-in demo journal: a scratch store
    /// under `<data_dir>/demo` and no OJS, so the demo never touches real data.
    pub fn for_demo(&self) -> Config {
        let mut c = self.clone();
        c.data_dir = c.data_dir.join("demo");
        c.ojs.url.clear();
        c
    }

    pub fn sync_interval(&self) -> Duration {
        Duration::from_secs(self.ojs.sync_interval_secs)
    }

    /// A copy safe to print: passwords and tokens replaced by `***`.
    pub fn redacted(&self) -> Config {
        let mut c = self.clone();
        c.ojs.url = redact_url(&c.ojs.url);
        c.update.channel_url = redact_url(&c.update.channel_url);
        if !c.web.admin_token.is_empty() {
            c.web.admin_token = "***".into();
        }
        if !c.web.read_token.is_empty() {
            c.web.read_token = "***".into();
        }
        c
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }
}

/// `mysql://user:secret@host/db` → `mysql://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &rest[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

fn redact_url_in(message: &str, url: &str) -> String {
    message.replace(url, &redact_url(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn file_then_env_layering() {
        let cfg: Config =
            Config::from_toml("[web]\nlisten = \"127.0.0.1:9000\"\nworkers = 2\n").unwrap();
        assert_eq!(cfg.web.listen, "127.0.0.1:9000");
        assert_eq!(cfg.ojs.sync_interval_secs, 300, "unset keys keep defaults");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[web]\nlisten = \"127.0.0.1:9000\"\nworkers = 2\n").unwrap();
        let env = vec![
            ("OJSCOG_WEB_WORKERS".to_string(), "7".to_string()),
            (
                "OJSCOG_OJS_URL".to_string(),
                "mysql://ro:pw@127.0.0.1:3306/ojs".to_string(),
            ),
            ("HOME".to_string(), "/root".to_string()),
        ];
        let cfg = Config::load_with_env(Some(&p), &env).unwrap();
        assert_eq!(cfg.web.listen, "127.0.0.1:9000");
        assert_eq!(cfg.web.workers, 7, "env beats file");
        assert_eq!(cfg.ojs.url, "mysql://ro:pw@127.0.0.1:3306/ojs");
    }

    #[test]
    fn errors_name_the_key() {
        let env = vec![("OJSCOG_WEB_WORKERS".to_string(), "many".to_string())];
        let e = Config::load_with_env(None, &env).unwrap_err().to_string();
        assert!(e.contains("OJSCOG_WEB_WORKERS"), "{e}");
        let env = vec![("OJSCOG_WEB_LISTEN".to_string(), "nowhere".to_string())];
        let e = Config::load_with_env(None, &env).unwrap_err().to_string();
        assert!(e.contains("web.listen"), "{e}");
        let env = vec![("OJSCOG_OJS_URL".to_string(), "postgres://x".to_string())];
        let e = Config::load_with_env(None, &env).unwrap_err().to_string();
        assert!(e.contains("ojs.url"), "{e}");
        let env = vec![("OJSCOG_WEBLISTEN".to_string(), "x".to_string())];
        let e = Config::load_with_env(None, &env).unwrap_err().to_string();
        assert!(e.contains("unknown"), "{e}");
        let e = Config::from_toml("[web]\nlisen = 1\n").unwrap_err();
        assert!(e.contains("lisen"), "{e}");
    }

    #[test]
    fn access_settings_are_checked_and_named() {
        let load = |pairs: &[(&str, &str)]| {
            let env: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Config::load_with_env(None, &env)
        };
        assert_eq!(
            Config::default().web.access,
            Access::Token,
            "sign-in by default"
        );
        let c = load(&[
            ("OJSCOG_WEB_ACCESS", "lan"),
            ("OJSCOG_WEB_ALLOWED_HOSTS", "box.example, 10.0.0.9"),
        ])
        .unwrap();
        assert_eq!(c.web.access, Access::Lan);
        assert_eq!(c.web.allowed_hosts, vec!["box.example", "10.0.0.9"]);
        let e = load(&[("OJSCOG_WEB_ACCESS", "open")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("OJSCOG_WEB_ACCESS"), "{e}");
        let e = load(&[("OJSCOG_WEB_READ_TOKEN", "short")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("web.read_token"), "{e}");
        let e = load(&[
            ("OJSCOG_WEB_READ_TOKEN", "same-token-0123456789"),
            ("OJSCOG_WEB_ADMIN_TOKEN", "same-token-0123456789"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("must differ"), "{e}");
        let e = load(&[("OJSCOG_WEB_ALLOWED_HOSTS", "evil.example/x")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("web.allowed_hosts"), "{e}");
        let e = load(&[("OJSCOG_WEB_MAX_HEADER_BYTES", "100")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("web.max_header_bytes"), "{e}");
        let e = Config::from_toml("[web]\naccess = \"everyone\"\n").unwrap_err();
        assert!(e.contains("access"), "{e}");
    }

    #[test]
    fn secrets_are_redacted() {
        let mut c = Config::default();
        c.ojs.url = "mysql://editor:s3cret@db.example:3306/ojs".into();
        c.web.admin_token = "0123456789abcdef0123".into();
        c.web.read_token = "read-0123456789abcdef".into();
        let shown = c.redacted().to_toml();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("read-0123456789abcdef"), "{shown}");
        assert!(!shown.contains("0123456789abcdef0123"), "{shown}");
        assert!(
            shown.contains("mysql://editor:***@db.example:3306/ojs"),
            "{shown}"
        );
    }
}
