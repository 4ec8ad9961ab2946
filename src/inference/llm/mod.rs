//! A quantized chat LLM (any GGUF model) run by llama.cpp through the
//! `llama-cpp-2` crate, behind a bounded worker.
//!
//! - One dedicated thread owns the model and runs one request at a time; the
//!   queue in front of it holds at most `queue_depth` waiting requests and a
//!   full queue is refused at once (`InferenceError::Busy`) instead of piling up.
//!   The worker is [`super::Worker`], shared with the embedding models.
//! - Every request has a deadline covering queueing and generation: the
//!   worker drops requests that waited too long and stops generating between
//!   tokens when the deadline passes ([`LlmError::Timeout`]).
//! - Output can be constrained by a llama.cpp grammar (GBNF).
//! - Deterministic settings: greedy sampling (temperature 0), fixed seed, fixed
//!   thread count, fixed context size, a fresh context per request.
//!
//! Without the `llm` feature the types exist but [`Llm::load`] answers
//! [`LlmError::NotBuilt`], so callers need no `cfg` of their own.
//!
//! Integrity: llama.cpp only ever gets a file whose sha256 was computed by this
//! process, and [`ModelInfo::sha256`] (what the screening cache is keyed on) is
//! that computed hash, never a manifest's claim alone.
//! - The installed model ([`installed_model`], [`load_configured`] with an empty
//!   `model_path`) is verified against its model-store manifest first; a file that
//!   fails (a flipped byte, truncation, a symbolic link) is refused with
//!   [`LlmError::Unverified`] naming the file, and nothing is loaded.
//! - A hand-given file (`llm.model_path`, `assess --model FILE`, `bench llm --model`)
//!   is outside the store, so there is no manifest to check it against: it is
//!   hashed at load and keyed on that computed hash. A modified copy therefore
//!   gets its own cache entries and can never be served under the genuine
//!   model's hash. (Refusing such files would break `--model` for trying a model
//!   before installing it; keying on the computed hash makes that safe.)
//! - Hashes are remembered per unchanged file for the process lifetime
//!   ([`crate::models::hash_file`]), so a reload does not re-read the weights.
//! - llama.cpp reads the weights into memory (no `mmap`), and the file's identity
//!   is checked again after loading: the weights in memory are the hashed bytes,
//!   and a file changed or truncated later cannot change them (or `SIGBUS` the process).

use super::InferenceError;
#[cfg(feature = "llm")]
use super::{Worker, WorkerLimits};
use crate::models::{HashedFile, ModelError, ModelStore};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
#[cfg(feature = "llm")]
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("this ojscog was built without the `llm` feature (rebuild with `--features llm`)")]
    NotBuilt,
    #[error(
        "no LLM model installed under the name llm.model names (scripts/fetch-models.sh installs them) and no llm.model_path"
    )]
    NoModel,
    #[error("LLM model file {path} cannot be read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("LLM model file {path} is not a usable GGUF model: {reason}")]
    BadModel { path: PathBuf, reason: String },
    #[error("the LLM model failed verification, so it was not loaded: {0} (see `ojscog models verify`; reinstall or roll back the model)")]
    Unverified(ModelError),
    #[error("loading the LLM failed {seconds_ago} s ago and is not retried yet: {message}")]
    RecentlyFailed { message: String, seconds_ago: u64 },
    #[error("LLM settings are invalid: {0}")]
    Config(String),
    #[error("the LLM did not answer within {after:?}")]
    Timeout { after: Duration },
    #[error("the prompt is {prompt} tokens; with {max_tokens} to generate it does not fit the context of {n_ctx}")]
    PromptTooLong {
        prompt: usize,
        max_tokens: usize,
        n_ctx: u32,
    },
    #[error("the grammar was rejected by llama.cpp: {0}")]
    Grammar(String),
    #[error("llama.cpp failed: {0}")]
    Runtime(String),
    #[error(transparent)]
    Inference(#[from] super::InferenceError),
}

