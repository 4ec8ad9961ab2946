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
        /// Print the SQL that adds the gold data to PKP's OJS 3.4 test journal, and stop.
        #[arg(long, conflicts_with = "ojs")]
        ojs_sql: bool,
        /// Also measure through the product: a service syncs the journal at this
        /// MySQL URL (loaded with `--ojs-sql`) and its matching API is scored.
        #[arg(long, value_name = "URL")]
        ojs: Option<String>,
        /// How long the product path may take to sync and embed, in seconds.
        #[arg(long, default_value_t = 3600)]
        ojs_deadline: u64,
    },
    /// The screening report against hand labels (benches/data/screening-labels.json): agreement and Cohen's kappa
    /// per judgement, seconds per report, peak memory. One model per run.
    Screening {
        /// The labels file.
        labels: PathBuf,
        /// Which set: `demo` (the built-in journal) or another (the configured store, synced from that database).
        #[arg(long, default_value = "demo")]
        set: String,
        /// GGUF chat model (default: the installed model `llm.model` names, smollm2-135m-instruct unless set).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Model threads (0: all cores, at most 4).
        #[arg(long, default_value_t = 0)]
        threads: u32,
        #[arg(long)]
        json: bool,
    },
    /// Voice commands on a spoken test set (scripts/voice/testset.sh makes one): intent accuracy and word error rate.
    Voice {
        /// The test set's directory (manifest.tsv and the WAV files).
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

/// One row of the report: what was measured, in which view.
struct Row {
    method: String,
    view: &'static str,
    report: ojscog::eval::LossReport,
}

const PUBLISHED: &str = "per participant (the published metric)";
const GLOBAL: &str = "across participants and papers (comparable numbers)";
const PER_SUBMISSION: &str = "per submission (each rater's place among all reviewers of the paper)";

/// What `eval reviewer-gold` was asked.
pub(crate) struct EvalArgs<'a> {
    pub dir: &'a std::path::Path,
    pub variants: bool,
    pub json: bool,
    pub ojs_sql: bool,
    pub ojs: Option<&'a str>,
    pub ojs_deadline: u64,
}

pub(crate) fn eval_cmd(cfg: &Config, args: EvalArgs) -> Result<()> {
    use ojscog::agents::matching::{Aggregation, ExpertiseModel};
    use ojscog::eval::{evaluate, evaluate_global, load_predictions, EmbeddedGold, Gold};
    let EvalArgs {
        dir,
        variants,
        json,
        ojs_sql,
        ojs,
        ojs_deadline,
    } = args;
    let gold = Gold::load(dir)?;
    if ojs_sql {
        use std::io::Write;
        let sql = ojscog::eval::journal::sql(&gold);
        std::io::stdout()
            .lock()
            .write_all(sql.as_bytes())
            .context("writing the SQL to stdout")?;
        return Ok(());
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut row = |method: String, view, report| {
        rows.push(Row {
            method,
            view,
            report,
        })
    };
    for name in ["tpms", "specter"] {
        let p = dir.join(format!("predictions/{name}_d_20_1_ta.json"));
        if p.exists() {
            row(
                format!("{name} (published predictions)"),
                PUBLISHED,
                evaluate(&gold, &load_predictions(&p)?),
            );
        }
    }
    let product = ExpertiseModel::default();
    let t0 = std::time::Instant::now();
    let (embedder, known, run) = match ojs {
        Some(url) => {
            let run = crate::eval_product::run(
                cfg,
                &gold,
                url,
                std::time::Duration::from_secs(ojs_deadline),
            )?;
            (run.embedder.clone(), run.vectors.clone(), Some(run))
        }
        None => (
            ojscog::inference::open_embedder(&cfg.data_dir).context(
                "the evaluation needs the on-device embedding model (run scripts/fetch-models.sh)",
            )?,
            Default::default(),
            None,
        ),
    };
    let eg = EmbeddedGold::with_known(&gold, embedder.as_ref(), known)?;
    let embed_secs = t0.elapsed().as_secs_f64();
    let calibrated = eg.predict(&gold, &product);
    let model_id = embedder.model_id().to_string();
    row(
        format!("ojscog in memory ({model_id}, production settings)"),
        PUBLISHED,
        evaluate(&gold, &calibrated),
    );
    if let Some(run) = &run {
        let api = run.expertise();
        row(
            "ojscog through the product: OJS -> sync -> API expertise".into(),
            PUBLISHED,
            evaluate(&gold, &api),
        );
        row(
            "ojscog in memory, calibrated".into(),
            GLOBAL,
            evaluate_global(&gold, &calibrated),
        );
        row(
            "ojscog through the product: API expertise".into(),
            GLOBAL,
            evaluate_global(&gold, &api),
        );
        row(
            "API ranking by the calibrated expertise (shipped)".into(),
            PER_SUBMISSION,
            evaluate_global(&gold, &run.ranks_calibrated()),
        );
        row(
            "API channels z-scored over the paper's candidates (before)".into(),
            PER_SUBMISSION,
            evaluate_global(&gold, &run.ranks_relative(&product)),
        );
    }
    if variants {
        row(
            "earlier evaluation: z-scores over each participant's rated papers".into(),
            PUBLISHED,
            evaluate(&gold, &eg.predict_relative(&gold, &product)),
        );
        let variant_models = [
            (
                "calibrated on the closest quarter of the background",
                ExpertiseModel {
                    calibration_tail: 0.25,
                    ..product
                },
            ),
            (
                "calibrated on the closest tenth of the background",
                ExpertiseModel {
                    calibration_tail: 0.1,
                    ..product
                },
            ),
            (
                "closest quarter, blend 0.8/0.2",
                ExpertiseModel {
                    calibration_tail: 0.25,
                    semantic_weight: 0.8,
                    lexical_weight: 0.2,
                    ..product
                },
            ),
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
        ];
        let mut preds = vec![calibrated.clone()];
        for (label, m) in variant_models {
            let p = eg.predict(&gold, &m);
            row(label.to_string(), PUBLISHED, evaluate(&gold, &p));
            preds.push(p);
        }
        let (cv, chosen) = ojscog::eval::cross_validate(&gold, &preds, 5);
        row(
            format!(
                "5-fold CV of choosing among production + these {} (chosen per fold: {:?}; 0 = production)",
                preds.len() - 1,
                chosen
            ),
            PUBLISHED,
            cv,
        );
    }
    if json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| serde_json::json!({"method": r.method, "view": r.view, "report": r.report}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "reviewer-gold d_20_1: {} participants; vectors ready after {embed_secs:.1} s",
        gold.participants.len()
    );
    if let Some(run) = &run {
        println!(
            "product path: synced and embedded in {:.1} s, {} answers in {:.1} s",
            run.sync_and_index_secs,
            run.answers.len(),
            run.answer_secs
        );
    }
    for view in [PUBLISHED, GLOBAL, PER_SUBMISSION] {
        if !rows.iter().any(|r| r.view == view) {
            continue;
        }
        println!("\nloss {view}");
        println!(
            "{:<66} {:>7} {:>17} {:>6} {:>6}",
            "method", "loss", "95% CI", "easy", "hard"
        );
        for r in rows.iter().filter(|r| r.view == view) {
            println!(
                "{:<66} {:>7.4} [{:.3}, {:.3}] {:>6.3} {:>6.3}",
                r.method,
                r.report.loss,
                r.report.ci95.0,
                r.report.ci95.1,
                r.report.easy_accuracy,
                r.report.hard_accuracy
            );
        }
    }
    Ok(())
}
