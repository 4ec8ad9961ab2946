//! The llama.cpp side of [`super::Llm`] (feature `llm`): loading a verified
//! GGUF into memory, chat templates, grammar-constrained sampling, benches.

use super::*;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use std::num::NonZeroU32;
use std::sync::OnceLock;

pub(super) struct Loaded {
    pub name: Option<String>,
    pub n_params: u64,
    pub n_ctx_train: u32,
}

/// llama.cpp's backend may be initialised once per process; it lives as
/// long as the process.
fn backend() -> Result<&'static LlamaBackend, LlmError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LlmError::Runtime(format!("cannot start llama.cpp: {e}")))
}

fn rt(e: impl std::fmt::Display) -> LlmError {
    LlmError::Runtime(e.to_string())
}

pub(super) struct Engine {
    backend: &'static LlamaBackend,
    model: LlamaModel,
    template: LlamaChatTemplate,
    cfg: LlmConfig,
}

impl Engine {
    pub(super) fn loaded(&self) -> Loaded {
        Loaded {
            name: self.model.meta_val_str("general.name").ok(),
            n_params: self.model.n_params(),
            n_ctx_train: self.model.n_ctx_train(),
        }
    }

    pub(super) fn load(cfg: LlmConfig) -> Result<Engine, LlmError> {
        let backend = backend()?;
        let path = cfg.model_path.clone();
        // Read into memory, not mapped: the caller checks after this that the
        // file is still the hashed one, and a later change cannot reach the weights.
        let params = LlamaModelParams::default().with_use_mmap(false);
        let model = LlamaModel::load_from_file(backend, &path, &params).map_err(|e| {
            LlmError::BadModel {
                path: path.clone(),
                reason: format!(
                    "llama.cpp cannot load it ({e}); the file may be truncated or corrupt"
                ),
            }
        })?;
        // The model's own template; a file without one (a base model such as Gemma 3 270M) gets its family's turn
        // markers when llama.cpp knows them, else ChatML (what most small chat models use).
        let template = match model.chat_template(None) {
            Ok(t) => t,
            Err(_) => {
                let arch = model
                    .meta_val_str("general.architecture")
                    .unwrap_or_default();
                let name = if arch.starts_with("gemma") {
                    "gemma"
                } else {
                    "chatml"
                };
                LlamaChatTemplate::new(name).map_err(rt)?
            }
        };
        Ok(Engine {
            backend,
            model,
            template,
            cfg,
        })
    }

