//! Shared by the embedding benches: the Python onnxruntime reference run
//! (`scripts/bench_embed.py`) on the same model, tokenizer and texts.

use ojscog::inference::embed::{
    load_embedder, OnnxEmbedder, OnnxOptions, MODEL_FILE, TOKENIZER_FILE,
};
use ojscog::inference::{EmbeddingWorker, WorkerLimits};
use ojscog::models::{ModelStore, EMBEDDING_MODEL};
use std::path::PathBuf;

/// `$OJSCOG_BENCH_THREADS` (default 2).
pub fn threads() -> usize {
    std::env::var("OJSCOG_BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2)
}

/// The reviewer-gold data under `$OJSCOG_TEST_DATA` (default `../shared`).
pub fn gold() -> ojscog::eval::Gold {
    let data = std::env::var_os("OJSCOG_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    ojscog::eval::Gold::load(&data.join("reviewer-gold"))
        .unwrap_or_else(|e| panic!("reviewer-gold data: {e}"))
}

/// The developers' model store and the on-device embedder on `threads` threads.
pub fn embedder(threads: usize) -> (ModelStore, EmbeddingWorker<OnnxEmbedder>) {
    let store = ModelStore::new(ModelStore::developer_root());
    let emb = load_embedder(
        &store,
        OnnxOptions {
            threads,
            ..Default::default()
        },
        WorkerLimits {
            queue_depth: 2,
            timeout: std::time::Duration::from_secs(3600),
        },
    )
    .unwrap_or_else(|e| panic!("{e} (run scripts/fetch-models.sh)"));
    (store, emb)
}

/// `$OJSCOG_BENCH_PYTHON`, else the venv beside the developer model store.
pub fn python() -> PathBuf {
    std::env::var_os("OJSCOG_BENCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            ModelStore::developer_root()
                .parent()
                .map(|p| p.join("pyenv/bin/python"))
                .unwrap_or_else(|| PathBuf::from("python3"))
        })
}

/// Runs `bench_embed.py MODEL TOKENIZER TEXTS THREADS BATCH REPS [extra]` on
/// the installed embedding model; its one JSON line, or why there is none.
pub fn reference(
    store: &ModelStore,
    texts: &[String],
    threads: usize,
    batch: usize,
    reps: usize,
    extra: &[&str],
) -> Result<serde_json::Value, String> {
    let m = store
        .current_verified(EMBEDDING_MODEL)
        .map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!("ojscog-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let texts_file = dir.join("texts.json");
    std::fs::write(
        &texts_file,
        serde_json::to_string(texts).unwrap_or_default(),
    )
    .map_err(|e| format!("cannot write {}: {e}", texts_file.display()))?;
    let python = python();
    let out = std::process::Command::new(&python)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_embed.py"))
        .arg(m.path(MODEL_FILE))
        .arg(m.path(TOKENIZER_FILE))
        .arg(&texts_file)
        .args([threads.to_string(), batch.to_string(), reps.to_string()])
        .args(extra)
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    match out {
        Ok(o) if o.status.success() => {
            serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim())
                .map_err(|e| format!("python answered no JSON: {e}"))
        }
        Ok(o) => Err(format!(
            "python comparison failed ({}): {}",
            python.display(),
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )),
        Err(e) => Err(format!(
            "python comparison skipped: cannot run {} ({e}); create the venv: python3 -m venv \
             $HOME/.cache/ojscog/pyenv && $HOME/.cache/ojscog/pyenv/bin/pip install \
             onnxruntime==1.24.4 tokenizers numpy",
            python.display()
        )),
    }
}
