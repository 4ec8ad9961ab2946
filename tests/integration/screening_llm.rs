//! Manuscript screening with the real model and the real llama.cpp runtime.
//!
//! The GGUF comes from `OJSCOG_TEST_LLM` (a file path), else from the model
//! store (`scripts/fetch-models.sh` installs SmolLM2-135M-Instruct Q4_1 there).
//! A missing model fails these tests loudly: it is never a skip.
#![cfg(feature = "llm")]

use crate::support::Inspect;
use ojscog::agents::screening::{self, ScreeningAgent, ScreeningError, AGENT};
use ojscog::inference::llm::{self, GenerateRequest, Llm, LlmConfig, LlmError};
use ojscog::metrics::{names, Metrics};
use ojscog::models::{self, ModelError, ModelStore, SourceFile, LLM_MODEL};
use ojscog::store::Store;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The test model: `OJSCOG_TEST_LLM`, else the installed model, verified.
fn test_model() -> PathBuf {
    if let Some(p) = std::env::var_os("OJSCOG_TEST_LLM").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "OJSCOG_TEST_LLM={} is not a file: run scripts/fetch-models.sh or fix the path",
            p.display()
        );
        return p;
    }
    match llm::installed_model(
        Path::new("/nonexistent-ojscog-data"),
        ojscog::models::LLM_MODEL,
    ) {
        Ok(m) => m.path,
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
    LLM.get_or_init(|| Llm::load(config(test_model())).expect("the test LLM loads"))
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
    let path = test_model();
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
        let e = Llm::load(config(p.clone())).unwrap_err();
        assert!(matches!(e, LlmError::BadModel { .. }), "{name}: {e:?}");
        let msg = e.to_string();
        assert!(msg.contains(name), "{name}: {msg}");
        eprintln!("{name}: {msg}");
    }
    let e = Llm::load(config(dir.path().join("absent.gguf"))).unwrap_err();
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
    // Not-found calls are not runs: anonymous probing used to add a fsynced
    // agent_execution_log row per request.
    assert_eq!(runs(&store, Some(4242), None), 0);
    assert!(agent.cached(&store, 4242).is_err());
}

// ---- integrity: only verified weights are loaded, caches key on computed hashes ----

/// A model store under `data_dir` holding a copy of the test GGUF as the
/// installed default model; returns the installed file.
fn install_gguf_copy(data_dir: &Path) -> PathBuf {
    let store = ModelStore::for_data_dir(data_dir);
    let m = store
        .install(
            LLM_MODEL,
            "t1",
            "test copy",
            &[SourceFile {
                src: test_model(),
                dest: "model.gguf".into(),
                expect_sha256: None,
            }],
        )
        .unwrap();
    m.path("model.gguf")
}

/// Flips one byte three quarters into the file (tensor data: llama.cpp still loads it).
fn flip_byte(path: &Path) {
    let len = std::fs::metadata(path).unwrap().len();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let at = len * 3 / 4;
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(at)).unwrap();
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[b[0] ^ 0xff]).unwrap();
    f.sync_all().unwrap();
}

#[test]
fn a_flipped_byte_in_the_installed_gguf_is_refused_before_loading() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = install_gguf_copy(dir.path());
    flip_byte(&gguf);
    let e = match ScreeningAgent::load(config(PathBuf::new()), dir.path(), Arc::new(Metrics::new()))
    {
        Ok(_) => panic!("a GGUF that fails its manifest was loaded"),
        Err(e) => e,
    };
    assert!(
        matches!(
            e,
            ScreeningError::Llm(LlmError::Unverified(ModelError::HashMismatch { .. }))
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains(&gguf.display().to_string()) && msg.contains("corrupt"),
        "{msg}"
    );
}

#[test]
fn assess_on_a_corrupt_installed_gguf_fails_and_caches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = install_gguf_copy(dir.path());
    flip_byte(&gguf);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ojscog"))
        .args(["assess", "--demo", "--threads", "2", "1"])
        .env("OJSCOG_DATA_DIR", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "assess ran on a corrupt model: {stderr}"
    );
    assert!(
        stderr.contains("model.gguf") && stderr.contains("corrupt"),
        "{stderr}"
    );
    let store = Store::open(&dir.path().join("demo/ojscog.sqlite3")).unwrap();
    assert_eq!(cache_rows(&store), 0, "nothing cached for a corrupt model");
}

#[test]
fn a_corrupt_gguf_is_hashed_once_and_its_failure_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = install_gguf_copy(dir.path());
    flip_byte(&gguf);
    let cfg = ojscog::config::Config {
        data_dir: dir.path().to_path_buf(),
        llm: config(PathBuf::new()),
        ..Default::default()
    };
    let ai = ojscog::context::LazyModels::new(&cfg, Arc::new(Metrics::new()));
    let before = models::times_hashed(&gguf);
    let first = ai.screening().err().expect("a corrupt model is refused");
    assert!(first.to_string().contains("model.gguf"), "{first}");
    assert_eq!(models::times_hashed(&gguf), before + 1);
    // The next request gets the same answer at once: no second 90 MB hash.
    let second = ai.screening().err().expect("still refused");
    assert!(
        matches!(second, ScreeningError::Llm(LlmError::RecentlyFailed { .. })),
        "{second:?}"
    );
    assert!(
        second.to_string().contains("model.gguf") && second.to_string().contains("corrupt"),
        "{second}"
    );
    assert_eq!(models::times_hashed(&gguf), before + 1);
}

#[test]
fn an_unchanged_installed_gguf_is_hashed_once_per_process() {
    let none = Path::new("/nonexistent-ojscog-data");
    let first = llm::installed_model(none, ojscog::models::LLM_MODEL).unwrap();
    let n = models::times_hashed(&first.path);
    let again = llm::installed_model(none, ojscog::models::LLM_MODEL).unwrap();
    assert_eq!(again.sha256, first.sha256);
    assert_eq!(
        models::times_hashed(&first.path),
        n,
        "re-hashed an unchanged file"
    );
}

#[test]
fn a_hand_given_gguf_is_keyed_on_the_hash_of_its_own_bytes() {
    let genuine = llm::installed_model(
        Path::new("/nonexistent-ojscog-data"),
        ojscog::models::LLM_MODEL,
    )
    .unwrap()
    .sha256;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.gguf");
    std::fs::copy(test_model(), &copy).unwrap();
    flip_byte(&copy);
    let llm = Llm::load(config(copy.clone())).unwrap();
    assert_eq!(llm.info().sha256, models::sha256_file(&copy).unwrap());
    assert_ne!(
        llm.info().sha256,
        genuine,
        "keyed on the genuine model's hash"
    );
}
