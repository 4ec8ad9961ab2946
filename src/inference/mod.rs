//! Model inference behind small traits, so heavy backends sit behind cargo
//! features and the core builds and tests without them.
//!
//! Every backend runs on a [`Worker`]: one thread per model, so one model call
//! at a time; a bounded queue in front of it (a full queue answers
//! [`InferenceError::Busy`] at once instead of piling up work on a 2-core box);
//! and a deadline per request ([`InferenceError::Timeout`]). A request whose
//! deadline passed while it waited in the queue is dropped without running.
//!
//! Models are loaded only through the model store's verified path (see
//! [`crate::models`]): a file whose sha256 does not match its manifest never
//! reaches a runtime, and caches key on the hashes computed, not claimed. A load
//! that failed is remembered by a [`FailureMemo`] (60 s, or until the model's
//! files or pointers change, see [`embedder_state`] and [`llm::model_state`]),
//! so callers get the failure (or the fallback) at once instead of loading again.

#[cfg(feature = "embeddings")]
pub mod embed;
/// Pure: grammar-guided beam search for the recogniser.
pub mod guide;
/// Always compiled; without the `llm` feature `Llm::load` answers `NotBuilt`.
pub mod llm;
/// Pure: Whisper's log-mel front end.
pub mod mel;
/// Always compiled; without the `voice` feature `Ear::load`/`Mouth::load` answer "built without voice".
pub mod speech;
/// Always compiled (the decoding is pure); without the `vision` feature `Eye::load` answers "built without vision".
pub mod vision;
/// Whisper's decoding loop on ONNX Runtime (the `voice` feature).
#[cfg(feature = "voice")]
pub mod whisper;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    #[error("model `{model}` is busy: {queued} requests already queued (limit {limit}); try again shortly")]
    Busy {
        model: String,
        queued: usize,
        limit: usize,
    },
    #[error("model `{model}` did not answer within {seconds:.1} s")]
    Timeout { model: String, seconds: f64 },
    #[error("model `{model}` worker has stopped")]
    Stopped { model: String },
    #[error("cannot load model `{model}`: {message}")]
    Load { model: String, message: String },
    #[error("model `{model}` failed: {message}")]
    Run { model: String, message: String },
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
}

/// Turns texts into unit-length vectors (cosine similarity = dot product).
pub trait Embedder: Send + Sync {
    /// Human-readable id, e.g. `all-minilm-l6-v2-int8@1.0.0`.
    fn model_id(&self) -> &str;
    /// Identity of the weights: caches keyed by it are invalidated by a model update.
    fn model_sha256(&self) -> &str;
    fn dim(&self) -> usize;
    /// One vector per text, each of length [`Embedder::dim`] and L2 norm 1 (or all zeros for empty text).
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, InferenceError>;
}

impl<E: Embedder + ?Sized> Embedder for Arc<E> {
    fn model_id(&self) -> &str {
        (**self).model_id()
    }
    fn model_sha256(&self) -> &str {
        (**self).model_sha256()
    }
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, InferenceError> {
        (**self).embed(texts)
    }
}

/// Queue depth and deadline of a [`Worker`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkerLimits {
    /// Requests waiting (not counting the running one) before `Busy`.
    pub queue_depth: usize,
    /// How long a caller waits for its answer, queueing included.
    pub timeout: Duration,
}

impl Default for WorkerLimits {
    fn default() -> Self {
        WorkerLimits {
            queue_depth: 8,
            timeout: Duration::from_secs(60),
        }
    }
}

type Job<B> = Box<dyn FnOnce(&mut B) + Send>;

struct Request<B> {
    deadline: Instant,
    job: Job<B>,
}

