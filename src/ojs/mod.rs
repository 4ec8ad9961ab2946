//! Reading the journal's OJS database (MySQL/MariaDB, schemas 3.3, 3.4, 3.5).
//!
//! Only this module speaks MySQL, and it only ever issues `SELECT`s: a user
//! with nothing but SELECT on the OJS database is enough.

mod schema;
pub mod text;

use crate::store::records::*;
use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, Row};
pub use schema::{OjsVersion, SchemaFlavor};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use text::{html_to_text, pick_locale};

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
}

/// An OJS error as the open routes (`/health`, `/api/sync`, the status page,
/// `/metrics`) and the store's `last_error` may show it: the MySQL user, its
/// password, the configured host and any network address are replaced, the
/// useful part ("Connection refused", "Access denied", the missing table) is
/// kept. `url` is the configured `ojs.url` (may be empty: then only the
/// patterns MySQL uses for users and hosts are replaced).
pub fn public_error_text(message: &str, url: &str) -> String {
    let mut out = message.to_string();
    // `'user'@'host'` in MySQL's own messages ("Access denied for user ...",
    // "SELECT command denied to user ...").
    while let Some(at) = out.find("'@'") {
        let start = out[..at].rfind('\'').unwrap_or(at);
        let end = out[at + 3..].find('\'').map(|e| at + 3 + e + 1);
        match end {
            Some(end) if start < at => out.replace_range(start..end, "<user>@<host>"),
            _ => out.replace_range(at..at + 3, "@"),
        }
    }
    // "Host '10.0.0.5' is not allowed to connect".
    while let Some(h) = out.find("Host '") {
        let from = h + "Host '".len();
        match out[from..].find('\'') {
            Some(e) => out.replace_range(h..from + e + 1, "Host <host>"),
            None => break,
        }
    }
    if let Ok(opts) = Opts::from_url(url) {
        let host = opts.ip_or_hostname().to_string();
        out = replace_word(&out, &format!("{host}:{}", opts.tcp_port()), "<host>");
        out = replace_word(&out, &format!("[{host}]:{}", opts.tcp_port()), "<host>");
        out = replace_word(&out, &host, "<host>");
        if let Some(pass) = opts.pass().filter(|p| !p.is_empty()) {
            out = out.replace(pass, "***");
        }
        if let Some(user) = opts.user().filter(|u| !u.is_empty()) {
            out = replace_word(&out, user, "<user>");
        }
    }
    replace_ipv4(&out)
}

/// Replaces `word` where it is not part of a longer name (letters, digits,
/// `.`, `-` and `_` on either side).
fn replace_word(text: &str, word: &str, with: &str) -> String {
    if word.is_empty() {
        return text.to_string();
    }
    let is_name = |c: char| c.is_alphanumeric() || matches!(c, '.' | '-' | '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(word) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + word.len()..].chars().next();
        // A trailing dot ends a sentence, not a name.
        let after_is_name = match after {
            Some('.') => rest[i + word.len() + 1..]
                .chars()
                .next()
                .is_some_and(is_name),
            Some(c) => is_name(c),
            None => false,
        };
        out.push_str(&rest[..i]);
        if before.is_some_and(is_name) || after_is_name {
            out.push_str(word);
        } else {
            out.push_str(with);
        }
        rest = &rest[i + word.len()..];
    }
    out.push_str(rest);
    out
}

