//! `serve`, `sync` and `status`: the service and its sync loop.

use anyhow::{bail, Context, Result};
use ojscog::config::Config;
use ojscog::metrics::Metrics;
use ojscog::service::Service;
use ojscog::store::Store;
use ojscog::sync::{self, Source, SyncHandle, SyncLoop, SyncStatus};
use ojscog::system::{unix_now, Shutdown};
use std::sync::Arc;

use crate::{runtime, shutdown_signal};

pub(crate) fn serve(cfg: Config, demo: bool) -> Result<()> {
    let (cfg, source) = match demo {
        // The demo never touches the real store.
        true => (cfg.for_demo(), Source::Demo),
        false if cfg.ojs.is_configured() => (cfg, Source::Ojs),
        false => (cfg, Source::None),
    };
    let listener = ojscog::web::bind(&cfg.web.listen).context("cannot start the service")?;
    let svc = Service::start(cfg, source, listener).context("cannot start the service")?;
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

pub(crate) fn sync_cmd(cfg: Config, once: bool) -> Result<()> {
    if !cfg.ojs.is_configured() {
        bail!("no OJS database is configured: set ojs.url in the config file or OJSCOG_OJS_URL=mysql://user:password@host:3306/ojs");
    }
    // Held while this writes the store: a restore waits for it to end.
    let _lock = ojscog::system::lock::DataDirLock::shared(&cfg.data_dir)?;
    let mut store = Store::open(&cfg.store_path())?;
    let metrics = Arc::new(Metrics::new());
    let shutdown = Shutdown::new();
    let rt = runtime()?;
    if once {
        let report = rt.block_on(async {
            // Ctrl-C stops the run cleanly: recorded as interrupted, no half batch.
            let stop = shutdown.clone();
            tokio::spawn(async move {
                if shutdown_signal().await.is_ok() {
                    stop.trigger();
                }
            });
            sync::run_until(&cfg.ojs, &mut store, &metrics, &shutdown).await
        })?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let mut status = SyncStatus::load(&store)?;
    status.configured = true;
    let looping = SyncLoop {
        cfg: cfg.ojs.clone(),
        store,
        metrics,
        handle: SyncHandle::new(status),
    }
    .spawn(shutdown.clone())
    .context("cannot start the sync loop")?;
    let signalled = rt.block_on(shutdown_signal());
    shutdown.trigger();
    let _ = looping.join();
    signalled
}

fn ago(now: i64, t: Option<i64>) -> String {
    t.map_or_else(|| "never".into(), |t| ojscog::human::ago(now - t))
}

pub(crate) fn status(cfg: Config) -> Result<()> {
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
        st.source.as_str(),
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
            .map(|(_, n, c)| format!("{n} ({c})"))
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
