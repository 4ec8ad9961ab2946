//! Memory of bulk embedding (issue 9): the process's resident memory while
//! the on-device MiniLM embeds every paper of a journal the way the service's
//! background job does (chunks of `IndexerOptions::chunk` texts through the
//! bounded worker), side by side with Python onnxruntime on the same model,
//! tokenizer, texts, chunks and threads.
//!
//!   cargo bench --features embeddings --bench embedding_memory
//!
//! Texts: the 1,262 distinct papers of shared/reviewer-gold (rated + archives).
//! Reported: RSS when idle (model loaded, one warm-up chunk), the peak during
//! the bulk run (VmHWM, reset through /proc/self/clear_refs), RSS right after,
//! and the bound from the issue: peak ≤ idle + 300 MB.
//! Env: OJSCOG_BENCH_THREADS (default 2), OJSCOG_BENCH_PYTHON (as the embedding bench).

use ojscog::agents::indexer::IndexerOptions;
mod support;

use ojscog::inference::Embedder;
use std::time::{Duration, Instant};

const BOUND_MB: f64 = 300.0;

/// (VmRSS, VmHWM) of this process in MB.
fn rss() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() {
    let threads = support::threads();
    let gold = support::gold();
    let mut texts: Vec<String> = gold
        .papers
        .values()
        .chain(gold.archives.values().flatten())
        .map(|p| ojscog::agents::matching::doc_text(&p.title, &p.abstract_text, &[]))
        .collect();
    texts.sort();
    texts.dedup();
    let chunk = IndexerOptions::default().chunk;

    let (before_load, _) = rss();
    let (store, emb) = support::embedder(threads);
    let warm: Vec<&str> = texts[..chunk].iter().map(String::as_str).collect();
    let _ = emb.embed(&warm);
    let (idle, _) = rss();
    reset_peak();
    let t0 = Instant::now();
    let mut kept = 0usize;
    for c in texts.chunks(chunk) {
        let refs: Vec<&str> = c.iter().map(String::as_str).collect();
        kept += emb.embed(&refs).unwrap_or_else(|e| panic!("{e}")).len();
    }
    let secs = t0.elapsed().as_secs_f64();
    let (after, peak) = rss();
    std::thread::sleep(Duration::from_secs(2));
    let (settled, _) = rss();
    println!(
        "texts: {} (chunks of {chunk}, {threads} threads); process RSS before loading the model {before_load:.0} MB",
        texts.len()
    );
    println!(
        "{:<44} {:>8} {:>8} {:>10} {:>8} {:>9} {:>9}",
        "runtime", "idle MB", "peak MB", "peak-idle", "after", "after 2s", "texts/s"
    );
    println!(
        "{:<44} {:>8.0} {:>8.0} {:>10.0} {:>8.0} {:>9.0} {:>9.1}",
        "rust: ort 2.0.0-rc.12 (ojscog's embedder)",
        idle,
        peak,
        peak - idle,
        after,
        settled,
        kept as f64 / secs
    );
    println!(
        "bound: peak - idle <= {BOUND_MB:.0} MB: {}",
        if peak - idle <= BOUND_MB {
            "met"
        } else {
            "NOT met"
        }
    );

    // Python onnxruntime, same model, tokenizer, texts, chunks, threads.
    match support::reference(&store, &texts, threads, chunk, 1, &["--memory"]) {
        Ok(v) => {
            let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
            println!(
                "{:<44} {:>8.0} {:>8.0} {:>10.0} {:>8.0} {:>9.0} {:>9.1}",
                format!(
                    "python: onnxruntime {}",
                    v["onnxruntime"].as_str().unwrap_or("?")
                ),
                f("idle_mb"),
                f("peak_mb"),
                f("peak_mb") - f("idle_mb"),
                f("after_mb"),
                f("after_mb"),
                f("texts_per_sec")
            );
        }
        Err(e) => println!("{e}"),
    }
}
