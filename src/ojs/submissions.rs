//! Fetching whole submissions: the current publication's texts, authors,
//! keywords and subjects, review rounds, assignments and decisions.

use super::text::{html_to_text, pick_locale};
use super::*;

impl OjsSource {
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
        if info.submission_files {
            self.fill_files(info, &mut subs, &id_list).await?;
        }
        Ok(subs.into_values().collect())
    }

    /// The submissions' files: stage, display name (the submission's locale, else any) and, where OJS's `files`
    /// table is there, the path under OJS's files directory.
    async fn fill_files(
        &mut self,
        info: &SchemaInfo,
        subs: &mut BTreeMap<i64, SubmissionRecord>,
        id_list: &str,
    ) -> Result<()> {
        let (path_cols, path_join) = if info.file_paths {
            (
                "f.path, f.mimetype",
                "LEFT JOIN files f ON f.file_id = sf.file_id",
            )
        } else {
            ("NULL, NULL", "")
        };
        let rows = self
            .rows(&format!(
                "SELECT sf.submission_file_id, sf.submission_id, sf.file_id, sf.file_stage, {}, {path_cols}
                 FROM submission_files sf {path_join}
                 WHERE sf.submission_id IN ({id_list}) ORDER BY sf.submission_file_id",
                dt("sf.updated_at")
            ))
            .await?;
        let names = self
            .settings(&format!(
                "SELECT fs.submission_file_id, fs.locale, fs.setting_name, fs.setting_value
                 FROM submission_file_settings fs
                 JOIN submission_files sf ON sf.submission_file_id = fs.submission_file_id
                 WHERE sf.submission_id IN ({id_list}) AND fs.setting_name = 'name'"
            ))
            .await?;
        for r in &rows {
            let id: i64 = col(r, 0, "submission_files.submission_file_id")?;
            let sid: i64 = col(r, 1, "submission_files.submission_id")?;
            let Some(s) = subs.get_mut(&sid) else {
                continue;
            };
            let name = names
                .get(&id)
                .and_then(|n| n.get("name"))
                .map(|v| text::fold_whitespace(pick_locale(v, &[&s.locale])))
                .unwrap_or_default();
            s.files.push(SubmissionFile {
                id,
                file_id: col(r, 2, "submission_files.file_id")?,
                stage: col(r, 3, "submission_files.file_stage")?,
                name,
                updated_at: col(r, 4, "submission_files.updated_at")?,
                path: col(r, 5, "files.path")?,
                mimetype: col(r, 6, "files.mimetype")?,
            });
        }
        Ok(())
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
}
