//! The model store: atomic install, verify, rollback, and what happens when a
//! file is corrupted or truncated or an install is interrupted.

use ojscog::models::{ModelError, ModelStore, SourceFile};
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
    let (_d, store, files) = setup();
    let good = write(&files, "good", b"good weights");
    store
        .install("m", "1", "t", &[src("model.onnx", &good)])
        .unwrap();
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
    let (_d, store, files) = setup();
    let good = write(&files, "good", b"v1");
    store
        .install("m", "1", "t", &[src("model.onnx", &good)])
        .unwrap();
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
