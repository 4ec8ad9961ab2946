//! The AI routes: reviewer suggestions, manuscript screening, semantic search.
//! They run models through the service's bounded workers and cache what they
//! compute in the store, so they open a writable connection.

use super::{Handled, Reply};
use crate::agents::screening::ScreeningError;
use crate::agents::AgentError;
use crate::context::AppContext;
use crate::inference::InferenceError;
use crate::store::Store;
use serde_json::{json, Value};

const DEFAULT_MATCHES: usize = 10;
const DEFAULT_HITS: usize = 20;
const MAX_RESULTS: usize = 100;
/// Paging through a ranking stops here (a journal's reviewers, with room).
const MAX_OFFSET: usize = 100_000;

fn agent_error(e: &AgentError) -> Reply {
    let status = match e {
        AgentError::NoSubmission(_) => 404,
        AgentError::EmptyQuery => 400,
        AgentError::Indexing { .. } => 503,
        AgentError::Inference(InferenceError::Busy { .. }) => 503,
        AgentError::Inference(InferenceError::Timeout { .. }) => 504,
        AgentError::Inference(_) | AgentError::Store(_) => 500,
    };
    if status >= 500 && status != 503 {
        tracing::warn!(error = %e, "agent failed");
    }
    let reply = Reply::error(status, e.to_string());
    if status == 503 {
        reply.with_header("Retry-After", "10")
    } else {
        reply
    }
}

fn open_rw(ctx: &AppContext) -> Result<Store, Reply> {
    ctx.open_store_rw()
        .map_err(|e| Reply::error(503, format!("the local store is unavailable: {e}")))
}

/// A whole-number query parameter in `range`, `default` when absent.
fn number(
    p: &[(String, String)],
    name: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, Reply> {
    match p.iter().find(|(k, _)| k == name) {
        None => Ok(default),
        Some((_, v)) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                Reply::error(
                    400,
                    format!(
                        "{name} must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}

fn limit(p: &[(String, String)], default: usize) -> Result<usize, Reply> {
    number(p, "limit", default, 1..=MAX_RESULTS)
}

fn with_warning(mut v: Value, warning: Option<String>) -> Value {
    if let (Some(w), Some(obj)) = (warning, v.as_object_mut()) {
        obj.insert("warning".into(), Value::String(w));
    }
    v
}

/// `GET /api/submissions/{id}/reviewers?limit=N&offset=M`: one page of the
/// ranking (`total_candidates` says how many there are), every excluded reviewer.
pub(crate) fn reviewers_for(ctx: &AppContext, id: &str, query: &str) -> Handled {
    let id = super::submission_id(id)?;
    let p = super::params(query, &["limit", "offset"])?;
    let n = limit(&p, DEFAULT_MATCHES)?;
    // Where the page starts.
    let skip = number(&p, "offset", 0, 0..=MAX_OFFSET)?;
    let store = open_rw(ctx)?;
    let (embedder, warning) = ctx.models.embedder();
    let mut r = ctx
        .rank_reviewers(&store, embedder.as_ref(), id, skip + n)
        .map_err(|e| agent_error(&e))?;
    r.candidates.drain(..skip.min(r.candidates.len()));
    let v = serde_json::to_value(&r).map_err(|e| Reply::error(500, e.to_string()))?;
    Ok(Reply::json(200, &with_warning(v, warning)))
}

/// The submission id, the screening agent and a store for the assessment routes.
fn screening_parts(
    ctx: &AppContext,
    id: &str,
) -> Result<
    (
        i64,
        std::sync::Arc<crate::agents::screening::ScreeningAgent>,
        Store,
    ),
    Reply,
> {
    let id = super::submission_id(id)?;
    let agent = ctx.models.screening().map_err(|e| screening_failed(&e))?;
    Ok((id, agent, open_rw(ctx)?))
}

/// `GET /api/submissions/{id}/assessment`: the cached screening report for
/// the current version; never runs the model (`POST` does). `cached=1` is
/// accepted for older clients and changes nothing.
pub(crate) fn assessment(ctx: &AppContext, id: &str, query: &str) -> Handled {
    super::params(query, &["cached"])?;
    let (id, agent, store) = screening_parts(ctx, id)?;
    match agent.cached(&store, id).map_err(|e| screening_failed(&e))? {
        Some(a) => Ok(Reply::json(200, &a)),
        None => Err(Reply::error(
            404,
            format!(
                "no screening report for submission {id} yet; \
                 POST /api/submissions/{id}/assessment (admin token) makes one"
            ),
        )),
    }
}

/// `POST /api/submissions/{id}/assessment`: makes the screening report (the
/// LLM runs on its bounded worker with a deadline; this route runs in the
/// model lane), or returns the cached one for the current version.
pub(crate) fn make_assessment(ctx: &AppContext, id: &str) -> Handled {
    let (id, agent, store) = screening_parts(ctx, id)?;
    let a = agent.assess(&store, id).map_err(|e| screening_failed(&e))?;
    Ok(Reply::json(200, &a))
}

/// `GET /api/search?q=...&limit=N`
pub(crate) fn search(ctx: &AppContext, query: &str) -> Handled {
    let p = super::params(query, &["q", "limit"])?;
    let q = p
        .iter()
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    if q.is_empty() {
        return Err(Reply::error(
            400,
            "say what to search for: /api/search?q=words",
        ));
    }
    if q.chars().count() > 500 {
        return Err(Reply::error(400, "the query is longer than 500 characters"));
    }
    let n = limit(&p, DEFAULT_HITS)?;
    let (embedder, warning) = ctx.models.embedder();
    let r = ctx
        .search(embedder.as_ref(), &q, n)
        .map_err(|e| agent_error(&e))?;
    Ok(Reply::json(
        200,
        &with_warning(
            json!({ "query": q, "model_id": r.model_id, "semantic": r.semantic,
                    "indexing": r.indexing, "hits": r.hits }),
            warning,
        ),
    ))
}

/// A screening failure as an answer.
fn screening_failed(e: &ScreeningError) -> Reply {
    Reply::error(screening_status(e), e.to_string())
}

/// The status a screening failure is answered with.
fn screening_status(e: &ScreeningError) -> u16 {
    use crate::inference::llm::LlmError;
    use crate::inference::InferenceError as I;
    match e {
        ScreeningError::NotFound(_) => 404,
        ScreeningError::Llm(e) if e.is_timeout() => 504,
        ScreeningError::Llm(
            LlmError::NotBuilt
            | LlmError::NoModel
            | LlmError::Unverified(_)
            | LlmError::RecentlyFailed { .. }
            | LlmError::Inference(I::Busy { .. }),
        ) => 503,
        ScreeningError::Invalid { .. } | ScreeningError::Llm(_) => 502,
        ScreeningError::Store(_) => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::llm::LlmError;

    #[test]
    fn screening_failures_map_to_the_statuses_clients_rely_on() {
        assert_eq!(screening_status(&ScreeningError::NotFound(7)), 404);
        assert_eq!(
            screening_status(&ScreeningError::Llm(LlmError::NotBuilt)),
            503
        );
        assert_eq!(
            screening_status(&ScreeningError::Llm(LlmError::NoModel)),
            503
        );
        assert_eq!(
            screening_status(&ScreeningError::Llm(LlmError::RecentlyFailed {
                message: "corrupt".into(),
                seconds_ago: 1
            })),
            503
        );
    }
}
