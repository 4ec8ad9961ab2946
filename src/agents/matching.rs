//! Reviewer matching: rank a journal's reviewers for one submission, with the
//! reasons, and list the reviewers excluded for a conflict of interest.
//!
//! Expertise is the similarity of the submission (title, abstract, keywords)
//! to a reviewer's profile: their own earlier papers in the journal (submissions
//! where they are an author, matched by email or name), the submissions they
//! completed reviews for, and their stated interests. Each profile document is
//! compared twice, by meaning (sentence embeddings, cosine) and by exact terms
//! (TF-IDF cosine); each channel is aggregated over the profile as the mean of
//! the top 3 documents ([`Aggregation`]), both channels are z-scored over the
//! candidates being ranked and blended 0.7/0.3 ([`ExpertiseModel`]). The
//! reviewer-gold evaluation (`crate::eval`) runs exactly this code.
//!
//! The ranking score multiplies expertise (squashed to 0..1) by workload,
//! responsiveness and speed factors, each shown as a reason with its effect.
//! Scores are cached in `reviewer_matching_scores` under a hash of every input;
//! embeddings in `semantic_embeddings` under the model's sha256.

use super::{ensure_embeddings, AgentError};
use crate::inference::{dot, Embedder};
use crate::store::agents::{AssignmentFact, CorpusDoc, ReviewerFacts, ScoreRow};
use crate::store::{AgentRun, Store};
use crate::text::{tokens, SparseVec, TfIdf};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// Bump when the scoring changes, so cached scores are recomputed.
pub const ALGO_VERSION: &str = "match-v1";
/// At most this many profile papers per reviewer (most recent first).
pub const MAX_PROFILE_PAPERS: usize = 40;
/// Open reviews at which a reviewer counts as at capacity.
pub const CAPACITY: i64 = 4;

/// How one channel's similarities over a reviewer's profile documents become one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aggregation {
    Max,
    Mean,
    /// Mean of the k most similar documents (all of them when fewer).
    TopKMean(usize),
}

impl Aggregation {
    pub fn apply(&self, sims: &[f32]) -> Option<f32> {
        if sims.is_empty() {
            return None;
        }
        match *self {
            Aggregation::Max => sims.iter().copied().reduce(f32::max),
            Aggregation::Mean => Some(sims.iter().sum::<f32>() / sims.len() as f32),
            Aggregation::TopKMean(k) => {
                let mut v = sims.to_vec();
                v.sort_by(|a, b| b.total_cmp(a));
                let k = k.max(1).min(v.len());
                Some(v[..k].iter().sum::<f32>() / k as f32)
            }
        }
    }

    pub fn label(&self) -> String {
        match self {
            Aggregation::Max => "max".into(),
            Aggregation::Mean => "mean".into(),
            Aggregation::TopKMean(k) => format!("mean of top {k}"),
        }
    }
}

/// The expertise part of the score; production and evaluation share it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExpertiseModel {
    pub aggregation: Aggregation,
    /// Weight of the z-scored embedding channel.
    pub semantic_weight: f32,
    /// Weight of the z-scored TF-IDF channel.
    pub lexical_weight: f32,
    /// Weight of the z-scored stated-interest channel (best single interest term
    /// against the paper). Production only: the gold data has no interests, so
    /// it cannot be measured there; reviewers without interests get 0 (neutral).
    #[serde(default)]
    pub interest_weight: f32,
}

impl Default for ExpertiseModel {
    /// Chosen on the reviewer-gold data (see BENCHMARKS.md): top-3 mean, 0.7/0.3.
    fn default() -> Self {
        ExpertiseModel {
            aggregation: Aggregation::TopKMean(3),
            semantic_weight: 0.7,
            lexical_weight: 0.3,
            interest_weight: 0.5,
        }
    }
}

/// One profile document as the expertise model sees it.
#[derive(Debug, Clone, Copy)]
pub struct ProfileDoc<'a> {
    pub vector: &'a [f32],
    pub terms: &'a SparseVec,
}

