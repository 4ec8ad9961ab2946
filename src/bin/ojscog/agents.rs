//! `match` and `search`: the reviewer-matching and search agents.

use anyhow::{bail, Context, Result};
use ojscog::config::Config;
use ojscog::store::Store;
use std::sync::Arc;

/// The store a match/search/assess command uses: the demo's scratch store (as
/// `serve --demo` uses it) or the configured one.
pub(crate) fn agent_store(cfg: &Config, demo: bool) -> Result<Store> {
    let path = if demo {
        let p = cfg.data_dir.join("demo").join("ojscog.sqlite3");
        ojscog::demo::load(&p).context("cannot load the demo journal")?;
        p
    } else {
        cfg.store_path()
    };
    if !path.exists() {
        bail!(
            "no store at {} yet: run `ojscog sync --once` first (or use --demo)",
            path.display()
        );
    }
    Ok(Store::open(&path)?)
}

pub(crate) fn cli_embedder(cfg: &Config) -> Arc<dyn ojscog::inference::Embedder> {
    let (e, warning) = ojscog::inference::open_embedder_or_fallback(&cfg.data_dir);
    if let Some(w) = warning {
        eprintln!("ojscog: warning: {w}");
    }
    e
}

pub(crate) fn match_cmd(
    cfg: Config,
    submission_id: i64,
    demo: bool,
    limit: usize,
    json: bool,
) -> Result<()> {
    let store = agent_store(&cfg, demo)?;
    let embedder = cli_embedder(&cfg);
    let r =
        ojscog::agents::matching::match_reviewers(&store, embedder.as_ref(), submission_id, limit)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!(
        "submission #{} — model {}{}",
        r.submission_id,
        r.model_id,
        if r.cached { " (cached)" } else { "" }
    );
    for (i, m) in r.candidates.iter().enumerate() {
        println!(
            "{:>2}. {:<28} score {:.3}  ({})",
            i + 1,
            m.name,
            m.score,
            m.affiliation
        );
        for reason in &m.reasons {
            match reason.effect {
                Some(f) if reason.code.is_factor() => {
                    println!("      - {} (×{f:.2})", reason.text)
                }
                _ => println!("      - {}", reason.text),
            }
        }
    }
    if !r.excluded.is_empty() {
        println!("excluded:");
        for m in &r.excluded {
            let why: Vec<&str> = m
                .reasons
                .iter()
                .filter(|x| x.code.excludes())
                .map(|x| x.text.as_str())
                .collect();
            println!("    {:<28} {}", m.name, why.join("; "));
        }
    }
    Ok(())
}

pub(crate) fn search_cmd(
    cfg: Config,
    query: &str,
    demo: bool,
    limit: usize,
    json: bool,
) -> Result<()> {
    let store = agent_store(&cfg, demo)?;
    let embedder = cli_embedder(&cfg);
    let hits = ojscog::agents::search::search(&store, embedder.as_ref(), query, limit)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
        return Ok(());
    }
    if hits.is_empty() {
        println!("no results");
    }
    for h in &hits {
        let kind = serde_json::to_value(h.kind)?;
        println!(
            "{:.3}  {} #{}  {}",
            h.score,
            kind.as_str().unwrap_or(""),
            h.id,
            h.title
        );
        if !h.snippet.is_empty() {
            println!("       {}", h.snippet);
        }
    }
    Ok(())
}
