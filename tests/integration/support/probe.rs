//! A fault-free probe around a real embedder: counts the texts
//! that reach the model, and can present the same weights under another model
//! id and sha256 (what a model update looks like to the caches).

use ojscog::inference::{Embedder, InferenceError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub struct CountingEmbedder {
    inner: Arc<dyn Embedder>,
    identity: Option<(String, String)>,
    texts: AtomicUsize,
}

impl CountingEmbedder {
    pub fn new(inner: Arc<dyn Embedder>) -> CountingEmbedder {
        CountingEmbedder {
            inner,
            identity: None,
            texts: AtomicUsize::new(0),
        }
    }

    #[cfg_attr(not(feature = "embeddings"), allow(dead_code))]
    /// The same model presented as another one (`model_id`, `model_sha256`).
    pub fn renamed(
        inner: Arc<dyn Embedder>,
        model_id: &str,
        model_sha256: &str,
    ) -> CountingEmbedder {
        CountingEmbedder {
            identity: Some((model_id.into(), model_sha256.into())),
            ..CountingEmbedder::new(inner)
        }
    }

    pub fn texts(&self) -> usize {
        self.texts.load(Ordering::SeqCst)
    }
}

impl Embedder for CountingEmbedder {
    fn model_id(&self) -> &str {
        match &self.identity {
            Some((id, _)) => id,
            None => self.inner.model_id(),
        }
    }
    fn model_sha256(&self) -> &str {
        match &self.identity {
            Some((_, sha)) => sha,
            None => self.inner.model_sha256(),
        }
    }
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, InferenceError> {
        self.texts.fetch_add(texts.len(), Ordering::SeqCst);
        self.inner.embed(texts)
    }
}
