//! The reviewer-gold data as an OJS 3.4 journal, so the evaluation can go
//! through the product's own path: MariaDB → sync → store → background
//! embedding → `GET /api/submissions/{id}/reviewers`.
//!
//! Every participant becomes a user with the Reviewer role; every paper of
//! their archive a published article they author (linked by email, as a
//! journal links them); every rated paper a submission in external review by
//! an author who reviews nothing. The rows go on top of PKP's OJS 3.4 test
//! journal (context 1: Reviewer group 16, Author group 14, section 1), whose own
//! users and articles stay: they are part of the journal the matcher sees.
//!
//! This module only writes SQL text; loading it is the caller's business
//! (the test loads it into a throwaway database, `scripts/eval-matching.sh`
//! with the `mariadb` client). The layout is a pure function of the data, so
//! the SQL and the scorer agree on which id is which paper and participant.

use super::Gold;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// First id of each kind: above anything in PKP's test journals.
const FIRST_USER: i64 = 1000;
const FIRST_SUBMISSION: i64 = 1000;
const FIRST_AUTHOR: i64 = 10_000;
/// OJS 3.4 test journal: the journal, its Reviewer and Author groups, a section.
const CONTEXT: i64 = 1;
const REVIEWER_GROUP: i64 = 16;
const AUTHOR_GROUP: i64 = 14;
const SECTION: i64 = 1;
/// `submissions.status`: queued (in review) and published.
const STATUS_QUEUED: i64 = 1;
const STATUS_PUBLISHED: i64 = 3;
/// `submissions.stage_id`: external review and production.
const STAGE_REVIEW: i64 = 3;
const STAGE_PRODUCTION: i64 = 5;

/// Which OJS id stands for which paper and participant.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Gold paper id → submission id (publication id is the same number).
    pub submissions: BTreeMap<String, i64>,
    /// Participant id → user id.
    pub users: BTreeMap<String, i64>,
    /// Gold paper id → participants who wrote it (from the archives).
    pub authors: BTreeMap<String, BTreeSet<String>>,
}

impl Layout {
    pub fn of(gold: &Gold) -> Layout {
        let mut authors: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (pid, papers) in &gold.archives {
            for p in papers {
                authors.entry(p.id.clone()).or_default().insert(pid.clone());
            }
        }
        let ids: BTreeSet<&String> = gold.papers.keys().chain(authors.keys()).collect();
        let submissions = ids
            .into_iter()
            .zip(FIRST_SUBMISSION..)
            .map(|(id, n)| (id.clone(), n))
            .collect();
        let mut pids: Vec<&String> = gold.participants.iter().map(|p| &p.id).collect();
        pids.sort();
        pids.dedup();
        let users = pids
            .into_iter()
            .zip(FIRST_USER..)
            .map(|(id, n)| (id.clone(), n))
            .collect();
        Layout {
            submissions,
            users,
            authors,
        }
    }

    /// The e-mail a participant signs in and authors with.
    pub fn email(participant: &str) -> String {
        format!("reviewer-{participant}@gold.invalid")
    }
}

/// A MariaDB string literal (backslashes and quotes escaped).
fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            '\0' => {}
            // The test journal's tables are utf8mb3: no 4-byte characters.
            c if u32::from(c) > 0xFFFF => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The SQL that adds the gold data to PKP's OJS 3.4 test journal.
