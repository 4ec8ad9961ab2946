//! The LAN pages, server-rendered HTML: `GET /`, the status page a managing
//! editor glances at (reloading itself every 30 s when asked: `/?auto=1`), and the editors' pages
//! where the work happens: submissions ([`submission`]), reviewers
//! ([`reviewers`]), search ([`search`]) and their form actions ([`actions`]).
//! Self-contained (inline CSS and SVG, no scripts: [`shell::CSP`]).
//!
//! Elements that tests and scripts read carry stable ids and `data-value`
//! attributes (`pending-total`, `stage-review`, `reviews-overdue`, …).

pub(crate) mod actions;
mod device;
mod figures;
mod paging;
pub(crate) mod reviewers;
pub(crate) mod search;
pub(crate) mod shell;
pub(crate) mod submission;
mod updates;
mod voice;
mod workflow;
use super::auth::Role;
use super::chart::{self, Chart, Unit};
use super::format::{self, escape};
use super::Reply;
use crate::context::AppContext;
use crate::health;
use crate::metrics::names;
use crate::store::{QueueSummary, Store};
use crate::sync::{Source, SyncState, SyncStatus};
use crate::system::{unix_now, DeviceStatus};
use device::{appliance_card, backup_card, device_card};
use shell::{Nav, Shell};
use std::fmt::Write as _;

const REFRESH_SECONDS: u32 = 30;

/// A page that could not be made: answered as an error page with a way back.
#[derive(Debug)]
pub(crate) struct Page {
    pub status: u16,
    pub heading: String,
    pub message: String,
    /// Where "back" goes (`/` when None).
    pub back: Option<String>,
}

impl Page {
    pub(crate) fn not_found(message: String) -> Page {
        Page {
            status: 404,
            heading: "Not found".into(),
            message,
            back: None,
        }
    }

    pub(crate) fn bad_request(message: String) -> Page {
        Page {
            status: 400,
            heading: "That address is not right".into(),
            message,
            back: None,
        }
    }

    pub(crate) fn store(e: crate::store::StoreError) -> Page {
        Page {
            status: 503,
            heading: "The local store cannot be read".into(),
            message: e.to_string(),
            back: None,
        }
    }

    /// An API-style error reply (`{"error": …}`) as a page.
    pub(crate) fn from_reply(r: Reply) -> Page {
        let message = r
            .error_message()
            .unwrap_or_else(|| "Something went wrong.".into());
        let heading = match r.status {
            400 => "That address is not right",
            401 => "Sign in first",
            403 => "Not allowed",
            404 => "Not found",
            405 => "Not allowed here",
            413 | 414 | 431 => "Too large",
            429 => "Too many attempts",
            503 => "Busy or unavailable",
            _ => "Something went wrong",
        };
        Page {
            status: r.status,
            heading: heading.into(),
            message,
            back: None,
        }
    }

    /// The error page (headers such as `Retry-After` are the caller's).
    pub(crate) fn render(self, ctx: &AppContext, role: Role) -> Reply {
        let back = self.back.as_deref().unwrap_or("/");
        let label = if back == "/" {
            "Back to the status page"
        } else {
            "Go back"
        };
        shell::error_page(
            ctx,
            role,
            self.status,
            &self.heading,
            &self.message,
            (back, label),
        )
    }
}

/// A read-only store for a page.
fn open(ctx: &AppContext) -> Result<Store, Page> {
    ctx.open_store().map_err(Page::store)
}
const WINDOW: i64 = 24 * 3600;

/// Whether `/` reloads itself (`/?auto=1`): the editor's choice, for a wall
/// display. Off by default: a page that reloads under a reader who did not ask
/// for it fails WCAG 2.2.1.
pub(crate) fn auto_refresh(query: &str) -> bool {
    query.split('&').any(|kv| kv == "auto=1")
}

