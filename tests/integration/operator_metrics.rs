//! What an operator scrapes besides the HTTP and sync metrics: each agent's
//! runs, durations and last run; the network interfaces' and the data disk's
//! byte counters — promtool-clean.

use crate::support::web::{promtool_check, start_demo};
use crate::support::Inspect;

#[test]
fn agent_runs_and_the_device_s_traffic_are_in_the_metrics() {
    let t = start_demo();
    t.wait_for_index();
    t.wait_for_first_sample();
    assert_eq!(t.get("/api/submissions/6/reviewers").status, 200);
    // The second time comes from the cache: not a run.
    assert_eq!(t.get("/api/submissions/6/reviewers").status, 200);
    // Searches, from the API and from the page, are runs; an empty query is not.
    assert_eq!(t.get("/api/search?q=coral%20bleaching").status, 200);
    assert_eq!(t.get("/search?q=seagrass").status, 200);
    assert_eq!(t.get("/api/search?q=").status, 400);
    let text = t.get_anon("/metrics").body;
    for line in [
        r#"ojscog_agent_runs_total{agent="reviewer_matching",outcome="ok"} 1"#,
        r#"ojscog_agent_run_duration_seconds_count{agent="reviewer_matching"} 1"#,
        r#"ojscog_agent_last_run_timestamp_seconds{agent="reviewer_matching"} "#,
        r#"ojscog_agent_runs_total{agent="search",outcome="ok"} 2"#,
        r#"ojscog_agent_run_duration_seconds_count{agent="search"} 2"#,
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    // Every interface but loopback, by name (a name is not an id: there are a handful, and they are stable).
    let interfaces: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n != "lo")
        .collect();
    assert!(!interfaces.is_empty());
    for i in &interfaces {
        for m in [
            "ojscog_network_received_bytes_total",
            "ojscog_network_transmitted_bytes_total",
        ] {
            let line = format!("{m}{{interface=\"{i}\"}} ");
            assert!(text.contains(&line), "missing `{line}` in:\n{text}");
        }
    }
    assert!(!text.contains("interface=\"lo\""), "{text}");

    // The workflow figures per journal (by its path), against the store counted here in SQL.
    let store = t.store();
    let journal = store
        .column_strings("SELECT path FROM journals")
        .unwrap()
        .remove(0);
    let year = "datetime('now', '-365 days')";
    let received = store
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM submissions WHERE submitted = 1 AND date_submitted >= {year}"
        ))
        .unwrap();
    let accepted = store
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM editorial_decisions WHERE decision = 2 AND date_decided >= {year}"
        ))
        .unwrap();
    let declined = store
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM editorial_decisions WHERE decision IN (6, 8) AND date_decided >= {year}"
        ))
        .unwrap();
    assert!(
        received > 0 && accepted + declined > 0,
        "the demo has a year of work"
    );
    for line in [
        format!("ojscog_workflow_submissions_received{{journal=\"{journal}\"}} {received}\n"),
        format!(
            "ojscog_workflow_decisions{{decision=\"accept\",journal=\"{journal}\"}} {accepted}\n"
        ),
    ] {
        assert!(text.contains(&line), "missing `{line}` in:\n{text}");
    }
    let ratio: f64 = text
        .lines()
        .find(|l| {
            l.starts_with(&format!(
                "ojscog_workflow_acceptance_ratio{{journal=\"{journal}\"}}"
            ))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no acceptance ratio in:\n{text}"));
    assert!((ratio - accepted as f64 / (accepted + declined) as f64).abs() < 1e-9);
    for m in [
        "ojscog_workflow_first_decision_median_seconds",
        "ojscog_workflow_review_turnaround_median_seconds",
        "ojscog_workflow_invitation_acceptance_ratio",
    ] {
        assert!(
            text.contains(&format!("{m}{{journal=\"{journal}\"}} ")),
            "no {m} in:\n{text}"
        );
    }
    promtool_check(&text);

    // The same year on the status page, for the editor-in-chief.
    let page = t.get("/").body;
    let row = page
        .split(&format!(r#"<tr data-journal="{journal}">"#))
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .unwrap_or_else(|| panic!("no workflow row for {journal} in:\n{page}"));
    assert!(
        row.contains(&format!(r#"data-field="received">{received}<"#)),
        "{row}"
    );
    assert!(row.contains(&format!("{accepted} accept")), "{row}");
    let percent = ojscog::human::percent(accepted as f64 / (accepted + declined) as f64);
    assert!(
        row.contains(&format!(r#"data-field="acceptance">{percent}<"#)),
        "{row}"
    );
}
