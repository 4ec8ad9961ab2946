//! The answers to voice commands, from the store and the service's agents;
//! every command is logged in `agent_execution_log` (agent `voice`).

use super::intents::{Grammar, Understanding, Understood};
use crate::context::AppContext;
use crate::store::{AgentRun, ReviewerSort, Store};
use serde::Serialize;
use std::collections::BTreeMap;

/// A command's outcome: what was heard and understood, and what to say.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub transcript: String,
    /// None when not understood.
    pub intent: Option<String>,
    pub slots: BTreeMap<String, String>,
    pub score: f32,
    pub text: String,
}

/// Answers `heard` (a transcript). `last` is the previous answer's text (for
/// "repeat"); `now` the clock.
pub fn answer(
    ctx: &AppContext,
    grammar: &Grammar,
    heard: &str,
    last: Option<&str>,
    now: i64,
) -> Answer {
    let started = std::time::Instant::now();
    let a = answer_unlogged(ctx, heard, grammar.understand(heard), last, now);
    log(ctx, &a, now, started.elapsed().as_secs_f64(), None);
    a
}

/// [`answer`] to what `heard` was understood as, without the log entry: the
/// caller logs it with [`log`] once the whole command (speech included) is done.
pub fn answer_unlogged(
    ctx: &AppContext,
    heard: &str,
    understood: Understanding,
    last: Option<&str>,
    now: i64,
) -> Answer {
    let (intent, slots, score, text) = match understood {
        Ok(u) => {
            let text = respond(ctx, &u, last, now);
            (Some(u.intent), u.slots, u.score, text)
        }
        Err(closest) => {
            let text = match &closest {
                Some(c) if c.score > 0.4 => format!(
                    "I did not understand. The closest command I know is: {}.",
                    example(&c.sentence)
                ),
                _ => "I did not understand. Say \"help\" to hear what you can ask.".to_string(),
            };
            (
                None,
                BTreeMap::new(),
                closest.map_or(0.0, |c| c.score),
                text,
            )
        }
    };
    Answer {
        transcript: heard.to_string(),
        intent,
        slots,
        score,
        text,
    }
}

