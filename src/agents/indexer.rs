//! The service's search index and its background embedding job.
//!
//! A request never builds the index and never embeds the corpus: it takes a
//! snapshot (an `Arc` to an immutable [`SearchIndex`], swapped atomically) and
//! embeds at most its own query text. The index is rebuilt from the store's
//! stored vectors (no model call) when a sync changed data (the sync handle's
//! data generation moved), when the embedding model changes (another sha256),
//! and now and then while the background job embeds.
//!
//! The job embeds what lacks a vector for the current model (every
//! submission's text, every reviewer's interests and every distinct interest
//! term: what search and the matcher read) in small chunks through the model's
//! bounded worker, so a request's one-text call waits behind at most one chunk.
//! A `Busy` answer makes the job back off, never a request. Progress
//! ([`IndexProgress`]) is for the page, `/api` and `/metrics`.

use super::matching::{doc_text, interests_text, term_key};
use super::search::{SearchHit, SearchIndex};
use super::{sha256_hex, stored_embeddings, AgentError};
use crate::inference::{Embedder, InferenceError};
use crate::store::Store;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How the background job paces itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexerOptions {
    /// Texts per model call: small, so a request's query waits behind little.
    pub chunk: usize,
    /// How often the job looks for changed data (the sync's data generation).
    pub poll: Duration,
    /// How often it asks which embedding model is current (a model update).
    pub model_check: Duration,
    /// While embedding, a fresher snapshot is swapped in this often.
    pub refresh_every: Duration,
    /// Pause after the model answered `Busy` (requests come first).
    pub busy_backoff: Duration,
    /// After a failed pass, the next try.
    pub retry_after: Duration,
}

impl Default for IndexerOptions {
    fn default() -> Self {
        IndexerOptions {
            chunk: 8,
            poll: Duration::from_secs(1),
            model_check: Duration::from_secs(30),
            refresh_every: Duration::from_secs(15),
            busy_backoff: Duration::from_millis(500),
            retry_after: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexState {
    /// No index yet (the first build has not finished).
    Starting,
    /// Building the index or embedding documents.
    Running,
    Idle,
}

/// The background job as the page, `/api` and `/metrics` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexProgress {
    pub state: IndexState,
    pub model_id: Option<String>,
    pub model_sha256: Option<String>,
    /// Documents (submissions, reviewer profiles, interest terms) with a vector
    /// of the current model, out of `total`.
    pub done: usize,
    pub total: usize,
    /// Documents in the current search snapshot, and how many have vectors.
    pub searchable: usize,
    pub searchable_embedded: usize,
    /// Texts this process's job has embedded.
    pub texts_embedded: u64,
    /// Index builds since start (a request never builds one).
    pub builds: u64,
    pub last_build_at: Option<i64>,
    pub last_build_seconds: Option<f64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
}

impl Default for IndexProgress {
    fn default() -> Self {
        IndexProgress {
            state: IndexState::Starting,
            model_id: None,
            model_sha256: None,
            done: 0,
            total: 0,
            searchable: 0,
            searchable_embedded: 0,
            texts_embedded: 0,
            builds: 0,
            last_build_at: None,
            last_build_seconds: None,
            last_error: None,
            last_error_at: None,
        }
    }
}

/// How far embedding is, in an answer that was partly made by exact terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Indexing {
    pub done: usize,
    pub total: usize,
}

/// One search answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    /// The embedding model of the query (`hashing-bow-v1` when the real one is missing).
    pub model_id: String,
    /// Whether the query was scored by meaning at all.
    pub semantic: bool,
    /// Present while documents of the snapshot lack a vector of the query's
    /// model: those were scored by exact terms only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indexing: Option<Indexing>,
    pub hits: Vec<SearchHit>,
}

/// The index handle the service shares (`AppContext::indexer`).
pub struct Indexer {
    store_path: PathBuf,
    options: IndexerOptions,
    snapshot: RwLock<Option<Arc<SearchIndex>>>,
    progress: Mutex<IndexProgress>,
    builds: AtomicU64,
    wake: Mutex<bool>,
    wake_cv: Condvar,
}

/// One text the job still has to embed.
struct Todo {
    kind: &'static str,
    id: i64,
    text: String,
}

impl Indexer {
    pub fn new(store_path: PathBuf, options: IndexerOptions) -> Indexer {
        Indexer {
            store_path,
            options,
            snapshot: RwLock::new(None),
            progress: Mutex::new(IndexProgress::default()),
            builds: AtomicU64::new(0),
            wake: Mutex::new(false),
            wake_cv: Condvar::new(),
        }
    }

    pub fn options(&self) -> IndexerOptions {
        self.options
    }

