//! Measured matching quality on the reviewer–paper expertise gold standard
//! (Stelmakh et al., "A Gold Standard Dataset for the Reviewer Assignment
//! Problem"; data and metric described in `shared/reviewer-gold/README.md`).
//!
//! The loss: for every participant and every pair of papers they rated, the
//! weight |e1 − e2| is lost when the predicted scores order the pair the other
//! way (half when they tie), normalised by the total weight. ojscog's
//! predictions come from [`crate::agents::matching::ExpertiseModel`] — the same
//! code that ranks reviewers in production — with the on-device embedder.

use crate::agents::matching::{doc_text, ExpertiseModel, ProfileDoc};
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

/// Per-participant totals: (loss, max).
fn participant_loss(
    p: &Participant,
    pred: Option<&HashMap<String, f64>>,
    acc: &mut [usize; 5],
) -> (f64, f64) {
    let (mut l, mut m) = (0.0, 0.0);
    for i in 0..p.ratings.len() {
        for j in i + 1..p.ratings.len() {
            let (a, ea) = &p.ratings[i];
            let (b, eb) = &p.ratings[j];
            let (Some(sa), Some(sb)) = (pred.and_then(|x| x.get(a)), pred.and_then(|x| x.get(b)))
            else {
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
            if ea.max(*eb) >= 4.0 && ea.min(*eb) <= 2.0 {
                acc[0] += usize::from(correct);
                acc[1] += 1;
            }
            if *ea >= 4.0 && *eb >= 4.0 && ea != eb {
                acc[2] += usize::from(correct);
                acc[3] += 1;
            }
        }
    }
    (l, m)
}

/// The published loss, easy/hard accuracy and a bootstrap CI (1000 resamples of participants).
pub fn evaluate(gold: &Gold, pred: &Predictions) -> LossReport {
    let mut acc = [0usize; 5];
    let per: Vec<(f64, f64)> = gold
        .participants
        .iter()
        .map(|p| participant_loss(p, pred.get(&p.id), &mut acc))
        .collect();
    let total = |v: &mut dyn Iterator<Item = (f64, f64)>| {
        let (l, m) = v.fold((0.0, 0.0), |(a, b), (l, m)| (a + l, b + m));
        if m > 0.0 {
            l / m
        } else {
            0.5
        }
    };
    let loss = total(&mut per.iter().copied());
    // Bootstrap over participants, deterministic (xorshift64*).
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let n = per.len().max(1);
    let mut samples: Vec<f64> = (0..1000)
        .map(|_| total(&mut (0..n).map(|_| per[(next() % n as u64) as usize])))
        .collect();
    samples.sort_by(f64::total_cmp);
    let ci95 = (samples[25], samples[974]);
    let ratio = |a: usize, b: usize| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    LossReport {
        loss,
        ci95,
        easy_accuracy: ratio(acc[0], acc[1]),
        hard_accuracy: ratio(acc[2], acc[3]),
        easy_pairs: acc[1],
        hard_pairs: acc[3],
        participants: gold.participants.len(),
        missing_pairs: acc[4],
    }
}

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
        let mut texts: Vec<String> = gold.papers.values().map(text_of).collect();
        for list in gold.archives.values() {
            texts.extend(list.iter().map(text_of));
        }
        texts.sort();
        texts.dedup();
        let mut vectors = HashMap::with_capacity(texts.len());
        for chunk in texts.chunks(64) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            for (t, v) in chunk.iter().zip(embedder.embed(&refs)?) {
                vectors.insert(t.clone(), v);
            }
        }
        let tfidf = TfIdf::fit(texts.iter().map(String::as_str));
        Ok(EmbeddedGold { vectors, tfidf })
    }

    /// ojscog's predictions for every participant's rated papers with `model`.
    pub fn predict(&self, gold: &Gold, model: &ExpertiseModel) -> Predictions {
        let empty = Vec::new();
        let mut out = Predictions::new();
        for p in &gold.participants {
            let archive = gold.archives.get(&p.id).unwrap_or(&empty);
            let terms: Vec<_> = archive
                .iter()
                .map(|a| self.tfidf.vector(&text_of(a)))
                .collect();
            let zero = Vec::new();
            let profile: Vec<ProfileDoc> = archive
                .iter()
                .zip(&terms)
                .map(|(a, t)| ProfileDoc {
                    vector: self.vectors.get(&text_of(a)).unwrap_or(&zero),
                    terms: t,
                })
                .collect();
            let rated: Vec<&Paper> = p
                .ratings
                .iter()
                .filter_map(|(id, _)| gold.papers.get(id))
                .collect();
            let affinities: Vec<_> = rated
                .iter()
                .map(|paper| {
                    let t = text_of(paper);
                    let v = self.vectors.get(&t).unwrap_or(&zero);
                    model.affinity(v, &self.tfidf.vector(&t), &profile)
                })
                .collect();
            // Ranked against each other for this reviewer: per-reviewer z-scores.
            let scores = model.blend(&affinities);
            let m = out.entry(p.id.clone()).or_default();
            for (paper, s) in rated.iter().zip(scores) {
                m.insert(paper.id.clone(), f64::from(s.unwrap_or(0.0)));
            }
        }
        out
    }
}
