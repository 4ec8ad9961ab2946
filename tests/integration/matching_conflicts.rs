//! Reviewer matching on a small journal built for the test: ranking by
//! expertise, every kind of conflict of interest excluded with its reason,
//! cached scores recomputed when inputs change, embeddings re-made lazily when
//! the model changes. Uses the dependency-free hashing embedder, so it runs in
//! every build; `matching_real_model.rs` repeats the essentials with MiniLM.

use crate::support::Inspect;
use ojscog::agents::matching::{match_reviewers, MatchResult};
use ojscog::inference::{Embedder, HashingEmbedder, InferenceError};
use ojscog::store::records::*;
use ojscog::store::{Batch, Store};

fn reviewer(id: i64, given: &str, family: &str, aff: &str, interests: &[&str]) -> Reviewer {
    Reviewer {
        id,
        username: format!("{given}{family}").to_lowercase(),
        email: format!(
            "{}@{}.example.org",
            given.to_lowercase(),
            family.to_lowercase()
        ),
        given_name: given.into(),
        family_name: family.into(),
        affiliation: aff.into(),
        disabled: false,
        interests: interests.iter().map(|s| s.to_string()).collect(),
    }
}

fn author(id: i64, given: &str, family: &str, aff: &str) -> Author {
    Author {
        id,
        given_name: given.into(),
        family_name: family.into(),
        affiliation: aff.into(),
        email: format!(
            "{}@{}.example.org",
            given.to_lowercase(),
            family.to_lowercase()
        ),
        ..Default::default()
    }
}

fn submission(id: i64, title: &str, abstract_text: &str, authors: Vec<Author>) -> SubmissionRecord {
    SubmissionRecord {
        id,
        journal_id: 1,
        status: 1,
        stage_id: 3,
        submitted: true,
        locale: "en".into(),
        texts: vec![LocalizedText {
            locale: "en".into(),
            title: title.into(),
            abstract_text: abstract_text.into(),
        }],
        authors,
        fingerprint: format!("t{id}"),
        ..Default::default()
    }
}

fn assignment(id: i64, reviewer: i64, completed: bool, declined: bool) -> ReviewAssignment {
    ReviewAssignment {
        id,
        reviewer_id: reviewer,
        round: Some(1),
        date_assigned: Some("2026-01-01 00:00:00".into()),
        date_notified: Some("2026-01-01 00:00:00".into()),
        date_completed: completed.then(|| "2026-01-15 00:00:00".into()),
        declined,
        ..Default::default()
    }
}

/// Submission 10 is the one matched. Reviewers:
/// 1 Ana: interests in coral reefs; 2 Ben: author of #10; 3 Cai: co-authored #20
/// with Dora (an author of #10); 4 Eve: same affiliation as Dora; 5 Fay: declined #10;
/// 6 Gus: disabled; 7 Hal: wrote #21 on coral bleaching; 8 Ida: reviewed #22 (fish)
/// and has 4 open reviews; 9 Jon: already assigned to #10.
fn journal() -> Batch {
    let mut reviewers = vec![
        reviewer(
            1,
            "Ana",
            "Silva",
            "Univ A",
            &["coral reefs", "marine heatwaves"],
        ),
        reviewer(2, "Ben", "Ode", "Univ B", &["coral"]),
        reviewer(3, "Cai", "Lin", "Univ C", &["coral bleaching"]),
        reviewer(
            4,
            "Eve",
            "Park",
            "University of Doraland",
            &["reef ecology"],
        ),
        reviewer(5, "Fay", "Wu", "Univ F", &["coral bleaching"]),
        reviewer(6, "Gus", "Lee", "Univ G", &["coral bleaching"]),
        reviewer(7, "Hal", "Roe", "Univ H", &[]),
        reviewer(8, "Ida", "Moe", "Univ I", &[]),
        reviewer(9, "Jon", "Ray", "Univ J", &["coral bleaching thresholds"]),
    ];
    reviewers[5].disabled = true;
    let mut target = submission(
        10,
        "Thermal thresholds for coral bleaching on West African reefs",
        "We relate coral bleaching to degree heating weeks on four reefs and find lower thermal thresholds than elsewhere.",
        vec![
            author(100, "Dora", "Kim", "University of Doraland"),
            author(101, "Ben", "Ode", "Univ B"),
        ],
    );
    target.terms.push(Term {
        kind: "keyword".into(),
        locale: "en".into(),
        term: "coral bleaching".into(),
        seq: 0,
    });
    target.review_assignments = vec![
        assignment(1, 5, false, true),
        assignment(2, 9, false, false),
    ];
    let coauthored = submission(
        20,
        "Seabird colonies and guano nutrients",
        "Guano from seabird colonies fertilises nearby waters.",
        vec![
            author(102, "Cai", "Lin", "Univ C"),
            author(103, "Dora", "Kim", "University of Doraland"),
        ],
    );
    let hal = submission(
        21,
        "Coral bleaching and heat stress: degree heating weeks as a predictor of reef bleaching",
        "Across reefs, coral bleaching followed accumulated heat stress; thresholds differ by region.",
        vec![author(104, "Hal", "Roe", "Univ H")],
    );
    let mut fish = submission(
        22,
        "Cod stock assessment with state-space models",
        "Spawning stock biomass of cod recovered after quota cuts.",
        vec![author(105, "Zed", "Zhu", "Univ Z")],
    );
    fish.review_assignments = vec![assignment(3, 8, true, false)];
    let mut busy = Vec::new();
    for k in 0..4 {
        let mut s = submission(
            30 + k,
            &format!("Open review {k} on plankton"),
            "Plankton counts.",
            vec![author(110 + k, "Yan", &format!("Q{k}"), "Univ Y")],
        );
        s.review_assignments = vec![assignment(10 + k, 8, false, false)];
        busy.push(s);
    }
    let mut upsert = vec![target, coauthored, hal, fish];
    upsert.extend(busy);
    Batch {
        journals: Some((
            vec![Journal {
                id: 1,
                path: "t".into(),
                name: "Test".into(),
                primary_locale: "en".into(),
                locales: vec!["en".into()],
                enabled: true,
            }],
            vec![],
        )),
        reviewers: Some(reviewers),
        upsert,
        ..Default::default()
    }
}

