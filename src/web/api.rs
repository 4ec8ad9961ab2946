//! The JSON API, `/health` and `/metrics`.

use super::{http, Reply, PROMETHEUS};
use crate::service::AppContext;
use crate::store::{parse_stage, parse_status, Store, StoreError, SubmissionFilter};
use crate::sync::SyncStatus;
use crate::system::{unix_now, DeviceStatus};
use serde::Serialize;
use serde_json::{json, Value};

/// Submissions listed when the client does not say `limit`.
const DEFAULT_LIMIT: usize = 100;
/// The most submissions one call may ask for.
const MAX_LIMIT: usize = 1000;
/// Below this share of free space the data disk is reported as degraded.
const DISK_FREE_MIN: f64 = 0.05;

/// A current reading of the device (the sampler shares the same `Device`).
pub(crate) fn read_device(ctx: &AppContext) -> DeviceStatus {
    ctx.device.lock().unwrap_or_else(|p| p.into_inner()).read()
}

fn store_unavailable(e: &StoreError) -> Reply {
    tracing::warn!(error = %e, "the store is unavailable to the web server");
    Reply::error(503, format!("the local store is unavailable: {e}"))
}

fn open(ctx: &AppContext) -> Result<Store, Reply> {
    ctx.open_store().map_err(|e| store_unavailable(&e))
}

/// `GET /api/submissions?status=&stage=&limit=`
pub(crate) fn submissions(ctx: &AppContext, query: &str) -> Reply {
    let params = match http::parse_query(query) {
        Ok(p) => p,
        Err(msg) => return Reply::error(400, msg),
    };
    let mut filter = SubmissionFilter::default();
    let mut limit = None;
    let mut seen: Vec<&str> = Vec::new();
    for (key, value) in &params {
        if seen.contains(&key.as_str()) {
            return Reply::error(400, format!("`{key}` is given more than once"));
        }
        seen.push(key);
        let v = value.trim().to_ascii_lowercase();
        match key.as_str() {
            "status" => match parse_status(&v) {
                Some(s) => filter.status = Some(s),
                None => {
                    return Reply::error(
                        400,
                        format!(
                            "unknown status `{}`; use incomplete, queued, published, declined, scheduled \
                             or the OJS number (0, 1, 3, 4, 5)",
                            http::truncate(value, 40)
                        ),
                    )
                }
            },
            "stage" => match parse_stage(&v) {
                Some(s) => filter.stage = Some(s),
                None => {
                    return Reply::error(
                        400,
                        format!(
                            "unknown stage `{}`; use submission, review, copyediting, \
                             production or the OJS number (1 to 5)",
                            http::truncate(value, 40)
                        ),
                    )
                }
            },
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => limit = Some(n),
                _ => {
                    return Reply::error(
                        400,
                        format!(
                            "`limit` must be a whole number from 1 to {MAX_LIMIT}, not `{}`",
                            http::truncate(value, 40)
                        ),
                    )
                }
            },
            other => {
                return Reply::error(
                    400,
                    format!(
                        "unknown query parameter `{}`; this route takes status, stage and limit",
                        http::truncate(other, 40)
                    ),
                )
            }
        }
    }
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    // One more than asked, to tell the client whether there are more.
    filter.limit = Some(limit + 1);
    let store = match open(ctx) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match store.list_submissions(&filter) {
        Ok(mut list) => {
            let truncated = list.len() > limit;
            list.truncate(limit);
            Reply::json(
                200,
                &json!({
                    "submissions": list,
                    "count": list.len(),
                    "limit": limit,
                    "truncated": truncated,
                }),
            )
        }
        Err(e) => store_unavailable(&e),
    }
}

/// `GET /api/submissions/{id}`
pub(crate) fn submission(ctx: &AppContext, id: &str) -> Reply {
    let id: i64 = match id.parse() {
        Ok(n) if n > 0 => n,
        _ => {
            return Reply::error(
                400,
                format!(
                    "a submission id is a positive whole number, not `{}`",
                    http::truncate(id, 40)
                ),
            )
        }
    };
    let store = match open(ctx) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match store.submission(id) {
        Ok(Some(detail)) => Reply::json(200, &detail),
        Ok(None) => Reply::error(404, format!("there is no submission {id}")),
        Err(e) => store_unavailable(&e),
    }
}

