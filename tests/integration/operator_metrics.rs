//! What an operator scrapes besides the HTTP and sync metrics: each agent's
//! runs, durations and last run; the network interfaces' and the data disk's
//! byte counters — promtool-clean.

use crate::support::web::{promtool_check, start_demo};

#[test]
fn agent_runs_and_the_device_s_traffic_are_in_the_metrics() {
    let t = start_demo();
    t.wait_for_index();
    t.wait_for_first_sample();
    assert_eq!(t.get("/api/submissions/6/reviewers").status, 200);
    // The second time comes from the cache: not a run.
    assert_eq!(t.get("/api/submissions/6/reviewers").status, 200);
    let text = t.get_anon("/metrics").body;
    for line in [
        r#"ojscog_agent_runs_total{agent="reviewer_matching",outcome="ok"} 1"#,
        r#"ojscog_agent_run_duration_seconds_count{agent="reviewer_matching"} 1"#,
        r#"ojscog_agent_last_run_timestamp_seconds{agent="reviewer_matching"} "#,
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
    promtool_check(&text);
}
