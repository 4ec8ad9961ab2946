//! Search over submissions and reviewers by meaning and by exact terms.
//!
//! Every document has a sentence embedding (the same cached vectors the matcher
//! uses) packed as int8 with one scale per vector ([`PackedVectors`]: 4x less
//! memory than f32 and an integer dot product the compiler vectorises), and a
//! BM25 entry over title, abstract and keywords (reviewers: name, affiliation,
//! interests). A query's score is `0.6 * cosine + 0.4 * BM25 / best BM25`; a
//! document without a vector of the query's model yet (the background indexer
//! has not reached it) is scored `0.4 * BM25 / best BM25` and shows no cosine.

use super::matching::{doc_text, interests_text};
use super::{ensure_embeddings, stored_embeddings, AgentError};
use crate::inference::Embedder;
use crate::store::Store;
use crate::text::{tokens, Bm25};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

pub const SEMANTIC_WEIGHT: f32 = 0.6;
pub const LEXICAL_WEIGHT: f32 = 0.4;
/// Documents scored in full: the best this many by meaning, plus every term match.
const SEMANTIC_POOL: usize = 200;
/// Below this cosine a document without any query term is not a hit.
const MIN_COSINE: f32 = 0.2;

/// Unit vectors packed as int8 with a per-vector scale.
#[derive(Debug, Clone, Default)]
pub struct PackedVectors {
    dim: usize,
    data: Vec<i8>,
    scales: Vec<f32>,
}

/// `v` as int8 codes and the scale that maps them back (x ≈ code * scale).
pub fn quantize(v: &[f32]) -> (Vec<i8>, f32) {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max <= 0.0 || !max.is_finite() {
        return (vec![0; v.len()], 0.0);
    }
    let scale = max / 127.0;
    let codes = v
        .iter()
        .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (codes, scale)
}

fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    // Chunks of 16 with i32 accumulators: autovectorises on x86-64 and aarch64.
    let mut acc = [0i32; 16];
    let mut ca = a.chunks_exact(16);
    let mut cb = b.chunks_exact(16);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..16 {
            acc[k] += i32::from(x[k]) * i32::from(y[k]);
        }
    }
    let mut s: i32 = acc.iter().sum();
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        s += i32::from(*x) * i32::from(*y);
    }
    s
}

impl PackedVectors {
    pub fn new(dim: usize) -> PackedVectors {
        PackedVectors {
            dim,
            data: Vec::new(),
            scales: Vec::new(),
        }
    }

