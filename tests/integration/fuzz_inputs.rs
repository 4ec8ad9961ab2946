//! Property-based fuzzing of what the box reads from files and settings: the
//! config loader (TOML text and `OJSCOG_*` variables), model manifests, the
//! GGUF header check and the OJS HTML-to-text converter.
//!
//! Each target runs for `OJSCOG_FUZZ_SECS` (a few seconds by default; the
//! full run in RELIABILITY.md uses 600). A panic anywhere is a failure.

use crate::support::fuzzing;

use ojscog::config::{Config, ConfigError};
use ojscog::inference::llm::{check_gguf_file, check_gguf_header, GGUF_HEADER_LEN};
use ojscog::models::{ModelError, ModelStore};
use ojscog::ojs::text::html_to_text;
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

// ---------------------------------------------------------------------------
// The largest single allocation made by this thread, to show that a header
// claiming 2^60 tensors does not make the reader reserve room for them.

struct Tracking;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(layout.size())));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(new_size)));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Tracking = Tracking;

/// The largest single allocation `f` makes on this thread.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let out = f();
    (out, LARGEST.with(|l| l.get()))
}

// ---------------------------------------------------------------------------
// Config

/// Every key the config file knows, as `ConfigError::Invalid` names them.
const CONFIG_KEYS: &[&str] = &[
    "data_dir",
    "ojs.url",
    "ojs.sync_interval_secs",
    "ojs.min_backoff_secs",
    "ojs.batch_size",
    "ojs.timeout_secs",
    "ojs.ssl_ca",
    "web.listen",
    "web.workers",
    "web.max_body_bytes",
    "web.admin_token",
    "web.read_token",
    "web.allowed_hosts",
    "web.session_hours",
    "web.ai_workers",
    "web.max_connections",
    "web.max_header_bytes",
    "web.max_headers",
    "web.read_timeout_secs",
    "web.write_timeout_secs",
    "llm",
    "llm.model_path",
    "metrics.sample_interval_secs",
    "metrics.retention_hours",
];

const SECTIONS: &[&str] = &["", "ojs", "web", "metrics", "llm", "bogus", "web.extra"];

const FILE_KEYS: &[&str] = &[
    "data_dir",
    "url",
    "sync_interval_secs",
    "min_backoff_secs",
    "max_backoff_secs",
    "batch_size",
    "timeout_secs",
    "stale_after_secs",
    "ssl_ca",
    "listen",
    "admin_token",
    "read_token",
    "access",
    "allowed_hosts",
    "session_hours",
    "ai_workers",
    "max_connections",
    "max_header_bytes",
    "max_headers",
    "write_timeout_secs",
    "workers",
    "max_body_bytes",
    "read_timeout_secs",
    "slots_file",
    "sample_interval_secs",
    "retention_hours",
    "model_path",
    "n_ctx",
    "n_threads",
    "n_batch",
    "temperature",
    "seed",
    "repeat_penalty",
    "repeat_last_n",
    "max_tokens",
    "queue_depth",
];

const ENV_NAMES: &[&str] = &[
    "OJSCOG_DATA_DIR",
    "OJSCOG_OJS_URL",
    "OJSCOG_OJS_SYNC_INTERVAL_SECS",
    "OJSCOG_OJS_MIN_BACKOFF_SECS",
    "OJSCOG_OJS_MAX_BACKOFF_SECS",
    "OJSCOG_OJS_BATCH_SIZE",
    "OJSCOG_OJS_TIMEOUT_SECS",
    "OJSCOG_OJS_STALE_AFTER_SECS",
    "OJSCOG_OJS_SSL_CA",
    "OJSCOG_WEB_LISTEN",
    "OJSCOG_WEB_ADMIN_TOKEN",
    "OJSCOG_WEB_WORKERS",
    "OJSCOG_WEB_MAX_BODY_BYTES",
    "OJSCOG_WEB_READ_TIMEOUT_SECS",
    "OJSCOG_WEB_WRITE_TIMEOUT_SECS",
    "OJSCOG_WEB_READ_TOKEN",
    "OJSCOG_WEB_ACCESS",
    "OJSCOG_WEB_ALLOWED_HOSTS",
    "OJSCOG_WEB_SESSION_HOURS",
    "OJSCOG_WEB_AI_WORKERS",
    "OJSCOG_WEB_MAX_CONNECTIONS",
    "OJSCOG_WEB_MAX_HEADER_BYTES",
    "OJSCOG_WEB_MAX_HEADERS",
    "OJSCOG_WEB_SLOTS_FILE",
    "OJSCOG_METRICS_SAMPLE_INTERVAL_SECS",
    "OJSCOG_METRICS_RETENTION_HOURS",
    "OJSCOG_LLM_N_THREADS",
    "OJSCOG_LLM_TIMEOUT_SECS",
    "OJSCOG_LLM_MAX_TOKENS",
    "OJSCOG_LOG",
];

fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (0u64..100_000).prop_map(|n| n.to_string()),
        Just("18446744073709551616".to_string()),
        Just("-1".to_string()),
        Just("0".to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        Just("nan".to_string()),
        Just("inf".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        ".*".prop_map(|s| format!("{s:?}")),
        "[ -~]{0,40}".prop_map(|s| format!("'{}'", s.replace('\'', ""))),
        Just("\"mysql://u:p@127.0.0.1:3306/ojs\"".to_string()),
        Just("\"mysql://u:p@[::1]:99999/ojs\"".to_string()),
        Just("\"127.0.0.1:0\"".to_string()),
        Just("\"[::1]:8080\"".to_string()),
        Just("[1, \"a\", {x = 1}]".to_string()),
        Just("{ a = 1 }".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
        Just("\"\"\"\nmulti\nline\"\"\"".to_string()),
    ]
}

fn toml_line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (prop::sample::select(FILE_KEYS), toml_value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => ("[a-z_.\"]{1,12}", toml_value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => prop::sample::select(SECTIONS).prop_map(|s| format!("[{s}]")),
        1 => prop::sample::select(SECTIONS).prop_map(|s| format!("[[{s}]]")),
        1 => ".{0,40}",
    ]
}

fn toml_text() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => ".{0,200}",
        1 => prop::collection::vec(any::<u8>(), 0..200)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        6 => prop::collection::vec(toml_line(), 0..16).prop_map(|l| l.join("\n")),
    ]
}

fn check_config_error(e: &ConfigError, env_names: &[&str]) -> Result<(), TestCaseError> {
    let shown = e.to_string();
    match e {
        ConfigError::Invalid { key, .. } => {
            prop_assert!(
                CONFIG_KEYS.contains(&key.as_str()) || env_names.contains(&key.as_str()),
                "error names no known key: {shown}"
            );
            prop_assert!(shown.contains(key.as_str()), "{shown}");
        }
        other => prop_assert!(false, "unexpected error kind: {other}"),
    }
    Ok(())
}

#[test]
fn the_config_loader_never_panics_and_its_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    fuzzing::fuzz("config", toml_text(), |text| {
        match Config::from_toml(&text) {
            Err(message) => {
                // toml points at the spot (line, column, the line's text).
                prop_assert!(!message.is_empty());
                prop_assert!(message.contains("line"), "{message}");
            }
            Ok(cfg) => match cfg.validate() {
                Ok(()) => {
                    // A config that passes `config check` must not fail later,
                    // at the first use of the model.
                    prop_assert!(cfg.llm.validate().is_ok(), "{:?}", cfg.llm);
                }
                Err(e) => check_config_error(&e, &[])?,
            },
        }
        // The same text through the file loader: a Parse error names the file.
        std::fs::write(&file, &text).unwrap();
        match Config::load_with_env(Some(&file), &[]) {
            Ok(_) => {}
            Err(ConfigError::Parse { path, .. }) => prop_assert_eq!(&path, &file),
            Err(e) => check_config_error(&e, &[])?,
        }
        Ok(())
    });
}

