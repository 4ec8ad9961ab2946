//! Reviewer matching as a request runs it: it may embed the submission's own
//! text and nothing else; while the background indexer has not made the
//! reviewers' profile vectors it answers "indexing in progress" instead of a
//! ranking in which some reviewers lack the meaning channel. Once indexed, the
//! ranking is the one the offline matcher gives. Unknown ids are not logged.

use crate::support::probe;
use crate::support::Inspect;

use ojscog::agents::indexer::{Indexer, IndexerOptions};
use ojscog::agents::matching::{match_reviewers, match_reviewers_indexed};
use ojscog::agents::AgentError;
use ojscog::inference::HashingEmbedder;
use ojscog::store::Store;
use probe::CountingEmbedder;
use std::sync::Arc;

fn demo() -> (tempfile::TempDir, std::path::PathBuf, Store) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("demo.sqlite3");
    ojscog::demo::load(&p).unwrap();
    let s = Store::open(&p).unwrap();
    (d, p, s)
}

#[test]
fn a_request_match_embeds_only_its_submission_and_waits_for_the_indexer() {
    let (_d, path, store) = demo();
    let request = CountingEmbedder::new(Arc::new(HashingEmbedder::default()));
    match match_reviewers_indexed(&store, &request, 3, 5) {
        Err(AgentError::Indexing { done, total }) => assert!(done < total, "{done}/{total}"),
        other => panic!("expected indexing in progress, got {other:?}"),
    }
    assert_eq!(request.texts(), 1, "only the submission's own text");
    let logged = |s: &Store| s.agent_run_count("reviewer_matching", None, None).unwrap();
    assert_eq!(logged(&store), 0);
    assert_eq!(
        store
            .scalar_i64("SELECT COUNT(*) FROM reviewer_matching_scores")
            .unwrap(),
        0
    );

    Indexer::new(path, IndexerOptions::default())
        .pass(&HashingEmbedder::default(), &|| false)
        .unwrap();
    let request = CountingEmbedder::new(Arc::new(HashingEmbedder::default()));
    let r = match_reviewers_indexed(&store, &request, 3, 5).unwrap();
    assert_eq!(request.texts(), 0, "every vector came from the indexer");
    assert!(!r.cached && !r.candidates.is_empty());

    // The same ranking as the offline matcher on an untouched copy.
    let (_d2, _p2, other) = demo();
    let offline = match_reviewers(&other, &HashingEmbedder::default(), 3, 5).unwrap();
    let ids = |m: &ojscog::agents::matching::MatchResult| {
        m.candidates
            .iter()
            .map(|c| c.reviewer_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&r), ids(&offline));
    // The scores agree to float rounding (six decimals are shown; a sum in
    // another order may move the last one).
    for (a, b) in r.candidates.iter().zip(&offline.candidates) {
        assert!((a.score - b.score).abs() <= 2e-6, "{a:?} vs {b:?}");
    }

    let before = logged(&store);
    assert!(matches!(
        match_reviewers_indexed(&store, &request, 999, 5),
        Err(AgentError::NoSubmission(999))
    ));
    assert_eq!(logged(&store), before, "an unknown id adds no log row");
}
