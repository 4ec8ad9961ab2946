//! Sentence embeddings with ONNX Runtime (through `ort`, the library loaded at
//! run time) and a Hugging Face `tokenizer.json`: all-MiniLM-L6-v2 (int8),
//! mean pooling over the attention mask, L2 normalisation, 256 tokens.
//!
//! Integrity: the model and tokenizer are verified against the model store's
//! manifest before ONNX Runtime sees them (each file hashed once per process
//! while unchanged), the files are checked to be unchanged after loading (both
//! are read into memory), and the embedder's [`super::Embedder::model_sha256`],
//! which the embedding and matching caches are keyed on, is computed from the
//! verified hashes. The ONNX Runtime library from the store is verified the
//! same way; one named by `$ORT_DYLIB_PATH` is the operator's choice and is
//! loaded as given.

use super::{EmbedBackend, EmbeddingWorker, InferenceError, WorkerLimits};
use crate::models::{ModelStore, EMBEDDING_MODEL, ONNXRUNTIME};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Files of the embedding model inside its store version.
pub const MODEL_FILE: &str = "model.onnx";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// The shared library's name inside the `onnxruntime` store entry.
pub const ORT_LIB_FILE: &str = "libonnxruntime.so";
/// Abstracts need more than the tokenizer file's default of 128.
pub const MAX_TOKENS: usize = 256;
const BATCH: usize = 16;
/// At most this many (estimated) tokens per model run: the run's working memory
/// grows with batch × length (attention with length²), so long abstracts go
/// four at a time and short titles sixteen. Measured in BENCHMARKS.md.
const TOKEN_BUDGET: usize = 1024;

/// Groups `order` (indices sorted by text length, ascending) into runs of at
/// most [`BATCH`] texts and [`TOKEN_BUDGET`] padded tokens, estimating a
/// text's tokens as a quarter of its bytes (capped at `max_tokens`).
fn token_budget_runs(texts: &[String], order: &[usize], max_tokens: usize) -> Vec<Vec<usize>> {
    let est = |i: usize| (texts[i].len() / 4 + 2).min(max_tokens).max(1);
    let mut runs: Vec<Vec<usize>> = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    for &i in order {
        // Sorted ascending: this text is the longest, every row pads to it.
        if !cur.is_empty() && (cur.len() >= BATCH || (cur.len() + 1) * est(i) > TOKEN_BUDGET) {
            runs.push(std::mem::take(&mut cur));
        }
        cur.push(i);
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    runs
}

#[derive(Debug, Clone)]
pub struct OnnxOptions {
    pub max_tokens: usize,
    /// ONNX Runtime intra-op threads (0 = one per core).
    pub threads: usize,
}

impl Default for OnnxOptions {
    fn default() -> Self {
        OnnxOptions {
            max_tokens: MAX_TOKENS,
            threads: 0,
        }
    }
}

static ORT_INIT: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Where the appliance image installs ONNX Runtime (its `ojscog-onnxruntime` package).
pub const SYSTEM_ORT_LIB: &str = "/usr/lib/ojscog/libonnxruntime.so";

/// Where the ONNX Runtime library is: `$ORT_DYLIB_PATH`, else the store's `onnxruntime` entry, else (when the store
/// has none) the image's own copy at [`SYSTEM_ORT_LIB`] — so `ojscog voice` typed at the box finds it as the service
/// does.
pub fn ort_dylib_path(store: &ModelStore) -> Result<PathBuf, InferenceError> {
    if let Some(p) = crate::config::ort_dylib_override() {
        return Ok(p);
    }
    match store.verified(ONNXRUNTIME) {
        Ok(m) => Ok(m.path(ORT_LIB_FILE)),
        Err(_) if Path::new(SYSTEM_ORT_LIB).is_file() => Ok(PathBuf::from(SYSTEM_ORT_LIB)),
        Err(e) => Err(e.into()),
    }
}

/// The ONNX Runtime library this process loaded, if it loaded one.
pub fn ort_loaded() -> Option<PathBuf> {
    ORT_INIT.get().and_then(|r| r.as_ref().ok().cloned())
}

/// An ONNX Runtime session as every model here wants one (ONNX Runtime must be loaded first: [`init_ort`]):
/// `threads` intra-op threads (1 to 8) and no inter-op pool; full graph optimisation; and bounded memory on a 2–4 GB
/// box: no CPU arena (it keeps its high-water mark for the life of the session) and no memory pattern (input shapes
/// vary — batches, utterances, pages — and a pattern per shape would be kept).
pub fn ort_session(model: &Path, threads: usize) -> Result<Session, String> {
    let b = Session::builder().map_err(|e| e.to_string())?;
    let b = b
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| e.to_string())?;
    let b = b
        .with_intra_threads(threads.clamp(1, 8))
        .map_err(|e| e.to_string())?;
    let b = b.with_inter_threads(1).map_err(|e| e.to_string())?;
    let b = b
        .with_execution_providers([ort::ep::CPU::default().with_arena_allocator(false).build()])
        .map_err(|e| e.to_string())?;
    let mut b = b.with_memory_pattern(false).map_err(|e| e.to_string())?;
    b.commit_from_file(model).map_err(|e| e.to_string())
}

