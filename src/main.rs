//! The `ojscog` command line: serve, sync, config, status.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use ojscog::config::Config;
use ojscog::metrics::Metrics;
use ojscog::service::Service;
use ojscog::store::Store;
use ojscog::sync::{self, SyncHandle, SyncStatus};
use ojscog::system::unix_now;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "ojscog",
    version,
    about = "Editorial-office appliance for Open Journal Systems"
)]
struct Cli {
    /// Config file (default: /etc/ojscog/config.toml when it exists, else built-in defaults).
    #[arg(long, global = true, env = "OJSCOG_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: OJS sync loop, metrics sampling and the LAN web server.
    Serve {
        /// Serve the built-in demo journal from a scratch store (no OJS, no config needed).
        #[arg(long)]
        demo: bool,
    },
    /// Sync from OJS into the local store.
    Sync {
        /// One run, then exit (non-zero on failure). Without it, loop like the service does.
        #[arg(long)]
        once: bool,
    },
    /// Check or show the effective configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// One-screen summary of the store, the sync and the editorial queue.
    Status,
    /// Manage the on-device model store (<data_dir>/models, or --dir).
    Models {
        /// Model store directory (default: <data_dir>/models).
        #[arg(long)]
        dir: Option<PathBuf>,
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Rank the reviewers for a submission, with reasons and conflicts of interest.
    Match {
        submission_id: i64,
        /// Use the built-in demo journal (its scratch store under the data directory).
        #[arg(long)]
        demo: bool,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Search submissions and reviewers by meaning and exact terms.
    Search {
        query: String,
        #[arg(long)]
        demo: bool,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Measure quality on evaluation data.
    Eval {
        #[command(subcommand)]
        what: EvalWhat,
    },
    /// Screen one submission with the on-device LLM and print the report as JSON.
    Assess {
        /// The submission's id (OJS submission_id).
        submission_id: i64,
        /// Use the built-in demo journal (its scratch store under the data directory).
        #[arg(long)]
        demo: bool,
        /// GGUF chat model (default: the installed smollm2-135m-instruct).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
        /// Model threads (0: all cores, at most 4).
        #[arg(long, default_value_t = 0)]
        threads: u32,
        /// Ignore a cached report and run the model again.
        #[arg(long)]
        fresh: bool,
    },
    /// Measure the on-device models.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// LLM prompt processing and generation speed in tokens/s (llama-bench style).
    Llm {
        /// GGUF model (default: the installed smollm2-135m-instruct).
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
}

#[derive(Subcommand)]
enum ModelsAction {
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
}

#[derive(Subcommand)]
enum EvalWhat {
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

#[derive(Subcommand)]
enum ConfigAction {
    /// Validate the configuration and exit (non-zero with a message naming the key).
    Check,
    /// Print the effective configuration with secrets redacted.
    Show,
}

fn main() {
    init_logging();
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("ojscog: {e:#}");
        std::process::exit(1);
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OJSCOG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Under systemd/journald the journal adds timestamps and colours make noise.
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(!journald && std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if journald {
        builder.without_time().init();
    } else {
        builder.init();
    }
}

fn run(cli: Cli) -> Result<()> {
    let cfg = Config::load(cli.config.as_deref()).context("configuration is invalid")?;
    match cli.command {
        Command::Serve { demo } => serve(cfg, demo),
        Command::Sync { once } => sync_cmd(cfg, once),
        Command::Config {
            action: ConfigAction::Check,
        } => {
            println!("configuration is valid");
            Ok(())
        }
        Command::Config {
            action: ConfigAction::Show,
        } => {
            print!("{}", cfg.redacted().to_toml());
            Ok(())
        }
        Command::Status => status(cfg),
        Command::Models { dir, action } => models_cmd(&cfg, dir, action),
        Command::Match {
            submission_id,
            demo,
            limit,
            json,
        } => match_cmd(cfg, submission_id, demo, limit, json),
        Command::Search {
            query,
            demo,
            limit,
            json,
        } => search_cmd(cfg, &query, demo, limit, json),
        Command::Eval {
            what:
                EvalWhat::ReviewerGold {
                    dir,
                    variants,
                    json,
                },
        } => eval_cmd(&cfg, &dir, variants, json),
        Command::Assess {
            submission_id,
            demo,
            model,
            timeout_secs,
            threads,
            fresh,
        } => assess_cmd(
            cfg,
            submission_id,
            demo,
            model,
            timeout_secs,
            threads,
            fresh,
        ),
        Command::Bench {
            what:
                BenchWhat::Llm {
                    model,
                    threads,
                    prompt,
                    gen,
                    reps,
                    json,
                },
        } => bench_llm(cfg, model, threads, prompt, gen, reps, json),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
        _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
    }
    Ok(())
}

fn serve(mut cfg: Config, demo: bool) -> Result<()> {
    if demo {
        // The demo never touches the real store.
        cfg.data_dir = cfg.data_dir.join("demo");
        cfg.ojs.url.clear();
    }
    let svc = Service::start(cfg, demo).context("cannot start the service")?;
    let addr = svc.local_addr;
    if addr.ip().is_unspecified() {
        eprintln!(
            "ojscog: status page on http://127.0.0.1:{}/ and on port {} of every address of this machine (Ctrl-C to stop)",
            addr.port(),
            addr.port()
        );
    } else {
        eprintln!("ojscog: status page on http://{addr}/ (Ctrl-C to stop)");
    }
    if let Some(url) = svc.sign_in_url() {
        // As Jupyter does: the read token was made for this run; the link signs a browser in.
        eprintln!(
            "ojscog: to sign in, open this link (it carries this run's read token):\n\n    {url}\n"
        );
    }
    let rt = runtime()?;
    let failed = rt.block_on(async {
        tokio::select! {
            waited = shutdown_signal() => waited.map(|()| None),
            e = svc.failed() => Ok(Some(e)),
        }
    });
    svc.stop();
    match failed? {
        None => Ok(()),
        Some(e) => bail!("the service failed: {e}"),
    }
}

fn sync_cmd(cfg: Config, once: bool) -> Result<()> {
    if cfg.ojs.url.is_empty() {
        bail!("no OJS database is configured: set ojs.url in the config file or OJSCOG_OJS_URL=mysql://user:password@host:3306/ojs");
    }
    let mut store = Store::open(&cfg.store_path())?;
    let metrics = Arc::new(Metrics::new());
    let rt = runtime()?;
    if once {
        let report = rt.block_on(sync::run_once(&cfg.ojs, &mut store, &metrics))?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let mut status = SyncStatus::load(&store)?;
    status.configured = true;
    let handle = SyncHandle::new(status);
    let (tx, rx) = tokio::sync::watch::channel(false);
    rt.block_on(async move {
        let looping = tokio::spawn(sync::run_loop(cfg.ojs.clone(), store, metrics, handle, rx));
        let signalled = shutdown_signal().await;
        let _ = tx.send(true);
        let _ = looping.await;
        signalled
    })
}

fn ago(now: i64, t: Option<i64>) -> String {
    match t {
        None => "never".into(),
        Some(t) => {
            let s = (now - t).max(0);
            match s {
                0..=119 => format!("{s} s ago"),
                120..=7199 => format!("{} min ago", s / 60),
                7200..=172_799 => format!("{} h ago", s / 3600),
                _ => format!("{} days ago", s / 86_400),
            }
        }
    }
}

fn status(cfg: Config) -> Result<()> {
    let path = cfg.store_path();
    if !path.exists() {
        bail!(
            "no store at {} yet: run `ojscog sync --once` or `ojscog serve` first",
            path.display()
        );
    }
    let store = Store::open_read_only(&path)?;
    let st = SyncStatus::load(&store)?;
    let now = unix_now();
    println!("store        {}", path.display());
    println!(
        "source       {}{}",
        st.source,
        st.ojs_version
            .as_deref()
            .map(|v| format!(" (OJS {v})"))
            .unwrap_or_default()
    );
    println!("last sync    {}", ago(now, st.last_success_at));
    if let Some(e) = &st.last_error {
        println!("last error   {e} ({})", ago(now, st.last_error_at));
    }
    let counts = store.counts()?;
    let counts: Vec<String> = counts.iter().map(|(t, n)| format!("{t} {n}")).collect();
    println!("mirrored     {}", counts.join(", "));
    let q = store.queue_summary()?;
    let stages: Vec<String> = q
        .pending_by_stage
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    println!("waiting      {} ({})", q.pending_total, stages.join(", "));
    println!(
        "reviews      {} open, {} overdue",
        q.reviews_active, q.reviews_overdue
    );
    if !q.busiest_reviewers.is_empty() {
        let b: Vec<String> = q
            .busiest_reviewers
            .iter()
            .map(|(n, c)| format!("{n} ({c})"))
            .collect();
        println!("busiest      {}", b.join(", "));
    }
    for s in &q.oldest_pending {
        println!(
            "oldest       #{} [{}] {} (last activity {})",
            s.id,
            s.stage,
            s.title,
            s.date_last_activity.as_deref().unwrap_or("?")
        );
    }
    Ok(())
}

fn assess_cmd(
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

fn bench_llm(
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

// ---- models, match, search, eval ---------------------------------------------

fn models_cmd(cfg: &Config, dir: Option<PathBuf>, action: ModelsAction) -> Result<()> {
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
    }
}

/// The store a match/search/assess command uses: the demo's scratch store (as
/// `serve --demo` uses it) or the configured one.
fn agent_store(cfg: &Config, demo: bool) -> Result<Store> {
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

fn cli_embedder(cfg: &Config) -> Arc<dyn ojscog::inference::Embedder> {
    let (e, warning) = ojscog::inference::open_embedder_or_fallback(&cfg.data_dir);
    if let Some(w) = warning {
        eprintln!("ojscog: warning: {w}");
    }
    e
}

fn match_cmd(cfg: Config, submission_id: i64, demo: bool, limit: usize, json: bool) -> Result<()> {
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
                Some(f)
                    if matches!(
                        reason.code.as_str(),
                        "workload" | "at_capacity" | "declines" | "slow"
                    ) =>
                {
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
                .filter(|x| {
                    matches!(
                        x.code.as_str(),
                        "author"
                            | "coauthor"
                            | "same_affiliation"
                            | "assigned"
                            | "declined_this"
                            | "disabled"
                    )
                })
                .map(|x| x.text.as_str())
                .collect();
            println!("    {:<28} {}", m.name, why.join("; "));
        }
    }
    Ok(())
}

fn search_cmd(cfg: Config, query: &str, demo: bool, limit: usize, json: bool) -> Result<()> {
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

fn eval_cmd(cfg: &Config, dir: &std::path::Path, variants: bool, json: bool) -> Result<()> {
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
