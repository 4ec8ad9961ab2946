//! The local SQLite store: the OJS mirror, the service's own tables and the
//! metric history. One file under the data directory, WAL mode, versioned
//! migrations. Only this module writes SQL.

pub mod agents;
mod figures;
mod pages;
mod queries;
pub mod records;
mod screening;
mod sessions;
mod updates;
mod workflow;

pub use figures::{CachedFigureReport, FigureCheck};
pub use pages::{assignment_state, ReviewOfReviewer, ReviewerLoad, ReviewerSort};
pub use queries::*;
use records::*;
use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};
pub use screening::{
    AssessmentKey, ScreeningAuthor, ScreeningInput, AGENT_LOG_MAX_AGE_SECS, AGENT_LOG_MAX_ROWS,
};
pub use sessions::{SessionRow, MAX_SESSIONS};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
pub use updates::{AcceptedIndex, PendingActivation, UpdateRecord, MAX_UPDATE_HISTORY};
pub use workflow::{decision_kind, workflow_of, JournalWorkflow, WorkflowRows, DECISION_KINDS};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open store {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("store {path} has schema version {found}, newer than this ojscog knows ({known}); refusing to touch it")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("store query failed: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("stored JSON is malformed: {0}")]
    Json(#[from] serde_json::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Migrations in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("sessions.sql"),
    include_str!("updates.sql"),
    include_str!("figures.sql"),
];

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// What one sync batch changes, applied in a single transaction.
#[derive(Debug, Default)]
pub struct Batch {
    pub journals: Option<(Vec<Journal>, Vec<Section>)>,
    pub reviewers: Option<Vec<Reviewer>>,
    pub upsert: Vec<SubmissionRecord>,
    pub delete: Vec<i64>,
    /// sync_state keys written with the batch (e.g. the OJS version).
    pub state: Vec<(String, String)>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchOutcome {
    pub rows_changed: u64,
    pub rows_deleted: u64,
}

impl Store {
    /// Opens (creating if needed) the store read-write and runs migrations.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.configure(true)?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing store for reading only (the CLI's `status`, web workers).
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.configure(false)?;
        let v = store.schema_version()?;
        if v > MIGRATIONS.len() as i64 {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: v,
                known: MIGRATIONS.len() as i64,
            });
        }
        Ok(store)
    }

    fn configure(&self, writer: bool) -> Result<()> {
        self.conn.busy_timeout(Duration::from_secs(10))?;
        if writer {
            // WAL: readers never block the writer; synchronous=FULL makes every
            // commit durable across power loss (the box has no UPS).
            self.conn
                .query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))?;
            self.conn.execute_batch("PRAGMA synchronous=FULL;")?;
        }
        self.conn.execute_batch("PRAGMA foreign_keys=ON;")?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<()> {
        let current = self.schema_version()?;
        let known = MIGRATIONS.len() as i64;
        if current > known {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: current,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
            tracing::info!(version = i + 1, "store migrated");
        }
        Ok(())
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    // ---- sync state ---------------------------------------------------------

    pub fn state(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM sync_state WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_state(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO sync_state(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Fingerprints of the mirrored submissions, by id.
    pub fn submission_fingerprints(&self) -> Result<HashMap<i64, String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, fingerprint FROM submissions")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn start_run(&self, now: i64) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO sync_runs(started_at, outcome) VALUES (?1, 'running')",
            [now],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records a run that shutdown stopped before it finished.
    pub fn interrupt_run(&self, run: i64, now: i64, outcome: BatchOutcome) -> Result<()> {
        self.conn.execute(
            "UPDATE sync_runs SET finished_at = ?2, outcome = 'interrupted', rows_changed = ?3,
                    rows_deleted = ?4, error = 'interrupted by shutdown' WHERE id = ?1",
            params![
                run,
                now,
                outcome.rows_changed as i64,
                outcome.rows_deleted as i64
            ],
        )?;
        Ok(())
    }

    pub fn finish_run(
        &self,
        run: i64,
        now: i64,
        outcome: BatchOutcome,
        error: Option<&str>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE sync_runs SET finished_at = ?2, outcome = ?3, rows_changed = ?4,
                    rows_deleted = ?5, error = ?6 WHERE id = ?1",
            params![
                run,
                now,
                if error.is_some() { "error" } else { "ok" },
                outcome.rows_changed as i64,
                outcome.rows_deleted as i64,
                error
            ],
        )?;
        // Keep the run history bounded.
        self.conn.execute(
            "DELETE FROM sync_runs WHERE id <= (SELECT MAX(id) FROM sync_runs) - 1000",
            [],
        )?;
        Ok(())
    }

    /// Applies one batch atomically: either all of it is in the store afterwards, or none.
    pub fn apply(&mut self, batch: &Batch) -> Result<BatchOutcome> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut out = BatchOutcome::default();
        if let Some((journals, sections)) = &batch.journals {
            out.rows_changed += replace_journals(&tx, journals, sections)?;
        }
        if let Some(reviewers) = &batch.reviewers {
            let (changed, deleted) = replace_reviewers(&tx, reviewers)?;
            out.rows_changed += changed;
            out.rows_deleted += deleted;
        }
        for s in &batch.upsert {
            out.rows_changed += upsert_submission(&tx, s)?;
        }
        for id in &batch.delete {
            out.rows_deleted += tx.execute("DELETE FROM submissions WHERE id = ?1", [id])? as u64;
        }
        for (k, v) in &batch.state {
            tx.execute(
                "INSERT INTO sync_state(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![k, v],
            )?;
        }
        if out.rows_changed + out.rows_deleted > 0 {
            // What in-memory caches of mirror-derived answers are keyed on.
            tx.execute(
                "INSERT INTO sync_state(key, value) VALUES ('mirror_generation', '1')
                 ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
                [],
            )?;
        }
        tx.commit()?;
        Ok(out)
    }

    /// A number that changes whenever [`Store::apply`] changes the mirror
    /// (0 before the first change): a cheap key for caches of what is
    /// computed from it.
    pub fn mirror_generation(&self) -> Result<i64> {
        Ok(self
            .state("mirror_generation")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    // ---- metrics history ----------------------------------------------------

    pub fn insert_samples(&mut self, ts: i64, samples: &[(String, f64)]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare(
                "INSERT OR REPLACE INTO performance_metrics(ts, name, value) VALUES (?1, ?2, ?3)",
            )?;
            for (name, value) in samples {
                if value.is_finite() {
                    stmt.execute(params![ts, name, value])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn prune_samples(&self, older_than: i64) -> Result<usize> {
        Ok(self.conn.execute(
            "DELETE FROM performance_metrics WHERE ts < ?1",
            [older_than],
        )?)
    }

    /// Samples of one metric since `since`, oldest first.
    pub fn samples(&self, name: &str, since: i64) -> Result<Vec<(i64, f64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT ts, value FROM performance_metrics WHERE name = ?1 AND ts >= ?2 ORDER BY ts",
        )?;
        let rows = stmt.query_map(params![name, since], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- backups ------------------------------------------------------------

    /// Copies the whole store into a new SQLite file at `dest` with SQLite's online backup API, in one step: one
    /// read transaction, so the copy is the store as of one instant while writers go on (WAL). `dest` must not exist.
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        let mut out = Connection::open(dest)?;
        {
            let b = rusqlite::backup::Backup::new(&self.conn, &mut out)?;
            b.step(-1)?;
        }
        // The copy is a plain rollback-journal file: one file, nothing beside it.
        out.execute_batch("PRAGMA journal_mode=DELETE;")?;
        Ok(())
    }

    /// The highest store schema version this binary knows (a backup from a newer one is refused).
    pub fn known_schema_version() -> i64 {
        MIGRATIONS.len() as i64
    }

    /// `PRAGMA integrity_check`'s findings ("ok" when there are none).
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- the agents' log ----------------------------------------------------

    pub fn log_agent_run(&self, run: &AgentRun) -> Result<()> {
        self.conn.execute(
            "INSERT INTO agent_execution_log(agent, submission_id, started_at, duration_seconds,
                                             outcome, model_id, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                run.agent,
                run.submission_id,
                run.started_at,
                run.duration_seconds,
                run.outcome,
                run.model_id,
                run.detail
            ],
        )?;
        // Keep the log bounded, like `sync_runs` (by count) and by age.
        self.prune_agent_runs(run.started_at)?;
        Ok(())
    }
}

/// One row of `agent_execution_log`.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRun {
    pub agent: String,
    pub submission_id: Option<i64>,
    pub started_at: i64,
    pub duration_seconds: f64,
    pub outcome: String,
    pub model_id: Option<String>,
    pub detail: Option<String>,
}

fn replace_journals(tx: &Transaction, journals: &[Journal], sections: &[Section]) -> Result<u64> {
    let mut changed = 0u64;
    let keep: Vec<i64> = journals.iter().map(|j| j.id).collect();
    changed += delete_missing(tx, "journals", &keep)?;
    for j in journals {
        changed += tx.execute(
            "INSERT INTO journals(id, path, name, primary_locale, locales, enabled)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(id) DO UPDATE SET path = excluded.path, name = excluded.name,
                 primary_locale = excluded.primary_locale, locales = excluded.locales,
                 enabled = excluded.enabled
             WHERE (path, name, primary_locale, locales, enabled)
                 IS NOT (excluded.path, excluded.name, excluded.primary_locale,
                         excluded.locales, excluded.enabled)",
            params![
                j.id,
                j.path,
                j.name,
                j.primary_locale,
                serde_json::to_string(&j.locales)?,
                j.enabled
            ],
        )? as u64;
    }
    let keep: Vec<i64> = sections.iter().map(|s| s.id).collect();
    changed += delete_missing(tx, "sections", &keep)?;
    for s in sections {
        changed += tx.execute(
            "INSERT INTO sections(id, journal_id, title, abbrev) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET journal_id = excluded.journal_id,
                 title = excluded.title, abbrev = excluded.abbrev
             WHERE (journal_id, title, abbrev) IS NOT (excluded.journal_id, excluded.title, excluded.abbrev)",
            params![s.id, s.journal_id, s.title, s.abbrev],
        )? as u64;
    }
    Ok(changed)
}

/// Deletes rows of `table` whose id is not in `keep`; returns how many went.
fn delete_missing(tx: &Transaction, table: &str, keep: &[i64]) -> Result<u64> {
    let existing: Vec<i64> = {
        let mut stmt = tx.prepare(&format!("SELECT id FROM {table}"))?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let keep: std::collections::HashSet<i64> = keep.iter().copied().collect();
    let mut n = 0;
    for id in existing.into_iter().filter(|id| !keep.contains(id)) {
        n += tx.execute(&format!("DELETE FROM {table} WHERE id = ?1"), [id])? as u64;
    }
    Ok(n)
}

fn replace_reviewers(tx: &Transaction, reviewers: &[Reviewer]) -> Result<(u64, u64)> {
    let keep: Vec<i64> = reviewers.iter().map(|r| r.id).collect();
    let deleted = delete_missing(tx, "reviewers", &keep)?;
    let mut changed = 0u64;
    for r in reviewers {
        changed += tx.execute(
            "INSERT INTO reviewers(id, username, email, given_name, family_name, affiliation, disabled)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(id) DO UPDATE SET username = excluded.username, email = excluded.email,
                 given_name = excluded.given_name, family_name = excluded.family_name,
                 affiliation = excluded.affiliation, disabled = excluded.disabled
             WHERE (username, email, given_name, family_name, affiliation, disabled)
                 IS NOT (excluded.username, excluded.email, excluded.given_name,
                         excluded.family_name, excluded.affiliation, excluded.disabled)",
            params![
                r.id,
                r.username,
                r.email,
                r.given_name,
                r.family_name,
                r.affiliation,
                r.disabled
            ],
        )? as u64;
        let current: Vec<String> = {
            let mut stmt = tx.prepare_cached(
                "SELECT term FROM reviewer_interests WHERE reviewer_id = ?1 ORDER BY term",
            )?;
            let rows = stmt.query_map([r.id], |row| row.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut wanted = r.interests.clone();
        wanted.sort();
        wanted.dedup();
        if current != wanted {
            tx.execute(
                "DELETE FROM reviewer_interests WHERE reviewer_id = ?1",
                [r.id],
            )?;
            for t in &wanted {
                tx.execute(
                    "INSERT INTO reviewer_interests(reviewer_id, term) VALUES (?1, ?2)",
                    params![r.id, t],
                )?;
            }
            changed += 1;
        }
    }
    Ok((changed, deleted))
}

/// Replaces one submission and all its children; returns 1 if anything changed.
fn upsert_submission(tx: &Transaction, s: &SubmissionRecord) -> Result<u64> {
    let existing: Option<String> = tx
        .query_row(
            "SELECT fingerprint FROM submissions WHERE id = ?1",
            [s.id],
            |r| r.get(0),
        )
        .optional()?;
    if existing.as_deref() == Some(s.fingerprint.as_str()) && !s.fingerprint.is_empty() {
        return Ok(0);
    }
    let primary = s.primary_text();
    // Children are replaced wholesale: delete the parent row's children, then re-insert.
    for table in [
        "publication_texts",
        "authors",
        "submission_terms",
        "review_assignments",
        "review_rounds",
        "editorial_decisions",
        "submission_files",
    ] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE submission_id = ?1"),
            [s.id],
        )?;
    }
    tx.execute(
        "INSERT INTO submissions(id, journal_id, section_id, publication_id, publication_version,
             status, stage_id, submitted, locale, title, abstract, date_submitted,
             date_last_activity, last_modified, fingerprint)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT(id) DO UPDATE SET journal_id = excluded.journal_id,
             section_id = excluded.section_id, publication_id = excluded.publication_id,
             publication_version = excluded.publication_version, status = excluded.status,
             stage_id = excluded.stage_id, submitted = excluded.submitted, locale = excluded.locale,
             title = excluded.title, abstract = excluded.abstract,
             date_submitted = excluded.date_submitted,
             date_last_activity = excluded.date_last_activity,
             last_modified = excluded.last_modified, fingerprint = excluded.fingerprint",
        params![
            s.id,
            s.journal_id,
            s.section_id,
            s.publication_id,
            s.publication_version,
            s.status,
            s.stage_id,
            s.submitted,
            s.locale,
            primary.title,
            primary.abstract_text,
            s.date_submitted,
            s.date_last_activity,
            s.last_modified,
            s.fingerprint
        ],
    )?;
    for t in &s.texts {
        tx.execute(
            "INSERT OR REPLACE INTO publication_texts(submission_id, locale, title, abstract)
             VALUES (?1, ?2, ?3, ?4)",
            params![s.id, t.locale, t.title, t.abstract_text],
        )?;
    }
    for a in &s.authors {
        tx.execute(
            "INSERT OR REPLACE INTO authors(id, submission_id, seq, given_name, family_name,
                 affiliation, email, country, orcid)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                a.id,
                s.id,
                a.seq,
                a.given_name,
                a.family_name,
                a.affiliation,
                a.email,
                a.country,
                a.orcid
            ],
        )?;
    }
    for t in &s.terms {
        tx.execute(
            "INSERT OR IGNORE INTO submission_terms(submission_id, kind, locale, term, seq)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![s.id, t.kind, t.locale, t.term, t.seq],
        )?;
    }
    for r in &s.review_rounds {
        tx.execute(
            "INSERT OR REPLACE INTO review_rounds(id, submission_id, stage_id, round, status)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![r.id, s.id, r.stage_id, r.round, r.status],
        )?;
    }
    for a in &s.review_assignments {
        tx.execute(
            "INSERT OR REPLACE INTO review_assignments(id, submission_id, reviewer_id,
                 review_round_id, stage_id, round, recommendation, date_assigned, date_notified,
                 date_confirmed, date_completed, date_due, date_response_due, last_modified,
                 declined, cancelled)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
                a.id,
                s.id,
                a.reviewer_id,
                a.review_round_id,
                a.stage_id,
                a.round,
                a.recommendation,
                a.date_assigned,
                a.date_notified,
                a.date_confirmed,
                a.date_completed,
                a.date_due,
                a.date_response_due,
                a.last_modified,
                a.declined,
                a.cancelled
            ],
        )?;
    }
    for f in &s.files {
        tx.execute(
            "INSERT OR REPLACE INTO submission_files(id, submission_id, file_id, stage, name, path,
                 mimetype, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                f.id,
                s.id,
                f.file_id,
                f.stage,
                f.name,
                f.path,
                f.mimetype,
                f.updated_at
            ],
        )?;
    }
    for d in &s.decisions {
        tx.execute(
            "INSERT OR REPLACE INTO editorial_decisions(id, submission_id, review_round_id,
                 stage_id, round, editor_id, decision, date_decided)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                d.id,
                s.id,
                d.review_round_id,
                d.stage_id,
                d.round,
                d.editor_id,
                d.decision,
                d.date_decided
            ],
        )?;
    }
    Ok(1)
}
