//! The updates card of the status page: the channel, the last check, what is
//! available, download progress and the last failure.

use super::row;
use crate::context::AppContext;
use crate::web::format::{self, escape};
use std::fmt::Write as _;

pub(super) fn update_card(h: &mut String, ctx: &AppContext, now: i64) {
    let s = ctx.updates.status();
    h.push_str(r#"<section class="card" id="updates"><h2>Updates</h2><dl>"#);
    let channel = if s.channel.is_empty() {
        r#"<span class="muted">none configured (update.channel_url; or <code>ojscog update import DIR</code>)</span>"#.to_string()
    } else {
        escape(&s.channel)
    };
    row(h, "update-channel", "Channel", &channel);
    let state = if s.state.is_empty() {
        "idle"
    } else {
        s.state.as_str()
    };
    let tone = match state {
        "disabled" => "bad",
        "idle" => "good",
        _ => "warn",
    };
    row(
        h,
        "update-state",
        "State",
        &format!(r#"<span class="pill {tone}">{}</span>"#, escape(state)),
    );
    let checked = match s.last_check_at {
        Some(t) => format!(
            "{} ({})",
            escape(&format::ago(now - t)),
            escape(&s.last_check_result)
        ),
        None => r#"<span class="muted">not yet</span>"#.into(),
    };
    row(h, "update-last-check", "Last check", &checked);
    if s.state == "downloading" && s.total_bytes > 0 {
        let pct = s.done_bytes as f64 * 100.0 / s.total_bytes as f64;
        row(
            h,
            "update-progress",
            "Downloading",
            &format!(
                r#"{} <progress max="{}" value="{}"></progress> {pct:.0} % of {}"#,
                escape(&s.current),
                s.total_bytes,
                s.done_bytes,
                escape(&format::bytes(s.total_bytes))
            ),
        );
    }
    if let Some(f) = &s.last_failure {
        let when = s
            .last_failure_at
            .map(|t| format::ago(now - t))
            .unwrap_or_default();
        row(
            h,
            "update-failure",
            "Last failure",
            &format!(
                r#"<span class="bad-text">{}</span> <span class="muted">{}</span>"#,
                escape(f),
                escape(&when)
            ),
        );
    }
    h.push_str("</dl>");
    if !s.available.is_empty() {
        h.push_str(r#"<table id="update-available"><thead><tr><th>Kind</th><th>Name</th><th>Offered</th><th>Installed</th><th></th></tr></thead><tbody>"#);
        for a in &s.available {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&a.kind),
                escape(&a.name),
                escape(&a.version),
                escape(a.installed.as_deref().unwrap_or("-")),
                escape(&a.note)
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</section>\n");
}
