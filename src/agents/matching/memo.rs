//! The last few rankings, in memory, so that showing a submission's page
//! again costs a lookup: a cached ranking in the store still needs the whole
//! journal read to prove its inputs unchanged (~100 ms at 5,000 submissions
//! and 2,000 reviewers); here the proof is the store's mirror generation
//! (it changes with every sync that changes something) and the model's sha256.

use super::{match_reviewers_indexed, MatchResult};
use crate::agents::AgentError;
use crate::inference::Embedder;
use crate::store::Store;
use std::collections::VecDeque;
use std::sync::Mutex;

/// Rankings kept (a few hundred KB each at 2,000 reviewers).
pub const MEMO_ENTRIES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    submission_id: i64,
    generation: i64,
    model_sha256: String,
    limit: usize,
}

/// Shared by the service's requests (`AppContext::matches`).
#[derive(Default)]
pub struct MatchMemo {
    entries: Mutex<VecDeque<(Key, MatchResult)>>,
}

impl MatchMemo {
    pub fn new() -> MatchMemo {
        MatchMemo::default()
    }

    /// [`match_reviewers_indexed`], answered from memory when neither the
    /// mirror nor the model changed since the same question was last answered.
    pub fn ranking(
        &self,
        store: &Store,
        embedder: &dyn Embedder,
        submission_id: i64,
        limit: usize,
    ) -> Result<MatchResult, AgentError> {
        let key = Key {
            submission_id,
            generation: store.mirror_generation()?,
            model_sha256: embedder.model_sha256().to_string(),
            limit,
        };
        if let Some(hit) = self.lock().iter().find(|(k, _)| *k == key) {
            let mut r = hit.1.clone();
            r.cached = true;
            return Ok(r);
        }
        let r = match_reviewers_indexed(store, embedder, submission_id, limit)?;
        let mut entries = self.lock();
        entries.retain(|(k, _)| k.submission_id != submission_id || k.limit != limit);
        if entries.len() >= MEMO_ENTRIES {
            entries.pop_front();
        }
        entries.push_back((key, r.clone()));
        Ok(r)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Key, MatchResult)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}
