//! The box's health, judged in one place: the store, the sync (by
//! [`SyncStatus::state`]) and the data disk. `/health`, the status page's
//! headline and its problem list all render this one judgement.

use crate::store::{Store, StoreError};
use crate::sync::{SyncState, SyncStatus};
use crate::system::DeviceStatus;
use serde::Serialize;
use serde_json::{json, Value};

/// Below this share of free space the data disk is reported as degraded.
const DISK_FREE_MIN: f64 = 0.05;

/// The state of one health check, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Degraded,
    Down,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Degraded => "degraded",
            Level::Down => "down",
        }
    }
}

/// What `/health` answers and the page's headline shows.
pub struct Health {
    pub status: Level,
    pub store: (Level, Value),
    pub sync: (Level, Value),
    pub disk: (Level, Value),
    /// Sentences for people, one per problem.
    pub problems: Vec<String>,
}

impl Health {
    pub fn to_json(&self, now: i64) -> Value {
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
pub fn judge(
    store: Result<&Store, &StoreError>,
    sync: &SyncStatus,
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
    let state = sync.state(now);
    let sync_check = match state {
        SyncState::Demo => (
            Level::Ok,
            json!({ "source": sync.source, "state": state, "note": "showing the built-in demo journal; no OJS is synced" }),
        ),
        SyncState::NotConfigured => (
            Level::Ok,
            json!({ "source": sync.source, "state": state, "note": "no OJS database is configured" }),
        ),
        _ => {
            let stale = sync.is_stale(now);
            if stale {
                problems.push(match staleness {
                    Some(s) => format!(
                        "The OJS data is {} old (last successful sync {}).",
                        crate::human::span(s),
                        crate::human::ago(s)
                    ),
                    None => "OJS has not been synced successfully yet.".to_string(),
                });
            }
            if let Some(err) = &sync.last_error {
                problems.push(format!("The last OJS sync failed: {err}"));
            }
            (
                if state.needs_attention() {
                    Level::Degraded
                } else {
                    Level::Ok
                },
                json!({
                    "source": sync.source,
                    "state": state,
                    "last_success_at": sync.last_success_at,
                    "staleness_seconds": staleness,
                    "stale_after_seconds": sync.stale_after_seconds,
                    "stale": stale,
                    "last_error": sync.last_error,
                    "consecutive_failures": sync.consecutive_failures,
                }),
            )
        }
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
                crate::human::bytes(device.disk_free_bytes),
                crate::human::percent(ratio)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::Source;

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
            source: Source::Ojs,
            configured: true,
            last_success_at: Some(now - 60),
            stale_after_seconds: 3600,
            ..Default::default()
        };
        let ok = device(50, 100);
        assert_eq!(judge(Ok(&store), &sync, &ok, now).status, Level::Ok);

        sync.last_error = Some("connection refused".into());
        let h = judge(Ok(&store), &sync, &ok, now);
        assert_eq!(h.status, Level::Degraded);
        assert!(h.problems.iter().any(|p| p.contains("connection refused")));

        sync.last_error = None;
        sync.last_success_at = Some(now - 7200);
        assert_eq!(
            judge(Ok(&store), &sync, &ok, now).status,
            Level::Degraded,
            "stale"
        );
        // Demo data never counts as stale.
        assert_eq!(
            judge(
                Ok(&store),
                &SyncStatus {
                    source: Source::Demo,
                    ..sync.clone()
                },
                &ok,
                now
            )
            .status,
            Level::Ok
        );
        // Not configured: nothing to be stale about.
        sync.configured = false;
        assert_eq!(judge(Ok(&store), &sync, &ok, now).status, Level::Ok);

        let full = device(4, 100);
        let h = judge(Ok(&store), &sync, &full, now);
        assert_eq!(h.status, Level::Degraded);
        assert!(h.problems[0].contains("almost full"), "{:?}", h.problems);

        let Err(err) = Store::open_read_only(&dir.path().join("missing/none.sqlite3")) else {
            panic!("a missing store opens");
        };
        let h = judge(Err(&err), &sync, &ok, now);
        assert_eq!(h.status, Level::Down);
        assert_eq!(h.to_json(now)["checks"]["store"]["status"], "down");
    }
}
