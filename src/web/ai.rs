//! The AI routes: reviewer suggestions, manuscript screening, semantic search.
//! They run models through the service's bounded workers and cache what they
//! compute in the store, so they open a writable connection.

use super::{http, Reply};
use crate::agents::{matching, AgentError};
use crate::inference::InferenceError;
use crate::service::AppContext;
use serde_json::{json, Value};

const DEFAULT_MATCHES: usize = 10;
const DEFAULT_HITS: usize = 20;
const MAX_RESULTS: usize = 100;

fn agent_error(e: &AgentError) -> Reply {
    let status = match e {
        AgentError::NoSubmission(_) => 404,
        AgentError::EmptyQuery => 400,
        AgentError::Indexing { .. } => 503,
        AgentError::Inference(InferenceError::Busy { .. }) => 503,
        AgentError::Inference(InferenceError::Timeout { .. }) => 504,
        AgentError::Inference(_) | AgentError::Store(_) => 500,
    };
    if status >= 500 {
        tracing::warn!(error = %e, "agent failed");
    }
    Reply::error(status, e.to_string())
}

fn open_rw(ctx: &AppContext) -> Result<crate::store::Store, Reply> {
    ctx.open_store_rw()
        .map_err(|e| Reply::error(503, format!("the local store is unavailable: {e}")))
}

fn parse_id(id: &str) -> Result<i64, Reply> {
    id.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        Reply::error(
            400,
            format!("`{}` is not a submission id", http::truncate(id, 40)),
        )
    })
}

/// Reads the only allowed parameters of `query`; anything else is a 400.
fn params(query: &str, allowed: &[&str]) -> Result<Vec<(String, String)>, Reply> {
    let p = http::parse_query(query).map_err(|m| Reply::error(400, m))?;
    for (k, _) in &p {
        if !allowed.contains(&k.as_str()) {
            return Err(Reply::error(
                400,
                format!(
                    "unknown parameter `{}`; allowed: {}",
                    http::truncate(k, 40),
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(p)
}

fn limit(p: &[(String, String)], default: usize) -> Result<usize, Reply> {
    match p.iter().find(|(k, _)| k == "limit") {
        None => Ok(default),
        Some((_, v)) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_RESULTS).contains(n))
            .ok_or_else(|| {
                Reply::error(
                    400,
                    format!("limit must be a whole number from 1 to {MAX_RESULTS}"),
                )
            }),
    }
}

fn with_warning(mut v: Value, warning: Option<String>) -> Value {
    if let (Some(w), Some(obj)) = (warning, v.as_object_mut()) {
        obj.insert("warning".into(), Value::String(w));
    }
    v
}

/// `GET /api/submissions/{id}/reviewers?limit=N`
pub(crate) fn reviewers_for(ctx: &AppContext, id: &str, query: &str) -> Reply {
    let id = match parse_id(id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let p = match params(query, &["limit"]) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let n = match limit(&p, DEFAULT_MATCHES) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let store = match open_rw(ctx) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (embedder, warning) = ctx.ai.embedder();
    match matching::match_reviewers_indexed(&store, embedder.as_ref(), id, n) {
        Ok(r) => match serde_json::to_value(&r) {
            Ok(v) => Reply::json(200, &with_warning(v, warning)),
            Err(e) => Reply::error(500, e.to_string()),
        },
        Err(e) => agent_error(&e),
    }
}

/// `GET /api/submissions/{id}/assessment[?cached=1]`: the screening report,
/// produced by the LLM when there is none for the current version (or only
/// the cached one with `cached=1`, which never runs the model).
pub(crate) fn assessment(ctx: &AppContext, id: &str, query: &str) -> Reply {
    let id = match parse_id(id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let p = match params(query, &["cached"]) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let cached_only = match p
        .iter()
        .find(|(k, _)| k == "cached")
        .map(|(_, v)| v.as_str())
    {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") | Some("") => true,
        Some(v) => {
            return Reply::error(
                400,
                format!("cached must be 1 or 0, not `{}`", http::truncate(v, 20)),
            )
        }
    };
    let agent = match ctx.ai.screening() {
        Ok(a) => a,
        Err(e) => return Reply::error(e.http_status(), e.to_string()),
    };
    let store = match open_rw(ctx) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = if cached_only {
        agent.cached(&store, id)
    } else {
        agent.assess(&store, id).map(Some)
    };
    match result {
        Ok(Some(a)) => Reply::json(200, &a),
        Ok(None) => Reply::error(
            404,
            format!("no screening report for submission {id} yet; GET without cached=1 makes one"),
        ),
        Err(e) => Reply::error(e.http_status(), e.to_string()),
    }
}

/// `GET /api/search?q=...&limit=N`
pub(crate) fn search(ctx: &AppContext, query: &str) -> Reply {
    let p = match params(query, &["q", "limit"]) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let q = p
        .iter()
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    if q.is_empty() {
        return Reply::error(400, "say what to search for: /api/search?q=words");
    }
    if q.chars().count() > 500 {
        return Reply::error(400, "the query is longer than 500 characters");
    }
    let n = match limit(&p, DEFAULT_HITS) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let (embedder, warning) = ctx.ai.embedder();
    match ctx.indexer.search(embedder.as_ref(), &q, n) {
        Ok(r) => Reply::json(
            200,
            &with_warning(
                json!({ "query": q, "model_id": r.model_id, "semantic": r.semantic,
                        "indexing": r.indexing, "hits": r.hits }),
                warning,
            ),
        ),
        Err(e) => agent_error(&e),
    }
}