pub(crate) fn render(
    ctx: &AppContext,
    role: Role,
    auto: bool,
    desk: Option<&crate::voice::Desk>,
) -> Reply {
    let now = unix_now();
    let device = ctx.read_device();
    let sync = ctx.sync.status();
    let store = ctx.open_store();
    let health = health::judge(store.as_ref(), &sync, &device, now);
    let (queue, journal) = match &store {
        Ok(s) => (
            s.queue_summary().map_err(|e| e.to_string()),
            s.journal_names()
                .ok()
                .and_then(|n| n.into_iter().next())
                .filter(|n| !n.trim().is_empty()),
        ),
        Err(e) => (Err(e.to_string()), None),
    };
    let journal = journal.unwrap_or_else(|| "Editorial office".into());

    let mut h = String::with_capacity(48 * 1024);
    shell::open(
        &mut h,
        &Shell {
            title: &journal,
            journal: &journal,
            role,
            nav: Nav::Status,
            refresh: auto.then_some(REFRESH_SECONDS),
            query: "",
            overall: Some(health.status),
            now,
        },
    );
    h.push_str(r#"<h1 class="sr-only">Status of the editorial office</h1>"#);
    if auto {
        let _ = write!(
            h,
            r#"<p class="refresh-note" id="auto-refresh" data-value="on">This page reloads itself every {REFRESH_SECONDS} s. <a href="/">Stop reloading</a></p>"#
        );
    } else {
        let _ = write!(
            h,
            r#"<p class="refresh-note" id="auto-refresh" data-value="off"><a href="/?auto=1">Reload this page every {REFRESH_SECONDS} s</a> (for a wall display)</p>"#
        );
    }
    if sync.source == Source::Demo {
        h.push_str(
            r#"<div class="demo" id="demo-banner"><strong>Demo mode.</strong> This box shows a built-in example journal, not your OJS data. Configure <code>ojs.url</code> and restart without <code>--demo</code> to see your journal.</div>
"#,
        );
    }
    if !health.problems.is_empty() {
        h.push_str(r#"<section class="alerts" id="problems"><h2>Needs attention</h2><ul>"#);
        for p in &health.problems {
            let _ = write!(h, "<li>{}</li>", escape(p));
        }
        h.push_str("</ul></section>\n");
    }
    tiles(&mut h, queue.as_ref().ok(), &sync, now);
    h.push_str("<div class=\"grid\">\n");
    queue_card(&mut h, &queue, now);
    h.push_str("<div class=\"side\">\n");
    sync_card(&mut h, &sync, ctx, role, now);
    device_card(&mut h, &device);
    appliance_card(&mut h, ctx);
    backup_card(&mut h, ctx, now);
    updates::update_card(&mut h, ctx, now);
    voice::voice_card(&mut h, desk, role);
    h.push_str("</div>\n</div>\n");
    workflow::workflow_card(&mut h, store.as_ref().ok(), now);
    charts_card(&mut h, store.as_ref().ok(), &device, ctx, now);
    shell::close(&mut h, now);
    let status = if store.is_err() { 503 } else { 200 };
    shell::reply(status, h)
}

fn tile(h: &mut String, id: &str, label: &str, value: &str, data: &str, note: &str, tone: &str) {
    // Words ("Demo data") are set smaller than numbers.
    let words = if value.chars().any(|c| c.is_alphabetic()) {
        " words"
    } else {
        ""
    };
    let _ = write!(
        h,
        r#"<div class="tile {tone}"><div class="tile-label">{label}</div><div class="tile-value{words}" id="{id}" data-value="{data}">{value}</div><div class="tile-note">{note}</div></div>"#,
        label = escape(label),
        value = escape(value),
        data = escape(data),
        note = escape(note),
    );
}

fn tiles(h: &mut String, q: Option<&QueueSummary>, sync: &SyncStatus, now: i64) {
    h.push_str("<section class=\"tiles\">");
    match q {
        Some(q) => {
            tile(
                h,
                "pending-total",
                "Submissions in the workflow",
                &format::count(q.pending_total),
                &q.pending_total.to_string(),
                "submitted and not yet decided",
                "neutral",
            );
            tile(
                h,
                "reviews-overdue",
                "Reviews overdue",
                &format::count(q.reviews_overdue),
                &q.reviews_overdue.to_string(),
                &format!("of {} open review assignments", q.reviews_active),
                if q.reviews_overdue > 0 { "bad" } else { "good" },
            );
            tile(
                h,
                "reviews-active",
                "Open reviews",
                &format::count(q.reviews_active),
                &q.reviews_active.to_string(),
                &format!("{} reviewers on file", q.reviewers),
                "neutral",
            );
        }
        None => {
            for (id, label) in [
                ("pending-total", "Submissions in the workflow"),
                ("reviews-overdue", "Reviews overdue"),
                ("reviews-active", "Open reviews"),
            ] {
                tile(h, id, label, "?", "", "the store cannot be read", "bad");
            }
        }
    }
    let (value, note, tone) = sync_headline(sync, now);
    tile(h, "sync-age", "OJS data", &value, "", &note, tone);
    h.push_str("</section>\n");
}

/// (tile value, note, tone) for the freshness of the data.
fn sync_headline(sync: &SyncStatus, now: i64) -> (String, String, &'static str) {
    let next = || {
        sync.next_attempt_at
            .map(|t| format!("next sync {}", format::until(t - now)))
            .unwrap_or_else(|| "first sync starting".into())
    };
    let age = |s: i64| {
        if s < 45 {
            "Just synced".to_string()
        } else {
            format!("{} old", format::span(s))
        }
    };
    let staleness = sync.staleness_seconds(now).unwrap_or(0);
    match sync.state(now) {
        SyncState::Demo => (
            "Demo data".into(),
            "no OJS is synced in demo mode".into(),
            "neutral",
        ),
        SyncState::NotConfigured => (
            "Not set up".into(),
            "no OJS database is configured".into(),
            "warn",
        ),
        SyncState::NeverSynced => ("Never synced".into(), next(), "bad"),
        SyncState::Stale => (age(staleness), next(), "bad"),
        SyncState::Failing => (age(staleness), next(), "warn"),
        SyncState::UpToDate => (age(staleness), next(), "good"),
    }
}

fn stage_label(stage: &str) -> String {
    match stage {
        "submission" => "Submission".into(),
        "internal_review" => "Internal review".into(),
        "review" => "Review".into(),
        "copyediting" => "Copyediting".into(),
        "production" => "Production".into(),
        other => other.replace('_', " "),
    }
}

fn queue_card(h: &mut String, queue: &Result<QueueSummary, String>, now: i64) {
    h.push_str(r#"<section class="card" id="queue"><h2>Editorial queue</h2>"#);
    let q = match queue {
        Ok(q) => q,
        Err(e) => {
            let _ = write!(
                h,
                r#"<p class="error">The local store cannot be read: {}</p></section>"#,
                escape(e)
            );
            return;
        }
    };
    h.push_str(r#"<h3>Waiting per stage</h3><div class="stages">"#);
    let max = q
        .pending_by_stage
        .iter()
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0)
        .max(1);
    for (stage, n) in &q.pending_by_stage {
        // A short stub for small non-zero counts, nothing for zero.
        let width = if *n > 0 {
            (*n as f64 / max as f64 * 100.0).round().max(2.0)
        } else {
            0.0
        };
        let _ = write!(
            h,
            r#"<div class="stage"><span class="stage-name">{label}</span><span class="bar"><span class="fill" style="width:{width}%"></span></span><span class="stage-count" id="stage-{id}" data-value="{n}">{count}</span></div>"#,
            label = escape(&stage_label(stage)),
            id = escape(stage),
            count = format::count(*n),
        );
    }
    let _ = write!(
        h,
        r#"</div><p class="totals"><span id="published" data-value="{p}">{pc} published</span> · <span id="declined" data-value="{d}">{dc} declined</span> · <span id="incomplete" data-value="{i}">{ic} unfinished {drafts}</span> <span class="muted">(not counted above)</span></p>"#,
        p = q.published,
        pc = format::count(q.published),
        d = q.declined,
        dc = format::count(q.declined),
        i = q.incomplete_submissions,
        ic = format::count(q.incomplete_submissions),
        drafts = if q.incomplete_submissions == 1 {
            "draft"
        } else {
            "drafts"
        },
    );

    h.push_str(r#"<h3>Waiting longest</h3>"#);
    if q.oldest_pending.is_empty() {
        h.push_str(r#"<p class="muted">Nothing is waiting.</p>"#);
    } else {
        h.push_str(
            r#"<table class="list" id="oldest-pending"><thead><tr><th>Submission</th><th>Stage</th><th>Submitted</th><th>Last activity</th></tr></thead><tbody>"#,
        );
        for s in &q.oldest_pending {
            let submitted = s.date_submitted.as_deref().and_then(format::parse_datetime);
            let activity = s
                .date_last_activity
                .as_deref()
                .and_then(format::parse_datetime);
            let authors = if s.authors.is_empty() {
                String::new()
            } else {
                format!(
                    r#"<div class="authors">{}</div>"#,
                    escape(&s.authors.join(", "))
                )
            };
            let title = if s.title.trim().is_empty() {
                "(untitled)"
            } else {
                s.title.as_str()
            };
            let _ = write!(
                h,
                r#"<tr data-id="{id}"><td><div class="title"><a href="/submissions/{id}"><span class="sid">#{id}</span> {title}</a></div>{authors}</td><td><span class="badge">{stage}</span></td><td title="{st}" class="when">{sa}</td><td title="{at}" class="when {stale}">{aa}</td></tr>"#,
                id = s.id,
                title = escape(title),
                stage = escape(&stage_label(&s.stage)),
                st = escape(s.date_submitted.as_deref().unwrap_or("")),
                sa = submitted
                    .map(|t| format::ago(now - t))
                    .unwrap_or_else(|| "–".into()),
                at = escape(s.date_last_activity.as_deref().unwrap_or("")),
                stale = match activity {
                    Some(t) if now - t > 30 * 86_400 => "late",
                    _ => "",
                },
                aa = activity
                    .map(|t| format::ago(now - t))
                    .unwrap_or_else(|| "–".into()),
            );
        }
        h.push_str("</tbody></table>");
    }

    h.push_str(r#"<h3>Reviewers with most open reviews</h3>"#);
    if q.busiest_reviewers.is_empty() {
        h.push_str(r#"<p class="muted">No reviewer has an open review.</p>"#);
    } else {
        h.push_str(r#"<table class="list" id="busiest-reviewers"><tbody>"#);
        for (id, name, n) in &q.busiest_reviewers {
            let _ = write!(
                h,
                r#"<tr><td><a href="/reviewers/{id}">{name}</a></td><td class="num" data-value="{n}">{n} open</td></tr>"#,
                name = escape(name),
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</section>\n");
}

fn row(h: &mut String, id: &str, label: &str, value_html: &str) {
    let _ = write!(
        h,
        r#"<div class="row"><dt>{label}</dt><dd id="{id}">{value_html}</dd></div>"#,
        label = escape(label),
    );
}

/// A row whose machine-readable value sits in `data-value` next to the id.
fn row_with_value(h: &mut String, id: &str, label: &str, data: &str, value_html: &str) {
    let _ = write!(
        h,
        r#"<div class="row"><dt>{label}</dt><dd id="{id}" data-value="{data}">{value_html}</dd></div>"#,
        label = escape(label),
        data = escape(data),
    );
}

fn sync_card(h: &mut String, sync: &SyncStatus, ctx: &AppContext, role: Role, now: i64) {
    h.push_str(r#"<section class="card" id="sync"><h2>OJS sync</h2><dl>"#);
    let state = sync.state(now);
    let (source_key, source) = match sync.source {
        Source::Demo => ("demo", "Built-in demo journal"),
        _ if sync.configured || sync.source == Source::Ojs => ("ojs", "OJS database"),
        _ => ("none", "None configured"),
    };
    row_with_value(h, "sync-source", "Source", source_key, source);
    let (state, cls) = match state {
        SyncState::Demo => ("Demo", "neutral"),
        SyncState::NotConfigured => ("Not configured", "warn"),
        _ if sync.running => ("Syncing now", "neutral"),
        SyncState::NeverSynced => ("Never synced", "bad"),
        SyncState::Stale => ("Stale", "bad"),
        SyncState::Failing => ("Last attempt failed", "warn"),
        SyncState::UpToDate => ("Up to date", "good"),
    };
    row_with_value(
        h,
        "sync-state",
        "State",
        cls,
        &format!(r#"<span class="pill {cls}">{state}</span>"#),
    );
    match sync.last_success_at {
        Some(t) => row_with_value(
            h,
            "sync-last-success",
            "Last success",
            &t.to_string(),
            &format!(
                r#"<span title="{}">{}</span>"#,
                escape(&format::utc(t)),
                escape(&format::ago(now - t))
            ),
        ),
        None => row_with_value(h, "sync-last-success", "Last success", "", "never"),
    }
    let ix = ctx.indexer.progress();
    let fallback = ix.model_id.as_deref() == Some(crate::inference::HashingEmbedder::MODEL_ID);
    let index_note = match (&ix.last_error, ix.total) {
        // Reviewer suggestions and search still answer, by exact terms only: say so.
        _ if fallback => {
            r#"<span class="pill warn">no embedding model</span> reviewer suggestions and search \
             use exact terms only; install it with <code>ojscog models install</code> \
             (vectors of the model are kept: nothing is recomputed when it returns)"#
                .to_string()
        }
        (Some(e), _) => format!("{} of {} · {}", ix.done, ix.total, escape(e)),
        (None, 0) => "nothing to index yet".to_string(),
        (None, t) if ix.done >= t => format!("all {t} documents searchable by meaning"),
        (None, t) => format!("embedding in the background: {} of {t}", ix.done),
    };
    row_with_value(
        h,
        "search-index",
        "Search index",
        &ix.done.to_string(),
        &index_note,
    );
    match sync.staleness_seconds(now) {
        Some(s) => row_with_value(
            h,
            "sync-staleness",
            "Data age",
            &s.to_string(),
            &format!(
                r#"{} <span class="muted">(stale after {})</span>"#,
                escape(&format::span(s)),
                escape(&format::span(sync.stale_after_seconds as i64))
            ),
        ),
        None => row_with_value(h, "sync-staleness", "Data age", "", "no data yet"),
    }
    let version = sync
        .ojs_version
        .as_deref()
        .filter(|v| !v.is_empty())
        .map(escape)
        .unwrap_or_else(|| "–".into());
    row(h, "sync-ojs-version", "OJS version", &version);
    let last_error = match &sync.last_error {
        Some(e) => format!(
            r#"<span class="error-text">{}</span>{}"#,
            escape(e),
            sync.last_error_at
                .map(|t| format!(
                    r#" <span class="muted">({})</span>"#,
                    escape(&format::ago(now - t))
                ))
                .unwrap_or_default()
        ),
        None => "none".into(),
    };
    row(h, "sync-last-error", "Last error", &last_error);
    let next = match sync.next_attempt_at {
        Some(t) if sync.configured => format!(
            r#"<span title="{}">{}</span>"#,
            escape(&format::utc(t)),
            escape(&format::until(t - now))
        ),
        _ if sync.configured => "soon".into(),
        _ => "–".into(),
    };
    row(h, "sync-next", "Next attempt", &next);
    if let Some(r) = &sync.last_report {
        row(
            h,
            "sync-last-run",
            "Last run",
            &escape(&format!(
                "{} submissions checked, {} fetched, {} rows changed in {:.1} s",
                r.submissions_seen, r.submissions_fetched, r.rows_changed, r.duration_seconds
            )),
        );
    }
    h.push_str("</dl>");
    if role == Role::Admin && sync.configured {
        h.push_str(r#"<form method="post" action="/sync" class="actions"><button type="submit" class="primary" id="sync-now">Sync now</button></form>"#);
    }
    h.push_str("</section>\n");
}

fn charts_card(
    h: &mut String,
    store: Option<&Store>,
    d: &DeviceStatus,
    ctx: &AppContext,
    now: i64,
) {
    let since = now - WINDOW;
    let mut failed = None;
    let mut samples = |name: &str| -> Vec<(i64, f64)> {
        match store.map(|s| s.samples(name, since)) {
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                failed.get_or_insert(e.to_string());
                Vec::new()
            }
            None => Vec::new(),
        }
    };
    let empty = "collecting data…";
    let charts = [
        Chart {
            id: "chart-pending",
            title: "Submissions in the workflow",
            metric: names::PENDING,
            unit: Unit::Count,
            color: "#2563eb",
            y_max: None,
            points: samples(names::PENDING),
            empty_text: empty,
        },
        Chart {
            id: "chart-overdue",
            title: "Reviews overdue",
            metric: names::REVIEWS_OVERDUE,
            unit: Unit::Count,
            color: "#dc2626",
            y_max: None,
            points: samples(names::REVIEWS_OVERDUE),
            empty_text: empty,
        },
        Chart {
            id: "chart-reviews",
            title: "Open reviews",
            metric: names::REVIEWS_ACTIVE,
            unit: Unit::Count,
            color: "#7c3aed",
            y_max: None,
            points: samples(names::REVIEWS_ACTIVE),
            empty_text: empty,
        },
        Chart {
            id: "chart-cpu",
            title: "CPU usage",
            metric: names::CPU_USAGE,
            unit: Unit::Ratio,
            color: "#0891b2",
            y_max: Some(1.0),
            points: samples(names::CPU_USAGE),
            empty_text: empty,
        },
        Chart {
            id: "chart-memory",
            title: "Memory used",
            metric: names::MEMORY_USED,
            unit: Unit::Bytes,
            color: "#059669",
            y_max: (d.memory_total_bytes > 0).then_some(d.memory_total_bytes as f64),
            points: samples(names::MEMORY_USED),
            empty_text: empty,
        },
        Chart {
            id: "chart-requests",
            title: "Web requests",
            metric: names::HTTP_REQUESTS,
            unit: Unit::PerMinute,
            color: "#d97706",
            y_max: None,
            points: chart::rate_per_minute(&samples(names::HTTP_REQUESTS)),
            empty_text: empty,
        },
    ];
    h.push_str(r#"<section class="card" id="charts"><h2>Last 24 hours</h2>"#);
    if store.is_none() {
        h.push_str(
            r#"<p class="error">The history cannot be read: the local store is unavailable.</p>"#,
        );
    } else if let Some(e) = &failed {
        let _ = write!(
            h,
            r#"<p class="error">Part of the history cannot be read: {}</p>"#,
            escape(e)
        );
    }
    h.push_str(r#"<div class="charts">"#);
    // Samples further apart than this mean the service was off: do not join them.
    let gap = (ctx.config.metrics.sample_interval_secs as i64 * 3).max(300);
    for c in &charts {
        h.push_str(&chart::render(c, since, now, gap));
    }
    h.push_str("</div></section>\n");
}

/// The page's stylesheet (inline: the page loads nothing from elsewhere).
const CSS: &str = include_str!("style.css");