pub use crate::config::LlmConfig;

/// Checks the settings before a model is loaded with them.
fn validated(config: &LlmConfig) -> Result<(), LlmError> {
    config.validate().map_err(LlmError::Config)
}

/// The installed chat model: its GGUF file, verified against the model store's
/// manifest; `sha256` is the hash computed by that verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledLlm {
    pub path: PathBuf,
    pub sha256: String,
    pub file: HashedFile,
}

/// Finds the chat model `name` (`llm.model`; [`crate::models::LLM_MODEL`] by default) in the model store under
/// `data_dir`, else in the developers' store ([`ModelStore::developer_root`],
/// what `scripts/fetch-models.sh` fills), and verifies it (every file of the
/// version, hashed once per process while unchanged). A store that has the
/// model but fails verification is an error, never a silent fall-through to
/// the next store.
pub fn installed_model(data_dir: &Path, name: &str) -> Result<InstalledLlm, LlmError> {
    let store = ModelStore::resolve(data_dir, name).map_err(LlmError::Unverified)?;
    if store
        .current_version(name)
        .map_err(LlmError::Unverified)?
        .is_none()
    {
        return Err(LlmError::NoModel);
    }
    let m = store.verified(name).map_err(LlmError::Unverified)?;
    let file = m
        .manifest()
        .files
        .iter()
        .find(|f| f.path.ends_with(".gguf"))
        .and_then(|entry| m.file(&entry.path).cloned())
        .ok_or(LlmError::NoModel)?;
    Ok(InstalledLlm {
        path: file.path.clone(),
        sha256: file.sha256.clone(),
        file,
    })
}

/// Loads the model `config` names (hashed at load, see the module docs), or
/// the verified installed default model when its `model_path` is empty.
pub fn load_configured(config: LlmConfig, data_dir: &Path) -> Result<Llm, LlmError> {
    if cfg!(not(feature = "llm")) {
        return Err(LlmError::NotBuilt);
    }
    if config.model_path.as_os_str().is_empty() {
        let m = installed_model(data_dir, &config.model)?;
        return Llm::load_verified(config, m.file);
    }
    Llm::load(config)
}

/// A cheap fingerprint of what [`load_configured`] would load (pointers and
/// file stamps, no hashing): a remembered load failure is retried early when it changes.
pub fn model_state(config: &LlmConfig, data_dir: &Path) -> String {
    if !config.model_path.as_os_str().is_empty() {
        return match std::fs::metadata(&config.model_path) {
            Ok(m) => {
                let st = crate::models::FileStamp::of(&m);
                format!(
                    "{}:{}:{}:{}:{}:{}",
                    config.model_path.display(),
                    st.dev,
                    st.ino,
                    st.size,
                    st.mtime_ns,
                    st.ctime_ns
                )
            }
            Err(e) => format!("{}:{e}", config.model_path.display()),
        };
    }
    ModelStore::search_path(data_dir)
        .iter()
        .map(|s| s.state(&config.model))
        .collect::<Vec<_>>()
        .join("|")
}

