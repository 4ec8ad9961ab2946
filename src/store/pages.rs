//! Read-side queries of the editors' pages: one page of a list at a time
//! (LIMIT/OFFSET over indexed columns plus a count), so a journal with
//! thousands of submissions and reviewers renders as fast as a small one.
//! Times are compared with `now` passed in (OJS's `YYYY-MM-DD HH:MM:SS`, UTC).

use super::queries::SubmissionSummary;
use super::{Result, Store};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

/// How the reviewers list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewerSort {
    /// Most open reviews first (then overdue, then name).
    Load,
    /// Fewest open reviews first: who has room.
    LoadAscending,
    Name,
}

/// One reviewer's workload, as the reviewers pages show it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReviewerLoad {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub affiliation: String,
    pub disabled: bool,
    pub open: i64,
    pub overdue: i64,
    pub completed_12_months: i64,
    pub completed: i64,
    /// Invitations answered no, over all invitations answered or declined.
    pub declined: i64,
    pub invited: i64,
    pub avg_days_to_complete: Option<f64>,
    pub interests: Vec<String>,
}

/// One review of a reviewer's history (the reviewer page's "recent reviews").
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReviewOfReviewer {
    pub submission_id: i64,
    pub title: String,
    pub round: Option<i64>,
    pub state: String,
    pub recommendation: Option<String>,
    pub date_assigned: Option<String>,
    pub date_due: Option<String>,
    pub date_completed: Option<String>,
}

const LOAD_SQL: &str = "
SELECT r.id, trim(r.given_name || ' ' || r.family_name), r.email, r.affiliation, r.disabled,
       COALESCE(SUM(ra.date_completed IS NULL AND ra.declined = 0 AND ra.cancelled = 0 AND s.status = 1), 0) AS open,
       COALESCE(SUM(ra.date_completed IS NULL AND ra.declined = 0 AND ra.cancelled = 0 AND s.status = 1
                    AND ra.date_due < ?1), 0) AS overdue,
       COALESCE(SUM(ra.date_completed >= ?2 AND ra.declined = 0 AND ra.cancelled = 0), 0),
       COALESCE(SUM(ra.date_completed IS NOT NULL AND ra.declined = 0 AND ra.cancelled = 0), 0),
       COALESCE(SUM(ra.declined = 1), 0),
       COUNT(ra.id),
       AVG(CASE WHEN ra.date_completed IS NOT NULL AND ra.declined = 0 AND ra.cancelled = 0
                THEN julianday(ra.date_completed) - julianday(COALESCE(ra.date_notified, ra.date_assigned)) END)
FROM reviewers r
LEFT JOIN review_assignments ra ON ra.reviewer_id = r.id
LEFT JOIN submissions s ON s.id = ra.submission_id";

fn load_from_row(r: &rusqlite::Row) -> rusqlite::Result<ReviewerLoad> {
    Ok(ReviewerLoad {
        id: r.get(0)?,
        name: r.get(1)?,
        email: r.get(2)?,
        affiliation: r.get(3)?,
        disabled: r.get(4)?,
        open: r.get(5)?,
        overdue: r.get(6)?,
        completed_12_months: r.get(7)?,
        completed: r.get(8)?,
        declined: r.get(9)?,
        invited: r.get(10)?,
        avg_days_to_complete: r.get(11)?,
        interests: Vec::new(),
    })
}

/// `now` minus a year, in OJS's date format (for "completed in the last 12 months").
fn year_before(now: &str) -> String {
    match now.get(..4).and_then(|y| y.parse::<i32>().ok()) {
        Some(y) => format!("{}{}", y - 1, &now[4..]),
        None => now.to_string(),
    }
}

