//! Read-side queries used by the web API, the status page and the CLI.

use super::{Result, Store};
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SubmissionSummary {
    pub id: i64,
    pub journal_id: i64,
    pub section: Option<String>,
    pub title: String,
    pub status: String,
    pub stage: String,
    pub submitted: bool,
    pub date_submitted: Option<String>,
    pub date_last_activity: Option<String>,
    pub authors: Vec<String>,
    pub keywords: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SubmissionDetail {
    #[serde(flatten)]
    pub summary: SubmissionSummary,
    pub abstract_text: String,
    pub locale: String,
    pub publication_id: Option<i64>,
    pub texts: Vec<TextOut>,
    pub author_details: Vec<super::records::Author>,
    pub terms: Vec<super::records::Term>,
    pub review_assignments: Vec<AssignmentOut>,
    pub decisions: Vec<super::records::Decision>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TextOut {
    pub locale: String,
    pub title: String,
    #[serde(rename = "abstract")]
    pub abstract_text: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AssignmentOut {
    pub id: i64,
    pub reviewer_id: i64,
    pub reviewer_name: Option<String>,
    pub round: Option<i64>,
    pub state: String,
    pub recommendation: Option<String>,
    pub date_assigned: Option<String>,
    pub date_due: Option<String>,
    pub date_completed: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReviewerOut {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub affiliation: String,
    pub interests: Vec<String>,
    pub active_reviews: i64,
    pub completed_reviews: i64,
    pub declined_reviews: i64,
    pub avg_days_to_complete: Option<f64>,
    pub last_review: Option<String>,
}

/// What the status page shows of the editorial queue.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct QueueSummary {
    pub pending_total: i64,
    /// (stage name, submissions waiting there), in workflow order.
    pub pending_by_stage: Vec<(String, i64)>,
    pub reviews_overdue: i64,
    pub reviews_active: i64,
    pub incomplete_submissions: i64,
    pub published: i64,
    pub declined: i64,
    pub reviewers: i64,
    /// Reviewers with the most open reviews: (reviewer id, name, open reviews).
    pub busiest_reviewers: Vec<(i64, String, i64)>,
    /// Submissions with the least recent activity among the pending ones.
    pub oldest_pending: Vec<SubmissionSummary>,
}

#[derive(Debug, Clone, Default)]
pub struct SubmissionFilter {
    pub status: Option<i64>,
    pub stage: Option<i64>,
    pub limit: Option<usize>,
}

pub fn status_name(status: i64, submitted: bool) -> &'static str {
    if !submitted {
        return "incomplete";
    }
    match status {
        1 => "queued",
        3 => "published",
        4 => "declined",
        5 => "scheduled",
        _ => "unknown",
    }
}

/// Parses the API's `status=` value (name or OJS number); `incomplete`
/// (not yet submitted by the author) is 0.
pub fn parse_status(s: &str) -> Option<i64> {
    match s {
        "incomplete" | "0" => Some(0),
        "queued" | "1" => Some(1),
        "published" | "3" => Some(3),
        "declined" | "4" => Some(4),
        "scheduled" | "5" => Some(5),
        _ => None,
    }
}

pub fn stage_name(stage: i64) -> &'static str {
    match stage {
        1 => "submission",
        2 => "internal_review",
        3 => "review",
        4 => "copyediting",
        5 => "production",
        _ => "unknown",
    }
}

pub fn parse_stage(s: &str) -> Option<i64> {
    match s {
        "submission" | "1" => Some(1),
        "internal_review" | "2" => Some(2),
        "review" | "external_review" | "3" => Some(3),
        "copyediting" | "editing" | "4" => Some(4),
        "production" | "5" => Some(5),
        _ => None,
    }
}

pub fn recommendation_name(r: i64) -> &'static str {
    match r {
        1 => "accept",
        2 => "pending_revisions",
        3 => "resubmit_here",
        4 => "resubmit_elsewhere",
        5 => "decline",
        6 => "see_comments",
        _ => "unknown",
    }
}

