//! Reading the journal's OJS database (MySQL/MariaDB, schemas 3.3, 3.4, 3.5).
//!
//! Only this module speaks MySQL, and it only ever issues `SELECT`s: a user
//! with nothing but SELECT on the OJS database is enough.

mod errors;
mod schema;
mod submissions;
pub mod text;

pub use errors::public_error_text;

use crate::store::records::*;
use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, Row};
pub use schema::{OjsVersion, SchemaFlavor};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use text::pick_locale;

/// OJS role ids and assoc types used here.
pub const ROLE_REVIEWER: i64 = 4096;
pub const ASSOC_TYPE_PUBLICATION: i64 = 1_048_588;

#[derive(Debug, thiserror::Error)]
pub enum OjsError {
    #[error("OJS database URL is invalid: {0}")]
    Url(String),
    #[error("cannot reach the OJS database at {host}: {message}")]
    Unreachable { host: String, message: String },
    #[error("the OJS database did not answer within {0:?}")]
    Timeout(Duration),
    #[error("this database is not an OJS database: {0}")]
    NotOjs(String),
    #[error("OJS {0} is not supported (supported: 3.3, 3.4, 3.5)")]
    Unsupported(OjsVersion),
    #[error("the OJS {version} schema is incomplete (half-migrated?): missing {}", missing.join(", "))]
    Incomplete {
        version: OjsVersion,
        missing: Vec<String>,
    },
    #[error("OJS query failed: {0}")]
    Query(String),
    #[error("unexpected value in OJS column {column}: {message}")]
    Shape { column: String, message: String },
}

impl OjsError {
    /// Errors worth retrying later (network, server); the others need a person.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            OjsError::Unreachable { .. } | OjsError::Timeout(_) | OjsError::Query(_)
        )
    }
}

pub type Result<T, E = OjsError> = std::result::Result<T, E>;

/// What `detect` found: the version and the schema shape to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaInfo {
    pub version: OjsVersion,
    pub flavor: SchemaFlavor,
    /// 3.5 keeps author affiliations in their own tables.
    pub author_affiliation_tables: bool,
    /// `submission_files` (with its settings) is there: the mirror records each submission's files.
    pub submission_files: bool,
    /// OJS's `files` table is there too: the mirror knows where each file lies.
    pub file_paths: bool,
}

/// A read-only session on the OJS database.
pub struct OjsSource {
    conn: Conn,
    timeout: Duration,
}

fn host_of(opts: &Opts) -> String {
    format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port())
}

impl OjsSource {
    pub async fn connect(url: &str, timeout: Duration) -> Result<OjsSource> {
        Self::connect_tls(url, None, timeout).await
    }

    /// Like [`connect`](Self::connect); with `ssl_ca` (a PEM file) the session
    /// is TLS and the server's certificate must chain to that CA.
    pub async fn connect_tls(
        url: &str,
        ssl_ca: Option<&std::path::Path>,
        timeout: Duration,
    ) -> Result<OjsSource> {
        let mut opts = Opts::from_url(url).map_err(|e| OjsError::Url(e.to_string()))?;
        if let Some(ca) = ssl_ca {
            let ssl = opts
                .ssl_opts()
                .cloned()
                .unwrap_or_default()
                .with_root_certs(vec![ca.to_path_buf().into()]);
            opts = mysql_async::OptsBuilder::from_opts(opts)
                .ssl_opts(Some(ssl))
                .into();
        }
        let tls = opts.ssl_opts().is_some();
        let host = host_of(&opts);
        let conn = match tokio::time::timeout(timeout, Conn::new(opts)).await {
            Err(_) => return Err(OjsError::Timeout(timeout)),
            Ok(Err(e)) => {
                let mut message = e.to_string();
                // MariaDB answers a plain connection of a `REQUIRE SSL` user with
                // a bare "Access denied": say what to try.
                if !tls && message.contains("ERROR 1045 ") {
                    message.push_str(
                        " (if this MySQL user requires TLS, add ?require_ssl=true to ojs.url)",
                    );
                }
                return Err(OjsError::Unreachable { host, message });
            }
            Ok(Ok(c)) => c,
        };
        let mut src = OjsSource { conn, timeout };
        // Read a consistent snapshot for the whole session where the server allows it.
        src.exec_drop("SET SESSION TRANSACTION READ ONLY")
            .await
            .ok();
        Ok(src)
    }

    pub async fn disconnect(self) {
        let _ = self.conn.disconnect().await;
    }

