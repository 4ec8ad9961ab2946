//! The real `ojscog` binary in a scratch directory: config errors, redaction,
//! sync --once, status, and `serve` start-up and graceful shutdown.

use crate::support as common;

use common::{bin, TestDb};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ojscog(dir: &std::path::Path) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("OJSCOG_DATA_DIR", dir.join("data"));
    c
}

fn run(c: &mut Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_check_names_the_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[web]\nworkers = 0\n").unwrap();
    let (code, _, err) = run(ojscog(dir.path())
        .args(["config", "check", "--config"])
        .arg(&cfg));
    assert_eq!(code, 1);
    assert!(err.contains("web.workers"), "{err}");

    std::fs::write(&cfg, "[ojs\nurl = 1\n").unwrap();
    let (code, _, err) = run(ojscog(dir.path())
        .args(["config", "check", "--config"])
        .arg(&cfg));
    assert_eq!(code, 1);
    assert!(
        err.contains("not valid TOML") && err.contains("c.toml"),
        "{err}"
    );

    let (code, _, err) = run(ojscog(dir.path())
        .args(["config", "check"])
        .env("OJSCOG_OJS_SYNC_INTERVAL_SECS", "soon"));
    assert_eq!(code, 1);
    assert!(err.contains("OJSCOG_OJS_SYNC_INTERVAL_SECS"), "{err}");

    let (code, out, _) = run(ojscog(dir.path()).args(["config", "check"]));
    assert_eq!(code, 0);
    assert!(out.contains("valid"));
}

#[test]
fn config_show_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[ojs]\nurl = \"mysql://ojs:hunter2hunter2@db:3306/ojs\"\n[web]\nadmin_token = \"tok-0123456789abcdef\"\n",
    )
    .unwrap();
    let (code, out, _) = run(ojscog(dir.path())
        .args(["config", "show", "--config"])
        .arg(&cfg));
    assert_eq!(code, 0);
    assert!(!out.contains("hunter2"), "{out}");
    assert!(!out.contains("tok-0123456789abcdef"), "{out}");
    assert!(out.contains("mysql://ojs:***@db:3306/ojs"), "{out}");
    // An invalid URL's error must not leak the password either.
    let (code, _, err) = run(ojscog(dir.path())
        .args(["config", "check"])
        .env("OJSCOG_OJS_URL", "mysql://u:hunter2@db:notaport/x"));
    assert_eq!(code, 1);
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn sync_without_ojs_url_says_how_to_configure() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(ojscog(dir.path()).args(["sync", "--once"]));
    assert_eq!(code, 1);
    assert!(err.contains("OJSCOG_OJS_URL"), "{err}");
}

#[test]
fn status_before_any_sync_explains_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(ojscog(dir.path()).arg("status"));
    assert_eq!(code, 1);
    assert!(err.contains("ojscog sync --once"), "{err}");
}

#[tokio::test]
async fn sync_once_then_status_summarizes_the_mirror() {
    let db = TestDb::ojs("3.3.0-16").await;
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(ojscog(dir.path())
        .args(["sync", "--once"])
        .env("OJSCOG_OJS_URL", db.url()));
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["submissions_fetched"], 19);
    assert_eq!(report["ojs_version"], "3.3.0-16");
    let (code, out, err) = run(ojscog(dir.path()).arg("status"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("submissions 19"), "{out}");
    assert!(out.contains("review_assignments 27"), "{out}");
    assert!(out.contains("OJS 3.3.0-16"), "{out}");
    assert!(out.contains("last sync"), "{out}");
    // OJS gone: the command fails, the mirror and status stay.
    let (code, _, err) = run(ojscog(dir.path())
        .args(["sync", "--once"])
        .env("OJSCOG_OJS_URL", "mysql://root@127.0.0.1:9/ojs"));
    assert_eq!(code, 1);
    assert!(err.contains("cannot reach"), "{err}");
    let (_, out, _) = run(ojscog(dir.path()).arg("status"));
    assert!(
        out.contains("submissions 19") && out.contains("last error"),
        "{out}"
    );
    db.drop_db().await;
}

/// Starts `ojscog serve` and returns the child, the address it printed and
/// the sign-in link it printed (when it made a read token).
fn start_serve(c: &mut Command) -> (std::process::Child, String, Option<String>) {
    let mut child = c
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("http://").nth(1) {
                let _ = tx.send(rest.trim().to_string());
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("serve printed its address");
    let addr = first
        .trim_end_matches(|c| c != '/')
        .trim_end_matches('/')
        .to_string();
    let link = rx
        .recv_timeout(Duration::from_secs(2))
        .ok()
        .filter(|l| l.contains("/signin?token="))
        .map(|l| format!("http://{l}"));
    (child, addr, link)
}

#[test]
fn serve_demo_answers_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, link) = start_serve(
        ojscog(dir.path())
            .args(["serve", "--demo"])
            .env("OJSCOG_WEB_LISTEN", "127.0.0.1:0"),
    );
    let health: serde_json::Value = ureq::get(&format!("http://{addr}/health"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    // Confidential routes need the sign-in the printed link gives, as a
    // newcomer's browser would get it.
    match ureq::get(&format!("http://{addr}/api/submissions")).call() {
        Err(ureq::Error::Status(401, _)) => {}
        other => panic!("the API is open without a sign-in: {other:?}"),
    }
    let link = link.expect("serve --demo prints a sign-in link");
    let signed_in = ureq::get(&link).call().unwrap();
    let cookie = signed_in
        .header("Set-Cookie")
        .expect("the link sets a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let subs: serde_json::Value = ureq::get(&format!("http://{addr}/api/submissions"))
        .set("Cookie", &cookie)
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(subs["submissions"].as_array().unwrap().len(), 12);
    assert!(
        dir.path().join("data/demo/ojscog.sqlite3").exists(),
        "the demo uses a scratch store"
    );
    assert!(
        !dir.path().join("data/ojscog.sqlite3").exists(),
        "and never the real one"
    );

    let t = Instant::now();
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "serve did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

/// Regression: `OJSCOG_SKIP_APPLIANCE=1 scripts/test` stopped in `fetch-models.sh` because the binary refused a
/// variable meant for the scripts. Every `OJSCOG_*` name the scripts use is accepted by the binary (a config key is
/// still checked for its value, but never called unknown).
#[test]
fn every_ojscog_variable_the_scripts_use_is_known_to_the_binary() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut names = std::collections::BTreeSet::new();
    let mut files = vec![root.join(".ci/run"), root.join("flash.sh")];
    let mut dirs = vec![root.join("scripts")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                files.push(p);
            }
        }
    }
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for (i, _) in text.match_indices("OJSCOG_") {
            let name: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if name.len() > "OJSCOG_".len() && !name.ends_with('_') {
                names.insert(name);
            }
        }
    }
    assert!(names.contains("OJSCOG_SKIP_APPLIANCE"), "{names:?}");
    let dir = tempfile::tempdir().unwrap();
    for name in &names {
        let (_, out, err) = run(ojscog(dir.path()).env(name, "1").args(["config", "check"]));
        assert!(
            !format!("{out}{err}").contains("unknown OJSCOG_* variable"),
            "{name}: {out}{err}"
        );
    }
}
