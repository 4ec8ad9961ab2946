//! The editorial workflow's figures per journal over the last year, computed
//! from the mirror for `/metrics`: submissions received, decisions by kind,
//! the acceptance rate, the median time to a first decision, the median review
//! turnaround and how often invited reviewers accept. The arithmetic is pure
//! ([`workflow_of`], `now` passed in); the store only reads the rows.

use super::{Result, Store};
use std::collections::BTreeMap;

/// The window the figures cover.
pub const WINDOW_SECONDS: i64 = 365 * 86_400;

/// The kinds of decision counted (OJS's decision codes folded).
pub const DECISION_KINDS: &[&str] = &[
    "accept",
    "decline",
    "revisions",
    "resubmit",
    "send_to_review",
    "send_to_production",
    "other",
];

/// An OJS decision code as one of [`DECISION_KINDS`]; recommendations are not decisions (None).
pub fn decision_kind(code: i64) -> Option<&'static str> {
    Some(match code {
        2 => "accept",
        6 | 8 => "decline",
        4 => "revisions",
        5 => "resubmit",
        1 | 3 => "send_to_review",
        7 => "send_to_production",
        9..=12 => return None,
        _ => "other",
    })
}

/// The decisions that end the first look at a submission (a "first decision").
fn is_first_decision(kind: &str) -> bool {
    matches!(kind, "accept" | "decline" | "revisions" | "resubmit")
}

/// One journal's figures.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JournalWorkflow {
    /// The journal's path (its URL name), what the metrics are labelled with.
    pub journal: String,
    pub received: u64,
    /// Every kind of [`DECISION_KINDS`], zero included.
    pub decisions: BTreeMap<&'static str, u64>,
    /// Accepted / (accepted + declined), decisions in the window.
    pub acceptance_ratio: Option<f64>,
    /// Submission to first decision, for submissions received in the window that have one.
    pub first_decision_median_seconds: Option<f64>,
    /// Invitation (notified, else assigned) to review submitted, for reviews completed in the window.
    pub review_turnaround_median_seconds: Option<f64>,
    /// Accepted / answered, for invitations sent in the window.
    pub invitation_acceptance_ratio: Option<f64>,
}

/// A review invitation: (submission id, invited at, confirmed at, completed at, declined).
pub type ReviewRow = (i64, Option<i64>, Option<i64>, Option<i64>, bool);

