//! In-memory metrics (counters, gauges, histograms) rendered in the
//! Prometheus text format 0.0.4, and sampled into the store for the page's
//! charts. Names follow Prometheus conventions: base units, `_total` for
//! counters, `_seconds`/`_bytes` suffixes, no ids in labels.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram(&'static [f64]),
}

type Labels = Vec<(String, String)>;

#[derive(Debug, Clone)]
enum Series {
    Value(f64),
    Hist {
        counts: Vec<u64>,
        sum: f64,
        count: u64,
    },
}

#[derive(Debug)]
struct Family {
    help: &'static str,
    kind: Kind,
    series: BTreeMap<Labels, Series>,
}

/// Latency buckets (seconds) for HTTP handlers.
pub const HTTP_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
/// Buckets (seconds) for whole sync runs.
pub const SYNC_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// The metric names the service uses, so callers do not repeat string literals.
pub mod names {
    pub const SYNC_RUNS: &str = "ojscog_sync_runs_total";
    pub const SYNC_ROWS_CHANGED: &str = "ojscog_sync_rows_changed_total";
    pub const SYNC_ROWS_DELETED: &str = "ojscog_sync_rows_deleted_total";
    pub const SYNC_DURATION: &str = "ojscog_sync_duration_seconds";
    pub const SYNC_LAST_SUCCESS: &str = "ojscog_sync_last_success_timestamp_seconds";
    pub const SYNC_STALENESS: &str = "ojscog_sync_staleness_seconds";
    pub const HTTP_REQUESTS: &str = "ojscog_http_requests_total";
    pub const HTTP_DURATION: &str = "ojscog_http_request_duration_seconds";
    pub const HTTP_CONNECTIONS_REFUSED: &str = "ojscog_http_connections_refused_total";
    pub const SEARCH_DOCUMENTS: &str = "ojscog_search_index_documents";
    pub const SEARCH_DOCUMENTS_EMBEDDED: &str = "ojscog_search_index_embedded_documents";
    pub const PENDING: &str = "ojscog_submissions_pending";
    pub const REVIEWS_ACTIVE: &str = "ojscog_reviews_active";
    pub const REVIEWS_OVERDUE: &str = "ojscog_reviews_overdue";
    pub const CPU_USAGE: &str = "ojscog_cpu_usage_ratio";
    pub const MEMORY_USED: &str = "ojscog_memory_used_bytes";
    pub const MEMORY_TOTAL: &str = "ojscog_memory_total_bytes";
    pub const DISK_FREE: &str = "ojscog_data_disk_free_bytes";
    pub const DISK_TOTAL: &str = "ojscog_data_disk_total_bytes";
    pub const TEMPERATURE: &str = "ojscog_cpu_temperature_celsius";
    pub const UPTIME: &str = "ojscog_system_uptime_seconds";
    pub const PROCESS_START: &str = "process_start_time_seconds";
    pub const AGENT_RUNS: &str = "ojscog_agent_runs_total";
    pub const BUILD_INFO: &str = "ojscog_build_info";
    pub const UPDATE_CHECKS: &str = "ojscog_update_checks_total";
    pub const UPDATE_LAST_CHECK: &str = "ojscog_update_last_check_timestamp_seconds";
    pub const UPDATE_ARTIFACTS: &str = "ojscog_update_artifacts_total";
    pub const UPDATE_DOWNLOADED: &str = "ojscog_update_downloaded_bytes_total";
    pub const UPDATE_SELFTEST_DURATION: &str = "ojscog_update_selftest_duration_seconds";
    pub const VOICE_COMMANDS: &str = "ojscog_voice_commands_total";
    pub const VOICE_STAGE_DURATION: &str = "ojscog_voice_stage_duration_seconds";
    pub const VOICE_BUTTON_PRESSES: &str = "ojscog_voice_button_presses_total";
    pub const FIGURE_PAGES: &str = "ojscog_figure_pages_checked_total";
    pub const BACKUPS: &str = "ojscog_backups_total";
    pub const WF_RECEIVED: &str = "ojscog_workflow_submissions_received";
    pub const WF_DECISIONS: &str = "ojscog_workflow_decisions";
    pub const WF_ACCEPTANCE: &str = "ojscog_workflow_acceptance_ratio";
    pub const WF_FIRST_DECISION: &str = "ojscog_workflow_first_decision_median_seconds";
    pub const WF_TURNAROUND: &str = "ojscog_workflow_review_turnaround_median_seconds";
    pub const WF_INVITATIONS: &str = "ojscog_workflow_invitation_acceptance_ratio";
    pub const AGENT_DURATION: &str = "ojscog_agent_run_duration_seconds";
    pub const AGENT_LAST_RUN: &str = "ojscog_agent_last_run_timestamp_seconds";
    pub const NET_RECEIVED: &str = "ojscog_network_received_bytes_total";
    pub const NET_TRANSMITTED: &str = "ojscog_network_transmitted_bytes_total";
    pub const DISK_WRITTEN: &str = "ojscog_data_disk_written_bytes_total";
    pub const BACKUP_LAST_SUCCESS: &str = "ojscog_backup_last_success_timestamp_seconds";
}

