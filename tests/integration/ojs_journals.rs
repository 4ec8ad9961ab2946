//! A publisher with two journals on one OJS: one service mirrors both, and
//! the per-journal figures keep them apart (labelled by each journal's path).

use crate::support::{config_for, TestDb};
use ojscog::metrics::Metrics;
use ojscog::store::Store;

#[tokio::test]
async fn two_journals_in_one_ojs_are_mirrored_and_counted_apart() {
    let db = TestDb::ojs("3.4.0-4").await;
    db.exec(
        "INSERT INTO journals (journal_id, path, seq, primary_locale, enabled) VALUES (2, 'second-journal', 2, 'en', 1);
         INSERT INTO journal_settings (journal_id, locale, setting_name, setting_value)
           VALUES (2, 'en', 'name', 'The Second Journal');
         UPDATE submissions SET context_id = 2 WHERE submission_id IN (5, 6)",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_for(&db.url(), dir.path());
    let mut store = Store::open(&cfg.store_path()).unwrap();
    ojscog::sync::run_once(&cfg.ojs, &mut store, &Metrics::new())
        .await
        .expect("sync");
    let first = db
        .count("SELECT COUNT(*) FROM submissions WHERE context_id = 1 AND submission_progress = ''")
        .await as u64;
    assert!(first > 5, "{first}");

    // A day in the dataset's year: every submission of it is in the window.
    let now = ojscog::human::parse_datetime("2024-06-01 00:00:00").unwrap();
    let w = store.workflow(now).unwrap();
    let by_path = |p: &str| {
        w.iter()
            .find(|j| j.journal == p)
            .unwrap_or_else(|| panic!("no figures for {p}: {w:?}"))
    };
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!(by_path("second-journal").received, 2);
    let publicknowledge = w.iter().find(|j| j.journal != "second-journal").unwrap();
    assert_eq!(publicknowledge.received, first);
    db.drop_db().await;
}
