//! Updates as the box runs them: the running service picks up a model update
//! without a restart, `/api/update` is for the admin only, the page and
//! `/metrics` show it; the real binary's `update import` reads a USB-stick
//! directory; and `kill -9` at many points of download and activation never
//! leaves a broken model. Each installs the embedding model, whose self-test
//! runs it through ONNX Runtime: built with the `embeddings` feature only.
#![cfg(feature = "embeddings")]

use crate::support::channel::{ChannelServer, Publisher};
use crate::support::web::{start_with, ADMIN_TOKEN, READ_TOKEN};
use crate::support::{bin, models::store_with_embedding_model};
use crate::update_channel::{model_files, refs};
use ojscog::models::{ModelStore, EMBEDDING_MODEL};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_running_service_installs_a_model_update_on_request_and_uses_it_without_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Publisher::new(tmp.path(), "svc");
    let files = model_files();
    p.add_model(EMBEDDING_MODEL, "7.0.0", &refs(&files));
    p.publish(3);
    let server = ChannelServer::start(&p.dir);
    let key = p.public_key.display().to_string();
    let url = server.index_url();
    let t = start_with(
        |c| {
            c.update.channel_url = url;
            c.update.extra_keys = vec![key];
            c.update.auto_apply = false;
            c.update.reserve_bytes = 0;
        },
        true,
    );
    // Before: the service embeds with the developers' model.
    let (before, _) = t.service().ctx.models.embedder();
    assert!(
        !before.model_id().ends_with("@7.0.0"),
        "{}",
        before.model_id()
    );

    // Admin only: no credentials 401, a wrong token or the read token 403.
    assert_eq!(t.get_anon("/api/update").status, 401);
    assert_eq!(t.get("/api/update").status, 403);
    // A token that is no token at all: 403 as well (and a failed sign-in).
    assert_eq!(
        t.get_with(
            "/api/update",
            &[("Authorization", "Bearer not-a-token-0123456789")]
        )
        .status,
        403
    );
    assert_eq!(t.post("/api/update", None, b"").status, 401);
    assert_eq!(t.post("/api/update", Some(READ_TOKEN), b"").status, 403);
    assert_eq!(
        t.post("/api/update", Some(ADMIN_TOKEN), br#"{"action":"dance"}"#)
            .status,
        400
    );
    let r = t.post("/api/update", Some(ADMIN_TOKEN), br#"{"action":"apply"}"#);
    assert_eq!(r.status, 202, "{}", r.body);

    let admin_get = || {
        let req = crate::support::web::agent()
            .get(&t.url("/api/update"))
            .set("Authorization", &format!("Bearer {ADMIN_TOKEN}"));
        crate::support::web::call(req, None).json()
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    let v = loop {
        let v = admin_get();
        if v["history"].as_array().is_some_and(|h| !h.is_empty()) {
            break v;
        }
        assert!(Instant::now() < deadline, "no update happened: {v}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(v["history"][0]["result"], "installed", "{v}");
    assert_eq!(v["accepted"]["serial"], 3, "{v}");
    assert_eq!(v["status"]["channel"], server.index_url());
    assert_eq!(v["status"]["last_check_result"], "ok");

    // After: the same running service now embeds with the new version.
    let (after, warning) = t.service().ctx.models.embedder();
    assert_eq!(warning, None);
    assert!(after.model_id().ends_with("@7.0.0"), "{}", after.model_id());

    let page = t.get("/");
    assert!(
        page.body.contains(r#"id="updates""#),
        "the page has an updates card"
    );
    assert!(page.body.contains(&server.index_url()));
    let metrics = t.get_anon("/metrics").body;
    assert!(
        metrics.contains(r#"ojscog_update_checks_total{result="ok"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"ojscog_update_artifacts_total{kind="model",result="installed"} 1"#),
        "{metrics}"
    );
}

fn ojscog(data: &Path, key: &Path) -> Command {
    let mut c = Command::new(bin());
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("OJSCOG_DATA_DIR", data)
        .env("OJSCOG_UPDATE_EXTRA_KEYS", key)
        .env("OJSCOG_UPDATE_RESERVE_BYTES", "0");
    for k in ["OJSCOG_TEST_MODELS", "OJSCOG_CACHE", "ORT_DYLIB_PATH"] {
        if let Some(v) = std::env::var_os(k) {
            c.env(k, v);
        }
    }
    c
}

/// The real binary on the box `data` (trusting `p`'s key) with `args`: its
/// exit code and all it printed.
fn run(data: &Path, p: &Publisher, args: &[&str]) -> (Option<i32>, String) {
    let out = ojscog(data, &p.public_key).args(args).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// `ojscog update import <channel dir>`.
fn import(data: &Path, p: &Publisher) -> (Option<i32>, String) {
    let dir = p.dir.display().to_string();
    run(data, p, &["update", "import", "--quiet", &dir])
}

#[test]
fn update_import_installs_from_a_usb_directory_through_the_same_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let p = Publisher::new(tmp.path(), "usb");
    let files = model_files();
    let vdir = p.add_model(EMBEDDING_MODEL, "5.0.0", &refs(&files));
    p.publish(1);
    // A tampered stick: refused, nothing installed, exit status 1.
    let good = std::fs::read(vdir.join("tokenizer.json")).unwrap();
    let mut bad = good.clone();
    bad[100] ^= 1;
    std::fs::write(vdir.join("tokenizer.json"), &bad).unwrap();
    let (code, text) = import(&data, &p);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("refused") && text.contains("tampered"),
        "{text}"
    );
    assert_eq!(
        ModelStore::for_data_dir(&data)
            .current_version(EMBEDDING_MODEL)
            .unwrap(),
        None
    );

    std::fs::write(vdir.join("tokenizer.json"), &good).unwrap();
    let (code, text) = import(&data, &p);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("installed"), "{text}");
    let (code, text) = run(&data, &p, &["models", "verify"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run(&data, &p, &["update", "status"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("accepted index: serial 1"), "{text}");
    assert!(text.contains("installed"), "{text}");
}

/// 50 `kill -9`s spread over a measured download-and-activation: after each,
/// the next run finishes or takes back what was interrupted, `models verify`
/// passes and the model that is current loads and passes its self-test.
#[test]
fn kill_9_at_fifty_points_of_download_and_activation_never_leaves_a_broken_model() {
    let _ = store_with_embedding_model();
    let tmp = tempfile::tempdir().unwrap();
    let p = Publisher::new(tmp.path(), "kill");
    let files = model_files();
    p.add_model(EMBEDDING_MODEL, "3.0.0", &refs(&files));
    p.publish(1);
    let server = ChannelServer::start(&p.dir);
    // Slow enough that the download takes a measurable while.
    server.limit_rate(16 << 20);
    let apply = |data: &Path| {
        let mut c = ojscog(data, &p.public_key);
        c.env("OJSCOG_UPDATE_CHANNEL_URL", server.index_url())
            .args(["update", "apply", "--quiet"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    // Measure one whole run.
    let data = tmp.path().join("measure");
    let started = Instant::now();
    assert!(apply(&data).status().unwrap().success());
    let whole = started.elapsed();

    // 50 kills that hit a running update, at points spread over the measured
    // run. A run can be quicker than the measured one (a loaded machine
    // measures slowly): a kill that comes after the end shortens the estimate.
    let wanted = 50;
    let mut whole = whole;
    let (mut interrupted, mut trials) = (0, 0);
    while interrupted < wanted && trials < 2 * wanted {
        let i = trials;
        trials += 1;
        let data = tmp.path().join(format!("trial-{i}"));
        let at = whole.mul_f64((interrupted as f64 + 0.5) / wanted as f64);
        let mut child = apply(&data).spawn().unwrap();
        std::thread::sleep(at);
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        } else {
            whole = whole.mul_f64(0.85);
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // What the box does at its next start: finish or take back.
        let (code, text) = run(&data, &p, &["update", "status"]);
        assert_eq!(code, Some(0), "trial {i}: {text}");
        let store = ModelStore::for_data_dir(&data);
        if store.current_version(EMBEDDING_MODEL).unwrap().is_some() {
            let (code, text) = run(&data, &p, &["models", "verify"]);
            assert_eq!(code, Some(0), "trial {i} at {at:?}: {text}");
        }
        // The model the service would start with works.
        let t = ojscog::update::ModelSelfTest {
            data_dir: data.clone(),
            llm: Default::default(),
        };
        let outcome = ojscog::update::SelfTest::run(&t, EMBEDDING_MODEL);
        assert!(
            matches!(outcome, ojscog::update::Outcome::Passed(_)),
            "trial {i} at {at:?}: {outcome:?}"
        );
        // And the next run completes the update.
        assert!(
            apply(&data).status().unwrap().success(),
            "trial {i}: resuming failed"
        );
        assert_eq!(
            store.current_version(EMBEDDING_MODEL).unwrap().as_deref(),
            Some("3.0.0")
        );
        std::fs::remove_dir_all(&data).unwrap();
    }
    assert_eq!(
        interrupted, wanted,
        "only {interrupted} of {trials} kills hit a running update ({whole:?} per run at the end)"
    );
    println!("{interrupted} kills hit a running update in {trials} trials");
}
