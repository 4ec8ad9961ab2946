//! The model store: atomic install, verify, rollback, and what happens when a
//! file is corrupted or truncated or an install is interrupted.

use crate::support::models;

use ojscog::models::{ModelError, ModelStore, SourceFile, EMBEDDING_MODEL};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, bytes).unwrap();
    p
}

fn src(dest: &str, p: &Path) -> SourceFile {
    SourceFile {
        src: p.to_path_buf(),
        dest: dest.into(),
        expect_sha256: None,
    }
}

fn setup() -> (tempfile::TempDir, ModelStore, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = ModelStore::new(dir.path().join("models"));
    let files = dir.path().join("src");
    fs::create_dir_all(&files).unwrap();
    (dir, store, files)
}

/// A store holding model `m` version 1 with one file `dest` of `bytes`.
fn with_version_1(dest: &str, bytes: &[u8]) -> (tempfile::TempDir, ModelStore, PathBuf) {
    let (d, store, files) = setup();
    let f = write(&files, "v1-source", bytes);
    store.install("m", "1", "t", &[src(dest, &f)]).unwrap();
    (d, store, files)
}

#[test]
fn install_switch_and_rollback() {
    let (_d, store, files) = setup();
    let a1 = write(&files, "a1", b"weights version one");
    let t1 = write(&files, "t1", b"{\"tok\": 1}");
    let m1 = store
        .install(
            "m",
            "1",
            "test",
            &[src("model.onnx", &a1), src("sub/tokenizer.json", &t1)],
        )
        .unwrap();
    assert_eq!(m1.manifest.files.len(), 2);
    assert_eq!(m1.manifest.files[0].size, 19);
    assert_eq!(store.current_version("m").unwrap().as_deref(), Some("1"));
    assert_eq!(store.previous_version("m").unwrap(), None);
    assert!(store.rollback("m").is_err(), "nothing to roll back to");

    let a2 = write(&files, "a2", b"weights version two");
    store
        .install("m", "2", "test", &[src("model.onnx", &a2)])
        .unwrap();
    assert_eq!(store.current_version("m").unwrap().as_deref(), Some("2"));
    assert_eq!(store.previous_version("m").unwrap().as_deref(), Some("1"));
    assert_eq!(
        fs::read(store.current("m").unwrap().path("model.onnx")).unwrap(),
        b"weights version two"
    );

    // Same version again: a no-op, nothing re-copied, pointers unchanged.
    store
        .install("m", "2", "test", &[src("model.onnx", &a2)])
        .unwrap();
    assert_eq!(store.previous_version("m").unwrap().as_deref(), Some("1"));

    let back = store.rollback("m").unwrap();
    assert_eq!(back.manifest.version, "1");
    assert_eq!(store.current_version("m").unwrap().as_deref(), Some("1"));
    assert_eq!(store.previous_version("m").unwrap().as_deref(), Some("2"));

    // A third version prunes the oldest that is neither current nor previous.
    let a3 = write(&files, "a3", b"three");
    store
        .install("m", "3", "test", &[src("model.onnx", &a3)])
        .unwrap();
    assert_eq!(store.versions("m").unwrap(), vec!["1", "3"]);
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].current.as_deref(), Some("3"));
    assert_eq!(list[0].previous.as_deref(), Some("1"));
}

