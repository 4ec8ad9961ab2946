//! Exact-term text features shared by the matcher, search, the evaluation and
//! the hashing embedder (a leaf: it imports nothing of the crate):
//! a tokenizer (lowercase, stop words, light plural stemming), TF-IDF vectors
//! and a BM25 index.

use std::collections::HashMap;

const STOPWORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any",
    "approach", "are", "as", "at", "based", "be", "because", "been", "before", "being", "below",
    "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during",
    "each", "et", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her",
    "here", "hers", "him", "his", "how", "however", "i", "if", "in", "into", "is", "it", "its",
    "itself", "may", "me", "method", "methods", "more", "most", "much", "must", "my", "new", "no",
    "nor", "not", "of", "off", "on", "once", "one", "only", "or", "other", "our", "ours", "out",
    "over", "own", "paper", "present", "propose", "proposed", "result", "results", "same", "she",
    "should", "show", "shows", "so", "some", "study", "such", "than", "that", "the", "their",
    "theirs", "them", "then", "there", "these", "they", "this", "those", "through", "thus", "to",
    "too", "two", "under", "until", "up", "us", "use", "used", "using", "very", "via", "was", "we",
    "well", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will",
    "with", "within", "without", "work", "would", "you", "your", "yours",
];

fn is_stopword(w: &str) -> bool {
    STOPWORDS.binary_search(&w).is_ok()
}

/// Light, predictable stemming: plural and a few suffixes, so "reefs" meets "reef".
fn stem(w: &str) -> String {
    let n = w.chars().count();
    if n > 4 && w.ends_with("ies") {
        return format!("{}y", &w[..w.len() - 3]);
    }
    if n > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        return w[..w.len() - 1].to_string();
    }
    w.to_string()
}

/// Lowercased, stop-word-free, stemmed word tokens (letters and digits; pure numbers dropped).
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.split(|c: char| !c.is_alphanumeric()) {
        if raw.is_empty() {
            continue;
        }
        let w = raw.to_lowercase();
        if w.chars().count() < 2 || w.chars().all(|c| c.is_ascii_digit()) || is_stopword(&w) {
            continue;
        }
        out.push(stem(&w));
    }
    out
}

/// A sparse vector: (term id, weight) sorted by term id, plus its L2 norm over
/// all terms (terms unknown to the vocabulary count in the norm but match nothing).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVec {
    pub terms: Vec<(u32, f32)>,
}

impl SparseVec {
    pub fn dot(&self, other: &SparseVec) -> f32 {
        let (mut i, mut j, mut s) = (0, 0, 0f32);
        let (a, b) = (&self.terms, &other.terms);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    s += a[i].1 * b[j].1;
                    i += 1;
                    j += 1;
                }
            }
        }
        s
    }
}

/// TF-IDF with sublinear term frequency and smoothed IDF, vectors L2-normalised.
#[derive(Debug, Clone, Default)]
pub struct TfIdf {
    vocab: HashMap<String, u32>,
    df: Vec<u32>,
    docs: u32,
}

impl TfIdf {
    /// Learns document frequencies from a corpus.
    pub fn fit<'a>(docs: impl IntoIterator<Item = &'a str>) -> TfIdf {
        let mut t = TfIdf::default();
        for d in docs {
            t.docs += 1;
            let mut seen: Vec<u32> = Vec::new();
            for tok in tokens(d) {
                let next = t.vocab.len() as u32;
                let id = *t.vocab.entry(tok).or_insert(next);
                if id as usize == t.df.len() {
                    t.df.push(0);
                }
                seen.push(id);
            }
            seen.sort_unstable();
            seen.dedup();
            for id in seen {
                t.df[id as usize] += 1;
            }
        }
        t
    }

    pub fn docs(&self) -> u32 {
        self.docs
    }

    fn idf_of(&self, df: u32) -> f32 {
        ((1.0 + self.docs as f32) / (1.0 + df as f32)).ln() + 1.0
    }

    pub fn vector(&self, text: &str) -> SparseVec {
        let mut counts: HashMap<String, u32> = HashMap::new();
        for tok in tokens(text) {
            *counts.entry(tok).or_insert(0) += 1;
        }
        let mut terms = Vec::new();
        let mut norm2 = 0f32;
        for (tok, c) in counts {
            let tf = 1.0 + (c as f32).ln();
            match self.vocab.get(&tok) {
                Some(&id) => {
                    let w = tf * self.idf_of(self.df[id as usize]);
                    norm2 += w * w;
                    terms.push((id, w));
                }
                None => {
                    let w = tf * self.idf_of(0);
                    norm2 += w * w;
                }
            }
        }
        let norm = norm2.sqrt();
        if norm > 0.0 {
            for t in terms.iter_mut() {
                t.1 /= norm;
            }
        }
        terms.sort_unstable_by_key(|t| t.0);
        SparseVec { terms }
    }
}

