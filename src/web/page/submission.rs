//! `/submissions` (the list, paged) and `/submissions/{id}`: everything an
//! editor needs to decide what to do with a submission: its metadata and
//! review history, suggested reviewers with reasons (excluded ones folded,
//! each conflict named), the screening report, and similar submissions.
//!
//! The page never waits for the LLM: a report is shown when cached, and made
//! by a background job (the screening form) otherwise. Suggestions embed at
//! most the submission's own text (the route runs in the model lane).

use super::super::auth::Role;
use super::super::format::{self, escape};
use super::super::Reply;
use super::shell::{self, Nav, Shell};
use super::{paging, stage_label, Page};
use crate::agents::jobs::JobState;
use crate::agents::matching::MatchResult;
use crate::agents::screening::{Assessment, ScreeningError};
use crate::agents::AgentError;
use crate::context::AppContext;
use crate::store::{decision_name, SubmissionDetail};
use std::fmt::Write as _;

/// Suggestions shown on a submission page.
pub(crate) const SUGGESTIONS: usize = 5;
/// Similar submissions shown.
const SIMILAR: usize = 5;
/// Submissions per list page.
pub(crate) const PER_PAGE: usize = 50;
/// How often a page with a report being made reloads itself.
const JOB_REFRESH_SECONDS: u32 = 5;

