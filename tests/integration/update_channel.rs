//! OTA updates through a real channel: real minisign keys and signatures, real
//! model files from the developers' store, a real HTTP server on loopback
//! (Range-capable; cut short or stopped on purpose), the real model store and
//! the real self-test (ONNX Runtime running the embedding model).

use crate::support::channel::{ChannelServer, Publisher};
use crate::support::models::store_with_embedding_model;
use ojscog::config::Config;
use ojscog::models::{ModelStore, EMBEDDING_MODEL};
use ojscog::store::Store;
use ojscog::update::{Channel, UpdateError, Updater};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The real embedding model's files, as a publisher would ship them.
pub fn model_files() -> Vec<(&'static str, PathBuf)> {
    let store = store_with_embedding_model();
    let m = store.current(EMBEDDING_MODEL).unwrap();
    vec![
        ("model.onnx", m.path("model.onnx")),
        ("tokenizer.json", m.path("tokenizer.json")),
    ]
}

pub fn refs<'a>(files: &'a [(&'static str, PathBuf)]) -> Vec<(&'static str, &'a Path)> {
    files.iter().map(|(n, p)| (*n, p.as_path())).collect()
}

/// The updater of a box whose data directory is `data`, trusting `key`.
pub fn updater(data: &Path, key: &Path) -> Updater {
    let mut cfg = Config {
        data_dir: data.to_path_buf(),
        ..Default::default()
    };
    cfg.update.extra_keys = vec![key.display().to_string()];
    cfg.update.reserve_bytes = 0;
    let mut u = Updater::from_config(&cfg, None).unwrap();
    u.limits.backoff_min = Duration::from_millis(20);
    u.limits.backoff_max = Duration::from_millis(100);
    u.limits.read_timeout = Duration::from_secs(5);
    u
}

/// A scratch directory holding a box's data directory and a publisher's channel.
struct Setup {
    tmp: tempfile::TempDir,
    data: PathBuf,
    p: Publisher,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let p = Publisher::new(tmp.path(), "a");
    Setup { tmp, data, p }
}

/// Serves `p`'s channel on loopback; the box's updater and the channel's URL.
fn serve(data: &Path, p: &Publisher) -> (ChannelServer, Updater, Channel) {
    let server = ChannelServer::start(&p.dir);
    let u = updater(data, &p.public_key);
    let channel = Channel::parse(&server.index_url());
    (server, u, channel)
}

fn now() -> i64 {
    ojscog::system::unix_now()
}

fn current(data: &Path) -> Option<String> {
    ModelStore::for_data_dir(data)
        .current_version(EMBEDDING_MODEL)
        .unwrap()
}

fn history(data: &Path) -> Vec<ojscog::store::UpdateRecord> {
    Store::open(&data.join("ojscog.sqlite3"))
        .unwrap()
        .update_history(50)
        .unwrap()
}

// Installs the embedding model, whose self-test runs it through ONNX Runtime.
#[cfg(feature = "embeddings")]
#[test]
fn a_signed_model_update_is_downloaded_verified_installed_and_self_tested() {
    let Setup { tmp: _tmp, data, p } = setup();
    let files = model_files();
    p.add_model(EMBEDDING_MODEL, "9.0.0", &refs(&files));
    p.publish(10);
    let (_server, u, channel) = serve(&data, &p);

    let plan = u.check(&channel, now()).unwrap();
    assert_eq!(plan.todo.len(), 1, "{:?}", plan.skipped);
    let done = u.apply(&channel, &plan, &now, &|| false);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].result, "installed", "{}", done[0].reason);
    assert!(
        done[0].reason.contains("self-test passed"),
        "{}",
        done[0].reason
    );
    assert_eq!(current(&data).as_deref(), Some("9.0.0"));
    ModelStore::for_data_dir(&data)
        .verify(EMBEDDING_MODEL)
        .unwrap();
    let h = history(&data);
    assert_eq!(
        (h[0].name.as_str(), h[0].to_version.as_str()),
        (EMBEDDING_MODEL, "9.0.0")
    );
    // The downloads were copied into the store and are gone.
    let left: Vec<_> = std::fs::read_dir(data.join("update/downloads"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // A second check offers nothing: it is installed.
    let again = u.check(&channel, now()).unwrap();
    assert!(again.todo.is_empty());
    assert_eq!(again.skipped[0].1, "installed");
}

#[test]
fn an_index_whose_bytes_do_not_match_its_signature_changes_nothing() {
    let Setup { tmp: _tmp, data, p } = setup();
    p.add_model(
        "some-model",
        "1.0.0",
        &[("notes.txt", Path::new("Cargo.toml"))],
    );
    let bytes = p.publish(10);
    // One byte of the signed index changed: a bigger serial, as an attacker would.
    let text = String::from_utf8(bytes)
        .unwrap()
        .replace("\"serial\": 10", "\"serial\": 99");
    std::fs::write(p.dir.join("index.json"), text).unwrap();
    let server = ChannelServer::start(&p.dir);
    let u = updater(&data, &p.public_key);
    let e = u
        .check(&Channel::parse(&server.index_url()), now())
        .unwrap_err();
    assert!(matches!(e, UpdateError::Signature(_)), "{e}");
    let store = Store::open(&data.join("ojscog.sqlite3")).unwrap();
    assert_eq!(store.accepted_index().unwrap(), None);
    let h = history(&data);
    assert_eq!(h[0].result, "refused");
    assert!(h[0].reason.contains("signature"), "{}", h[0].reason);
    assert!(u.status.get().last_failure.unwrap().contains("signature"));
    // A channel without any signature is refused the same way.
    std::fs::remove_file(p.dir.join("index.json.minisig")).unwrap();
    let e = u
        .check(&Channel::parse(&server.index_url()), now())
        .unwrap_err();
    assert!(matches!(e, UpdateError::Signature(_)), "{e}");
}

#[test]
fn an_index_signed_by_a_key_the_box_does_not_trust_is_refused() {
    let Setup { tmp, data, p } = setup();
    let stranger = Publisher::new(&tmp.path().join("other"), "stranger");
    p.add_model(
        "some-model",
        "1.0.0",
        &[("notes.txt", Path::new("Cargo.toml"))],
    );
    p.publish_with(10, &stranger.secret_key);
    let server = ChannelServer::start(&p.dir);
    let e = updater(&data, &p.public_key)
        .check(&Channel::parse(&server.index_url()), now())
        .unwrap_err();
    assert!(matches!(e, UpdateError::UntrustedKey { .. }), "{e}");
    assert!(e.to_string().contains("does not trust"), "{e}");
}

#[test]
fn a_replayed_older_index_is_refused_after_a_newer_one_was_accepted() {
    let Setup { tmp: _tmp, data, p } = setup();
    p.add_model(
        "some-model",
        "1.0.0",
        &[("notes.txt", Path::new("Cargo.toml"))],
    );
    p.publish(5);
    let old = p.snapshot();
    let (_server, u, channel) = serve(&data, &p);
    u.check(&channel, now()).unwrap();
    // The same publication again is fine (a re-check).
    u.check(&channel, now()).unwrap();
    p.publish(6);
    u.check(&channel, now()).unwrap();
    p.restore(&old);
    let e = u.check(&channel, now()).unwrap_err();
    assert!(
        matches!(
            e,
            UpdateError::Replay {
                serial: 5,
                accepted: 6
            }
        ),
        "{e}"
    );
    let store = Store::open(&data.join("ojscog.sqlite3")).unwrap();
    assert_eq!(store.accepted_index().unwrap().unwrap().serial, 6);
}

#[test]
fn a_tampered_file_on_the_server_is_refused_and_nothing_is_installed() {
    let Setup { tmp: _tmp, data, p } = setup();
    let files = model_files();
    let vdir = p.add_model(EMBEDDING_MODEL, "9.0.0", &refs(&files));
    p.publish(10);
    // Same size, one byte changed after signing.
    let mut bytes = std::fs::read(vdir.join("tokenizer.json")).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x20;
    std::fs::write(vdir.join("tokenizer.json"), bytes).unwrap();
    let (_server, u, channel) = serve(&data, &p);
    let plan = u.check(&channel, now()).unwrap();
    let done = u.apply(&channel, &plan, &now, &|| false);
    assert_eq!(done[0].result, "refused", "{}", done[0].reason);
    assert!(done[0].reason.contains("tampered"), "{}", done[0].reason);
    assert_eq!(current(&data), None);
}

#[test]
fn a_truncated_onnx_file_is_refused_by_its_format_check() {
    let Setup { tmp: _tmp, data, p } = setup();
    let files = model_files();
    let vdir = p.add_model(EMBEDDING_MODEL, "9.0.0", &refs(&files));
    // Truncated before publishing: size and hash match the index, the format does not.
    let bytes = std::fs::read(vdir.join("model.onnx")).unwrap();
    std::fs::write(vdir.join("model.onnx"), &bytes[..bytes.len() / 3]).unwrap();
    p.publish(10);
    let (_server, u, channel) = serve(&data, &p);
    let plan = u.check(&channel, now()).unwrap();
    let done = u.apply(&channel, &plan, &now, &|| false);
    assert_eq!(done[0].result, "refused", "{}", done[0].reason);
    assert!(
        done[0].reason.contains("not a valid model file"),
        "{}",
        done[0].reason
    );
    assert_eq!(current(&data), None);
}

// Installs the embedding model, whose self-test runs it through ONNX Runtime.
#[cfg(feature = "embeddings")]
#[test]
fn a_download_cut_short_again_and_again_is_resumed_with_range_requests() {
    let Setup { tmp: _tmp, data, p } = setup();
    let files = model_files();
    p.add_model(EMBEDDING_MODEL, "9.0.0", &refs(&files));
    p.publish(10);
    let server = ChannelServer::start(&p.dir);
    server.cut_after(6 << 20);
    let mut u = updater(&data, &p.public_key);
    u.limits.retries = 20;
    let channel = Channel::parse(&server.index_url());
    let plan = u.check(&channel, now()).unwrap();
    let done = u.apply(&channel, &plan, &now, &|| false);
    assert_eq!(done[0].result, "installed", "{}", done[0].reason);
    let ranges: Vec<u64> = server
        .seen()
        .iter()
        .filter(|s| s.path.ends_with("model.onnx"))
        .filter_map(|s| {
            s.range
                .as_deref()?
                .strip_prefix("bytes=")?
                .trim_end_matches('-')
                .parse()
                .ok()
        })
        .collect();
    assert!(ranges.len() >= 2, "{:?}", server.seen());
    assert!(ranges.windows(2).all(|w| w[1] > w[0]), "{ranges:?}");
    assert_eq!(ranges[0], 6 << 20);
}

// Installs the embedding model, whose self-test runs it through ONNX Runtime.
#[cfg(feature = "embeddings")]
#[test]
fn a_server_that_dies_mid_download_is_resumed_from_where_it_stopped_when_it_comes_back() {
    let Setup { tmp: _tmp, data, p } = setup();
    let files = model_files();
    p.add_model(EMBEDDING_MODEL, "9.0.0", &refs(&files));
    p.publish(10);
    let server = ChannelServer::start(&p.dir);
    server.limit_rate(4 << 20);
    let mut u = updater(&data, &p.public_key);
    u.limits.retries = 1;
    let channel = Channel::parse(&server.index_url());
    let plan = u.check(&channel, now()).unwrap();
    let first = std::thread::scope(|s| {
        let h = s.spawn(|| u.apply(&channel, &plan, &now, &|| false));
        std::thread::sleep(Duration::from_millis(1500));
        let addr = server.stop();
        (h.join().unwrap(), addr)
    });
    let (done, addr) = first;
    assert_eq!(done[0].result, "failed", "{}", done[0].reason);
    assert_eq!(current(&data), None);
    let parts: Vec<u64> = std::fs::read_dir(data.join("update/downloads"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .map(|e| e.metadata().unwrap().len())
        .collect();
    assert!(
        parts.iter().any(|&n| n > 0),
        "a partial download is kept: {parts:?}"
    );

    let server = ChannelServer::start_on(&p.dir, addr);
    let done = u.apply(&channel, &plan, &now, &|| false);
    assert_eq!(done[0].result, "installed", "{}", done[0].reason);
    let resumed = server
        .seen()
        .iter()
        .find(|s| s.path.ends_with("model.onnx"))
        .and_then(|s| s.range.clone())
        .expect("the first request after the restart resumes with a Range");
    assert_ne!(resumed, "bytes=0-");
}

#[test]
fn a_full_data_disk_is_refused_before_downloading_and_the_reserve_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // A real small file system as /data: 16 MiB, smaller than the model.
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
        .arg(&data)
        .status()
        .expect("mount runs");
    assert!(
        status.success(),
        "mounting a tmpfs needs root (CI runs as root)"
    );
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _guard = Unmount(&data);
    let p = Publisher::new(tmp.path(), "a");
    let files = model_files();
    p.add_model(EMBEDDING_MODEL, "9.0.0", &refs(&files));
    p.publish(10);
    let (server, u, channel) = serve(&data, &p);
    let plan = u.check(&channel, now()).unwrap();
    let done = u.apply(&channel, &plan, &now, &|| false);
    assert_eq!(done[0].result, "failed");
    assert!(
        done[0].reason.contains("not enough space"),
        "{}",
        done[0].reason
    );
    let fetched = server
        .seen()
        .iter()
        .filter(|s| s.path.contains("/models/"))
        .count();
    assert_eq!(fetched, 0, "nothing was downloaded");
    assert_eq!(current(&data), None);
    // The store (on the same small disk) still works and says why.
    assert!(history(&data)[0].reason.contains("not enough space"));
}

// Installs the embedding model, whose self-test runs it through ONNX Runtime.
#[cfg(feature = "embeddings")]
#[test]
fn a_model_that_fails_its_self_test_is_taken_back_by_itself() {
    let Setup { tmp, data, p } = setup();
    let files = model_files();
    p.add_model(EMBEDDING_MODEL, "1.0.0", &refs(&files));
    p.publish(10);
    let (_server, u, channel) = serve(&data, &p);
    let done = u.run_once(&channel, &now, &|| false).unwrap();
    assert_eq!(done[0].result, "installed", "{}", done[0].reason);

    // Version 2 ships a tokenizer that knows no words: it loads and runs, and
    // every sentence of the same length gets the same vector.
    let tok: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[1].1).unwrap()).unwrap();
    let mut broken = tok.clone();
    let vocab = broken["model"]["vocab"]
        .as_object_mut()
        .expect("a WordPiece vocab");
    vocab.retain(|k, _| k.starts_with('[') && k.ends_with(']'));
    let broken_path = tmp.path().join("broken-tokenizer.json");
    std::fs::write(&broken_path, serde_json::to_vec(&broken).unwrap()).unwrap();
    p.add_model(
        EMBEDDING_MODEL,
        "2.0.0",
        &[
            ("model.onnx", files[0].1.as_path()),
            ("tokenizer.json", broken_path.as_path()),
        ],
    );
    p.publish(11);
    let done = u.run_once(&channel, &now, &|| false).unwrap();
    assert_eq!(done[0].result, "rolled_back", "{}", done[0].reason);
    assert!(
        done[0].reason.contains("self-test failed"),
        "{}",
        done[0].reason
    );
    assert!(
        done[0].reason.contains("1.0.0 is current again"),
        "{}",
        done[0].reason
    );
    assert_eq!(current(&data).as_deref(), Some("1.0.0"));
    assert!(!data
        .join("models")
        .join(EMBEDDING_MODEL)
        .join("2.0.0")
        .exists());
    ModelStore::for_data_dir(&data)
        .verify(EMBEDDING_MODEL)
        .unwrap();
    assert!(u
        .status
        .get()
        .last_failure
        .unwrap()
        .contains("self-test failed"));
}

