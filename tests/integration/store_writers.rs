//! Regression: two writers (the sync loop and the metrics sampler) on one
//! store must wait for each other, not fail with "database is locked".

use crate::support::Inspect;
use ojscog::store::Store;
use std::thread;

#[test]
fn concurrent_sync_batches_and_metric_samples_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ojscog.sqlite3");
    Store::open(&path).unwrap();
    let p1 = path.clone();
    let syncer = thread::spawn(move || {
        let mut s = Store::open(&p1).unwrap();
        for i in 0..30 {
            // The demo batch rewrites every submission (fingerprints change with the date).
            let mut b = ojscog::demo::batch(1_700_000_000 + i * 86_400);
            b.state.push(("round".into(), i.to_string()));
            s.apply(&b).unwrap();
        }
    });
    let p2 = path.clone();
    let sampler = thread::spawn(move || {
        let mut s = Store::open(&p2).unwrap();
        for ts in 0..300 {
            s.insert_samples(ts, &[("ojscog_test_gauge".to_string(), ts as f64)])
                .unwrap();
        }
    });
    syncer.join().unwrap();
    sampler.join().unwrap();
    let s = Store::open_read_only(&path).unwrap();
    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM performance_metrics")
            .unwrap(),
        300
    );
    assert_eq!(s.state("round").unwrap().as_deref(), Some("29"));
}

/// Regression (issue 9): a model switch (the real model missing, then back)
/// dropped the other model's vectors, so switching back recomputed everything.
/// Now the newest other model's vectors stay; a third model evicts the oldest.
#[test]
fn switching_embedding_models_and_back_keeps_the_first_models_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("ojscog.sqlite3")).unwrap();
    let rows = |x: f32| vec![(7_i64, "hash-of-text".to_string(), vec![x, 1.0 - x])];
    store
        .put_embeddings("submission", "model-a", &rows(0.1), 100)
        .unwrap();
    store
        .put_embeddings("submission", "fallback", &rows(0.2), 200)
        .unwrap();
    store
        .put_embeddings("submission", "model-a", &rows(0.1), 300)
        .unwrap();
    // Back on model A: its vector is still there, and the fallback's too.
    let a = store.embeddings("submission", "model-a").unwrap();
    assert_eq!(a[&7].vector, vec![0.1, 0.9]);
    assert_eq!(store.embeddings("submission", "fallback").unwrap().len(), 1);
    // A third model keeps only the newest other one (A, written at 300).
    store
        .put_embeddings("submission", "model-c", &rows(0.3), 400)
        .unwrap();
    assert_eq!(store.embeddings("submission", "model-a").unwrap().len(), 1);
    assert!(store
        .embeddings("submission", "fallback")
        .unwrap()
        .is_empty());
    assert_eq!(store.embeddings("submission", "model-c").unwrap().len(), 1);
}
