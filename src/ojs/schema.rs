//! OJS versions and the tables/columns each supported schema must have.

use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct OjsVersion {
    pub major: i64,
    pub minor: i64,
    pub revision: i64,
    pub build: i64,
}

impl fmt::Display for OjsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}-{}",
            self.major, self.minor, self.revision, self.build
        )
    }
}

/// The schema shapes this module can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaFlavor {
    V33,
    V34,
    V35,
}

impl SchemaFlavor {
    pub fn of(v: OjsVersion) -> Option<SchemaFlavor> {
        match (v.major, v.minor) {
            (3, 3) => Some(SchemaFlavor::V33),
            (3, 4) => Some(SchemaFlavor::V34),
            (3, 5) => Some(SchemaFlavor::V35),
            _ => None,
        }
    }
}

/// Tables and columns read by every flavour.
const COMMON: &[(&str, &[&str])] = &[
    (
        "journals",
        &["journal_id", "path", "primary_locale", "enabled"],
    ),
    (
        "journal_settings",
        &["journal_id", "locale", "setting_name", "setting_value"],
    ),
    ("sections", &["section_id", "journal_id"]),
    (
        "section_settings",
        &["section_id", "locale", "setting_name", "setting_value"],
    ),
    (
        "submissions",
        &[
            "submission_id",
            "context_id",
            "current_publication_id",
            "date_last_activity",
            "date_submitted",
            "last_modified",
            "stage_id",
            "locale",
            "status",
            "submission_progress",
        ],
    ),
    (
        "publications",
        &[
            "publication_id",
            "submission_id",
            "section_id",
            "last_modified",
            "version",
        ],
    ),
    (
        "publication_settings",
        &["publication_id", "locale", "setting_name", "setting_value"],
    ),
    ("authors", &["author_id", "publication_id", "email", "seq"]),
    (
        "author_settings",
        &["author_id", "locale", "setting_name", "setting_value"],
    ),
    ("users", &["user_id", "username", "email", "disabled"]),
    (
        "user_settings",
        &["user_id", "locale", "setting_name", "setting_value"],
    ),
    ("user_groups", &["user_group_id", "context_id", "role_id"]),
    ("user_user_groups", &["user_group_id", "user_id"]),
    ("user_interests", &["user_id", "controlled_vocab_entry_id"]),
    (
        "controlled_vocabs",
        &["controlled_vocab_id", "symbolic", "assoc_type", "assoc_id"],
    ),
    (
        "controlled_vocab_entries",
        &["controlled_vocab_entry_id", "controlled_vocab_id", "seq"],
    ),
    (
        "controlled_vocab_entry_settings",
        &[
            "controlled_vocab_entry_id",
            "locale",
            "setting_name",
            "setting_value",
        ],
    ),
    (
        "review_rounds",
        &[
            "review_round_id",
            "submission_id",
            "stage_id",
            "round",
            "status",
        ],
    ),
    (
        "review_assignments",
        &[
            "review_id",
            "submission_id",
            "reviewer_id",
            "review_round_id",
            "stage_id",
            "round",
            "recommendation",
            "date_assigned",
            "date_notified",
            "date_confirmed",
            "date_completed",
            "date_due",
            "date_response_due",
            "last_modified",
            "declined",
            "cancelled",
        ],
    ),
    (
        "edit_decisions",
        &[
            "edit_decision_id",
            "submission_id",
            "review_round_id",
            "stage_id",
            "round",
            "editor_id",
            "decision",
            "date_decided",
        ],
    ),
];

/// Tables read when they are there (every OJS 3.3+ has them, but a database
/// extract may not): without them the mirror has no submission files.
pub const SUBMISSION_FILES: &[(&str, &[&str])] = &[
    (
        "submission_files",
        &[
            "submission_file_id",
            "submission_id",
            "file_id",
            "file_stage",
            "updated_at",
        ],
    ),
    (
        "submission_file_settings",
        &[
            "submission_file_id",
            "locale",
            "setting_name",
            "setting_value",
        ],
    ),
];
/// OJS's `files` table: where each file lies under OJS's files directory.
pub const FILES: (&str, &[&str]) = ("files", &["file_id", "path", "mimetype"]);

/// Whether `have` holds every listed table with its columns.
pub fn has_all(tables: &[(&str, &[&str])], have: &HashMap<String, Vec<String>>) -> bool {
    tables.iter().all(|(t, cols)| {
        have.get(*t)
            .is_some_and(|present| cols.iter().all(|c| present.iter().any(|p| p == c)))
    })
}

/// What a flavour adds to the common set (columns that only exist there and are read).
fn extra(flavor: SchemaFlavor) -> &'static [(&'static str, &'static [&'static str])] {
    match flavor {
        SchemaFlavor::V33 => &[],
        // 3.4 renamed `unconsidered` to `considered` and added surrogate keys; a
        // 3.3 database whose versions row already says 3.4 is half-migrated.
        SchemaFlavor::V34 => &[
            ("review_assignments", &["considered"]),
            ("user_settings", &["user_setting_id"]),
        ],
        SchemaFlavor::V35 => &[
            ("review_assignments", &["considered"]),
            ("user_user_groups", &["date_end"]),
        ],
    }
}

/// `table.column` names the flavour needs that `have` (table → columns, lower case) lacks.
pub fn missing(flavor: SchemaFlavor, have: &HashMap<String, Vec<String>>) -> Vec<String> {
    let mut out = Vec::new();
    for (table, cols) in COMMON.iter().chain(extra(flavor)) {
        match have.get(*table) {
            None => out.push(format!("table `{table}`")),
            Some(present) => {
                for c in *cols {
                    if !present.iter().any(|p| p == c) {
                        out.push(format!("column `{table}.{c}`"));
                    }
                }
            }
        }
    }
    out.dedup();
    out
}
