//! `eval reviewer-gold --ojs URL`: the evaluation through the product's own
//! path. The database at URL holds the gold data as an OJS journal
//! (`--ojs-sql` prints it; `scripts/eval-matching.sh` loads it). A real
//! service is started on a scratch data directory against it: it syncs, its
//! background job embeds, and every rated paper's reviewers are asked of
//! `GET /api/submissions/{id}/reviewers` over HTTP. Those answers are scored.

use anyhow::{bail, Context, Result};
use ojscog::agents::indexer::IndexState;
use ojscog::agents::matching::{Channels, ExpertiseModel};
use ojscog::config::Config;
use ojscog::eval::journal::Layout;
use ojscog::eval::{Gold, Predictions};
use ojscog::inference::Embedder;
use ojscog::service::Service;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One reviewer in one answer of the matching API.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub expertise: f64,
    pub channels: Channels,
}

/// Everything the product answered: paper → participant → answer, and the vectors it made.
pub(crate) struct ProductRun {
    pub answers: HashMap<String, HashMap<String, Answer>>,
    /// Paper text → vector, from the service's store (for the in-memory figure).
    pub vectors: HashMap<String, Vec<f32>>,
    pub embedder: Arc<dyn Embedder>,
    pub sync_and_index_secs: f64,
    pub answer_secs: f64,
}

impl ProductRun {
    /// The API's `expertise`, as the gold metric reads predictions.
    pub fn expertise(&self) -> Predictions {
        let mut out = Predictions::new();
        for (paper, by) in &self.answers {
            for (pid, a) in by {
                out.entry(pid.clone())
                    .or_default()
                    .insert(paper.clone(), a.expertise);
            }
        }
        out
    }

    /// Each participant's position in the ranking of one paper's reviewers,
    /// as a share (1 = first of all, 0 = last), ranked by `score`.
    fn positions(
        &self,
        score: impl Fn(&HashMap<String, Answer>) -> HashMap<String, f64>,
    ) -> Predictions {
        let mut out = Predictions::new();
        for (paper, by) in &self.answers {
            let s = score(by);
            let n = s.len().max(2) as f64 - 1.0;
            for (pid, v) in &s {
                let below = s.values().filter(|w| *w < v).count() as f64;
                let ties = s.values().filter(|w| *w == v).count() as f64 - 1.0;
                out.entry(pid.clone())
                    .or_default()
                    .insert(paper.clone(), (below + ties / 2.0) / n);
            }
        }
        out
    }

    /// Per-submission ranking by the shipped expertise.
    pub fn ranks_calibrated(&self) -> Predictions {
        self.positions(|by| by.iter().map(|(p, a)| (p.clone(), a.expertise)).collect())
    }

    /// Per-submission ranking as before calibration: each channel z-scored
    /// over the candidates of this paper (recomputed from the API's channels).
    pub fn ranks_relative(&self, model: &ExpertiseModel) -> Predictions {
        self.positions(|by| {
            let (ids, aff): (Vec<&String>, Vec<_>) =
                by.iter().map(|(p, a)| (p, a.channels.affinity())).unzip();
            ids.into_iter()
                .zip(model.blend(&aff))
                .map(|(p, z)| (p.clone(), f64::from(z.unwrap_or(f32::MIN))))
                .collect()
        })
    }
}

fn random_token() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A scratch data directory that sees the caller's installed models.
fn scratch_dir(models_from: &Path) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "ojscog-eval-{}-{}",
        std::process::id(),
        ojscog::system::unix_now()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let models = models_from.join("models");
    if models.is_dir() {
        std::os::unix::fs::symlink(&models, dir.join("models"))
            .with_context(|| format!("linking {}", models.display()))?;
    }
    Ok(dir)
}

