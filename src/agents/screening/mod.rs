//! Manuscript screening: a first-look report for the editor on one submission.
//!
//! Facts that can be checked without a model (keywords and affiliations
//! present, abstract length, the journal's sections, what is missing) are
//! computed here in Rust. The LLM adds the judgement: scope fit, the best
//! section, clarity of the abstract, whether methods/results/conclusions are
//! stated, and a one-paragraph summary. Its answer is constrained to a JSON
//! shape by a llama.cpp grammar (GBNF), then parsed with serde and range-checked;
//! an answer that fails is an `error` run and nothing is cached.
//!
//! Reports are cached in `quality_assessment_cache` by (submission,
//! publication, publication version, model sha256), where the model sha256 is
//! the hash this process computed from the GGUF file llama.cpp loaded (verified
//! against the model store's manifest, or hashed at load for a hand-given
//! `--model` file; see [`crate::inference::llm`]), never a manifest's claim
//! alone: a corrupt model is refused before it can run. A cached report whose
//! inputs changed since (OJS lets editors edit a publication without a new
//! version) is recomputed. Every run that reaches the model, and every
//! failure, is logged in `agent_execution_log` and counted in
//! `ojscog_agent_runs_total{agent="screening",outcome}`; cache hits are not runs.

mod prompt;
use crate::inference::llm::{ChatMessage, GenerateRequest, Generator, Llm, LlmConfig, LlmError};
use crate::metrics::Metrics;
use crate::store::{AgentRun, AssessmentKey, ScreeningInput, Store, StoreError};
use crate::system::unix_now;
#[cfg(test)]
use prompt::*;
pub use prompt::{grammar, parse_judgement, prompt};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The agent's name in logs and metrics.
pub const AGENT: &str = "screening";
/// Version of the report's shape and of the prompt: part of the inputs hash.
pub const REPORT_SCHEMA: u32 = 1;
/// Bounds of the summary the grammar allows, in characters.
pub const SUMMARY_MIN_CHARS: usize = 40;
pub const SUMMARY_MAX_CHARS: usize = 400;
/// Longest abstract and title given to the model (characters); the facts use the full text.
const ABSTRACT_PROMPT_CHARS: usize = 3000;
const TITLE_PROMPT_CHARS: usize = 300;
/// Abstract length bands (words).
pub const ABSTRACT_SHORT_WORDS: usize = 50;
pub const ABSTRACT_LONG_WORDS: usize = 350;

#[derive(Debug, thiserror::Error)]
pub enum ScreeningError {
    #[error("submission {0} not found")]
    NotFound(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error("the model's answer failed validation: {reason}")]
    Invalid { reason: String, raw: String },
}

impl ScreeningError {
    /// The `agent_execution_log` outcome this error is logged with.
    pub fn outcome(&self) -> &'static str {
        match self {
            ScreeningError::Llm(e) if e.is_timeout() => "timeout",
            _ => "error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeFit {
    Good,
    Partial,
    Poor,
}

/// What the model judges (everything else in the report is computed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Judgement {
    /// One paragraph for the editor.
    pub summary: String,
    pub scope_fit: ScopeFit,
    /// One of the journal's section titles; None when the journal has no sections.
    pub best_section: Option<String>,
    /// 1 (unclear) to 5 (very clear).
    pub abstract_clarity: u8,
    pub methods_stated: bool,
    pub results_stated: bool,
    pub conclusions_stated: bool,
}

/// Facts computed in Rust from the mirrored metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub journal: String,
    /// The section the author submitted to.
    pub section: Option<String>,
    /// All sections of the journal.
    pub sections: Vec<String>,
    pub title_words: usize,
    pub abstract_words: usize,
    pub abstract_sentences: usize,
    /// `missing`, `short` (under 50 words), `ok` or `long` (over 350 words).
    pub abstract_length: String,
    pub keywords: Vec<String>,
    pub keywords_present: bool,
    pub authors: usize,
    /// Every author has an affiliation (false when there are no authors).
    pub affiliations_present: bool,
    pub authors_without_affiliation: Vec<String>,
    pub authors_without_orcid: usize,
    /// What the editor would have to ask the author for: `title`, `abstract`,
    /// `keywords`, `authors`, `author affiliations`, `section`.
    pub missing_elements: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportModel {
    pub id: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationStats {
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    /// Prompt processing plus generation (whole ms: the JSON round-trips exactly).
    pub milliseconds: u64,
}

/// The screening report, as cached and as served by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScreeningReport {
    pub schema: u32,
    pub submission_id: i64,
    pub publication_id: i64,
    pub publication_version: i64,
    pub title: String,
    pub model: ReportModel,
    pub created_at: i64,
    /// Hash of everything the report was made from; a change means "recompute".
    pub input_hash: String,
    pub facts: Facts,
    pub judgement: Judgement,
    /// The model's best section differs from the one the author chose.
    pub section_mismatch: bool,
    pub generation: GenerationStats,
}