#[test]
fn the_bandwidth_limit_holds_a_download_below_its_rate() {
    let Setup { tmp, data, p } = setup();
    let blob = tmp.path().join("blob.bin");
    std::fs::write(&blob, vec![42u8; 3 << 20]).unwrap();
    p.add_model("some-model", "1.0.0", &[("weights.bin", blob.as_path())]);
    p.publish(1);
    let server = ChannelServer::start(&p.dir);
    let mut u = updater(&data, &p.public_key);
    u.limits.bytes_per_second = 1 << 20;
    let started = std::time::Instant::now();
    let done = u
        .run_once(&Channel::parse(&server.index_url()), &now, &|| false)
        .unwrap();
    let took = started.elapsed();
    assert_eq!(done[0].result, "installed", "{}", done[0].reason);
    // 3 MiB at 1 MiB/s cannot take less than about 3 s (a lower bound only:
    // a slow machine may take longer, never shorter).
    assert!(took >= Duration::from_millis(2800), "took {took:?}");
    assert!(
        done[0].reason.contains("not self-tested"),
        "{}",
        done[0].reason
    );
}

#[cfg(feature = "llm")]
#[test]
fn the_llm_self_test_runs_the_real_model_under_a_grammar() {
    let tmp = tempfile::tempdir().unwrap();
    // A scratch data directory resolves to the developers' store, as a box
    // resolves to its own: the self-test loads what the service would load.
    let t = ojscog::update::ModelSelfTest {
        data_dir: tmp.path().to_path_buf(),
        llm: Default::default(),
    };
    let outcome = ojscog::update::SelfTest::run(&t, ojscog::models::LLM_MODEL);
    match outcome {
        ojscog::update::Outcome::Passed(how) => {
            // The time is part of the message (BENCHMARKS.md quotes it).
            println!("LLM self-test: {how}");
            assert!(how.contains("answer"), "{how}")
        }
        other => panic!("the LLM self-test did not pass: {other:?}"),
    }
}

#[test]
fn while_another_process_applies_updates_a_second_one_changes_nothing() {
    use std::os::fd::AsRawFd;
    let Setup { tmp: _tmp, data, p } = setup();
    p.add_model(
        "some-model",
        "1.0.0",
        &[("notes.txt", Path::new("Cargo.toml"))],
    );
    p.publish(1);
    let (_server, u, channel) = serve(&data, &p);
    let plan = u.check(&channel, now()).unwrap();
    // The lock another process (the service's updater thread) would hold.
    std::fs::create_dir_all(data.join("update")).unwrap();
    let held = std::fs::File::create(data.join("update/.lock")).unwrap();
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) }, 0);
    let done = u.apply(&channel, &plan, &now, &|| false);
    assert_eq!(done[0].result, "failed");
    assert!(
        done[0].reason.contains("another ojscog process"),
        "{}",
        done[0].reason
    );
    assert_eq!(
        ModelStore::for_data_dir(&data)
            .current_version("some-model")
            .unwrap(),
        None
    );
    drop(held);
    let done = u.apply(&channel, &plan, &now, &|| false);
    assert_eq!(done[0].result, "installed", "{}", done[0].reason);
}