fn env_value() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| format!(" {n} ")),
        Just("99999999999999999999999".to_string()),
        Just(String::new()),
        Just("127.0.0.1:0".to_string()),
        Just("mysql://ro:pw@127.0.0.1:3306/ojs".to_string()),
        Just("mysql://ro:pw@host:notaport/ojs".to_string()),
        Just("mysql://ro:pw@127.0.0.1:3306/ojs?require_ssl=maybe".to_string()),
        "[0-9]{0,3}",
    ]
}

fn env_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(ENV_NAMES).prop_map(str::to_string),
        1 => "OJSCOG_[A-Z_]{0,20}",
        1 => "[A-Z_]{1,12}",
    ]
}

#[test]
fn ojscog_variables_never_panic_the_loader_and_errors_name_the_variable_or_key() {
    let env = prop::collection::vec((env_name(), env_value()), 0..8);
    fuzzing::fuzz("env", env, |env| {
        let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
        match Config::load_with_env(None, &env) {
            Ok(cfg) => prop_assert!(cfg.validate().is_ok()),
            Err(e) => check_config_error(&e, &names)?,
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// Model manifests

const WEIGHTS: &[u8] = b"pretend model weights\n";

fn weights_sha() -> String {
    ojscog::models::hex(&<sha2::Sha256 as sha2::Digest>::digest(WEIGHTS))
}

fn manifest_bytes() -> impl Strategy<Value = Vec<u8>> {
    let path = prop_oneof![
        4 => Just("weights.bin".to_string()),
        1 => Just("../weights.bin".to_string()),
        1 => Just("/etc/passwd".to_string()),
        1 => Just("./weights.bin".to_string()),
        1 => Just("weights.bin/".to_string()),
        1 => Just(".hidden".to_string()),
        1 => Just(".".to_string()),
        1 => Just(String::new()),
        2 => "[a-z./]{0,16}",
        1 => ".{0,16}",
    ];
    let sha = prop_oneof![
        4 => Just(weights_sha()),
        1 => "[0-9a-f]{64}",
        1 => ".{0,70}",
    ];
    let size = prop_oneof![
        4 => Just(WEIGHTS.len() as u64),
        1 => any::<u64>(),
    ];
    let entry = (path, sha, size).prop_map(
        |(path, sha256, size)| serde_json::json!({ "path": path, "sha256": sha256, "size": size }),
    );
    let structured = (prop::collection::vec(entry, 0..4), ".{0,10}", any::<i64>()).prop_map(
        |(files, source, at)| {
            serde_json::to_vec(&serde_json::json!({
                "name": "m", "version": "v1", "source": source,
                "installed_at": at, "files": files,
            }))
            .unwrap()
        },
    );
    let real = serde_json::to_vec_pretty(&serde_json::json!({
        "name": "m", "version": "v1", "source": "", "installed_at": 1,
        "files": [{ "path": "weights.bin", "sha256": weights_sha(), "size": WEIGHTS.len() }],
    }))
    .unwrap();
    let real_len = real.len();
    let mutated =
        prop::collection::vec((0..real_len, any::<u8>(), 0u8..3), 1..6).prop_map(move |edits| {
            let mut b = real.clone();
            for (i, byte, op) in edits {
                let i = i.min(b.len());
                match op {
                    0 if i < b.len() => b[i] = byte,
                    1 => b.insert(i, byte),
                    _ if i < b.len() => {
                        b.remove(i);
                    }
                    _ => {}
                }
            }
            b
        });
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..300),
        3 => structured,
        3 => mutated,
    ]
}

#[test]
fn manifests_of_any_bytes_never_panic_and_verify_only_matching_files() {
    let root = tempfile::tempdir().unwrap();
    let version_dir = root.path().join("m/v1");
    std::fs::create_dir_all(&version_dir).unwrap();
    std::fs::write(version_dir.join("weights.bin"), WEIGHTS).unwrap();
    std::os::unix::fs::symlink("v1", root.path().join("m/current")).unwrap();
    let store = ModelStore::new(root.path());
    let sha = weights_sha();
    fuzzing::fuzz("manifest", manifest_bytes(), |bytes| {
        std::fs::write(version_dir.join("manifest.json"), &bytes).unwrap();
        match store.version("m", "v1") {
            Err(ModelError::Manifest { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected error: {other}"),
            Ok(m) => {
                for f in &m.manifest.files {
                    prop_assert!(
                        Path::new(&f.path)
                            .components()
                            .all(|c| matches!(c, std::path::Component::Normal(_))),
                        "an escaping path was accepted: {}",
                        f.path
                    );
                }
                if m.verify().is_ok() {
                    for f in &m.manifest.files {
                        prop_assert_eq!(f.size, WEIGHTS.len() as u64);
                        prop_assert_eq!(&f.sha256, &sha);
                    }
                }
            }
        }
        // What `models verify` and the loaders call: never a panic.
        let _ = store.verify("m");
        let _ = store.list();
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// GGUF header

/// The first bytes and the length of the installed chat model.
fn real_gguf_header() -> (Vec<u8>, u64) {
    let store = ModelStore::new(ModelStore::developer_root());
    let m = store
        .current(ojscog::models::LLM_MODEL)
        .expect("the test models are installed (scripts/fetch-models.sh)");
    let f = m
        .manifest
        .files
        .iter()
        .find(|f| f.path.ends_with(".gguf"))
        .expect("the LLM has a .gguf file");
    let bytes = std::fs::read(m.path(&f.path)).expect("the GGUF is readable");
    (bytes[..256].to_vec(), bytes.len() as u64)
}

#[derive(Debug, Clone)]
enum GgufCase {
    Arbitrary(Vec<u8>, u64),
    Mutated(Vec<(usize, u8)>, usize, u64),
    Counts(u32, u64, u64, u64),
}

fn gguf_case(real_len: u64) -> impl Strategy<Value = GgufCase> {
    let len = prop_oneof![Just(real_len), any::<u64>(), 0u64..4096];
    prop_oneof![
        (prop::collection::vec(any::<u8>(), 0..64), any::<u64>())
            .prop_map(|(b, l)| GgufCase::Arbitrary(b, l)),
        (
            prop::collection::vec((0usize..GGUF_HEADER_LEN, any::<u8>()), 0..6),
            0usize..=256,
            len.clone()
        )
            .prop_map(|(e, keep, l)| GgufCase::Mutated(e, keep, l)),
        (
            1u32..5,
            prop_oneof![any::<u64>(), Just(1u64 << 60), 0u64..100_000],
            prop_oneof![any::<u64>(), Just(1u64 << 60), 0u64..1000],
            len
        )
            .prop_map(|(v, t, k, l)| GgufCase::Counts(v, t, k, l)),
    ]
}

#[test]
fn gguf_headers_of_any_bytes_never_panic_nor_allocate_by_their_counts() {
    let (real, real_len) = real_gguf_header();
    assert!(
        check_gguf_header(&real, real_len).is_ok(),
        "the real model passes"
    );
    let mut huge = real.clone();
    huge[8..16].copy_from_slice(&(1u64 << 60).to_le_bytes());
    let e = check_gguf_header(&huge, real_len).unwrap_err();
    assert!(e.contains("1152921504606846976 tensors"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("model.gguf");
    fuzzing::fuzz("gguf", gguf_case(real_len), |case| {
        let (head, len) = match case {
            GgufCase::Arbitrary(b, l) => (b, l),
            GgufCase::Mutated(edits, keep, l) => {
                let mut b = real.clone();
                for (i, v) in edits {
                    b[i] = v;
                }
                b.truncate(keep);
                (b, l)
            }
            GgufCase::Counts(v, t, k, l) => {
                let mut b = b"GGUF".to_vec();
                b.extend_from_slice(&v.to_le_bytes());
                b.extend_from_slice(&t.to_le_bytes());
                b.extend_from_slice(&k.to_le_bytes());
                (b, l)
            }
        };
        let (result, largest) = largest_allocation(|| check_gguf_header(&head, len));
        prop_assert!(largest < 4096, "allocated {largest} bytes at once");
        if result.is_ok() {
            prop_assert!(head.len() >= GGUF_HEADER_LEN && &head[..4] == b"GGUF");
            let t = u64::from_le_bytes(head[8..16].try_into().unwrap());
            let k = u64::from_le_bytes(head[16..24].try_into().unwrap());
            prop_assert!(u128::from(t) * 24 + u128::from(k) * 13 <= u128::from(len));
        }
        // The same bytes as a file (sparse up to a bounded length): the file
        // check agrees with the header check and reads a bounded amount.
        let file_len = len.min(1 << 30).max(head.len() as u64);
        std::fs::write(&file, &head).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_len(file_len)
            .unwrap();
        let (from_file, largest) = largest_allocation(|| check_gguf_file(&file));
        prop_assert!(largest < 64 * 1024, "allocated {largest} bytes at once");
        let mut padded = head.clone();
        padded.resize(head.len().max(GGUF_HEADER_LEN.min(file_len as usize)), 0);
        padded.truncate(GGUF_HEADER_LEN);
        prop_assert_eq!(
            from_file.is_ok(),
            check_gguf_header(&padded, file_len).is_ok()
        );
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// OJS HTML to text

fn html() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        "<[a-zA-Z]{1,6}( [a-z]{1,5}=\"[^\"]{0,8}\")?>",
        "</[a-z]{1,6}>",
        "<!--.{0,10}-->",
        "&[a-z#xX0-9]{0,10};?",
        "[^<&]{0,20}",
        Just("<".to_string()),
        Just(">".to_string()),
        Just("&".to_string()),
        Just("&lt;script&gt;".to_string()),
        Just("&#x10FFFF;&#xD800;&#99999999999;&#0;".to_string()),
        "\\s{1,4}",
    ];
    prop_oneof![
        1 => ".{0,300}",
        3 => prop::collection::vec(token, 0..40).prop_map(|t| t.concat()),
    ]
}

#[test]
fn html_to_text_never_panics_leaves_no_tags_and_never_grows() {
    fuzzing::fuzz("html", html(), |input| {
        let out = html_to_text(&input);
        prop_assert!(out.len() <= input.len(), "grew: {input:?} -> {out:?}");
        prop_assert_eq!(out.trim(), out.as_str());
        prop_assert!(!out.contains("  "), "{out:?}");
        // Without entities (which may spell `&lt;b&gt;` on purpose) no tag
        // survives: no `<` is followed by a `>`.
        if !input.contains('&') {
            if let Some(lt) = out.find('<') {
                prop_assert!(!out[lt..].contains('>'), "{input:?} -> {out:?}");
            }
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// Found by the fuzzer

#[test]
fn llm_settings_the_model_would_refuse_fail_the_config_check_and_name_llm() {
    let cfg = Config::from_toml("[llm]\nmax_tokens = 4096\n").unwrap();
    let e = cfg.validate().unwrap_err().to_string();
    assert!(e.contains("`llm`") && e.contains("max_tokens"), "{e}");
}

#[test]
fn a_manifest_with_huge_sizes_is_listed_without_overflow() {
    let root = tempfile::tempdir().unwrap();
    let v = root.path().join("m/v1");
    std::fs::create_dir_all(&v).unwrap();
    let manifest = serde_json::json!({
        "name": "m", "version": "v1", "installed_at": 0,
        "files": [
            { "path": "a", "sha256": "00", "size": u64::MAX },
            { "path": "b", "sha256": "00", "size": u64::MAX },
        ],
    });
    std::fs::write(v.join("manifest.json"), manifest.to_string()).unwrap();
    std::os::unix::fs::symlink("v1", root.path().join("m/current")).unwrap();
    let list = ModelStore::new(root.path()).list().unwrap();
    assert_eq!(list[0].bytes, u64::MAX);
}
