//! Web sign-in sessions: what `web/` remembers of a signed-in browser.
//! The session id itself never reaches the store, only its SHA-256.

use super::{Result, Store};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

/// At most this many live sessions; the oldest are dropped beyond it, so a
/// client that signs in in a loop cannot grow the store.
pub const MAX_SESSIONS: i64 = 1000;

/// A stored session, found by the hash of its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub role: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Store {
    /// Records a new session (expired ones and those over [`MAX_SESSIONS`] are
    /// pruned in the same transaction).
    pub fn create_session(
        &mut self,
        id_sha256: &str,
        role: &str,
        now: i64,
        expires_at: i64,
        client: &str,
    ) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM web_sessions WHERE expires_at <= ?1", [now])?;
        tx.execute(
            "INSERT OR REPLACE INTO web_sessions(id_sha256, role, created_at, expires_at, client)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id_sha256, role, now, expires_at, client],
        )?;
        tx.execute(
            "DELETE FROM web_sessions WHERE id_sha256 IN (
                 SELECT id_sha256 FROM web_sessions ORDER BY created_at DESC, rowid DESC
                 LIMIT -1 OFFSET ?1)",
            [MAX_SESSIONS],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The live session with this id hash, if any (an expired one is none).
    pub fn session(&self, id_sha256: &str, now: i64) -> Result<Option<SessionRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT role, created_at, expires_at FROM web_sessions
                 WHERE id_sha256 = ?1 AND expires_at > ?2",
                params![id_sha256, now],
                |r| {
                    Ok(SessionRow {
                        role: r.get(0)?,
                        created_at: r.get(1)?,
                        expires_at: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Ends a session (signing out). True if there was one.
    pub fn delete_session(&self, id_sha256: &str) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM web_sessions WHERE id_sha256 = ?1", [id_sha256])?
            > 0)
    }

    /// Live sessions (for the page and tests).
    pub fn session_count(&self, now: i64) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM web_sessions WHERE expires_at > ?1",
            [now],
            |r| r.get(0),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("s.sqlite3")).unwrap();
        s.create_session("a", "read", 100, 200, "127.0.0.1")
            .unwrap();
        assert_eq!(s.session("a", 150).unwrap().unwrap().role, "read");
        assert!(s.session("a", 200).unwrap().is_none(), "expired at 200");
        assert!(s.session("b", 150).unwrap().is_none());
        for i in 0..(MAX_SESSIONS + 5) {
            s.create_session(&format!("k{i}"), "admin", 300 + i, 10_000, "")
                .unwrap();
        }
        assert_eq!(s.session_count(301).unwrap(), MAX_SESSIONS);
        assert!(s.session("k0", 400).unwrap().is_none(), "oldest dropped");
        assert!(s.delete_session(&format!("k{}", MAX_SESSIONS + 4)).unwrap());
        assert!(!s.delete_session("nope").unwrap());
    }
}
