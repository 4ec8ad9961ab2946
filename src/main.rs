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
    eprintln!("ojscog: status page on http://{addr}/ (Ctrl-C to stop)");
    let rt = runtime()?;
    let waited = rt.block_on(shutdown_signal());
    svc.stop();
    waited
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