/// A reviewer's affinity to one paper, before normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Affinity {
    /// Aggregated embedding cosine; None when the profile is empty.
    pub semantic: Option<f32>,
    /// Aggregated TF-IDF cosine.
    pub lexical: Option<f32>,
    /// Index of the most similar profile document (by meaning).
    pub best: Option<usize>,
    pub best_similarity: f32,
    /// Best cosine of one stated interest term with the paper.
    pub interests: Option<f32>,
    /// Index of that interest term.
    pub best_interest: Option<usize>,
}

impl ExpertiseModel {
    /// Compares one paper with one reviewer's stated interest terms (one vector each).
    pub fn interest_affinity(&self, vector: &[f32], interests: &[&[f32]], into: &mut Affinity) {
        let best = interests
            .iter()
            .map(|v| dot(vector, v))
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, s)) = best {
            into.interests = Some(s);
            into.best_interest = Some(i);
        }
    }

    /// Compares one paper with one reviewer's profile.
    pub fn affinity(&self, vector: &[f32], terms: &SparseVec, profile: &[ProfileDoc]) -> Affinity {
        if profile.is_empty() {
            return Affinity::default();
        }
        let sem: Vec<f32> = profile.iter().map(|d| dot(vector, d.vector)).collect();
        let lex: Vec<f32> = profile.iter().map(|d| terms.dot(d.terms)).collect();
        let (best, best_similarity) = sem
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or((None, 0.0), |(i, s)| (Some(i), s));
        Affinity {
            semantic: self.aggregation.apply(&sem),
            lexical: self.aggregation.apply(&lex),
            best,
            best_similarity,
            interests: None,
            best_interest: None,
        }
    }

    /// Blends the affinities of the candidates being ranked against each other
    /// (reviewers for one paper in production, papers for one reviewer in the
    /// evaluation): each channel is z-scored over the set, then weighted.
    /// Candidates without a profile get None.
    pub fn blend(&self, affinities: &[Affinity]) -> Vec<Option<f32>> {
        let zs = zscores(affinities.iter().map(|a| a.semantic));
        let zl = zscores(affinities.iter().map(|a| a.lexical));
        let zi = zscores(affinities.iter().map(|a| a.interests));
        zs.iter()
            .zip(&zl)
            .zip(&zi)
            .map(|((s, l), i)| {
                let base = match (s, l) {
                    (Some(s), Some(l)) => Some(self.semantic_weight * s + self.lexical_weight * l),
                    (Some(s), None) => Some(self.semantic_weight * s),
                    _ => None,
                };
                match (base, i) {
                    (Some(b), Some(i)) => Some(b + self.interest_weight * i),
                    (Some(b), None) => Some(b),
                    (None, Some(i)) if self.interest_weight > 0.0 => Some(self.interest_weight * i),
                    _ => None,
                }
            })
            .collect()
    }
}

fn zscores(values: impl Iterator<Item = Option<f32>>) -> Vec<Option<f32>> {
    let v: Vec<Option<f32>> = values.collect();
    let present: Vec<f32> = v.iter().flatten().copied().collect();
    if present.is_empty() {
        return v;
    }
    let n = present.len() as f32;
    let mean = present.iter().sum::<f32>() / n;
    let var = present.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n;
    let sd = var.sqrt();
    v.into_iter()
        .map(|x| x.map(|x| if sd > 1e-9 { (x - mean) / sd } else { 0.0 }))
        .collect()
}

/// The text a paper is embedded and indexed by: `title. abstract Keywords: a, b.`
pub fn doc_text(title: &str, abstract_text: &str, keywords: &[String]) -> String {
    let mut s = String::new();
    let title = title.trim();
    if !title.is_empty() {
        s.push_str(title);
        if !title.ends_with(['.', '?', '!']) {
            s.push('.');
        }
    }
    let a = abstract_text.trim();
    if !a.is_empty() {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(a);
    }
    if !keywords.is_empty() {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str("Keywords: ");
        s.push_str(&keywords.join(", "));
        s.push('.');
    }
    s
}

/// Object id of one interest term in `semantic_embeddings` (kind `interest_term`).
pub fn term_key(term: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(term.trim().to_lowercase().as_bytes());
    i64::from_le_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])
}