/// A report and whether it came from the cache.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub cached: bool,
    #[serde(flatten)]
    pub report: ScreeningReport,
}

/// The screening agent: a language model ([`Generator`]: the loaded LLM, or a
/// fault injector in tests) plus the metrics it counts runs in. Share it
/// (`Arc`) between web workers; the LLM's worker serialises the runs.
pub struct ScreeningAgent {
    llm: Arc<dyn Generator>,
    metrics: Arc<Metrics>,
    timeout: Duration,
    max_tokens: Option<u32>,
}

impl ScreeningAgent {
    pub fn new(llm: Llm, metrics: Arc<Metrics>) -> ScreeningAgent {
        ScreeningAgent::with_generator(Arc::new(llm), metrics)
    }

    /// The agent on any [`Generator`].
    pub fn with_generator(llm: Arc<dyn Generator>, metrics: Arc<Metrics>) -> ScreeningAgent {
        let timeout = llm.timeout();
        ScreeningAgent {
            llm,
            metrics,
            timeout,
            max_tokens: None,
        }
    }

    /// Loads the LLM named by `config` (hashed at load), or, when its
    /// `model_path` is empty, the installed default model under `data_dir` / the
    /// developers' store, verified against its manifest first.
    pub fn load(
        config: LlmConfig,
        data_dir: &Path,
        metrics: Arc<Metrics>,
    ) -> Result<ScreeningAgent, ScreeningError> {
        let llm = crate::inference::llm::load_configured(config, data_dir)?;
        Ok(ScreeningAgent::new(llm, metrics))
    }

    /// Per-run deadline (queueing included); capped by the LLM's configured timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> ScreeningAgent {
        self.timeout = timeout;
        self
    }

    /// Token budget of the answer (default: the LLM's `max_tokens`). Too small
    /// a budget cuts the JSON short: the run fails validation and is not cached.
    pub fn with_max_tokens(mut self, max_tokens: u32) -> ScreeningAgent {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// The model the agent runs.
    pub fn llm(&self) -> &dyn Generator {
        self.llm.as_ref()
    }

    fn key(&self, input: &ScreeningInput) -> AssessmentKey {
        AssessmentKey {
            submission_id: input.submission_id,
            publication_id: input.publication_id.unwrap_or(0),
            publication_version: input.publication_version.unwrap_or(0),
            model_sha256: self.llm.info().sha256.clone(),
        }
    }

    /// The cached report for the submission's current publication and this
    /// model, if there is one and its inputs are unchanged. Never runs the model.
    pub fn cached(
        &self,
        store: &Store,
        submission_id: i64,
    ) -> Result<Option<Assessment>, ScreeningError> {
        let input = store
            .screening_input(submission_id)?
            .ok_or(ScreeningError::NotFound(submission_id))?;
        self.cached_for(store, &input)
    }

    fn cached_for(
        &self,
        store: &Store,
        input: &ScreeningInput,
    ) -> Result<Option<Assessment>, ScreeningError> {
        let Some((text, _)) = store.cached_assessment(&self.key(input))? else {
            return Ok(None);
        };
        // A report of an older shape, or of inputs since edited, is a miss.
        Ok(serde_json::from_str::<ScreeningReport>(&text)
            .ok()
            .filter(|r| r.schema == REPORT_SCHEMA && r.input_hash == input_hash(input))
            .map(|report| Assessment {
                cached: true,
                report,
            }))
    }

    /// The screening report of a submission: from the cache when it is fresh,
    /// else made by the LLM (blocking up to the timeout), validated, cached and
    /// logged. `store` must be writable (the log and the cache are written).
    pub fn assess(&self, store: &Store, submission_id: i64) -> Result<Assessment, ScreeningError> {
        let started_at = unix_now();
        let t0 = Instant::now();
        let result = self.assess_inner(store, submission_id);
        let (outcome, detail) = match &result {
            Ok(a) if a.cached => return result,
            // An unknown id is the caller's mistake, not a run: not logged
            // (anyone could otherwise grow the log one row per request).
            Err(ScreeningError::NotFound(_)) => return result,
            Ok(a) => (
                "ok",
                format!(
                    "{} prompt + {} generated tokens",
                    a.report.generation.prompt_tokens, a.report.generation.generated_tokens
                ),
            ),
            Err(e) => {
                let mut d = e.to_string();
                if let ScreeningError::Invalid { raw, .. } = e {
                    d.push_str(": ");
                    d.push_str(&truncate_chars(raw, 1500));
                }
                (e.outcome(), d)
            }
        };
        let run = AgentRun {
            agent: AGENT.into(),
            submission_id: Some(submission_id),
            started_at,
            duration_seconds: t0.elapsed().as_secs_f64(),
            outcome: outcome.into(),
            model_id: Some(self.llm.info().id.clone()),
            detail: Some(detail),
        };
        if let Err(e) = store.log_agent_run(&run) {
            tracing::warn!(error = %e, "cannot log the screening run");
        }
        self.metrics
            .agent_run(AGENT, outcome, run.duration_seconds, started_at);
        match &result {
            Ok(_) => tracing::info!(submission_id, seconds = run.duration_seconds, "screened"),
            Err(e) => tracing::warn!(submission_id, outcome, error = %e, "screening failed"),
        }
        result
    }

    fn assess_inner(
        &self,
        store: &Store,
        submission_id: i64,
    ) -> Result<Assessment, ScreeningError> {
        let input = store
            .screening_input(submission_id)?
            .ok_or(ScreeningError::NotFound(submission_id))?;
        if let Some(hit) = self.cached_for(store, &input)? {
            return Ok(hit);
        }
        let facts = facts(&input);
        let req = GenerateRequest {
            messages: prompt(&input),
            grammar: Some(grammar(&input.sections)),
            max_tokens: self.max_tokens,
        };
        let gen = self.llm.generate_within(req, self.timeout)?;
        let judgement = parse_judgement(&gen.text, &input.sections)?;
        let key = self.key(&input);
        let report = ScreeningReport {
            schema: REPORT_SCHEMA,
            submission_id,
            publication_id: key.publication_id,
            publication_version: key.publication_version,
            title: input.title.clone(),
            model: ReportModel {
                id: self.llm.info().id.clone(),
                sha256: key.model_sha256.clone(),
            },
            created_at: unix_now(),
            input_hash: input_hash(&input),
            section_mismatch: match (&input.section, &judgement.best_section) {
                (Some(chosen), Some(best)) => chosen != best,
                _ => false,
            },
            facts,
            judgement,
            generation: GenerationStats {
                prompt_tokens: gen.prompt_tokens,
                generated_tokens: gen.generated_tokens,
                milliseconds: ((gen.prompt_seconds + gen.decode_seconds) * 1000.0).round() as u64,
            },
        };
        let text = serde_json::to_string(&report).map_err(|e| ScreeningError::Invalid {
            reason: format!("cannot serialise the report: {e}"),
            raw: String::new(),
        })?;
        store.put_assessment(&key, &text, report.created_at)?;
        Ok(Assessment {
            cached: false,
            report,
        })
    }
}

