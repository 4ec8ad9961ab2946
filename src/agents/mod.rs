//! The AI agents: reviewer matching, semantic search (and manuscript screening).
//! They read the store, call models through [`crate::inference`], and cache
//! what they compute in the store's own tables.

pub mod indexer;
pub mod jobs;
pub mod matching;
pub mod screening;
pub mod search;

use crate::inference::InferenceError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("submission {0} not found")]
    NoSubmission(i64),
    #[error("empty query")]
    EmptyQuery,
    /// A request needs vectors the background indexer has not made yet.
    #[error(
        "the documents are still being indexed ({done} of {total} embedded); try again shortly"
    )]
    Indexing { done: usize, total: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Inference(#[from] InferenceError),
}

/// sha256 hex of a string (text hashes, input hashes).
pub fn sha256_hex(s: &str) -> String {
    crate::models::sha256_hex(s.as_bytes())
}

/// Texts embedded per model call: short calls keep the worker responsive.
pub const EMBED_CHUNK: usize = 32;

/// Vectors by object id, and the (object id, text) items that have none yet.
pub type StoredAndMissing = (std::collections::HashMap<i64, Vec<f32>>, Vec<(i64, String)>);

/// Of `items` (object id, text) of one `kind`: the vectors stored for this
/// model and text (no model call), and the items still missing one. Empty texts
/// are neither.
pub fn stored_embeddings(
    store: &crate::store::Store,
    model_sha256: &str,
    dim: usize,
    kind: &str,
    items: &[(i64, String)],
) -> Result<StoredAndMissing, AgentError> {
    let mut have = store.embeddings(kind, model_sha256)?;
    let mut out = std::collections::HashMap::with_capacity(items.len());
    let mut missing = Vec::new();
    for (id, text) in items {
        if text.trim().is_empty() {
            continue;
        }
        match have.remove(id) {
            Some(e) if e.vector.len() == dim && e.text_hash == sha256_hex(text) => {
                out.insert(*id, e.vector);
            }
            _ => missing.push((*id, text.clone())),
        }
    }
    Ok((out, missing))
}

/// Vectors for `items` (object id, text) of one `kind`, from `semantic_embeddings`
/// when stored for this model and the same text, else computed and stored
/// (best effort: a read-only store just is not written). Texts that are empty
/// get no vector.
pub fn ensure_embeddings(
    store: &crate::store::Store,
    embedder: &dyn crate::inference::Embedder,
    kind: &str,
    items: &[(i64, String)],
) -> Result<std::collections::HashMap<i64, Vec<f32>>, AgentError> {
    let sha = embedder.model_sha256();
    let mut have = store.embeddings(kind, sha)?;
    let mut out = std::collections::HashMap::with_capacity(items.len());
    let mut todo: Vec<(i64, String, &str)> = Vec::new();
    for (id, text) in items {
        if text.trim().is_empty() {
            continue;
        }
        let h = sha256_hex(text);
        match have.remove(id) {
            Some(e) if e.text_hash == h && e.vector.len() == embedder.dim() => {
                out.insert(*id, e.vector);
            }
            _ => todo.push((*id, h, text.as_str())),
        }
    }
    let now = crate::system::unix_now();
    for chunk in todo.chunks(EMBED_CHUNK) {
        let texts: Vec<&str> = chunk.iter().map(|(_, _, t)| *t).collect();
        let vecs = embedder.embed(&texts)?;
        let rows: Vec<(i64, String, Vec<f32>)> = chunk
            .iter()
            .zip(vecs)
            .map(|((id, h, _), v)| (*id, h.clone(), v))
            .collect();
        if let Err(e) = store.put_embeddings(kind, sha, &rows, now) {
            tracing::debug!(error = %e, "cannot cache embeddings (read-only store?)");
        }
        for (id, _, v) in rows {
            out.insert(id, v);
        }
    }
    Ok(out)
}