/// The rows the figures are made of (dates as unix seconds).
#[derive(Debug, Clone, Default)]
pub struct WorkflowRows {
    /// (journal id, path)
    pub journals: Vec<(i64, String)>,
    /// (submission id, journal id, submitted at)
    pub submissions: Vec<(i64, i64, Option<i64>)>,
    /// (submission id, decision code, decided at)
    pub decisions: Vec<(i64, i64, Option<i64>)>,
    pub reviews: Vec<ReviewRow>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Each journal's figures for the year before `now`.
pub fn workflow_of(rows: &WorkflowRows, now: i64) -> Vec<JournalWorkflow> {
    let since = now - WINDOW_SECONDS;
    let in_window = |t: Option<i64>| t.is_some_and(|t| t >= since && t <= now);
    let journal_of: BTreeMap<i64, i64> = rows.submissions.iter().map(|s| (s.0, s.1)).collect();
    rows.journals
        .iter()
        .map(|(jid, path)| {
            let mine = |sid: &i64| journal_of.get(sid) == Some(jid);
            let mut w = JournalWorkflow {
                journal: path.clone(),
                decisions: DECISION_KINDS.iter().map(|k| (*k, 0)).collect(),
                ..Default::default()
            };
            let mut first_decision: BTreeMap<i64, i64> = BTreeMap::new();
            for (sid, code, at) in &rows.decisions {
                let Some(kind) = decision_kind(*code).filter(|_| mine(sid)) else {
                    continue;
                };
                if in_window(*at) {
                    *w.decisions.entry(kind).or_default() += 1;
                }
                if let (Some(at), true) = (at, is_first_decision(kind)) {
                    let e = first_decision.entry(*sid).or_insert(*at);
                    *e = (*e).min(*at);
                }
            }
            let (acc, dec) = (w.decisions["accept"], w.decisions["decline"]);
            w.acceptance_ratio = ratio(acc, acc + dec);
            let mut to_first = Vec::new();
            for (sid, j, at) in &rows.submissions {
                if j != jid || !in_window(*at) {
                    continue;
                }
                w.received += 1;
                if let (Some(sub), Some(first)) = (at, first_decision.get(sid)) {
                    to_first.push((first - sub).max(0) as f64);
                }
            }
            w.first_decision_median_seconds = median(to_first);
            let (mut turnaround, mut answered, mut accepted) = (Vec::new(), 0, 0);
            for (sid, invited, confirmed, completed, declined) in &rows.reviews {
                if !mine(sid) {
                    continue;
                }
                if let (Some(i), Some(c)) = (invited, completed) {
                    if in_window(Some(*c)) {
                        turnaround.push((c - i).max(0) as f64);
                    }
                }
                if in_window(*invited) && (*declined || confirmed.is_some()) {
                    answered += 1;
                    accepted += u64::from(!declined && confirmed.is_some());
                }
            }
            w.review_turnaround_median_seconds = median(turnaround);
            w.invitation_acceptance_ratio = ratio(accepted, answered);
            w
        })
        .collect()
}

impl Store {
    /// Each journal's workflow figures for the year before `now`, from the mirror.
    pub fn workflow(&self, now: i64) -> Result<Vec<JournalWorkflow>> {
        let t = |s: Option<String>| s.as_deref().and_then(crate::human::parse_datetime);
        let mut rows = WorkflowRows::default();
        let mut stmt = self
            .conn
            .prepare("SELECT id, path FROM journals ORDER BY id")?;
        rows.journals = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT id, journal_id, date_submitted FROM submissions WHERE submitted = 1",
        )?;
        rows.submissions = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, Option<String>>(2)?))
            })?
            .map(|r| r.map(|(a, b, c)| (a, b, t(c))))
            .collect::<Result<_, _>>()?;
        let mut stmt = self
            .conn
            .prepare("SELECT submission_id, decision, date_decided FROM editorial_decisions")?;
        rows.decisions = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, Option<String>>(2)?))
            })?
            .map(|r| r.map(|(a, b, c)| (a, b, t(c))))
            .collect::<Result<_, _>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT submission_id, COALESCE(date_notified, date_assigned), date_confirmed, date_completed, declined
             FROM review_assignments WHERE cancelled = 0",
        )?;
        rows.reviews = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            })?
            .map(|r| r.map(|(a, b, c, d, e)| (a, t(b), t(c), t(d), e)))
            .collect::<Result<_, _>>()?;
        Ok(workflow_of(&rows, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_000 * DAY;

    #[test]
    fn a_year_of_one_journal_adds_up() {
        let rows = WorkflowRows {
            journals: vec![(1, "jcme".into()), (2, "other".into())],
            submissions: vec![
                (10, 1, Some(NOW - 100 * DAY)),
                (11, 1, Some(NOW - 50 * DAY)),
                (12, 1, Some(NOW - 400 * DAY)), // before the window
                (13, 1, Some(NOW - 10 * DAY)),
                (20, 2, Some(NOW - 5 * DAY)),
            ],
            decisions: vec![
                (10, 3, Some(NOW - 95 * DAY)),  // sent to review: not a first decision
                (10, 4, Some(NOW - 70 * DAY)),  // revisions: the first decision, after 30 days
                (10, 2, Some(NOW - 20 * DAY)),  // accepted
                (11, 8, Some(NOW - 40 * DAY)),  // declined before review, after 10 days
                (12, 6, Some(NOW - 380 * DAY)), // out of the window
                (11, 12, Some(NOW - 45 * DAY)), // a recommendation: not a decision
                (20, 2, Some(NOW - DAY)),       // the other journal's
            ],
            reviews: vec![
                (
                    10,
                    Some(NOW - 95 * DAY),
                    Some(NOW - 94 * DAY),
                    Some(NOW - 75 * DAY),
                    false,
                ), // 20 days
                (10, Some(NOW - 95 * DAY), None, None, true), // declined
                (
                    13,
                    Some(NOW - 9 * DAY),
                    Some(NOW - 8 * DAY),
                    Some(NOW - DAY),
                    false,
                ), // 8 days
                (13, Some(NOW - 9 * DAY), None, None, false), // no answer yet
            ],
        };
        let w = workflow_of(&rows, NOW);
        let j = &w[0];
        assert_eq!(j.journal, "jcme");
        assert_eq!(j.received, 3);
        assert_eq!(j.decisions["accept"], 1);
        assert_eq!(j.decisions["decline"], 1);
        assert_eq!(j.decisions["revisions"], 1);
        assert_eq!(j.decisions["send_to_review"], 1);
        assert_eq!(j.decisions["other"], 0);
        assert_eq!(j.acceptance_ratio, Some(0.5));
        assert_eq!(j.first_decision_median_seconds, Some(20.0 * DAY as f64)); // 30 and 10 days
        assert_eq!(j.review_turnaround_median_seconds, Some(14.0 * DAY as f64)); // 20 and 8 days
        assert_eq!(j.invitation_acceptance_ratio, Some(2.0 / 3.0));
        assert_eq!(w[1].received, 1);
        assert_eq!(w[1].acceptance_ratio, Some(1.0));
        assert_eq!(w[1].first_decision_median_seconds, Some(4.0 * DAY as f64));
        assert_eq!(w[1].invitation_acceptance_ratio, None);
    }
}