/// The checkable facts of a submission.
pub fn facts(input: &ScreeningInput) -> Facts {
    let abstract_words = word_count(&input.abstract_text);
    let abstract_length = match abstract_words {
        0 => "missing",
        n if n < ABSTRACT_SHORT_WORDS => "short",
        n if n > ABSTRACT_LONG_WORDS => "long",
        _ => "ok",
    };
    let authors_without_affiliation: Vec<String> = input
        .authors
        .iter()
        .filter(|a| a.affiliation.trim().is_empty())
        .map(|a| a.name.clone())
        .collect();
    let mut missing = Vec::new();
    if input.title.trim().is_empty() {
        missing.push("title");
    }
    if abstract_words == 0 {
        missing.push("abstract");
    }
    if input.keywords.is_empty() {
        missing.push("keywords");
    }
    if input.authors.is_empty() {
        missing.push("authors");
    }
    if !authors_without_affiliation.is_empty() {
        missing.push("author affiliations");
    }
    if input.section.is_none() {
        missing.push("section");
    }
    Facts {
        journal: input.journal_name.clone(),
        section: input.section.clone(),
        sections: input.sections.clone(),
        title_words: word_count(&input.title),
        abstract_words,
        abstract_sentences: sentence_count(&input.abstract_text),
        abstract_length: abstract_length.into(),
        keywords: input.keywords.clone(),
        keywords_present: !input.keywords.is_empty(),
        authors: input.authors.len(),
        affiliations_present: !input.authors.is_empty() && authors_without_affiliation.is_empty(),
        authors_without_affiliation,
        authors_without_orcid: input
            .authors
            .iter()
            .filter(|a| a.orcid.trim().is_empty())
            .count(),
        missing_elements: missing.into_iter().map(String::from).collect(),
    }
}

fn word_count(s: &str) -> usize {
    s.split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count()
}