    /// The background job's state now.
    pub fn progress(&self) -> IndexProgress {
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut IndexProgress)) {
        f(&mut self.progress.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Index builds since start.
    pub fn builds(&self) -> u64 {
        self.builds.load(Ordering::SeqCst)
    }

    /// The current index (None before the first build).
    pub fn snapshot(&self) -> Option<Arc<SearchIndex>> {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Asks the job to look again now (data or model changed).
    pub fn notify(&self) {
        *self.wake.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.wake_cv.notify_all();
    }

    /// Waits up to `d` for [`Indexer::notify`]; true when notified.
    fn wait(&self, d: Duration) -> bool {
        let mut woken = self.wake.lock().unwrap_or_else(|p| p.into_inner());
        if !*woken {
            woken = match self.wake_cv.wait_timeout(woken, d) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        std::mem::replace(&mut *woken, false)
    }

    /// Answers a query from the current snapshot: never builds an index, embeds
    /// only the query (and not even that when the snapshot holds no vectors of
    /// `embedder`'s model). Before the first build: [`AgentError::Indexing`].
    pub fn search(
        &self,
        embedder: &dyn Embedder,
        query: &str,
        limit: usize,
    ) -> Result<SearchResults, AgentError> {
        if query.trim().is_empty() {
            return Err(AgentError::EmptyQuery);
        }
        let Some(idx) = self.snapshot() else {
            let p = self.progress();
            return Err(AgentError::Indexing {
                done: p.done,
                total: p.total,
            });
        };
        let semantic = idx.semantic_with(embedder);
        if idx.model_sha256() != embedder.model_sha256() {
            // The model changed under the index: have the job look now.
            self.notify();
        }
        let done = if semantic { idx.embedded() } else { 0 };
        let hits = idx.query(embedder, query, limit)?;
        Ok(SearchResults {
            model_id: embedder.model_id().to_string(),
            semantic,
            indexing: (done < idx.len()).then_some(Indexing {
                done,
                total: idx.len(),
            }),
            hits,
        })
    }

    /// The submissions closest in meaning to submission `id`, from the current
    /// snapshot's vectors (no model call). `None` before the first build or
    /// while the submission has no vector.
    pub fn similar(&self, id: i64, limit: usize) -> Option<Vec<(i64, String, f32)>> {
        self.snapshot()?.similar_submissions(id, limit)
    }

    /// Builds the index from the stored vectors of `embedder`'s model (no model
    /// call) and swaps it in.
    pub fn refresh(
        &self,
        store: &Store,
        embedder: &dyn Embedder,
    ) -> Result<Arc<SearchIndex>, AgentError> {
        let t0 = Instant::now();
        let idx = Arc::new(SearchIndex::from_stored(
            store,
            embedder.model_sha256(),
            embedder.dim(),
        )?);
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Some(idx.clone());
        let builds = self.builds.fetch_add(1, Ordering::SeqCst) + 1;
        let seconds = t0.elapsed().as_secs_f64();
        self.update(|p| {
            p.builds = builds;
            p.last_build_at = Some(crate::system::unix_now());
            p.last_build_seconds = Some(seconds);
            p.searchable = idx.len();
            p.searchable_embedded = idx.embedded();
            if p.state == IndexState::Starting {
                p.state = IndexState::Idle;
            }
        });
        tracing::debug!(
            docs = idx.len(),
            embedded = idx.embedded(),
            seconds,
            "search index built"
        );
        Ok(idx)
    }

    /// What lacks a vector of `embedder`'s model, and (done, total).
    fn todo(
        &self,
        store: &Store,
        embedder: &dyn Embedder,
    ) -> Result<(Vec<Todo>, usize, usize), AgentError> {
        let corpus = store.corpus()?;
        let reviewers = store.reviewer_facts()?;
        let subs: Vec<(i64, String)> = corpus
            .iter()
            .map(|d| (d.id, doc_text(&d.title, &d.abstract_text, &d.keywords)))
            .collect();
        let revs: Vec<(i64, String)> = reviewers
            .iter()
            .filter(|r| !r.interests.is_empty())
            .map(|r| (r.id, interests_text(&r.interests)))
            .collect();
        let mut terms: Vec<(i64, String)> = reviewers
            .iter()
            .flat_map(|r| r.interests.iter())
            .map(|t| (term_key(t), t.trim().to_lowercase()))
            .collect();
        terms.sort();
        terms.dedup();
        let (sha, dim) = (embedder.model_sha256(), embedder.dim());
        let mut todo = Vec::new();
        let (mut done, mut total) = (0, 0);
        for (kind, items) in [
            ("submission", subs),
            ("reviewer", revs),
            ("interest_term", terms),
        ] {
            let (have, missing) = stored_embeddings(store, sha, dim, kind, &items)?;
            done += have.len();
            total += have.len() + missing.len();
            todo.extend(
                missing
                    .into_iter()
                    .map(|(id, text)| Todo { kind, id, text }),
            );
        }
        Ok((todo, done, total))
    }

    /// Embeds everything that lacks a vector of `embedder`'s model, chunk by
    /// chunk, storing each chunk and swapping in a fresher index now and then
    /// and at the end. Stops early (Ok) when `stop` says so. Returns the texts embedded.
    pub fn embed_pending(
        &self,
        store: &Store,
        embedder: &dyn Embedder,
        stop: &dyn Fn() -> bool,
    ) -> Result<usize, AgentError> {
        let (todo, mut done, total) = self.todo(store, embedder)?;
        self.update(|p| {
            p.model_id = Some(embedder.model_id().to_string());
            p.model_sha256 = Some(embedder.model_sha256().to_string());
            p.done = done;
            p.total = total;
        });
        if todo.is_empty() {
            return Ok(0);
        }
        self.update(|p| p.state = IndexState::Running);
        tracing::info!(
            pending = todo.len(),
            model = embedder.model_id(),
            "embedding documents in the background"
        );
        let sha = embedder.model_sha256().to_string();
        let mut embedded = 0usize;
        let mut last_refresh = Instant::now();
        let mut i = 0;
        while i < todo.len() {
            if stop() {
                break;
            }
            // One chunk, of one kind.
            let kind = todo[i].kind;
            let end = (i + self.options.chunk.max(1)).min(todo.len());
            let end = i + todo[i..end].iter().take_while(|t| t.kind == kind).count();
            let chunk = &todo[i..end];
            let texts: Vec<&str> = chunk.iter().map(|t| t.text.as_str()).collect();
            let vecs = match embedder.embed(&texts) {
                Ok(v) => v,
                Err(InferenceError::Busy { .. }) => {
                    std::thread::sleep(self.options.busy_backoff);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let rows: Vec<(i64, String, Vec<f32>)> = chunk
                .iter()
                .zip(vecs)
                .map(|(t, v)| (t.id, sha256_hex(&t.text), v))
                .collect();
            store.put_embeddings(kind, &sha, &rows, crate::system::unix_now())?;
            embedded += rows.len();
            done += rows.len();
            let n = rows.len() as u64;
            self.update(|p| {
                p.done = done;
                p.texts_embedded += n;
            });
            i = end;
            if last_refresh.elapsed() >= self.options.refresh_every {
                self.refresh(store, embedder)?;
                last_refresh = Instant::now();
            }
        }
        if embedded > 0 {
            self.refresh(store, embedder)?;
            store.checkpoint()?;
        }
        Ok(embedded)
    }

    /// One pass: a fresh index from the stored vectors, then the embedding of
    /// what is missing.
    pub fn pass(&self, embedder: &dyn Embedder, stop: &dyn Fn() -> bool) -> Result<(), AgentError> {
        if !self.store_path.exists() {
            return Ok(());
        }
        self.update(|p| {
            if p.state != IndexState::Starting {
                p.state = IndexState::Running;
            }
        });
        let store = Store::open(&self.store_path)?;
        self.refresh(&store, embedder)?;
        self.embed_pending(&store, embedder, stop)?;
        Ok(())
    }

    /// The background job: a pass at start, then one whenever the data
    /// generation moves, the model changes, [`Indexer::notify`] is called, or
    /// (after a failure) `retry_after` passed. Returns when `stop` says so.
    pub fn run(
        &self,
        embedder: &dyn Fn() -> Arc<dyn Embedder>,
        data_generation: &dyn Fn() -> u64,
        stop: &dyn Fn() -> bool,
    ) {
        let mut seen_generation: Option<u64> = None;
        let mut model: Option<Arc<dyn Embedder>> = None;
        let mut last_model_check = Instant::now();
        let mut retry_at: Option<Instant> = None;
        let mut woken = true;
        while !stop() {
            let mut model_changed = false;
            if model.is_none() || woken || last_model_check.elapsed() >= self.options.model_check {
                let e = embedder();
                model_changed = model
                    .as_ref()
                    .is_none_or(|m| m.model_sha256() != e.model_sha256() || m.dim() != e.dim());
                model = Some(e);
                last_model_check = Instant::now();
            }
            let generation = data_generation();
            let retry = retry_at.is_some_and(|t| Instant::now() >= t);
            if let Some(e) = model
                .as_ref()
                .filter(|_| woken || model_changed || retry || seen_generation != Some(generation))
            {
                seen_generation = Some(generation);
                match self.pass(e.as_ref(), stop) {
                    Ok(()) => {
                        retry_at = None;
                        self.update(|p| p.state = IndexState::Idle);
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "background indexing failed");
                        retry_at = Some(Instant::now() + self.options.retry_after);
                        let msg = err.to_string();
                        self.update(|p| {
                            p.last_error = Some(msg);
                            p.last_error_at = Some(crate::system::unix_now());
                            if p.state == IndexState::Running {
                                p.state = IndexState::Idle;
                            }
                        });
                    }
                }
            }
            woken = self.wait(self.options.poll);
        }
    }
}
