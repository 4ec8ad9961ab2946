//! Measured matching quality on the reviewer–paper expertise gold standard
//! (Stelmakh et al., "A Gold Standard Dataset for the Reviewer Assignment
//! Problem"; data and metric described in `shared/reviewer-gold/README.md`).
//!
//! The loss: for every participant and every pair of papers they rated, the
//! weight |e1 − e2| is lost when the predicted scores order the pair the other
//! way (half when they tie), normalised by the total weight.
//!
//! Two ways to get ojscog's predictions, reported side by side:
//! - in memory ([`EmbeddedGold`]): [`crate::agents::matching::ExpertiseModel`]
//!   on the gold papers directly, calibrated like production — quick, for
//!   comparing variants;
//! - through the product (`ojscog eval reviewer-gold --ojs`): the gold data as an
//!   OJS journal ([`journal`]), synced, embedded by the background job, and the
//!   `expertise` the matching API answers. This is the figure users get.
//!
//! Besides the published (per-participant) loss, [`evaluate_global`] scores
//! every pair of ratings across participants and papers: whether the numbers
//! compare across submissions and reviewers, which the calibrated expertise
//! promises.

pub mod journal;
pub mod screening;

use crate::agents::matching::{
    doc_text, sample_key, Affinity, ExpertiseModel, ProfileDoc, BACKGROUND_PAPERS,
};
use crate::inference::{Embedder, InferenceError};
use crate::text::TfIdf;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is malformed: {message}")]
    Format { path: PathBuf, message: String },
    #[error(transparent)]
    Inference(#[from] InferenceError),
}

