//! Reads and writes of the AI agents: the corpus the matcher and search see,
//! cached embeddings (`semantic_embeddings`) and cached match scores
//! (`reviewer_matching_scores`).

use super::{Result, Store};
use rusqlite::params;
use serde::Serialize;
use std::collections::HashMap;

/// A person on a submission (author) as the conflict checks need it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Person {
    pub name: String,
    pub email: String,
    pub affiliation: String,
}

/// One submission's text, people and review history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorpusDoc {
    pub id: i64,
    pub journal_id: i64,
    pub submitted: bool,
    pub title: String,
    pub abstract_text: String,
    pub keywords: Vec<String>,
    pub authors: Vec<Person>,
}

/// A review assignment as the matcher needs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssignmentFact {
    pub submission_id: i64,
    pub reviewer_id: i64,
    pub round: Option<i64>,
    pub declined: bool,
    pub cancelled: bool,
    pub completed: bool,
}

/// A reviewer with interests and workload figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewerFacts {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub affiliation: String,
    pub disabled: bool,
    pub interests: Vec<String>,
    pub assigned: i64,
    pub completed: i64,
    pub declined: i64,
    pub active: i64,
    pub avg_days_to_complete: Option<f64>,
    pub last_review: Option<String>,
}

/// A cached score row.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    pub reviewer_id: i64,
    pub score: f64,
    pub excluded: bool,
    pub reasons_json: String,
    pub model_sha256: String,
    pub inputs_hash: String,
    pub computed_at: i64,
}

/// A cached embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEmbedding {
    pub text_hash: String,
    pub vector: Vec<f32>,
}

