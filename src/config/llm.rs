//! `[llm]`: the on-device LLM's settings and their checks.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The model store's name of the small chat model, the default `llm.model` (`models::LLM_MODEL` is this name).
pub const DEFAULT_LLM_MODEL: &str = "smollm2-135m-instruct";

/// `[llm]`: the on-device LLM (manuscript screening).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// The model store's chat model used when `model_path` is empty: `smollm2-135m-instruct` (small, the default)
    /// or `gemma3-270m` (medium; `scripts/fetch-models.sh --llm medium` installs it).
    pub model: String,
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
            model: DEFAULT_LLM_MODEL.to_string(),
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
        let name_ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
        if self.model.is_empty() || self.model.len() > 64 || !self.model.chars().all(name_ok) {
            return bad(
                "model must be a model store name (lowercase letters, digits, '.', '_', '-')",
            );
        }
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
