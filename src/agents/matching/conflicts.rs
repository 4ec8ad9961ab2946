//! Who may review a submission: each reviewer's profile documents (papers they
//! wrote, submissions they reviewed) and their conflicts of interest
//! (authorship, co-authorship, affiliation, assignment, declines, disabled
//! accounts), each explained.

use super::reasons::{reason, Reason, ReasonCode};
use super::MAX_PROFILE_PAPERS;
use crate::store::agents::{AssignmentFact, CorpusDoc, Person, ReviewerFacts};
use serde::Serialize;
use std::collections::HashMap;

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

fn same_person(r: &ReviewerFacts, p: &Person) -> bool {
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

pub(super) struct Candidate<'a> {
    pub(super) facts: &'a ReviewerFacts,
    /// (corpus index, source)
    pub(super) papers: Vec<(usize, ProfileSource)>,
    pub(super) conflicts: Vec<Reason>,
}

pub(super) fn build_candidates<'a>(
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
    let is_sub_author = |p: &Person| -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
