//! What is said to the LLM and what is taken back: the chat prompt, the GBNF
//! grammar that constrains its answer to the report's JSON, and the parsing
//! and validation of that answer.

use super::*;

/// The chat messages for one submission.
pub fn prompt(input: &ScreeningInput) -> Vec<ChatMessage> {
    let journal = if input.journal_name.trim().is_empty() {
        "the journal".to_string()
    } else {
        input.journal_name.trim().to_string()
    };
    let system = format!(
        "You help the editor of the scholarly journal \"{journal}\" screen new manuscript \
         submissions. You answer with a JSON object only."
    );
    let sections = if input.sections.is_empty() {
        "(none)".to_string()
    } else {
        input.sections.join("; ")
    };
    let abstract_text = if input.abstract_text.trim().is_empty() {
        "(no abstract given)".to_string()
    } else {
        truncate_chars(input.abstract_text.trim(), ABSTRACT_PROMPT_CHARS)
    };
    let keywords = if input.keywords.is_empty() {
        "(none)".to_string()
    } else {
        input.keywords.join("; ")
    };
    let user = format!(
        "Journal: {journal}\nJournal sections: {sections}\nSubmitted to section: {section}\n\n\
         Title: {title}\nKeywords: {keywords}\nAbstract: {abstract_text}\n\n\
         Answer with a JSON object with these fields:\n\
         summary: one paragraph of two or three sentences summarising the manuscript for the editor;\n\
         scope_fit: \"good\", \"partial\" or \"poor\", how well the manuscript fits the journal;\n\
         best_section: the journal section that fits the manuscript best;\n\
         abstract_clarity: 1 (unclear) to 5 (very clear);\n\
         methods_stated, results_stated, conclusions_stated: true if the abstract states its \
         methods, its results, its conclusions.",
        section = input.section.as_deref().unwrap_or("(none)"),
        title = truncate_chars(input.title.trim(), TITLE_PROMPT_CHARS),
    );
    vec![ChatMessage::system(system), ChatMessage::user(user)]
}

/// A GBNF string literal matching exactly the JSON encoding of `s`.
pub(super) fn gbnf_json_literal(s: &str) -> String {
    let json = serde_json::Value::String(s.to_string()).to_string();
    let mut out = String::with_capacity(json.len() + 2);
    out.push('"');
    for c in json.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The grammar the model's answer must follow: the judgement object with its
/// keys in a fixed order, the summary bounded in length (so the answer always
/// ends within the token budget), the section one of the journal's.
pub fn grammar(sections: &[String]) -> String {
    let section = if sections.is_empty() {
        "\"null\"".to_string()
    } else {
        sections
            .iter()
            .map(|s| gbnf_json_literal(s))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    format!(
        r#"root ::= "{{" ws "\"summary\":" ws summary "," ws "\"scope_fit\":" ws scope "," ws "\"best_section\":" ws section "," ws "\"abstract_clarity\":" ws clarity "," ws "\"methods_stated\":" ws bool "," ws "\"results_stated\":" ws bool "," ws "\"conclusions_stated\":" ws bool ws "}}"
summary ::= "\"" char{{{min},{max}}} "\""
char ::= [^"\\\x00-\x1F\x7F] | "\\" ["\\/bfnrt]
scope ::= "\"good\"" | "\"partial\"" | "\"poor\""
section ::= {section}
clarity ::= [1-5]
bool ::= "true" | "false"
ws ::= " "?
"#,
        min = SUMMARY_MIN_CHARS,
        max = SUMMARY_MAX_CHARS,
    )
}

/// Parses and validates the model's answer.
pub fn parse_judgement(text: &str, sections: &[String]) -> Result<Judgement, ScreeningError> {
    let invalid = |reason: String| ScreeningError::Invalid {
        reason,
        raw: text.to_string(),
    };
    let mut j: Judgement = serde_json::from_str(text.trim())
        .map_err(|e| invalid(format!("not the expected JSON object: {e}")))?;
    j.summary = tidy_summary(&j.summary);
    let chars = j.summary.chars().count();
    if !(SUMMARY_MIN_CHARS..=SUMMARY_MAX_CHARS).contains(&chars) {
        return Err(invalid(format!(
            "summary has {chars} characters, expected {SUMMARY_MIN_CHARS} to {SUMMARY_MAX_CHARS}"
        )));
    }
    let words: Vec<String> = j
        .summary
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() < 6 {
        return Err(invalid(format!(
            "summary has {} words, expected a paragraph",
            words.len()
        )));
    }
    let distinct: std::collections::HashSet<&String> = words.iter().collect();
    if words.len() >= 12 && distinct.len() * 4 < words.len() {
        return Err(invalid(
            "summary is degenerate (one phrase repeated)".into(),
        ));
    }
    if !(1..=5).contains(&j.abstract_clarity) {
        return Err(invalid(format!(
            "abstract_clarity {} is outside 1..=5",
            j.abstract_clarity
        )));
    }
    match &j.best_section {
        Some(s) if !sections.contains(s) => {
            return Err(invalid(format!(
                "best_section `{s}` is not a section of the journal"
            )))
        }
        None if !sections.is_empty() => return Err(invalid("best_section is missing".into())),
        _ => {}
    }
    Ok(j)
}

/// Folds whitespace; a summary cut off by the length bound loses its
/// unfinished last sentence when at least one full sentence remains.
pub(super) fn tidy_summary(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.ends_with(['.', '!', '?']) {
        return s;
    }
    match s.rfind(". ") {
        Some(i) if i + 1 >= SUMMARY_MIN_CHARS => s[..=i].to_string(),
        _ => s,
    }
}