impl Store {
    /// One page of submissions, newest first: every submitted one, or those
    /// in `stage` and still in the workflow. Returns the page and the total.
    pub fn submissions_page(
        &self,
        stage: Option<i64>,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<SubmissionSummary>, usize)> {
        let filter = "s.submitted = 1 AND (?1 IS NULL OR (s.stage_id = ?1 AND s.status = 1))";
        let total: i64 = self.conn().query_row(
            &format!("SELECT COUNT(*) FROM submissions s WHERE {filter}"),
            params![stage],
            |r| r.get(0),
        )?;
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT s.id, s.journal_id, sec.title, s.title, s.status, s.stage_id, s.submitted,
                    s.date_submitted, s.date_last_activity
             FROM submissions s LEFT JOIN sections sec ON sec.id = s.section_id
             WHERE {filter}
             ORDER BY COALESCE(s.date_submitted, '') DESC, s.id DESC LIMIT ?2 OFFSET ?3"
        ))?;
        let mut out: Vec<SubmissionSummary> = stmt
            .query_map(params![stage, limit as i64, offset as i64], |r| {
                self.summary_row(r)
            })?
            .collect::<std::result::Result<_, _>>()?;
        for s in &mut out {
            self.fill_summary(s)?;
        }
        Ok((out, total as usize))
    }

    /// One page of reviewers with their workload, and how many there are.
    pub fn reviewer_loads(
        &self,
        now: &str,
        sort: ReviewerSort,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<ReviewerLoad>, usize)> {
        let order = match sort {
            ReviewerSort::Load => "open DESC, overdue DESC, r.family_name, r.given_name, r.id",
            ReviewerSort::LoadAscending => "open, overdue, r.family_name, r.given_name, r.id",
            ReviewerSort::Name => "r.family_name, r.given_name, r.id",
        };
        let total: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM reviewers", [], |r| r.get(0))?;
        let mut stmt = self.conn().prepare_cached(&format!(
            "{LOAD_SQL} GROUP BY r.id ORDER BY {order} LIMIT ?3 OFFSET ?4"
        ))?;
        let mut out: Vec<ReviewerLoad> = stmt
            .query_map(
                params![now, year_before(now), limit as i64, offset as i64],
                load_from_row,
            )?
            .collect::<std::result::Result<_, _>>()?;
        for r in &mut out {
            r.interests = self.interests_of(r.id)?;
        }
        Ok((out, total as usize))
    }

    /// One reviewer's workload, or None.
    pub fn reviewer_load(&self, id: i64, now: &str) -> Result<Option<ReviewerLoad>> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!("{LOAD_SQL} WHERE r.id = ?3 GROUP BY r.id"))?;
        let found = stmt
            .query_row(params![now, year_before(now), id], load_from_row)
            .optional()?;
        match found {
            Some(mut r) => {
                r.interests = self.interests_of(id)?;
                Ok(Some(r))
            }
            None => Ok(None),
        }
    }

    /// A reviewer's most recent reviews (newest assignment first).
    pub fn reviews_of(
        &self,
        reviewer: i64,
        now: &str,
        limit: usize,
    ) -> Result<Vec<ReviewOfReviewer>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT ra.submission_id, COALESCE(s.title, ''), ra.round, ra.declined, ra.cancelled,
                    ra.date_completed, ra.date_confirmed, ra.date_due < ?2, ra.recommendation,
                    ra.date_assigned, ra.date_due
             FROM review_assignments ra LEFT JOIN submissions s ON s.id = ra.submission_id
             WHERE ra.reviewer_id = ?1
             ORDER BY COALESCE(ra.date_assigned, '') DESC, ra.id DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![reviewer, now, limit as i64], |r| {
            let completed: Option<String> = r.get(5)?;
            let state = assignment_state(
                r.get(3)?,
                r.get(4)?,
                completed.is_some(),
                r.get::<_, Option<String>>(6)?.is_some(),
                r.get::<_, Option<bool>>(7)? == Some(true),
            );
            Ok(ReviewOfReviewer {
                submission_id: r.get(0)?,
                title: r.get(1)?,
                round: r.get(2)?,
                state: state.to_string(),
                recommendation: r
                    .get::<_, Option<i64>>(8)?
                    .map(|x| super::queries::recommendation_name(x).to_string()),
                date_assigned: r.get(9)?,
                date_due: r.get(10)?,
                date_completed: completed,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    fn interests_of(&self, reviewer: i64) -> Result<Vec<String>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT term FROM reviewer_interests WHERE reviewer_id = ?1 ORDER BY term",
        )?;
        let rows = stmt.query_map([reviewer], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

/// What an assignment's state is called (the same words as the API's).
pub fn assignment_state(
    declined: bool,
    cancelled: bool,
    completed: bool,
    confirmed: bool,
    overdue: bool,
) -> &'static str {
    if cancelled {
        "cancelled"
    } else if declined {
        "declined"
    } else if completed {
        "completed"
    } else if overdue {
        "overdue"
    } else if confirmed {
        "accepted"
    } else {
        "awaiting_response"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_year_before_keeps_the_time_of_day() {
        assert_eq!(year_before("2026-11-30 06:00:00"), "2025-11-30 06:00:00");
        assert_eq!(year_before("junk"), "junk");
    }

    #[test]
    fn an_assignment_state_prefers_what_ended_it() {
        assert_eq!(
            assignment_state(true, true, false, false, false),
            "cancelled"
        );
        assert_eq!(
            assignment_state(true, false, false, false, true),
            "declined"
        );
        assert_eq!(
            assignment_state(false, false, true, true, true),
            "completed"
        );
        assert_eq!(assignment_state(false, false, false, true, true), "overdue");
        assert_eq!(
            assignment_state(false, false, false, true, false),
            "accepted"
        );
        assert_eq!(
            assignment_state(false, false, false, false, false),
            "awaiting_response"
        );
    }
}
