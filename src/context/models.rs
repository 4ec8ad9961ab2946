//! The models the service uses, loaded on first use.

use crate::agents::screening::{ScreeningAgent, ScreeningError};
use crate::config::{Config, FiguresConfig};
use crate::figures::agent::FigureAgent;
use crate::figures::FiguresError;
use crate::inference::{Embedder, FailureMemo};
use crate::metrics::Metrics;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The models, loaded on first use: start-up stays fast and a missing model
/// is an error on the routes that need it, not a service that will not start.
/// A failed load is remembered ([`FailureMemo`]: 60 s, or until the model's
/// files change), so a broken model is not loaded again on every request.
pub struct LazyModels {
    data_dir: PathBuf,
    llm: crate::inference::llm::LlmConfig,
    metrics: Arc<Metrics>,
    embedder: Mutex<Option<Arc<dyn Embedder>>>,
    screening: Mutex<Option<Arc<ScreeningAgent>>>,
    figures_config: FiguresConfig,
    figures: Mutex<Option<Arc<FigureAgent>>>,
    embedder_failure: FailureMemo,
    screening_failure: FailureMemo,
    figures_failure: FailureMemo,
}

impl LazyModels {
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> LazyModels {
        LazyModels {
            data_dir: config.data_dir.clone(),
            llm: config.llm.clone(),
            metrics,
            embedder: Mutex::new(None),
            screening: Mutex::new(None),
            figures_config: config.figures.clone(),
            figures: Mutex::new(None),
            embedder_failure: FailureMemo::default(),
            screening_failure: FailureMemo::default(),
            figures_failure: FailureMemo::default(),
        }
    }

    /// Forgets the loaded models and any remembered load failure: the next use
    /// loads what the store's `current` names now (after an update activated
    /// a new version, so agents pick it up without a restart).
    pub fn reload(&self) {
        *self.embedder.lock().unwrap_or_else(|p| p.into_inner()) = None;
        *self.screening.lock().unwrap_or_else(|p| p.into_inner()) = None;
        *self.figures.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.embedder_failure.forget();
        self.screening_failure.forget();
        self.figures_failure.forget();
    }

    /// The sentence-embedding model, or (with the reason) the exact-term
    /// fallback when the model cannot be loaded; loading is retried after 60 s
    /// or when the model's files change.
    pub fn embedder(&self) -> (Arc<dyn Embedder>, Option<String>) {
        let mut slot = self.embedder.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = slot.as_ref() {
            return (e.clone(), None);
        }
        let state = crate::inference::embedder_state(&self.data_dir);
        if let Some((message, ago)) = self.embedder_failure.recall(&state) {
            let e: Arc<dyn Embedder> = Arc::new(crate::inference::HashingEmbedder::default());
            return (
                e,
                Some(format!(
                    "{message} (failed {} s ago; not retried yet)",
                    ago.as_secs()
                )),
            );
        }
        let (e, warning) = crate::inference::open_embedder_or_fallback(&self.data_dir);
        match &warning {
            None => *slot = Some(e.clone()),
            Some(w) => self.embedder_failure.remember(state, w.clone()),
        }
        (e, warning)
    }

    /// The screening agent (loads the LLM on first use; a failure is
    /// answered again at once for 60 s, or until the model's files change).
    pub fn screening(&self) -> Result<Arc<ScreeningAgent>, ScreeningError> {
        let mut slot = self.screening.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(a) = slot.as_ref() {
            return Ok(a.clone());
        }
        let state = crate::inference::llm::model_state(&self.llm, &self.data_dir);
        if let Some((message, ago)) = self.screening_failure.recall(&state) {
            return Err(ScreeningError::Llm(
                crate::inference::llm::LlmError::RecentlyFailed {
                    message,
                    seconds_ago: ago.as_secs(),
                },
            ));
        }
        let agent =
            match ScreeningAgent::load(self.llm.clone(), &self.data_dir, self.metrics.clone()) {
                Ok(a) => Arc::new(a),
                Err(e) => {
                    self.screening_failure.remember(state, e.to_string());
                    return Err(e);
                }
            };
        *slot = Some(agent.clone());
        Ok(agent)
    }

    /// The figure checks (loads the detectors on first use; a failure is answered again at once for 60 s, or until
    /// the models' files change).
    pub fn figures(&self) -> Result<Arc<FigureAgent>, FiguresError> {
        let mut slot = self.figures.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(a) = slot.as_ref() {
            return Ok(a.clone());
        }
        let state = crate::inference::vision::models_state(&self.data_dir);
        if let Some((message, ago)) = self.figures_failure.recall(&state) {
            return Err(FiguresError::Renderer(format!(
                "{message} (failed {} s ago; not retried yet)",
                ago.as_secs()
            )));
        }
        match crate::figures::agent::load(
            &self.data_dir,
            &self.figures_config,
            self.metrics.clone(),
        ) {
            Ok(a) => {
                let a = Arc::new(a);
                *slot = Some(a.clone());
                Ok(a)
            }
            Err(e) => {
                self.figures_failure.remember(state, e.to_string());
                Err(e)
            }
        }
    }
}