/// The text of a reviewer's stated interests.
pub fn interests_text(interests: &[String]) -> String {
    if interests.is_empty() {
        String::new()
    } else {
        format!("Research interests: {}.", interests.join(", "))
    }
}

// ---- the result ---------------------------------------------------------------

/// What a [`Reason`] is about; serialized as its snake_case name
/// (`"closest_work"`), as the API has always shown it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    Expertise,
    ClosestWork,
    Interests,
    InterestMeaning,
    NoProfile,
    Workload,
    AtCapacity,
    Declines,
    Slow,
    Responsive,
    Author,
    Coauthor,
    SameAffiliation,
    Assigned,
    DeclinedThis,
    Disabled,
}

impl ReasonCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::Expertise => "expertise",
            ReasonCode::ClosestWork => "closest_work",
            ReasonCode::Interests => "interests",
            ReasonCode::InterestMeaning => "interest_meaning",
            ReasonCode::NoProfile => "no_profile",
            ReasonCode::Workload => "workload",
            ReasonCode::AtCapacity => "at_capacity",
            ReasonCode::Declines => "declines",
            ReasonCode::Slow => "slow",
            ReasonCode::Responsive => "responsive",
            ReasonCode::Author => "author",
            ReasonCode::Coauthor => "coauthor",
            ReasonCode::SameAffiliation => "same_affiliation",
            ReasonCode::Assigned => "assigned",
            ReasonCode::DeclinedThis => "declined_this",
            ReasonCode::Disabled => "disabled",
        }
    }

    /// A conflict of interest or unavailability that excludes the reviewer.
    pub fn excludes(self) -> bool {
        matches!(
            self,
            ReasonCode::Author
                | ReasonCode::Coauthor
                | ReasonCode::SameAffiliation
                | ReasonCode::Assigned
                | ReasonCode::DeclinedThis
                | ReasonCode::Disabled
        )
    }

    /// A factor the score was multiplied by (its `effect`).
    pub fn is_factor(self) -> bool {
        matches!(
            self,
            ReasonCode::Workload | ReasonCode::AtCapacity | ReasonCode::Declines | ReasonCode::Slow
        )
    }
}

/// Why a reviewer got their score or was excluded. `effect` is the factor the
/// score was multiplied by (workload etc.), or the value of a component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: ReasonCode,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<f64>,
}

fn reason(code: ReasonCode, text: String, effect: Option<f64>) -> Reason {
    Reason {
        code,
        text,
        effect: effect.map(r4),
    }
}

/// Four decimals: enough to rank, and exact through the JSON cache.
fn r4(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e4).round() / 1e4
    } else {
        0.0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewerMatch {
    pub reviewer_id: i64,
    pub name: String,
    pub email: String,
    pub affiliation: String,
    /// Ranking score in 0..1 (0 for excluded reviewers).
    pub score: f64,
    /// Expertise alone, 0..1.
    pub expertise: f64,
    pub excluded: bool,
    pub reasons: Vec<Reason>,
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
    /// Every reviewer excluded for a conflict or unavailability, with the reasons.
    pub excluded: Vec<ReviewerMatch>,
}

// ---- identity, profiles and conflicts -----------------------------------------

fn norm_email(e: &str) -> Option<String> {
    let e = e.trim().to_lowercase();
    (e.contains('@')).then_some(e)
}

/// Name key: lowercase letters of the words, accents kept, order kept.
fn norm_name(n: &str) -> Option<String> {
    let words: Vec<String> = n
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect();
    (words.len() >= 2).then(|| words.join(" "))
}

fn norm_affiliation(a: &str) -> Option<String> {
    let k: String = a
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && *w != "the" && *w != "of")
        .collect::<Vec<_>>()
        .join(" ");
    (k.len() >= 4).then_some(k)
}

fn same_person(r: &ReviewerFacts, p: &crate::store::agents::Person) -> bool {
    match (norm_email(&r.email), norm_email(&p.email)) {
        (Some(a), Some(b)) if a == b => return true,
        _ => {}
    }
    matches!((norm_name(&r.name), norm_name(&p.name)), (Some(a), Some(b)) if a == b)
}