/// Sentences: a `.`, `!` or `?` (closing brackets or quotes may follow) at
/// the end of the text or before a space and a capital letter; so "e.g. 3.5"
/// does not end one.
fn sentence_count(s: &str) -> usize {
    let chars: Vec<char> = s.trim().chars().collect();
    if chars.is_empty() {
        return 0;
    }
    let mut n = 0;
    let mut i = 0;
    while i < chars.len() {
        if matches!(chars[i], '.' | '!' | '?') {
            let mut j = i + 1;
            while j < chars.len() && matches!(chars[j], ')' | ']' | '"' | '\'' | '”' | '’') {
                j += 1;
            }
            let mut k = j;
            while k < chars.len() && chars[k].is_whitespace() {
                k += 1;
            }
            if k == chars.len() || (k > j && chars[k].is_uppercase()) {
                n += 1;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    n.max(1)
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// sha256 over everything a report is made from (and the report schema).
pub fn input_hash(input: &ScreeningInput) -> String {
    let mut s = format!("screening-v{REPORT_SCHEMA}\x1f{}\x1f", input.journal_name);
    let mut eat = |x: &str| {
        s.push_str(x);
        s.push('\x1f');
    };
    eat(input.section.as_deref().unwrap_or("\u{0}"));
    for x in &input.sections {
        eat(x);
    }
    eat("\x1e");
    eat(&input.title);
    eat(&input.abstract_text);
    for k in &input.keywords {
        eat(k);
    }
    eat("\x1e");
    for a in &input.authors {
        eat(&a.name);
        eat(&a.affiliation);
        eat(&a.orcid);
    }
    super::sha256_hex(&s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ScreeningAuthor;

    fn input() -> ScreeningInput {
        ScreeningInput {
            submission_id: 7,
            journal_id: 1,
            journal_name: "J".into(),
            section: Some("Articles".into()),
            sections: vec!["Articles".into(), "Reviews \"x\"".into()],
            title: "A title here".into(),
            abstract_text: "We did this. We found that (e.g. 3.5 m). It matters!".into(),
            locale: "en".into(),
            submitted: true,
            publication_id: Some(3),
            publication_version: Some(2),
            authors: vec![
                ScreeningAuthor {
                    name: "A B".into(),
                    affiliation: "U".into(),
                    ..Default::default()
                },
                ScreeningAuthor {
                    name: "C D".into(),
                    ..Default::default()
                },
            ],
            keywords: vec![],
        }
    }

    #[test]
    fn facts_are_computed() {
        let f = facts(&input());
        assert_eq!(f.abstract_words, 11);
        assert_eq!(f.abstract_sentences, 3, "{f:?}");
        assert_eq!(f.abstract_length, "short");
        assert!(!f.keywords_present);
        assert!(!f.affiliations_present);
        assert_eq!(f.authors_without_affiliation, vec!["C D"]);
        assert_eq!(f.missing_elements, vec!["keywords", "author affiliations"]);
        assert_eq!(f.authors_without_orcid, 2);
    }

    #[test]
    fn grammar_lists_sections_as_json_literals() {
        let g = grammar(&input().sections);
        assert!(
            g.contains(r#"section ::= "\"Articles\"" | "\"Reviews \\\"x\\\"\"""#),
            "{g}"
        );
        assert!(g.contains("char{40,400}"), "{g}");
    }

    #[test]
    fn judgement_validation() {
        let sections = input().sections;
        let ok = r#"{"summary": "The authors monitored coral colonies and found lower bleaching thresholds.", "scope_fit": "good", "best_section": "Articles", "abstract_clarity": 4, "methods_stated": true, "results_stated": true, "conclusions_stated": false}"#;
        let j = parse_judgement(ok, &sections).unwrap();
        assert_eq!(j.scope_fit, ScopeFit::Good);
        for (bad, why) in [
            (ok.replace("\"Articles\"", "\"Letters\""), "not a section"),
            (ok.replace(": 4,", ": 9,"), "outside"),
            (ok.replace("\"good\"", "\"great\""), "JSON"),
            (ok[..60].to_string(), "JSON"),
            (
                ok.replace(
                    "The authors monitored coral colonies and found lower bleaching thresholds.",
                    "coral coral coral coral coral coral coral coral coral coral coral coral",
                ),
                "degenerate",
            ),
        ] {
            let e = parse_judgement(&bad, &sections).unwrap_err().to_string();
            assert!(e.contains(why), "{why}: {e}");
        }
    }

    #[test]
    fn cut_summaries_end_on_a_full_sentence() {
        let long = "The authors measured carbon in twelve plots. Restored stands reached most of";
        assert_eq!(
            tidy_summary(long),
            "The authors measured carbon in twelve plots."
        );
        assert_eq!(tidy_summary(" A  b.\n"), "A b.");
        assert_eq!(tidy_summary("Short. and cut"), "Short. and cut");
    }

    #[test]
    fn input_hash_tracks_edits() {
        let a = input();
        let mut b = input();
        assert_eq!(input_hash(&a), input_hash(&b));
        b.abstract_text.push('x');
        assert_ne!(input_hash(&a), input_hash(&b));
    }
}
