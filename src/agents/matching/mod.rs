//! Reviewer matching: rank a journal's reviewers for one submission, with the
//! reasons, and list the reviewers excluded for a conflict of interest.
//!
//! Expertise is the similarity of the submission (title, abstract, keywords)
//! to a reviewer's profile: their own earlier papers in the journal (submissions
//! where they are an author, matched by email or name), the submissions they
//! completed reviews for, and their stated interests. Each profile document is
//! compared twice, by meaning (sentence embeddings, cosine) and by exact terms
//! (TF-IDF cosine); each channel is aggregated over the profile as the mean of
//! the top 3 documents ([`Aggregation`]).
//!
//! **What the expertise number means.** Each reviewer is calibrated against a
//! background: the same comparison with up to [`BACKGROUND_PAPERS`] of the
//! journal's papers (a stable sample, without their own). Each channel is
//! z-scored against the reviewer's background, blended 0.7/0.3 (plus the
//! stated interests), standardised again, and shown through the normal CDF
//! ([`expertise_of`]): expertise 0.98 means "closer to this reviewer's work than
//! about 98 % of the journal's papers", whichever submission is ranked and
//! whoever else is a candidate, so the numbers compare across submissions and
//! reviewers. The raw channel values are in [`ReviewerMatch::channels`]. The
//! product-path evaluation (`ojscog eval reviewer-gold --ojs`) scores exactly
//! these numbers as the API returns them.
//!
//! The ranking score multiplies expertise by workload,
//! responsiveness and speed factors, each shown as a reason with its effect.
//! Scores are cached in `reviewer_matching_scores` under a hash of every input;
//! embeddings in `semantic_embeddings` under the model's sha256.
//!
//! The parts: `expertise.rs` (the expertise model — the only part the
//! evaluation needs), `conflicts.rs` (who may review: conflicts of interest and
//! each reviewer's profile documents), `factors.rs` (workload and
//! responsiveness), `reasons.rs` (typed reason codes), `scoring.rs` (one
//! ranking's computation) and `cache.rs` (the scores cache).

mod cache;
mod conflicts;
mod expertise;
mod factors;
mod memo;
mod reasons;
mod scoring;

pub use conflicts::ProfileSource;
pub use expertise::{
    doc_text, expertise_of, interests_text, sample_key, term_key, Affinity, Aggregation,
    Calibration, ExpertiseModel, Moments, ProfileDoc,
};
pub use memo::{MatchMemo, MEMO_ENTRIES};
pub use reasons::{Reason, ReasonCode};

use super::AgentError;
use crate::inference::Embedder;
use crate::store::agents::AssignmentFact;
use crate::store::{AgentRun, Store};
use serde::{Deserialize, Serialize};

/// Bump when the scoring changes, so cached scores are recomputed.
pub const ALGO_VERSION: &str = "match-v2";
/// Each reviewer is calibrated against at most this many of the journal's papers.
pub const BACKGROUND_PAPERS: usize = 200;
/// At most this many profile papers per reviewer (most recent first).
pub const MAX_PROFILE_PAPERS: usize = 40;
/// Open reviews at which a reviewer counts as at capacity.
pub const CAPACITY: i64 = 4;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewerMatch {
    pub reviewer_id: i64,
    pub name: String,
    pub email: String,
    pub affiliation: String,
    /// Ranking score in 0..1 (0 for excluded reviewers).
    pub score: f64,
    /// Expertise alone, 0..1, calibrated: about the share of the journal's
    /// papers further from the reviewer's work than this submission.
    pub expertise: f64,
    /// The raw similarities behind it, before calibration.
    pub channels: Channels,
    pub excluded: bool,
    pub reasons: Vec<Reason>,
}

/// One reviewer's raw similarities to the submission, aggregated over their
/// profile: by meaning (embedding cosine), by shared terms (TF-IDF cosine), and
/// the best stated interest (cosine). None where the profile has nothing.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Channels {
    pub meaning: Option<f32>,
    pub terms: Option<f32>,
    pub interests: Option<f32>,
}

impl Channels {
    pub fn of(a: &Affinity) -> Channels {
        let r = |x: Option<f32>| x.map(|x| (x * 1e4).round() / 1e4);
        Channels {
            meaning: r(a.semantic),
            terms: r(a.lexical),
            interests: r(a.interests),
        }
    }