/// Dotted-quad IPv4 addresses become `<address>`.
fn replace_ipv4(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        let boundary = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.');
        if boundary && b[i].is_ascii_digit() {
            // Four groups of 1-3 digits separated by dots.
            let mut j = i;
            let mut groups = 0;
            loop {
                let d = b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
                if d == 0 || d > 3 {
                    break;
                }
                j += d;
                groups += 1;
                if groups == 4 || j >= b.len() || b[j] != b'.' {
                    break;
                }
                j += 1;
            }
            let ends = j >= b.len() || !(b[j].is_ascii_alphanumeric());
            if groups == 4 && ends {
                out.push_str(&text[copied..i]);
                out.push_str("<address>");
                copied = j;
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
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
        Ok(SchemaInfo {
            version,
            flavor,
            author_affiliation_tables,
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
    pub async fn fingerprints(&mut self) -> Result<Vec<(i64, String)>> {
        let rows = self
            .rows(
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
                 ) FROM submissions s
                 LEFT JOIN publications p ON p.publication_id = s.current_publication_id
                 ORDER BY s.submission_id",
            )
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

    /// Everything mirrored about the given submissions.
    pub async fn submissions(
        &mut self,
        info: &SchemaInfo,
        ids: &[i64],
        fingerprints: &HashMap<i64, String>,
    ) -> Result<Vec<SubmissionRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let id_list = join_ids(ids);
        let rows = self
            .rows(&format!(
                "SELECT s.submission_id, s.context_id, p.section_id, s.current_publication_id,
                        p.version, s.status, s.stage_id, CAST(s.submission_progress AS CHAR),
                        IFNULL(s.locale, ''), {}, {}, {}
                 FROM submissions s
                 LEFT JOIN publications p ON p.publication_id = s.current_publication_id
                 WHERE s.submission_id IN ({id_list}) ORDER BY s.submission_id",
                dt("s.date_submitted"),
                dt("s.date_last_activity"),
                dt("s.last_modified")
            ))
            .await?;
        let mut subs: BTreeMap<i64, SubmissionRecord> = BTreeMap::new();
        let mut pub_to_sub: HashMap<i64, i64> = HashMap::new();
        for r in &rows {
            let id: i64 = col(r, 0, "submissions.submission_id")?;
            let progress: Option<String> = col(r, 7, "submissions.submission_progress")?;
            // 3.3: smallint, 0 = complete. 3.4+: varchar, '' = complete.
            let progress = progress.unwrap_or_default();
            let submitted = progress.is_empty() || progress == "0";
            let publication_id: Option<i64> = col(r, 3, "submissions.current_publication_id")?;
            if let Some(p) = publication_id {
                pub_to_sub.insert(p, id);
            }
            subs.insert(
                id,
                SubmissionRecord {
                    id,
                    journal_id: col(r, 1, "submissions.context_id")?,
                    section_id: col(r, 2, "publications.section_id")?,
                    publication_id,
                    publication_version: col(r, 4, "publications.version")?,
                    status: col(r, 5, "submissions.status")?,
                    stage_id: col(r, 6, "submissions.stage_id")?,
                    submitted,
                    locale: col(r, 8, "submissions.locale")?,
                    date_submitted: col(r, 9, "submissions.date_submitted")?,
                    date_last_activity: col(r, 10, "submissions.date_last_activity")?,
                    last_modified: col(r, 11, "submissions.last_modified")?,
                    fingerprint: fingerprints.get(&id).cloned().unwrap_or_default(),
                    ..Default::default()
                },
            );
        }
        let pubs: Vec<i64> = pub_to_sub.keys().copied().collect();
        if !pubs.is_empty() {
            let pub_list = join_ids(&pubs);
            self.fill_texts(&mut subs, &pub_to_sub, &pub_list).await?;
            self.fill_authors(info, &mut subs, &pub_to_sub, &pub_list)
                .await?;
            self.fill_terms(&mut subs, &pub_to_sub, &pub_list).await?;
        }
        self.fill_reviews(&mut subs, &id_list).await?;
        Ok(subs.into_values().collect())
    }

    async fn fill_texts(
        &mut self,
        subs: &mut BTreeMap<i64, SubmissionRecord>,
        pub_to_sub: &HashMap<i64, i64>,
        pub_list: &str,
    ) -> Result<()> {
        let rows = self
            .rows(&format!(
                "SELECT publication_id, locale, setting_name, setting_value FROM publication_settings
                 WHERE publication_id IN ({pub_list}) AND setting_name IN ('title', 'abstract')
                 ORDER BY publication_id, locale"
            ))
            .await?;
        for r in &rows {
            let pid: i64 = col(r, 0, "publication_settings.publication_id")?;
            let locale: String = col(r, 1, "publication_settings.locale")?;
            let name: String = col(r, 2, "publication_settings.setting_name")?;
            let value: Option<String> = col(r, 3, "publication_settings.setting_value")?;
            let value = html_to_text(&value.unwrap_or_default());
            let Some(s) = pub_to_sub.get(&pid).and_then(|sid| subs.get_mut(sid)) else {
                continue;
            };
            let idx = match s.texts.iter().position(|t| t.locale == locale) {
                Some(i) => i,
                None => {
                    s.texts.push(LocalizedText {
                        locale: locale.clone(),
                        ..Default::default()
                    });
                    s.texts.len() - 1
                }
            };
            match name.as_str() {
                "title" => s.texts[idx].title = value,
                _ => s.texts[idx].abstract_text = value,
            }
        }
        Ok(())
    }

    async fn fill_authors(
        &mut self,
        info: &SchemaInfo,
        subs: &mut BTreeMap<i64, SubmissionRecord>,
        pub_to_sub: &HashMap<i64, i64>,
        pub_list: &str,
    ) -> Result<()> {
        let rows = self
            .rows(&format!(
                "SELECT author_id, publication_id, seq, email FROM authors
                 WHERE publication_id IN ({pub_list}) ORDER BY publication_id, seq, author_id"
            ))
            .await?;
        let mut settings = self
            .settings(&format!(
                "SELECT s.author_id, s.locale, s.setting_name, s.setting_value FROM author_settings s
                 JOIN authors a ON a.author_id = s.author_id
                 WHERE a.publication_id IN ({pub_list})
                   AND s.setting_name IN ('givenName', 'familyName', 'affiliation', 'country', 'orcid')"
            ))
            .await?;
        if info.author_affiliation_tables {
            // 3.5: affiliations moved to their own tables (one author may have several).
            let aff = self
                .rows(&format!(
                    "SELECT af.author_id, s.locale, s.setting_value
                     FROM author_affiliations af
                     JOIN author_affiliation_settings s ON s.author_affiliation_id = af.author_affiliation_id
                     JOIN authors a ON a.author_id = af.author_id
                     WHERE a.publication_id IN ({pub_list}) AND s.setting_name = 'name'
                     ORDER BY af.author_id, af.author_affiliation_id"
                ))
                .await?;
            let mut joined: HashMap<(i64, String), Vec<String>> = HashMap::new();
            for r in &aff {
                let aid: i64 = col(r, 0, "author_affiliations.author_id")?;
                let locale: String = col(r, 1, "author_affiliation_settings.locale")?;
                let v: Option<String> = col(r, 2, "author_affiliation_settings.setting_value")?;
                joined.entry((aid, locale)).or_default().extend(v);
            }
            for ((aid, locale), names) in joined {
                settings
                    .entry(aid)
                    .or_default()
                    .entry("affiliation".into())
                    .or_default()
                    .push((locale, names.join("; ")));
            }
        }
        for r in &rows {
            let aid: i64 = col(r, 0, "authors.author_id")?;
            let pid: i64 = col(r, 1, "authors.publication_id")?;
            let Some(s) = pub_to_sub.get(&pid).and_then(|sid| subs.get_mut(sid)) else {
                continue;
            };
            let st = settings.get(&aid);
            let locale = s.locale.clone();
            let get = |name: &str| {
                st.and_then(|m| m.get(name))
                    .map(|v| text::fold_whitespace(pick_locale(v, &[&locale, ""])))
                    .unwrap_or_default()
            };
            s.authors.push(Author {
                id: aid,
                seq: col(r, 2, "authors.seq")?,
                given_name: get("givenName"),
                family_name: get("familyName"),
                affiliation: get("affiliation"),
                email: col::<Option<String>>(r, 3, "authors.email")?.unwrap_or_default(),
                country: get("country"),
                orcid: get("orcid"),
            });
        }
        Ok(())
    }

    async fn fill_terms(
        &mut self,
        subs: &mut BTreeMap<i64, SubmissionRecord>,
        pub_to_sub: &HashMap<i64, i64>,
        pub_list: &str,
    ) -> Result<()> {
        let rows = self
            .rows(&format!(
                "SELECT cv.assoc_id, cv.symbolic, es.locale, es.setting_value, IFNULL(e.seq, 0)
                 FROM controlled_vocabs cv
                 JOIN controlled_vocab_entries e ON e.controlled_vocab_id = cv.controlled_vocab_id
                 JOIN controlled_vocab_entry_settings es ON es.controlled_vocab_entry_id = e.controlled_vocab_entry_id
                 WHERE cv.assoc_type = {ASSOC_TYPE_PUBLICATION} AND cv.assoc_id IN ({pub_list})
                   AND cv.symbolic IN ('submissionKeyword', 'submissionSubject', 'submissionDiscipline')
                 ORDER BY cv.assoc_id, cv.symbolic, es.locale, e.seq"
            ))
            .await?;
        for r in &rows {
            let pid: i64 = col(r, 0, "controlled_vocabs.assoc_id")?;
            let symbolic: String = col(r, 1, "controlled_vocabs.symbolic")?;
            let locale: String = col(r, 2, "controlled_vocab_entry_settings.locale")?;
            let term: Option<String> = col(r, 3, "controlled_vocab_entry_settings.setting_value")?;
            let seq: f64 = col(r, 4, "controlled_vocab_entries.seq")?;
            let term = text::fold_whitespace(&term.unwrap_or_default());
            if term.is_empty() {
                continue;
            }
            let Some(s) = pub_to_sub.get(&pid).and_then(|sid| subs.get_mut(sid)) else {
                continue;
            };
            let kind = match symbolic.as_str() {
                "submissionKeyword" => "keyword",
                "submissionSubject" => "subject",
                _ => "discipline",
            };
            s.terms.push(Term {
                kind: kind.into(),
                locale,
                term,
                seq: seq as i64,
            });
        }
        Ok(())
    }

    async fn fill_reviews(
        &mut self,
        subs: &mut BTreeMap<i64, SubmissionRecord>,
        id_list: &str,
    ) -> Result<()> {
        let rows = self
            .rows(&format!(
                "SELECT review_round_id, submission_id, stage_id, round, status FROM review_rounds
                 WHERE submission_id IN ({id_list}) ORDER BY review_round_id"
            ))
            .await?;
        for r in &rows {
            let sid: i64 = col(r, 1, "review_rounds.submission_id")?;
            if let Some(s) = subs.get_mut(&sid) {
                s.review_rounds.push(ReviewRound {
                    id: col(r, 0, "review_rounds.review_round_id")?,
                    stage_id: col(r, 2, "review_rounds.stage_id")?,
                    round: col(r, 3, "review_rounds.round")?,
                    status: col(r, 4, "review_rounds.status")?,
                });
            }
        }
        let rows = self
            .rows(&format!(
                "SELECT review_id, submission_id, reviewer_id, review_round_id, stage_id, round,
                        recommendation, {}, {}, {}, {}, {}, {}, {}, declined, cancelled
                 FROM review_assignments WHERE submission_id IN ({id_list}) ORDER BY review_id",
                dt("date_assigned"),
                dt("date_notified"),
                dt("date_confirmed"),
                dt("date_completed"),
                dt("date_due"),
                dt("date_response_due"),
                dt("last_modified"),
            ))
            .await?;
        for r in &rows {
            let sid: i64 = col(r, 1, "review_assignments.submission_id")?;
            if let Some(s) = subs.get_mut(&sid) {
                s.review_assignments.push(ReviewAssignment {
                    id: col(r, 0, "review_assignments.review_id")?,
                    reviewer_id: col(r, 2, "review_assignments.reviewer_id")?,
                    review_round_id: col(r, 3, "review_assignments.review_round_id")?,
                    stage_id: col(r, 4, "review_assignments.stage_id")?,
                    round: col(r, 5, "review_assignments.round")?,
                    recommendation: col(r, 6, "review_assignments.recommendation")?,
                    date_assigned: col(r, 7, "review_assignments.date_assigned")?,
                    date_notified: col(r, 8, "review_assignments.date_notified")?,
                    date_confirmed: col(r, 9, "review_assignments.date_confirmed")?,
                    date_completed: col(r, 10, "review_assignments.date_completed")?,
                    date_due: col(r, 11, "review_assignments.date_due")?,
                    date_response_due: col(r, 12, "review_assignments.date_response_due")?,
                    last_modified: col(r, 13, "review_assignments.last_modified")?,
                    declined: col::<i64>(r, 14, "review_assignments.declined")? != 0,
                    cancelled: col::<i64>(r, 15, "review_assignments.cancelled")? != 0,
                });
            }
        }
        let rows = self
            .rows(&format!(
                "SELECT edit_decision_id, submission_id, review_round_id, stage_id, round, editor_id,
                        decision, {} FROM edit_decisions
                 WHERE submission_id IN ({id_list}) ORDER BY edit_decision_id",
                dt("date_decided")
            ))
            .await?;
        for r in &rows {
            let sid: i64 = col(r, 1, "edit_decisions.submission_id")?;
            if let Some(s) = subs.get_mut(&sid) {
                s.decisions.push(Decision {
                    id: col(r, 0, "edit_decisions.edit_decision_id")?,
                    review_round_id: col(r, 2, "edit_decisions.review_round_id")?,
                    stage_id: col(r, 3, "edit_decisions.stage_id")?,
                    round: col(r, 4, "edit_decisions.round")?,
                    editor_id: col(r, 5, "edit_decisions.editor_id")?,
                    decision: col(r, 6, "edit_decisions.decision")?,
                    date_decided: col(r, 7, "edit_decisions.date_decided")?,
                });
            }
        }
        Ok(())
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

    #[test]
    fn public_error_text_drops_user_password_host_and_addresses() {
        let url = "mysql://editor:s3cret@db.journal.example:3306/ojs";
        let t = public_error_text(
            "cannot reach the OJS database at db.journal.example:3306: Server error: `ERROR 28000 (1045): Access denied for user 'editor'@'10.1.2.3' (using password: YES)'",
            url,
        );
        assert_eq!(
            t,
            "cannot reach the OJS database at <host>: Server error: `ERROR 28000 (1045): Access denied for user <user>@<host> (using password: YES)'"
        );
        let t = public_error_text("Host '192.168.1.20' is not allowed to connect", "");
        assert_eq!(t, "Host <host> is not allowed to connect");
        let t = public_error_text("editor could not log in to db.journal.example.", url);
        assert_eq!(t, "<user> could not log in to <host>.");
        let t = public_error_text("the password s3cret was refused", url);
        assert!(!t.contains("s3cret"), "{t}");
        // Names that merely contain the user or host are left alone.
        let t = public_error_text("missing editorial_decisions, db.journal.example.org", url);
        assert_eq!(t, "missing editorial_decisions, db.journal.example.org");
        let t = public_error_text(
            "at 127.0.0.1:9: Connection refused (os error 111); v1.2.3.4a",
            "",
        );
        assert_eq!(
            t,
            "at <address>:9: Connection refused (os error 111); v1.2.3.4a"
        );
    }
}
