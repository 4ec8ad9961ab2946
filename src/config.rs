//! Configuration: built-in defaults < TOML file < `OJSCOG_*` environment variables.
//!
//! Every key is validated at start-up and errors name the key. Secrets (the OJS
//! URL's password, the admin token) are never printed: [`Config::redacted`]
//! replaces them before anything is shown.

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
        }
    }
}

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

impl OjsConfig {
    /// Whether an OJS database is configured at all (the one place that decides).
    pub fn is_configured(&self) -> bool {
        !self.url.is_empty()
    }
}

/// `[llm]`: the on-device LLM (manuscript screening).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// A GGUF chat model, hashed at load and keyed on the computed hash (it has
    /// no manifest). Empty: the installed default model, verified against its
    /// manifest (see [`installed_model`]).
    pub model_path: PathBuf,
    /// Context size in tokens (prompt plus answer).
    pub n_ctx: u32,
    /// Threads for prompt processing and generation; 0 = all cores, at most 4.
    pub n_threads: u32,
    /// Prompt tokens evaluated per llama.cpp call.
    pub n_batch: u32,
    /// 0 = greedy (deterministic); above 0 samples with `seed`.
    pub temperature: f32,
    pub seed: u32,
    /// Penalty on tokens seen in the last `repeat_last_n` (1.0 = off); keeps
    /// small models out of repetition loops under greedy decoding.
    pub repeat_penalty: f32,
    pub repeat_last_n: u32,
    /// Upper bound on generated tokens for one request.
    pub max_tokens: u32,
    /// Requests that may wait while one runs; more are refused as busy.
    pub queue_depth: usize,
    /// Deadline for one request, queueing included.
    pub timeout_secs: u64,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            model_path: PathBuf::new(),
            n_ctx: 2048,
            n_threads: 0,
            n_batch: 512,
            temperature: 0.0,
            seed: 42,
            repeat_penalty: 1.15,
            repeat_last_n: 64,
            max_tokens: 512,
            queue_depth: 4,
            timeout_secs: 120,
        }
    }
}

impl LlmConfig {
    /// A sentence naming the bad setting, if any.
    pub fn validate(&self) -> Result<(), String> {
        let bad = |m: &str| Err(m.to_string());
        if !(256..=131_072).contains(&self.n_ctx) {
            return bad("n_ctx must be between 256 and 131072");
        }
        if self.n_threads > 256 {
            return bad("n_threads must be at most 256");
        }
        if self.n_batch == 0 || self.n_batch > self.n_ctx {
            return bad("n_batch must be between 1 and n_ctx");
        }
        if !(0.0..=2.0).contains(&self.temperature) {
            return bad("temperature must be between 0 and 2");
        }
        if !(1.0..=2.0).contains(&self.repeat_penalty) || self.repeat_last_n > 4096 {
            return bad("repeat_penalty must be between 1 and 2, repeat_last_n at most 4096");
        }
        if self.max_tokens == 0 || self.max_tokens >= self.n_ctx {
            return bad("max_tokens must be at least 1 and below n_ctx");
        }
        if !(1..=1024).contains(&self.queue_depth) {
            return bad("queue_depth must be between 1 and 1024");
        }
        if self.timeout_secs == 0 {
            return bad("timeout_secs must be at least 1");
        }
        Ok(())
    }

    /// The thread count actually used.
    pub fn threads(&self) -> u32 {
        if self.n_threads > 0 {
            return self.n_threads;
        }
        std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1)
            .min(4)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
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
    fn apply_env(&mut self, env: &[(String, String)]) -> Result<(), ConfigError> {
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
                // Settings of the process itself, not of the config.
                "llm_model_path" => self.llm.model_path = PathBuf::from(v),
                "llm_n_threads" => self.llm.n_threads = num(name, v)?,
                "llm_timeout_secs" => self.llm.timeout_secs = num(name, v)?,
                "llm_max_tokens" => self.llm.max_tokens = num(name, v)?,
                "log" | "config" | "test_data" | "test_models" | "test_llm" | "cache" | "bin" => {}
                _ => return Err(invalid(name, "unknown OJSCOG_* variable")),
            }
        }
        Ok(())
    }

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

fn num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| invalid(name, format!("`{v}` is not a whole number")))
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
