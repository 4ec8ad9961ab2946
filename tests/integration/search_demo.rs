//! Search over the demo journal: exact terms, snippets, reviewers, errors.
//! Runs with the dependency-free hashing embedder; `matching_real_model.rs`
//! checks search by meaning with MiniLM.

use crate::support::Inspect;
use ojscog::agents::search::{search, HitKind, PackedVectors, SearchIndex};
use ojscog::inference::HashingEmbedder;
use ojscog::store::Store;

fn demo() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("demo.sqlite3");
    ojscog::demo::load(&p).unwrap();
    let s = Store::open(&p).unwrap();
    (d, s)
}

#[test]
fn finds_submissions_and_reviewers_with_snippets() {
    let (_d, s) = demo();
    let e = HashingEmbedder::default();
    let hits = search(&s, &e, "seagrass sulfide", 5).unwrap();
    assert!(!hits.is_empty());
    let top = &hits[0];
    assert_eq!(top.kind, HitKind::Submission);
    assert!(top.title.contains("Seagrass"), "{hits:#?}");
    assert!(top.snippet.to_lowercase().contains("sulfide"), "{top:#?}");
    assert_eq!(top.matched_terms, vec!["seagrass", "sulfide"]);
    assert!(top.lexical > 0.99 && top.score > 0.0);

    let hits = search(&s, &e, "microplastics", 10).unwrap();
    assert!(
        hits.iter()
            .any(|h| h.kind == HitKind::Reviewer && h.title == "Priya Nair"),
        "{hits:#?}"
    );
    assert!(hits
        .iter()
        .any(|h| h.kind == HitKind::Submission && h.title.contains("Microplastic")));
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    let json = serde_json::to_value(&hits).unwrap();
    assert!(json[0]["kind"].is_string());

    assert!(search(&s, &e, "   ", 5).is_err());
    assert!(search(&s, &e, "zzzqqq", 5).unwrap().is_empty());
}

#[test]
fn index_is_reusable_and_vectors_are_cached() {
    let (_d, s) = demo();
    let e = HashingEmbedder::default();
    let idx = SearchIndex::build(&s, &e).unwrap();
    assert!(idx.len() >= 10);
    let n = s
        .scalar_i64("SELECT COUNT(*) FROM semantic_embeddings")
        .unwrap();
    assert!(n >= 10);
    let a = idx.query(&e, "coral bleaching", 3).unwrap();
    let b = search(&s, &e, "coral bleaching", 3).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM semantic_embeddings")
            .unwrap(),
        n
    );
}

#[test]
fn packed_vectors_rank_like_floats() {
    let dim = 64;
    let mut pv = PackedVectors::new(dim);
    for i in 0..100 {
        let mut v = vec![0f32; dim];
        v[i % dim] = 1.0;
        v[(i * 7) % dim] += 0.5;
        ojscog::inference::normalize(&mut v);
        pv.push(&v);
    }
    let mut q = vec![0f32; dim];
    q[3] = 1.0;
    let top = pv.top_k(&q, 3);
    assert_eq!(top[0].0 % dim, 3);
    assert!(top[0].1 > 0.8);
}
