//! The editor-in-chief's year on the status page: per journal, the last 365 days' submissions received, decisions by
//! kind (with a bar of their mix), acceptance rate, median days to a first decision, median review turnaround and how
//! many invitations reviewers accepted — the same figures `/metrics` exports (`store::workflow`), read from the mirror.

use super::format::escape;
use crate::store::{JournalWorkflow, Store};
use std::fmt::Write as _;

/// Days, one decimal under ten ("3.5 days", "41 days"); "–" when there is nothing to take a median of.
fn days(seconds: Option<f64>) -> String {
    match seconds {
        Some(s) if s / 86_400.0 < 10.0 => format!("{:.1} days", s / 86_400.0),
        Some(s) => format!("{:.0} days", s / 86_400.0),
        None => "–".into(),
    }
}

fn ratio(r: Option<f64>) -> String {
    r.map_or("–".into(), crate::human::percent)
}

/// The decisions' mix as one bar, each kind a segment with its count in words for screen readers.
fn decision_bar(h: &mut String, w: &JournalWorkflow) {
    let total: u64 = w.decisions.values().sum();
    if total == 0 {
        h.push_str(r#"<span class="muted">no decisions</span>"#);
        return;
    }
    let words: Vec<String> = w
        .decisions
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {}", k.replace('_', " ")))
        .collect();
    let _ = write!(
        h,
        r#"<span class="mix" role="img" aria-label="{label}">"#,
        label = escape(&words.join(", "))
    );
    for (kind, n) in w.decisions.iter().filter(|(_, n)| **n > 0) {
        let _ = write!(
            h,
            r#"<span class="seg {kind}" style="width:{pct:.1}%" title="{n} {name}"></span>"#,
            pct = *n as f64 * 100.0 / total as f64,
            name = escape(&kind.replace('_', " "))
        );
    }
    let _ = write!(
        h,
        r#"</span><span class="small muted">{}</span>"#,
        escape(&words.join(" · "))
    );
}

/// The card; nothing when the mirror has no journal yet.
pub(super) fn workflow_card(h: &mut String, store: Option<&Store>, now: i64) {
    let Some(rows) = store.and_then(|s| s.workflow(now).ok()) else {
        return;
    };
    if rows.is_empty() {
        return;
    }
    h.push_str(r#"<section class="card" id="workflow"><h2>The last 12 months</h2><table class="list" tabindex="0" aria-label="The last 12 months, per journal"><thead><tr><th>Journal</th><th>Received</th><th>Decisions</th><th>Acceptance</th><th>To first decision (median)</th><th>Review turnaround (median)</th><th>Invitations accepted</th></tr></thead><tbody>"#);
    for w in &rows {
        let _ = write!(
            h,
            r#"<tr data-journal="{j}"><td>{j}</td><td class="num" data-field="received">{received}</td><td data-field="decisions">"#,
            j = escape(&w.journal),
            received = w.received
        );
        decision_bar(h, w);
        let _ = write!(
            h,
            r#"</td><td class="num" data-field="acceptance">{a}</td><td class="num" data-field="first-decision">{f}</td><td class="num" data-field="turnaround">{t}</td><td class="num" data-field="invitations">{i}</td></tr>"#,
            a = ratio(w.acceptance_ratio),
            f = days(w.first_decision_median_seconds),
            t = days(w.review_turnaround_median_seconds),
            i = ratio(w.invitation_acceptance_ratio),
        );
    }
    h.push_str(r#"</tbody></table><p class="muted small">Acceptance: accepted of accepted and declined. Decisions made by editors in OJS; reviewers' recommendations are not decisions. Also in <code>/metrics</code> as <code>ojscog_workflow_*</code>.</p></section>"#);
    h.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_read_like_a_person_would_say_them() {
        assert_eq!(days(Some(3.5 * 86_400.0)), "3.5 days");
        assert_eq!(days(Some(41.2 * 86_400.0)), "41 days");
        assert_eq!(days(None), "–");
    }

    #[test]
    fn the_decision_bar_has_a_segment_per_kind_and_says_the_counts_in_words() {
        let mut w = JournalWorkflow {
            journal: "demo".into(),
            ..Default::default()
        };
        w.decisions.insert("accept", 3);
        w.decisions.insert("decline", 1);
        w.decisions.insert("revisions", 0);
        let mut h = String::new();
        decision_bar(&mut h, &w);
        assert!(h.contains(r#"aria-label="3 accept, 1 decline""#), "{h}");
        assert!(
            h.contains(r#"class="seg accept" style="width:75.0%""#),
            "{h}"
        );
        assert!(!h.contains("seg revisions"), "{h}");
        let mut none = String::new();
        decision_bar(&mut none, &JournalWorkflow::default());
        assert!(none.contains("no decisions"));
    }
}