/// Runs the service against the journal at `ojs_url` and asks it about every rated paper.
pub(crate) fn run(
    cfg: &Config,
    gold: &Gold,
    ojs_url: &str,
    deadline: Duration,
) -> Result<ProductRun> {
    let dir = scratch_dir(&cfg.data_dir)?;
    let result = run_in(&dir, gold, ojs_url, deadline);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(dir: &Path, gold: &Gold, ojs_url: &str, deadline: Duration) -> Result<ProductRun> {
    let token = random_token()?;
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    config.ojs.url = ojs_url.to_string();
    config.web.listen = "127.0.0.1:0".into();
    config.web.read_token = token.clone();
    config.web.admin_token = random_token()?;
    config
        .validate()
        .context("the evaluation's service config")?;
    let listener = ojscog::web::bind(&config.web.listen)?;
    let svc = Service::start(config, ojscog::sync::Source::Ojs, listener)?;
    let out = ask(&svc, gold, &token, deadline);
    svc.stop();
    out
}

fn ask(svc: &Service, gold: &Gold, token: &str, deadline: Duration) -> Result<ProductRun> {
    let t0 = Instant::now();
    // The service's own embedder; without the real model there is nothing to measure.
    let (embedder, warning) = svc.ctx.models.embedder();
    if let Some(w) = warning {
        bail!("the service has no embedding model: {w}");
    }
    let mut last_note = Instant::now();
    // Synced once, and the background job has embedded everything.
    loop {
        let s = svc.ctx.sync.status();
        let p = svc.ctx.indexer.progress();
        if s.last_success_at.is_some()
            && p.state == IndexState::Idle
            && p.total > 0
            && p.done == p.total
        {
            break;
        }
        if let Some(e) = &s.last_error {
            if s.last_success_at.is_none() && t0.elapsed() > Duration::from_secs(60) {
                bail!("the service cannot sync the evaluation journal: {e}");
            }
        }
        if t0.elapsed() > deadline {
            bail!(
                "not ready after {} s (sync ok: {}, embedded {}/{})",
                deadline.as_secs(),
                s.last_success_at.is_some(),
                p.done,
                p.total
            );
        }
        if last_note.elapsed() > Duration::from_secs(15) {
            eprintln!(
                "eval: waiting for the service: synced {}, embedded {}/{} ({:.0} s)",
                s.last_success_at.is_some(),
                p.done,
                p.total,
                t0.elapsed().as_secs_f64()
            );
            last_note = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let sync_and_index_secs = t0.elapsed().as_secs_f64();

    let layout = Layout::of(gold);
    let participant: HashMap<i64, &String> = layout.users.iter().map(|(p, u)| (*u, p)).collect();
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .build();
    let t1 = Instant::now();
    let mut answers: HashMap<String, HashMap<String, Answer>> = HashMap::new();
    for paper in gold.papers.keys() {
        let sid = layout.submissions[paper];
        let url = format!(
            "http://{}/api/submissions/{sid}/reviewers?limit=100",
            svc.local_addr
        );
        let body: serde_json::Value = loop {
            match agent
                .get(&url)
                .set("Authorization", &format!("Bearer {token}"))
                .call()
            {
                Ok(r) => break r.into_json().context("the API's answer")?,
                Err(ureq::Error::Status(503, _)) if t0.elapsed() < deadline => {
                    std::thread::sleep(Duration::from_millis(500))
                }
                Err(e) => bail!("GET {url}: {e}"),
            }
        };
        let mut by = HashMap::new();
        for list in ["candidates", "excluded"] {
            for m in body[list].as_array().into_iter().flatten() {
                let Some(pid) = m["reviewer_id"]
                    .as_i64()
                    .and_then(|id| participant.get(&id))
                else {
                    continue; // one of the test journal's own reviewers
                };
                let channels: Channels =
                    serde_json::from_value(m["channels"].clone()).context("the API's channels")?;
                by.insert(
                    (*pid).clone(),
                    Answer {
                        expertise: m["expertise"].as_f64().unwrap_or(0.0),
                        channels,
                    },
                );
            }
        }
        answers.insert(paper.clone(), by);
    }
    let answer_secs = t1.elapsed().as_secs_f64();

    // The vectors the service made, for the in-memory figure on the same vectors.
    let store = svc.ctx.open_store_rw()?;
    let papers = gold.all_papers();
    let items: Vec<(i64, String)> = layout
        .submissions
        .iter()
        .filter_map(|(paper, sid)| {
            let p = papers.get(paper.as_str())?;
            Some((
                *sid,
                ojscog::agents::matching::doc_text(&p.title, &p.abstract_text, &[]),
            ))
        })
        .collect();
    let (have, _) = ojscog::agents::stored_embeddings(
        &store,
        embedder.model_sha256(),
        embedder.dim(),
        "submission",
        &items,
    )?;
    let vectors = items
        .into_iter()
        .filter_map(|(sid, text)| have.get(&sid).map(|v| (text, v.clone())))
        .collect();
    Ok(ProductRun {
        answers,
        vectors,
        embedder,
        sync_and_index_secs,
        answer_secs,
    })
}
