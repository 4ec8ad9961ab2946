//! `models`, `assess` and `bench`: the on-device model store and the LLM.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use ojscog::config::Config;
use ojscog::metrics::Metrics;
use std::path::PathBuf;
use std::sync::Arc;

use crate::agents::agent_store;

#[derive(Subcommand)]
pub(crate) enum ModelsAction {
    /// Installed models, their current and previous versions.
    List,
    /// Recompute every file's sha256 against the manifest (all models, or one).
    Verify { name: Option<String> },
    /// Install files as NAME/VERSION atomically and make it current (previous kept).
    Install {
        name: String,
        version: String,
        /// DEST=SRC: copy SRC to DEST inside the version (repeat for each file).
        #[arg(long = "file", required = true)]
        files: Vec<String>,
        /// DEST=SHA256: refuse the install unless DEST has this hash.
        #[arg(long = "sha256")]
        sha256: Vec<String>,
        /// Where the files came from (kept in the manifest).
        #[arg(long, default_value = "")]
        source: String,
    },
    /// Make the previous version current again.
    Rollback { name: String },
    /// Remove versions that are neither current nor previous, and what
    /// interrupted installs left (all models, or one).
    Gc { name: Option<String> },
}

#[derive(Subcommand)]
pub(crate) enum BenchWhat {
    /// LLM prompt processing and generation speed in tokens/s (llama-bench style).
    Llm {
        /// GGUF model (default: the installed model `llm.model` names, smollm2-135m-instruct unless set).
        #[arg(long)]
        model: Option<PathBuf>,
        #[arg(long, default_value_t = 2)]
        threads: u32,
        /// Prompt tokens per repetition (pp).
        #[arg(long, default_value_t = 512)]
        prompt: u32,
        /// Generated tokens per repetition (tg).
        #[arg(long, default_value_t = 128)]
        gen: u32,
        #[arg(long, default_value_t = 5)]
        reps: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Page layout and text detection speed (pages/s) and peak RSS on the drawn test pages, on NCNN or, for
    /// comparison, on ONNX Runtime with the same models' ONNX originals.
    Vision {
        /// A pages directory (scripts/vision/pages.sh); its PNG renderings are used.
        dir: PathBuf,
        /// `ncnn` (what the box uses) or `onnx` (the reference).
        #[arg(long, default_value = "ncnn")]
        runtime: String,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Pages to use.
        #[arg(long, default_value_t = 20)]
        count: usize,
        #[arg(long)]
        json: bool,
    },
    /// Speech-to-text and text-to-speech real-time factors, answer latency and peak RSS on a spoken test set.
    Voice {
        /// A test set directory (scripts/voice/testset.sh); its Piper utterances are used.
        dir: PathBuf,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Utterances to use.
        #[arg(long, default_value_t = 30)]
        count: usize,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn models_cmd(cfg: &Config, dir: Option<PathBuf>, action: ModelsAction) -> Result<()> {
    use ojscog::models::{ModelStore, SourceFile};
    let store = ModelStore::new(dir.unwrap_or_else(|| cfg.data_dir.join("models")));
    match action {
        ModelsAction::List => {
            let list = store.list()?;
            if list.is_empty() {
                println!("no models in {}", store.root().display());
            }
            for m in list {
                println!(
                    "{:<28} current {:<18} previous {:<18} {:>8.1} MB  versions: {}",
                    m.name,
                    m.current.as_deref().unwrap_or("-"),
                    m.previous.as_deref().unwrap_or("-"),
                    m.bytes as f64 / 1e6,
                    m.versions.join(", ")
                );
            }
            Ok(())
        }
        ModelsAction::Verify { name } => {
            let all = name.is_none();
            let names = match name {
                Some(n) => vec![n],
                None => store.list()?.into_iter().map(|m| m.name).collect(),
            };
            let mut failed = 0;
            for n in &names {
                // A model directory with no `current` yet (a first install that was
                // interrupted) has nothing to serve and nothing to verify.
                if all && matches!(store.current_version(n), Ok(None)) {
                    println!("-       {n}: no current version (not installed yet)");
                    continue;
                }
                match store.verify(n) {
                    Ok(m) => println!(
                        "ok      {n} {} ({} files, sha256 verified)",
                        m.manifest.version,
                        m.manifest.files.len()
                    ),
                    Err(e) => {
                        failed += 1;
                        println!("FAILED  {n}: {e}");
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} model(s) failed verification");
            }
            Ok(())
        }
        ModelsAction::Install {
            name,
            version,
            files,
            sha256,
            source,
        } => {
            let mut hashes = std::collections::HashMap::new();
            for s in &sha256 {
                let (dest, h) = s
                    .split_once('=')
                    .with_context(|| format!("--sha256 `{s}` must be DEST=HEX"))?;
                hashes.insert(dest.to_string(), h.to_string());
            }
            let mut list = Vec::new();
            for f in &files {
                let (dest, src) = f
                    .split_once('=')
                    .with_context(|| format!("--file `{f}` must be DEST=SRC"))?;
                list.push(SourceFile {
                    src: PathBuf::from(src),
                    dest: dest.to_string(),
                    expect_sha256: hashes.remove(dest),
                });
            }
            if let Some(dest) = hashes.keys().next() {
                bail!("--sha256 names `{dest}`, which no --file installs");
            }
            let m = store.install(&name, &version, &source, &list)?;
            println!(
                "installed {name} {version} in {} (current; previous: {})",
                m.dir.display(),
                store.previous_version(&name)?.as_deref().unwrap_or("none")
            );
            Ok(())
        }
        ModelsAction::Rollback { name } => {
            let m = store.rollback(&name)?;
            println!("{name}: current is now {}", m.manifest.version);
            Ok(())
        }
        ModelsAction::Gc { name } => {
            let names = match name {
                Some(n) => vec![n],
                None => store.list()?.into_iter().map(|m| m.name).collect(),
            };
            for n in names {
                let removed = store.gc(&n)?;
                println!("{n}: removed {removed} directories (kept current and previous)");
            }
            Ok(())
        }
    }
}

pub(crate) fn assess_cmd(
    cfg: Config,
    submission_id: i64,
    demo: bool,
    model: Option<PathBuf>,
    timeout_secs: u64,
    threads: u32,
    fresh: bool,
) -> Result<()> {
    use ojscog::agents::screening::ScreeningAgent;
    use ojscog::inference::llm::LlmConfig;
    let store = agent_store(&cfg, demo)?;
    if fresh {
        store.forget_assessments(submission_id)?;
    }
    let llm = LlmConfig {
        model: cfg.llm.model.clone(),
        model_path: model.unwrap_or_default(),
        n_threads: threads,
        timeout_secs: timeout_secs.max(1),
        ..LlmConfig::default()
    };
    let agent = ScreeningAgent::load(llm, &cfg.data_dir, Arc::new(Metrics::new()))
        .context("cannot load the LLM")?;
    let assessment = agent.assess(&store, submission_id)?;
    println!("{}", serde_json::to_string_pretty(&assessment)?);
    Ok(())
}

pub(crate) fn bench_llm(
    cfg: Config,
    model: Option<PathBuf>,
    threads: u32,
    prompt: u32,
    gen: u32,
    reps: u32,
    json: bool,
) -> Result<()> {
    use ojscog::inference::llm::{load_configured, BenchResult, BenchSpec, LlmConfig};
    let llm = LlmConfig {
        model: cfg.llm.model.clone(),
        model_path: model.unwrap_or_default(),
        n_threads: threads,
        n_ctx: (prompt + gen + 64).max(1024),
        timeout_secs: 3600,
        ..LlmConfig::default()
    };
    let llm = load_configured(llm, &cfg.data_dir).context("cannot load the LLM")?;
    let r = llm.bench(BenchSpec {
        n_prompt: prompt,
        n_gen: gen,
        reps: reps.max(1),
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    let info = llm.info();
    println!(
        "model {} ({:.1} MB, {} params), {} threads",
        info.id,
        info.size_bytes as f64 / 1e6,
        info.n_params,
        r.threads
    );
    println!("| test | t/s |\n|---|---|");
    let (pm, ps) = BenchResult::mean_sd(&r.prompt_tps);
    let (gm, gs) = BenchResult::mean_sd(&r.gen_tps);
    if prompt > 0 {
        println!("| pp{prompt} | {pm:.2} ± {ps:.2} |");
    }
    if gen > 0 {
        println!("| tg{gen} | {gm:.2} ± {gs:.2} |");
    }
    Ok(())
}
