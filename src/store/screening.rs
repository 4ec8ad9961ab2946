//! What the screening agent reads and writes: one submission's text and
//! metadata with its journal's sections, the assessment cache, and the
//! bounds of the agents' log.

use super::{Result, Store};
use rusqlite::{params, OptionalExtension};

/// `agent_execution_log` keeps at most this many rows (the newest).
pub const AGENT_LOG_MAX_ROWS: i64 = 10_000;
/// ... and none older than this (90 days).
pub const AGENT_LOG_MAX_AGE_SECS: i64 = 90 * 86_400;

/// Everything the screening agent looks at for one submission.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScreeningInput {
    pub submission_id: i64,
    pub journal_id: i64,
    pub journal_name: String,
    /// Title of the section the author chose, if any.
    pub section: Option<String>,
    /// Titles of all sections of the journal, in id order.
    pub sections: Vec<String>,
    pub title: String,
    pub abstract_text: String,
    pub locale: String,
    pub submitted: bool,
    pub publication_id: Option<i64>,
    pub publication_version: Option<i64>,
    pub authors: Vec<ScreeningAuthor>,
    /// Keywords, the submission's locale first, without case-insensitive duplicates.
    pub keywords: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScreeningAuthor {
    pub name: String,
    pub affiliation: String,
    pub email: String,
    pub orcid: String,
}

/// The key of `quality_assessment_cache`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessmentKey {
    pub submission_id: i64,
    pub publication_id: i64,
    pub publication_version: i64,
    pub model_sha256: String,
}

impl Store {
    /// The submission's screening input, or None when there is no such submission.
    pub fn screening_input(&self, submission_id: i64) -> Result<Option<ScreeningInput>> {
        let c = self.conn();
        let row = c
            .query_row(
                "SELECT s.id, s.journal_id, COALESCE(j.name, ''), sec.title, s.title, s.abstract,
                        s.locale, s.submitted, s.publication_id, s.publication_version
                 FROM submissions s
                 LEFT JOIN journals j ON j.id = s.journal_id
                 LEFT JOIN sections sec ON sec.id = s.section_id
                 WHERE s.id = ?1",
                [submission_id],
                |r| {
                    Ok(ScreeningInput {
                        submission_id: r.get(0)?,
                        journal_id: r.get(1)?,
                        journal_name: r.get(2)?,
                        section: r.get(3)?,
                        title: r.get(4)?,
                        abstract_text: r.get(5)?,
                        locale: r.get(6)?,
                        submitted: r.get(7)?,
                        publication_id: r.get(8)?,
                        publication_version: r.get(9)?,
                        ..Default::default()
                    })
                },
            )
            .optional()?;
        let Some(mut input) = row else {
            return Ok(None);
        };
        input.sections = c
            .prepare_cached("SELECT title FROM sections WHERE journal_id = ?1 ORDER BY id")?
            .query_map([input.journal_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        input.authors = c
            .prepare_cached(
                "SELECT trim(given_name || ' ' || family_name), affiliation, email, orcid
                 FROM authors WHERE submission_id = ?1 ORDER BY seq, id",
            )?
            .query_map([submission_id], |r| {
                Ok(ScreeningAuthor {
                    name: r.get(0)?,
                    affiliation: r.get(1)?,
                    email: r.get(2)?,
                    orcid: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut stmt = c.prepare_cached(
            "SELECT term FROM submission_terms WHERE submission_id = ?1 AND kind = 'keyword'
             ORDER BY (locale = ?2) DESC, locale, seq, term",
        )?;
        for k in stmt.query_map(params![submission_id, input.locale], |r| {
            r.get::<_, String>(0)
        })? {
            let k = k?;
            let k = k.trim();
            if !k.is_empty() && !input.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                input.keywords.push(k.to_string());
            }
        }
        Ok(Some(input))
    }

    /// The cached report (JSON text) and when it was made.
    pub fn cached_assessment(&self, key: &AssessmentKey) -> Result<Option<(String, i64)>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT report, created_at FROM quality_assessment_cache
                 WHERE submission_id = ?1 AND publication_id = ?2 AND publication_version = ?3
                   AND model_sha256 = ?4",
                params![
                    key.submission_id,
                    key.publication_id,
                    key.publication_version,
                    key.model_sha256
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Stores (or replaces) a report; `report` must be JSON (the table checks it).
    pub fn put_assessment(&self, key: &AssessmentKey, report: &str, created_at: i64) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO quality_assessment_cache(submission_id, publication_id,
                 publication_version, model_sha256, report, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                key.submission_id,
                key.publication_id,
                key.publication_version,
                key.model_sha256,
                report,
                created_at
            ],
        )?;
        Ok(())
    }

    /// Drops every cached report of a submission (all versions and models).
    pub fn forget_assessments(&self, submission_id: i64) -> Result<usize> {
        Ok(self.conn().execute(
            "DELETE FROM quality_assessment_cache WHERE submission_id = ?1",
            [submission_id],
        )?)
    }

    /// Drops `agent_execution_log` rows older than [`AGENT_LOG_MAX_AGE_SECS`]
    /// before `now`, and all but the newest [`AGENT_LOG_MAX_ROWS`]. Runs on
    /// every insert (as `sync_runs` is pruned in `finish_run`); both deletes use
    /// an index (the rowid, `agent_execution_log_started`). Returns the rows dropped.
    pub fn prune_agent_runs(&self, now: i64) -> Result<usize> {
        let c = self.conn();
        let by_count = c.execute(
            "DELETE FROM agent_execution_log
             WHERE id <= (SELECT MAX(id) FROM agent_execution_log) - ?1",
            [AGENT_LOG_MAX_ROWS],
        )?;
        let by_age = c.execute(
            "DELETE FROM agent_execution_log WHERE started_at < ?1",
            [now - AGENT_LOG_MAX_AGE_SECS],
        )?;
        Ok(by_count + by_age)
    }

    /// How many runs of `agent` are logged, optionally for one submission and outcome.
    pub fn agent_run_count(
        &self,
        agent: &str,
        submission_id: Option<i64>,
        outcome: Option<&str>,
    ) -> Result<i64> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*) FROM agent_execution_log WHERE agent = ?1
               AND (?2 IS NULL OR submission_id = ?2) AND (?3 IS NULL OR outcome = ?3)",
            params![agent, submission_id, outcome],
            |r| r.get(0),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_and_cache_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.sqlite3");
        crate::demo::load(&p).unwrap();
        let s = Store::open(&p).unwrap();
        let i = s.screening_input(1).unwrap().unwrap();
        assert_eq!(
            i.sections,
            vec!["Articles", "Reviews", "Short Communications"]
        );
        assert_eq!(i.section.as_deref(), Some("Articles"));
        assert_eq!(i.authors.len(), 2);
        assert!(i.keywords.contains(&"Acropora".to_string()));
        assert_eq!(i.publication_version, Some(1));
        assert!(s.screening_input(9999).unwrap().is_none());
        let key = AssessmentKey {
            submission_id: 1,
            publication_id: 1,
            publication_version: 1,
            model_sha256: "abc".into(),
        };
        assert!(s.cached_assessment(&key).unwrap().is_none());
        assert!(s.put_assessment(&key, "not json", 1).is_err());
        s.put_assessment(&key, "{\"a\":1}", 5).unwrap();
        assert_eq!(
            s.cached_assessment(&key).unwrap(),
            Some(("{\"a\":1}".to_string(), 5))
        );
        assert_eq!(s.forget_assessments(1).unwrap(), 1);
        assert_eq!(s.agent_run_count("screening", Some(1), None).unwrap(), 0);
    }
}
