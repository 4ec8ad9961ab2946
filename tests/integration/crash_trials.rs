//! A few trials of `scripts/crash-test` in CI: `kill -9` of the real binary at
//! random points of an OJS sync and of a model install, each followed by
//! `PRAGMA integrity_check`, `models verify` and a complete next run. The
//! full run (200 + 200 trials) is recorded in RELIABILITY.md.

use crate::support as common;

use std::process::Command;

#[test]
fn five_random_kills_of_sync_and_of_model_install_leave_everything_usable() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(root.join("scripts/crash-test"))
        .args(["--trials", "5"])
        .env("OJSCOG_BIN", common::bin())
        .env("OJSCOG_TEST_DATA", common::test_data())
        .output()
        .expect("bash runs scripts/crash-test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}\n{stderr}");
    assert!(
        out.status.success(),
        "crash-test failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("5 sync trials, 5 model-install trials"),
        "{stdout}"
    );
    assert!(stdout.contains("failures: 0"), "{stdout}");
}
