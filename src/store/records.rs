//! The shapes the store keeps of OJS data. The `ojs` module fills them from
//! MySQL, the `demo` module from its built-in journal; the store does not care which.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Journal {
    pub id: i64,
    pub path: String,
    pub name: String,
    pub primary_locale: String,
    pub locales: Vec<String>,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    pub id: i64,
    pub journal_id: i64,
    pub title: String,
    pub abbrev: String,
}

/// One submission with everything mirrored about it; written and replaced as a unit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubmissionRecord {
    pub id: i64,
    pub journal_id: i64,
    pub section_id: Option<i64>,
    pub publication_id: Option<i64>,
    pub publication_version: Option<i64>,
    pub status: i64,
    pub stage_id: i64,
    pub submitted: bool,
    pub locale: String,
    pub date_submitted: Option<String>,
    pub date_last_activity: Option<String>,
    pub last_modified: Option<String>,
    /// (locale, title, abstract) of the current publication.
    pub texts: Vec<LocalizedText>,
    pub authors: Vec<Author>,
    pub terms: Vec<Term>,
    pub review_rounds: Vec<ReviewRound>,
    pub review_assignments: Vec<ReviewAssignment>,
    pub decisions: Vec<Decision>,
    /// The files OJS keeps for the submission (`submission_files`), where OJS records them.
    pub files: Vec<SubmissionFile>,
    /// Summary of the source rows; a change means "fetch again".
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LocalizedText {
    pub locale: String,
    pub title: String,
    pub abstract_text: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Author {
    pub id: i64,
    pub seq: f64,
    pub given_name: String,
    pub family_name: String,
    pub affiliation: String,
    pub email: String,
    pub country: String,
    pub orcid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Term {
    /// `keyword`, `subject` or `discipline`.
    pub kind: String,
    pub locale: String,
    pub term: String,
    pub seq: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReviewRound {
    pub id: i64,
    pub stage_id: Option<i64>,
    pub round: i64,
    pub status: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ReviewAssignment {
    pub id: i64,
    pub reviewer_id: i64,
    pub review_round_id: Option<i64>,
    pub stage_id: Option<i64>,
    pub round: Option<i64>,
    pub recommendation: Option<i64>,
    pub date_assigned: Option<String>,
    pub date_notified: Option<String>,
    pub date_confirmed: Option<String>,
    pub date_completed: Option<String>,
    pub date_due: Option<String>,
    pub date_response_due: Option<String>,
    pub last_modified: Option<String>,
    pub declined: bool,
    pub cancelled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Decision {
    pub id: i64,
    pub review_round_id: Option<i64>,
    pub stage_id: Option<i64>,
    pub round: Option<i64>,
    pub editor_id: i64,
    pub decision: i64,
    pub date_decided: Option<String>,
}

/// One of a submission's files in OJS: `submission_files` with its display name and, when the database has
/// OJS's `files` table, the file's path relative to OJS's files directory.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SubmissionFile {
    /// `submission_files.submission_file_id`.
    pub id: i64,
    /// `files.file_id`: revisions of a file in later stages share it.
    pub file_id: i64,
    /// OJS's file stage (2 submission, 4 review file, 15 review revision, ...).
    pub stage: i64,
    /// The display name (`submission_file_settings.name`), e.g. "article.pdf".
    pub name: String,
    /// `files.path`, relative to OJS's `files_dir`; None when the database has no `files` table.
    pub path: Option<String>,
    pub mimetype: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reviewer {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub affiliation: String,
    pub disabled: bool,
    pub interests: Vec<String>,
}

impl SubmissionRecord {
    /// Title in the submission's own locale, else the first non-empty one.
    pub fn primary_text(&self) -> LocalizedText {
        self.texts
            .iter()
            .find(|t| t.locale == self.locale && !t.title.is_empty())
            .or_else(|| self.texts.iter().find(|t| !t.title.is_empty()))
            .cloned()
            .unwrap_or_default()
    }
}
