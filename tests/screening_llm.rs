//! Manuscript screening with the real model and the real llama.cpp runtime.
//!
//! The GGUF comes from `OJSCOG_TEST_LLM` (a file path), else from the model
//! store (`scripts/fetch-models.sh` installs SmolLM2-135M-Instruct Q4_1 there).
//! A missing model fails these tests loudly: it is never a skip.
#![cfg(feature = "llm")]

use ojscog::agents::screening::{self, ScreeningAgent, ScreeningError, AGENT};
use ojscog::inference::llm::{self, GenerateRequest, Llm, LlmConfig, LlmError};
use ojscog::metrics::{names, Metrics};
use ojscog::store::Store;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The test model and its sha256 when the model store's manifest gives it.
fn test_model() -> (PathBuf, Option<String>) {
    if let Some(p) = std::env::var_os("OJSCOG_TEST_LLM").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "OJSCOG_TEST_LLM={} is not a file: run scripts/fetch-models.sh or fix the path",
            p.display()
        );
        return (p, None);
    }
    match llm::installed_model(Path::new("/nonexistent-ojscog-data")) {
        Ok(m) => (m.path, Some(m.sha256)),
        Err(e) => panic!(
            "the test LLM is not installed ({e}). Run scripts/fetch-models.sh, \
             or set OJSCOG_TEST_LLM=/path/to/SmolLM2-135M-Instruct.Q4_1.gguf"
        ),
    }
}

/// Deterministic settings: greedy, fixed seed, 2 threads, n_ctx 2048.
fn config(path: PathBuf) -> LlmConfig {
    LlmConfig {
        model_path: path,
        n_threads: 2,
        // The tests of this binary share one worker: room for all of them.
        queue_depth: 32,
        timeout_secs: 900,
        // The defaults are the deterministic ones: greedy, seed 42, n_ctx 2048.
        ..LlmConfig::default()
    }
}

/// One loaded model for the whole test binary (one worker, like the service).
fn shared_llm() -> Llm {
    static LLM: OnceLock<Llm> = OnceLock::new();
    LLM.get_or_init(|| {
        let (path, sha) = test_model();
        Llm::load(config(path), sha).expect("the test LLM loads")
    })
    .clone()
}

fn demo_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.sqlite3");
    ojscog::demo::load(&p).unwrap();
    let s = Store::open(&p).unwrap();
    (dir, s)
}

fn runs(store: &Store, id: Option<i64>, outcome: Option<&str>) -> i64 {
    store.agent_run_count(AGENT, id, outcome).unwrap()
}

fn cache_rows(store: &Store) -> i64 {
    store
        .scalar_i64("SELECT COUNT(*) FROM quality_assessment_cache")
        .unwrap()
}

#[test]
fn demo_submissions_yield_schema_valid_reports() {
    let (_d, store) = demo_store();
    let metrics = Arc::new(Metrics::new());
    let agent = ScreeningAgent::new(shared_llm(), metrics.clone());
    let sha = agent.llm().info().sha256.clone();
    assert_eq!(sha.len(), 64, "{sha}");
    let ids = [1, 2, 5, 7];
    for id in ids {
        let input = store.screening_input(id).unwrap().unwrap();
        let a = agent.assess(&store, id).unwrap();
        assert!(!a.cached);
        let r = &a.report;
        assert_eq!(r.submission_id, id);
        assert_eq!((r.publication_id, r.publication_version), (id, 1));
        assert_eq!(r.model.sha256, sha);
        // Facts come from the store, not the model.
        assert_eq!(r.facts.keywords, input.keywords);
        assert!(r.facts.keywords_present && r.facts.affiliations_present);
        assert!(r.facts.missing_elements.is_empty(), "{:?}", r.facts);
        assert_eq!(r.facts.sections.len(), 3);
        assert!(r.facts.abstract_words > 20);
        // The judgement passes the same validation again, from its JSON.
        let j = serde_json::to_string(&r.judgement).unwrap();
        screening::parse_judgement(&j, &input.sections).unwrap();
        assert!((1..=5).contains(&r.judgement.abstract_clarity));
        assert!(r.generation.generated_tokens > 10);
        eprintln!("#{id}: {}", serde_json::to_string(&r.judgement).unwrap());
        // The cached report is the served one, as JSON that parses back.
        let cached = agent.cached(&store, id).unwrap().unwrap();
        assert_eq!(cached.report, a.report);
    }
    assert_eq!(cache_rows(&store), ids.len() as i64);
    assert_eq!(runs(&store, None, Some("ok")), ids.len() as i64);
    let ok = [("agent", AGENT), ("outcome", "ok")];
    assert_eq!(
        metrics.value(names::AGENT_RUNS, Some(&ok)),
        ids.len() as f64
    );
    // The API shape: flat report plus `cached`.
    let v = serde_json::to_value(agent.assess(&store, 1).unwrap()).unwrap();
    assert_eq!(v["cached"], true);
    assert!(v["judgement"]["summary"].as_str().unwrap().len() >= 40);
    assert!(v["facts"]["missing_elements"].is_array());
}

#[test]
fn incomplete_submission_reports_missing_elements() {
    // #9 is still being filled in: no abstract, no keywords.
    let (_d, store) = demo_store();
    let agent = ScreeningAgent::new(shared_llm(), Arc::new(Metrics::new()));
    let r = agent.assess(&store, 9).unwrap().report;
    assert_eq!(r.facts.abstract_length, "missing");
    assert_eq!(r.facts.missing_elements, vec!["abstract", "keywords"]);
    assert!(!r.facts.keywords_present);
}