/// A template said plainly: options dropped, the first alternative taken,
/// slots as examples.
fn example(sentence: &str) -> String {
    let mut out = String::new();
    let mut depth_opt = 0;
    let mut skip_alt = false;
    let mut paren = 0;
    for c in sentence.chars() {
        match c {
            '[' => depth_opt += 1,
            ']' => depth_opt -= 1,
            '(' => paren += 1,
            ')' => {
                paren -= 1;
                skip_alt = false;
            }
            '|' if paren > 0 => skip_alt = true,
            _ if depth_opt > 0 || skip_alt => {}
            _ => out.push(c),
        }
    }
    let out = out
        .replace("{number}", "12")
        .replace("{stage}", "review")
        .replace("{reviewer}", "a reviewer");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn respond(ctx: &AppContext, u: &Understood, last: Option<&str>, now: i64) -> String {
    let number = u.slots.get("number").and_then(|n| n.parse::<i64>().ok());
    let store = match ctx.open_store() {
        Ok(s) => s,
        Err(e) => return format!("I cannot read my store right now: {e}."),
    };
    match u.intent.as_str() {
        "box_status" => box_status(ctx, &store, now),
        "sync_status" => sync_status(ctx, now),
        "waiting_by_stage" => waiting(&store, u.slots.get("stage").map(String::as_str)),
        "overdue" => overdue(&store, now),
        "suggest_reviewers" => match number {
            Some(n) => suggest(ctx, n),
            None => "Which submission? Say for example: who should review submission 12.".into(),
        },
        "summarize" => match number {
            Some(n) => summarize(ctx, &store, n),
            None => "Which submission? Say for example: summarize submission 12.".into(),
        },
        "start_sync" => {
            if ctx.sync.request_sync() {
                "Starting a sync with OJS now.".into()
            } else {
                "There is no OJS database to sync from on this box.".into()
            }
        }
        "decision" => {
            let what = u.sentence.split_whitespace().next().unwrap_or("that");
            let who = u
                .slots
                .get("reviewer")
                .map(|r| format!(" (assign {r})"))
                .unwrap_or_default();
            format!(
                "I never change OJS. Please {}{who} in OJS itself{}; I have noted that you asked.",
                if what.starts_with('(') { "make that decision" } else { "do that" },
                number.map(|n| format!(", on submission {n}")).unwrap_or_default()
            )
        }
        "repeat" => last.map_or_else(|| "I have not said anything yet.".into(), str::to_string),
        "help" => "You can ask: what is the status; is the data up to date; how many submissions are waiting; \
                   what is overdue; who should review submission 12; summarize submission 12; start a sync; \
                   repeat; help."
            .into(),
        other => format!("I know the command {other}, but I have no answer for it yet."),
    }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn box_status(ctx: &AppContext, store: &Store, now: i64) -> String {
    let device = ctx.read_device();
    let h = crate::health::judge(Ok(store), &ctx.sync.status(), &device, now);
    if h.problems.is_empty() {
        "All systems are normal.".into()
    } else {
        format!(
            "{}: {}.",
            plural(h.problems.len() as i64, "problem", "problems"),
            h.problems.join("; ")
        )
    }
}

fn sync_status(ctx: &AppContext, now: i64) -> String {
    let s = ctx.sync.status();
    match (s.configured, s.last_success_at) {
        (false, _) => "No OJS database is set up, so nothing is synced.".into(),
        (true, None) => "The box has not synced with OJS yet.".into(),
        (true, Some(t)) => format!(
            "The last sync with OJS was {} ago{}.",
            crate::human::span(now - t),
            if s.is_stale(now) {
                ", which is too old"
            } else {
                ""
            }
        ),
    }
}

fn waiting(store: &Store, stage: Option<&str>) -> String {
    let q = match store.queue_summary() {
        Ok(q) => q,
        Err(e) => return format!("I cannot read the queue: {e}."),
    };
    match stage {
        Some(s) => {
            let n = q
                .pending_by_stage
                .iter()
                .find(|(name, _)| name == s)
                .map_or(0, |(_, n)| *n);
            format!(
                "{} in the {s} stage.",
                plural(n, "submission is waiting", "submissions are waiting")
            )
        }
        None => {
            let parts: Vec<String> = q
                .pending_by_stage
                .iter()
                .map(|(name, n)| format!("{n} in {name}"))
                .collect();
            format!(
                "{} in all: {}.",
                plural(
                    q.pending_total,
                    "submission is waiting",
                    "submissions are waiting"
                ),
                parts.join(", ")
            )
        }
    }
}

fn overdue(store: &Store, now: i64) -> String {
    let today = crate::human::ojs_datetime(now);
    let (rows, _) = match store.reviewer_loads(&today, ReviewerSort::Load, 200, 0) {
        Ok(r) => r,
        Err(e) => return format!("I cannot read the reviews: {e}."),
    };
    let late: Vec<_> = rows.iter().filter(|r| r.overdue > 0).collect();
    let total: i64 = late.iter().map(|r| r.overdue).sum();
    if total == 0 {
        return "No review is overdue.".into();
    }
    let names: Vec<String> = late
        .iter()
        .take(3)
        .map(|r| format!("{} ({})", r.name, r.overdue))
        .collect();
    format!(
        "{} overdue, from {}: {}{}.",
        plural(total, "review is", "reviews are"),
        plural(late.len() as i64, "reviewer", "reviewers"),
        names.join(", "),
        if late.len() > 3 { ", and others" } else { "" }
    )
}

fn suggest(ctx: &AppContext, id: i64) -> String {
    let (embedder, _) = ctx.models.embedder();
    let store = match ctx.open_store_rw() {
        Ok(s) => s,
        Err(e) => return format!("I cannot read my store right now: {e}."),
    };
    match ctx.rank_reviewers(&store, embedder.as_ref(), id, 3) {
        Ok(r) if r.candidates.is_empty() => {
            format!("I have no eligible reviewer for submission {id}.")
        }
        Ok(r) => {
            let each: Vec<String> = r
                .candidates
                .iter()
                .map(|c| {
                    let why = c
                        .reasons
                        .iter()
                        .find(|x| x.code != crate::agents::matching::ReasonCode::Expertise)
                        .map(|x| format!(": {}", x.text))
                        .unwrap_or_default();
                    format!("{}{why}", c.name)
                })
                .collect();
            format!("For submission {id} I suggest {}.", each.join("; then "))
        }
        Err(crate::agents::AgentError::NoSubmission(_)) => format!("There is no submission {id}."),
        Err(crate::agents::AgentError::Indexing { .. }) => {
            "I am still reading the reviewers' work. Ask me again in a minute.".into()
        }
        Err(e) => format!("I cannot suggest reviewers right now: {e}."),
    }
}

fn summarize(ctx: &AppContext, store: &Store, id: i64) -> String {
    match store.submission(id) {
        Ok(None) => return format!("There is no submission {id}."),
        Err(e) => return format!("I cannot read submission {id}: {e}."),
        Ok(Some(_)) => {}
    }
    let cached = ctx
        .models
        .screening()
        .ok()
        .and_then(|a| a.cached(store, id).ok().flatten());
    match cached {
        Some(a) => format!("Submission {id}: {}", a.report.judgement.summary),
        None => format!(
            "There is no screening report for submission {id} yet. Make one on its page, then ask me again."
        ),
    }
}

/// Logs a command in `agent_execution_log` (agent `voice`): transcript, intent,
/// slots, answer, and `speech` (what the ear heard and the timings) when spoken.
pub fn log(
    ctx: &AppContext,
    a: &Answer,
    now: i64,
    seconds: f64,
    speech: Option<serde_json::Value>,
) {
    let mut detail = serde_json::to_value(a).unwrap_or_default();
    if let (Some(speech), Some(map)) = (speech, detail.as_object_mut()) {
        map.insert("speech".into(), speech);
    }
    let detail = detail.to_string();
    let run = AgentRun {
        agent: "voice".into(),
        submission_id: a.slots.get("number").and_then(|n| n.parse().ok()),
        started_at: now,
        duration_seconds: seconds,
        // Not understood is logged as an error (the log's outcomes are a
        // fixed set); its detail has no intent.
        outcome: if a.intent.is_some() { "ok" } else { "error" }.into(),
        model_id: None,
        detail: Some(detail),
    };
    ctx.metrics
        .agent_run("voice", &run.outcome, run.duration_seconds, now);
    match ctx.open_store_rw() {
        Ok(s) => {
            if let Err(e) = s.log_agent_run(&run) {
                tracing::warn!(error = %e, "cannot log a voice command");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot log a voice command"),
    }
    if a.intent.as_deref() == Some("decision") {
        tracing::info!(transcript = %a.transcript, "a decision was asked by voice; it must be made in OJS");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_template_is_said_plainly_as_an_example() {
        assert_eq!(
            super::example("who should review [submission|paper] [number] {number}"),
            "who should review 12"
        );
        assert_eq!(super::example("(start|run) [a] sync [now]"), "start sync");
    }
}