pub fn vector_to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn blob_to_vector(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl Store {
    /// Every mirrored submission with title, abstract, keywords (its own locale
    /// first) and authors.
    pub fn corpus(&self) -> Result<Vec<CorpusDoc>> {
        let c = self.conn();
        let mut docs: Vec<CorpusDoc> = c
            .prepare(
                "SELECT id, journal_id, submitted, title, abstract FROM submissions ORDER BY id",
            )?
            .query_map([], |r| {
                Ok(CorpusDoc {
                    id: r.get(0)?,
                    journal_id: r.get(1)?,
                    submitted: r.get(2)?,
                    title: r.get(3)?,
                    abstract_text: r.get(4)?,
                    keywords: Vec::new(),
                    authors: Vec::new(),
                })
            })?
            .collect::<Result<_, _>>()?;
        let index: HashMap<i64, usize> = docs.iter().enumerate().map(|(i, d)| (d.id, i)).collect();
        let mut stmt = c.prepare(
            "SELECT t.submission_id, t.term FROM submission_terms t JOIN submissions s ON s.id = t.submission_id
             WHERE t.kind = 'keyword' ORDER BY t.submission_id, (t.locale = s.locale) DESC, t.locale, t.seq, t.term",
        )?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
            let (id, term) = row?;
            if let Some(&i) = index.get(&id) {
                let kws = &mut docs[i].keywords;
                if !kws.iter().any(|k| k.eq_ignore_ascii_case(&term)) {
                    kws.push(term);
                }
            }
        }
        let mut stmt = c.prepare(
            "SELECT submission_id, trim(given_name || ' ' || family_name), email, affiliation
             FROM authors ORDER BY submission_id, seq, id",
        )?;
        for row in stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                Person {
                    name: r.get(1)?,
                    email: r.get(2)?,
                    affiliation: r.get(3)?,
                },
            ))
        })? {
            let (id, p) = row?;
            if let Some(&i) = index.get(&id) {
                docs[i].authors.push(p);
            }
        }
        Ok(docs)
    }

    /// Every review assignment.
    pub fn assignment_facts(&self) -> Result<Vec<AssignmentFact>> {
        let mut stmt = self.conn().prepare(
            "SELECT submission_id, reviewer_id, round, declined, cancelled, date_completed IS NOT NULL
             FROM review_assignments ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(AssignmentFact {
                submission_id: r.get(0)?,
                reviewer_id: r.get(1)?,
                round: r.get(2)?,
                declined: r.get(3)?,
                cancelled: r.get(4)?,
                completed: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every reviewer with interests and the performance view's figures.
    pub fn reviewer_facts(&self) -> Result<Vec<ReviewerFacts>> {
        let c = self.conn();
        let mut out: Vec<ReviewerFacts> = c
            .prepare(
                "SELECT r.id, trim(r.given_name || ' ' || r.family_name), r.email, r.affiliation,
                        r.disabled, p.assigned, p.completed, p.declined, p.active,
                        p.avg_days_to_complete, p.last_review
                 FROM reviewers r JOIN v_reviewer_performance p ON p.reviewer_id = r.id
                 ORDER BY r.id",
            )?
            .query_map([], |r| {
                Ok(ReviewerFacts {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    email: r.get(2)?,
                    affiliation: r.get(3)?,
                    disabled: r.get(4)?,
                    interests: Vec::new(),
                    assigned: r.get(5)?,
                    completed: r.get(6)?,
                    declined: r.get(7)?,
                    active: r.get(8)?,
                    avg_days_to_complete: r.get(9)?,
                    last_review: r.get(10)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let index: HashMap<i64, usize> = out.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        let mut stmt = c.prepare(
            "SELECT reviewer_id, term FROM reviewer_interests ORDER BY reviewer_id, term",
        )?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
            let (id, term) = row?;
            if let Some(&i) = index.get(&id) {
                out[i].interests.push(term);
            }
        }
        Ok(out)
    }

    /// Cached embeddings of `kind` for one model, by object id.
    pub fn embeddings(
        &self,
        kind: &str,
        model_sha256: &str,
    ) -> Result<HashMap<i64, StoredEmbedding>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT object_id, text_hash, vector FROM semantic_embeddings
             WHERE kind = ?1 AND model_sha256 = ?2",
        )?;
        let rows = stmt.query_map(params![kind, model_sha256], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                StoredEmbedding {
                    text_hash: r.get(1)?,
                    vector: blob_to_vector(&r.get::<_, Vec<u8>>(2)?),
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Writes embeddings (one transaction). Of other models' vectors of the
    /// same objects only the newest model's stays: switching to a model and
    /// back (a missing model's fallback, an update rolled back) finds its
    /// vectors again, and the table holds at most two models per object.
    pub fn put_embeddings(
        &self,
        kind: &str,
        model_sha256: &str,
        rows: &[(i64, String, Vec<f32>)],
        now: i64,
    ) -> Result<()> {
        let tx = self.conn().unchecked_transaction()?;
        {
            let mut del = tx.prepare_cached(
                "DELETE FROM semantic_embeddings WHERE kind = ?1 AND object_id = ?2 AND model_sha256 <> ?3
                   AND model_sha256 NOT IN (
                     SELECT model_sha256 FROM semantic_embeddings
                      WHERE kind = ?1 AND object_id = ?2 AND model_sha256 <> ?3
                      ORDER BY created_at DESC, model_sha256 LIMIT 1)",
            )?;
            let mut ins = tx.prepare_cached(
                "INSERT OR REPLACE INTO semantic_embeddings(kind, object_id, model_sha256, text_hash, dim, vector, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (id, hash, v) in rows {
                if v.is_empty() {
                    continue;
                }
                del.execute(params![kind, id, model_sha256])?;
                ins.execute(params![
                    kind,
                    id,
                    model_sha256,
                    hash,
                    v.len() as i64,
                    vector_to_blob(v),
                    now
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Folds the write-ahead log into the database file (after a bulk write
    /// such as background embedding, so the WAL does not stay large). Best
    /// effort: a checkpoint blocked by readers just does less.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn()
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Cached match scores of one submission.
    pub fn match_scores(&self, submission_id: i64) -> Result<Vec<ScoreRow>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT reviewer_id, score, excluded, reasons, model_sha256, inputs_hash, computed_at
             FROM reviewer_matching_scores WHERE submission_id = ?1 ORDER BY reviewer_id",
        )?;
        let rows = stmt.query_map([submission_id], |r| {
            Ok(ScoreRow {
                reviewer_id: r.get(0)?,
                score: r.get(1)?,
                excluded: r.get(2)?,
                reasons_json: r.get(3)?,
                model_sha256: r.get(4)?,
                inputs_hash: r.get(5)?,
                computed_at: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Replaces the cached scores of one submission (one transaction).
    pub fn replace_match_scores(&self, submission_id: i64, rows: &[ScoreRow]) -> Result<()> {
        let tx = self.conn().unchecked_transaction()?;
        tx.execute(
            "DELETE FROM reviewer_matching_scores WHERE submission_id = ?1",
            [submission_id],
        )?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO reviewer_matching_scores(submission_id, reviewer_id, score, excluded, reasons,
                     model_sha256, inputs_hash, computed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for r in rows {
                ins.execute(params![
                    submission_id,
                    r.reviewer_id,
                    r.score,
                    r.excluded,
                    r.reasons_json,
                    r.model_sha256,
                    r.inputs_hash,
                    r.computed_at
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
