//! The expertise model: how similar a submission is to a reviewer's profile,
//! by meaning and by exact terms, aggregated over the profile and blended.
//! This is the only part of matching the reviewer-gold evaluation needs.

use crate::inference::dot;
use crate::text::SparseVec;
use serde::{Deserialize, Serialize};

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

pub(super) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
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
}