pub fn sql(gold: &Gold) -> String {
    let layout = Layout::of(gold);
    let papers = gold.all_papers();
    let mut out = String::from("SET NAMES utf8mb4;\n");
    for (pid, uid) in &layout.users {
        let _ = writeln!(
            out,
            "INSERT INTO users (user_id, username, password, email, locales, date_registered, disabled) \
             VALUES ({uid}, {}, '', {}, '[]', '2020-01-01 00:00:00', 0);",
            lit(&format!("gold{uid}")),
            lit(&Layout::email(pid)),
        );
        let _ = writeln!(
            out,
            "INSERT INTO user_settings (user_id, locale, setting_name, setting_value) VALUES \
             ({uid}, 'en', 'givenName', 'Participant'), ({uid}, 'en', 'familyName', {});",
            lit(pid)
        );
        let _ = writeln!(
            out,
            "INSERT INTO user_user_groups (user_group_id, user_id) VALUES ({REVIEWER_GROUP}, {uid});"
        );
    }
    let mut author_id = FIRST_AUTHOR;
    for (paper_id, sid) in &layout.submissions {
        let Some(p) = papers.get(paper_id.as_str()) else {
            continue;
        };
        let writers = layout.authors.get(paper_id);
        let (status, stage, published) = match writers {
            Some(_) => (STATUS_PUBLISHED, STAGE_PRODUCTION, "'2019-06-01'"),
            None => (STATUS_QUEUED, STAGE_REVIEW, "NULL"),
        };
        let _ = writeln!(
            out,
            "INSERT INTO submissions (submission_id, context_id, current_publication_id, date_last_activity, \
             date_submitted, last_modified, stage_id, locale, status, submission_progress) VALUES \
             ({sid}, {CONTEXT}, NULL, '2024-01-01 00:00:00', '2024-01-01 00:00:00', '2024-01-01 00:00:00', \
             {stage}, 'en', {status}, '');"
        );
        let _ = writeln!(
            out,
            "INSERT INTO publications (publication_id, date_published, last_modified, section_id, seq, \
             submission_id, status, version) VALUES ({sid}, {published}, '2024-01-01 00:00:00', {SECTION}, 0, \
             {sid}, {status}, 1);"
        );
        // The two tables point at each other: the submission's pointer last.
        let _ = writeln!(
            out,
            "UPDATE submissions SET current_publication_id = {sid} WHERE submission_id = {sid};"
        );
        let _ = writeln!(
            out,
            "INSERT INTO publication_settings (publication_id, locale, setting_name, setting_value) VALUES \
             ({sid}, 'en', 'title', {}), ({sid}, 'en', 'abstract', {});",
            lit(&p.title),
            lit(&p.abstract_text)
        );
        // The participants who wrote it, or one author who reviews nothing.
        let people: Vec<(String, String, String)> = match writers {
            Some(w) => w
                .iter()
                .map(|pid| (Layout::email(pid), "Participant".into(), pid.clone()))
                .collect(),
            None => vec![(
                format!("author-{sid}@gold.invalid"),
                "Author".into(),
                format!("S{sid}"),
            )],
        };
        for (seq, (email, given, family)) in people.iter().enumerate() {
            let _ = writeln!(
                out,
                "INSERT INTO authors (author_id, email, include_in_browse, publication_id, seq, user_group_id) \
                 VALUES ({author_id}, {}, 1, {sid}, {seq}, {AUTHOR_GROUP});",
                lit(email)
            );
            let _ = writeln!(
                out,
                "INSERT INTO author_settings (author_id, locale, setting_name, setting_value) VALUES \
                 ({author_id}, 'en', 'givenName', {}), ({author_id}, 'en', 'familyName', {});",
                lit(given),
                lit(family)
            );
            author_id += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Paper, Participant};

    fn paper(id: &str) -> Paper {
        Paper {
            id: id.into(),
            title: format!("Title {id} with 'quotes' and a \\ backslash"),
            abstract_text: "Abstract 🙂.".into(),
        }
    }

    fn gold() -> Gold {
        Gold {
            participants: vec![
                Participant {
                    id: "7".into(),
                    ratings: vec![("b".into(), 4.0), ("c".into(), 2.0)],
                },
                Participant {
                    id: "3".into(),
                    ratings: vec![("b".into(), 1.0)],
                },
            ],
            papers: [("b", paper("b")), ("c", paper("c"))]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            archives: [
                ("7".to_string(), vec![paper("a"), paper("c")]),
                ("3".to_string(), vec![paper("a")]),
            ]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn layout_numbers_papers_and_participants_in_id_order() {
        let l = Layout::of(&gold());
        assert_eq!(l.submissions["a"], 1000);
        assert_eq!(l.submissions["b"], 1001);
        assert_eq!(l.submissions["c"], 1002);
        assert_eq!(l.users["3"], 1000);
        assert_eq!(l.users["7"], 1001);
        assert_eq!(l.authors["a"].len(), 2);
        assert!(!l.authors.contains_key("b"));
    }

    #[test]
    fn archive_papers_are_published_and_rated_ones_in_review() {
        let s = sql(&gold());
        // "a" and "c" are in an archive: published with the participants as authors.
        assert!(s.contains("(1000, 1, NULL, '2024-01-01 00:00:00', '2024-01-01 00:00:00', '2024-01-01 00:00:00', 5, 'en', 3, '')"));
        assert!(s.contains("(1001, 1, NULL, '2024-01-01 00:00:00', '2024-01-01 00:00:00', '2024-01-01 00:00:00', 3, 'en', 1, '')"));
        assert_eq!(s.matches("'reviewer-7@gold.invalid', 1, 1000").count(), 1);
        assert_eq!(s.matches("'reviewer-3@gold.invalid', 1, 1000").count(), 1);
        assert!(s.contains("'author-1001@gold.invalid'"));
        assert!(s.contains("'Title a with ''quotes'' and a \\\\ backslash'"));
        assert!(s.contains("'Abstract \u{FFFD}.'"));
    }
}
