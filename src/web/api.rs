//! The JSON API, `/health` and `/metrics`.

use super::{http, Handled, Reply, PROMETHEUS};
use crate::context::AppContext;
use crate::health::{self, Level};
use crate::store::{parse_stage, parse_status, Store, StoreError, SubmissionFilter};
use crate::system::unix_now;
use serde_json::{json, Value};

/// Submissions listed when the client does not say `limit`.
const DEFAULT_LIMIT: usize = 100;
/// The most submissions one call may ask for.
const MAX_LIMIT: usize = 1000;

fn store_unavailable(e: &StoreError) -> Reply {
    tracing::warn!(error = %e, "the store is unavailable to the web server");
    Reply::error(503, format!("the local store is unavailable: {e}"))
}

fn open(ctx: &AppContext) -> Result<Store, Reply> {
    ctx.open_store().map_err(|e| store_unavailable(&e))
}

/// `GET /api/submissions?status=&stage=&limit=`
pub(crate) fn submissions(ctx: &AppContext, query: &str) -> Handled {
    let params = http::parse_query(query).map_err(|msg| Reply::error(400, msg))?;
    let mut filter = SubmissionFilter::default();
    let mut limit = None;
    let mut seen: Vec<&str> = Vec::new();
    for (key, value) in &params {
        if seen.contains(&key.as_str()) {
            return Err(Reply::error(
                400,
                format!("`{key}` is given more than once"),
            ));
        }
        seen.push(key);
        let v = value.trim().to_ascii_lowercase();
        match key.as_str() {
            "status" => match parse_status(&v) {
                Some(s) => filter.status = Some(s),
                None => {
                    return Err(Reply::error(
                        400,
                        format!(
                            "unknown status `{}`; use incomplete, queued, published, declined, scheduled \
                             or the OJS number (0, 1, 3, 4, 5)",
                            http::truncate(value, 40)
                        ),
                    ))
                }
            },
            "stage" => match parse_stage(&v) {
                Some(s) => filter.stage = Some(s),
                None => {
                    return Err(Reply::error(
                        400,
                        format!(
                            "unknown stage `{}`; use submission, review, copyediting, \
                             production or the OJS number (1 to 5)",
                            http::truncate(value, 40)
                        ),
                    ))
                }
            },
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => limit = Some(n),
                _ => {
                    return Err(Reply::error(
                        400,
                        format!(
                            "`limit` must be a whole number from 1 to {MAX_LIMIT}, not `{}`",
                            http::truncate(value, 40)
                        ),
                    ))
                }
            },
            other => {
                return Err(Reply::error(
                    400,
                    format!(
                        "unknown query parameter `{}`; this route takes status, stage and limit",
                        http::truncate(other, 40)
                    ),
                ))
            }
        }
    }
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    // One more than asked, to tell the client whether there are more.
    filter.limit = Some(limit + 1);
    let store = open(ctx)?;
    let mut list = store
        .list_submissions(&filter)
        .map_err(|e| store_unavailable(&e))?;
    let truncated = list.len() > limit;
    list.truncate(limit);
    Ok(Reply::json(
        200,
        &json!({
            "submissions": list,
            "count": list.len(),
            "limit": limit,
            "truncated": truncated,
        }),
    ))
}

/// `GET /api/submissions/{id}`
pub(crate) fn submission(ctx: &AppContext, id: &str) -> Handled {
    let id = super::submission_id(id)?;
    let store = open(ctx)?;
    match store.submission(id).map_err(|e| store_unavailable(&e))? {
        Some(detail) => Ok(Reply::json(200, &detail)),
        None => Err(Reply::error(404, format!("there is no submission {id}"))),
    }
}

/// `GET /api/reviewers`
pub(crate) fn reviewers(ctx: &AppContext) -> Handled {
    let store = open(ctx)?;
    let list = store.reviewers().map_err(|e| store_unavailable(&e))?;
    Ok(Reply::json(200, &json!({ "reviewers": list })))
}

/// `GET /api/sync`: the sync status plus how old the data is.
pub(crate) fn sync_status(ctx: &AppContext) -> Reply {
    let now = unix_now();
    let status = ctx.sync.status();
    let mut v = match serde_json::to_value(&status) {
        Ok(v) => v,
        Err(e) => return Reply::error(500, format!("cannot serialize the sync status: {e}")),
    };
    if let Value::Object(map) = &mut v {
        map.insert(
            "staleness_seconds".into(),
            json!(status.staleness_seconds(now)),
        );
        map.insert("stale".into(), json!(status.is_stale(now)));
        map.insert("state".into(), json!(status.state(now)));
        map.insert("search_index".into(), json!(ctx.indexer.progress()));
        map.insert("now".into(), json!(now));
    }
    Reply::json(200, &v)
}

