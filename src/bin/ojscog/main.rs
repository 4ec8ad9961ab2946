//! The `ojscog` command line: serve, sync, config, status.

//!
//! One file per command group: `service.rs` (serve, sync, status),
//! `models.rs` (models, assess, bench), `agents.rs` (match, search),
//! `eval.rs` (eval), `eval_screening.rs` (eval screening), `update.rs` (update, release). Each turns arguments into library calls and prints.

mod agents;
mod backup;
mod eval;
mod eval_product;
mod eval_screening;
mod figures;
mod models;
mod service;
mod update;
mod voice;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use eval::EvalWhat;
use models::{BenchWhat, ModelsAction};
use ojscog::config::Config;
use std::path::PathBuf;

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
    /// Back up the store (while the service runs), the settings and the list of installed models into one file.
    Backup {
        /// A directory (a new dated file in it) or a file name; default <data_dir>/backups.
        #[arg(long)]
        to: Option<PathBuf>,
        /// Include tokens and passwords in the backed-up settings (the file is 0600 either way).
        #[arg(long)]
        with_secrets: bool,
    },
    /// Restore a backup into this box's data directory (stop the service first).
    Restore { file: PathBuf },
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
        /// GGUF chat model (default: the installed model `llm.model` names, smollm2-135m-instruct unless set).
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
    /// Over-the-air updates from the signed channel (or a USB stick).
    Update {
        #[command(subcommand)]
        action: update::UpdateAction,
    },
    /// Publish an update channel: signing keys, the index, its signature.
    Release {
        #[command(subcommand)]
        action: update::ReleaseAction,
    },
    /// Run one spoken command from a WAV file: transcript, intent, answer (and the spoken answer with -o).
    Voice {
        /// A WAV file (any rate, mono or stereo; at most 30 s).
        file: PathBuf,
        /// Use the built-in demo journal (its scratch store under the data directory).
        #[arg(long)]
        demo: bool,
        /// Write the spoken answer here (a WAV file).
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Push-to-talk from the command line: record one command from the microphone ([voice] capture_device), answer
    /// it, and play the answer ([voice] playback_device).
    Listen {
        /// Use the built-in demo journal (its scratch store under the data directory).
        #[arg(long)]
        demo: bool,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Check the figures, tables and pages of submission files (PDF, PNG, JPEG, TIFF): captions, resolution,
    /// blur, tiny text, turned and scanned pages.
    CheckFiles {
        /// The files to check.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Speak a text with the box's voice into a WAV file.
    Say {
        text: String,
        /// The WAV file to write (default: say.wav).
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// Measure the on-device models.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
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
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,ort=warn"));
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
    let Cli { config, command } = cli;
    // Publishing runs on the publisher's machine: no box configuration needed.
    let command = match command {
        Command::Release { action } => return update::release_cmd(action),
        other => other,
    };
    let cfg = Config::load(config.as_deref()).context("configuration is invalid")?;
    // Piper's phonemizer reads its data directory from the environment at its first use; set it here, while the
    // process has one thread (an operator's own setting wins).
    ojscog::config::espeak_dir_for_piper(&cfg.voice.espeak_data_dir);
    match command {
        Command::Serve { demo } => service::serve(cfg, demo),
        Command::Sync { once } => service::sync_cmd(cfg, once),
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
        Command::Status => service::status(cfg),
        Command::Backup { to, with_secrets } => backup::backup_cmd(cfg, to, with_secrets),
        Command::Restore { file } => backup::restore_cmd(cfg, &file),
        Command::Voice {
            file,
            demo,
            out,
            json,
        } => voice::voice_cmd(cfg, &file, demo, out, json),
        Command::Say { text, out } => voice::say_cmd(cfg, &text, out),
        Command::CheckFiles { paths, json } => figures::check_files_cmd(cfg, paths, json),
        Command::Listen { demo, json } => voice::listen_cmd(cfg, demo, json),
        Command::Update { action } => update::update_cmd(&cfg, action),
        Command::Release { action } => update::release_cmd(action),
        Command::Models { dir, action } => models::models_cmd(&cfg, dir, action),
        Command::Match {
            submission_id,
            demo,
            limit,
            json,
        } => agents::match_cmd(cfg, submission_id, demo, limit, json),
        Command::Search {
            query,
            demo,
            limit,
            json,
        } => agents::search_cmd(cfg, &query, demo, limit, json),
        Command::Eval {
            what:
                EvalWhat::ReviewerGold {
                    dir,
                    variants,
                    json,
                    ojs_sql,
                    ojs,
                    ojs_deadline,
                },
        } => eval::eval_cmd(
            &cfg,
            eval::EvalArgs {
                dir: &dir,
                variants,
                json,
                ojs_sql,
                ojs: ojs.as_deref(),
                ojs_deadline,
            },
        ),
        Command::Eval {
            what: EvalWhat::Voice { dir, json },
        } => voice::eval_voice_cmd(cfg, &dir, json),
        Command::Eval {
            what:
                EvalWhat::Screening {
                    labels,
                    set,
                    model,
                    threads,
                    json,
                },
        } => eval_screening::eval_screening_cmd(
            &cfg,
            eval_screening::ScreeningEvalArgs {
                labels,
                set,
                model,
                threads,
                json,
            },
        ),
        Command::Assess {
            submission_id,
            demo,
            model,
            timeout_secs,
            threads,
            fresh,
        } => models::assess_cmd(
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
        } => models::bench_llm(cfg, model, threads, prompt, gen, reps, json),
        Command::Bench {
            what:
                BenchWhat::Vision {
                    dir,
                    runtime,
                    threads,
                    count,
                    json,
                },
        } => figures::bench_vision_cmd(cfg, &dir, &runtime, threads, count, json),
        Command::Bench {
            what:
                BenchWhat::Voice {
                    dir,
                    threads,
                    count,
                    json,
                },
        } => voice::bench_voice_cmd(cfg, &dir, threads, count, json),
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Resolves on SIGTERM or SIGINT.
pub(crate) async fn shutdown_signal() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
        _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
    }
    Ok(())
}