/// Loads ONNX Runtime once per process. A second call with another path keeps the first.
pub fn init_ort(lib: &Path) -> Result<(), InferenceError> {
    let r = ORT_INIT.get_or_init(|| {
        if !lib.is_file() {
            return Err(format!(
                "ONNX Runtime library {} not found (run scripts/fetch-models.sh or set ORT_DYLIB_PATH)",
                lib.display()
            ));
        }
        // ort panics (instead of erroring) when the library's API is too old:
        // keep that from taking the process down.
        let lib2 = lib.to_path_buf();
        let res = std::panic::catch_unwind(move || -> Result<(), String> {
            let b = ort::init_from(&lib2).map_err(|e| e.to_string())?;
            let _ = b.with_name("ojscog").commit();
            Ok(())
        });
        match res {
            Ok(Ok(())) => Ok(lib.to_path_buf()),
            Ok(Err(e)) => Err(format!("cannot load {}: {e}", lib.display())),
            Err(_) => Err(format!(
                "cannot load {}: ONNX Runtime too old (ort needs API 24, i.e. >= 1.24)",
                lib.display()
            )),
        }
    });
    r.as_ref().map(|_| ()).map_err(|m| InferenceError::Load {
        model: "onnxruntime".into(),
        message: m.clone(),
    })
}

/// The ONNX session and tokenizer; owned by one worker thread.
pub struct OnnxEmbedder {
    session: Session,
    tokenizer: Tokenizer,
    has_token_type_ids: bool,
    dim: usize,
    model: String,
    max_tokens: usize,
}

impl OnnxEmbedder {
    pub fn load(
        model: &Path,
        tokenizer: &Path,
        opts: &OnnxOptions,
    ) -> Result<OnnxEmbedder, InferenceError> {
        let name = EMBEDDING_MODEL.to_string();
        let err = |message: String| InferenceError::Load {
            model: name.clone(),
            message,
        };
        let mut tok = Tokenizer::from_file(tokenizer)
            .map_err(|e| err(format!("tokenizer {}: {e}", tokenizer.display())))?;
        tok.with_truncation(Some(TruncationParams {
            max_length: opts.max_tokens,
            ..Default::default()
        }))
        .map_err(|e| err(format!("tokenizer truncation: {e}")))?;
        tok.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        let threads = if opts.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            opts.threads
        };
        let session =
            ort_session(model, threads).map_err(|e| err(format!("{}: {e}", model.display())))?;
        let names: Vec<String> = session
            .inputs()
            .iter()
            .map(|o| o.name().to_string())
            .collect();
        for want in ["input_ids", "attention_mask"] {
            if !names.iter().any(|n| n == want) {
                return Err(err(format!("model has no `{want}` input (has {names:?})")));
            }
        }
        let has_token_type_ids = names.iter().any(|n| n == "token_type_ids");
        let mut me = OnnxEmbedder {
            session,
            tokenizer: tok,
            has_token_type_ids,
            dim: 0,
            model: name.clone(),
            max_tokens: opts.max_tokens,
        };
        let probe = me.embed_batch(&["dimension probe".to_string()])?;
        me.dim = probe.first().map_or(0, |v| v.len());
        if me.dim == 0 {
            return Err(err("model returned an empty embedding".into()));
        }
        Ok(me)
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    fn run_batch(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, InferenceError> {
        let run_err = |message: String| InferenceError::Run {
            model: self.model.clone(),
            message,
        };
        let enc = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| run_err(format!("tokenize: {e}")))?;
        let b = enc.len();
        let len = enc.iter().map(|e| e.get_ids().len()).max().unwrap_or(0);
        if b == 0 || len == 0 {
            return Ok(vec![Vec::new(); b]);
        }
        let mut ids = Vec::with_capacity(b * len);
        let mut mask = Vec::with_capacity(b * len);
        let mut types = Vec::with_capacity(b * len);
        for e in &enc {
            let (i, m, t) = (e.get_ids(), e.get_attention_mask(), e.get_type_ids());
            for k in 0..len {
                ids.push(i64::from(i.get(k).copied().unwrap_or(0)));
                mask.push(i64::from(m.get(k).copied().unwrap_or(0)));
                types.push(i64::from(t.get(k).copied().unwrap_or(0)));
            }
        }
        let shape = [b, len];
        let t_ids = Tensor::from_array((shape, ids)).map_err(|e| run_err(e.to_string()))?;
        let t_mask =
            Tensor::from_array((shape, mask.clone())).map_err(|e| run_err(e.to_string()))?;
        let outputs = if self.has_token_type_ids {
            let t_types = Tensor::from_array((shape, types)).map_err(|e| run_err(e.to_string()))?;
            self.session.run(ort::inputs![
                "input_ids" => t_ids,
                "attention_mask" => t_mask,
                "token_type_ids" => t_types
            ])
        } else {
            self.session.run(ort::inputs![
                "input_ids" => t_ids,
                "attention_mask" => t_mask
            ])
        }
        .map_err(|e| InferenceError::Run {
            model: EMBEDDING_MODEL.into(),
            message: e.to_string(),
        })?;
        // The token embeddings: the first 3-D output ([batch, tokens, dim]).
        let mut hidden: Option<(Vec<i64>, Vec<f32>)> = None;
        for (_, v) in outputs.iter() {
            if let Ok((shape, data)) = v.try_extract_tensor::<f32>() {
                if shape.len() == 3 {
                    hidden = Some((shape.to_vec(), data.to_vec()));
                    break;
                }
            }
        }
        let (shape, data) = hidden.ok_or_else(|| InferenceError::Run {
            model: EMBEDDING_MODEL.into(),
            message: "model has no [batch, tokens, dim] output".into(),
        })?;
        let (ob, ol, dim) = (shape[0] as usize, shape[1] as usize, shape[2] as usize);
        if ob != b || ol != len || data.len() != b * len * dim {
            return Err(InferenceError::Run {
                model: EMBEDDING_MODEL.into(),
                message: format!("unexpected output shape {shape:?} for input [{b}, {len}]"),
            });
        }
        let mut out = Vec::with_capacity(b);
        for i in 0..b {
            let mut v = vec![0f32; dim];
            let mut n = 0f32;
            for k in 0..len {
                if mask[i * len + k] != 0 {
                    let row = &data[(i * len + k) * dim..(i * len + k + 1) * dim];
                    for (a, x) in v.iter_mut().zip(row) {
                        *a += x;
                    }
                    n += 1.0;
                }
            }
            if n > 0.0 {
                for a in v.iter_mut() {
                    *a /= n;
                }
            }
            super::normalize(&mut v);
            out.push(v);
        }
        Ok(out)
    }
}

