//! `eval`: quality on evaluation data, next to the published baselines.

use anyhow::{Context, Result};
use clap::Subcommand;
use ojscog::config::Config;
use std::path::PathBuf;

#[derive(Subcommand)]
pub(crate) enum EvalWhat {
    /// Reviewer–paper expertise gold standard: the published loss, easy/hard accuracy.
    ReviewerGold {
        /// The reviewer-gold directory (evaluations.csv, d_20_1/, predictions/).
        dir: PathBuf,
        /// Also print the aggregation/blend variants that were compared.
        #[arg(long)]
        variants: bool,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn eval_cmd(
    cfg: &Config,
    dir: &std::path::Path,
    variants: bool,
    json: bool,
) -> Result<()> {
    use ojscog::agents::matching::{Aggregation, ExpertiseModel};
    use ojscog::eval::{evaluate, load_predictions, EmbeddedGold, Gold};
    let gold = Gold::load(dir)?;
    let mut rows: Vec<(String, ojscog::eval::LossReport)> = Vec::new();
    for name in ["tpms", "specter"] {
        let p = dir.join(format!("predictions/{name}_d_20_1_ta.json"));
        if p.exists() {
            rows.push((
                format!("{name} (published predictions)"),
                evaluate(&gold, &load_predictions(&p)?),
            ));
        }
    }
    let embedder = ojscog::inference::open_embedder(&cfg.data_dir).context(
        "the evaluation needs the on-device embedding model (run scripts/fetch-models.sh)",
    )?;
    let t0 = std::time::Instant::now();
    let eg = EmbeddedGold::new(&gold, embedder.as_ref())?;
    let embed_secs = t0.elapsed().as_secs_f64();
    let product = ExpertiseModel::default();
    rows.push((
        format!(
            "ojscog ({}, {})",
            embedder.model_id(),
            "production settings"
        ),
        evaluate(&gold, &eg.predict(&gold, &product)),
    ));
    if variants {
        for (label, m) in [
            (
                "semantic only, max",
                ExpertiseModel {
                    aggregation: Aggregation::Max,
                    semantic_weight: 1.0,
                    lexical_weight: 0.0,
                    ..product
                },
            ),
            (
                "semantic only, mean",
                ExpertiseModel {
                    aggregation: Aggregation::Mean,
                    semantic_weight: 1.0,
                    lexical_weight: 0.0,
                    ..product
                },
            ),
            (
                "semantic only, top-3 mean",
                ExpertiseModel {
                    aggregation: Aggregation::TopKMean(3),
                    semantic_weight: 1.0,
                    lexical_weight: 0.0,
                    ..product
                },
            ),
            (
                "TF-IDF only, top-3 mean",
                ExpertiseModel {
                    aggregation: Aggregation::TopKMean(3),
                    semantic_weight: 0.0,
                    lexical_weight: 1.0,
                    ..product
                },
            ),
            (
                "blend 0.7/0.3, top-2 mean",
                ExpertiseModel {
                    aggregation: Aggregation::TopKMean(2),
                    ..product
                },
            ),
            (
                "blend 0.7/0.3, top-5 mean",
                ExpertiseModel {
                    aggregation: Aggregation::TopKMean(5),
                    ..product
                },
            ),
            (
                "blend 0.5/0.5, top-3 mean",
                ExpertiseModel {
                    semantic_weight: 0.5,
                    lexical_weight: 0.5,
                    ..product
                },
            ),
            (
                "blend 0.8/0.2, top-3 mean",
                ExpertiseModel {
                    semantic_weight: 0.8,
                    lexical_weight: 0.2,
                    ..product
                },
            ),
        ] {
            rows.push((label.to_string(), evaluate(&gold, &eg.predict(&gold, &m))));
        }
    }
    if json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(n, r)| serde_json::json!({"method": n, "report": r}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "reviewer-gold d_20_1: {} participants, embedding took {embed_secs:.1} s",
        gold.participants.len()
    );
    println!(
        "{:<58} {:>7} {:>17} {:>6} {:>6}",
        "method", "loss", "95% CI", "easy", "hard"
    );
    for (n, r) in &rows {
        println!(
            "{:<58} {:>7.4} [{:.3}, {:.3}] {:>6.3} {:>6.3}",
            n, r.loss, r.ci95.0, r.ci95.1, r.easy_accuracy, r.hard_accuracy
        );
    }
    Ok(())
}
