//! What the figure checks read and write: a submission's mirrored files, the
//! report cache by (file sha256, model), and the last check of each file.

use super::{Result, Store};
use crate::store::records::SubmissionFile;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

/// A cached report of one file's bytes by one set of detectors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CachedFigureReport {
    pub summary: String,
    pub problems: Vec<String>,
    /// The whole report, as the checks wrote it.
    pub report: serde_json::Value,
    pub created_at: i64,
}

/// The last check of one file of a submission: the report's key, or why it could not be checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FigureCheck {
    pub submission_id: i64,
    /// `ojs` (the submission's file in OJS's files directory) or `upload` (given by hand).
    pub source: String,
    pub name: String,
    pub submission_file_id: Option<i64>,
    pub sha256: Option<String>,
    pub model: Option<String>,
    pub error: Option<String>,
    pub checked_at: i64,
}

impl Store {
    /// The submission's files as OJS records them, in OJS's order.
    pub fn submission_files(&self, submission_id: i64) -> Result<Vec<SubmissionFile>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, file_id, stage, name, path, mimetype, updated_at FROM submission_files
             WHERE submission_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([submission_id], |r| {
            Ok(SubmissionFile {
                id: r.get(0)?,
                file_id: r.get(1)?,
                stage: r.get(2)?,
                name: r.get(3)?,
                path: r.get(4)?,
                mimetype: r.get(5)?,
                updated_at: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The cached report of `sha256` by `model`, if there is one.
    pub fn figure_report(&self, sha256: &str, model: &str) -> Result<Option<CachedFigureReport>> {
        let row: Option<(String, String, String, i64)> = self
            .conn
            .query_row(
                "SELECT summary, problems, report, created_at FROM figure_reports
                 WHERE sha256 = ?1 AND model = ?2",
                params![sha256, model],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        row.map(|(summary, problems, report, created_at)| {
            Ok(CachedFigureReport {
                summary,
                problems: serde_json::from_str(&problems)?,
                report: serde_json::from_str(&report)?,
                created_at,
            })
        })
        .transpose()
    }

    /// Caches a file's report (a report of the same bytes by the same models replaces it).
    pub fn save_figure_report(
        &self,
        sha256: &str,
        model: &str,
        report: &CachedFigureReport,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO figure_reports(sha256, model, summary, problems, report, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                sha256,
                model,
                report.summary,
                serde_json::to_string(&report.problems)?,
                serde_json::to_string(&report.report)?,
                report.created_at
            ],
        )?;
        Ok(())
    }

    /// Records the last check of a file of a submission (replacing the one before).
    pub fn record_figure_check(&self, c: &FigureCheck) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO figure_checks(submission_id, source, name, submission_file_id,
                 sha256, model, error, checked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                c.submission_id,
                c.source,
                c.name,
                c.submission_file_id,
                c.sha256,
                c.model,
                c.error,
                c.checked_at
            ],
        )?;
        Ok(())
    }

    /// The last checks of a submission's files, each with its cached report when there is one; OJS's files first.
    pub fn figure_checks(
        &self,
        submission_id: i64,
    ) -> Result<Vec<(FigureCheck, Option<CachedFigureReport>)>> {
        let mut stmt = self.conn.prepare(
            "SELECT submission_id, source, name, submission_file_id, sha256, model, error, checked_at
             FROM figure_checks WHERE submission_id = ?1
             ORDER BY source, submission_file_id, name",
        )?;
        let checks = stmt
            .query_map([submission_id], |r| {
                Ok(FigureCheck {
                    submission_id: r.get(0)?,
                    source: r.get(1)?,
                    name: r.get(2)?,
                    submission_file_id: r.get(3)?,
                    sha256: r.get(4)?,
                    model: r.get(5)?,
                    error: r.get(6)?,
                    checked_at: r.get(7)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        checks
            .into_iter()
            .map(|c| {
                let report = match (&c.sha256, &c.model) {
                    (Some(s), Some(m)) if c.error.is_none() => self.figure_report(s, m)?,
                    _ => None,
                };
                Ok((c, report))
            })
            .collect()
    }
}