fn store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let mut s = Store::open(&d.path().join("s.sqlite3")).unwrap();
    s.apply(&journal()).unwrap();
    (d, s)
}

fn codes(r: &MatchResult, id: i64) -> Vec<String> {
    r.excluded
        .iter()
        .chain(&r.candidates)
        .find(|m| m.reviewer_id == id)
        .map(|m| {
            m.reasons
                .iter()
                .map(|x| x.code.as_str().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn conflicts_are_excluded_with_reasons() {
    let (_d, s) = store();
    let e = HashingEmbedder::default();
    let r = match_reviewers(&s, &e, 10, 10).unwrap();
    let excluded: Vec<i64> = {
        let mut v: Vec<i64> = r.excluded.iter().map(|m| m.reviewer_id).collect();
        v.sort();
        v
    };
    assert_eq!(excluded, vec![2, 3, 4, 5, 6, 9], "{r:#?}");
    assert!(codes(&r, 2).contains(&"author".to_string()));
    assert!(codes(&r, 3).contains(&"coauthor".to_string()));
    assert!(codes(&r, 4).contains(&"same_affiliation".to_string()));
    assert!(codes(&r, 5).contains(&"declined_this".to_string()));
    assert!(codes(&r, 6).contains(&"disabled".to_string()));
    assert!(codes(&r, 9).contains(&"assigned".to_string()));
    let cai = r.excluded.iter().find(|m| m.reviewer_id == 3).unwrap();
    let text = &cai.reasons[0].text;
    assert!(text.contains("Dora Kim") && text.contains("#20"), "{text}");
    for m in &r.excluded {
        assert_eq!(m.score, 0.0);
    }

    // Eligible: Hal (wrote on coral bleaching) first, Ida (fish, busy) last.
    let order: Vec<i64> = r.candidates.iter().map(|m| m.reviewer_id).collect();
    assert_eq!(order.len(), 3);
    assert_eq!(order[0], 7, "{r:#?}");
    assert_eq!(*order.last().unwrap(), 8, "{r:#?}");
    let hal = &r.candidates[0];
    assert!(hal.reasons.iter().any(|x| x.code.as_str() == "closest_work"
        && x.text.contains("#21")
        && x.text.contains("their paper")));
    let ida = r.candidates.iter().find(|m| m.reviewer_id == 8).unwrap();
    assert!(codes(&r, 8).contains(&"workload".to_string()));
    assert!(codes(&r, 8).contains(&"at_capacity".to_string()));
    assert!(ida
        .reasons
        .iter()
        .any(|x| x.code.as_str() == "closest_work" && x.text.contains("reviewed")));
    let ana = r.candidates.iter().find(|m| m.reviewer_id == 1).unwrap();
    assert!(ana
        .reasons
        .iter()
        .any(|x| x.code.as_str() == "interests" && x.text.contains("coral reefs")));
    // Scores are in 0..1 and sorted. (A calibrated expertise may reach 1.0 in a
    // journal this small: closer to the reviewer's work than every other paper.)
    assert!(r.candidates.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(r.candidates.iter().all(|m| m.score > 0.0 && m.score <= 1.0));

    // The limit cuts the candidates, never the exclusions.
    let r1 = match_reviewers(&s, &e, 10, 1).unwrap();
    assert_eq!(r1.candidates.len(), 1);
    assert_eq!(r1.excluded.len(), 6);

    assert!(matches!(
        match_reviewers(&s, &e, 999, 5),
        Err(ojscog::agents::AgentError::NoSubmission(999))
    ));
}

#[test]
fn scores_are_cached_and_recomputed_on_change() {
    let (_d, mut s) = store();
    let e = HashingEmbedder::default();
    let first = match_reviewers(&s, &e, 10, 10).unwrap();
    assert!(!first.cached);
    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM reviewer_matching_scores WHERE submission_id = 10")
            .unwrap(),
        9
    );
    let second = match_reviewers(&s, &e, 10, 10).unwrap();
    assert!(second.cached);
    assert_eq!(first.candidates, second.candidates);
    assert_eq!(first.excluded, second.excluded);

    // A reviewer changes (new interests): recomputed.
    let mut b = journal();
    if let Some(rs) = b.reviewers.as_mut() {
        rs[0].interests = vec!["coral bleaching thresholds".into()];
    }
    b.upsert.clear();
    s.apply(&b).unwrap();
    let third = match_reviewers(&s, &e, 10, 10).unwrap();
    assert!(!third.cached);
    assert!(match_reviewers(&s, &e, 10, 10).unwrap().cached);

    // The submission changes (new assignment of Ana): recomputed, Ana now excluded.
    let mut b = journal();
    b.reviewers = None;
    b.upsert.truncate(1);
    b.upsert[0].fingerprint = "t10-changed".into();
    b.upsert[0]
        .review_assignments
        .push(assignment(50, 1, false, false));
    s.apply(&b).unwrap();
    let fourth = match_reviewers(&s, &e, 10, 10).unwrap();
    assert!(!fourth.cached);
    assert!(fourth.excluded.iter().any(|m| m.reviewer_id == 1));
}

/// Another model (another sha256): vectors are re-made for it; the old model's
/// vectors of the same objects stay (one previous model is kept, issue 9).
struct OtherModel(HashingEmbedder);
impl Embedder for OtherModel {
    fn model_id(&self) -> &str {
        "other"
    }
    fn model_sha256(&self) -> &str {
        "other-model-sha"
    }
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn embed(&self, t: &[&str]) -> Result<Vec<Vec<f32>>, InferenceError> {
        self.0.embed(t)
    }
}

#[test]
fn model_update_re_embeds_lazily() {
    let (_d, s) = store();
    let a = HashingEmbedder::default();
    match_reviewers(&s, &a, 10, 10).unwrap();
    let n_a = s
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM semantic_embeddings WHERE model_sha256 = '{}'",
            a.model_sha256()
        ))
        .unwrap();
    assert!(n_a >= 5, "{n_a}");
    let b = OtherModel(HashingEmbedder::default());
    let r = match_reviewers(&s, &b, 10, 10).unwrap();
    assert!(!r.cached, "new model: scores recomputed");
    assert_eq!(r.model_sha256, "other-model-sha");
    let n_b = s
        .scalar_i64(
            "SELECT COUNT(*) FROM semantic_embeddings WHERE model_sha256 = 'other-model-sha'",
        )
        .unwrap();
    assert_eq!(n_b, n_a);
    let left = s
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM semantic_embeddings WHERE model_sha256 = '{}'",
            a.model_sha256()
        ))
        .unwrap();
    assert_eq!(
        left, n_a,
        "the previous model's vectors are kept for switching back"
    );
    // Back on the first model: nothing to embed, the scores only recomputed.
    let again = match_reviewers(&s, &a, 10, 10).unwrap();
    assert_eq!(again.model_sha256, a.model_sha256());
}

#[test]
fn read_only_store_still_answers() {
    let (d, s) = store();
    drop(s);
    let ro = Store::open_read_only(&d.path().join("s.sqlite3")).unwrap();
    let r = match_reviewers(&ro, &HashingEmbedder::default(), 10, 10).unwrap();
    assert!(!r.cached);
    assert_eq!(r.candidates.len(), 3);
}

#[test]
fn demo_journal_matches() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("demo.sqlite3");
    ojscog::demo::load(&p).unwrap();
    let s = Store::open(&p).unwrap();
    let r = match_reviewers(&s, &HashingEmbedder::default(), 1, 10).unwrap();
    // Submission 1 has Amara and Daniel assigned and Mei declined.
    let mut ex: Vec<&str> = r.excluded.iter().map(|m| m.name.as_str()).collect();
    ex.sort();
    assert_eq!(
        ex,
        vec!["Amara Okafor", "Daniel Whitfield", "Mei Tanaka"],
        "{r:#?}"
    );
    assert_eq!(r.candidates.len(), 3);
    let json = serde_json::to_value(&r).unwrap();
    assert!(json["candidates"][0]["reasons"].is_array());
}