    pub fn with_capacity(dim: usize, n: usize) -> PackedVectors {
        PackedVectors {
            dim,
            data: Vec::with_capacity(dim * n),
            scales: Vec::with_capacity(n),
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.scales.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scales.is_empty()
    }

    /// Bytes held (codes + scales).
    pub fn bytes(&self) -> usize {
        self.data.len() + 4 * self.scales.len()
    }

    /// Adds a vector (a wrong length is zero-padded or cut).
    pub fn push(&mut self, v: &[f32]) {
        let mut v = v.to_vec();
        v.resize(self.dim, 0.0);
        let (codes, scale) = quantize(&v);
        self.data.extend_from_slice(&codes);
        self.scales.push(scale);
    }

    /// Vector `i`, decoded (approximately: the stored codes times the scale).
    pub fn get(&self, i: usize) -> Vec<f32> {
        let Some(scale) = self.scales.get(i) else {
            return vec![0.0; self.dim];
        };
        self.data[i * self.dim..(i + 1) * self.dim]
            .iter()
            .map(|c| f32::from(*c) * scale)
            .collect()
    }

    /// Approximate dot product of `q` with every vector.
    pub fn scan(&self, q: &[f32]) -> Vec<f32> {
        let mut q = q.to_vec();
        q.resize(self.dim, 0.0);
        let (qc, qs) = quantize(&q);
        self.data
            .chunks_exact(self.dim.max(1))
            .zip(&self.scales)
            .map(|(row, s)| dot_i8(&qc, row) as f32 * qs * s)
            .collect()
    }

    /// The `k` best (index, score) by approximate dot product, best first.
    pub fn top_k(&self, q: &[f32], k: usize) -> Vec<(usize, f32)> {
        let scores = self.scan(q);
        let mut idx: Vec<(usize, f32)> = scores.into_iter().enumerate().collect();
        let k = k.min(idx.len());
        if k == 0 {
            return Vec::new();
        }
        idx.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
        idx.truncate(k);
        idx.sort_by(|a, b| b.1.total_cmp(&a.1));
        idx
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HitKind {
    Submission,
    Reviewer,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub kind: HitKind,
    /// Submission id or reviewer (user) id.
    pub id: i64,
    /// Submission title or reviewer name.
    pub title: String,
    /// A passage of the abstract (or the interests) with the most query terms.
    pub snippet: String,
    pub score: f32,
    /// Cosine similarity of the query and the document; None while the
    /// document has no vector for the current model (then it is scored by
    /// exact terms only: `score = 0.4 * lexical`).
    pub semantic: Option<f32>,
    /// BM25 relative to the best BM25 of this query (0..1).
    pub lexical: f32,
    /// Query terms found in the document (stemmed).
    pub matched_terms: Vec<String>,
}

struct DocMeta {
    kind: HitKind,
    id: i64,
    title: String,
    body: String,
}

/// What search covers, read from the store: the documents and the texts
/// submissions and reviewers are embedded by (the matcher embeds the same texts).
pub struct SearchCorpus {
    docs: Vec<DocMeta>,
    /// (submission id, [`doc_text`]) of every titled submission.
    pub submissions: Vec<(i64, String)>,
    /// (reviewer id, [`interests_text`]) of every enabled reviewer.
    pub reviewers: Vec<(i64, String)>,
}

impl SearchCorpus {
    pub fn read(store: &Store) -> Result<SearchCorpus, AgentError> {
        let corpus = store.corpus()?;
        let reviewers = store.reviewer_facts()?;
        let mut docs = Vec::new();
        let mut sub_texts = Vec::new();
        for d in corpus.iter().filter(|d| !d.title.trim().is_empty()) {
            let text = doc_text(&d.title, &d.abstract_text, &d.keywords);
            sub_texts.push((d.id, text));
            let mut body = d.abstract_text.clone();
            if !d.keywords.is_empty() {
                body.push_str(&format!(" Keywords: {}.", d.keywords.join(", ")));
            }
            docs.push(DocMeta {
                kind: HitKind::Submission,
                id: d.id,
                title: d.title.clone(),
                body,
            });
        }
        let mut rev_texts = Vec::new();
        for r in reviewers.iter().filter(|r| !r.disabled) {
            rev_texts.push((r.id, interests_text(&r.interests)));
            let mut body = interests_text(&r.interests);
            if !r.affiliation.is_empty() {
                body = format!("{} {body}", r.affiliation);
            }
            docs.push(DocMeta {
                kind: HitKind::Reviewer,
                id: r.id,
                title: r.name.clone(),
                body,
            });
        }
        Ok(SearchCorpus {
            docs,
            submissions: sub_texts,
            reviewers: rev_texts,
        })
    }
}

/// An in-memory search index: built once, queried many times (it is
/// immutable, so a query needs no lock; [`super::indexer::Indexer`] swaps in
/// a new one when the data or the model changes).
pub struct SearchIndex {
    docs: Vec<DocMeta>,
    vectors: PackedVectors,
    /// Whether document i has a vector of `model_sha256` (else it is scored by terms only).
    has_vector: Vec<bool>,
    embedded: usize,
    bm25: Bm25,
    model_sha256: String,
}

impl SearchIndex {
    /// Builds the index, embedding every document whose vector is not stored
    /// for this model. For offline use (the CLI, benchmarks): the service never
    /// calls this, its [`super::indexer::Indexer`] uses [`SearchIndex::from_stored`].
    pub fn build(store: &Store, embedder: &dyn Embedder) -> Result<SearchIndex, AgentError> {
        let c = SearchCorpus::read(store)?;
        let sv = ensure_embeddings(store, embedder, "submission", &c.submissions)?;
        let rv = ensure_embeddings(store, embedder, "reviewer", &c.reviewers)?;
        Ok(SearchIndex::assemble(
            c.docs,
            &sv,
            &rv,
            embedder.model_sha256(),
            embedder.dim(),
        ))
    }

    /// Builds the index from the vectors stored for `model_sha256` only: never
    /// calls a model. Documents without one are searchable by exact terms.
    pub fn from_stored(
        store: &Store,
        model_sha256: &str,
        dim: usize,
    ) -> Result<SearchIndex, AgentError> {
        let c = SearchCorpus::read(store)?;
        let (sv, _) = stored_embeddings(store, model_sha256, dim, "submission", &c.submissions)?;
        let (rv, _) = stored_embeddings(store, model_sha256, dim, "reviewer", &c.reviewers)?;
        Ok(SearchIndex::assemble(c.docs, &sv, &rv, model_sha256, dim))
    }

    fn assemble(
        docs: Vec<DocMeta>,
        sv: &HashMap<i64, Vec<f32>>,
        rv: &HashMap<i64, Vec<f32>>,
        model_sha256: &str,
        dim: usize,
    ) -> SearchIndex {
        let mut vectors = PackedVectors::with_capacity(dim, docs.len());
        let mut has_vector = Vec::with_capacity(docs.len());
        let zero = vec![0f32; dim];
        for d in &docs {
            let v = match d.kind {
                HitKind::Submission => sv.get(&d.id),
                HitKind::Reviewer => rv.get(&d.id),
            };
            has_vector.push(v.is_some());
            vectors.push(v.unwrap_or(&zero));
        }
        let lexical_texts: Vec<String> = docs
            .iter()
            .map(|d| format!("{} {}", d.title, d.body))
            .collect();
        let bm25 = Bm25::build(lexical_texts.iter().map(String::as_str));
        SearchIndex {
            embedded: has_vector.iter().filter(|h| **h).count(),
            docs,
            vectors,
            has_vector,
            bm25,
            model_sha256: model_sha256.to_string(),
        }
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Documents with a vector of [`SearchIndex::model_sha256`].
    pub fn embedded(&self) -> usize {
        self.embedded
    }

    /// The model whose vectors the index holds.
    pub fn model_sha256(&self) -> &str {
        &self.model_sha256
    }

    /// Whether a query through `embedder` is scored by meaning: the index holds
    /// vectors of that very model. Otherwise the query is not embedded at all.
    pub fn semantic_with(&self, embedder: &dyn Embedder) -> bool {
        self.embedded > 0
            && embedder.model_sha256() == self.model_sha256
            && embedder.dim() == self.vectors.dim()
    }

    /// The submissions closest in meaning to submission `id`, best first, by
    /// the vectors the index holds: no model call. `None` when the submission
    /// has no vector in this index (not embedded yet, or unknown).
    pub fn similar_submissions(&self, id: i64, limit: usize) -> Option<Vec<(i64, String, f32)>> {
        let at = self
            .docs
            .iter()
            .position(|d| d.kind == HitKind::Submission && d.id == id)
            .filter(|&i| self.has_vector[i])?;
        let q = self.vectors.get(at);
        let cosines = self.vectors.scan(&q);
        let mut near: Vec<(usize, f32)> = cosines
            .into_iter()
            .enumerate()
            .filter(|&(i, _)| {
                i != at && self.has_vector[i] && self.docs[i].kind == HitKind::Submission
            })
            .collect();
        near.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        near.truncate(limit);
        Some(
            near.into_iter()
                .map(|(i, c)| (self.docs[i].id, self.docs[i].title.clone(), c))
                .collect(),
        )
    }

    /// The best `limit` hits. Embeds the query (one text) when the index has
    /// vectors of `embedder`'s model; documents without a vector, or every
    /// document when the model differs, are scored by exact terms only.
    pub fn query(
        &self,
        embedder: &dyn Embedder,
        query: &str,
        limit: usize,
    ) -> Result<Vec<SearchHit>, AgentError> {
        let query = query.trim();
        if query.is_empty() {
            return Err(AgentError::EmptyQuery);
        }
        let cosines = if self.semantic_with(embedder) {
            let qv = embedder
                .embed(&[query])?
                .into_iter()
                .next()
                .unwrap_or_default();
            Some(self.vectors.scan(&qv))
        } else {
            None
        };
        // Candidates: the best SEMANTIC_POOL by meaning, plus every term match.
        let mut pool: HashMap<usize, Option<f32>> = HashMap::new();
        if let Some(all) = &cosines {
            let mut by_meaning: Vec<(usize, f32)> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| self.has_vector[*i])
                .map(|(i, c)| (i, *c))
                .collect();
            let k = SEMANTIC_POOL.min(by_meaning.len());
            if k > 0 {
                by_meaning.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
                by_meaning.truncate(k);
            }
            pool.extend(by_meaning.into_iter().map(|(i, c)| (i, Some(c))));
        }
        let bm = self.bm25.scores(query);
        let best_bm = bm.values().copied().fold(0f32, f32::max);
        for &d in bm.keys() {
            let d = d as usize;
            let cos = match &cosines {
                Some(all) if self.has_vector[d] => Some(all[d]),
                _ => None,
            };
            pool.entry(d).or_insert(cos);
        }
        let mut scored: Vec<(usize, Option<f32>, f32, f32)> = pool
            .into_iter()
            .filter_map(|(i, cos)| {
                let lex =
                    bm.get(&(i as u32))
                        .map_or(0.0, |s| if best_bm > 0.0 { s / best_bm } else { 0.0 });
                let score = match cos {
                    Some(c) if lex == 0.0 && c < MIN_COSINE => return None,
                    Some(c) => SEMANTIC_WEIGHT * c + LEXICAL_WEIGHT * lex,
                    None if lex == 0.0 => return None,
                    None => LEXICAL_WEIGHT * lex,
                };
                Some((i, cos, lex, score))
            })
            .collect();
        scored.sort_by(|a, b| {
            b.3.total_cmp(&a.3)
                .then(self.docs[a.0].id.cmp(&self.docs[b.0].id))
        });
        scored.truncate(limit);
        // Snippets and matched terms only for what is shown.
        let qterms: HashSet<String> = tokens(query).into_iter().collect();
        Ok(scored
            .into_iter()
            .map(|(i, cos, lex, score)| {
                let d = &self.docs[i];
                let doc_terms: HashSet<String> = tokens(&format!("{} {}", d.title, d.body))
                    .into_iter()
                    .collect();
                let mut matched: Vec<String> = qterms.intersection(&doc_terms).cloned().collect();
                matched.sort();
                SearchHit {
                    kind: d.kind,
                    id: d.id,
                    title: d.title.clone(),
                    snippet: snippet(&d.body, &qterms, 240),
                    score,
                    semantic: cos,
                    lexical: lex,
                    matched_terms: matched,
                }
            })
            .collect())
    }
}

/// Submissions and reviewers ranked by meaning blended with exact terms, with
/// snippets. Builds a [`SearchIndex`] per call, embedding what is missing: for
/// the CLI only. The service answers from its [`super::indexer::Indexer`].
pub fn search(
    store: &Store,
    embedder: &dyn Embedder,
    query: &str,
    limit: usize,
) -> Result<Vec<SearchHit>, AgentError> {
    if query.trim().is_empty() {
        return Err(AgentError::EmptyQuery);
    }
    SearchIndex::build(store, embedder)?.query(embedder, query, limit)
}

/// The sentence of `body` with the most query terms (and its neighbour when
/// short), cut to about `max` characters on a word boundary.
pub fn snippet(body: &str, qterms: &HashSet<String>, max: usize) -> String {
    let sentences: Vec<&str> = body
        .split_inclusive(['.', '!', '?', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if sentences.is_empty() {
        return String::new();
    }
    let best = sentences
        .iter()
        .enumerate()
        .max_by_key(|(i, s)| {
            let n = tokens(s).iter().filter(|t| qterms.contains(*t)).count();
            (n, std::cmp::Reverse(*i))
        })
        .map_or(0, |(i, _)| i);
    let mut text = sentences[best].to_string();
    if text.chars().count() < max / 2 {
        if let Some(next) = sentences.get(best + 1) {
            text.push(' ');
            text.push_str(next);
        }
    }
    if text.chars().count() > max {
        let cut: String = text.chars().take(max).collect();
        let cut = match cut.rfind(' ') {
            Some(p) if p > max / 2 => cut[..p].to_string(),
            _ => cut,
        };
        text = format!("{cut} …");
    }
    if best > 0 {
        text = format!("… {text}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::normalize;

    #[test]
    fn packed_scan_matches_float_dot() {
        let mut rng = 12345u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % 2000) as f32 / 1000.0 - 1.0
        };
        let dim = 384;
        let mut pv = PackedVectors::new(dim);
        let mut exact = Vec::new();
        let mut q: Vec<f32> = (0..dim).map(|_| next()).collect();
        normalize(&mut q);
        for _ in 0..200 {
            let mut v: Vec<f32> = (0..dim).map(|_| next()).collect();
            normalize(&mut v);
            exact.push(crate::inference::dot(&q, &v));
            pv.push(&v);
        }
        let approx = pv.scan(&q);
        for (a, e) in approx.iter().zip(&exact) {
            assert!((a - e).abs() < 0.01, "{a} vs {e}");
        }
        let top = pv.top_k(&q, 5);
        assert_eq!(top.len(), 5);
        assert!(top.windows(2).all(|w| w[0].1 >= w[1].1));
        assert_eq!(pv.bytes(), 200 * (dim + 4));
    }

    #[test]
    fn snippet_picks_matching_sentence() {
        let q: HashSet<String> = tokens("seagrass sulfide").into_iter().collect();
        let s = snippet(
            "We studied fish. Seagrass survival depended on sulfide. Other things.",
            &q,
            240,
        );
        assert!(s.starts_with("… Seagrass survival"), "{s}");
    }
}