/// What was loaded; `sha256` identifies the exact weights (cache keys use it):
/// it was computed from the file llama.cpp read, in this process.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelInfo {
    pub path: PathBuf,
    /// File name, used as the model id in logs.
    pub id: String,
    pub sha256: String,
    pub size_bytes: u64,
    /// `general.name` from the GGUF metadata, when present.
    pub name: Option<String>,
    pub n_params: u64,
    pub n_ctx_train: u32,
    pub threads: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn system(c: impl Into<String>) -> Self {
        ChatMessage {
            role: "system".into(),
            content: c.into(),
        }
    }
    pub fn user(c: impl Into<String>) -> Self {
        ChatMessage {
            role: "user".into(),
            content: c.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    pub messages: Vec<ChatMessage>,
    /// GBNF grammar with a `root` rule; the answer is constrained to it.
    pub grammar: Option<String>,
    /// None: the configured `max_tokens`.
    pub max_tokens: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model (or the grammar) ended the answer.
    EndOfText,
    /// `max_tokens` were generated.
    Length,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Generation {
    pub text: String,
    pub stop: StopReason,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub prompt_seconds: f64,
    pub decode_seconds: f64,
    /// Time spent waiting in the queue before the worker took the request.
    pub queued_seconds: f64,
}

/// llama-bench-like measurement: `n_prompt` tokens evaluated in batches, then
/// `n_gen` tokens generated one at a time, `reps` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchSpec {
    pub n_prompt: u32,
    pub n_gen: u32,
    pub reps: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchResult {
    pub threads: u32,
    pub n_prompt: u32,
    pub n_gen: u32,
    /// Tokens per second of each repetition.
    pub prompt_tps: Vec<f64>,
    pub gen_tps: Vec<f64>,
}

impl BenchResult {
    pub fn mean_sd(v: &[f64]) -> (f64, f64) {
        if v.is_empty() {
            return (0.0, 0.0);
        }
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        (mean, var.sqrt())
    }
}

/// A loaded model behind its bounded [`Worker`]: one request at a time, at
/// most `queue_depth` waiting, a deadline per request. Cheap to clone; the
/// worker stops when the last clone is dropped.
#[derive(Clone)]
pub struct Llm {
    #[cfg(feature = "llm")]
    worker: Arc<Worker<engine::Engine>>,
    info: Arc<ModelInfo>,
    config: Arc<LlmConfig>,
}

impl std::fmt::Debug for Llm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Llm").field("model", &self.info.id).finish()
    }
}

/// What an agent needs of a language model: what it is, and answers within a
/// deadline. [`Llm`] is the real one; tests put fault injectors behind it.
pub trait Generator: Send + Sync {
    fn info(&self) -> &ModelInfo;
    /// The configured deadline of one request.
    fn timeout(&self) -> Duration;
    fn generate_within(
        &self,
        req: GenerateRequest,
        timeout: Duration,
    ) -> Result<Generation, LlmError>;
}

impl Generator for Llm {
    fn info(&self) -> &ModelInfo {
        Llm::info(self)
    }
    fn timeout(&self) -> Duration {
        self.config.timeout()
    }
    fn generate_within(
        &self,
        req: GenerateRequest,
        timeout: Duration,
    ) -> Result<Generation, LlmError> {
        Llm::generate_within(self, req, timeout)
    }
}

impl Llm {
    /// Loads the hand-given GGUF file `config.model_path` (symbolic links
    /// resolved): the file is hashed here (once per process while unchanged) and
    /// the model is keyed on that hash. Validates the settings first; returns
    /// once the model is loaded, or with the reason it could not be.
    pub fn load(config: LlmConfig) -> Result<Llm, LlmError> {
        validated(&config)?;
        if config.model_path.as_os_str().is_empty() {
            return Err(LlmError::NoModel);
        }
        if cfg!(not(feature = "llm")) {
            return Err(LlmError::NotBuilt);
        }
        let given = config.model_path.clone();
        check_gguf_file(&given)?;
        let path = std::fs::canonicalize(&given).map_err(|source| LlmError::Read {
            path: given.clone(),
            source,
        })?;
        let file = crate::models::hash_file(&path).map_err(|e| LlmError::BadModel {
            path: given.clone(),
            reason: e.to_string(),
        })?;
        Llm::load_verified(config, file)
    }