#[test]
fn corrupt_byte_is_named_and_previous_still_served() {
    let (_d, store, files) = setup();
    let good = write(&files, "good", &vec![7u8; 100_000]);
    store
        .install("m", "1", "t", &[src("model.onnx", &good)])
        .unwrap();
    let newer = write(&files, "newer", &vec![9u8; 100_000]);
    store
        .install("m", "2", "t", &[src("model.onnx", &newer)])
        .unwrap();

    // Flip one byte of the current version's file.
    let p = store.current("m").unwrap().path("model.onnx");
    let mut bytes = fs::read(&p).unwrap();
    bytes[50_000] ^= 0xff;
    fs::write(&p, &bytes).unwrap();
    let e = store.verify("m").unwrap_err();
    assert!(matches!(e, ModelError::HashMismatch { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("model.onnx") && msg.contains("corrupt"),
        "{msg}"
    );
    assert!(store.current_verified("m").is_err(), "a loader refuses it");

    // Rolling back serves the intact previous version.
    let back = store.rollback("m").unwrap();
    assert_eq!(back.manifest.version, "1");
    store.verify("m").unwrap();

    // Re-installing the damaged version under its name repairs it (it is not current).
    store
        .install("m", "2", "t", &[src("model.onnx", &newer)])
        .unwrap();
    store.verify("m").unwrap();
    assert_eq!(store.current_version("m").unwrap().as_deref(), Some("2"));
}

#[test]
fn truncated_file_is_named() {
    let (_d, store, files) = setup();
    let f = write(&files, "f", &vec![1u8; 4096]);
    store
        .install("m", "1", "t", &[src("tokenizer.json", &f)])
        .unwrap();
    let p = store.current("m").unwrap().path("tokenizer.json");
    fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(1000)
        .unwrap();
    let e = store.verify("m").unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(
            e,
            ModelError::SizeMismatch {
                expected: 4096,
                actual: 1000,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("tokenizer.json") && msg.contains("truncated"),
        "{msg}"
    );
    fs::remove_file(&p).unwrap();
    let msg = store.verify("m").unwrap_err().to_string();
    assert!(
        msg.contains("tokenizer.json") && msg.contains("missing"),
        "{msg}"
    );
}

#[test]
fn bad_download_never_becomes_current() {
    let (_d, store, files) = with_version_1("model.onnx", b"good weights");
    let bad = write(&files, "bad", b"bad weights");
    let e = store
        .install(
            "m",
            "2",
            "t",
            &[SourceFile {
                src: bad,
                dest: "model.onnx".into(),
                expect_sha256: Some("00".repeat(32)),
            }],
        )
        .unwrap_err();
    assert!(matches!(e, ModelError::HashMismatch { .. }), "{e}");
    assert_eq!(store.current_version("m").unwrap().as_deref(), Some("1"));
    assert_eq!(store.versions("m").unwrap(), vec!["1"]);
    store.verify("m").unwrap();
    // No staging leftovers.
    let left: Vec<_> = fs::read_dir(store.root().join("m"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".staging"))
        .collect();
    assert!(left.is_empty());
}

#[test]
fn interrupted_install_leaves_store_consistent() {
    let (_d, store, files) = with_version_1("model.onnx", b"v1");
    // A crash mid-install: a staging dir with a half-written file and no manifest,
    // and a half-made pointer symlink.
    let staging = store.root().join("m/.staging-2-999-1");
    fs::create_dir_all(&staging).unwrap();
    fs::write(staging.join("model.onnx"), b"half").unwrap();
    std::os::unix::fs::symlink("2", store.root().join("m/.current.tmp-999")).unwrap();

    assert_eq!(store.current_version("m").unwrap().as_deref(), Some("1"));
    assert_eq!(store.versions("m").unwrap(), vec!["1"]);
    store.verify("m").unwrap();
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");

    // The next install cleans up and succeeds.
    let v2 = write(&files, "v2", b"v2");
    store
        .install("m", "2", "t", &[src("model.onnx", &v2)])
        .unwrap();
    assert!(!staging.exists());
    assert_eq!(store.current_version("m").unwrap().as_deref(), Some("2"));
}

#[test]
fn a_version_half_removed_by_a_crash_is_not_a_version_and_is_cleaned() {
    let (_d, store, _files) = with_version_1("model.onnx", b"v1");
    // Versions are renamed to `.trash-…` before removal: a crash leaves this.
    let trash = store.root().join("m/.trash-0-999-1");
    fs::create_dir_all(&trash).unwrap();
    fs::write(trash.join("manifest.json"), b"{}").unwrap();
    assert_eq!(store.versions("m").unwrap(), vec!["1"]);
    assert_eq!(store.clean_staging("m").unwrap(), 1);
    assert!(!trash.exists());
    store.verify("m").unwrap();
}

#[test]
fn unsafe_names_are_refused() {
    let (_d, store, files) = setup();
    let f = write(&files, "f", b"x");
    assert!(store.install("../evil", "1", "t", &[src("a", &f)]).is_err());
    assert!(store.install("m", "current", "t", &[src("a", &f)]).is_err());
    assert!(store.install("m", "1", "t", &[src("../../a", &f)]).is_err());
    assert!(store
        .install("m", "1", "t", &[src("manifest.json", &f)])
        .is_err());
    assert!(store.install("m", "1", "t", &[]).is_err());
}

#[test]
fn cli_install_verify_rollback() {
    let (d, _store, files) = setup();
    let root = d.path().join("cli-models");
    let bin = env!("CARGO_BIN_EXE_ojscog");
    let run = |args: &[&str]| {
        let out = Command::new(bin)
            .args(["models", "--dir"])
            .arg(&root)
            .args(args)
            .env("OJSCOG_DATA_DIR", d.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let f1 = write(&files, "w1", b"one");
    let f2 = write(&files, "w2", b"two");
    let sha1 = ojscog::models::sha256_file(&f1).unwrap();
    let (ok, out) = run(&[
        "install",
        "emb",
        "1.0",
        "--file",
        &format!("model.onnx={}", f1.display()),
        "--sha256",
        &format!("model.onnx={sha1}"),
    ]);
    assert!(ok, "{out}");
    let (ok, out) = run(&[
        "install",
        "emb",
        "2.0",
        "--file",
        &format!("model.onnx={}", f2.display()),
    ]);
    assert!(ok, "{out}");
    let (ok, out) = run(&["list"]);
    assert!(
        ok && out.contains("emb") && out.contains("2.0") && out.contains("1.0"),
        "{out}"
    );
    let (ok, out) = run(&["verify"]);
    assert!(ok && out.contains("ok"), "{out}");
    // Corrupt the current file: verify fails naming it, rollback serves 1.0.
    fs::write(root.join("emb/2.0/model.onnx"), b"twX").unwrap();
    let (ok, out) = run(&["verify", "emb"]);
    assert!(
        !ok && out.contains("model.onnx") && out.contains("corrupt"),
        "{out}"
    );
    let (ok, out) = run(&["rollback", "emb"]);
    assert!(ok && out.contains("1.0"), "{out}");
    let (ok, out) = run(&["verify", "emb"]);
    assert!(ok, "{out}");
    // A wrong expected hash is refused.
    let (ok, out) = run(&[
        "install",
        "emb",
        "3.0",
        "--file",
        &format!("model.onnx={}", f2.display()),
        "--sha256",
        &format!("model.onnx={sha1}"),
    ]);
    assert!(!ok && out.contains("corrupt"), "{out}");
}

// ---- what the store trusts: real files and directories only ----

#[test]
fn a_model_file_symlinked_to_etc_passwd_is_refused() {
    let (_d, store, files) = setup();
    // The manifest's hash and size are those of /etc/passwd: only the link gives it away.
    let passwd = fs::read("/etc/passwd").unwrap();
    let copy = write(&files, "copy", &passwd);
    store
        .install("m", "1", "t", &[src("model.onnx", &copy)])
        .unwrap();
    let installed = store.current("m").unwrap().path("model.onnx");
    fs::remove_file(&installed).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &installed).unwrap();
    let e = store.verify("m").unwrap_err();
    assert!(matches!(e, ModelError::Symlink { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("model.onnx") && msg.contains("symbolic link"),
        "{msg}"
    );
    assert!(store.verified("m").is_err(), "a loader refuses it");
    assert!(ojscog::models::hash_file(&installed).is_err());
}

#[test]
fn a_symlinked_directory_inside_a_version_is_refused() {
    let (d, store, files) = setup();
    let t = write(&files, "t", b"{\"tok\": 1}");
    store
        .install("m", "1", "t", &[src("sub/tokenizer.json", &t)])
        .unwrap();
    let sub = store.current("m").unwrap().path("sub");
    let elsewhere = d.path().join("elsewhere");
    fs::rename(&sub, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &sub).unwrap();
    let e = store.verify("m").unwrap_err();
    assert!(
        matches!(e, ModelError::Symlink { ref path } if path == &sub),
        "{e:?}"
    );
}

#[test]
fn a_symlinked_version_directory_is_refused() {
    let (d, store, files) = setup();
    let f = write(&files, "f", b"weights");
    store
        .install("m", "1", "t", &[src("model.onnx", &f)])
        .unwrap();
    // A complete copy of version 1 outside the store, linked in as version 2 and made current.
    let outside = d.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    for name in ["model.onnx", "manifest.json"] {
        fs::copy(store.root().join("m/1").join(name), outside.join(name)).unwrap();
    }
    let mdir = store.root().join("m");
    std::os::unix::fs::symlink(&outside, mdir.join("2")).unwrap();
    fs::remove_file(mdir.join("current")).unwrap();
    std::os::unix::fs::symlink("2", mdir.join("current")).unwrap();
    let e = store.verify("m").unwrap_err();
    assert!(
        matches!(e, ModelError::Symlink { ref path } if path == &mdir.join("2")),
        "{e:?}"
    );
    assert_eq!(
        store.versions("m").unwrap(),
        vec!["1"],
        "a link is not a version"
    );
}

#[test]
fn current_pointing_outside_the_model_is_refused() {
    let (_d, store, _files) = with_version_1("model.onnx", b"weights");
    let mdir = store.root().join("m");
    let abs = mdir.join("1").display().to_string();
    for target in ["../m/1", abs.as_str(), "1/", "."] {
        fs::remove_file(mdir.join("current")).unwrap();
        std::os::unix::fs::symlink(target, mdir.join("current")).unwrap();
        let e = store.verify("m").unwrap_err();
        assert!(
            matches!(e, ModelError::BadPointer { .. }),
            "{target}: {e:?}"
        );
        assert!(e.to_string().contains("current"), "{e}");
    }
}

// ---- concurrent installs, first install ----

/// Waits (bounded) until `dir` holds an entry starting with `prefix`.
fn wait_for_entry(dir: &Path, prefix: &str) -> PathBuf {
    for _ in 0..6000 {
        if let Ok(rd) = fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with(prefix) {
                    return e.path();
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("no {prefix}* appeared in {}", dir.display());
}

#[test]
fn a_staging_dir_held_by_a_live_install_survives_clean_staging() {
    let (_d, store, files) = with_version_1("model.onnx", b"one");
    // The second install reads its source from a pipe: it stays live, with its
    // staging directory, until the test writes the weights.
    let pipe = files.join("pipe");
    let ok = Command::new("mkfifo").arg(&pipe).status().unwrap();
    assert!(ok.success());
    let root = store.root().to_path_buf();
    let pipe2 = pipe.clone();
    let install = std::thread::spawn(move || {
        ModelStore::new(root).install("m", "2", "t", &[src("model.onnx", &pipe2)])
    });
    let staging = wait_for_entry(&store.root().join("m"), ".staging-2-");
    assert_eq!(store.clean_staging("m").unwrap(), 0);
    assert!(staging.is_dir(), "a live install's staging dir was removed");
    fs::write(&pipe, b"two").unwrap();
    let m = install.join().unwrap().unwrap();
    assert_eq!(m.manifest.version, "2");
    assert_eq!(store.current_version("m").unwrap().as_deref(), Some("2"));
    assert!(!staging.exists());
    store.verify("m").unwrap();
}

#[test]
fn concurrent_installs_of_one_model_both_complete() {
    let (_d, store, files) = with_version_1("model.onnx", b"one");
    let threads: Vec<_> = ["2", "3"]
        .into_iter()
        .map(|v| {
            let root = store.root().to_path_buf();
            let f = write(&files, &format!("v{v}"), &vec![v.as_bytes()[0]; 1 << 20]);
            std::thread::spawn(move || {
                ModelStore::new(root).install("m", v, "t", &[src("model.onnx", &f)])
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    let current = store.current_version("m").unwrap().unwrap();
    assert!(current == "2" || current == "3", "{current}");
    store.verify("m").unwrap();
    let previous = store.previous_version("m").unwrap().unwrap();
    assert_ne!(previous, current);
    store.rollback("m").unwrap();
    store.verify("m").unwrap();
}

#[test]
fn a_first_install_into_a_missing_root_is_complete() {
    let d = tempfile::tempdir().unwrap();
    // Neither the root nor its parent exist: install creates (and fsyncs) them.
    let store = ModelStore::new(d.path().join("data/models"));
    let f = write(d.path(), "f", b"weights");
    store
        .install("m", "1", "t", &[src("model.onnx", &f)])
        .unwrap();
    assert!(store.root().join("m/1/manifest.json").is_file());
    assert_eq!(store.current_version("m").unwrap().as_deref(), Some("1"));
    store.verify("m").unwrap();
    assert_eq!(store.list().unwrap().len(), 1);
}

#[test]
fn an_unchanged_model_file_is_hashed_once_per_process() {
    // The developers' store: files written long ago, so their hashes are remembered.
    let store = models::store_with_embedding_model();
    let first = store.verified(EMBEDDING_MODEL).unwrap();
    let onnx = first.path("model.onnx");
    let n = ojscog::models::times_hashed(&onnx);
    assert!(n >= 1);
    let again = store.verified(EMBEDDING_MODEL).unwrap();
    assert_eq!(
        ojscog::models::times_hashed(&onnx),
        n,
        "re-hashed an unchanged file"
    );
    assert_eq!(again.combined_sha256(), first.combined_sha256());
    assert_eq!(
        first.combined_sha256(),
        first.manifest().combined_sha256(),
        "verified hashes are the manifest's"
    );
}

// ---- the embedding model is loaded only when it verifies ----

#[cfg(feature = "embeddings")]
#[test]
fn a_flipped_byte_in_the_onnx_model_is_refused_and_not_hashed_again() {
    use ojscog::inference::{Embedder, HashingEmbedder};
    let genuine = models::store_with_embedding_model()
        .verified(EMBEDDING_MODEL)
        .unwrap();
    let d = tempfile::tempdir().unwrap();
    let store = ModelStore::for_data_dir(d.path());
    let sources: Vec<SourceFile> = genuine
        .manifest()
        .files
        .iter()
        .map(|f| src(&f.path, &genuine.path(&f.path)))
        .collect();
    store
        .install(EMBEDDING_MODEL, "t1", "test copy", &sources)
        .unwrap();
    let onnx = store.current(EMBEDDING_MODEL).unwrap().path("model.onnx");
    let mut bytes = fs::read(&onnx).unwrap();
    let at = bytes.len() * 3 / 4;
    bytes[at] ^= 0xff;
    fs::write(&onnx, &bytes).unwrap();

    let e = match ojscog::inference::open_embedder(d.path()) {
        Ok(_) => panic!("an ONNX model that fails its manifest was loaded"),
        Err(e) => e,
    };
    let msg = e.to_string();
    assert!(
        msg.contains(&onnx.display().to_string()) && msg.contains("corrupt"),
        "{msg}"
    );

    // Through the service: the exact-term fallback with the reason, and the
    // second request neither hashes nor loads again.
    let cfg = ojscog::config::Config {
        data_dir: d.path().to_path_buf(),
        ..Default::default()
    };
    let ai = ojscog::context::LazyModels::new(
        &cfg,
        std::sync::Arc::new(ojscog::metrics::Metrics::new()),
    );
    let before = ojscog::models::times_hashed(&onnx);
    let (e1, w1) = ai.embedder();
    let w1 = w1.expect("a warning");
    assert!(w1.contains("model.onnx") && w1.contains("corrupt"), "{w1}");
    assert_eq!(e1.model_id(), HashingEmbedder::MODEL_ID);
    assert_ne!(e1.model_sha256(), genuine.combined_sha256());
    // At most one hash: none when the file's hash is already remembered, which
    // depends on timing (a file written under 2 s ago is never remembered).
    let after_first = ojscog::models::times_hashed(&onnx);
    assert!(after_first <= before + 1, "{before} -> {after_first}");
    let (e2, w2) = ai.embedder();
    let w2 = w2.expect("a warning");
    assert!(w2.contains("model.onnx") && w2.contains("corrupt"), "{w2}");
    assert_eq!(e2.model_id(), HashingEmbedder::MODEL_ID);
    assert_eq!(
        ojscog::models::times_hashed(&onnx),
        after_first,
        "the corrupt model was hashed again"
    );
}

#[test]
fn verify_all_passes_after_a_first_install_was_interrupted() {
    let (d, _store, files) = setup();
    let root = d.path().join("cli-models");
    // A first install killed before `current` existed: a model dir with only staging.
    let staging = root.join("emb/.staging-1.0-999-1");
    fs::create_dir_all(&staging).unwrap();
    fs::write(staging.join("model.onnx"), b"half").unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ojscog"))
            .args(["models", "--dir"])
            .arg(&root)
            .args(args)
            .env("OJSCOG_DATA_DIR", d.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = run(&["verify"]);
    assert!(ok && out.contains("no current version"), "{out}");
    // Asked by name it is still an error: there is nothing to serve.
    let (ok, out) = run(&["verify", "emb"]);
    assert!(!ok && out.contains("not installed"), "{out}");
    let f = write(&files, "w1", b"one");
    let (ok, out) = run(&[
        "install",
        "emb",
        "1.0",
        "--file",
        &format!("model.onnx={}", f.display()),
    ]);
    assert!(ok, "{out}");
    assert!(!staging.exists(), "the next install cleans up");
    let (ok, out) = run(&["verify"]);
    assert!(ok && out.contains("ok "), "{out}");
}

#[test]
fn models_gc_removes_leftovers_and_stray_versions_but_keeps_current_and_previous() {
    let (d, store, files) = with_version_1("w.bin", b"one");
    let f2 = write(&files, "v2-source", b"two");
    store.install("m", "2", "t", &[src("w.bin", &f2)]).unwrap();
    let mdir = store.root().join("m");
    // What crashes and hand copies leave: a staging dir, a trash dir, a stray version.
    fs::create_dir_all(mdir.join(".staging-3-1-1")).unwrap();
    fs::create_dir_all(mdir.join(".trash-0-1-1")).unwrap();
    fs::create_dir_all(mdir.join("0")).unwrap();
    fs::copy(mdir.join("1/manifest.json"), mdir.join("0/manifest.json")).unwrap();
    fs::copy(mdir.join("1/w.bin"), mdir.join("0/w.bin")).unwrap();
    let out = Command::new(crate::support::bin())
        .env("OJSCOG_DATA_DIR", d.path())
        .args(["models", "gc"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("m: removed 3"), "{text}");
    let mut left: Vec<String> = fs::read_dir(&mdir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".lock")
        .collect();
    left.sort();
    assert_eq!(left, ["1", "2", "current", "previous"]);
    store.verify("m").unwrap();
}