/// `GET /api/reviewers`
pub(crate) fn reviewers(ctx: &AppContext) -> Reply {
    let store = match open(ctx) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match store.reviewers() {
        Ok(list) => Reply::json(200, &json!({ "reviewers": list })),
        Err(e) => store_unavailable(&e),
    }
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
    let device = read_device(ctx);
    let now = unix_now();
    let refreshed = ctx.open_store().and_then(|store| {
        crate::metrics::sampler::refresh_gauges(
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

/// The state of one health check, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Level {
    Ok,
    Degraded,
    Down,
}

impl Level {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Degraded => "degraded",
            Level::Down => "down",
        }
    }
}

/// What `/health` answers and the page's headline shows.
pub(crate) struct Health {
    pub status: Level,
    pub store: (Level, Value),
    pub sync: (Level, Value),
    pub disk: (Level, Value),
    /// Sentences for people, one per problem.
    pub problems: Vec<String>,
}

impl Health {
    fn to_json(&self, now: i64) -> Value {
        let check = |(level, detail): &(Level, Value)| {
            let mut v = detail.clone();
            if let Value::Object(m) = &mut v {
                m.insert("status".into(), json!(level));
            }
            v
        };
        json!({
            "status": self.status,
            "checks": {
                "store": check(&self.store),
                "sync": check(&self.sync),
                "disk": check(&self.disk),
            },
            "problems": self.problems,
            "version": env!("CARGO_PKG_VERSION"),
            "time": now,
        })
    }
}

/// Judges the store (already opened or not), the sync and the disk.
pub(crate) fn assess(
    store: Result<&Store, &StoreError>,
    sync: &SyncStatus,
    demo: bool,
    device: &DeviceStatus,
    now: i64,
) -> Health {
    let mut problems = Vec::new();
    let probe = match store {
        Ok(s) => s
            .schema_version()
            .and_then(|v| Ok((v, s.counts()?)))
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let store_check = match probe {
        Ok((version, counts)) => {
            let submissions = counts
                .iter()
                .find(|(t, _)| *t == "submissions")
                .map_or(0, |(_, n)| *n);
            (
                Level::Ok,
                json!({ "schema_version": version, "submissions": submissions }),
            )
        }
        Err(e) => {
            problems.push(format!("The local store cannot be read: {e}"));
            (Level::Down, json!({ "error": e }))
        }
    };

    let staleness = sync.staleness_seconds(now);
    let sync_check = if demo || sync.source == "demo" {
        (
            Level::Ok,
            json!({ "source": "demo", "note": "showing the built-in demo journal; no OJS is synced" }),
        )
    } else if !sync.configured {
        (
            Level::Ok,
            json!({ "source": sync.source, "note": "no OJS database is configured" }),
        )
    } else {
        let failing = sync.last_error.is_some() || sync.consecutive_failures > 0;
        let stale = sync.is_stale(now);
        if stale {
            problems.push(match staleness {
                Some(s) => format!(
                    "The OJS data is {} old (last successful sync {}).",
                    super::format::span(s),
                    super::format::ago(s)
                ),
                None => "OJS has not been synced successfully yet.".to_string(),
            });
        }
        if let Some(err) = &sync.last_error {
            problems.push(format!("The last OJS sync failed: {err}"));
        }
        (
            if failing || stale {
                Level::Degraded
            } else {
                Level::Ok
            },
            json!({
                "source": sync.source,
                "last_success_at": sync.last_success_at,
                "staleness_seconds": staleness,
                "stale_after_seconds": sync.stale_after_seconds,
                "stale": stale,
                "last_error": sync.last_error,
                "consecutive_failures": sync.consecutive_failures,
            }),
        )
    };

    let disk_check = if device.disk_total_bytes == 0 {
        (
            Level::Ok,
            json!({ "note": "the size of the data disk is unknown" }),
        )
    } else {
        let ratio = device.disk_free_bytes as f64 / device.disk_total_bytes as f64;
        let level = if ratio < DISK_FREE_MIN {
            problems.push(format!(
                "The data disk is almost full: {} free ({}).",
                super::format::bytes(device.disk_free_bytes),
                super::format::percent(ratio)
            ));
            Level::Degraded
        } else {
            Level::Ok
        };
        (
            level,
            json!({
                "free_bytes": device.disk_free_bytes,
                "total_bytes": device.disk_total_bytes,
                "free_ratio": ratio,
            }),
        )
    };

    let status = store_check.0.max(sync_check.0).max(disk_check.0);
    Health {
        status,
        store: store_check,
        sync: sync_check,
        disk: disk_check,
        problems,
    }
}

/// `GET /health`: 200 when ok or degraded, 503 when down. Callers who may
/// read get the checks and problems; anyone else only the status word.
pub(crate) fn health(ctx: &AppContext, detailed: bool) -> Reply {
    let now = unix_now();
    let device = read_device(ctx);
    let store = ctx.open_store();
    let h = assess(store.as_ref(), &ctx.sync.status(), ctx.demo, &device, now);
    let code = if h.status == Level::Down { 503 } else { 200 };
    if detailed {
        Reply::json(code, &h.to_json(now))
    } else {
        Reply::json(code, &json!({ "status": h.status }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(free: u64, total: u64) -> DeviceStatus {
        DeviceStatus {
            disk_free_bytes: free,
            disk_total_bytes: total,
            ..Default::default()
        }
    }

    #[test]
    fn health_levels() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
        let now = 1_000_000;
        let mut sync = SyncStatus {
            source: "ojs".into(),
            configured: true,
            last_success_at: Some(now - 60),
            stale_after_seconds: 3600,
            ..Default::default()
        };
        let ok = device(50, 100);
        assert_eq!(assess(Ok(&store), &sync, false, &ok, now).status, Level::Ok);

        sync.last_error = Some("connection refused".into());
        let h = assess(Ok(&store), &sync, false, &ok, now);
        assert_eq!(h.status, Level::Degraded);
        assert!(h.problems.iter().any(|p| p.contains("connection refused")));

        sync.last_error = None;
        sync.last_success_at = Some(now - 7200);
        assert_eq!(
            assess(Ok(&store), &sync, false, &ok, now).status,
            Level::Degraded,
            "stale"
        );
        // Demo data never counts as stale.
        assert_eq!(assess(Ok(&store), &sync, true, &ok, now).status, Level::Ok);
        // Not configured: nothing to be stale about.
        sync.configured = false;
        assert_eq!(assess(Ok(&store), &sync, false, &ok, now).status, Level::Ok);

        let full = device(4, 100);
        let h = assess(Ok(&store), &sync, false, &full, now);
        assert_eq!(h.status, Level::Degraded);
        assert!(h.problems[0].contains("almost full"), "{:?}", h.problems);

        let Err(err) = Store::open_read_only(&dir.path().join("missing/none.sqlite3")) else {
            panic!("a missing store opens");
        };
        let h = assess(Err(&err), &sync, false, &ok, now);
        assert_eq!(h.status, Level::Down);
        assert_eq!(h.to_json(now)["checks"]["store"]["status"], "down");
    }
}