    /// Loads `file`, whose sha256 the caller computed (a model-store
    /// verification, or [`crate::models::hash_file`]); `config.model_path` is
    /// replaced by `file.path`. After llama.cpp has read the weights the file
    /// must still be the one hashed, else [`LlmError::Unverified`].
    pub fn load_verified(mut config: LlmConfig, file: HashedFile) -> Result<Llm, LlmError> {
        validated(&config)?;
        config.model_path = file.path.clone();
        #[cfg(not(feature = "llm"))]
        {
            let _ = file;
            Err(LlmError::NotBuilt)
        }
        #[cfg(feature = "llm")]
        {
            let path = config.model_path.clone();
            let size_bytes = check_gguf_file(&path)?;
            let id = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let limits = WorkerLimits {
                queue_depth: config.queue_depth,
                timeout: config.timeout(),
            };
            let cfg = config.clone();
            let worker = Worker::start(&id, limits, move || {
                engine::Engine::load(cfg).map_err(|e| InferenceError::Load {
                    model: e.model_name(),
                    message: match e {
                        LlmError::BadModel { reason, .. } => reason,
                        other => other.to_string(),
                    },
                })
            })
            .map_err(|e| match e {
                // Give back the loader's own message (it names the file and the reason).
                InferenceError::Load { message, .. } => LlmError::BadModel {
                    path: path.clone(),
                    reason: message,
                },
                other => LlmError::Inference(other),
            })?;
            // The weights are in memory now (no mmap): they are the hashed bytes
            // only if the file is still the one that was hashed.
            file.check_unchanged().map_err(LlmError::Unverified)?;
            let loaded = worker
                .call(|e: &mut engine::Engine| Ok(e.loaded()))
                .map_err(LlmError::Inference)?;
            let info = ModelInfo {
                id,
                path,
                sha256: file.sha256,
                size_bytes,
                name: loaded.name,
                n_params: loaded.n_params,
                n_ctx_train: loaded.n_ctx_train,
                threads: config.threads(),
            };
            tracing::info!(model = %info.id, params = info.n_params, threads = info.threads, "LLM loaded");
            Ok(Llm {
                worker: Arc::new(worker),
                info: Arc::new(info),
                config: Arc::new(config),
            })
        }
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    /// Runs one request with the configured timeout.
    pub fn generate(&self, req: GenerateRequest) -> Result<Generation, LlmError> {
        self.generate_within(req, self.config.timeout())
    }

    /// Runs one request; `timeout` (capped at the configured one) covers
    /// waiting in the queue and generating. Generation stops between two
    /// tokens once it has passed.
    pub fn generate_within(
        &self,
        req: GenerateRequest,
        timeout: Duration,
    ) -> Result<Generation, LlmError> {
        #[cfg(not(feature = "llm"))]
        {
            let _ = (req, timeout);
            Err(LlmError::NotBuilt)
        }
        #[cfg(feature = "llm")]
        {
            let enqueued = Instant::now();
            let timeout = timeout.min(self.config.timeout());
            let deadline = enqueued + timeout;
            let worker = self.worker.clone();
            let call = move || {
                worker
                    .call(move |e: &mut engine::Engine| Ok(e.generate(&req, enqueued, deadline)))
                    .map_err(LlmError::from)?
            };
            if timeout >= self.config.timeout() {
                return call();
            }
            // A deadline shorter than the worker's: wait for the answer on a
            // helper thread so the caller is answered at its own deadline even
            // while the request still waits in the queue (the worker then
            // skips it, its deadline having passed).
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("llm-call".into())
                .spawn(move || {
                    let _ = tx.send(call());
                })
                .map_err(|e| LlmError::Runtime(format!("cannot start a thread: {e}")))?;
            match rx.recv_timeout(timeout) {
                Ok(r) => r,
                Err(_) => Err(LlmError::Timeout { after: timeout }),
            }
        }
    }

    /// Measures prompt and generation speed on the worker (bounded by the
    /// configured timeout).
    pub fn bench(&self, spec: BenchSpec) -> Result<BenchResult, LlmError> {
        #[cfg(not(feature = "llm"))]
        {
            let _ = spec;
            Err(LlmError::NotBuilt)
        }
        #[cfg(feature = "llm")]
        {
            self.worker
                .call(move |e: &mut engine::Engine| Ok(e.bench(spec)))
                .map_err(LlmError::from)?
        }
    }
}

impl LlmError {
    #[cfg(feature = "llm")]
    fn model_name(&self) -> String {
        match self {
            LlmError::BadModel { path, .. } | LlmError::Read { path, .. } => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// True when the request ran out of time (in the queue or while generating).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            LlmError::Timeout { .. } | LlmError::Inference(InferenceError::Timeout { .. })
        )
    }
}

/// Cheap checks before llama.cpp sees the file: it exists, is a regular file,
/// starts with the GGUF magic and a known version, and its header does not
/// claim more tensors and metadata entries than the file can hold (llama.cpp
/// sizes its tables from these counts). Returns its size.
pub fn check_gguf_file(path: &Path) -> Result<u64, LlmError> {
    use std::io::Read;
    let bad = |reason: String| LlmError::BadModel {
        path: path.to_path_buf(),
        reason,
    };
    let read_err = |source| LlmError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    let mut head = Vec::with_capacity(GGUF_HEADER_LEN);
    std::fs::File::open(path)
        .map_err(read_err)?
        .take(GGUF_HEADER_LEN as u64)
        .read_to_end(&mut head)
        .map_err(read_err)?;
    check_gguf_header(&head, meta.len()).map_err(bad)?;
    Ok(meta.len())
}

/// Magic, version, tensor count and metadata count: the fixed part of a
/// GGUF v2/v3 header.
pub const GGUF_HEADER_LEN: usize = 24;

/// The checks of [`check_gguf_file`] on the first bytes of a file of
/// `file_len` bytes. Reads only the fixed header; allocates nothing that
/// depends on the counts it finds.
pub fn check_gguf_header(head: &[u8], file_len: u64) -> Result<(), String> {
    if head.len() < 8 {
        return Err("file is shorter than a GGUF header".into());
    }
    if &head[..4] != b"GGUF" {
        return Err("no GGUF magic at the start of the file".into());
    }
    let version = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if !(2..=3).contains(&version) {
        return Err(format!("unsupported GGUF version {version}"));
    }
    if head.len() < GGUF_HEADER_LEN {
        return Err("file is shorter than a GGUF header".into());
    }
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&head[i..i + 8]);
        u64::from_le_bytes(b)
    };
    let tensors = u64_at(8);
    let entries = u64_at(16);
    // Smallest possible encodings: a tensor info is a name length (8), a
    // dimension count (4), a type (4) and an offset (8); a metadata entry is a
    // key length (8), a value type (4) and at least one byte of value.
    let needed = (GGUF_HEADER_LEN as u128) + u128::from(tensors) * 24 + u128::from(entries) * 13;
    if needed > u128::from(file_len) {
        return Err(format!(
            "the header claims {tensors} tensors and {entries} metadata entries, more than a file of {file_len} bytes can hold"
        ));
    }
    Ok(())
}

#[cfg(feature = "llm")]
mod engine;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_validate() {
        LlmConfig::default().validate().unwrap();
        let c = LlmConfig {
            max_tokens: 4096,
            ..Default::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn gguf_precheck_rejects_non_gguf() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.gguf");
        std::fs::write(&p, b"not a model at all").unwrap();
        let e = check_gguf_file(&p).unwrap_err().to_string();
        assert!(e.contains("GGUF magic"), "{e}");
        std::fs::write(&p, b"GGU").unwrap();
        let e = check_gguf_file(&p).unwrap_err().to_string();
        assert!(e.contains("shorter"), "{e}");
        let e = check_gguf_file(&dir.path().join("missing.gguf"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot be read"), "{e}");
    }

    #[test]
    fn missing_model_is_a_clear_error() {
        let e = Llm::load(LlmConfig::default()).unwrap_err();
        assert!(matches!(e, LlmError::NoModel), "{e}");
    }
}