/// `GET /submissions?stage=review&page=2`
pub(crate) fn list(ctx: &AppContext, role: Role, query: &str) -> Result<Reply, Page> {
    let p = super::super::params(query, &["stage", "page"]).map_err(Page::from_reply)?;
    let stage_param = p
        .iter()
        .find(|(k, _)| k == "stage")
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty());
    let stage = match stage_param {
        None => None,
        Some(s) => Some(crate::store::parse_stage(s).ok_or_else(|| {
            Page::bad_request(format!(
                "There is no stage called “{}”.",
                super::super::http::truncate(s, 40)
            ))
        })?),
    };
    let page = paging::page_number(&p)?;
    let store = super::open(ctx)?;
    let (rows, total) = store
        .submissions_page(stage, PER_PAGE, (page - 1) * PER_PAGE)
        .map_err(Page::store)?;
    let now = crate::system::unix_now();
    let journal = shell::journal_name(ctx);
    let mut h = String::with_capacity(32 * 1024);
    shell::open(
        &mut h,
        &Shell::new("Submissions", &journal, role, Nav::Submissions, now),
    );
    h.push_str(r#"<h1>Submissions</h1><nav class="filters" aria-label="Filter by stage">"#);
    for (key, label) in [
        ("", "All"),
        ("submission", "Submission"),
        ("review", "Review"),
        ("copyediting", "Copyediting"),
        ("production", "Production"),
    ] {
        let current = stage_param.unwrap_or("") == key;
        let href = if key.is_empty() {
            "/submissions".to_string()
        } else {
            format!("/submissions?stage={key}")
        };
        let _ = write!(
            h,
            r#"<a href="{href}"{aria}>{label}</a>"#,
            aria = if current {
                r#" aria-current="true""#
            } else {
                ""
            }
        );
    }
    h.push_str("</nav>");
    let _ = write!(
        h,
        r#"<section class="card"><p class="muted" id="submissions-total" data-value="{total}">{count}{what}</p>"#,
        count = format::count(total as i64),
        what = if stage.is_some() {
            " waiting in this stage"
        } else {
            " submitted"
        },
    );
    if rows.is_empty() {
        h.push_str(r#"<p>Nothing here.</p>"#);
    } else {
        h.push_str(r#"<table class="list" id="submissions"><thead><tr><th scope="col">Submission</th><th scope="col">Stage</th><th scope="col">Status</th><th scope="col">Submitted</th></tr></thead><tbody>"#);
        for s in &rows {
            let _ = write!(
                h,
                r#"<tr data-id="{id}"><td><div class="title"><a href="/submissions/{id}"><span class="sid">#{id}</span> {title}</a></div><div class="authors">{authors}</div></td><td><span class="badge">{stage}</span></td><td>{status}</td><td class="when">{date}</td></tr>"#,
                id = s.id,
                title = escape(untitled(&s.title)),
                authors = escape(&s.authors.join(", ")),
                stage = escape(&stage_label(&s.stage)),
                status = escape(&s.status.replace('_', " ")),
                date = escape(short_date(s.date_submitted.as_deref())),
            );
        }
        h.push_str("</tbody></table>");
    }
    let base = match stage_param {
        Some(s) => format!("/submissions?stage={}&", super::super::http::encode(s)),
        None => "/submissions?".to_string(),
    };
    paging::links(&mut h, &base, page, total, PER_PAGE);
    h.push_str("</section>");
    shell::close(&mut h, now);
    Ok(shell::reply(200, h))
}

/// `GET /submissions/{id}` (`?follow=1`: reload while a report is being
/// made — where the screening form sends the editor who asked for one).
pub(crate) fn show(ctx: &AppContext, role: Role, id: &str, query: &str) -> Result<Reply, Page> {
    let p = super::super::params(query, &["follow"]).map_err(Page::from_reply)?;
    let follow = p.iter().any(|(k, v)| k == "follow" && v == "1");
    let id = super::super::submission_id(id).map_err(Page::from_reply)?;
    let store = super::open(ctx)?;
    let Some(d) = store.submission(id).map_err(Page::store)? else {
        return Err(Page::not_found(format!(
            "There is no submission #{id} in this journal (or it has not been synced yet)."
        )));
    };
    let now = crate::system::unix_now();
    let journal = shell::journal_name(ctx);
    let job = ctx.screening_jobs.state(id);
    let figure_job = ctx.figure_jobs.state(id);
    let mut h = String::with_capacity(48 * 1024);
    let title = format!("#{id} {}", untitled(&d.summary.title));
    shell::open(
        &mut h,
        &Shell {
            title: &title,
            journal: &journal,
            role,
            nav: Nav::Submissions,
            refresh: (follow
                && [&job, &figure_job]
                    .iter()
                    .any(|j| matches!(j, Some(JobState::Running { .. }))))
            .then_some(JOB_REFRESH_SECONDS),
            query: "",
            overall: None,
            now,
        },
    );
    metadata(&mut h, &d);
    h.push_str(r#"<div class="grid"><div>"#);
    reviews(&mut h, &d);
    suggestions(&mut h, ctx, id);
    h.push_str(r#"</div><div class="side">"#);
    screening(&mut h, ctx, role, id, (job, follow), now);
    super::figures::card(&mut h, ctx, role, id, (figure_job, follow), now);
    similar(&mut h, ctx, id);
    h.push_str("</div></div>");
    shell::close(&mut h, now);
    Ok(shell::reply(200, h))
}

fn untitled(t: &str) -> &str {
    if t.trim().is_empty() {
        "(untitled)"
    } else {
        t
    }
}

/// `2026-03-01 10:00:00` → `2026-03-01`.
pub(crate) fn short_date(d: Option<&str>) -> &str {
    match d {
        Some(d) => d.get(..10).unwrap_or(d),
        None => "–",
    }
}

fn metadata(h: &mut String, d: &SubmissionDetail) {
    let s = &d.summary;
    let _ = write!(
        h,
        r#"<p class="crumbs"><a href="/submissions">Submissions</a> › #{id}</p><h1 id="submission-title">{title}</h1><p class="meta"><span class="sid">#{id}</span> · {section} · <span class="badge" id="submission-stage">{stage}</span> · <span id="submission-status">{status}</span></p>"#,
        id = s.id,
        title = escape(untitled(&s.title)),
        section = escape(s.section.as_deref().unwrap_or("no section")),
        stage = escape(&stage_label(&s.stage)),
        status = escape(&s.status.replace('_', " ")),
    );
    h.push_str(r#"<section class="card" id="about"><h2>About</h2><h3>Authors</h3><ul class="people" id="authors">"#);
    if d.author_details.is_empty() {
        h.push_str(r#"<li class="muted">No authors recorded.</li>"#);
    }
    for a in &d.author_details {
        let name = format!("{} {}", a.given_name, a.family_name);
        let _ = write!(
            h,
            r#"<li><strong>{name}</strong>{aff}</li>"#,
            name = escape(name.trim()),
            aff = if a.affiliation.trim().is_empty() {
                r#" <span class="muted">(no affiliation)</span>"#.to_string()
            } else {
                format!(
                    r#" <span class="muted">· {}</span>"#,
                    escape(&a.affiliation)
                )
            },
        );
    }
    h.push_str("</ul>");
    if !s.keywords.is_empty() {
        h.push_str(r#"<h3>Keywords</h3><p class="chips" id="keywords">"#);
        for k in &s.keywords {
            let _ = write!(h, r#"<span class="chip">{}</span> "#, escape(k));
        }
        h.push_str("</p>");
    }
    let _ = write!(
        h,
        r#"<h3>Abstract</h3><div class="abstract" id="abstract">{abs}</div><h3>Dates</h3><dl><div class="row"><dt>Submitted</dt><dd id="date-submitted">{sub}</dd></div><div class="row"><dt>Last activity</dt><dd>{act}</dd></div></dl></section>"#,
        abs = if d.abstract_text.trim().is_empty() {
            r#"<p class="muted">No abstract.</p>"#.to_string()
        } else {
            // OJS keeps abstracts as HTML; shown as text (never as markup).
            format!("<p>{}</p>", escape(&strip_tags(&d.abstract_text)))
        },
        sub = escape(short_date(s.date_submitted.as_deref())),
        act = escape(short_date(s.date_last_activity.as_deref())),
    );
}

/// Text of an HTML fragment: tags dropped, the common entities decoded.
pub(crate) fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn reviews(h: &mut String, d: &SubmissionDetail) {
    h.push_str(r#"<section class="card" id="reviews"><h2>Review rounds</h2>"#);
    if d.review_assignments.is_empty() {
        h.push_str(r#"<p class="muted">No reviewer has been assigned yet.</p>"#);
    }
    let mut rounds: Vec<Option<i64>> = d.review_assignments.iter().map(|a| a.round).collect();
    rounds.dedup();
    rounds.sort();
    rounds.dedup();
    for round in rounds {
        let _ = write!(
            h,
            r#"<h3>Round {}</h3><table class="list"><thead><tr><th scope="col">Reviewer</th><th scope="col">State</th><th scope="col">Requested</th><th scope="col">Due</th><th scope="col">Completed</th><th scope="col">Recommendation</th></tr></thead><tbody>"#,
            round.map(|r| r.to_string()).unwrap_or_else(|| "?".into())
        );
        for a in d.review_assignments.iter().filter(|a| a.round == round) {
            let who = format!(
                r#"<a href="/reviewers/{}">{}</a>"#,
                a.reviewer_id,
                escape(a.reviewer_name.as_deref().unwrap_or("(former reviewer)"))
            );
            review_row(
                h,
                &who,
                &a.state,
                (&a.date_assigned, &a.date_due, &a.date_completed),
                a.recommendation.as_deref(),
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str(r#"<h3>Decisions</h3>"#);
    if d.decisions.is_empty() {
        h.push_str(r#"<p class="muted">No decision yet.</p>"#);
    } else {
        h.push_str(r#"<ul class="decisions" id="decisions">"#);
        for x in &d.decisions {
            let _ = write!(
                h,
                r#"<li>{name} <span class="muted">{date}{round}</span></li>"#,
                name = escape(decision_name(x.decision)),
                date = escape(short_date(x.date_decided.as_deref())),
                round = x.round.map(|r| format!(" · round {r}")).unwrap_or_default(),
            );
        }
        h.push_str("</ul>");
    }
    h.push_str("</section>");
}

/// One review as a table row (a submission's rounds, a reviewer's history):
/// `first` is the first cell's HTML (who, or which submission).
pub(super) fn review_row(
    h: &mut String,
    first: &str,
    state: &str,
    (assigned, due, completed): (&Option<String>, &Option<String>, &Option<String>),
    recommendation: Option<&str>,
) {
    let tone = match state {
        "overdue" => "bad",
        "completed" => "good",
        "declined" | "cancelled" => "neutral",
        _ => "warn",
    };
    let _ = write!(
        h,
        r#"<tr class="assignment" data-state="{state}"><td>{first}</td><td><span class="pill {tone}">{label}</span></td><td class="when">{req}</td><td class="when">{due}</td><td class="when">{done}</td><td>{rec}</td></tr>"#,
        state = escape(state),
        label = escape(&state.replace('_', " ")),
        req = escape(short_date(assigned.as_deref())),
        due = escape(short_date(due.as_deref())),
        done = escape(short_date(completed.as_deref())),
        rec = escape(&recommendation.unwrap_or("–").replace('_', " ")),
    );
}

fn suggestions(h: &mut String, ctx: &AppContext, id: i64) {
    h.push_str(r#"<section class="card" id="suggestions"><h2>Suggested reviewers</h2>"#);
    let (embedder, warning) = ctx.models.embedder();
    if let Some(w) = &warning {
        let _ = write!(
            h,
            r#"<p class="note warn" id="suggestions-warning">{}. Suggestions use exact shared terms only; install the embedding model with <code>ojscog models install</code>.</p>"#,
            escape(w.trim_end_matches('.'))
        );
    }
    let result = ctx
        .open_store_rw()
        .map_err(AgentError::from)
        .and_then(|s| ctx.rank_reviewers(&s, embedder.as_ref(), id, SUGGESTIONS));
    match result {
        Ok(r) => suggestion_list(h, &r),
        Err(AgentError::Indexing { done, total }) => {
            let _ = write!(
                h,
                r#"<p class="note" id="suggestions-indexing">The reviewers' work is still being read by the embedding model ({done} of {total}); suggestions appear when it is done. Reload in a minute.</p>"#
            );
        }
        Err(e) => {
            let _ = write!(
                h,
                r#"<p class="error">Suggestions are not available: {}</p>"#,
                escape(&e.to_string())
            );
        }
    }
    h.push_str("</section>");
}

fn suggestion_list(h: &mut String, r: &MatchResult) {
    if r.candidates.is_empty() {
        h.push_str(r#"<p class="muted">No eligible reviewer.</p>"#);
    } else {
        h.push_str(r#"<ol class="suggestions">"#);
        for c in &r.candidates {
            let _ = write!(
                h,
                r#"<li class="suggestion" data-reviewer="{rid}"><div class="s-head"><a href="/reviewers/{rid}">{name}</a> <span class="muted">{aff}</span><span class="score" title="ranking score">{score:.2}</span></div><div class="meter-bar" aria-hidden="true"><span class="good" style="width:{width:.0}%"></span></div><p class="muted small">expertise {exp:.0} %</p><ul class="reasons">"#,
                rid = c.reviewer_id,
                name = escape(&c.name),
                aff = escape(&c.affiliation),
                score = c.score,
                width = (c.score * 100.0).clamp(2.0, 100.0),
                exp = c.expertise * 100.0,
            );
            // The expertise is the meter above; the other reasons are short phrases.
            let phrases = c
                .reasons
                .iter()
                .filter(|r| r.code != crate::agents::matching::ReasonCode::Expertise);
            for reason in phrases.take(3) {
                let _ = write!(h, "<li>{}</li>", escape(&reason.text));
            }
            h.push_str("</ul></li>");
        }
        h.push_str("</ol>");
        let _ = write!(
            h,
            r#"<p class="muted small">{} eligible reviewers in all · by {}{}</p>"#,
            r.total_candidates,
            escape(&r.model_id),
            if r.cached { " · cached" } else { "" }
        );
    }
    if !r.excluded.is_empty() {
        let _ = write!(
            h,
            r#"<details id="excluded"><summary>{n} excluded reviewer{s} (conflicts and unavailability)</summary><ul class="excluded">"#,
            n = r.excluded.len(),
            s = if r.excluded.len() == 1 { "" } else { "s" },
        );
        for x in &r.excluded {
            let why: Vec<String> = x
                .reasons
                .iter()
                .filter(|r| r.code.excludes())
                .map(|r| r.text.clone())
                .collect();
            let _ = write!(
                h,
                r#"<li data-reviewer="{rid}"><a href="/reviewers/{rid}">{name}</a>: <span class="conflict">{why}</span></li>"#,
                rid = x.reviewer_id,
                name = escape(&x.name),
                why = escape(&why.join("; ")),
            );
        }
        h.push_str("</ul></details>");
    }
}

fn screening(
    h: &mut String,
    ctx: &AppContext,
    role: Role,
    id: i64,
    (job, follow): (Option<JobState>, bool),
    now: i64,
) {
    h.push_str(r#"<section class="card" id="screening"><h2>Screening report</h2>"#);
    let agent = match ctx.models.screening() {
        Ok(a) => a,
        Err(e) => {
            use crate::inference::llm::LlmError;
            let fix = match &e {
                ScreeningError::Llm(LlmError::NoModel | LlmError::Unverified(_)) => {
                    " Install it with <code>scripts/fetch-models.sh</code> or <code>ojscog models install</code> (or publish it on the update channel), then reload."
                }
                _ => "",
            };
            let _ = write!(
                h,
                r#"<p class="note warn" id="screening-unavailable">The screening model is not available: {}.{fix}</p></section>"#,
                escape(e.to_string().trim_end_matches('.'))
            );
            return;
        }
    };
    let cached = ctx
        .open_store()
        .map_err(ScreeningError::from)
        .and_then(|s| agent.cached(&s, id));
    match cached {
        Ok(Some(a)) => report(h, &a),
        Ok(None) => match &job {
            Some(JobState::Running { since }) => job_running(
                h,
                (id, "screening"),
                "The report is being made by the on-device model",
                (*since, follow, now),
            ),
            Some(JobState::Failed { error, at }) => {
                job_failed(h, "screening", "Making the report failed", *at, error, now);
                screening_form(h, role, id, "Try again");
            }
            _ => {
                h.push_str(r#"<p class="muted" id="screening-none">No report yet. The on-device model takes a few seconds to a minute.</p>"#);
                screening_form(h, role, id, "Make the screening report");
            }
        },
        Err(e) => {
            let _ = write!(
                h,
                r#"<p class="error">The report cannot be read: {}</p>"#,
                escape(&e.to_string())
            );
        }
    }
    h.push_str("</section>");
}

/// A background job of the submission's card `anchor` in progress: what it does, since when, and links to
/// follow it (the page reloads itself only when asked).
pub(super) fn job_running(
    h: &mut String,
    (id, anchor): (i64, &str),
    doing: &str,
    (since, follow, now): (i64, bool, i64),
) {
    let reload = if follow {
        format!(
            r#"This page reloads itself every {JOB_REFRESH_SECONDS} s until it is done. <a href="/submissions/{id}#{anchor}">Stop reloading</a>"#
        )
    } else {
        format!(
            r#"<a href="/submissions/{id}#{anchor}">Reload</a> to see it when it is done, or <a href="/submissions/{id}?follow=1#{anchor}">reload every {JOB_REFRESH_SECONDS} s</a>."#
        )
    };
    let _ = write!(
        h,
        r#"<p class="note" id="{anchor}-progress" role="status">{doing} (started {} ago). {reload}</p>"#,
        escape(&format::span(now - since))
    );
}

/// The card `anchor`'s last background job failed.
pub(super) fn job_failed(h: &mut String, anchor: &str, what: &str, at: i64, error: &str, now: i64) {
    let _ = write!(
        h,
        r#"<p class="error" id="{anchor}-failed">{what} {}: {}</p>"#,
        escape(&format::ago(now - at)),
        escape(error)
    );
}

fn screening_form(h: &mut String, role: Role, id: i64, label: &str) {
    if role == Role::Admin {
        let _ = write!(
            h,
            r#"<form method="post" action="/submissions/{id}/screening"><button type="submit" class="primary" id="make-screening">{label}</button></form>"#,
            label = escape(label)
        );
    } else {
        h.push_str(r#"<p class="muted small">Making a report needs the admin token: <a href="/signin">sign in</a> with it.</p>"#);
    }
}

fn report(h: &mut String, a: &Assessment) {
    let r = &a.report;
    let j = &r.judgement;
    let fit = format!("{:?}", j.scope_fit).to_lowercase();
    let tone = match fit.as_str() {
        "good" => "good",
        "partial" => "warn",
        _ => "bad",
    };
    let yes = |b: bool| if b { "yes" } else { "no" };
    let _ = write!(
        h,
        r#"<p id="screening-summary">{summary}</p><dl><div class="row"><dt>Scope fit</dt><dd><span class="pill {tone}" id="screening-fit">{fit}</span></dd></div><div class="row"><dt>Best section</dt><dd>{section}{mismatch}</dd></div><div class="row"><dt>Abstract clarity</dt><dd>{clarity} of 5</dd></div><div class="row"><dt>States methods / results / conclusions</dt><dd>{m} / {res} / {c}</dd></div><div class="row"><dt>Missing</dt><dd>{missing}</dd></div></dl><p class="muted small" id="screening-caution">The summary, fit, clarity and yes/no answers are a small on-device model's reading of the title and abstract; measured against a person's reading of 31 abstracts, its yes/no answers were no better than chance (BENCHMARKS.md). What is missing is counted, not guessed.</p><p class="muted small">by {model} · {created}</p>"#,
        summary = escape(&j.summary),
        section = escape(j.best_section.as_deref().unwrap_or("–")),
        mismatch = if r.section_mismatch {
            r#" <span class="pill warn">differs from the author's choice</span>"#
        } else {
            ""
        },
        clarity = j.abstract_clarity,
        m = yes(j.methods_stated),
        res = yes(j.results_stated),
        c = yes(j.conclusions_stated),
        missing = if r.facts.missing_elements.is_empty() {
            "nothing".to_string()
        } else {
            escape(&r.facts.missing_elements.join(", "))
        },
        model = escape(&r.model.id),
        created = escape(&format::utc(r.created_at)),
    );
}

fn similar(h: &mut String, ctx: &AppContext, id: i64) {
    h.push_str(r#"<section class="card" id="similar"><h2>Similar submissions</h2>"#);
    match ctx.indexer.similar(id, SIMILAR) {
        Some(list) if !list.is_empty() => {
            h.push_str(r#"<ol class="similar">"#);
            for (sid, title, score) in list {
                let _ = write!(
                    h,
                    r#"<li><a href="/submissions/{sid}"><span class="sid">#{sid}</span> {title}</a> <span class="muted">{score:.2}</span></li>"#,
                    title = escape(untitled(&title)),
                );
            }
            h.push_str("</ol>");
        }
        Some(_) => h.push_str(r#"<p class="muted">No other submission to compare with.</p>"#),
        None => h.push_str(r#"<p class="muted" id="similar-pending">Not available yet: this submission has not been read by the embedding model (it happens in the background after a sync; with no embedding model installed it never does).</p>"#),
    }
    h.push_str("</section>");
}