/// participant -> paper -> predicted similarity.
pub type Predictions = HashMap<String, HashMap<String, f64>>;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Paper {
    pub id: String,
    pub title: String,
    pub abstract_text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Participant {
    pub id: String,
    /// (paper id, self-rated expertise 1..5)
    pub ratings: Vec<(String, f64)>,
}

#[derive(Debug, Clone)]
pub struct Gold {
    pub participants: Vec<Participant>,
    /// The rated papers.
    pub papers: HashMap<String, Paper>,
    /// Each participant's own earlier papers (their reviewer profile).
    pub archives: HashMap<String, Vec<Paper>>,
}

fn read(path: &Path) -> Result<String, EvalError> {
    std::fs::read_to_string(path).map_err(|source| EvalError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn format_err(path: &Path, message: impl Into<String>) -> EvalError {
    EvalError::Format {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn paper_from_json(v: &serde_json::Value) -> Option<Paper> {
    let id = v.get("id")?.as_str()?.to_string();
    let c = v.get("content")?;
    let s = |k: &str| c.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    Some(Paper {
        id,
        title: s("title"),
        abstract_text: s("abstract"),
    })
}

impl Gold {
    /// Loads `evaluations.csv`, `d_20_1/submissions.json` and `d_20_1/archives/` from `dir`.
    pub fn load(dir: &Path) -> Result<Gold, EvalError> {
        let csv_path = dir.join("evaluations.csv");
        let text = read(&csv_path)?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines
            .next()
            .ok_or_else(|| format_err(&csv_path, "empty file"))?
            .split('\t')
            .collect();
        let col = |name: &str| header.iter().position(|h| h.trim() == name);
        let pid_col =
            col("ParticipantID").ok_or_else(|| format_err(&csv_path, "no ParticipantID column"))?;
        let mut participants = Vec::new();
        for (n, line) in lines.enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            let get = |i: Option<usize>| {
                i.and_then(|i| f.get(i))
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
            };
            let id = get(Some(pid_col)).ok_or_else(|| {
                format_err(&csv_path, format!("line {}: no participant id", n + 2))
            })?;
            let mut ratings = Vec::new();
            for k in 1..=10 {
                let (p, e) = (
                    get(col(&format!("Paper{k}"))),
                    get(col(&format!("Expertise{k}"))),
                );
                if let (Some(p), Some(e)) = (p, e) {
                    let e: f64 = e.parse().map_err(|_| {
                        format_err(&csv_path, format!("line {}: expertise `{e}`", n + 2))
                    })?;
                    ratings.push((p.to_string(), e));
                }
            }
            participants.push(Participant {
                id: id.to_string(),
                ratings,
            });
        }
        let sub_path = dir.join("d_20_1/submissions.json");
        let subs: serde_json::Value = serde_json::from_str(&read(&sub_path)?)
            .map_err(|e| format_err(&sub_path, e.to_string()))?;
        let obj = subs
            .as_object()
            .ok_or_else(|| format_err(&sub_path, "not a JSON object"))?;
        let mut papers = HashMap::new();
        for v in obj.values() {
            let p = paper_from_json(v)
                .ok_or_else(|| format_err(&sub_path, "paper without id/content"))?;
            papers.insert(p.id.clone(), p);
        }
        let mut archives = HashMap::new();
        for p in &participants {
            let path = dir.join(format!("d_20_1/archives/~{}.jsonl", p.id));
            let text = read(&path)?;
            let mut list = Vec::new();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let v: serde_json::Value =
                    serde_json::from_str(line).map_err(|e| format_err(&path, e.to_string()))?;
                list.push(
                    paper_from_json(&v)
                        .ok_or_else(|| format_err(&path, "paper without id/content"))?,
                );
            }
            archives.insert(p.id.clone(), list);
        }
        Ok(Gold {
            participants,
            papers,
            archives,
        })
    }
}

impl Gold {
    /// Every distinct paper of the data set (rated and archive), by id; a
    /// rated paper's own record wins over an archive copy.
    pub fn all_papers(&self) -> HashMap<&str, &Paper> {
        let mut m: HashMap<&str, &Paper> = HashMap::new();
        for p in self.archives.values().flatten().chain(self.papers.values()) {
            m.insert(&p.id, p);
        }
        m
    }
}

/// `{participant: {paper: score}}` JSON, as the dataset's prediction files.
pub fn load_predictions(path: &Path) -> Result<Predictions, EvalError> {
    serde_json::from_str(&read(path)?).map_err(|e| format_err(path, e.to_string()))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LossReport {
    pub loss: f64,
    /// 95 % bootstrap interval of the loss, resampling participants.
    pub ci95: (f64, f64),
    pub easy_accuracy: f64,
    pub hard_accuracy: f64,
    pub easy_pairs: usize,
    pub hard_pairs: usize,
    pub participants: usize,
    /// Pairs skipped because a prediction was missing.
    pub missing_pairs: usize,
}

/// Loss totals and easy/hard tallies over the pairs of one list of
/// (rating, prediction): (loss, max).
fn pairs_loss(items: &[(f64, Option<f64>)], acc: &mut [usize; 5]) -> (f64, f64) {
    let (mut l, mut m) = (0.0, 0.0);
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            let (ea, sa) = items[i];
            let (eb, sb) = items[j];
            let (Some(sa), Some(sb)) = (sa, sb) else {
                acc[4] += 1;
                continue;
            };
            let w = (ea - eb).abs();
            m += w;
            let agree = (sa - sb) * (ea - eb);
            if sa == sb {
                l += w / 2.0;
            } else if agree < 0.0 {
                l += w;
            }
            let correct = agree > 0.0;
            if ea.max(eb) >= 4.0 && ea.min(eb) <= 2.0 {
                acc[0] += usize::from(correct);
                acc[1] += 1;
            }
            if ea >= 4.0 && eb >= 4.0 && ea != eb {
                acc[2] += usize::from(correct);
                acc[3] += 1;
            }
        }
    }
    (l, m)
}

/// One participant's (rating, prediction) list.
fn rated(p: &Participant, pred: &Predictions) -> Vec<(f64, Option<f64>)> {
    let mine = pred.get(&p.id);
    p.ratings
        .iter()
        .map(|(paper, e)| (*e, mine.and_then(|m| m.get(paper)).copied()))
        .collect()
}

/// Deterministic bootstrap over participants (xorshift64*): 1000 resamples,
/// each scored by `score`, the 2.5 % and 97.5 % points.
fn bootstrap(n: usize, mut score: impl FnMut(&[usize]) -> f64) -> (f64, f64) {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let n = n.max(1);
    let mut samples: Vec<f64> = (0..1000)
        .map(|_| {
            let pick: Vec<usize> = (0..n).map(|_| (next() % n as u64) as usize).collect();
            score(&pick)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    (samples[25], samples[974])
}

fn ratio(l: f64, m: f64) -> f64 {
    if m > 0.0 {
        l / m
    } else {
        0.5
    }
}

fn report(gold: &Gold, loss: f64, ci95: (f64, f64), acc: [usize; 5]) -> LossReport {
    let frac = |a: usize, b: usize| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    LossReport {
        loss,
        ci95,
        easy_accuracy: frac(acc[0], acc[1]),
        hard_accuracy: frac(acc[2], acc[3]),
        easy_pairs: acc[1],
        hard_pairs: acc[3],
        participants: gold.participants.len(),
        missing_pairs: acc[4],
    }
}

/// The published loss (pairs of one participant's ratings), easy/hard
/// accuracy and a bootstrap CI (1000 resamples of participants).
pub fn evaluate(gold: &Gold, pred: &Predictions) -> LossReport {
    let mut acc = [0usize; 5];
    let per: Vec<(f64, f64)> = gold
        .participants
        .iter()
        .map(|p| pairs_loss(&rated(p, pred), &mut acc))
        .collect();
    let total = |idx: &mut dyn Iterator<Item = usize>| {
        let (l, m) = idx.fold((0.0, 0.0), |(a, b), i| (a + per[i].0, b + per[i].1));
        ratio(l, m)
    };
    let loss = total(&mut (0..per.len()));
    let ci95 = bootstrap(per.len(), |pick| total(&mut pick.iter().copied()));
    report(gold, loss, ci95, acc)
}

/// Guard against tuning to noise: `folds`-fold cross-validation over
/// participants of *choosing* among `variants` (each a full set of
/// predictions). For each fold the variant with the lowest loss on the other
/// folds predicts the held-out participants; the pooled predictions are scored
/// as usual. Returns the report and, per fold, the index of the variant chosen.
pub fn cross_validate(
    gold: &Gold,
    variants: &[Predictions],
    folds: usize,
) -> (LossReport, Vec<usize>) {
    let folds = folds.max(2);
    // Per variant, per participant: (loss, max).
    let per: Vec<Vec<(f64, f64)>> = variants
        .iter()
        .map(|pred| {
            gold.participants
                .iter()
                .map(|p| pairs_loss(&rated(p, pred), &mut [0; 5]))
                .collect()
        })
        .collect();
    let fold_of = |i: usize| i % folds;
    let mut chosen = Vec::with_capacity(folds);
    let mut pooled = Predictions::new();
    for f in 0..folds {
        let train_loss = |v: usize| {
            let (l, m) = per[v]
                .iter()
                .enumerate()
                .filter(|(i, _)| fold_of(*i) != f)
                .fold((0.0, 0.0), |(a, b), (_, (l, m))| (a + l, b + m));
            ratio(l, m)
        };
        let best = (0..variants.len())
            .min_by(|a, b| train_loss(*a).total_cmp(&train_loss(*b)))
            .unwrap_or(0);
        chosen.push(best);
        for (i, p) in gold.participants.iter().enumerate() {
            if fold_of(i) == f {
                if let Some(m) = variants.get(best).and_then(|v| v.get(&p.id)) {
                    pooled.insert(p.id.clone(), m.clone());
                }
            }
        }
    }
    (evaluate(gold, &pooled), chosen)
}

/// The same loss over every pair of ratings, across participants and papers:
/// do the predictions compare between reviewers and submissions? (Only
/// meaningful for scores meant to be comparable, as the calibrated expertise is.)
pub fn evaluate_global(gold: &Gold, pred: &Predictions) -> LossReport {
    let lists: Vec<Vec<(f64, Option<f64>)>> =
        gold.participants.iter().map(|p| rated(p, pred)).collect();
    let mut acc = [0usize; 5];
    let all: Vec<(f64, Option<f64>)> = lists.iter().flatten().copied().collect();
    let (l, m) = pairs_loss(&all, &mut acc);
    let ci95 = bootstrap(lists.len(), |pick| {
        let items: Vec<(f64, Option<f64>)> = pick
            .iter()
            .flat_map(|&i| lists[i].iter().copied())
            .collect();
        let (l, m) = pairs_loss(&items, &mut [0; 5]);
        ratio(l, m)
    });
    report(gold, ratio(l, m), ci95, acc)
}

/// One participant's affinities: to each paper they rated (by id), and to the background.
type ParticipantAffinities = (Vec<(String, Affinity)>, Vec<Affinity>);

/// Vectors of every distinct text, embedded once.
pub struct EmbeddedGold {
    vectors: HashMap<String, Vec<f32>>,
    tfidf: TfIdf,
}

fn text_of(p: &Paper) -> String {
    doc_text(&p.title, &p.abstract_text, &[])
}

impl EmbeddedGold {
    /// Embeds every rated and archive paper (title + ". " + abstract, as in production).
    pub fn new(gold: &Gold, embedder: &dyn Embedder) -> Result<EmbeddedGold, EvalError> {
        EmbeddedGold::with_known(gold, embedder, HashMap::new())
    }

    /// [`EmbeddedGold::new`], embedding only the texts `known` lacks (text → vector).
    pub fn with_known(
        gold: &Gold,
        embedder: &dyn Embedder,
        mut known: HashMap<String, Vec<f32>>,
    ) -> Result<EmbeddedGold, EvalError> {
        let mut texts: Vec<String> = gold.all_papers().values().map(|p| text_of(p)).collect();
        texts.sort();
        texts.dedup();
        let missing: Vec<&String> = texts.iter().filter(|t| !known.contains_key(*t)).collect();
        for chunk in missing.chunks(64) {
            let refs: Vec<&str> = chunk.iter().map(|s| s.as_str()).collect();
            for (t, v) in chunk.iter().zip(embedder.embed(&refs)?) {
                known.insert((*t).clone(), v);
            }
        }
        known.retain(|t, _| texts.binary_search(t).is_ok());
        let tfidf = TfIdf::fit(texts.iter().map(String::as_str));
        Ok(EmbeddedGold {
            vectors: known,
            tfidf,
        })
    }

    /// Each participant's affinity to each paper they rated, and to the
    /// background papers (a stable sample of all the data set's papers,
    /// without their own): what [`Self::predict`] and [`Self::predict_relative`] use.
    fn affinities(&self, gold: &Gold, model: &ExpertiseModel) -> Vec<ParticipantAffinities> {
        let papers = gold.all_papers();
        let mut keyed: Vec<(u64, &str)> = papers
            .keys()
            .map(|id| (sample_key(id.as_bytes()), *id))
            .collect();
        keyed.sort_unstable();
        keyed.truncate(BACKGROUND_PAPERS);
        let zero = Vec::new();
        let compare = |p: &Paper, profile: &[ProfileDoc]| {
            let t = text_of(p);
            let v = self.vectors.get(&t).unwrap_or(&zero);
            model.affinity(v, &self.tfidf.vector(&t), profile)
        };
        let empty = Vec::new();
        gold.participants
            .iter()
            .map(|p| {
                let archive = gold.archives.get(&p.id).unwrap_or(&empty);
                let terms: Vec<_> = archive
                    .iter()
                    .map(|a| self.tfidf.vector(&text_of(a)))
                    .collect();
                let profile: Vec<ProfileDoc> = archive
                    .iter()
                    .zip(&terms)
                    .map(|(a, t)| ProfileDoc {
                        vector: self.vectors.get(&text_of(a)).unwrap_or(&zero),
                        terms: t,
                    })
                    .collect();
                let rated = p
                    .ratings
                    .iter()
                    .filter_map(|(id, _)| gold.papers.get(id))
                    .map(|paper| (paper.id.clone(), compare(paper, &profile)))
                    .collect();
                let background = keyed
                    .iter()
                    .filter(|(_, id)| !archive.iter().any(|a| a.id == *id))
                    .filter_map(|(_, id)| papers.get(id))
                    .map(|paper| compare(paper, &profile))
                    .collect();
                (rated, background)
            })
            .collect()
    }

    /// ojscog's predictions for every participant's rated papers with `model`,
    /// calibrated against a background as in production.
    pub fn predict(&self, gold: &Gold, model: &ExpertiseModel) -> Predictions {
        let mut out = Predictions::new();
        for (p, (rated, background)) in gold.participants.iter().zip(self.affinities(gold, model)) {
            let c = model.calibration(&background);
            let m = out.entry(p.id.clone()).or_default();
            for (paper, a) in rated {
                m.insert(paper, f64::from(model.calibrated(&a, &c).unwrap_or(0.0)));
            }
        }
        out
    }

    /// The earlier evaluation: each channel z-scored over the papers one
    /// participant rated (not available to a product, which sees one submission at a time).
    pub fn predict_relative(&self, gold: &Gold, model: &ExpertiseModel) -> Predictions {
        let mut out = Predictions::new();
        for (p, (rated, _)) in gold.participants.iter().zip(self.affinities(gold, model)) {
            let aff: Vec<Affinity> = rated.iter().map(|(_, a)| *a).collect();
            let m = out.entry(p.id.clone()).or_default();
            for ((paper, _), s) in rated.into_iter().zip(model.blend(&aff)) {
                m.insert(paper, f64::from(s.unwrap_or(0.0)));
            }
        }
        out
    }
}
