//! Embedding throughput of the on-device MiniLM (ort + tokenizers) side by side
//! with Python onnxruntime on the same model, tokenizer, texts, batches and threads.
//!
//!   cargo bench --features embeddings --bench embedding
//!
//! Texts: the 463 rated papers of shared/reviewer-gold (title + abstract, 256 tokens).
//! Env: OJSCOG_BENCH_THREADS (default 2), OJSCOG_BENCH_PYTHON (default
//! $OJSCOG_CACHE/pyenv/bin/python, a venv with onnxruntime==1.24.4, tokenizers, numpy).

mod support;

use ojscog::inference::{dot, Embedder};
use std::time::Instant;

fn main() {
    let threads = support::threads();
    let gold = support::gold();
    let mut papers: Vec<_> = gold.papers.values().collect();
    papers.sort_by(|a, b| a.id.cmp(&b.id));
    let texts: Vec<String> = papers
        .iter()
        .map(|p| ojscog::agents::matching::doc_text(&p.title, &p.abstract_text, &[]))
        .collect();
    let (store, emb) = support::embedder(threads);
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
        "rust  ort 2.0.0-rc.12 + tokenizers: {} texts, {threads} threads, runs of <= 16 texts and <= 1024 tokens: {:.1} texts/s ({:.2} s)",
        texts.len(),
        texts.len() as f64 / dt,
        dt
    );

    // The same with Python onnxruntime.
    let out = support::reference(&store, &texts, threads, 16, reps, &[]);
    match out {
        Ok(v) => {
            let tps = v["texts_per_sec"].as_f64().unwrap_or(0.0);
            println!(
                "python onnxruntime {} + tokenizers: {:.1} texts/s ({:.2} s); rust/python = {:.2}",
                v["onnxruntime"].as_str().unwrap_or("?"),
                tps,
                v["seconds"].as_f64().unwrap_or(0.0),
                if tps > 0.0 {
                    (texts.len() as f64 / dt) / tps
                } else {
                    0.0
                }
            );
            // Same numbers, not just the same speed.
            let head: Vec<f32> = v["first_vector_head"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_f64())
                        .map(|x| x as f32)
                        .collect()
                })
                .unwrap_or_default();
            let mine = &vecs[0][..head.len().min(vecs[0].len())];
            let diff = head
                .iter()
                .zip(mine)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            println!("first vector, first 4 values: max |rust - python| = {diff:.2e}");
            let _ = dot(&vecs[0], &vecs[0]);
        }
        Err(e) => println!("{e}"),
    }
}