#[test]
fn second_call_hits_the_cache_and_an_edit_misses_it() {
    let (_d, mut store) = demo_store();
    let metrics = Arc::new(Metrics::new());
    let agent = ScreeningAgent::new(shared_llm(), metrics.clone());
    let first = agent.assess(&store, 3).unwrap();
    assert!(!first.cached);
    assert_eq!(runs(&store, Some(3), None), 1);
    let second = agent.assess(&store, 3).unwrap();
    assert!(second.cached, "second call must come from the cache");
    assert_eq!(second.report, first.report);
    assert_eq!(runs(&store, Some(3), None), 1, "a cache hit runs no model");
    let ok = [("agent", AGENT), ("outcome", "ok")];
    assert_eq!(metrics.value(names::AGENT_RUNS, Some(&ok)), 1.0);

    // The editor edits the abstract in place (same publication version): recomputed.
    let mut batch = ojscog::demo::batch(ojscog::system::unix_now());
    batch.upsert.retain(|s| s.id == 3);
    batch.upsert[0].texts[0]
        .abstract_text
        .push_str(" Funding was provided by a national programme.");
    batch.upsert[0].fingerprint.push_str("-edited");
    store.apply(&batch).unwrap();
    let third = agent.assess(&store, 3).unwrap();
    assert!(!third.cached);
    assert_ne!(third.report.input_hash, first.report.input_hash);
    assert_eq!(runs(&store, Some(3), None), 2);
    assert_eq!(cache_rows(&store), 1, "replaced under the same key");
}

#[test]
fn grammar_constrains_every_answer_to_json() {
    let (_d, store) = demo_store();
    let llm = shared_llm();
    for id in [1, 4, 6, 8, 12] {
        let input = store.screening_input(id).unwrap().unwrap();
        let req = GenerateRequest {
            messages: screening::prompt(&input),
            grammar: Some(screening::grammar(&input.sections)),
            max_tokens: None,
        };
        let g = llm.generate(req.clone()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&g.text)
            .unwrap_or_else(|e| panic!("#{id}: not JSON ({e}): {}", g.text));
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys.len(), 7, "#{id}: {keys:?}");
        let j = screening::parse_judgement(&g.text, &input.sections);
        assert!(j.is_ok(), "#{id}: {j:?}\n{}", g.text);
        // Deterministic: greedy, fixed threads and context.
        assert_eq!(llm.generate(req).unwrap().text, g.text, "#{id}");
    }
}

#[test]
fn truncated_or_corrupt_gguf_is_a_clean_error() {
    let (path, _) = test_model();
    let bytes = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>); 4] = [
        ("half.gguf", bytes[..bytes.len() / 2].to_vec()),
        ("header-only.gguf", bytes[..4096].to_vec()),
        ("tiny.gguf", bytes[..6].to_vec()),
        (
            "not-gguf.gguf",
            b"PK\x03\x04 this is a zip, not a model".to_vec(),
        ),
    ];
    for (name, data) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        let e = Llm::load(config(p.clone()), None).unwrap_err();
        assert!(matches!(e, LlmError::BadModel { .. }), "{name}: {e:?}");
        let msg = e.to_string();
        assert!(msg.contains(name), "{name}: {msg}");
        eprintln!("{name}: {msg}");
    }
    let e = Llm::load(config(dir.path().join("absent.gguf")), None).unwrap_err();
    assert!(matches!(e, LlmError::Read { .. }), "{e:?}");
    // The process is fine and the real model still loads afterwards.
    assert!(!shared_llm().info().sha256.is_empty());
}

#[test]
fn tiny_timeout_yields_a_timeout_outcome() {
    let (_d, store) = demo_store();
    let metrics = Arc::new(Metrics::new());
    let agent =
        ScreeningAgent::new(shared_llm(), metrics.clone()).with_timeout(Duration::from_millis(5));
    let e = agent.assess(&store, 2).unwrap_err();
    assert_eq!(e.outcome(), "timeout", "{e:?}");
    assert_eq!(e.http_status(), 504);
    assert_eq!(runs(&store, Some(2), Some("timeout")), 1);
    assert_eq!(cache_rows(&store), 0);
    let t = [("agent", AGENT), ("outcome", "timeout")];
    assert_eq!(metrics.value(names::AGENT_RUNS, Some(&t)), 1.0);
}

#[test]
fn answer_failing_validation_is_logged_and_not_cached() {
    // A token budget too small for the JSON: the answer is cut short.
    let (_d, store) = demo_store();
    let agent = ScreeningAgent::new(shared_llm(), Arc::new(Metrics::new())).with_max_tokens(12);
    let e = agent.assess(&store, 1).unwrap_err();
    assert!(matches!(e, ScreeningError::Invalid { .. }), "{e:?}");
    assert_eq!(e.outcome(), "error");
    assert_eq!(runs(&store, Some(1), Some("error")), 1);
    assert_eq!(cache_rows(&store), 0);
    let detail = store
        .column_strings("SELECT detail FROM agent_execution_log")
        .unwrap();
    assert!(detail[0].contains("failed validation"), "{detail:?}");
}

#[test]
fn unknown_submission_is_a_clear_error() {
    let (_d, store) = demo_store();
    let agent = ScreeningAgent::new(shared_llm(), Arc::new(Metrics::new()));
    let e = agent.assess(&store, 4242).unwrap_err();
    assert!(matches!(e, ScreeningError::NotFound(4242)), "{e:?}");
    assert_eq!(e.to_string(), "submission 4242 not found");
    assert_eq!(e.http_status(), 404);
    assert_eq!(runs(&store, Some(4242), Some("error")), 1);
    assert!(agent.cached(&store, 4242).is_err());
}
