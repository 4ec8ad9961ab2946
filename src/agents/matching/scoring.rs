//! One ranking's computation: gather the vectors and term vectors of the
//! submission, every profile document and the background papers ([`gather`]),
//! compare them and calibrate each reviewer against the background
//! ([`affinities`], through the expertise model), and turn the calibrated
//! expertise, the factors and the conflicts into ranked, explained matches
//! ([`explain`]).

use super::conflicts::{Candidate, ProfileSource};
use super::expertise::{
    doc_text, expertise_of, interests_text, sample_key, term_key, Affinity, Calibration,
    ExpertiseModel, ProfileDoc,
};
use super::factors::adjustments;
use super::reasons::{r6, reason, ReasonCode};
use super::{Channels, EmbedPolicy, ReviewerMatch, BACKGROUND_PAPERS};
use crate::agents::{ensure_embeddings, AgentError};
use crate::inference::Embedder;
use crate::store::agents::CorpusDoc;
use crate::store::Store;
use crate::text::{tokens, SparseVec, TfIdf};
use std::collections::{HashMap, HashSet};

/// The vectors (by meaning) and term vectors (TF-IDF) one ranking compares.
pub(super) struct Profiles {
    paper_vecs: HashMap<i64, Vec<f32>>,
    interest_vecs: HashMap<i64, Vec<f32>>,
    term_vecs: HashMap<i64, Vec<f32>>,
    paper_terms: HashMap<i64, SparseVec>,
    interest_terms: HashMap<i64, SparseVec>,
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
            let (have, missing) = crate::agents::stored_embeddings(
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

/// Every vector and term vector of the submission (`corpus[sub_idx]`) and of
/// the candidates' profiles. Under [`EmbedPolicy::SubmissionOnly`] a missing
/// profile vector is [`AgentError::Indexing`].
pub(super) fn gather(
    store: &Store,
    embedder: &dyn Embedder,
    corpus: &[CorpusDoc],
    sub_idx: usize,
    cands: &[Candidate],
    policy: EmbedPolicy,
) -> Result<Profiles, AgentError> {
    let sub = &corpus[sub_idx];
    let mut paper_ids: Vec<usize> = cands
        .iter()
        .flat_map(|c| c.papers.iter().map(|(i, _)| *i))
        .collect();
    paper_ids.extend(background(corpus, sub_idx));
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

    Ok(Profiles {
        paper_vecs,
        interest_vecs,
        term_vecs,
        paper_terms,
        interest_terms,
    })
}

/// The background every reviewer is calibrated against: the journal's
/// papers with the smallest [`sample_key`] (a stable pseudo-random sample of
/// at most [`BACKGROUND_PAPERS`]), without the submission being ranked.
pub(super) fn background(corpus: &[CorpusDoc], sub_idx: usize) -> Vec<usize> {
    let mut keyed: Vec<(u64, usize)> = corpus
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != sub_idx)
        .map(|(i, d)| (sample_key(&d.id.to_le_bytes()), i))
        .collect();
    keyed.sort_unstable();
    keyed.truncate(BACKGROUND_PAPERS);
    let mut out: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
    out.sort_unstable();
    out
}

/// A profile document's label for people, and where it came from.
pub(super) type Label = (String, ProfileSource);

/// What one candidate's comparison produced.
pub(super) struct Compared {
    pub(super) affinity: Affinity,
    pub(super) calibration: Calibration,
    pub(super) labels: Vec<Label>,
}

/// Every candidate's affinity to the submission (excluded ones too: the same
/// scale for all), their calibration against the background papers they did
/// not write, and the labels of the profile documents compared.
pub(super) fn affinities(
    model: &ExpertiseModel,
    corpus: &[CorpusDoc],
    sub: &CorpusDoc,
    background: &[usize],
    cands: &[Candidate],
    p: &Profiles,
) -> Vec<Compared> {
    let (paper_vecs, paper_terms) = (&p.paper_vecs, &p.paper_terms);
    let (interest_vecs, interest_terms, term_vecs) =
        (&p.interest_vecs, &p.interest_terms, &p.term_vecs);
    let empty = Vec::new();
    let empty_terms = SparseVec::default();
    let sub_vec = paper_vecs.get(&sub.id).unwrap_or(&empty);
    let sub_terms = paper_terms.get(&sub.id).unwrap_or(&empty_terms);
    let mut out = Vec::with_capacity(cands.len());
    for c in cands {
        let mut docs: Vec<ProfileDoc> = Vec::new();
        let mut labels = Vec::new();
        for (i, src) in &c.papers {
            let d = &corpus[*i];
            if let (Some(v), Some(t)) = (paper_vecs.get(&d.id), paper_terms.get(&d.id)) {
                docs.push(ProfileDoc {
                    vector: v,
                    terms: t,
                });
                labels.push((format!("\"{}\" (#{})", d.title, d.id), *src));
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
            labels.push(("stated interests".to_string(), ProfileSource::Interests));
        }
        let tvs: Vec<&[f32]> = c
            .facts
            .interests
            .iter()
            .filter_map(|t| term_vecs.get(&term_key(t)).map(Vec::as_slice))
            .collect();
        let compare = |vector: &[f32], terms: &SparseVec| {
            let mut a = model.affinity(vector, terms, &docs);
            model.interest_affinity(vector, &tvs, &mut a);
            a
        };
        let affinity = compare(sub_vec, sub_terms);
        let calibration = if docs.is_empty() {
            Calibration::default()
        } else {
            let own: Vec<usize> = c.papers.iter().map(|(i, _)| *i).collect();
            let bg: Vec<Affinity> = background
                .iter()
                .filter(|i| !own.contains(i))
                .filter_map(|&i| {
                    let d = &corpus[i];
                    Some(compare(paper_vecs.get(&d.id)?, paper_terms.get(&d.id)?))
                })
                .collect();
            model.calibration(&bg)
        };
        out.push(Compared {
            affinity,
            calibration,
            labels,
        });
    }
    out
}

/// An embedding cosine in words an editor understands.
pub(super) fn closeness(cosine: f32) -> &'static str {
    match cosine {
        c if c >= 0.6 => "very close",
        c if c >= 0.45 => "close",
        c if c >= 0.3 => "related",
        c if c >= 0.15 => "loosely related",
        _ => "not related",
    }
}

/// The calibrated expertise in words (the share of the journal's papers that
/// are further from the reviewer's work).
fn standing(expertise: f64) -> String {
    let pct = (expertise * 100.0).floor().clamp(0.0, 99.0);
    if expertise >= 0.5 {
        format!("closer to their work than {pct:.0} % of the journal's papers")
    } else {
        "no closer to their work than a typical paper of the journal".to_string()
    }
}

/// The matches with their scores and reasons: the calibrated expertise
/// ([`expertise_of`]) times the workload and responsiveness factors; zero
/// for a reviewer with a conflict, whose conflicts lead the reasons.
pub(super) fn explain(
    model: &ExpertiseModel,
    sub: &CorpusDoc,
    cands: &[Candidate],
    compared: &[Compared],
) -> Vec<ReviewerMatch> {
    let sub_tokens: HashSet<String> =
        tokens(&doc_text(&sub.title, &sub.abstract_text, &sub.keywords))
            .into_iter()
            .collect();
    let mut all: Vec<ReviewerMatch> = Vec::with_capacity(cands.len());
    for (k, c) in cands.iter().enumerate() {
        let r = c.facts;
        let Compared {
            affinity: a,
            calibration,
            labels,
        } = &compared[k];
        let mut reasons = Vec::new();
        let expertise = match model.calibrated(a, calibration) {
            Some(z) => {
                let e = expertise_of(z);
                reasons.push(reason(
                    ReasonCode::Expertise,
                    format!(
                        "expertise {:.2}: {} (by meaning and shared terms, {} over {} profile document{})",
                        e,
                        standing(e),
                        model.aggregation.label(),
                        labels.len(),
                        if labels.len() == 1 { "" } else { "s" }
                    ),
                    Some(e),
                ));
                if let Some((label, src)) = a.best.and_then(|b| labels.get(b)) {
                    let how = match src {
                        ProfileSource::Authored => "their paper",
                        ProfileSource::Reviewed => "a submission they reviewed",
                        ProfileSource::Interests => "their",
                    };
                    reasons.push(reason(
                        ReasonCode::ClosestWork,
                        format!(
                            "closest: {how} {label}, {} in meaning",
                            closeness(a.best_similarity)
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
                    format!("closest stated interest: {term} ({})", closeness(sim)),
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
            r6(expertise * factor)
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
            channels: Channels::of(a),
            excluded,
            reasons: rs,
        });
    }

    all
}
