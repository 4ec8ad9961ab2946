//! `/reviewers` (workloads, sortable by load, paged) and `/reviewers/{id}`
//! (one reviewer's load, interests and recent reviews). Both say when the
//! data was last synced from OJS.

use super::super::auth::Role;
use super::super::format::{self, escape};
use super::super::Reply;
use super::shell::{self, Nav, Shell};
use super::submission::review_row;
use super::{paging, Page};
use crate::context::AppContext;
use crate::store::{ReviewerLoad, ReviewerSort};
use std::fmt::Write as _;

/// Reviewers per list page.
pub(crate) const PER_PAGE: usize = 50;
/// Reviews listed on a reviewer's page.
const RECENT: usize = 20;

/// When the data was last synced, for the page's reader.
fn synced_note(ctx: &AppContext, now: i64) -> String {
    let sync = ctx.sync.status();
    match sync.last_success_at {
        Some(t) => format!(
            r#"<p class="muted small" id="synced-at" data-value="{t}">Data from OJS as of {} ({}).</p>"#,
            escape(&format::utc(t)),
            escape(&format::ago(now - t))
        ),
        None if sync.source == crate::sync::Source::Demo => {
            r#"<p class="muted small" id="synced-at">Demo data: nothing is synced in demo mode.</p>"#
                .to_string()
        }
        None => r#"<p class="muted small" id="synced-at">Not synced from OJS yet.</p>"#.to_string(),
    }
}

