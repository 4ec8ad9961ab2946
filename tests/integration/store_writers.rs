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