    async fn rows(&mut self, sql: &str) -> Result<Vec<Row>> {
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.conn.query::<Row, _>(sql)).await {
            Err(_) => Err(OjsError::Timeout(timeout)),
            Ok(Err(e)) => Err(OjsError::Query(e.to_string())),
            Ok(Ok(v)) => Ok(v),
        }
    }

    async fn exec_drop(&mut self, sql: &str) -> Result<()> {
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.conn.query_drop(sql)).await {
            Err(_) => Err(OjsError::Timeout(timeout)),
            Ok(Err(e)) => Err(OjsError::Query(e.to_string())),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Identifies the OJS version and checks that every table and column this
    /// module reads is there.
    pub async fn detect(&mut self) -> Result<SchemaInfo> {
        let columns = self
            .rows(
                "SELECT LOWER(table_name), LOWER(column_name) FROM information_schema.columns
                 WHERE table_schema = DATABASE()",
            )
            .await?;
        let mut have: HashMap<String, Vec<String>> = HashMap::new();
        for r in &columns {
            let t: String = col(r, 0, "information_schema.table_name")?;
            let c: String = col(r, 1, "information_schema.column_name")?;
            have.entry(t).or_default().push(c);
        }
        if !have.contains_key("versions") {
            return Err(OjsError::NotOjs("it has no `versions` table".into()));
        }
        let rows = self
            .rows(
                "SELECT major, minor, revision, build FROM versions
                 WHERE product = 'ojs2' AND current = 1 ORDER BY major DESC, minor DESC LIMIT 1",
            )
            .await?;
        let Some(r) = rows.first() else {
            return Err(OjsError::NotOjs(
                "its `versions` table has no current `ojs2` row".into(),
            ));
        };
        let version = OjsVersion {
            major: col(r, 0, "versions.major")?,
            minor: col(r, 1, "versions.minor")?,
            revision: col(r, 2, "versions.revision")?,
            build: col(r, 3, "versions.build")?,
        };
        let flavor = SchemaFlavor::of(version).ok_or(OjsError::Unsupported(version))?;
        let missing = schema::missing(flavor, &have);
        if !missing.is_empty() {
            return Err(OjsError::Incomplete { version, missing });
        }
        let author_affiliation_tables = flavor == SchemaFlavor::V35
            && have.contains_key("author_affiliations")
            && have.contains_key("author_affiliation_settings");
        let submission_files = schema::has_all(schema::SUBMISSION_FILES, &have);
        let file_paths = submission_files && schema::has_all(&[schema::FILES], &have);
        Ok(SchemaInfo {
            version,
            flavor,
            author_affiliation_tables,
            submission_files,
            file_paths,
        })
    }

    /// All journals with their sections.
    pub async fn journals(&mut self) -> Result<(Vec<Journal>, Vec<Section>)> {
        let rows = self
            .rows("SELECT journal_id, path, primary_locale, enabled FROM journals ORDER BY journal_id")
            .await?;
        let settings = self
            .settings(
                "SELECT journal_id, locale, setting_name, setting_value FROM journal_settings
                 WHERE setting_name IN ('name', 'supportedLocales')",
            )
            .await?;
        let mut journals = Vec::new();
        for r in &rows {
            let id: i64 = col(r, 0, "journals.journal_id")?;
            let primary_locale: String =
                col::<Option<String>>(r, 2, "journals.primary_locale")?.unwrap_or_default();
            let s = settings.get(&id);
            let name = s
                .and_then(|s| s.get("name"))
                .map(|v| pick_locale(v, &[&primary_locale]).to_string())
                .unwrap_or_default();
            let locales = s
                .and_then(|s| s.get("supportedLocales"))
                .map(|v| parse_locale_list(pick_locale(v, &[""])))
                .unwrap_or_else(|| vec![primary_locale.clone()]);
            journals.push(Journal {
                id,
                path: col(r, 1, "journals.path")?,
                name,
                primary_locale,
                locales,
                enabled: col::<i64>(r, 3, "journals.enabled")? != 0,
            });
        }
        let rows = self
            .rows("SELECT section_id, journal_id FROM sections ORDER BY section_id")
            .await?;
        let settings = self
            .settings(
                "SELECT section_id, locale, setting_name, setting_value FROM section_settings
                 WHERE setting_name IN ('title', 'abbrev')",
            )
            .await?;
        let mut sections = Vec::new();
        for r in &rows {
            let id: i64 = col(r, 0, "sections.section_id")?;
            let journal_id: i64 = col(r, 1, "sections.journal_id")?;
            let pref = journals
                .iter()
                .find(|j| j.id == journal_id)
                .map(|j| j.primary_locale.clone())
                .unwrap_or_default();
            let get = |name: &str| {
                settings
                    .get(&id)
                    .and_then(|s| s.get(name))
                    .map(|v| pick_locale(v, &[&pref]).to_string())
                    .unwrap_or_default()
            };
            sections.push(Section {
                id,
                journal_id,
                title: get("title"),
                abbrev: get("abbrev"),
            });
        }
        Ok((journals, sections))
    }

    /// Users who hold the reviewer role in any journal, with names,
    /// affiliations and interests.
    pub async fn reviewers(
        &mut self,
        info: &SchemaInfo,
        preferred_locale: &str,
    ) -> Result<Vec<Reviewer>> {
        // 3.5 keeps role periods: only a role without an end date in the past counts.
        let period = if info.flavor == SchemaFlavor::V35 {
            "AND (uug.date_end IS NULL OR uug.date_end > NOW())"
        } else {
            ""
        };
        let rows = self
            .rows(&format!(
                "SELECT DISTINCT u.user_id, u.username, u.email, u.disabled
                 FROM users u
                 JOIN user_user_groups uug ON uug.user_id = u.user_id
                 JOIN user_groups ug ON ug.user_group_id = uug.user_group_id
                 WHERE ug.role_id = {ROLE_REVIEWER} {period}
                 ORDER BY u.user_id"
            ))
            .await?;
        let settings = self
            .settings(&format!(
                "SELECT us.user_id, us.locale, us.setting_name, us.setting_value FROM user_settings us
                 WHERE us.setting_name IN ('givenName', 'familyName', 'affiliation')
                   AND us.user_id IN (SELECT uug.user_id FROM user_user_groups uug
                        JOIN user_groups ug ON ug.user_group_id = uug.user_group_id
                        WHERE ug.role_id = {ROLE_REVIEWER})"
            ))
            .await?;
        let interests = self
            .rows(
                "SELECT ui.user_id, s.setting_value
                 FROM user_interests ui
                 JOIN controlled_vocab_entry_settings s
                   ON s.controlled_vocab_entry_id = ui.controlled_vocab_entry_id
                 WHERE s.setting_name IN ('interest', 'name')
                 ORDER BY ui.user_id, s.setting_value",
            )
            .await?;
        let mut by_user: HashMap<i64, Vec<String>> = HashMap::new();
        for r in &interests {
            let uid: i64 = col(r, 0, "user_interests.user_id")?;
            let v: Option<String> = col(r, 1, "controlled_vocab_entry_settings.setting_value")?;
            if let Some(v) = v
                .map(|v| text::fold_whitespace(&v))
                .filter(|v| !v.is_empty())
            {
                by_user.entry(uid).or_default().push(v);
            }
        }
        let mut out = Vec::new();
        for r in &rows {
            let id: i64 = col(r, 0, "users.user_id")?;
            let s = settings.get(&id);
            let get = |name: &str| {
                s.and_then(|s| s.get(name))
                    .map(|v| text::fold_whitespace(pick_locale(v, &[preferred_locale])))
                    .unwrap_or_default()
            };
            out.push(Reviewer {
                id,
                username: col(r, 1, "users.username")?,
                email: col(r, 2, "users.email")?,
                given_name: get("givenName"),
                family_name: get("familyName"),
                affiliation: get("affiliation"),
                disabled: col::<i64>(r, 3, "users.disabled")? != 0,
                interests: by_user.remove(&id).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// One cheap summary per submission of everything mirrored about it: the
    /// rows' timestamps (the watermarks) plus counts and checksums of the rows
    /// that have no timestamp. A submission whose summary differs from the
    /// stored one is fetched again; one that is gone was deleted.
    pub async fn fingerprints(&mut self, info: &SchemaInfo) -> Result<Vec<(i64, String)>> {
        // The files' summary: ids, stages and modification times (a file's name and path change with them).
        let files = if info.submission_files {
            ",(SELECT CONCAT(COUNT(*), ',', IFNULL(MAX(sf.updated_at), ''), ',',
                    IFNULL(SUM(CRC32(CONCAT_WS(',', sf.submission_file_id, sf.file_id, sf.file_stage))), 0))
               FROM submission_files sf WHERE sf.submission_id = s.submission_id)"
        } else {
            ""
        };
        let rows = self
            .rows(&format!(
                "SELECT s.submission_id, CONCAT_WS('|',
                    s.context_id, s.status, s.stage_id, CAST(s.submission_progress AS CHAR),
                    IFNULL(s.current_publication_id, ''), IFNULL(s.locale, ''),
                    IFNULL(s.date_submitted, ''), IFNULL(s.date_last_activity, ''),
                    IFNULL(s.last_modified, ''),
                    IFNULL(p.last_modified, ''), IFNULL(p.version, ''), IFNULL(p.section_id, ''),
                    (SELECT CONCAT(COUNT(*), ',', IFNULL(SUM(CRC32(CONCAT_WS(',', ps.locale, ps.setting_name, ps.setting_value))), 0))
                       FROM publication_settings ps WHERE ps.publication_id = s.current_publication_id
                        AND ps.setting_name IN ('title', 'abstract')),
                    (SELECT CONCAT(COUNT(*), ',', IFNULL(SUM(CRC32(CONCAT_WS(',', a.author_id, a.seq, a.email, aus.locale, aus.setting_name, aus.setting_value))), 0))
                       FROM authors a LEFT JOIN author_settings aus ON aus.author_id = a.author_id
                       WHERE a.publication_id = s.current_publication_id),
                    (SELECT CONCAT(COUNT(*), ',', IFNULL(SUM(CRC32(CONCAT_WS(',', cv.symbolic, e.seq, es.locale, es.setting_value))), 0))
                       FROM controlled_vocabs cv
                       JOIN controlled_vocab_entries e ON e.controlled_vocab_id = cv.controlled_vocab_id
                       JOIN controlled_vocab_entry_settings es ON es.controlled_vocab_entry_id = e.controlled_vocab_entry_id
                       WHERE cv.assoc_type = 1048588 AND cv.assoc_id = s.current_publication_id
                         AND cv.symbolic IN ('submissionKeyword', 'submissionSubject', 'submissionDiscipline')),
                    (SELECT CONCAT(COUNT(*), ',', IFNULL(MAX(ra.last_modified), ''), ',',
                            IFNULL(SUM(CRC32(CONCAT_WS(',', ra.review_id, ra.reviewer_id, ra.declined, ra.cancelled,
                                ra.recommendation, ra.date_confirmed, ra.date_completed, ra.date_due))), 0))
                       FROM review_assignments ra WHERE ra.submission_id = s.submission_id),
                    (SELECT CONCAT(COUNT(*), ',', IFNULL(SUM(CRC32(CONCAT_WS(',', rr.review_round_id, rr.round, rr.status))), 0))
                       FROM review_rounds rr WHERE rr.submission_id = s.submission_id),
                    (SELECT CONCAT(COUNT(*), ',', IFNULL(MAX(ed.edit_decision_id), ''), ',', IFNULL(MAX(ed.date_decided), ''))
                       FROM edit_decisions ed WHERE ed.submission_id = s.submission_id)
                    {files}
                 ) FROM submissions s
                 LEFT JOIN publications p ON p.publication_id = s.current_publication_id
                 ORDER BY s.submission_id",
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    col(r, 0, "submissions.submission_id")?,
                    col::<Option<String>>(r, 1, "fingerprint")?.unwrap_or_default(),
                ))
            })
            .collect()
    }

    /// Runs a `SELECT id, locale, setting_name, setting_value` and groups it as
    /// id → setting name → [(locale, value)].
    async fn settings(&mut self, sql: &str) -> Result<Settings> {
        let rows = self.rows(sql).await?;
        let mut out: Settings = HashMap::new();
        for r in &rows {
            let id: i64 = col(r, 0, "settings id")?;
            let locale: String = col(r, 1, "settings locale")?;
            let name: String = col(r, 2, "settings setting_name")?;
            let value: Option<String> = col(r, 3, "settings setting_value")?;
            out.entry(id)
                .or_default()
                .entry(name)
                .or_default()
                .push((locale, value.unwrap_or_default()));
        }
        Ok(out)
    }
}

