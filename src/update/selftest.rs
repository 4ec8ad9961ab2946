//! Proving a newly activated model works before it is kept: load it the way
//! the service does (a fresh inference worker on the store's `current`) and
//! run a small inference whose right answer is known.

use crate::config::LlmConfig;
use crate::models::{EMBEDDING_MODEL, LLM_MODEL, ONNXRUNTIME};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It loaded and answered right; what it did, with the time taken.
    Passed(String),
    /// It did not load or answered wrong: the activation is taken back.
    Failed(String),
    /// Nothing to run for this model (its files' formats were checked).
    Skipped(String),
}

/// Runs a model's self-test by name.
pub trait SelfTest: Send + Sync {
    fn run(&self, model: &str) -> Outcome;
}

/// The real self-tests, on the models of `data_dir`'s store.
pub struct ModelSelfTest {
    pub data_dir: PathBuf,
    pub llm: LlmConfig,
}

/// Sentences whose meaning a sentence-embedding model must tell apart:
/// (anchor, same meaning in other words, unrelated).
const TRIPLES: &[(&str, &str, &str)] = &[
    (
        "Peer review of manuscripts submitted to a scientific journal.",
        "Referees assess the papers that authors send to an academic periodical.",
        "A recipe for baking sourdough bread at home.",
    ),
    (
        "Deep neural networks for image classification.",
        "Convolutional models that recognise objects in pictures.",
        "The history of medieval trade routes in the Baltic sea.",
    ),
];

impl SelfTest for ModelSelfTest {
    fn run(&self, model: &str) -> Outcome {
        match model {
            EMBEDDING_MODEL => self.embedding(),
            ONNXRUNTIME => match crate::inference::ort_loaded() {
                // A process loads ONNX Runtime once: testing now would test the old one.
                Some(old) => Outcome::Skipped(format!(
                    "this process already runs ONNX Runtime from {}; the new one is loaded at the next start (its file was checked)",
                    old.display()
                )),
                None => self.embedding(),
            },
            LLM_MODEL => self.llm(),
            other => Outcome::Skipped(format!("no self-test for `{other}`; its file formats were checked")),
        }
    }
}

impl ModelSelfTest {
    fn embedding(&self) -> Outcome {
        let t = Instant::now();
        let e = match crate::inference::open_embedder(&self.data_dir) {
            Ok(e) => e,
            Err(e) => return Outcome::Failed(format!("the embedding model does not load: {e}")),
        };
        let mut texts = Vec::new();
        for (a, b, c) in TRIPLES {
            texts.extend([*a, *b, *c]);
        }
        let v = match e.embed(&texts) {
            Ok(v) => v,
            Err(e) => return Outcome::Failed(format!("the embedding model does not run: {e}")),
        };
        judge_embeddings(&v, e.dim()).map_or_else(Outcome::Failed, |margin| {
            Outcome::Passed(format!(
                "{}: related sentences closer than unrelated ones (margin {margin:.2}) in {:.1} s",
                e.model_id(),
                t.elapsed().as_secs_f64()
            ))
        })
    }

    fn llm(&self) -> Outcome {
        let t = Instant::now();
        let llm = match crate::inference::llm::load_configured(self.llm.clone(), &self.data_dir) {
            Ok(l) => l,
            Err(crate::inference::llm::LlmError::NotBuilt) => {
                return Outcome::Skipped("this ojscog was built without the `llm` feature".into())
            }
            Err(e) => return Outcome::Failed(format!("the LLM does not load: {e}")),
        };
        let req = crate::inference::llm::GenerateRequest {
            messages: vec![crate::inference::llm::ChatMessage::user(
                "Answer in JSON. Is the sky blue on a clear day? {\"answer\": \"yes\" or \"no\"}",
            )],
            grammar: Some(r#"root ::= "{\"answer\": \"" ("yes" | "no") "\"}""#.into()),
            max_tokens: Some(16),
        };
        match llm.generate(req) {
            Ok(g) => match serde_json::from_str::<serde_json::Value>(&g.text) {
                Ok(v) if v.get("answer").and_then(|a| a.as_str()).is_some() => {
                    Outcome::Passed(format!(
                        "{}: a grammar-constrained answer parsed ({}) in {:.1} s",
                        llm.info().path.display(),
                        g.text,
                        t.elapsed().as_secs_f64()
                    ))
                }
                _ => Outcome::Failed(format!(
                    "the LLM's constrained answer does not parse: {:?}",
                    g.text
                )),
            },
            Err(e) => Outcome::Failed(format!("the LLM does not run: {e}")),
        }
    }
}

/// Unrelated sentences score far below this with any working sentence model
/// (MiniLM: about 0.0–0.2).
const UNRELATED_MAX: f32 = 0.8;

/// The embedding checks on the vectors of [`TRIPLES`] (three per triple):
/// right dimension, unit length, different texts give different vectors, and
/// each anchor is closer to its paraphrase than to the unrelated sentence.
/// Returns the smallest margin.
pub fn judge_embeddings(v: &[Vec<f32>], dim: usize) -> Result<f32, String> {
    if v.len() != TRIPLES.len() * 3 || v.iter().any(|x| x.len() != dim || dim == 0) {
        return Err(format!(
            "expected {} vectors of {dim} numbers",
            TRIPLES.len() * 3
        ));
    }
    for x in v {
        let norm: f32 = x.iter().map(|a| a * a).sum::<f32>().sqrt();
        if !norm.is_finite() || (norm - 1.0).abs() > 0.01 {
            return Err(format!("a vector has length {norm}, not 1"));
        }
    }
    let dot = crate::inference::dot;
    for i in 0..v.len() {
        for j in i + 1..v.len() {
            if dot(&v[i], &v[j]) > 0.999 {
                return Err("two different sentences got the same vector".into());
            }
        }
    }
    let mut margin = f32::INFINITY;
    for t in v.chunks(3) {
        // A model that cannot read (every word unknown) still orders lengths;
        // it gives unrelated sentences near-identical vectors.
        if dot(&t[0], &t[2]) > UNRELATED_MAX {
            return Err(format!(
                "unrelated sentences look alike (cosine {:.2} > {UNRELATED_MAX}): the model does not tell meanings apart",
                dot(&t[0], &t[2])
            ));
        }
        let m = dot(&t[0], &t[1]) - dot(&t[0], &t[2]);
        if m <= 0.0 {
            return Err(format!(
                "a sentence is closer to an unrelated one ({:.2}) than to its paraphrase ({:.2})",
                dot(&t[0], &t[2]),
                dot(&t[0], &t[1])
            ));
        }
        margin = margin.min(m);
    }
    Ok(margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lexical_fallback_does_not_pass_as_a_sentence_model() {
        // The hashing embedder sees words, not meaning: paraphrases share few.
        use crate::inference::Embedder;
        let e = crate::inference::HashingEmbedder::default();
        let mut texts = Vec::new();
        for (a, b, c) in TRIPLES {
            texts.extend([*a, *b, *c]);
        }
        let v = e.embed(&texts).unwrap();
        assert!(judge_embeddings(&v, e.dim()).is_err());
    }

    #[test]
    fn identical_vectors_and_wrong_lengths_fail() {
        let one = vec![1.0f32, 0.0];
        assert!(judge_embeddings(&vec![one; 6], 2).is_err());
        assert!(judge_embeddings(&[vec![2.0, 0.0]], 2).is_err());
    }
}