/// A dedicated thread owning a backend `B`; callers submit closures to it.
pub struct Worker<B: Send + 'static> {
    name: String,
    limits: WorkerLimits,
    tx: Mutex<Option<SyncSender<Request<B>>>>,
    queued: Arc<AtomicUsize>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl<B: Send + 'static> Worker<B> {
    /// Starts the worker; `init` runs on the worker thread (so a backend that
    /// is not `Send`-friendly to build stays on one thread) and its error is returned here.
    pub fn start(
        name: &str,
        limits: WorkerLimits,
        init: impl FnOnce() -> Result<B, InferenceError> + Send + 'static,
    ) -> Result<Worker<B>, InferenceError> {
        // The channel holds at most queue_depth waiting requests; the worker
        // takes one out before running it.
        let (tx, rx): (SyncSender<Request<B>>, Receiver<Request<B>>) =
            mpsc::sync_channel(limits.queue_depth.max(1));
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), InferenceError>>();
        let queued = Arc::new(AtomicUsize::new(0));
        let q = queued.clone();
        let tname = name.to_string();
        let thread = std::thread::Builder::new()
            .name(format!("model-{name}"))
            .spawn(move || {
                let mut backend = match init() {
                    Ok(b) => {
                        let _ = ready_tx.send(Ok(()));
                        b
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while let Ok(req) = rx.recv() {
                    q.fetch_sub(1, Ordering::SeqCst);
                    if Instant::now() >= req.deadline {
                        tracing::debug!(model = %tname, "dropping a request that expired in the queue");
                        continue; // the caller has already been told "timeout"
                    }
                    (req.job)(&mut backend);
                }
            })
            .map_err(|e| InferenceError::Load {
                model: name.to_string(),
                message: format!("cannot start worker thread: {e}"),
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(InferenceError::Load {
                    model: name.to_string(),
                    message: "worker thread died while loading".into(),
                });
            }
        }
        Ok(Worker {
            name: name.to_string(),
            limits,
            tx: Mutex::new(Some(tx)),
            queued,
            thread: Mutex::new(Some(thread)),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn limits(&self) -> WorkerLimits {
        self.limits
    }

    /// Requests waiting now (not the running one).
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Runs `f` on the worker thread and waits for its answer, within the limits.
    pub fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut B) -> Result<T, InferenceError> + Send + 'static,
    ) -> Result<T, InferenceError> {
        let deadline = Instant::now() + self.limits.timeout;
        let (reply_tx, reply_rx) = mpsc::sync_channel::<Result<T, InferenceError>>(1);
        let job: Job<B> = Box::new(move |b: &mut B| {
            let _ = reply_tx.send(f(b));
        });
        {
            let guard = self.tx.lock().map_err(|_| self.stopped())?;
            let tx = guard.as_ref().ok_or_else(|| self.stopped())?;
            self.queued.fetch_add(1, Ordering::SeqCst);
            match tx.try_send(Request { deadline, job }) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    let queued = self.queued.fetch_sub(1, Ordering::SeqCst) - 1;
                    return Err(InferenceError::Busy {
                        model: self.name.clone(),
                        queued,
                        limit: self.limits.queue_depth,
                    });
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.queued.fetch_sub(1, Ordering::SeqCst);
                    return Err(self.stopped());
                }
            }
        }
        match reply_rx.recv_timeout(self.limits.timeout) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(InferenceError::Timeout {
                model: self.name.clone(),
                seconds: self.limits.timeout.as_secs_f64(),
            }),
            // The job was dropped: it expired in the queue, or the worker is gone.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                if Instant::now() >= deadline {
                    Err(InferenceError::Timeout {
                        model: self.name.clone(),
                        seconds: self.limits.timeout.as_secs_f64(),
                    })
                } else {
                    Err(self.stopped())
                }
            }
        }
    }

    fn stopped(&self) -> InferenceError {
        InferenceError::Stopped {
            model: self.name.clone(),
        }
    }

    /// Stops accepting work, lets the queued requests finish, joins the thread.
    pub fn shutdown(&self) {
        if let Ok(mut g) = self.tx.lock() {
            g.take();
        }
        if let Some(t) = self.thread.lock().ok().and_then(|mut g| g.take()) {
            let _ = t.join();
        }
    }
}

impl<B: Send + 'static> Drop for Worker<B> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A backend an [`EmbeddingWorker`] can own: like [`Embedder`] but called on one thread.
pub trait EmbedBackend: Send + 'static {
    fn embed_batch(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, InferenceError>;
}

/// An [`Embedder`] whose calls go through a bounded [`Worker`].
pub struct EmbeddingWorker<B: EmbedBackend> {
    worker: Worker<B>,
    model_id: String,
    model_sha256: String,
    dim: usize,
}

impl<B: EmbedBackend> EmbeddingWorker<B> {
    pub fn start(
        model_id: &str,
        model_sha256: &str,
        dim: usize,
        limits: WorkerLimits,
        init: impl FnOnce() -> Result<B, InferenceError> + Send + 'static,
    ) -> Result<Self, InferenceError> {
        Ok(EmbeddingWorker {
            worker: Worker::start(model_id, limits, init)?,
            model_id: model_id.to_string(),
            model_sha256: model_sha256.to_string(),
            dim,
        })
    }

    pub fn worker(&self) -> &Worker<B> {
        &self.worker
    }
}