/// How a document got into a reviewer's profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ProfileSource {
    Authored,
    Reviewed,
    Interests,
}

struct Candidate<'a> {
    facts: &'a ReviewerFacts,
    /// (corpus index, source)
    papers: Vec<(usize, ProfileSource)>,
    conflicts: Vec<Reason>,
}

fn build_candidates<'a>(
    sub: &CorpusDoc,
    corpus: &'a [CorpusDoc],
    reviewers: &'a [ReviewerFacts],
    assignments: &[AssignmentFact],
) -> Vec<Candidate<'a>> {
    // Who wrote what (by corpus index), for profiles and co-authorship.
    let sub_author_keys: Vec<(Option<String>, Option<String>, &str)> = sub
        .authors
        .iter()
        .map(|a| (norm_email(&a.email), norm_name(&a.name), a.name.as_str()))
        .collect();
    let is_sub_author = |p: &crate::store::agents::Person| -> Option<String> {
        let (e, n) = (norm_email(&p.email), norm_name(&p.name));
        sub_author_keys
            .iter()
            .find(|(se, sn, _)| (se.is_some() && *se == e) || (sn.is_some() && *sn == n))
            .map(|(_, _, name)| name.to_string())
    };
    let reviewed: HashMap<i64, Vec<i64>> = {
        let mut m: HashMap<i64, Vec<i64>> = HashMap::new();
        for a in assignments {
            if a.completed && !a.declined && !a.cancelled {
                m.entry(a.reviewer_id).or_default().push(a.submission_id);
            }
        }
        m
    };
    let index: HashMap<i64, usize> = corpus.iter().enumerate().map(|(i, d)| (d.id, i)).collect();
    let sub_affs: Vec<(String, &str, &str)> = sub
        .authors
        .iter()
        .filter_map(|a| {
            norm_affiliation(&a.affiliation).map(|k| (k, a.name.as_str(), a.affiliation.as_str()))
        })
        .collect();

    let mut by_email: HashMap<String, Vec<usize>> = HashMap::new();
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, d) in corpus.iter().enumerate() {
        for a in &d.authors {
            if let Some(e) = norm_email(&a.email) {
                by_email.entry(e).or_default().push(i);
            }
            if let Some(n) = norm_name(&a.name) {
                by_name.entry(n).or_default().push(i);
            }
        }
    }
    let sub_asg: Vec<&AssignmentFact> = assignments
        .iter()
        .filter(|a| a.submission_id == sub.id)
        .collect();

    reviewers
        .iter()
        .map(|r| {
            let mut conflicts = Vec::new();
            if r.disabled {
                conflicts.push(reason(
                    ReasonCode::Disabled,
                    "reviewer account is disabled".into(),
                    None,
                ));
            }
            if sub.authors.iter().any(|a| same_person(r, a)) {
                conflicts.push(reason(
                    ReasonCode::Author,
                    "is an author of this submission".into(),
                    None,
                ));
            }
            if let Some(k) = norm_affiliation(&r.affiliation) {
                if let Some((_, who, aff)) = sub_affs.iter().find(|(a, _, _)| *a == k) {
                    conflicts.push(reason(
                        ReasonCode::SameAffiliation,
                        format!("same affiliation as author {who} ({aff})"),
                        None,
                    ));
                }
            }
            for a in sub_asg.iter().filter(|a| a.reviewer_id == r.id) {
                if a.declined {
                    conflicts.push(reason(
                        ReasonCode::DeclinedThis,
                        "declined to review this submission".into(),
                        None,
                    ));
                } else if !a.cancelled {
                    let round = a.round.map(|r| format!(" (round {r})")).unwrap_or_default();
                    conflicts.push(reason(
                        ReasonCode::Assigned,
                        format!("already assigned to this submission{round}"),
                        None,
                    ));
                }
            }
            let mut papers: Vec<(usize, ProfileSource)> = Vec::new();
            let mut coauthored: Vec<String> = Vec::new();
            // Papers with an author of the same email or the same name (indexed).
            let mut mine: Vec<usize> = Vec::new();
            if let Some(v) = norm_email(&r.email).and_then(|e| by_email.get(&e)) {
                mine.extend(v);
            }
            if let Some(v) = norm_name(&r.name).and_then(|n| by_name.get(&n)) {
                mine.extend(v);
            }
            mine.sort_unstable();
            mine.dedup();
            for i in mine {
                let d = &corpus[i];
                if d.id == sub.id {
                    continue;
                }
                {
                    papers.push((i, ProfileSource::Authored));
                    if let Some(who) = d.authors.iter().find_map(&is_sub_author) {
                        if coauthored.len() < 3 {
                            coauthored.push(format!("with {who} on \"{}\" (#{})", d.title, d.id));
                        }
                    }
                }
            }
            if !coauthored.is_empty() && !conflicts.iter().any(|c| c.code == ReasonCode::Author) {
                conflicts.push(reason(
                    ReasonCode::Coauthor,
                    format!("co-authored {}", coauthored.join("; ")),
                    None,
                ));
            }
            if let Some(ids) = reviewed.get(&r.id) {
                for id in ids {
                    if *id == sub.id {
                        continue;
                    }
                    if let Some(&i) = index.get(id) {
                        if !papers.iter().any(|(j, _)| *j == i) {
                            papers.push((i, ProfileSource::Reviewed));
                        }
                    }
                }
            }
            // Most recent first (ids grow with time), bounded.
            papers.sort_by_key(|(i, _)| std::cmp::Reverse(corpus[*i].id));
            papers.truncate(MAX_PROFILE_PAPERS);
            Candidate {
                facts: r,
                papers,
                conflicts,
            }
        })
        .collect()
}