/// An editorial decision's name (OJS's `Decision` constants, 3.3-3.5).
pub fn decision_name(decision: i64) -> &'static str {
    match decision {
        1 => "Sent to internal review",
        2 => "Accepted",
        3 => "Sent to external review",
        4 => "Revisions requested",
        5 => "Resubmit for review",
        6 => "Declined",
        7 => "Sent to production",
        8 => "Declined before review",
        9 => "Recommended: accept",
        10 => "Recommended: revisions",
        11 => "Recommended: resubmit",
        12 => "Recommended: decline",
        14 => "New review round",
        15 => "Decline reverted",
        16 => "Initial decline reverted",
        17 => "External review skipped",
        29 => "Back from production",
        30 => "Back from copyediting",
        31 => "Review round cancelled",
        _ => "Other decision",
    }
}

const SUMMARY_COLUMNS: &str =
    "s.id, s.journal_id, sec.title, s.title, s.status, s.stage_id, s.submitted,
     s.date_submitted, s.date_last_activity";

impl Store {
    pub(super) fn summary_row(&self, r: &Row) -> rusqlite::Result<SubmissionSummary> {
        self.summary_from_row(r)
    }

    pub(super) fn fill_summary(&self, s: &mut SubmissionSummary) -> Result<()> {
        self.fill_people_and_terms(s)
    }

    fn summary_from_row(&self, r: &Row) -> rusqlite::Result<SubmissionSummary> {
        let id: i64 = r.get(0)?;
        let status: i64 = r.get(4)?;
        let submitted: bool = r.get(6)?;
        Ok(SubmissionSummary {
            id,
            journal_id: r.get(1)?,
            section: r.get(2)?,
            title: r.get(3)?,
            status: status_name(status, submitted).to_string(),
            stage: stage_name(r.get(5)?).to_string(),
            submitted,
            date_submitted: r.get(7)?,
            date_last_activity: r.get(8)?,
            authors: Vec::new(),
            keywords: Vec::new(),
        })
    }

