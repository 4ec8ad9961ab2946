//! Screening without running a model: errors a build or an install can give,
//! and the computed facts over the demo journal. Runs with and without `llm`.

use crate::support::Inspect;
use ojscog::agents::screening::{self, ScreeningAgent, ScreeningError};
use ojscog::inference::llm::{self, LlmConfig, LlmError};
use ojscog::metrics::Metrics;
use ojscog::store::Store;
use std::sync::Arc;

#[test]
fn a_missing_model_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LlmConfig {
        model_path: dir.path().join("nope.gguf"),
        ..LlmConfig::default()
    };
    let e = match ScreeningAgent::load(cfg, dir.path(), Arc::new(Metrics::new())) {
        Ok(_) => panic!("loaded a model that does not exist"),
        Err(e) => e,
    };
    if cfg!(feature = "llm") {
        assert!(
            matches!(e, ScreeningError::Llm(LlmError::Read { .. })),
            "{e:?}"
        );
        assert!(e.to_string().contains("nope.gguf"), "{e}");
    } else {
        assert!(
            matches!(e, ScreeningError::Llm(LlmError::NotBuilt)),
            "{e:?}"
        );
    }
}

#[test]
fn a_model_truncated_against_its_manifest_is_reported() {
    // A store entry whose GGUF is shorter than its manifest says.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("m.gguf");
    std::fs::write(&src, b"GGUF\x03\x00\x00\x00 pretend weights").unwrap();
    let store = ojscog::models::ModelStore::for_data_dir(dir.path());
    store
        .install(
            ojscog::models::LLM_MODEL,
            "t1",
            "test",
            &[ojscog::models::SourceFile {
                src: src.clone(),
                dest: "m.gguf".into(),
                expect_sha256: None,
            }],
        )
        .unwrap();
    let found = llm::installed_model(dir.path(), ojscog::models::LLM_MODEL).unwrap();
    assert_eq!(found.sha256.len(), 64);
    let installed = store.current(ojscog::models::LLM_MODEL).unwrap();
    std::fs::write(installed.path("m.gguf"), b"GGUF").unwrap();
    let e = llm::installed_model(dir.path(), ojscog::models::LLM_MODEL).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn demo_facts_need_no_model() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.sqlite3");
    ojscog::demo::load(&p).unwrap();
    let store = Store::open(&p).unwrap();
    for id in 1..=12 {
        let input = store.screening_input(id).unwrap().unwrap();
        let f = screening::facts(&input);
        assert_eq!(
            f.sections,
            vec!["Articles", "Reviews", "Short Communications"]
        );
        assert_eq!(f.keywords_present, !input.keywords.is_empty());
        assert!(f.affiliations_present, "#{id}");
        // The prompt fits the default context with room for the answer.
        let chars: usize = screening::prompt(&input)
            .iter()
            .map(|m| m.content.len())
            .sum();
        assert!(chars < 6000, "#{id}: {chars}");
    }
    let f = screening::facts(&store.screening_input(9).unwrap().unwrap());
    assert_eq!(f.missing_elements, vec!["abstract", "keywords"]);
}

/// FAULT INJECTION ONLY: a "model" that answers a fixed text at once and
/// counts its calls, to drive the agent's cache, log and validation paths
/// without llama.cpp.
struct ScriptedGenerator {
    answer: String,
    info: llm::ModelInfo,
    calls: std::sync::atomic::AtomicUsize,
}

impl ScriptedGenerator {
    fn new(answer: &str) -> Arc<ScriptedGenerator> {
        Arc::new(ScriptedGenerator {
            answer: answer.to_string(),
            info: llm::ModelInfo {
                path: "scripted.gguf".into(),
                id: "scripted.gguf".into(),
                sha256: "5c".repeat(32),
                size_bytes: 0,
                name: None,
                n_params: 0,
                n_ctx_train: 2048,
                threads: 1,
            },
            calls: Default::default(),
        })
    }
    fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl llm::Generator for ScriptedGenerator {
    fn info(&self) -> &llm::ModelInfo {
        &self.info
    }
    fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(5)
    }
    fn generate_within(
        &self,
        _req: llm::GenerateRequest,
        _timeout: std::time::Duration,
    ) -> Result<llm::Generation, LlmError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(llm::Generation {
            text: self.answer.clone(),
            stop: llm::StopReason::EndOfText,
            prompt_tokens: 10,
            generated_tokens: 10,
            prompt_seconds: 0.0,
            decode_seconds: 0.0,
            queued_seconds: 0.0,
        })
    }
}

fn demo_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.sqlite3");
    ojscog::demo::load(&p).unwrap();
    let store = Store::open(&p).unwrap();
    (dir, store)
}

#[test]
fn a_valid_answer_is_cached_and_the_second_request_never_reaches_the_model() {
    let (_dir, store) = demo_store();
    let model = ScriptedGenerator::new(
        r#"{"summary":"A field study of reef fish counts across four sites, with methods and results clearly stated.","scope_fit":"good","best_section":"Articles",
            "abstract_clarity":4,"methods_stated":true,"results_stated":true,"conclusions_stated":true}"#,
    );
    let agent = ScreeningAgent::with_generator(model.clone(), Arc::new(Metrics::new()));
    let first = agent.assess(&store, 1).unwrap();
    assert!(!first.cached);
    assert_eq!(first.report.judgement.abstract_clarity, 4);
    assert_eq!(first.report.model.id, "scripted.gguf");
    let second = agent.assess(&store, 1).unwrap();
    assert!(second.cached);
    assert_eq!(second.report, first.report);
    assert_eq!(
        model.calls(),
        1,
        "the cached report never reaches the model"
    );
    assert_eq!(
        store
            .column_strings("SELECT outcome FROM agent_execution_log WHERE agent = 'screening'")
            .unwrap(),
        vec!["ok".to_string()],
        "one run logged; a cache hit is not a run"
    );
}

#[test]
fn an_answer_that_is_not_a_judgement_is_refused_logged_and_not_cached() {
    let (_dir, store) = demo_store();
    for garbage in [
        "I think this paper is great!",
        r#"{"summary":"x","scope_fit":"excellent","best_section":"Articles","abstract_clarity":4,
            "methods_stated":true,"results_stated":true,"conclusions_stated":true}"#,
        r#"{"summary":"x","scope_fit":"good","best_section":"Poetry","abstract_clarity":4,
            "methods_stated":true,"results_stated":true,"conclusions_stated":true}"#,
    ] {
        let model = ScriptedGenerator::new(garbage);
        let agent = ScreeningAgent::with_generator(model.clone(), Arc::new(Metrics::new()));
        let e = agent.assess(&store, 2).unwrap_err();
        assert!(
            matches!(e, ScreeningError::Invalid { .. }),
            "{garbage}: {e:?}"
        );
        assert!(agent.cached(&store, 2).unwrap().is_none(), "nothing cached");
        // Asked again, the model runs again: a refusal is never served from a cache.
        let _ = agent.assess(&store, 2).unwrap_err();
        assert_eq!(model.calls(), 2);
    }
    assert_eq!(
        store
            .scalar_i64("SELECT COUNT(*) FROM agent_execution_log WHERE agent = 'screening' AND outcome = 'error'")
            .unwrap(),
        6,
        "every refused answer is logged as an error"
    );
}
