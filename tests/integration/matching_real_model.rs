//! The real on-device embedding model (MiniLM int8 through ONNX Runtime):
//! loads from the model store, produces unit vectors whose similarities mean
//! something, and drives matching and search by meaning.
//! Needs `--features embeddings` and scripts/fetch-models.sh (fails loudly otherwise).
#![cfg(feature = "embeddings")]

use crate::support::models;

use ojscog::agents::matching::match_reviewers;
use ojscog::agents::search::search;
use ojscog::inference::embed::{load_embedder, OnnxEmbedder, OnnxOptions};
use ojscog::inference::{dot, Embedder, EmbeddingWorker, WorkerLimits};

use ojscog::store::Store;
use std::sync::OnceLock;

fn embedder() -> &'static EmbeddingWorker<OnnxEmbedder> {
    static E: OnceLock<EmbeddingWorker<OnnxEmbedder>> = OnceLock::new();
    E.get_or_init(|| {
        let store = models::store_with_embedding_model();
        load_embedder(&store, OnnxOptions::default(), WorkerLimits::default()).unwrap_or_else(|e| {
            panic!("cannot load the embedding model: {e} (run scripts/fetch-models.sh)")
        })
    })
}

#[test]
fn vectors_are_unit_and_meaningful() {
    let e = embedder();
    assert_eq!(e.dim(), 384);
    assert_eq!(e.model_sha256().len(), 64);
    let v = e
        .embed(&[
            "A man is playing a guitar.",
            "Someone plays an acoustic guitar on stage.",
            "The central bank raised interest rates.",
            "",
        ])
        .unwrap();
    for x in &v[..3] {
        assert!((dot(x, x) - 1.0).abs() < 1e-4);
    }
    let related = dot(&v[0], &v[1]);
    let unrelated = dot(&v[0], &v[2]);
    assert!(related > 0.5 && unrelated < 0.2, "{related} {unrelated}");
    // Batching and order do not change a vector.
    let alone = e
        .embed(&["The central bank raised interest rates."])
        .unwrap();
    assert!(dot(&alone[0], &v[2]) > 0.999);
}

#[test]
fn long_texts_use_256_tokens() {
    let e = embedder();
    let base = "coral reef ecology ".repeat(40); // ~120 tokens
    let a = format!(
        "{base} {}",
        "fisheries economics and quota markets ".repeat(12)
    );
    let b = format!("{base} {}", "viral genomics of bacteriophages ".repeat(12));
    let v = e.embed(&[&a, &b]).unwrap();
    // Past token 128 the texts differ; with 256 tokens the vectors must too.
    assert!(dot(&v[0], &v[1]) < 0.99, "{}", dot(&v[0], &v[1]));
}

#[test]
fn demo_matching_and_search_by_meaning() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("demo.sqlite3");
    ojscog::demo::load(&p).unwrap();
    let s = Store::open(&p).unwrap();
    let e = embedder();
    // #3: diatoms and dinoflagellates in a subarctic bay. Every demo reviewer is
    // a marine ecologist, so MiniLM separates them weakly; the plankton expert
    // must still be in the top two, with her closest interest named.
    let r = match_reviewers(&s, e, 3, 5).unwrap();
    let mei = r
        .candidates
        .iter()
        .position(|m| m.name == "Mei Tanaka")
        .unwrap_or(99);
    assert!(mei < 2, "{r:#?}");
    assert!(r.candidates[mei]
        .reasons
        .iter()
        .any(|x| x.code.as_str() == "interest_meaning" && x.text.contains("plankton")));
    assert!(!r.cached);
    assert!(match_reviewers(&s, e, 3, 5).unwrap().cached);
    // No shared word with the seagrass paper's title or abstract.
    let hits = search(&s, e, "replanting underwater meadows", 3).unwrap();
    assert!(
        hits.iter().any(|h| h.title.contains("Seagrass")),
        "{hits:#?}"
    );
}
