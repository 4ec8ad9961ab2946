//! What the updater remembers: the newest signed index accepted (so an older
//! one is refused as a replay), the history of updates, and activations in
//! flight.

use super::{Result, Store};
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::Serialize;

/// History rows kept; older ones are dropped as new ones come.
pub const MAX_UPDATE_HISTORY: i64 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcceptedIndex {
    pub serial: u64,
    pub index_sha256: String,
    pub key_id: String,
    pub accepted_at: i64,
}

/// One update event: what, from, to, when, result, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateRecord {
    pub at: i64,
    pub kind: String,
    pub name: String,
    pub from_version: String,
    pub to_version: String,
    /// `installed`, `rolled_back`, `refused`, `failed`, `staged` (a system
    /// bundle written to the other slot), `recovered`.
    pub result: String,
    pub reason: String,
    pub serial: u64,
}

/// A model made current whose self-test has not finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingActivation {
    pub name: String,
    pub from_version: String,
    pub to_version: String,
    pub started_at: i64,
}

impl Store {
    pub fn accepted_index(&self) -> Result<Option<AcceptedIndex>> {
        Ok(self
            .conn
            .query_row(
                "SELECT serial, index_sha256, key_id, accepted_at FROM update_accepted WHERE id = 1",
                [],
                |r| {
                    Ok(AcceptedIndex {
                        serial: r.get::<_, i64>(0)?.max(0) as u64,
                        index_sha256: r.get(1)?,
                        key_id: r.get(2)?,
                        accepted_at: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records `a` as the newest accepted index. Never moves backwards: an
    /// older serial leaves the row as it is (returns false).
    pub fn accept_index(&mut self, a: &AcceptedIndex) -> Result<bool> {
        let serial = i64::try_from(a.serial).unwrap_or(i64::MAX);
        let n = self.conn.execute(
            "INSERT INTO update_accepted(id, serial, index_sha256, key_id, accepted_at)
             VALUES (1, ?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET serial = excluded.serial,
                 index_sha256 = excluded.index_sha256, key_id = excluded.key_id,
                 accepted_at = excluded.accepted_at
             WHERE excluded.serial >= update_accepted.serial",
            params![serial, a.index_sha256, a.key_id, a.accepted_at],
        )?;
        Ok(n == 1)
    }

    pub fn record_update(&mut self, r: &UpdateRecord) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO update_history(at, kind, name, from_version, to_version, result, reason, serial)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                r.at,
                r.kind,
                r.name,
                r.from_version,
                r.to_version,
                r.result,
                r.reason,
                i64::try_from(r.serial).unwrap_or(i64::MAX)
            ],
        )?;
        tx.execute(
            "DELETE FROM update_history WHERE id <= (SELECT MAX(id) FROM update_history) - ?1",
            [MAX_UPDATE_HISTORY],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The newest `limit` history rows, newest first.
    pub fn update_history(&self, limit: usize) -> Result<Vec<UpdateRecord>> {
        let mut st = self.conn.prepare(
            "SELECT at, kind, name, from_version, to_version, result, reason, serial
             FROM update_history ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = st.query_map([limit as i64], |r| {
            Ok(UpdateRecord {
                at: r.get(0)?,
                kind: r.get(1)?,
                name: r.get(2)?,
                from_version: r.get(3)?,
                to_version: r.get(4)?,
                result: r.get(5)?,
                reason: r.get(6)?,
                serial: r.get::<_, i64>(7)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn set_pending_activation(&mut self, p: &PendingActivation) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO update_pending(name, from_version, to_version, started_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![p.name, p.from_version, p.to_version, p.started_at],
        )?;
        Ok(())
    }

    pub fn pending_activations(&self) -> Result<Vec<PendingActivation>> {
        let mut st = self.conn.prepare(
            "SELECT name, from_version, to_version, started_at FROM update_pending ORDER BY name",
        )?;
        let rows = st.query_map([], |r| {
            Ok(PendingActivation {
                name: r.get(0)?,
                from_version: r.get(1)?,
                to_version: r.get(2)?,
                started_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn clear_pending_activation(&mut self, name: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM update_pending WHERE name = ?1", [name])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accepted_serial_never_moves_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("s.sqlite3")).unwrap();
        let a = |serial| AcceptedIndex {
            serial,
            index_sha256: format!("h{serial}"),
            key_id: "K".into(),
            accepted_at: 1,
        };
        assert!(s.accept_index(&a(5)).unwrap());
        assert!(!s.accept_index(&a(4)).unwrap());
        assert_eq!(s.accepted_index().unwrap().unwrap().serial, 5);
        assert!(s.accept_index(&a(9)).unwrap());
        assert_eq!(s.accepted_index().unwrap().unwrap().index_sha256, "h9");
    }

    #[test]
    fn history_is_kept_newest_first_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("s.sqlite3")).unwrap();
        for i in 0..(MAX_UPDATE_HISTORY + 5) {
            s.record_update(&UpdateRecord {
                at: i,
                kind: "model".into(),
                name: "m".into(),
                from_version: String::new(),
                to_version: format!("v{i}"),
                result: "installed".into(),
                reason: String::new(),
                serial: 1,
            })
            .unwrap();
        }
        let h = s.update_history(2000).unwrap();
        assert_eq!(h.len() as i64, MAX_UPDATE_HISTORY);
        assert_eq!(h[0].at, MAX_UPDATE_HISTORY + 4);
    }
}
