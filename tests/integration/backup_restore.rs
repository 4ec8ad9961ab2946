//! `ojscog backup` and `ojscog restore` through the real binary: a backup taken
//! while the store is being written restores whole and consistent; a killed
//! backup never leaves a file named as done; a damaged, cut or newer backup,
//! or a box whose service runs, is refused and nothing changes.

use crate::support::grow::{generated, grow};
use crate::support::{bin, Inspect};
use ojscog::backup;
use ojscog::store::{Batch, Store};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn ojscog(data: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("OJSCOG_DATA_DIR", data)
        .env("OJSCOG_WEB_ADMIN_TOKEN", "secret-admin-token-0123456789")
        .output()
        .expect("ojscog runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The backups (files not starting with a dot) in `dir`.
fn backups_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

const BATCH: i64 = 25;

#[test]
fn a_backup_taken_while_the_store_is_written_restores_whole_and_consistent() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut store = Store::open(&data.join("ojscog.sqlite3")).unwrap();
    grow(&mut store, 1, 500);
    let before = store
        .scalar_i64("SELECT COUNT(*) FROM submissions")
        .unwrap();
    // A writer adding batches of 25 submissions (each all or nothing) while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let path = data.join("ojscog.sqlite3");
        std::thread::spawn(move || {
            let mut store = Store::open(&path).unwrap();
            let mut next = 10_000;
            while !stop.load(Ordering::SeqCst) {
                let batch = Batch {
                    upsert: (next..next + BATCH).map(generated).collect(),
                    ..Default::default()
                };
                store.apply(&batch).unwrap();
                next += BATCH;
            }
            next
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let out_dir = tmp.path().join("usb");
    let o = ojscog(&data, &["backup", "--to", out_dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("backup written:"), "{}", text(&o));
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::SeqCst);
    let written_up_to = writer.join().unwrap();
    let files = backups_in(&out_dir);
    assert_eq!(files.len(), 1, "{files:?}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let data2 = tmp.path().join("restored");
    let o = ojscog(&data2, &["restore", files[0].to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let restored = Store::open(&data2.join("ojscog.sqlite3")).unwrap();
    assert_eq!(restored.integrity_check().unwrap(), vec!["ok"]);
    let n = restored
        .scalar_i64("SELECT COUNT(*) FROM submissions")
        .unwrap();
    let extra = n - before;
    assert!(
        extra > 0 && extra % BATCH == 0 && n < written_up_to,
        "the backup holds {n} submissions: every committed batch whole ({before} before, batches of {BATCH})"
    );
    // Every restored row is the original's.
    let original = Store::open_read_only(&data.join("ojscog.sqlite3")).unwrap();
    let rows = |s: &Store| {
        s.column_strings(
            "SELECT id || '|' || fingerprint || '|' || title || '|' ||
                    (SELECT COUNT(*) FROM authors a WHERE a.submission_id = s.id)
             FROM submissions s ORDER BY id",
        )
        .unwrap()
    };
    let (got, all) = (rows(&restored), rows(&original));
    assert_eq!(got[..], all[..got.len()]);

    // The settings came along without the token; the replaced store was kept.
    let config = std::fs::read_dir(&data2)
        .unwrap()
        .flatten()
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("config.restored-")
        })
        .expect("the backup's settings are written beside the store");
    let toml = std::fs::read_to_string(config.path()).unwrap();
    assert!(toml.contains("admin_token = \"***\""), "{toml}");
    assert!(!toml.contains("secret-admin-token"), "{toml}");
    let o = ojscog(
        &data,
        &[
            "backup",
            "--to",
            out_dir.join("with.backup").to_str().unwrap(),
            "--with-secrets",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let (m, _) = backup::verify(&out_dir.join("with.backup")).unwrap();
    assert!(m.config_toml.contains("secret-admin-token-0123456789"));
    let o = ojscog(
        &data2,
        &["restore", out_dir.join("with.backup").to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("is kept as"), "{}", text(&o));
}

#[test]
fn a_killed_backup_never_leaves_a_file_named_as_done() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut store = Store::open(&data.join("ojscog.sqlite3")).unwrap();
    grow(&mut store, 1, 6_000);
    drop(store);
    let out = tmp.path().join("backups");
    std::fs::create_dir_all(&out).unwrap();
    let mut killed_mid_way = 0;
    for delay_ms in [0u64, 5, 15, 30, 60, 100, 150, 250] {
        let mut child = Command::new(bin())
            .args(["backup", "--to", out.to_str().unwrap()])
            .env("OJSCOG_DATA_DIR", &data)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        if !finished {
            killed_mid_way += 1;
        }
        for f in backups_in(&out) {
            backup::verify(&f).unwrap_or_else(|e| panic!("after a kill at {delay_ms} ms: {e}"));
        }
        // Distinct names: the next backup must not land on this one's second.
        std::thread::sleep(Duration::from_millis(1000));
    }
    assert!(
        killed_mid_way >= 3,
        "only {killed_mid_way} kills hit a running backup"
    );
    // The next backup clears what the killed ones left.
    let o = ojscog(&data, &["backup", "--to", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "temporaries left: {left:?}");
}

#[test]
fn damaged_cut_or_newer_backups_and_a_running_service_are_refused_and_nothing_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut store = Store::open(&data.join("ojscog.sqlite3")).unwrap();
    grow(&mut store, 1, 50);
    drop(store);
    let good = tmp.path().join("good.backup");
    let o = ojscog(&data, &["backup", "--to", good.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let bytes = std::fs::read(&good).unwrap();

    let target = tmp.path().join("target");
    let mut t = Store::open(&target.join("ojscog.sqlite3")).unwrap();
    grow(&mut t, 900, 3);
    drop(t);
    let untouched = || {
        let s = Store::open_read_only(&target.join("ojscog.sqlite3")).unwrap();
        assert_eq!(s.scalar_i64("SELECT COUNT(*) FROM submissions").unwrap(), 3);
    };

    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    let bad = tmp.path().join("flipped.backup");
    std::fs::write(&bad, &flipped).unwrap();
    let o = ojscog(&target, &["restore", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("checksum does not match"), "{}", text(&o));
    untouched();

    let cut = tmp.path().join("cut.backup");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let o = ojscog(&target, &["restore", cut.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("cut short"), "{}", text(&o));
    untouched();

    // A backup from a newer ojscog: its manifest says schema 99 (and its checksum is right).
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(1 << 16)]).to_string();
    let manifest_line = s.lines().nth(1).unwrap().to_string();
    let mut m: serde_json::Value = serde_json::from_str(&manifest_line).unwrap();
    m["schema_version"] = 99.into();
    let new_line = serde_json::to_string(&m).unwrap();
    let body_start = backup::MAGIC.len() + 1 + manifest_line.len() + 1;
    let mut newer = format!("{}\n{new_line}\n", backup::MAGIC).into_bytes();
    newer.extend_from_slice(&bytes[body_start..bytes.len() - 72]);
    use sha2::Digest;
    let sum: String = sha2::Sha256::digest(&newer)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    newer.extend_from_slice(format!("sha256 {sum}\n").as_bytes());
    let newer_path = tmp.path().join("newer.backup");
    std::fs::write(&newer_path, &newer).unwrap();
    let o = ojscog(&target, &["restore", newer_path.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("newer ojscog"), "{}", text(&o));
    untouched();

    // The service holds the directory: no restore under it.
    let held = ojscog::system::lock::DataDirLock::shared(&target).unwrap();
    let o = ojscog(&target, &["restore", good.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("stop it first"), "{}", text(&o));
    untouched();
    drop(held);

    let o = ojscog(&target, &["restore", good.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let s = Store::open_read_only(&target.join("ojscog.sqlite3")).unwrap();
    assert_eq!(
        s.scalar_i64("SELECT COUNT(*) FROM submissions").unwrap(),
        50
    );
}

#[test]
fn scheduled_backups_run_on_their_interval_keep_the_newest_and_show_on_the_status_page() {
    use crate::support::web::start_with;
    let usb = tempfile::tempdir().unwrap();
    let dir = usb.path().to_path_buf();
    let t = start_with(
        |c| {
            c.backup.dir = dir.clone();
            c.backup.interval_secs = 1;
            c.backup.keep = 2;
        },
        true,
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let ok = r#"ojscog_backups_total{outcome="ok"}"#;
    loop {
        let m = t.get_anon("/metrics").body;
        let n: f64 = m
            .lines()
            .find(|l| l.starts_with(ok))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        if n >= 3.0 {
            assert!(
                m.contains("ojscog_backup_last_success_timestamp_seconds "),
                "{m}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "fewer than 3 backups in 60 s: {m}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let kept = backup::schedule::backups(&dir);
    assert!((2..=3).contains(&kept.len()), "{kept:?}"); // one may be landing now
    for f in &kept {
        backup::verify(f).unwrap();
    }
    let page = t.get("/").body;
    assert!(page.contains(r#"id="backup-last""#), "{page}");
    assert!(!page.contains(r#"id="backup-failed""#), "{page}");
    drop(t);

    // The stick is gone: the failure is on the page and in the metrics, and nothing else breaks.
    let gone = usb.path().join("not-mounted");
    let t = start_with(|c| c.backup.dir = gone, true);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let page = t.get("/").body;
        if page.contains(r#"id="backup-failed""#) {
            assert!(page.contains("is not there"), "{page}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failure shown: {page}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(t
        .get_anon("/metrics")
        .body
        .contains(r#"ojscog_backups_total{outcome="error"} 1"#));
}

/// The models a backup lists and the restored box lacks come back through the update channel: checked, verified and
/// self-tested like any update (the real MiniLM files on a real channel on loopback; ONNX Runtime runs the self-test).
#[cfg(feature = "embeddings")]
#[test]
fn a_restore_fetches_the_models_it_lists_from_the_update_channel() {
    use crate::support::channel::{ChannelServer, Publisher};
    use crate::update_channel::{model_files, refs};
    use ojscog::models::{ModelStore, EMBEDDING_MODEL};
    let tmp = tempfile::tempdir().unwrap();
    let files = model_files();
    // The box that was backed up: a store and the model, as version 9.0.0.
    let old = tmp.path().join("old");
    let mut store = Store::open(&old.join("ojscog.sqlite3")).unwrap();
    grow(&mut store, 1, 5);
    drop(store);
    let mut install = vec!["models", "install", EMBEDDING_MODEL, "9.0.0"];
    let args: Vec<String> = files
        .iter()
        .map(|(n, p)| format!("{n}={}", p.display()))
        .collect();
    for a in &args {
        install.extend(["--file", a.as_str()]);
    }
    let o = ojscog(&old, &install);
    assert!(o.status.success(), "{}", text(&o));
    let file = tmp.path().join("box.backup");
    let o = ojscog(&old, &["backup", "--to", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let backed_up = backup::installed_models(&old);
    assert_eq!(backed_up.len(), 1);

    // The new box (a fresh card) knows the channel; the publisher offers the same model.
    let p = Publisher::new(tmp.path(), "restore");
    p.add_model(EMBEDDING_MODEL, "9.0.0", &refs(&files));
    p.publish(7);
    let server = ChannelServer::start(&p.dir);
    let new = tmp.path().join("new");
    let o = Command::new(bin())
        .args(["restore", file.to_str().unwrap()])
        .env("OJSCOG_DATA_DIR", &new)
        .env("OJSCOG_UPDATE_CHANNEL_URL", server.index_url())
        .env("OJSCOG_UPDATE_EXTRA_KEYS", &p.public_key)
        .env("OJSCOG_UPDATE_RESERVE_BYTES", "0")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("fetching them from the update channel"),
        "{}",
        text(&o)
    );
    let now = backup::installed_models(&new);
    assert_eq!(now.len(), 1, "{}", text(&o));
    assert_eq!(
        (now[0].name.as_str(), now[0].version.as_str()),
        (EMBEDDING_MODEL, "9.0.0")
    );
    // The same bytes as the backed-up box had, verified in the new store.
    assert_eq!(now[0].sha256, backed_up[0].sha256);
    ModelStore::for_data_dir(&new)
        .verify(EMBEDDING_MODEL)
        .unwrap();

    // Without a channel the restore names them and says how to get them back.
    let bare = tmp.path().join("bare");
    let o = ojscog(&bare, &["restore", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("no update channel is configured"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains(EMBEDDING_MODEL), "{}", text(&o));
    server.stop();
}
