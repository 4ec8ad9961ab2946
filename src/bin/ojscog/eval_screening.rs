//! `ojscog eval screening LABELS --set NAME`: the screening report's agreement with hand labels, per judgement,
//! with the model's speed and this process's peak memory (one model per run, so the peak is that model's).

use super::agents::agent_store;
use anyhow::{bail, Context, Result};
use ojscog::config::Config;
use ojscog::eval::screening::{agreement, Labels, Stated};
use ojscog::metrics::Metrics;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) struct ScreeningEvalArgs {
    pub labels: PathBuf,
    pub set: String,
    pub model: Option<PathBuf>,
    pub threads: u32,
    pub json: bool,
}

pub(crate) fn eval_screening_cmd(cfg: &Config, args: ScreeningEvalArgs) -> Result<()> {
    use ojscog::agents::screening::ScreeningAgent;
    use ojscog::inference::llm::LlmConfig;
    let labels = Labels::load(&args.labels)?;
    let Some(set) = labels.set(&args.set) else {
        bail!(
            "{} has no set {:?} (it has: {})",
            args.labels.display(),
            args.set,
            labels.sets.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    };
    // The demo set is the built-in journal; any other set is the configured store (synced from that database).
    let store = agent_store(cfg, args.set == "demo")?;
    let llm = LlmConfig {
        model: cfg.llm.model.clone(),
        model_path: args.model.clone().unwrap_or_default(),
        n_threads: args.threads,
        timeout_secs: 600,
        ..LlmConfig::default()
    };
    let agent = ScreeningAgent::load(llm, &cfg.data_dir, Arc::new(Metrics::new()))
        .context("cannot load the LLM")?;
    let (mut pairs, mut failed, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ms, mut gen_tokens, mut model_id) = (0u64, 0usize, String::new());
    for (id, label) in &set {
        store.forget_assessments(*id)?;
        match agent.assess(&store, *id) {
            Ok(a) => {
                let j = &a.report.judgement;
                let said = Stated {
                    methods_stated: j.methods_stated,
                    results_stated: j.results_stated,
                    conclusions_stated: j.conclusions_stated,
                };
                ms += a.report.generation.milliseconds;
                gen_tokens += a.report.generation.generated_tokens;
                model_id = a.report.model.id.clone();
                rows.push(serde_json::json!({"submission_id": id, "label": label, "model": said}));
                pairs.push((*label, said));
            }
            Err(e) => failed.push(serde_json::json!({"submission_id": id, "error": e.to_string()})),
        }
    }
    let fields = agreement(&pairs);
    let peak_rss = ojscog::system::peak_rss_bytes();
    let secs_per_report = ms as f64 / 1000.0 / pairs.len().max(1) as f64;
    if args.json {
        let out = serde_json::json!({
            "set": args.set, "model": cfg.llm.model, "file": model_id, "labelled": set.len(), "answered": pairs.len(),
            "failed": failed, "fields": fields, "seconds_per_report": secs_per_report,
            "generated_tokens": gen_tokens, "peak_rss_bytes": peak_rss, "answers": rows,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "set {} ({} labelled, {} answered, {} failed), model {}",
        args.set,
        set.len(),
        pairs.len(),
        failed.len(),
        display_model(&cfg.llm.model, &model_id, args.model.as_deref())
    );
    println!(
        "| judgement | agreement | Cohen's kappa | label yes | model yes |\n|---|---|---|---|---|"
    );
    for f in &fields {
        let kappa = f.kappa.map_or("undefined".into(), |k| format!("{k:.2}"));
        println!(
            "| {} | {}/{} ({:.0} %) | {} | {} | {} |",
            f.field,
            f.agree,
            f.n,
            100.0 * f.agreement,
            kappa,
            f.label_yes,
            f.model_yes
        );
    }
    println!(
        "{secs_per_report:.1} s per report ({gen_tokens} tokens generated), peak RSS {:.0} MiB",
        peak_rss as f64 / 1048576.0
    );
    for f in &failed {
        println!("failed: {f}");
    }
    Ok(())
}

fn display_model(store_name: &str, id: &str, path: Option<&Path>) -> String {
    match path {
        Some(p) => format!("{} ({id})", p.display()),
        None => format!("{store_name} (the model store's {id})"),
    }
}
