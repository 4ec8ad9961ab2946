//! `/search?q=`: submissions and reviewers by meaning and by exact terms,
//! with snippets in which the matched terms are highlighted.

use super::super::auth::Role;
use super::super::format::escape;
use super::super::Reply;
use super::shell::{self, Nav, Shell};
use super::Page;
use crate::agents::search::HitKind;
use crate::agents::AgentError;
use crate::context::AppContext;
use std::collections::HashSet;
use std::fmt::Write as _;

/// Hits shown.
const HITS: usize = 30;
/// Longer queries get a friendly message (the API refuses them too).
const MAX_QUERY_CHARS: usize = 500;

/// `GET /search?q=words`
pub(crate) fn show(ctx: &AppContext, role: Role, query: &str) -> Result<Reply, Page> {
    let p = super::super::params(query, &["q"]).map_err(Page::from_reply)?;
    let q = p
        .iter()
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let now = crate::system::unix_now();
    let journal = shell::journal_name(ctx);
    let too_long = q.chars().count() > MAX_QUERY_CHARS;
    let shown: String = q.chars().take(MAX_QUERY_CHARS).collect();
    let mut h = String::with_capacity(24 * 1024);
    shell::open(
        &mut h,
        &Shell {
            title: if q.is_empty() { "Search" } else { &shown },
            journal: &journal,
            role,
            nav: Nav::Search,
            refresh: None,
            query: &shown,
            overall: None,
            now,
        },
    );
    h.push_str("<h1>Search</h1>");
    if q.is_empty() {
        h.push_str(r#"<section class="card" id="search-empty"><p>Type a few words in the search box above: a topic, a method, a title or a reviewer's name. Submissions and reviewers are found by meaning, not only by exact words.</p></section>"#);
    } else if too_long {
        let _ = write!(
            h,
            r#"<section class="card" id="search-too-long"><p>That search is longer than {MAX_QUERY_CHARS} characters. Try a few words, or the key sentence of an abstract.</p></section>"#
        );
    } else {
        results(&mut h, ctx, &q);
    }
    shell::close(&mut h, now);
    Ok(shell::reply(200, h))
}

fn results(h: &mut String, ctx: &AppContext, q: &str) {
    let (embedder, warning) = ctx.models.embedder();
    let r = match ctx.search(embedder.as_ref(), q, HITS) {
        Ok(r) => r,
        Err(AgentError::Indexing { done, total }) => {
            let _ = write!(
                h,
                r#"<section class="card"><p class="note" id="search-indexing">The search index is being built ({done} of {total}). Try again in a minute.</p></section>"#
            );
            return;
        }
        Err(e) => {
            let _ = write!(
                h,
                r#"<section class="card"><p class="error">Search failed: {}</p></section>"#,
                escape(&e.to_string())
            );
            return;
        }
    };
    h.push_str(r#"<section class="card" id="search-results">"#);
    if let Some(w) = &warning {
        let _ = write!(
            h,
            r#"<p class="note warn">{}. Results match exact words only.</p>"#,
            escape(w.trim_end_matches('.'))
        );
    }
    if let Some(i) = r.indexing {
        let _ = write!(
            h,
            r#"<p class="note">Still reading documents by meaning ({} of {}): some are found by exact words only for now.</p>"#,
            i.done, i.total
        );
    }
    if r.hits.is_empty() {
        let _ = write!(
            h,
            r#"<p id="search-nothing">Nothing found for “{}”. Try other words.</p>"#,
            escape(q)
        );
    } else {
        let _ = write!(
            h,
            r#"<p class="muted" id="search-count" data-value="{n}">{n} result{s} for “{q}”</p><ol class="hits">"#,
            n = r.hits.len(),
            s = if r.hits.len() == 1 { "" } else { "s" },
            q = escape(q),
        );
        for hit in &r.hits {
            let (href, kind) = match hit.kind {
                HitKind::Submission => (format!("/submissions/{}", hit.id), "Submission"),
                HitKind::Reviewer => (format!("/reviewers/{}", hit.id), "Reviewer"),
            };
            let terms: HashSet<String> = hit.matched_terms.iter().cloned().collect();
            let title = if hit.title.trim().is_empty() {
                "(untitled)"
            } else {
                hit.title.as_str()
            };
            let _ = write!(
                h,
                r#"<li class="hit" data-kind="{k}" data-id="{id}"><div><span class="badge">{kind}</span> <a href="{href}">{title}</a> <span class="muted small">{score:.2}</span></div><p class="snippet">{snippet}</p></li>"#,
                k = kind.to_lowercase(),
                id = hit.id,
                title = highlight(title, &terms),
                score = hit.score,
                snippet = highlight(&hit.snippet, &terms),
            );
        }
        h.push_str("</ol>");
    }
    h.push_str("</section>");
}

/// `text` escaped, with every word whose stem is in `terms` in `<mark>`.
pub(crate) fn highlight(text: &str, terms: &HashSet<String>) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        let hit = crate::text::tokens(word).iter().any(|t| terms.contains(t));
        if hit {
            out.push_str("<mark>");
            out.push_str(&escape(word));
            out.push_str("</mark>");
        } else {
            out.push_str(&escape(word));
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push_str(&escape(&c.to_string()));
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matched_terms_are_marked_by_their_stem_and_the_rest_is_escaped() {
        let terms: HashSet<String> = crate::text::tokens("networks").into_iter().collect();
        let h = highlight("Neural network <b> & networks.", &terms);
        assert_eq!(
            h,
            "Neural <mark>network</mark> &lt;b&gt; &amp; <mark>networks</mark>."
        );
    }
}
