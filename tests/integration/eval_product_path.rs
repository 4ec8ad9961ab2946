//! Reviewer matching measured through the product (issue 9): the reviewer-gold
//! data as an OJS 3.4 journal in MariaDB, the real binary's
//! `eval reviewer-gold --ojs` (a service syncs it, embeds in the background,
//! answers `GET /api/submissions/{id}/reviewers` over HTTP), and the gold
//! metric on the `expertise` it answered — next to the in-memory figure, so the
//! two cannot drift apart silently. Needs `--features embeddings` and the models.
#![cfg(feature = "embeddings")]

use crate::support::{bin, models, test_data, TestDb};
use serde_json::Value;
use std::process::Command;

/// The gold loss of the API's expertise must stay at or below this: the
/// measured 0.2205 (BENCHMARKS.md) plus room for ONNX Runtime's rounding across
/// machines. The target (0.18) is not reached yet.
const PRODUCT_LOSS_BOUND: f64 = 0.225;

fn row<'a>(rows: &'a [Value], method_starts: &str, view_starts: &str) -> &'a Value {
    rows.iter()
        .find(|r| {
            r["method"]
                .as_str()
                .unwrap_or("")
                .starts_with(method_starts)
                && r["view"].as_str().unwrap_or("").starts_with(view_starts)
        })
        .unwrap_or_else(|| panic!("no row `{method_starts}` / `{view_starts}` in {rows:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_expertise_the_api_answers_scores_like_the_evaluation_on_reviewer_gold() {
    let models = models::store_with_embedding_model();
    let gold_dir = test_data().join("reviewer-gold");
    let gold = ojscog::eval::Gold::load(&gold_dir).unwrap();
    let db = TestDb::ojs("3.4.0-4").await;
    db.exec(&ojscog::eval::journal::sql(&gold)).await;
    assert_eq!(
        db.count("SELECT COUNT(*) FROM submissions WHERE submission_id >= 1000")
            .await,
        1244,
        "463 rated papers and 799 archive papers, 18 of them both"
    );

    let scratch = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .current_dir(scratch.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("OJSCOG_DATA_DIR", scratch.path().join("data"))
        .env("OJSCOG_TEST_MODELS", models.root())
        .env("TMPDIR", scratch.path())
        .args(["eval", "reviewer-gold", "--json", "--ojs"])
        .arg(db.url())
        .arg(&gold_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "eval failed: {stderr}");
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));

    let api = &row(&rows, "ojscog through the product", "per participant")["report"];
    let memory = &row(&rows, "ojscog in memory", "per participant")["report"];
    let (api_loss, mem_loss) = (
        api["loss"].as_f64().unwrap(),
        memory["loss"].as_f64().unwrap(),
    );
    // Every rated pair got an answer: all 58 participants were linked to their papers.
    assert_eq!(api["missing_pairs"], 0, "{api}");
    assert_eq!(api["participants"], 58);
    // What ships is what the evaluation says (the backgrounds differ only by PKP's own papers).
    assert!(
        (api_loss - mem_loss).abs() < 0.015,
        "product {api_loss:.4} vs in memory {mem_loss:.4}"
    );
    assert!(
        api_loss <= PRODUCT_LOSS_BOUND,
        "product-path loss {api_loss:.4}"
    );
    let ci = api["ci95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() < api_loss && api_loss < ci[1].as_f64().unwrap());
    // Well below the published baselines' 0.27-0.28 and a constant predictor's 0.5.
    assert!(ci[1].as_f64().unwrap() < 0.5);

    // Comparable numbers: across participants and papers the calibrated
    // expertise still orders ratings far better than chance.
    let global = &row(&rows, "ojscog through the product", "across")["report"];
    assert!(global["loss"].as_f64().unwrap() < 0.4, "{global}");
    // Per submission, calibrating did not make the ranking of reviewers worse.
    let shipped = row(&rows, "API ranking by the calibrated", "per submission")["report"]["loss"]
        .as_f64()
        .unwrap();
    let before = row(&rows, "API channels z-scored", "per submission")["report"]["loss"]
        .as_f64()
        .unwrap();
    assert!(
        shipped <= before + 0.01,
        "per-submission ranking: calibrated {shipped:.4}, before {before:.4}"
    );
}