impl<B: EmbedBackend> Embedder for EmbeddingWorker<B> {
    fn model_id(&self) -> &str {
        &self.model_id
    }
    fn model_sha256(&self) -> &str {
        &self.model_sha256
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, InferenceError> {
        let owned: Vec<String> = texts.iter().map(|s| s.to_string()).collect();
        self.worker.call(move |b| b.embed_batch(&owned))
    }
}

/// A dependency-free embedder: feature hashing of word unigrams and bigrams,
/// sublinear TF, L2-normalised. It has no notion of meaning (synonyms do not
/// match) and exists so the matcher and search work, and are tested, in builds
/// without the `embeddings` feature or before the model is installed. Its
/// `model_sha256` is fixed, so its cached vectors never mix with a real model's.
#[derive(Debug, Clone)]
pub struct HashingEmbedder {
    dim: usize,
}

impl HashingEmbedder {
    pub const MODEL_ID: &'static str = "hashing-bow-v1";

    pub fn new(dim: usize) -> HashingEmbedder {
        HashingEmbedder { dim: dim.max(8) }
    }
}

impl Default for HashingEmbedder {
    fn default() -> Self {
        HashingEmbedder::new(384)
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Embedder for HashingEmbedder {
    fn model_id(&self) -> &str {
        Self::MODEL_ID
    }
    fn model_sha256(&self) -> &str {
        "hashing-bow-v1-0000000000000000000000000000000000000000000000000000"
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, InferenceError> {
        Ok(texts
            .iter()
            .map(|t| {
                let toks = crate::text::tokens(t);
                let mut counts: std::collections::HashMap<usize, f32> = Default::default();
                let mut add = |key: &str, w: f32| {
                    let h = fnv1a(key.as_bytes());
                    let idx = (h % self.dim as u64) as usize;
                    let sign = if (h >> 63) == 1 { -1.0 } else { 1.0 };
                    *counts.entry(idx).or_insert(0.0) += sign * w;
                };
                for w in toks.windows(2) {
                    add(&format!("{} {}", w[0], w[1]), 0.5);
                }
                for tok in &toks {
                    add(tok, 1.0);
                }
                let mut v = vec![0f32; self.dim];
                for (i, c) in counts {
                    // Opposite-signed collisions can cancel to exactly zero.
                    if c != 0.0 {
                        v[i] = c.signum() * (1.0 + c.abs().ln().max(0.0));
                    }
                }
                normalize(&mut v);
                v
            })
            .collect())
    }
}

/// The store the embedding model is loaded from: `<data_dir>/models` when it
/// has the model (even a broken one: that is an error, not a fall-through),
/// else the developers' store ([`crate::models::ModelStore::developer_root`]).
pub fn embedding_store(
    data_dir: &std::path::Path,
) -> Result<crate::models::ModelStore, InferenceError> {
    use crate::models::{ModelStore, EMBEDDING_MODEL};
    Ok(ModelStore::resolve(data_dir, EMBEDDING_MODEL)?)
}

/// A cheap fingerprint of what [`open_embedder`] would load (pointers and file
/// stamps of the model and ONNX Runtime, no hashing).
pub fn embedder_state(data_dir: &std::path::Path) -> String {
    use crate::models::{EMBEDDING_MODEL, ONNXRUNTIME};
    let ort = crate::models::ModelStore::resolve(data_dir, ONNXRUNTIME)
        .map(|s| s.state(ONNXRUNTIME))
        .unwrap_or_else(|e| e.to_string());
    match embedding_store(data_dir) {
        Ok(s) => format!("{}|{ort}", s.state(EMBEDDING_MODEL)),
        Err(e) => e.to_string(),
    }
}

/// The appliance's embedding model from [`embedding_store`], verified, on a
/// bounded worker. Errors when the `embeddings` feature is off, the model is not
/// installed, or a file fails verification (the error names the file).
pub fn open_embedder(data_dir: &std::path::Path) -> Result<Arc<dyn Embedder>, InferenceError> {
    #[cfg(feature = "embeddings")]
    {
        let store = embedding_store(data_dir)?;
        let ort = crate::models::ModelStore::resolve(data_dir, crate::models::ONNXRUNTIME)?;
        let e = embed::load_embedder_with(
            &store,
            &ort,
            embed::OnnxOptions::default(),
            WorkerLimits::default(),
        )?;
        Ok(Arc::new(e))
    }
    #[cfg(not(feature = "embeddings"))]
    {
        let _ = data_dir;
        Err(InferenceError::Load {
            model: crate::models::EMBEDDING_MODEL.into(),
            message: "this ojscog was built without the `embeddings` feature".into(),
        })
    }
}

/// The ONNX Runtime library this process already loaded (once loaded, it
/// stays for the life of the process: a new one takes effect at the next start).
pub fn ort_loaded() -> Option<std::path::PathBuf> {
    #[cfg(feature = "embeddings")]
    {
        embed::ort_loaded()
    }
    #[cfg(not(feature = "embeddings"))]
    {
        None
    }
}

/// What [`open_embedder_or_fallback`] adds to the reason it fell back.
pub const FALLBACK_NOTE: &str = "using exact-term matching only (no meaning)";

/// [`open_embedder`], or the lexical [`HashingEmbedder`] with the reason why.
pub fn open_embedder_or_fallback(
    data_dir: &std::path::Path,
) -> (Arc<dyn Embedder>, Option<String>) {
    match open_embedder(data_dir) {
        Ok(e) => (e, None),
        Err(e) => (
            Arc::new(HashingEmbedder::default()),
            Some(format!("{e}; {FALLBACK_NOTE}")),
        ),
    }
}

/// Remembers the last failure to load a model, so that callers asking again
/// get it at once instead of hashing and loading again: for `hold` (60 s by
/// default), or until the model's `state` (a cheap fingerprint such as
/// [`embedder_state`]) changes.
#[derive(Debug)]
pub struct FailureMemo {
    hold: Duration,
    last: Mutex<Option<(Instant, String, String)>>,
}

impl Default for FailureMemo {
    fn default() -> Self {
        FailureMemo::new(FailureMemo::DEFAULT_HOLD)
    }
}

impl FailureMemo {
    pub const DEFAULT_HOLD: Duration = Duration::from_secs(60);

    pub fn new(hold: Duration) -> FailureMemo {
        FailureMemo {
            hold,
            last: Mutex::new(None),
        }
    }

    /// The remembered failure and how long ago it happened, while it is
    /// younger than `hold` and was recorded under the same `state`.
    pub fn recall(&self, state: &str) -> Option<(String, Duration)> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        match last.as_ref() {
            Some((at, s, message)) if s == state && at.elapsed() < self.hold => {
                Some((message.clone(), at.elapsed()))
            }
            _ => None,
        }
    }

    pub fn remember(&self, state: String, message: String) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), state, message));
    }

    pub fn forget(&self) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Scales `v` to unit length in place (all-zero stays zero).