    fn fill_people_and_terms(&self, s: &mut SubmissionSummary) -> Result<()> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT trim(given_name || ' ' || family_name) FROM authors
             WHERE submission_id = ?1 ORDER BY seq, id",
        )?;
        s.authors = stmt
            .query_map([s.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut stmt = self.conn().prepare_cached(
            "SELECT term FROM submission_terms t JOIN submissions s ON s.id = t.submission_id
             WHERE t.submission_id = ?1 AND t.kind = 'keyword'
             ORDER BY (t.locale = s.locale) DESC, t.locale, t.seq, t.term",
        )?;
        let mut kws: Vec<String> = Vec::new();
        for k in stmt.query_map([s.id], |r| r.get::<_, String>(0))? {
            let k = k?;
            if !kws.iter().any(|x| x.eq_ignore_ascii_case(&k)) {
                kws.push(k);
            }
        }
        s.keywords = kws;
        Ok(())
    }

    pub fn list_submissions(&self, f: &SubmissionFilter) -> Result<Vec<SubmissionSummary>> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM submissions s LEFT JOIN sections sec ON sec.id = s.section_id
             WHERE (?1 IS NULL OR (?1 = 0 AND s.submitted = 0) OR (s.status = ?1 AND s.submitted = 1))
               AND (?2 IS NULL OR s.stage_id = ?2)
             ORDER BY s.id LIMIT ?3"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let limit = f.limit.map(|l| l as i64).unwrap_or(-1);
        let mut out: Vec<SubmissionSummary> = stmt
            .query_map(params![f.status, f.stage, limit], |r| {
                self.summary_from_row(r)
            })?
            .collect::<Result<_, _>>()?;
        for s in &mut out {
            self.fill_people_and_terms(s)?;
        }
        Ok(out)
    }

    pub fn submission(&self, id: i64) -> Result<Option<SubmissionDetail>> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}, s.abstract, s.locale, s.publication_id
             FROM submissions s LEFT JOIN sections sec ON sec.id = s.section_id WHERE s.id = ?1"
        );
        let found = self
            .conn()
            .query_row(&sql, [id], |r| {
                Ok((
                    self.summary_from_row(r)?,
                    r.get::<_, String>(9)?,
                    r.get::<_, String>(10)?,
                    r.get::<_, Option<i64>>(11)?,
                ))
            })
            .optional()?;
        let Some((mut summary, abstract_text, locale, publication_id)) = found else {
            return Ok(None);
        };
        self.fill_people_and_terms(&mut summary)?;
        let c = self.conn();
        let texts = c
            .prepare("SELECT locale, title, abstract FROM publication_texts WHERE submission_id = ?1 ORDER BY locale")?
            .query_map([id], |r| {
                Ok(TextOut {
                    locale: r.get(0)?,
                    title: r.get(1)?,
                    abstract_text: r.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let author_details = c
            .prepare(
                "SELECT id, seq, given_name, family_name, affiliation, email, country, orcid
                 FROM authors WHERE submission_id = ?1 ORDER BY seq, id",
            )?
            .query_map([id], |r| {
                Ok(super::records::Author {
                    id: r.get(0)?,
                    seq: r.get(1)?,
                    given_name: r.get(2)?,
                    family_name: r.get(3)?,
                    affiliation: r.get(4)?,
                    email: r.get(5)?,
                    country: r.get(6)?,
                    orcid: r.get(7)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let terms = c
            .prepare("SELECT kind, locale, term, seq FROM submission_terms WHERE submission_id = ?1 ORDER BY kind, locale, seq, term")?
            .query_map([id], |r| {
                Ok(super::records::Term {
                    kind: r.get(0)?,
                    locale: r.get(1)?,
                    term: r.get(2)?,
                    seq: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let review_assignments = c
            .prepare(
                "SELECT ra.id, ra.reviewer_id, trim(r.given_name || ' ' || r.family_name), ra.round,
                        ra.declined, ra.cancelled, ra.date_completed, ra.date_confirmed,
                        ra.date_due < datetime('now'), ra.recommendation, ra.date_assigned, ra.date_due
                 FROM review_assignments ra LEFT JOIN reviewers r ON r.id = ra.reviewer_id
                 WHERE ra.submission_id = ?1 ORDER BY ra.id",
            )?
            .query_map([id], |r| {
                let declined: bool = r.get(4)?;
                let cancelled: bool = r.get(5)?;
                let completed: Option<String> = r.get(6)?;
                let confirmed: Option<String> = r.get(7)?;
                let overdue: Option<bool> = r.get(8)?;
                let state = super::assignment_state(
                    declined,
                    cancelled,
                    completed.is_some(),
                    confirmed.is_some(),
                    overdue == Some(true),
                );
                Ok(AssignmentOut {
                    id: r.get(0)?,
                    reviewer_id: r.get(1)?,
                    reviewer_name: r.get(2)?,
                    round: r.get(3)?,
                    state: state.to_string(),
                    recommendation: r
                        .get::<_, Option<i64>>(9)?
                        .map(|x| recommendation_name(x).to_string()),
                    date_assigned: r.get(10)?,
                    date_due: r.get(11)?,
                    date_completed: completed,
                })
            })?
            .collect::<Result<_, _>>()?;
        let decisions = c
            .prepare(
                "SELECT id, review_round_id, stage_id, round, editor_id, decision, date_decided
                 FROM editorial_decisions WHERE submission_id = ?1 ORDER BY date_decided, id",
            )?
            .query_map([id], |r| {
                Ok(super::records::Decision {
                    id: r.get(0)?,
                    review_round_id: r.get(1)?,
                    stage_id: r.get(2)?,
                    round: r.get(3)?,
                    editor_id: r.get(4)?,
                    decision: r.get(5)?,
                    date_decided: r.get(6)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some(SubmissionDetail {
            summary,
            abstract_text,
            locale,
            publication_id,
            texts,
            author_details,
            terms,
            review_assignments,
            decisions,
        }))
    }

    pub fn reviewers(&self) -> Result<Vec<ReviewerOut>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT r.id, trim(r.given_name || ' ' || r.family_name), r.email, r.affiliation,
                    p.active, p.completed, p.declined, p.avg_days_to_complete, p.last_review
             FROM reviewers r JOIN v_reviewer_performance p ON p.reviewer_id = r.id
             ORDER BY r.family_name, r.given_name, r.id",
        )?;
        let mut out: Vec<ReviewerOut> = stmt
            .query_map([], |r| {
                Ok(ReviewerOut {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    email: r.get(2)?,
                    affiliation: r.get(3)?,
                    interests: Vec::new(),
                    active_reviews: r.get(4)?,
                    completed_reviews: r.get(5)?,
                    declined_reviews: r.get(6)?,
                    avg_days_to_complete: r.get(7)?,
                    last_review: r.get(8)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut stmt = self.conn().prepare_cached(
            "SELECT term FROM reviewer_interests WHERE reviewer_id = ?1 ORDER BY term",
        )?;
        for r in &mut out {
            r.interests = stmt
                .query_map([r.id], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
        }
        Ok(out)
    }

    pub fn queue_summary(&self) -> Result<QueueSummary> {
        let c = self.conn();
        let mut q = QueueSummary::default();
        let mut stmt = c.prepare_cached(
            "SELECT stage_id, COUNT(*) FROM v_pending_submissions GROUP BY stage_id ORDER BY stage_id",
        )?;
        let by_stage: Vec<(i64, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        // Every OJS stage is listed, with zero where nothing waits.
        for stage in [1, 3, 4, 5] {
            let n = by_stage
                .iter()
                .find(|(s, _)| *s == stage)
                .map_or(0, |(_, n)| *n);
            q.pending_by_stage.push((stage_name(stage).to_string(), n));
        }
        q.pending_total = by_stage.iter().map(|(_, n)| n).sum();
        let (overdue, active): (i64, i64) = c.query_row(
            "SELECT COALESCE(SUM(ra.date_due < datetime('now')), 0), COUNT(*)
             FROM review_assignments ra JOIN submissions s ON s.id = ra.submission_id
             WHERE ra.date_completed IS NULL AND ra.declined = 0 AND ra.cancelled = 0
               AND s.status = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        q.reviews_overdue = overdue;
        q.reviews_active = active;
        (q.incomplete_submissions, q.published, q.declined) = c.query_row(
            "SELECT COALESCE(SUM(submitted = 0), 0), COALESCE(SUM(submitted = 1 AND status = 3), 0),
                    COALESCE(SUM(submitted = 1 AND status = 4), 0) FROM submissions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        q.reviewers = c.query_row("SELECT COUNT(*) FROM reviewers", [], |r| r.get(0))?;
        q.busiest_reviewers = c
            .prepare_cached(
                // Only the open assignments are aggregated (the performance
                // view aggregates every reviewer's whole history).
                "SELECT r.id, trim(r.given_name || ' ' || r.family_name) AS name, COUNT(*) AS active
                 FROM review_assignments ra
                 JOIN submissions s ON s.id = ra.submission_id
                 JOIN reviewers r ON r.id = ra.reviewer_id
                 WHERE ra.date_completed IS NULL AND ra.declined = 0 AND ra.cancelled = 0
                   AND s.status = 1
                 GROUP BY r.id ORDER BY active DESC, name LIMIT 5",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut stmt = c.prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM submissions s LEFT JOIN sections sec ON sec.id = s.section_id
             WHERE s.submitted = 1 AND s.status = 1
             ORDER BY COALESCE(s.date_last_activity, s.date_submitted) LIMIT 5"
        ))?;
        let mut oldest: Vec<SubmissionSummary> = stmt
            .query_map([], |r| self.summary_from_row(r))?
            .collect::<Result<_, _>>()?;
        for s in &mut oldest {
            self.fill_people_and_terms(s)?;
        }
        q.oldest_pending = oldest;
        Ok(q)
    }

    /// Names of the mirrored journals, enabled ones first, for the page's title.
    pub fn journal_names(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT name FROM journals ORDER BY enabled DESC, id")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Counts of mirrored rows by table, for `status` and the page.
    pub fn counts(&self) -> Result<Vec<(&'static str, i64)>> {
        let mut out = Vec::new();
        for t in [
            "journals",
            "sections",
            "submissions",
            "authors",
            "reviewers",
            "review_assignments",
            "editorial_decisions",
        ] {
            let n: i64 = self
                .conn()
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))?;
            out.push((t, n));
        }
        Ok(out)
    }
}