/// `POST /api/sync`: asks the sync loop to run now (the caller has been
/// checked for the admin role; any body was read within its limit and is ignored).
pub(crate) fn request_sync(ctx: &AppContext) -> Reply {
    if ctx.sync.request_sync() {
        Reply::json(202, &json!({ "started": true }))
    } else {
        Reply::json(
            409,
            &json!({
                "started": false,
                "error": "no OJS database is configured (set ojs.url or OJSCOG_OJS_URL)",
            }),
        )
    }
}

/// `GET /metrics`: refreshes the device and queue gauges, then renders.
pub(crate) fn metrics(ctx: &AppContext) -> Reply {
    let device = ctx.read_device();
    let now = unix_now();
    let refreshed = ctx.open_store().and_then(|store| {
        crate::context::refresh_gauges(
            &ctx.metrics,
            &device,
            &store,
            now,
            ctx.sync.status().last_success_at,
        )
    });
    let ix = ctx.indexer.progress();
    ctx.metrics.set(
        crate::metrics::names::SEARCH_DOCUMENTS,
        &[],
        ix.total as f64,
    );
    ctx.metrics.set(
        crate::metrics::names::SEARCH_DOCUMENTS_EMBEDDED,
        &[],
        ix.done as f64,
    );
    if let Err(e) = refreshed {
        // Still answer: the device gauges and every counter are current.
        tracing::warn!(error = %e, "cannot refresh the queue gauges for /metrics");
    }
    Reply::new(200, PROMETHEUS, ctx.metrics.render())
}

/// `GET /health`: 200 when ok or degraded, 503 when down. Callers who may
/// read get the checks and problems; anyone else only the status word.
pub(crate) fn health(ctx: &AppContext, detailed: bool) -> Reply {
    let now = unix_now();
    let device = ctx.read_device();
    let store = ctx.open_store();
    let h = health::judge(store.as_ref(), &ctx.sync.status(), &device, now);
    let code = if h.status == Level::Down { 503 } else { 200 };
    if detailed {
        Reply::json(code, &h.to_json(now))
    } else {
        Reply::json(code, &json!({ "status": h.status }))
    }
}

/// `GET /api/update` (admin): the channel, the last check, what is available,
/// progress, the last failure, the accepted index, pending activations and
/// the recent history.
pub(crate) fn update_status(ctx: &AppContext) -> Reply {
    let store = match ctx.open_store() {
        Ok(s) => s,
        Err(e) => return Reply::error(503, format!("the store is not readable: {e}")),
    };
    let (accepted, pending, history) = match (
        store.accepted_index(),
        store.pending_activations(),
        store.update_history(20),
    ) {
        (Ok(a), Ok(p), Ok(h)) => (a, p, h),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return Reply::error(503, format!("cannot read the update history: {e}"))
        }
    };
    Reply::json(
        200,
        &json!({
            "status": ctx.updates.status(),
            "accepted": accepted,
            "pending": pending,
            "history": history,
            "trusted_keys": ctx.updates.updater.as_ref().map(|u| u.keys.ids()).unwrap_or_default(),
        }),
    )
}

/// `POST /api/update` (admin): `{"action": "check"}` or `{"action": "apply"}`
/// (the default) wakes the updater thread; `{"action": "reboot"}` asks the
/// appliance to reboot (into an installed system update); the answer comes at once (202) and
/// progress shows in `GET /api/update` and on the page.
pub(crate) fn request_update(ctx: &AppContext, body: &[u8]) -> Reply {
    let action = if body.iter().all(|b| b.is_ascii_whitespace()) {
        "apply".to_string()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => match v.get("action").and_then(|a| a.as_str()) {
                Some(a) => a.to_string(),
                None => {
                    return Reply::error(
                        400,
                        "the body needs an \"action\": \"check\" or \"apply\"",
                    )
                }
            },
            Err(e) => return Reply::error(400, format!("the body is not JSON: {e}")),
        }
    };
    let request = match action.as_str() {
        "check" => crate::update::Request::Check,
        "apply" => crate::update::Request::Apply,
        "reboot" => {
            // Into an installed system update, now (the root side reboots).
            return match ctx.updates.updater.as_ref().map(|u| u.request_reboot()) {
                Some(Ok(())) => Reply::json(202, &json!({ "started": true, "action": "reboot" })),
                Some(Err(e)) => Reply::error(500, format!("cannot ask for a reboot: {e}")),
                None => Reply::json(
                    409,
                    &json!({ "started": false, "error": ctx.updates.error }),
                ),
            };
        }
        other => {
            return Reply::error(
                400,
                format!("unknown action `{other}`: use check, apply or reboot"),
            )
        }
    };
    if ctx.updates.request(request) {
        Reply::json(202, &json!({ "started": true, "action": action }))
    } else {
        let why = ctx
            .updates
            .error
            .clone()
            .unwrap_or_else(|| crate::update::UpdateError::NoChannel.to_string());
        Reply::json(409, &json!({ "started": false, "error": why }))
    }
}