/// Okapi BM25 over a fixed set of documents.
#[derive(Debug, Clone, Default)]
pub struct Bm25 {
    postings: HashMap<String, Vec<(u32, u32)>>,
    doc_len: Vec<u32>,
    avg_len: f32,
}

impl Bm25 {
    const K1: f32 = 1.2;
    const B: f32 = 0.75;

    pub fn build<'a>(docs: impl IntoIterator<Item = &'a str>) -> Bm25 {
        let mut idx = Bm25::default();
        for (i, d) in docs.into_iter().enumerate() {
            let toks = tokens(d);
            idx.doc_len.push(toks.len() as u32);
            let mut counts: HashMap<String, u32> = HashMap::new();
            for t in toks {
                *counts.entry(t).or_insert(0) += 1;
            }
            for (t, c) in counts {
                idx.postings.entry(t).or_default().push((i as u32, c));
            }
        }
        let n = idx.doc_len.len().max(1) as f32;
        idx.avg_len = idx.doc_len.iter().map(|&l| l as f32).sum::<f32>() / n;
        idx
    }

    pub fn len(&self) -> usize {
        self.doc_len.len()
    }

    pub fn is_empty(&self) -> bool {
        self.doc_len.is_empty()
    }

    /// Scores of every document with at least one query term: (doc index, score).
    pub fn scores(&self, query: &str) -> HashMap<u32, f32> {
        let n = self.doc_len.len() as f32;
        let mut q = tokens(query);
        q.sort();
        q.dedup();
        let mut out: HashMap<u32, f32> = HashMap::new();
        for t in q {
            let Some(post) = self.postings.get(&t) else {
                continue;
            };
            let df = post.len() as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(d, tf) in post {
                let tf = tf as f32;
                let len = self.doc_len[d as usize] as f32;
                let denom = tf + Self::K1 * (1.0 - Self::B + Self::B * len / self.avg_len.max(1.0));
                *out.entry(d).or_insert(0.0) += idf * tf * (Self::K1 + 1.0) / denom;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_sorted() {
        let mut s = STOPWORDS.to_vec();
        s.sort();
        assert_eq!(s, STOPWORDS, "binary search needs a sorted list");
    }

    #[test]
    fn tokens_and_stems() {
        assert_eq!(
            tokens("The Coral reefs of 2024, and the bodies!"),
            vec!["coral", "reef", "body"]
        );
    }

    #[test]
    fn tfidf_prefers_shared_rare_terms() {
        let corpus = [
            "coral reef bleaching",
            "fish stock assessment",
            "reef fish",
            "ocean",
        ];
        let t = TfIdf::fit(corpus);
        let q = t.vector("coral bleaching");
        let a = t.vector(corpus[0]);
        let b = t.vector(corpus[2]);
        assert!(q.dot(&a) > 0.5 && q.dot(&b) == 0.0);
        assert!((a.dot(&a) - 1.0).abs() < 1e-5);
        let bm = Bm25::build(corpus);
        let s = bm.scores("reef");
        assert_eq!(s.len(), 2);
    }
}