/// `GET /reviewers?sort=load|free|name&page=N`
pub(crate) fn list(ctx: &AppContext, role: Role, query: &str) -> Result<Reply, Page> {
    let p = super::super::params(query, &["sort", "page"]).map_err(Page::from_reply)?;
    let sort_key = p
        .iter()
        .find(|(k, _)| k == "sort")
        .map(|(_, v)| v.as_str())
        .unwrap_or("load");
    let sort = match sort_key {
        "load" => ReviewerSort::Load,
        "free" => ReviewerSort::LoadAscending,
        "name" => ReviewerSort::Name,
        _ => {
            return Err(Page::bad_request(
                "Reviewers can be sorted by load, free or name.".into(),
            ))
        }
    };
    let page = paging::page_number(&p)?;
    let now = crate::system::unix_now();
    let store = super::open(ctx)?;
    let (rows, total) = store
        .reviewer_loads(
            &format::ojs_datetime(now),
            sort,
            PER_PAGE,
            (page - 1) * PER_PAGE,
        )
        .map_err(Page::store)?;
    let journal = shell::journal_name(ctx);
    let mut h = String::with_capacity(32 * 1024);
    shell::open(
        &mut h,
        &Shell::new("Reviewers", &journal, role, Nav::Reviewers, now),
    );
    h.push_str("<h1>Reviewers</h1>");
    h.push_str(&synced_note(ctx, now));
    h.push_str(r#"<nav class="filters" aria-label="Sort">"#);
    for (key, label) in [
        ("load", "Busiest first"),
        ("free", "Most room first"),
        ("name", "By name"),
    ] {
        let _ = write!(
            h,
            r#"<a href="/reviewers?sort={key}"{aria}>{label}</a>"#,
            aria = if key == sort_key {
                r#" aria-current="true""#
            } else {
                ""
            }
        );
    }
    let _ = write!(
        h,
        r#"</nav><section class="card"><p class="muted" id="reviewers-total" data-value="{total}">{} reviewers</p>"#,
        format::count(total as i64)
    );
    h.push_str(r#"<table class="list" id="reviewers"><thead><tr><th scope="col">Reviewer</th><th scope="col" class="num">Open</th><th scope="col" class="num">Overdue</th><th scope="col" class="num">Done (12 months)</th><th scope="col" class="num">Avg. days</th><th scope="col" class="num">Declines</th><th scope="col">Interests</th></tr></thead><tbody>"#);
    for r in &rows {
        load_row(&mut h, r);
    }
    h.push_str("</tbody></table>");
    paging::links(
        &mut h,
        &format!("/reviewers?sort={sort_key}&"),
        page,
        total,
        PER_PAGE,
    );
    h.push_str("</section>");
    shell::close(&mut h, now);
    Ok(shell::reply(200, h))
}

fn decline_rate(r: &ReviewerLoad) -> String {
    if r.invited == 0 {
        "–".into()
    } else {
        format!("{:.0} %", r.declined as f64 * 100.0 / r.invited as f64)
    }
}

fn load_row(h: &mut String, r: &ReviewerLoad) {
    let interests: Vec<&str> = r.interests.iter().take(4).map(String::as_str).collect();
    let _ = write!(
        h,
        r#"<tr data-id="{id}"><td><a href="/reviewers/{id}">{name}</a><div class="authors">{aff}</div></td><td class="num open" data-value="{open}">{open}</td><td class="num{late}" data-value="{overdue}">{overdue}</td><td class="num">{done}</td><td class="num">{avg}</td><td class="num">{dr}</td><td class="small">{interests}{more}</td></tr>"#,
        id = r.id,
        name = escape(&r.name),
        aff = escape(&r.affiliation),
        open = r.open,
        overdue = r.overdue,
        late = if r.overdue > 0 { " late" } else { "" },
        done = r.completed_12_months,
        avg = r
            .avg_days_to_complete
            .map(|d| format!("{d:.0}"))
            .unwrap_or_else(|| "–".into()),
        dr = decline_rate(r),
        interests = escape(&interests.join(", ")),
        more = if r.interests.len() > 4 { " …" } else { "" },
    );
}

/// `GET /reviewers/{id}`
pub(crate) fn show(ctx: &AppContext, role: Role, id: &str) -> Result<Reply, Page> {
    let id = id
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Page::bad_request("A reviewer id is a positive whole number.".into()))?;
    let now = crate::system::unix_now();
    let store = super::open(ctx)?;
    let today = format::ojs_datetime(now);
    let Some(r) = store.reviewer_load(id, &today).map_err(Page::store)? else {
        return Err(Page::not_found(format!(
            "There is no reviewer with id {id} (or they are not a reviewer in this journal)."
        )));
    };
    let recent = store.reviews_of(id, &today, RECENT).map_err(Page::store)?;
    let journal = shell::journal_name(ctx);
    let mut h = String::with_capacity(24 * 1024);
    shell::open(
        &mut h,
        &Shell::new(&r.name, &journal, role, Nav::Reviewers, now),
    );
    let _ = write!(
        h,
        r#"<p class="crumbs"><a href="/reviewers">Reviewers</a> › {name}</p><h1 id="reviewer-name">{name}</h1><p class="meta">{aff}{email}{disabled}</p>"#,
        name = escape(&r.name),
        aff = escape(&r.affiliation),
        email = if r.email.is_empty() {
            String::new()
        } else {
            format!(" · {}", escape(&r.email))
        },
        disabled = if r.disabled {
            r#" · <span class="pill bad">disabled in OJS</span>"#
        } else {
            ""
        },
    );
    h.push_str(&synced_note(ctx, now));
    h.push_str(r#"<section class="tiles">"#);
    for (tid, label, value, tone) in [
        (
            "reviewer-open",
            "Open reviews",
            r.open.to_string(),
            "neutral",
        ),
        (
            "reviewer-overdue",
            "Overdue",
            r.overdue.to_string(),
            if r.overdue > 0 { "bad" } else { "good" },
        ),
        (
            "reviewer-done",
            "Completed, last 12 months",
            r.completed_12_months.to_string(),
            "neutral",
        ),
        (
            "reviewer-days",
            "Average days to complete",
            r.avg_days_to_complete
                .map(|d| format!("{d:.0}"))
                .unwrap_or_else(|| "–".into()),
            "neutral",
        ),
    ] {
        let _ = write!(
            h,
            r#"<div class="tile {tone}"><div class="tile-label">{label}</div><div class="tile-value" id="{tid}" data-value="{v}">{v}</div></div>"#,
            v = escape(&value)
        );
    }
    let _ = write!(
        h,
        r#"</section><section class="card"><h2>Interests</h2><p class="chips" id="interests">{}</p><p class="muted small">Declined {} of {} invitations ({}).</p></section>"#,
        if r.interests.is_empty() {
            r#"<span class="muted">None recorded in OJS.</span>"#.to_string()
        } else {
            r.interests
                .iter()
                .map(|i| format!(r#"<span class="chip">{}</span>"#, escape(i)))
                .collect::<Vec<_>>()
                .join(" ")
        },
        r.declined,
        r.invited,
        decline_rate(&r),
    );
    h.push_str(r#"<section class="card" id="recent-reviews"><h2>Recent reviews</h2>"#);
    if recent.is_empty() {
        h.push_str(r#"<p class="muted">No reviews yet.</p>"#);
    } else {
        h.push_str(r#"<table class="list"><thead><tr><th scope="col">Submission</th><th scope="col">State</th><th scope="col">Requested</th><th scope="col">Due</th><th scope="col">Completed</th><th scope="col">Recommendation</th></tr></thead><tbody>"#);
        for a in &recent {
            let which = format!(
                r#"<a href="/submissions/{sid}"><span class="sid">#{sid}</span> {}</a>"#,
                escape(&a.title),
                sid = a.submission_id
            );
            review_row(
                &mut h,
                &which,
                &a.state,
                (&a.date_assigned, &a.date_due, &a.date_completed),
                a.recommendation.as_deref(),
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</section>");
    shell::close(&mut h, now);
    Ok(shell::reply(200, h))
}