impl EmbedBackend for OnnxEmbedder {
    fn embed_batch(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, InferenceError> {
        // Similar lengths together: less padding per batch.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for chunk in &token_budget_runs(texts, &order, self.max_tokens) {
            let batch: Vec<String> = chunk.iter().map(|&i| texts[i].clone()).collect();
            let vecs = self.run_batch(&batch)?;
            for (&i, v) in chunk.iter().zip(vecs) {
                out[i] = v;
            }
        }
        crate::system::release_freed_memory();
        let dim = self.dim;
        for v in out.iter_mut() {
            if v.is_empty() && dim > 0 {
                *v = vec![0.0; dim];
            }
        }
        Ok(out)
    }
}

/// The production embedder: the store's current MiniLM (verified before
/// anything else), ONNX Runtime from `$ORT_DYLIB_PATH` or the store (verified),
/// running on a bounded worker. Caches key on the verified hashes.
pub fn load_embedder(
    store: &ModelStore,
    opts: OnnxOptions,
    limits: WorkerLimits,
) -> Result<EmbeddingWorker<OnnxEmbedder>, InferenceError> {
    load_embedder_with(store, store, opts, limits)
}

/// [`load_embedder`] with ONNX Runtime taken from `ort_store` (each model is
/// looked up on its own: an update may bring one without the other).
pub fn load_embedder_with(
    store: &ModelStore,
    ort_store: &ModelStore,
    opts: OnnxOptions,
    limits: WorkerLimits,
) -> Result<EmbeddingWorker<OnnxEmbedder>, InferenceError> {
    let m = store.verified(EMBEDDING_MODEL)?;
    let lib = ort_dylib_path(ort_store)?;
    init_ort(&lib)?;
    let model = m.path(MODEL_FILE);
    let tokenizer = m.path(TOKENIZER_FILE);
    let id = format!("{}@{}", m.manifest().name, m.manifest().version);
    // Load once here to learn the dimension and fail early, then hand the
    // loaded backend to the worker thread.
    let backend = OnnxEmbedder::load(&model, &tokenizer, &opts)?;
    // Both files were read into memory: they are the verified bytes only if unchanged since.
    m.check_unchanged()?;
    let sha = m.combined_sha256();
    let dim = backend.dim();
    EmbeddingWorker::start(&id, &sha, dim, limits, move || Ok(backend))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_run_four_at_a_time_and_short_ones_sixteen() {
        let long = "word ".repeat(400); // ~500 tokens, capped at 256
        let texts: Vec<String> = (0..10)
            .map(|_| long.clone())
            .chain((0..40).map(|_| "a short title".to_string()))
            .collect();
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let runs = token_budget_runs(&texts, &order, MAX_TOKENS);
        assert_eq!(runs.iter().map(Vec::len).sum::<usize>(), 50);
        for r in &runs {
            let longest = r.iter().map(|&i| texts[i].len()).max().unwrap_or(0);
            if longest > 1000 {
                assert!(r.len() <= TOKEN_BUDGET / MAX_TOKENS, "{r:?}");
            } else {
                assert!(r.len() <= BATCH);
            }
        }
        assert!(runs.iter().any(|r| r.len() == BATCH));
    }
}
