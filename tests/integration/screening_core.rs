//! Screening without running a model: errors a build or an install can give,
//! and the computed facts over the demo journal. Runs with and without `llm`.

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
    let found = llm::installed_model(dir.path()).unwrap();
    assert_eq!(found.sha256.len(), 64);
    let installed = store.current(ojscog::models::LLM_MODEL).unwrap();
    std::fs::write(installed.path("m.gguf"), b"GGUF").unwrap();
    let e = llm::installed_model(dir.path()).unwrap_err();
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
