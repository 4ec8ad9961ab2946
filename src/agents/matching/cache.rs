//! The scores cache (`reviewer_matching_scores`): a ranking is kept under a
//! hash of every input it depends on, and served again while that hash holds.

use super::conflicts::{Candidate, ProfileSource};
use super::expertise::{doc_text, ExpertiseModel};
use super::reasons::Reason;
use super::{split, Channels, MatchResult, ReviewerMatch, ALGO_VERSION};
use crate::agents::AgentError;
use crate::inference::Embedder;
use crate::store::agents::{AssignmentFact, CorpusDoc, ReviewerFacts, ScoreRow};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Everything the cache key covers: the submission, every reviewer's facts and
/// profile (ids + text hashes), the model and the algorithm.
pub(super) fn inputs_hash(
    sub: &CorpusDoc,
    sub_assignments: &[&AssignmentFact],
    cands: &[Candidate],
    corpus: &[CorpusDoc],
    background: &[usize],
    model_sha: &str,
    model: &ExpertiseModel,
) -> String {
    /// A profile document in the key: (submission id, source, text hash).
    type ProfileKey = (i64, ProfileSource, String);
    #[derive(Serialize)]
    struct Key<'a> {
        algo: &'a str,
        model_sha: &'a str,
        model: &'a ExpertiseModel,
        sub: &'a CorpusDoc,
        assignments: &'a [&'a AssignmentFact],
        reviewers: Vec<(&'a ReviewerFacts, Vec<ProfileKey>)>,
        background: Vec<(i64, String)>,
    }
    let text_hash = |d: &CorpusDoc| {
        crate::agents::sha256_hex(&doc_text(&d.title, &d.abstract_text, &d.keywords))
    };
    let key = Key {
        algo: ALGO_VERSION,
        model_sha,
        model,
        sub,
        assignments: sub_assignments,
        reviewers: cands
            .iter()
            .map(|c| {
                (
                    c.facts,
                    c.papers
                        .iter()
                        .map(|(i, s)| (corpus[*i].id, *s, text_hash(&corpus[*i])))
                        .collect(),
                )
            })
            .collect(),
        background: background
            .iter()
            .map(|&i| (corpus[i].id, text_hash(&corpus[i])))
            .collect(),
    };
    crate::agents::sha256_hex(&serde_json::to_string(&key).unwrap_or_default())
}

/// The cached ranking, when every candidate's row is there under `hash`.
pub(super) fn lookup(
    store: &Store,
    submission_id: i64,
    embedder: &dyn Embedder,
    cands: &[Candidate],
    hash: &str,
    limit: usize,
) -> Result<Option<MatchResult>, AgentError> {
    let cached = store.match_scores(submission_id)?;
    if !cached.is_empty()
        && cached.len() == cands.len()
        && cached
            .iter()
            .all(|r| r.inputs_hash == hash && r.model_sha256 == embedder.model_sha256())
    {
        return Ok(from_cache(submission_id, embedder, cands, &cached, limit));
    }
    Ok(None)
}

/// Writes a fresh ranking back (best effort: a read-only store still answers).
pub(super) fn store(
    store: &Store,
    submission_id: i64,
    embedder: &dyn Embedder,
    all: &[ReviewerMatch],
    hash: &str,
    now: i64,
) {
    let rows: Vec<ScoreRow> = all
        .iter()
        .map(|m| ScoreRow {
            reviewer_id: m.reviewer_id,
            score: m.score,
            excluded: m.excluded,
            reasons_json: serde_json::to_string(&CachedReasons {
                expertise: m.expertise,
                channels: m.channels,
                reasons: m.reasons.clone(),
            })
            .unwrap_or_else(|_| "{}".into()),
            model_sha256: embedder.model_sha256().to_string(),
            inputs_hash: hash.to_string(),
            computed_at: now,
        })
        .collect();
    if let Err(e) = store.replace_match_scores(submission_id, &rows) {
        tracing::debug!(error = %e, "cannot cache match scores (read-only store?)");
    }
}

/// What `reasons` holds in the cache: the expertise and the reasons.
#[derive(Serialize, Deserialize)]
struct CachedReasons {
    expertise: f64,
    #[serde(default)]
    channels: Channels,
    reasons: Vec<Reason>,
}

fn from_cache(
    submission_id: i64,
    embedder: &dyn Embedder,
    cands: &[Candidate],
    rows: &[ScoreRow],
    limit: usize,
) -> Option<MatchResult> {
    let by_id: HashMap<i64, &ScoreRow> = rows.iter().map(|r| (r.reviewer_id, r)).collect();
    let mut all = Vec::with_capacity(cands.len());
    let mut computed_at = 0;
    for c in cands {
        let row = by_id.get(&c.facts.id)?;
        let cr: CachedReasons = serde_json::from_str(&row.reasons_json).ok()?;
        computed_at = row.computed_at;
        all.push(ReviewerMatch {
            reviewer_id: c.facts.id,
            name: c.facts.name.clone(),
            email: c.facts.email.clone(),
            affiliation: c.facts.affiliation.clone(),
            score: row.score,
            expertise: cr.expertise,
            channels: cr.channels,
            excluded: row.excluded,
            reasons: cr.reasons,
        });
    }
    Some(split(
        submission_id,
        embedder,
        all,
        true,
        computed_at,
        limit,
    ))
}