    fn context(&self) -> Result<LlamaContext<'_>, LlmError> {
        let threads = self.cfg.threads() as i32;
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(self.cfg.n_ctx))
            .with_n_batch(self.cfg.n_batch)
            .with_n_ubatch(self.cfg.n_batch)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        self.model
            .new_context(self.backend, params)
            .map_err(|e| rt(format!("cannot create a context: {e}")))
    }

    fn prompt(&self, messages: &[ChatMessage]) -> Result<String, LlmError> {
        let chat = messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.clone(), m.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(rt)?;
        self.model
            .apply_chat_template(&self.template, &chat, true)
            .map_err(|e| rt(format!("cannot apply the chat template: {e}")))
    }

    /// Evaluates `tokens` from position `start` in batches; logits only for the last one.
    fn eval(
        &self,
        ctx: &mut LlamaContext<'_>,
        batch: &mut LlamaBatch,
        tokens: &[LlamaToken],
        start: i32,
        deadline: Option<(Instant, Instant)>,
    ) -> Result<(), LlmError> {
        let n_batch = self.cfg.n_batch as usize;
        let last = tokens.len().saturating_sub(1);
        for (c, chunk) in tokens.chunks(n_batch).enumerate() {
            batch.clear();
            for (i, t) in chunk.iter().enumerate() {
                let idx = c * n_batch + i;
                batch
                    .add(*t, start + idx as i32, &[0], idx == last)
                    .map_err(rt)?;
            }
            ctx.decode(batch).map_err(rt)?;
            if let Some((enqueued, deadline)) = deadline {
                if Instant::now() >= deadline {
                    return Err(LlmError::Timeout {
                        after: deadline - enqueued,
                    });
                }
            }
        }
        Ok(())
    }

    fn sampler(&self, grammar: Option<&str>) -> Result<LlamaSampler, LlmError> {
        let mut chain = Vec::new();
        if let Some(g) = grammar {
            chain.push(
                LlamaSampler::grammar(&self.model, g, "root")
                    .map_err(|e| LlmError::Grammar(e.to_string()))?,
            );
        }
        if self.cfg.repeat_penalty > 1.0 {
            chain.push(LlamaSampler::penalties(
                self.model.n_vocab(),
                self.cfg.repeat_last_n as i32,
                self.cfg.repeat_penalty,
                0.0,
                0.0,
            ));
        }
        if self.cfg.temperature > 0.0 {
            chain.push(LlamaSampler::temp(self.cfg.temperature));
            chain.push(LlamaSampler::dist(self.cfg.seed));
        } else {
            chain.push(LlamaSampler::greedy());
        }
        Ok(LlamaSampler::chain_simple(chain))
    }

    pub(super) fn generate(
        &self,
        req: &GenerateRequest,
        enqueued: Instant,
        deadline: Instant,
    ) -> Result<Generation, LlmError> {
        let timeout = || LlmError::Timeout {
            after: deadline - enqueued,
        };
        if Instant::now() >= deadline {
            return Err(timeout());
        }
        let max_tokens = req
            .max_tokens
            .unwrap_or(self.cfg.max_tokens)
            .min(self.cfg.max_tokens) as usize;
        let prompt = self.prompt(&req.messages)?;
        let vocab = self.model.vocab();
        let tokens = vocab.tokenize(prompt.as_bytes(), true, true);
        if tokens.is_empty() || tokens.len() + max_tokens > self.cfg.n_ctx as usize {
            return Err(LlmError::PromptTooLong {
                prompt: tokens.len(),
                max_tokens,
                n_ctx: self.cfg.n_ctx,
            });
        }
        let mut sampler = self.sampler(req.grammar.as_deref())?;
        let mut ctx = self.context()?;
        let mut batch = LlamaBatch::new(self.cfg.n_batch as usize, 1);
        let t0 = Instant::now();
        self.eval(&mut ctx, &mut batch, &tokens, 0, Some((enqueued, deadline)))?;
        let prompt_seconds = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let mut out: Vec<u8> = Vec::new();
        let mut n_gen = 0usize;
        let mut pos = tokens.len() as i32;
        let mut stop = StopReason::Length;
        while n_gen < max_tokens {
            let token = sampler.sample(&ctx, batch.n_tokens() - 1);
            if vocab.is_eog(token) {
                stop = StopReason::EndOfText;
                break;
            }
            out.extend(vocab.token_to_piece(token, false, None));
            n_gen += 1;
            if n_gen == max_tokens {
                break;
            }
            if Instant::now() >= deadline {
                return Err(timeout());
            }
            batch.clear();
            batch.add(token, pos, &[0], true).map_err(rt)?;
            pos += 1;
            ctx.decode(&mut batch).map_err(rt)?;
        }
        Ok(Generation {
            text: String::from_utf8_lossy(&out).into_owned(),
            stop,
            prompt_tokens: tokens.len(),
            generated_tokens: n_gen,
            prompt_seconds,
            decode_seconds: t1.elapsed().as_secs_f64(),
            queued_seconds: 0.0,
        })
    }

    pub(super) fn bench(&self, spec: BenchSpec) -> Result<BenchResult, LlmError> {
        if spec.n_prompt as usize + spec.n_gen as usize + 1 > self.cfg.n_ctx as usize {
            return Err(LlmError::Config(format!(
                "bench needs n_ctx above {}",
                spec.n_prompt + spec.n_gen
            )));
        }
        let vocab = self.model.vocab();
        let n_vocab = self.model.n_vocab().max(1);
        // Like llama-bench: arbitrary token ids, BOS first.
        let mut tokens = vec![vocab.bos()];
        let mut x: u32 = 12345;
        while tokens.len() < spec.n_prompt as usize {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            tokens.push(LlamaToken((x % n_vocab as u32) as i32));
        }
        let mut res = BenchResult {
            threads: self.cfg.threads(),
            n_prompt: spec.n_prompt,
            n_gen: spec.n_gen,
            prompt_tps: Vec::new(),
            gen_tps: Vec::new(),
        };
        // One untimed warm-up run, then the repetitions.
        for rep in 0..=spec.reps {
            let mut ctx = self.context()?;
            let mut batch = LlamaBatch::new(self.cfg.n_batch as usize, 1);
            if spec.n_prompt > 0 {
                let t = Instant::now();
                self.eval(&mut ctx, &mut batch, &tokens, 0, None)?;
                if rep > 0 {
                    res.prompt_tps
                        .push(spec.n_prompt as f64 / t.elapsed().as_secs_f64());
                }
            }
            if spec.n_gen > 0 {
                let mut ctx = self.context()?;
                let t = Instant::now();
                let mut token = vocab.bos();
                for i in 0..spec.n_gen {
                    batch.clear();
                    batch.add(token, i as i32, &[0], true).map_err(rt)?;
                    ctx.decode(&mut batch).map_err(rt)?;
                    token = LlamaToken(((i * 7919 + 1) % n_vocab as u32) as i32);
                }
                if rep > 0 {
                    res.gen_tps
                        .push(spec.n_gen as f64 / t.elapsed().as_secs_f64());
                }
            }
        }
        Ok(res)
    }
}