pub fn normalize(v: &mut [f32]) {
    let n: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 && n.is_finite() {
        for x in v.iter_mut() {
            *x /= n;
        }
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Slow(Duration);
    impl EmbedBackend for Slow {
        fn embed_batch(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, InferenceError> {
            std::thread::sleep(self.0);
            Ok(texts.iter().map(|_| vec![1.0]).collect())
        }
    }

    #[test]
    fn busy_and_timeout() {
        let limits = WorkerLimits {
            queue_depth: 1,
            timeout: Duration::from_millis(300),
        };
        let w = Arc::new(
            EmbeddingWorker::start("slow", "x", 1, limits, || {
                Ok(Slow(Duration::from_millis(200)))
            })
            .unwrap(),
        );
        // One runs, one waits, the third is refused at once.
        let a = {
            let w = w.clone();
            std::thread::spawn(move || w.embed(&["a"]))
        };
        std::thread::sleep(Duration::from_millis(50));
        let b = {
            let w = w.clone();
            std::thread::spawn(move || w.embed(&["b"]))
        };
        std::thread::sleep(Duration::from_millis(50));
        let t0 = Instant::now();
        let c = w.embed(&["c"]);
        assert!(
            matches!(c, Err(InferenceError::Busy { .. })),
            "{:?}",
            c.map(|_| ())
        );
        assert!(t0.elapsed() < Duration::from_millis(50));
        assert!(a.join().unwrap().is_ok());
        // b waited ~150 ms and then needs 200 ms: past its 300 ms deadline.
        let b = b.join().unwrap();
        assert!(
            matches!(b, Err(InferenceError::Timeout { .. })),
            "{:?}",
            b.map(|_| ())
        );
        std::thread::sleep(Duration::from_millis(300));
        assert!(w.embed(&["d"]).is_ok(), "the worker recovers");
    }

    #[test]
    fn load_error_is_returned() {
        let r = Worker::<Slow>::start("broken", WorkerLimits::default(), || {
            Err(InferenceError::Load {
                model: "broken".into(),
                message: "no file".into(),
            })
        });
        assert!(matches!(r, Err(InferenceError::Load { .. })));
    }

    #[test]
    fn hashing_embedder_is_unit_and_lexical() {
        let e = HashingEmbedder::default();
        let v = e
            .embed(&[
                "coral reef bleaching",
                "coral bleaching on reefs",
                "tax law",
            ])
            .unwrap();
        assert!((dot(&v[0], &v[0]) - 1.0).abs() < 1e-5);
        assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]));
    }
}
