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
    /// Each channel is z-scored against this top share of the reviewer's
    /// background (1 = all of it; 0.25 = the quarter of the journal's papers
    /// closest to their work, where the decisions between candidates lie).
    #[serde(default = "one")]
    pub calibration_tail: f32,
}

fn one() -> f32 {
    1.0
}

impl Default for ExpertiseModel {
    /// Chosen on the reviewer-gold data (see BENCHMARKS.md): top-3 mean, 0.7/0.3.
    fn default() -> Self {
        ExpertiseModel {
            aggregation: Aggregation::TopKMean(3),
            semantic_weight: 0.7,
            lexical_weight: 0.3,
            interest_weight: 0.5,
            calibration_tail: 1.0,
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

    /// Weights the (normalised) channels; None without a profile.
    fn combine(&self, s: Option<f32>, l: Option<f32>, i: Option<f32>) -> Option<f32> {
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
    }

    /// Blends the affinities of a set against each other: each channel is
    /// z-scored over the set, then weighted. This is the *relative* view (the
    /// ranking of the reviewers of one paper before calibration, and the old
    /// per-reviewer evaluation); the shipped number is [`Self::calibrated`].
    /// Members without a profile get None.
    pub fn blend(&self, affinities: &[Affinity]) -> Vec<Option<f32>> {
        let zs = zscores(affinities.iter().map(|a| a.semantic));
        let zl = zscores(affinities.iter().map(|a| a.lexical));
        let zi = zscores(affinities.iter().map(|a| a.interests));
        zs.iter()
            .zip(&zl)
            .zip(&zi)
            .map(|((s, l), i)| self.combine(*s, *l, *i))
            .collect()
    }

    /// A reviewer's calibration: the moments of each channel, and of the
    /// blend, over their affinities to a background of the journal's papers.
    pub fn calibration(&self, background: &[Affinity]) -> Calibration {
        let tail = |values: Vec<f32>| {
            let mut v = values;
            v.sort_by(|a, b| b.total_cmp(a));
            let keep = ((v.len() as f32 * self.calibration_tail).ceil() as usize).max(2);
            v.truncate(keep);
            Moments::of(v.into_iter())
        };
        let semantic = tail(background.iter().filter_map(|a| a.semantic).collect());
        let lexical = tail(background.iter().filter_map(|a| a.lexical).collect());
        let interests = tail(background.iter().filter_map(|a| a.interests).collect());
        let mut c = Calibration {
            semantic,
            lexical,
            interests,
            blend: None,
        };
        c.blend = Moments::of(background.iter().filter_map(|a| self.raw_calibrated(a, &c)));
        c
    }

    fn raw_calibrated(&self, a: &Affinity, c: &Calibration) -> Option<f32> {
        let z = |x: Option<f32>, m: Option<Moments>| x.zip(m).map(|(x, m)| m.z(x));
        self.combine(
            z(a.semantic, c.semantic),
            z(a.lexical, c.lexical),
            z(a.interests, c.interests),
        )
    }

    /// How far `a` stands out from the reviewer's background, in standard
    /// deviations of their blended background scores: each channel z-scored
    /// against the reviewer's own background, weighted, standardised again.
    /// The same number for the same closeness, whichever submission is ranked
    /// and whoever else is a candidate. None without a profile or background.
    pub fn calibrated(&self, a: &Affinity, c: &Calibration) -> Option<f32> {
        let raw = self.raw_calibrated(a, c)?;
        Some(c.blend?.z(raw))
    }
}

/// Mean and standard deviation of one channel over a background.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    pub mean: f32,
    pub sd: f32,
}

impl Moments {
    /// None for fewer than two values.
    pub fn of(values: impl Iterator<Item = f32>) -> Option<Moments> {
        let v: Vec<f32> = values.collect();
        if v.len() < 2 {
            return None;
        }
        let n = v.len() as f32;
        let mean = v.iter().sum::<f32>() / n;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n;
        Some(Moments {
            mean,
            sd: var.sqrt(),
        })
    }

    pub fn z(&self, x: f32) -> f32 {
        if self.sd > 1e-9 {
            (x - self.mean) / self.sd
        } else {
            0.0
        }
    }
}

/// One reviewer's calibration ([`ExpertiseModel::calibration`]).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Calibration {
    pub semantic: Option<Moments>,
    pub lexical: Option<Moments>,
    pub interests: Option<Moments>,
    /// Of the blended channel z-scores.
    pub blend: Option<Moments>,
}

/// The expertise number shown to editors, from a calibrated z-score: the
/// standard normal CDF, i.e. about the share of the journal's papers that are
/// further from the reviewer's work than this one (0.5 = a typical paper of the
/// journal, 0.98 = closer than 98 of 100). Six decimals, so strong matches do not tie.
pub fn expertise_of(z: f32) -> f64 {
    let x = f64::from(z) / std::f64::consts::SQRT_2;
    // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    let erf = if x >= 0.0 { erf } else { -erf };
    let p = 0.5 * (1.0 + erf);
    ((p * 1e6).round() / 1e6).clamp(0.0, 1.0)
}

/// A stable pseudo-random key of a paper id: the background is the papers with
/// the smallest keys, so it changes little when papers are added.
pub fn sample_key(id: &[u8]) -> u64 {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(id);
    u64::from_le_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])
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
    fn expertise_is_the_normal_cdf_of_the_calibrated_z() {
        assert_eq!(expertise_of(0.0), 0.5);
        assert!((expertise_of(1.0) - 0.841_345).abs() < 2e-6);
        assert!((expertise_of(-2.0) - 0.022_750).abs() < 2e-6);
        // Strong matches stay apart at six decimals.
        assert!(expertise_of(3.5) < expertise_of(4.0));
        assert!(expertise_of(4.0) < 1.0);
    }

    #[test]
    fn calibration_places_a_paper_against_the_reviewers_own_background() {
        let m = ExpertiseModel::default();
        let a = |s: f32, l: f32| Affinity {
            semantic: Some(s),
            lexical: Some(l),
            ..Default::default()
        };
        // A narrow reviewer (low, tight similarities) and a broad one (high, spread).
        let narrow: Vec<Affinity> = (0..50).map(|i| a(0.10 + 0.002 * i as f32, 0.01)).collect();
        let broad: Vec<Affinity> = (0..50)
            .map(|i| a(0.30 + 0.008 * i as f32, 0.05 + 0.001 * i as f32))
            .collect();
        let (cn, cb) = (m.calibration(&narrow), m.calibration(&broad));
        // A typical paper of each background sits near the middle...
        let mid_n = expertise_of(m.calibrated(&a(0.149, 0.01), &cn).unwrap());
        assert!((mid_n - 0.5).abs() < 0.1, "{mid_n}");
        // ...and the same raw similarity means more to the narrow reviewer.
        let x = a(0.5, 0.05);
        let (en, eb) = (
            expertise_of(m.calibrated(&x, &cn).unwrap()),
            expertise_of(m.calibrated(&x, &cb).unwrap()),
        );
        assert!(en > 0.99 && eb < 0.8, "narrow {en}, broad {eb}");
        // No background, no calibrated number.
        assert_eq!(m.calibrated(&x, &Calibration::default()), None);
    }
}
