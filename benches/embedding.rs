//! Embedding throughput of the on-device MiniLM (ort + tokenizers) side by side
//! with Python onnxruntime on the same model, tokenizer, texts, batches and threads.
//!
//!   cargo bench --features embeddings --bench embedding
//!
//! Texts: the 463 rated papers of shared/reviewer-gold (title + abstract, 256 tokens).
//! Env: OJSCOG_BENCH_THREADS (default 2), OJSCOG_BENCH_PYTHON (default
//! $OJSCOG_CACHE/pyenv/bin/python, a venv with onnxruntime==1.24.4, tokenizers, numpy).

use ojscog::inference::embed::{load_embedder, OnnxOptions, MODEL_FILE, TOKENIZER_FILE};
use ojscog::inference::{dot, Embedder, WorkerLimits};
use ojscog::models::{ModelStore, EMBEDDING_MODEL};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() {
    let threads: usize = std::env::var("OJSCOG_BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let data = std::env::var_os("OJSCOG_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let gold = ojscog::eval::Gold::load(&data.join("reviewer-gold"))
        .unwrap_or_else(|e| panic!("reviewer-gold data: {e}"));
    let mut papers: Vec<_> = gold.papers.values().collect();
    papers.sort_by(|a, b| a.id.cmp(&b.id));
    let texts: Vec<String> = papers
        .iter()
        .map(|p| ojscog::agents::matching::doc_text(&p.title, &p.abstract_text, &[]))
        .collect();
    let store = ModelStore::new(ModelStore::developer_root());
    let emb = load_embedder(
        &store,
        OnnxOptions {
            threads,
            ..Default::default()
        },
        WorkerLimits {
            queue_depth: 2,
            timeout: Duration::from_secs(3600),
        },
    )
    .unwrap_or_else(|e| panic!("{e} (run scripts/fetch-models.sh)"));
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let _ = emb.embed(&refs[..32]);
    let reps = 2;
    let t0 = Instant::now();
    let mut vecs = Vec::new();
    for _ in 0..reps {
        vecs = emb.embed(&refs).unwrap_or_else(|e| panic!("{e}"));
    }
    let dt = t0.elapsed().as_secs_f64() / reps as f64;
    println!(
        "rust  ort 2.0.0-rc.12 + tokenizers: {} texts, {threads} threads, batch 16: {:.1} texts/s ({:.2} s)",
        texts.len(),
        texts.len() as f64 / dt,
        dt
    );

    // The same with Python onnxruntime.
    let m = match store.current_verified(EMBEDDING_MODEL) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    let python = std::env::var_os("OJSCOG_BENCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            ModelStore::developer_root()
                .parent()
                .map(|p| p.join("pyenv/bin/python"))
                .unwrap_or_else(|| PathBuf::from("python3"))
        });
    let dir = std::env::temp_dir().join(format!("ojscog-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let texts_file = dir.join("texts.json");
    if let Err(e) = std::fs::write(
        &texts_file,
        serde_json::to_string(&texts).unwrap_or_default(),
    ) {
        println!("python: cannot write {}: {e}", texts_file.display());
        return;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_embed.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .arg(m.path(MODEL_FILE))
        .arg(m.path(TOKENIZER_FILE))
        .arg(&texts_file)
        .arg(threads.to_string())
        .arg("16")
        .arg(reps.to_string())
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    match out {
        Ok(o) if o.status.success() => {
            let line = String::from_utf8_lossy(&o.stdout);
            let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_default();
            let tps = v["texts_per_sec"].as_f64().unwrap_or(0.0);
            println!(
                "python onnxruntime {} + tokenizers: {:.1} texts/s ({:.2} s); rust/python = {:.2}",
                v["onnxruntime"].as_str().unwrap_or("?"),
                tps,
                v["seconds"].as_f64().unwrap_or(0.0),
                if tps > 0.0 { (texts.len() as f64 / dt) / tps } else { 0.0 }
            );
            // Same numbers, not just the same speed.
            let head: Vec<f32> = v["first_vector_head"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_f64()).map(|x| x as f32).collect())
                .unwrap_or_default();
            let mine = &vecs[0][..head.len().min(vecs[0].len())];
            let diff = head.iter().zip(mine).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            println!("first vector, first 4 values: max |rust - python| = {diff:.2e}");
            let _ = dot(&vecs[0], &vecs[0]);
        }
        Ok(o) => println!(
            "python comparison failed ({}): {}",
            python.display(),
            String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("")
        ),
        Err(e) => println!(
            "python comparison skipped: cannot run {} ({e}); create the venv: python3 -m venv $HOME/.cache/ojscog/pyenv && $HOME/.cache/ojscog/pyenv/bin/pip install onnxruntime==1.24.4 tokenizers numpy",
            python.display()
        ),
    }
}