    /// Back to the expertise model's affinity (for re-normalising in evaluations).
    pub fn affinity(&self) -> Affinity {
        Affinity {
            semantic: self.meaning,
            lexical: self.terms,
            interests: self.interests,
            ..Affinity::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchResult {
    pub submission_id: i64,
    pub model_id: String,
    pub model_sha256: String,
    /// True when served from `reviewer_matching_scores` without recomputing.
    pub cached: bool,
    pub computed_at: i64,
    /// Eligible reviewers, best first, at most `limit`.
    pub candidates: Vec<ReviewerMatch>,
    /// How many eligible reviewers there are in all (page with `offset`).
    pub total_candidates: usize,
    /// Every reviewer excluded for a conflict or unavailability, with the reasons.
    pub excluded: Vec<ReviewerMatch>,
}

// ---- identity, profiles and conflicts -----------------------------------------

/// Which vectors a matching run may compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedPolicy {
    /// Embed whatever is not stored (the CLI, evaluation, benchmarks).
    Everything,
    /// Embed at most the submission's own text; every profile vector must have
    /// been made by the background indexer, else [`AgentError::Indexing`].
    /// Requests use this: a ranking where some reviewers lack the meaning
    /// channel would not be comparable across reviewers (each channel is
    /// z-scored over the candidates), so it is refused rather than faked.
    SubmissionOnly,
}

/// Ranks the reviewers for `submission_id`: the best `limit` eligible ones with
/// their reasons, plus every excluded reviewer with the exclusion's reason.
///
/// Served from `reviewer_matching_scores` when nothing it depends on changed;
/// otherwise recomputed (embedding only texts whose vectors are not cached for
/// this model) and written back. Writes are best effort: with a read-only
/// store it still answers, it just cannot cache. Embeds whatever is missing:
/// for offline use; the service calls [`match_reviewers_indexed`].
pub fn match_reviewers(
    store: &Store,
    embedder: &dyn Embedder,
    submission_id: i64,
    limit: usize,
) -> Result<MatchResult, AgentError> {
    match_reviewers_with(
        store,
        embedder,
        submission_id,
        limit,
        &ExpertiseModel::default(),
    )
}

/// [`match_reviewers`] for a request: embeds at most the submission's own text
/// (one document) and answers [`AgentError::Indexing`] while any reviewer
/// profile lacks the vector the background indexer makes.
pub fn match_reviewers_indexed(
    store: &Store,
    embedder: &dyn Embedder,
    submission_id: i64,
    limit: usize,
) -> Result<MatchResult, AgentError> {
    match_reviewers_policy(
        store,
        embedder,
        submission_id,
        limit,
        &ExpertiseModel::default(),
        EmbedPolicy::SubmissionOnly,
    )
}

/// [`match_reviewers`] with an explicit expertise model (for experiments).
pub fn match_reviewers_with(
    store: &Store,
    embedder: &dyn Embedder,
    submission_id: i64,
    limit: usize,
    model: &ExpertiseModel,
) -> Result<MatchResult, AgentError> {
    match_reviewers_policy(
        store,
        embedder,
        submission_id,
        limit,
        model,
        EmbedPolicy::Everything,
    )
}

/// [`match_reviewers_with`] under an [`EmbedPolicy`].
pub fn match_reviewers_policy(
    store: &Store,
    embedder: &dyn Embedder,
    submission_id: i64,
    limit: usize,
    model: &ExpertiseModel,
    policy: EmbedPolicy,
) -> Result<MatchResult, AgentError> {
    let started = std::time::Instant::now();
    let now = crate::system::unix_now();
    let corpus = store.corpus()?;
    let sub_idx = corpus
        .iter()
        .position(|d| d.id == submission_id)
        .ok_or(AgentError::NoSubmission(submission_id))?;
    let sub = &corpus[sub_idx];
    let reviewers = store.reviewer_facts()?;
    let assignments = store.assignment_facts()?;
    let cands = conflicts::build_candidates(sub, &corpus, &reviewers, &assignments);
    let sub_assignments: Vec<&AssignmentFact> = assignments
        .iter()
        .filter(|a| a.submission_id == submission_id)
        .collect();
    let background = scoring::background(&corpus, sub_idx);
    let hash = cache::inputs_hash(
        sub,
        &sub_assignments,
        &cands,
        &corpus,
        &background,
        embedder.model_sha256(),
        model,
    );

    if let Some(result) = cache::lookup(store, submission_id, embedder, &cands, &hash, limit)? {
        return Ok(result);
    }
    let profiles = scoring::gather(store, embedder, &corpus, sub_idx, &cands, policy)?;
    let compared = scoring::affinities(model, &corpus, sub, &background, &cands, &profiles);
    let all = scoring::explain(model, sub, &cands, &compared);
    cache::store(store, submission_id, embedder, &all, &hash, now);
    let _ = store.log_agent_run(&AgentRun {
        agent: "reviewer_matching".into(),
        submission_id: Some(submission_id),
        started_at: now,
        duration_seconds: started.elapsed().as_secs_f64(),
        outcome: "ok".into(),
        model_id: Some(embedder.model_id().to_string()),
        detail: Some(format!("{} reviewers", all.len())),
    });
    Ok(split(submission_id, embedder, all, false, now, limit))
}

fn split(
    submission_id: i64,
    embedder: &dyn Embedder,
    all: Vec<ReviewerMatch>,
    cached: bool,
    computed_at: i64,
    limit: usize,
) -> MatchResult {
    let (mut excluded, mut candidates): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|m| m.excluded);
    candidates.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.reviewer_id.cmp(&b.reviewer_id))
    });
    let total_candidates = candidates.len();
    candidates.truncate(limit);
    excluded.sort_by(|a, b| {
        b.expertise
            .total_cmp(&a.expertise)
            .then(a.reviewer_id.cmp(&b.reviewer_id))
    });
    MatchResult {
        submission_id,
        model_id: embedder.model_id().to_string(),
        model_sha256: embedder.model_sha256().to_string(),
        cached,
        computed_at,
        candidates,
        total_candidates,
        excluded,
    }
}