type Settings = HashMap<i64, HashMap<String, Vec<(String, String)>>>;

/// A datetime column as 'YYYY-MM-DD HH:MM:SS' text; NULL and zero dates as NULL.
fn dt(column: &str) -> String {
    format!("NULLIF(DATE_FORMAT({column}, '%Y-%m-%d %H:%i:%s'), '0000-00-00 00:00:00')")
}

fn join_ids(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// `supportedLocales` is a JSON array in 3.4+, a PHP-serialized array in 3.3.
fn parse_locale_list(v: &str) -> Vec<String> {
    if let Ok(list) = serde_json::from_str::<Vec<String>>(v) {
        return list;
    }
    // a:2:{i:0;s:5:"en_US";i:1;s:5:"fr_CA";}
    v.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn col<T: FromValue>(row: &Row, idx: usize, name: &str) -> Result<T> {
    match row.get_opt::<T, usize>(idx) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(OjsError::Shape {
            column: name.to_string(),
            message: e.to_string(),
        }),
        None => Err(OjsError::Shape {
            column: name.to_string(),
            message: "column missing from result".into(),
        }),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_lists_of_both_generations() {
        assert_eq!(parse_locale_list(r#"["en","fr_CA"]"#), vec!["en", "fr_CA"]);
        assert_eq!(
            parse_locale_list(r#"a:2:{i:0;s:5:"en_US";i:1;s:5:"fr_CA";}"#),
            vec!["en_US", "fr_CA"]
        );
    }
}