/// Buckets of an agent run (seconds): a cached ranking to a long screening report.
pub const AGENT_BUCKETS: &[f64] = &[0.05, 0.25, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];
/// Buckets of a voice command's stages (seconds).
pub const VOICE_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];
/// Buckets (seconds) for model self-tests after an update.
pub const SELFTEST_BUCKETS: &[f64] = &[0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

pub struct Metrics {
    families: Mutex<BTreeMap<&'static str, Family>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn labels(l: &[(&str, &str)]) -> Labels {
    let mut v: Labels = l
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

impl Metrics {
    /// A registry with every metric of the service described.
    pub fn new() -> Metrics {
        use names::*;
        let m = Metrics {
            families: Mutex::new(BTreeMap::new()),
        };
        m.describe(SYNC_RUNS, "OJS sync runs by outcome.", Kind::Counter);
        m.describe(
            SYNC_ROWS_CHANGED,
            "Mirrored rows written by syncs.",
            Kind::Counter,
        );
        m.describe(
            SYNC_ROWS_DELETED,
            "Mirrored rows deleted by syncs.",
            Kind::Counter,
        );
        m.describe(
            SYNC_DURATION,
            "Duration of OJS sync runs.",
            Kind::Histogram(SYNC_BUCKETS),
        );
        m.describe(
            SYNC_LAST_SUCCESS,
            "Unix time of the last successful OJS sync.",
            Kind::Gauge,
        );
        m.describe(
            SYNC_STALENESS,
            "Seconds since the last successful OJS sync.",
            Kind::Gauge,
        );
        m.describe(
            HTTP_REQUESTS,
            "HTTP requests answered, by route and status code.",
            Kind::Counter,
        );
        m.describe(
            SEARCH_DOCUMENTS,
            "Documents (submissions, reviewer profiles, interest terms) the search index covers.",
            Kind::Gauge,
        );
        m.describe(
            SEARCH_DOCUMENTS_EMBEDDED,
            "Documents with a vector of the current embedding model (the rest are found by terms only).",
            Kind::Gauge,
        );
        m.describe(
            HTTP_CONNECTIONS_REFUSED,
            "Connections closed at once because web.max_connections were open.",
            Kind::Counter,
        );
        m.describe(
            HTTP_DURATION,
            "Time to answer HTTP requests, by route.",
            Kind::Histogram(HTTP_BUCKETS),
        );
        m.describe(
            PENDING,
            "Submitted manuscripts waiting in the workflow, by stage.",
            Kind::Gauge,
        );
        m.describe(
            REVIEWS_ACTIVE,
            "Review assignments accepted or awaiting response, not completed.",
            Kind::Gauge,
        );
        m.describe(
            REVIEWS_OVERDUE,
            "Open review assignments past their due date.",
            Kind::Gauge,
        );
        m.describe(CPU_USAGE, "Whole-machine CPU usage (0 to 1).", Kind::Gauge);
        m.describe(MEMORY_USED, "Memory in use on the machine.", Kind::Gauge);
        m.describe(
            MEMORY_TOTAL,
            "Memory installed in the machine.",
            Kind::Gauge,
        );
        m.describe(
            DISK_FREE,
            "Free space on the filesystem holding the data directory.",
            Kind::Gauge,
        );
        m.describe(
            DISK_TOTAL,
            "Size of the filesystem holding the data directory.",
            Kind::Gauge,
        );
        m.describe(
            TEMPERATURE,
            "Hottest CPU/SoC temperature sensor.",
            Kind::Gauge,
        );
        m.describe(UPTIME, "Seconds since the machine booted.", Kind::Gauge);
        m.describe(
            PROCESS_START,
            "Start time of the process since unix epoch in seconds.",
            Kind::Gauge,
        );
        m.describe(
            AGENT_RUNS,
            "Agent (model) runs by agent and outcome.",
            Kind::Counter,
        );
        m.describe(
            BUILD_INFO,
            "Build information; the value is always 1.",
            Kind::Gauge,
        );
        m.describe(
            UPDATE_CHECKS,
            "Update channel checks by result (ok, or why the index was refused).",
            Kind::Counter,
        );
        m.describe(
            UPDATE_LAST_CHECK,
            "Unix time of the last update channel check.",
            Kind::Gauge,
        );
        m.describe(
            UPDATE_ARTIFACTS,
            "Update artifacts processed, by kind (model, system) and result.",
            Kind::Counter,
        );
        m.describe(
            UPDATE_DOWNLOADED,
            "Bytes downloaded from the update channel.",
            Kind::Counter,
        );
        m.describe(
            UPDATE_SELFTEST_DURATION,
            "Duration of model self-tests after an update.",
            Kind::Histogram(SELFTEST_BUCKETS),
        );
        m.describe(
            VOICE_COMMANDS,
            "Voice commands by outcome (understood, not_understood, no_speech, error).",
            Kind::Counter,
        );
        m.describe(
            VOICE_STAGE_DURATION,
            "Time of each stage of a voice command (vad, stt, answer, tts).",
            Kind::Histogram(VOICE_BUCKETS),
        );
        m.describe(
            VOICE_BUTTON_PRESSES,
            "Presses of the push-to-talk button (a press while a command runs is not counted).",
            Kind::Counter,
        );
        m.describe(
            AGENT_DURATION,
            "Duration of agent runs that reached a model, by agent.",
            Kind::Histogram(AGENT_BUCKETS),
        );
        m.describe(
            AGENT_LAST_RUN,
            "Unix time of each agent's last run.",
            Kind::Gauge,
        );
        m.describe(
            NET_RECEIVED,
            "Bytes received per network interface since boot.",
            Kind::Counter,
        );
        m.describe(
            NET_TRANSMITTED,
            "Bytes sent per network interface since boot.",
            Kind::Counter,
        );
        m.describe(
            DISK_WRITTEN,
            "Bytes written to the disk holding the data directory since boot (SD-card wear).",
            Kind::Counter,
        );
        for (name, help) in [
            (WF_RECEIVED, "Submissions received in the last 365 days, per journal."),
            (WF_DECISIONS, "Editorial decisions in the last 365 days, per journal and kind."),
            (WF_ACCEPTANCE, "Accepted / (accepted + declined), decisions of the last 365 days, per journal."),
            (WF_FIRST_DECISION, "Median time from submission to first decision (accept, decline, revisions, resubmit), submissions of the last 365 days, per journal."),
            (WF_TURNAROUND, "Median time from review invitation to review submitted, reviews of the last 365 days, per journal."),
            (WF_INVITATIONS, "Review invitations accepted / answered, invitations of the last 365 days, per journal."),
        ] {
            m.describe(name, help, Kind::Gauge);
        }
        m.describe(
            BACKUPS,
            "Scheduled backups by outcome (ok, error).",
            Kind::Counter,
        );
        m.describe(
            BACKUP_LAST_SUCCESS,
            "Unix time of the last scheduled backup that succeeded.",
            Kind::Gauge,
        );
        m.describe(
            FIGURE_PAGES,
            "Pages of submission files seen by the figure checks' models.",
            Kind::Counter,
        );
        m.set(BUILD_INFO, &[("version", env!("CARGO_PKG_VERSION"))], 1.0);
        m.set(PROCESS_START, &[], crate::system::unix_now() as f64);
        m
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Family>> {
        // A panic while holding the lock leaves plain numbers behind: still usable.
        self.families.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn describe(&self, name: &'static str, help: &'static str, kind: Kind) {
        self.lock().entry(name).or_insert(Family {
            help,
            kind,
            series: BTreeMap::new(),
        });
    }

    /// One agent run: counted by outcome, its duration observed, its time kept.
    pub fn agent_run(&self, agent: &str, outcome: &str, seconds: f64, at: i64) {
        use names::*;
        self.inc(AGENT_RUNS, &[("agent", agent), ("outcome", outcome)], 1.0);
        self.observe(AGENT_DURATION, &[("agent", agent)], seconds);
        self.set(AGENT_LAST_RUN, &[("agent", agent)], at as f64);
    }

    pub fn inc(&self, name: &str, l: &[(&str, &str)], by: f64) {
        let mut f = self.lock();
        if let Some(fam) = f.get_mut(name) {
            let s = fam.series.entry(labels(l)).or_insert(Series::Value(0.0));
            if let Series::Value(v) = s {
                *v += by;
            }
        } else {
            debug_assert!(false, "metric {name} not described");
        }
    }

    /// Drops one series (a gauge that has no value now).
    pub fn remove(&self, name: &str, l: &[(&str, &str)]) {
        if let Some(fam) = self.lock().get_mut(name) {
            fam.series.remove(&labels(l));
        }
    }

    pub fn set(&self, name: &str, l: &[(&str, &str)], value: f64) {
        let mut f = self.lock();
        if let Some(fam) = f.get_mut(name) {
            fam.series.insert(labels(l), Series::Value(value));
        } else {
            debug_assert!(false, "metric {name} not described");
        }
    }

    pub fn observe(&self, name: &str, l: &[(&str, &str)], value: f64) {
        let mut f = self.lock();
        let Some(fam) = f.get_mut(name) else {
            debug_assert!(false, "metric {name} not described");
            return;
        };
        let Kind::Histogram(buckets) = fam.kind else {
            return;
        };
        let s = fam.series.entry(labels(l)).or_insert(Series::Hist {
            counts: vec![0; buckets.len()],
            sum: 0.0,
            count: 0,
        });
        if let Series::Hist { counts, sum, count } = s {
            for (i, b) in buckets.iter().enumerate() {
                if value <= *b {
                    counts[i] += 1;
                }
            }
            *sum += value;
            *count += 1;
        }
    }

    /// Current value of a counter/gauge series (summed over label sets when `l` is None).
    pub fn value(&self, name: &str, l: Option<&[(&str, &str)]>) -> f64 {
        let f = self.lock();
        let Some(fam) = f.get(name) else { return 0.0 };
        let want = l.map(labels);
        fam.series
            .iter()
            .filter(|(k, _)| want.as_ref().is_none_or(|w| w == *k))
            .map(|(_, s)| match s {
                Series::Value(v) => *v,
                Series::Hist { count, .. } => *count as f64,
            })
            .sum()
    }

    /// The Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let f = self.lock();
        let mut out = String::new();
        for (name, fam) in f.iter() {
            let kind = match fam.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram(_) => "histogram",
            };
            let _ = writeln!(out, "# HELP {name} {}", escape_help(fam.help));
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (l, s) in &fam.series {
                match (s, fam.kind) {
                    (Series::Value(v), _) => {
                        let _ = writeln!(out, "{name}{} {}", fmt_labels(l, None), fmt_value(*v));
                    }
                    (Series::Hist { counts, sum, count }, Kind::Histogram(buckets)) => {
                        for (b, c) in buckets.iter().zip(counts) {
                            let le = fmt_value(*b);
                            let _ = writeln!(out, "{name}_bucket{} {c}", fmt_labels(l, Some(&le)));
                        }
                        let _ =
                            writeln!(out, "{name}_bucket{} {count}", fmt_labels(l, Some("+Inf")));
                        let _ =
                            writeln!(out, "{name}_sum{} {}", fmt_labels(l, None), fmt_value(*sum));
                        let _ = writeln!(out, "{name}_count{} {count}", fmt_labels(l, None));
                    }
                    _ => {}
                }
            }
        }
        out
    }

    /// Counter and gauge values to keep as history: label sets are summed per
    /// name, except `stage` series which are kept per stage (`name:stage`).
    pub fn history_snapshot(&self) -> Vec<(String, f64)> {
        let f = self.lock();
        let mut out: BTreeMap<String, f64> = BTreeMap::new();
        for (name, fam) in f.iter() {
            if matches!(fam.kind, Kind::Histogram(_)) || *name == names::BUILD_INFO {
                continue;
            }
            for (l, s) in &fam.series {
                if let Series::Value(v) = s {
                    *out.entry(name.to_string()).or_insert(0.0) += v;
                    if let Some((_, stage)) = l.iter().find(|(k, _)| k == "stage") {
                        *out.entry(format!("{name}:{stage}")).or_insert(0.0) += v;
                    }
                }
            }
        }
        out.into_iter().collect()
    }
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn fmt_labels(l: &Labels, le: Option<&str>) -> String {
    if l.is_empty() && le.is_none() {
        return String::new();
    }
    let mut parts: Vec<String> = l
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    format!("{{{}}}", parts.join(","))
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_histograms() {
        let m = Metrics::new();
        m.inc(
            names::HTTP_REQUESTS,
            &[("route", "/health"), ("status", "200")],
            1.0,
        );
        m.inc(
            names::HTTP_REQUESTS,
            &[("status", "200"), ("route", "/health")],
            1.0,
        );
        m.observe(names::HTTP_DURATION, &[("route", "/health")], 0.003);
        m.set(names::PENDING, &[("stage", "review")], 4.0);
        let text = m.render();
        assert!(
            text.contains("ojscog_http_requests_total{route=\"/health\",status=\"200\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "ojscog_http_request_duration_seconds_bucket{route=\"/health\",le=\"0.005\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "ojscog_http_request_duration_seconds_bucket{route=\"/health\",le=\"0.001\"} 0"
            ),
            "{text}"
        );
        assert!(
            text.contains("ojscog_http_request_duration_seconds_count{route=\"/health\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE ojscog_submissions_pending gauge"),
            "{text}"
        );
        let hist = m.history_snapshot();
        assert!(hist.contains(&("ojscog_submissions_pending:review".to_string(), 4.0)));
        assert!(hist.contains(&("ojscog_http_requests_total".to_string(), 2.0)));
        assert_eq!(m.value(names::HTTP_REQUESTS, None), 2.0);
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.inc(
            names::HTTP_REQUESTS,
            &[("route", "a\"b\\c\nd"), ("status", "404")],
            1.0,
        );
        assert!(m.render().contains(r#"route="a\"b\\c\nd""#));
    }
}