// ---- scoring -------------------------------------------------------------------

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Workload, responsiveness and speed factors, with their reasons.
fn adjustments(r: &ReviewerFacts) -> (f64, Vec<Reason>) {
    let mut f = 1.0;
    let mut out = Vec::new();
    if r.active > 0 {
        let w = 1.0 / (1.0 + 0.2 * r.active as f64);
        f *= w;
        out.push(reason(
            ReasonCode::Workload,
            format!(
                "{} open review{}",
                r.active,
                if r.active == 1 { "" } else { "s" }
            ),
            Some(w),
        ));
    }
    if r.active >= CAPACITY {
        f *= 0.5;
        out.push(reason(
            ReasonCode::AtCapacity,
            format!("at capacity ({CAPACITY} or more open reviews)"),
            Some(0.5),
        ));
    }
    if r.declined > 0 && r.assigned >= 2 {
        // Smoothed toward a 25 % prior so one decline out of two is not damning.
        let rate = (r.declined as f64 + 0.5) / (r.assigned as f64 + 2.0);
        let d = 1.0 - 0.6 * (rate - 0.25).max(0.0);
        f *= d;
        out.push(reason(
            ReasonCode::Declines,
            format!("declined {} of {} invitations", r.declined, r.assigned),
            Some(d),
        ));
    }
    if let Some(days) = r.avg_days_to_complete.filter(|d| d.is_finite()) {
        let s = if days > 42.0 {
            0.8
        } else if days > 28.0 {
            0.9
        } else {
            1.0
        };
        if s < 1.0 {
            f *= s;
            out.push(reason(
                ReasonCode::Slow,
                format!("takes {days:.0} days on average to complete a review"),
                Some(s),
            ));
        } else if r.completed > 0 {
            out.push(reason(
                ReasonCode::Responsive,
                format!("completes reviews in {days:.0} days on average"),
                Some(1.0),
            ));
        }
    }
    (f, out)
}

/// Everything the cache key covers: the submission, every reviewer's facts and
/// profile (ids + text hashes), the model and the algorithm.
fn inputs_hash(
    sub: &CorpusDoc,
    sub_assignments: &[&AssignmentFact],
    cands: &[Candidate],
    corpus: &[CorpusDoc],
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
    }
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
                        .map(|(i, s)| {
                            let d = &corpus[*i];
                            (
                                d.id,
                                *s,
                                super::sha256_hex(&doc_text(
                                    &d.title,
                                    &d.abstract_text,
                                    &d.keywords,
                                )),
                            )
                        })
                        .collect(),
                )
            })
            .collect(),
    };
    super::sha256_hex(&serde_json::to_string(&key).unwrap_or_default())
}

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

/// Vectors of `items` under `policy`: all computed ([`EmbedPolicy::Everything`])
/// or only looked up, with the (present, missing) counts added to `tally`.
fn vectors_for(
    store: &Store,
    embedder: &dyn Embedder,
    kind: &str,
    items: &[(i64, String)],
    policy: EmbedPolicy,
    tally: &mut (usize, usize),
) -> Result<HashMap<i64, Vec<f32>>, AgentError> {
    match policy {
        EmbedPolicy::Everything => ensure_embeddings(store, embedder, kind, items),
        EmbedPolicy::SubmissionOnly => {
            let (have, missing) = super::stored_embeddings(
                store,
                embedder.model_sha256(),
                embedder.dim(),
                kind,
                items,
            )?;
            tally.0 += have.len();
            tally.1 += missing.len();
            Ok(have)
        }
    }
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
    let cands = build_candidates(sub, &corpus, &reviewers, &assignments);
    let sub_assignments: Vec<&AssignmentFact> = assignments
        .iter()
        .filter(|a| a.submission_id == submission_id)
        .collect();
    let hash = inputs_hash(
        sub,
        &sub_assignments,
        &cands,
        &corpus,
        embedder.model_sha256(),
        model,
    );

    // ---- cache ----
    let cached = store.match_scores(submission_id)?;
    if !cached.is_empty()
        && cached.len() == cands.len()
        && cached
            .iter()
            .all(|r| r.inputs_hash == hash && r.model_sha256 == embedder.model_sha256())
    {
        if let Some(result) = from_cache(submission_id, embedder, &cands, &cached, limit) {
            return Ok(result);
        }
    }

    // ---- embeddings ----
    let mut paper_ids: Vec<usize> = cands
        .iter()
        .flat_map(|c| c.papers.iter().map(|(i, _)| *i))
        .collect();
    paper_ids.push(sub_idx);
    paper_ids.sort_unstable();
    paper_ids.dedup();
    let paper_texts: Vec<(i64, String)> = paper_ids
        .iter()
        .map(|&i| {
            let d = &corpus[i];
            (d.id, doc_text(&d.title, &d.abstract_text, &d.keywords))
        })
        .collect();
    // (vectors present, vectors missing) of the profiles, under SubmissionOnly.
    let mut tally = (0usize, 0usize);
    let profile_texts: Vec<(i64, String)> = paper_texts
        .iter()
        .filter(|(id, _)| *id != sub.id)
        .cloned()
        .collect();
    let mut paper_vecs = vectors_for(
        store,
        embedder,
        "submission",
        &profile_texts,
        policy,
        &mut tally,
    )?;
    // The submission itself: one document, embedded when missing.
    let own = paper_texts
        .iter()
        .filter(|(id, _)| *id == sub.id)
        .cloned()
        .collect::<Vec<_>>();
    paper_vecs.extend(ensure_embeddings(store, embedder, "submission", &own)?);
    let interest_texts: Vec<(i64, String)> = cands
        .iter()
        .filter(|c| !c.facts.interests.is_empty())
        .map(|c| (c.facts.id, interests_text(&c.facts.interests)))
        .collect();
    let interest_vecs = vectors_for(
        store,
        embedder,
        "reviewer",
        &interest_texts,
        policy,
        &mut tally,
    )?;
    // Each distinct interest term on its own, keyed by a hash of the term.
    let mut term_items: Vec<(i64, String)> = cands
        .iter()
        .flat_map(|c| c.facts.interests.iter())
        .map(|t| (term_key(t), t.trim().to_lowercase()))
        .collect();
    term_items.sort();
    term_items.dedup();
    let term_vecs = vectors_for(
        store,
        embedder,
        "interest_term",
        &term_items,
        policy,
        &mut tally,
    )?;
    if tally.1 > 0 {
        return Err(AgentError::Indexing {
            done: tally.0,
            total: tally.0 + tally.1,
        });
    }

    // ---- exact terms ----
    let corpus_texts: Vec<String> = corpus
        .iter()
        .map(|d| doc_text(&d.title, &d.abstract_text, &d.keywords))
        .chain(interest_texts.iter().map(|(_, t)| t.clone()))
        .collect();
    let tfidf = TfIdf::fit(corpus_texts.iter().map(String::as_str));
    let paper_terms: HashMap<i64, SparseVec> = paper_texts
        .iter()
        .map(|(id, t)| (*id, tfidf.vector(t)))
        .collect();
    let interest_terms: HashMap<i64, SparseVec> = interest_texts
        .iter()
        .map(|(id, t)| (*id, tfidf.vector(t)))
        .collect();

    let empty = Vec::new();
    let empty_terms = SparseVec::default();
    let sub_vec = paper_vecs.get(&sub.id).unwrap_or(&empty);
    let sub_terms = paper_terms.get(&sub.id).unwrap_or(&empty_terms);

    // ---- affinities of every reviewer (excluded ones too: same scale for all) ----
    let mut affinities = Vec::with_capacity(cands.len());
    let mut labels: Vec<Vec<(String, ProfileSource)>> = Vec::with_capacity(cands.len());
    for c in &cands {
        let mut docs: Vec<ProfileDoc> = Vec::new();
        let mut lab = Vec::new();
        for (i, src) in &c.papers {
            let d = &corpus[*i];
            if let (Some(v), Some(t)) = (paper_vecs.get(&d.id), paper_terms.get(&d.id)) {
                docs.push(ProfileDoc {
                    vector: v,
                    terms: t,
                });
                lab.push((format!("\"{}\" (#{})", d.title, d.id), *src));
            }
        }
        if let (Some(v), Some(t)) = (
            interest_vecs.get(&c.facts.id),
            interest_terms.get(&c.facts.id),
        ) {
            docs.push(ProfileDoc {
                vector: v,
                terms: t,
            });
            lab.push(("stated interests".to_string(), ProfileSource::Interests));
        }
        let mut a = model.affinity(sub_vec, sub_terms, &docs);
        let tvs: Vec<&[f32]> = c
            .facts
            .interests
            .iter()
            .filter_map(|t| term_vecs.get(&term_key(t)).map(Vec::as_slice))
            .collect();
        model.interest_affinity(sub_vec, &tvs, &mut a);
        affinities.push(a);
        labels.push(lab);
    }
    let blended = model.blend(&affinities);

    // ---- scores and reasons ----
    let sub_tokens: HashSet<String> =
        tokens(&doc_text(&sub.title, &sub.abstract_text, &sub.keywords))
            .into_iter()
            .collect();
    let mut all: Vec<ReviewerMatch> = Vec::with_capacity(cands.len());
    for (k, c) in cands.iter().enumerate() {
        let r = c.facts;
        let a = &affinities[k];
        let mut reasons = Vec::new();
        let expertise = match blended[k] {
            Some(z) => {
                let e = r4(sigmoid(1.5 * f64::from(z)));
                reasons.push(reason(
                    ReasonCode::Expertise,
                    format!(
                        "expertise {:.2}: meaning {:.2}, shared terms {:.2} ({} over {} profile document{})",
                        e,
                        a.semantic.unwrap_or(0.0),
                        a.lexical.unwrap_or(0.0),
                        model.aggregation.label(),
                        labels[k].len(),
                        if labels[k].len() == 1 { "" } else { "s" }
                    ),
                    Some(e),
                ));
                if let Some((label, src)) = a.best.and_then(|b| labels[k].get(b)) {
                    let how = match src {
                        ProfileSource::Authored => "their paper",
                        ProfileSource::Reviewed => "a submission they reviewed",
                        ProfileSource::Interests => "their",
                    };
                    reasons.push(reason(
                        ReasonCode::ClosestWork,
                        format!(
                            "closest: {how} {label}, similarity {:.2}",
                            a.best_similarity
                        ),
                        Some(f64::from(a.best_similarity)),
                    ));
                }
                e
            }
            None => {
                reasons.push(reason(
                    ReasonCode::NoProfile,
                    "no earlier papers, completed reviews or interests on record".into(),
                    Some(0.0),
                ));
                0.0
            }
        };
        let matched: Vec<&String> = r
            .interests
            .iter()
            .filter(|i| tokens(i).iter().any(|t| sub_tokens.contains(t)))
            .collect();
        if !matched.is_empty() {
            reasons.push(reason(
                ReasonCode::Interests,
                format!(
                    "interests matching the submission: {}",
                    matched
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None,
            ));
        }
        if let (Some(sim), Some(i)) = (a.interests, a.best_interest) {
            // The index is into the interests that have a vector, in order.
            let with_vec: Vec<&String> = r
                .interests
                .iter()
                .filter(|t| !t.trim().is_empty())
                .collect();
            if let Some(term) = with_vec.get(i) {
                reasons.push(reason(
                    ReasonCode::InterestMeaning,
                    format!("closest stated interest: {term} (similarity {sim:.2})"),
                    Some(f64::from(sim)),
                ));
            }
        }
        let (factor, adj) = adjustments(r);
        reasons.extend(adj);
        let excluded = !c.conflicts.is_empty();
        let score = if excluded {
            0.0
        } else {
            r4(expertise * factor)
        };
        let mut rs = c.conflicts.clone();
        rs.extend(reasons);
        all.push(ReviewerMatch {
            reviewer_id: r.id,
            name: r.name.clone(),
            email: r.email.clone(),
            affiliation: r.affiliation.clone(),
            score,
            expertise,
            excluded,
            reasons: rs,
        });
    }

    // ---- cache and log (best effort) ----
    let rows: Vec<ScoreRow> = all
        .iter()
        .map(|m| ScoreRow {
            reviewer_id: m.reviewer_id,
            score: m.score,
            excluded: m.excluded,
            reasons_json: serde_json::to_string(&CachedReasons {
                expertise: m.expertise,
                reasons: m.reasons.clone(),
            })
            .unwrap_or_else(|_| "{}".into()),
            model_sha256: embedder.model_sha256().to_string(),
            inputs_hash: hash.clone(),
            computed_at: now,
        })
        .collect();
    if let Err(e) = store.replace_match_scores(submission_id, &rows) {
        tracing::debug!(error = %e, "cannot cache match scores (read-only store?)");
    }
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

/// What `reasons` holds in the cache: the expertise and the reasons.
#[derive(Serialize, Deserialize)]
struct CachedReasons {
    expertise: f64,
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
        excluded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregations() {
        let s = [0.1, 0.9, 0.5, 0.7];
        assert_eq!(Aggregation::Max.apply(&s), Some(0.9));
        assert!((Aggregation::Mean.apply(&s).unwrap() - 0.55).abs() < 1e-6);
        assert!((Aggregation::TopKMean(3).apply(&s).unwrap() - 0.7).abs() < 1e-6);
        assert!((Aggregation::TopKMean(3).apply(&[0.4]).unwrap() - 0.4).abs() < 1e-6);
        assert_eq!(Aggregation::Max.apply(&[]), None);
    }

    #[test]
    fn blend_zscores_each_channel() {
        let m = ExpertiseModel::default();
        let a = |s: f32, l: f32| Affinity {
            semantic: Some(s),
            lexical: Some(l),
            ..Default::default()
        };
        let b = m.blend(&[a(0.1, 0.0), a(0.3, 0.0), a(0.5, 0.0), Affinity::default()]);
        assert_eq!(b[3], None);
        assert!(b[0].unwrap() < b[1].unwrap() && b[1].unwrap() < b[2].unwrap());
        assert!(b[1].unwrap().abs() < 1e-6);
    }

    #[test]
    fn names_and_affiliations() {
        assert_eq!(norm_name("Amara  Okafor").as_deref(), Some("amara okafor"));
        assert_eq!(norm_name("Okafor"), None);
        assert_eq!(
            norm_affiliation("The University of Lagos"),
            norm_affiliation("university  lagos")
        );
        assert_eq!(norm_email("X@Y.org ").as_deref(), Some("x@y.org"));
    }
}
