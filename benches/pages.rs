//! Editor pages at scale: a journal of 5,000 submissions and 2,000 reviewers
//! (about 15,000 review assignments), generated through the public store API
//! the way a sync writes it, served by the real service over HTTP.
//!
//!   cargo bench --bench pages
//!
//! Each page is asked 30 times after 3 warm-up requests (its very first
//! request is reported apart as "first": for a submission page that is the one
//! that computes the reviewer suggestions, later ones are served from the
//! cache). The target of the issue is a page under 100 ms; the verdict is
//! informational, the bench fails only when a page does not answer 200.
//!
//! The reference, in the same run on the same store file: the `sqlite3`
//! command-line tool running the main query of each list page (the SQL of
//! `src/store/pages.rs`, parameters substituted), spawned 30 times, plus the
//! same SQL repeated inside one sqlite3 process (start-up subtracted): the
//! floor SQLite alone needs, next to the whole page (HTTP + every query + HTML).
//! Parts of the slower pages are timed apart through the JSON API (`/health`
//! for the device reading of `/`, a submission's record, its suggestions).

use ojscog::config::Config;
use ojscog::service::Service;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SUBMISSIONS: i64 = 5_000;
const REVIEWERS: i64 = 2_000;
const RUNS: usize = 30;
const WARMUP: usize = 3;
const TARGET_MS: f64 = 100.0;
const READ_TOKEN: &str = "bench-read-token-0123456789abcdef";
const ADMIN_TOKEN: &str = "bench-admin-token-0123456789abcdef";
const DAY: i64 = 86_400;

#[path = "pages/journal.rs"]
mod journal;
use journal::{count_rows, generate, ojs_date, pick_submissions};

fn config(dir: &Path) -> Config {
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    config.web.listen = "127.0.0.1:0".into();
    config.web.read_token = READ_TOKEN.into();
    config.web.admin_token = ADMIN_TOKEN.into();
    config
        .validate()
        .unwrap_or_else(|e| panic!("bench config: {e}"));
    config
}

/// Waits for the background indexer to embed the store (the submission and
/// search pages answer "indexing" until it has).
fn wait_for_index(svc: &Service) -> Duration {
    use ojscog::agents::indexer::IndexState;
    let t = Instant::now();
    loop {
        let p = svc.ctx.indexer.progress();
        if p.state == IndexState::Idle && p.total > 0 && p.done == p.total {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < Duration::from_secs(900),
            "the indexer did not finish: {p:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One GET with the read token; the time and the body's size. Anything but
/// a 200 fails the bench with the answer printed.
fn get(agent: &ureq::Agent, base: &str, path: &str) -> (f64, usize) {
    let json = path.starts_with("/api/") || path == "/health";
    let t = Instant::now();
    let resp = agent
        .get(&format!("{base}{path}"))
        .set("Authorization", &format!("Bearer {READ_TOKEN}"))
        .set(
            "Accept",
            if json {
                "application/json"
            } else {
                "text/html"
            },
        )
        .call();
    let (status, body) = match resp {
        Ok(r) => (r.status(), r.into_string()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string()),
        Err(e) => panic!("GET {path}: {e}"),
    };
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let body = body.unwrap_or_else(|e| panic!("GET {path}: body: {e}"));
    if status != 200 {
        panic!("GET {path} answered {status}, not 200:\n{body}");
    }
    (ms, body.len())
}

struct Stats {
    median: f64,
    p95: f64,
    max: f64,
}

fn stats(mut v: Vec<f64>) -> Stats {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 0 {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    } else {
        v[n / 2]
    };
    let p95 = v[((n as f64 * 0.95).ceil() as usize).clamp(1, n) - 1];
    Stats {
        median,
        p95,
        max: v[n - 1],
    }
}

struct PageRow {
    path: String,
    first: f64,
    s: Stats,
    bytes: usize,
}

fn time_page(agent: &ureq::Agent, base: &str, path: &str) -> PageRow {
    let (first, _) = get(agent, base, path);
    for _ in 1..WARMUP {
        get(agent, base, path);
    }
    let mut times = Vec::with_capacity(RUNS);
    let mut bytes = 0;
    for _ in 0..RUNS {
        let (ms, b) = get(agent, base, path);
        times.push(ms);
        bytes = b;
    }
    PageRow {
        path: path.to_string(),
        first,
        s: stats(times),
        bytes,
    }
}

fn sqlite3_version() -> Option<String> {
    let out = Command::new("sqlite3").arg("--version").output().ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string()
    })
}

/// `sqlite3 FILE SQL`, spawned RUNS times (after a warm-up): wall time of each.
fn time_sqlite3_spawn(file: &Path, sql: &str) -> Stats {
    let run = || {
        let t = Instant::now();
        let out = Command::new("sqlite3")
            .arg(file)
            .arg(sql)
            .output()
            .unwrap_or_else(|e| panic!("sqlite3: {e}"));
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "sqlite3 failed on {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        ms
    };
    for _ in 0..WARMUP {
        run();
    }
    stats((0..RUNS).map(|_| run()).collect())
}

/// Wall time of one `sqlite3 FILE` process reading `script` on stdin.
fn run_sqlite3_script(file: &Path, script: &str) -> f64 {
    use std::io::Write as _;
    let t = Instant::now();
    let mut child = Command::new("sqlite3")
        .arg(file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("sqlite3: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .unwrap_or_else(|e| panic!("sqlite3 stdin: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("sqlite3: {e}"));
    let ms = t.elapsed().as_secs_f64() * 1e3;
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "sqlite3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ms
}

/// SQLite's own time for one run of `sql`, without the process start and the
/// file open: one process runs it WARMUP + RUNS times, an empty one only
/// starts; (median of 5 full − median of 5 empty) / RUNS. A mean per run.
fn time_sqlite3_inside(file: &Path, sql: &str) -> f64 {
    let warm = format!("{sql}\n").repeat(WARMUP);
    let full = format!("{warm}{}", format!("{sql}\n").repeat(RUNS));
    let median =
        |script: &str| stats((0..5).map(|_| run_sqlite3_script(file, script)).collect()).median;
    let empty = median(&warm);
    ((median(&full) - empty) / RUNS as f64).max(0.0)
}

/// The sqlite3 command-line tool on the same store: each page's main SQL,
/// spawned and in one process, next to the page's median.
fn reference(store_path: &Path, now: i64, results: &[PageRow]) {
    match sqlite3_version() {
        None => println!(
            "reference skipped: the `sqlite3` command-line tool is not installed \
             (Debian: apt-get install sqlite3)"
        ),
        Some(version) => {
            let refs = reference_queries(now);
            println!(
                "reference: sqlite3 {version} on the same store file, each page's main SQL \
                 (without the per-row author/keyword/interest lookups):"
            );
            println!(
                "{:<36} {:>13} {:>9} {:>9} {:>15}",
                "query of page", "spawn median", "p95", "max", "in-process"
            );
            let mut floor = Vec::new();
            for (name, sql) in &refs {
                let spawned = time_sqlite3_spawn(store_path, &sql.join(" "));
                let inside = time_sqlite3_inside(store_path, &sql.join(" "));
                println!(
                    "{:<36} {:>13.1} {:>9.1} {:>9.1} {:>15.2}",
                    name, spawned.median, spawned.p95, spawned.max, inside
                );
                floor.push((name.to_string(), spawned.median, inside));
            }
            println!();
            let head = ("page", "page med", "sqlite3 spawn med", "sqlite3 in-proc");
            println!(
                "{:<36} {:>10} {:>16} {:>16}",
                head.0, head.1, head.2, head.3
            );
            for r in results {
                if let Some((_, spawned, inside)) = floor.iter().find(|(n, _, _)| *n == r.path) {
                    println!(
                        "{:<36} {:>10.1} {:>16.1} {:>16.2}",
                        r.path, r.s.median, spawned, inside
                    );
                }
            }
        }
    }
}

/// The reference SQL, by page: the list pages' COUNT + page SELECT
/// (src/store/pages.rs), `/`'s queue summary and the matcher's journal-wide
/// reads, parameters substituted as of `now`.
fn reference_queries(now: i64) -> Vec<(&'static str, Vec<String>)> {
    let ojs_now = ojs_date(now);
    let year_ago = format!(
        "{}{}",
        ojs_now[..4].parse::<i32>().unwrap_or(2000) - 1,
        &ojs_now[4..]
    );
    let filter = |stage: &str| {
        format!("s.submitted = 1 AND ({stage} IS NULL OR (s.stage_id = {stage} AND s.status = 1))")
    };
    let subs = |stage: &str, offset: usize| {
        vec![
            format!(
                "SELECT COUNT(*) FROM submissions s WHERE {};",
                filter(stage)
            ),
            format!(
                "SELECT s.id, s.journal_id, sec.title, s.title, s.status, s.stage_id, s.submitted, \
                 s.date_submitted, s.date_last_activity \
                 FROM submissions s LEFT JOIN sections sec ON sec.id = s.section_id \
                 WHERE {} \
                 ORDER BY COALESCE(s.date_submitted, '') DESC, s.id DESC LIMIT 50 OFFSET {offset};",
                filter(stage)
            ),
        ]
    };
    let load = |order: &str, offset: usize| {
        vec![
            "SELECT COUNT(*) FROM reviewers;".to_string(),
            format!(
                "SELECT r.id, trim(r.given_name || ' ' || r.family_name), r.email, r.affiliation, r.disabled, \
                 COALESCE(SUM(ra.date_completed IS NULL AND ra.declined = 0 AND ra.cancelled = 0 AND s.status = 1), 0) AS open, \
                 COALESCE(SUM(ra.date_completed IS NULL AND ra.declined = 0 AND ra.cancelled = 0 AND s.status = 1 \
                              AND ra.date_due < '{ojs_now}'), 0) AS overdue, \
                 COALESCE(SUM(ra.date_completed >= '{year_ago}' AND ra.declined = 0 AND ra.cancelled = 0), 0), \
                 COALESCE(SUM(ra.date_completed IS NOT NULL AND ra.declined = 0 AND ra.cancelled = 0), 0), \
                 COALESCE(SUM(ra.declined = 1), 0), \
                 COUNT(ra.id), \
                 AVG(CASE WHEN ra.date_completed IS NOT NULL AND ra.declined = 0 AND ra.cancelled = 0 \
                          THEN julianday(ra.date_completed) - julianday(COALESCE(ra.date_notified, ra.date_assigned)) END) \
                 FROM reviewers r \
                 LEFT JOIN review_assignments ra ON ra.reviewer_id = r.id \
                 LEFT JOIN submissions s ON s.id = ra.submission_id \
                 GROUP BY r.id ORDER BY {order} LIMIT 50 OFFSET {offset};"
            ),
        ]
    };
    let by_load = "open DESC, overdue DESC, r.family_name, r.given_name, r.id";
    let by_free = "open, overdue, r.family_name, r.given_name, r.id";
    let by_name = "r.family_name, r.given_name, r.id";
    // `/`'s queue summary (src/store/queries.rs, `queue_summary`) without
    // the per-row author/keyword lookups of its five oldest submissions.
    let status_page = vec![
        "SELECT stage_id, COUNT(*) FROM v_pending_submissions GROUP BY stage_id ORDER BY stage_id;".to_string(),
        "SELECT COALESCE(SUM(ra.date_due < datetime('now')), 0), COUNT(*) \
         FROM review_assignments ra JOIN submissions s ON s.id = ra.submission_id \
         WHERE ra.date_completed IS NULL AND ra.declined = 0 AND ra.cancelled = 0 AND s.status = 1;".to_string(),
        "SELECT COALESCE(SUM(submitted = 0), 0), COALESCE(SUM(submitted = 1 AND status = 3), 0), \
         COALESCE(SUM(submitted = 1 AND status = 4), 0) FROM submissions;".to_string(),
        "SELECT COUNT(*) FROM reviewers;".to_string(),
        "SELECT r.id, trim(r.given_name || ' ' || r.family_name) AS name, COUNT(*) AS active \
         FROM review_assignments ra JOIN submissions s ON s.id = ra.submission_id \
         JOIN reviewers r ON r.id = ra.reviewer_id \
         WHERE ra.date_completed IS NULL AND ra.declined = 0 AND ra.cancelled = 0 AND s.status = 1 \
         GROUP BY r.id ORDER BY active DESC, name LIMIT 5;".to_string(),
        "SELECT s.id, s.journal_id, sec.title, s.title, s.status, s.stage_id, s.submitted, \
         s.date_submitted, s.date_last_activity FROM submissions s LEFT JOIN sections sec ON sec.id = s.section_id \
         WHERE s.submitted = 1 AND s.status = 1 \
         ORDER BY COALESCE(s.date_last_activity, s.date_submitted) LIMIT 5;".to_string(),
    ];
    // What the matcher reads of the whole journal on every call, cached
    // or not (src/store/agents.rs: `corpus`, `reviewer_facts`), before
    // it can tell whether its cached suggestions are still valid.
    let matcher_reads = vec![
        "SELECT id, journal_id, submitted, title, abstract FROM submissions ORDER BY id;".to_string(),
        "SELECT t.submission_id, t.term FROM submission_terms t JOIN submissions s ON s.id = t.submission_id \
         WHERE t.kind = 'keyword' ORDER BY t.submission_id, (t.locale = s.locale) DESC, t.locale, t.seq, t.term;".to_string(),
        "SELECT r.id, trim(r.given_name || ' ' || r.family_name), r.email, r.affiliation, \
         r.disabled, p.assigned, p.completed, p.declined, p.active, p.avg_days_to_complete, p.last_review \
         FROM reviewers r JOIN v_reviewer_performance p ON p.reviewer_id = r.id ORDER BY r.id;".to_string(),
        "SELECT reviewer_id, term FROM reviewer_interests ORDER BY reviewer_id, term;".to_string(),
    ];
    vec![
        ("process start + open (SELECT 1)", vec!["SELECT 1;".into()]),
        ("/", status_page),
        ("/submissions", subs("NULL", 0)),
        ("/submissions?page=60", subs("NULL", 2950)),
        ("/submissions?stage=review", subs("3", 0)),
        ("/reviewers", load(by_load, 0)),
        ("/reviewers?sort=name&page=30", load(by_name, 1450)),
        ("/reviewers?sort=free", load(by_free, 0)),
        ("(matcher's journal-wide reads)", matcher_reads),
    ]
}

fn verdict(ms: f64) -> &'static str {
    if ms < TARGET_MS {
        "under 100 ms"
    } else {
        "OVER 100 ms"
    }
}

/// The 1-minute load average (other builds share the machine).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn main() {
    println!("load average before: {}", load_average());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = config(dir.path());
    let store_path = cfg.store_path();

    let t = Instant::now();
    generate(&store_path, now);
    let generated = t.elapsed().as_secs_f64();
    let rows = count_rows(&store_path);
    let size_mb = std::fs::metadata(&store_path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    println!(
        "store generated in {generated:.1} s ({size_mb:.1} MB before the WAL is checkpointed): {}",
        rows.iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (in_review, new) = pick_submissions(&store_path);

    let listener = ojscog::web::bind(&cfg.web.listen).unwrap_or_else(|e| panic!("{e}"));
    let svc = Service::start(cfg, ojscog::sync::Source::None, listener)
        .unwrap_or_else(|e| panic!("service start: {e}"));
    let base = format!("http://{}", svc.local_addr);
    let indexed = wait_for_index(&svc);
    let p = svc.ctx.indexer.progress();
    println!(
        "service on {base}; background index of {} documents ready after {:.1} s (model {})",
        p.total,
        indexed.as_secs_f64(),
        p.model_id.as_deref().unwrap_or("?")
    );

    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .redirects(0)
        .build();
    let pages = [
        "/".to_string(),
        "/submissions".to_string(),
        "/submissions?page=60".to_string(),
        "/submissions?stage=review".to_string(),
        format!("/submissions/{in_review}"),
        format!("/submissions/{new}"),
        "/reviewers".to_string(),
        "/reviewers?sort=name&page=30".to_string(),
        "/reviewers?sort=free".to_string(),
        "/reviewers/42".to_string(),
        "/search?q=seagrass+acidification".to_string(),
    ];
    let results: Vec<PageRow> = pages.iter().map(|p| time_page(&agent, &base, p)).collect();
    // Parts of the slower pages, through the JSON API (same service, same data):
    // the device reading `/` makes, a submission's record, its suggestions
    // (served from the cache the pages above filled).
    let parts = [
        "/health".to_string(),
        format!("/api/submissions/{in_review}"),
        format!("/api/submissions/{in_review}/reviewers"),
        format!("/api/submissions/{new}/reviewers"),
    ];
    let part_results: Vec<PageRow> = parts.iter().map(|p| time_page(&agent, &base, p)).collect();

    println!();
    println!(
        "{} requests per page after {} warm-up (\"first\" = the page's first request; for a submission page the one that computes the suggestions):",
        RUNS, WARMUP
    );
    println!(
        "{:<36} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "page", "first ms", "median", "p95", "max", "bytes"
    );
    for r in &results {
        println!(
            "{:<36} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9}",
            r.path, r.first, r.s.median, r.s.p95, r.s.max, r.bytes
        );
    }
    println!();
    println!("parts of the pages, through the JSON API (same count of requests):");
    for r in &part_results {
        println!(
            "{:<36} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9}",
            r.path, r.first, r.s.median, r.s.p95, r.s.max, r.bytes
        );
    }

    // The reference, in the same run on the same file: sqlite3 alone.
    println!();
    reference(&store_path, now, &results);

    println!();
    println!("verdict (median against the issue's {TARGET_MS} ms; informational):");
    for r in &results {
        println!("{:<36} {}", r.path, verdict(r.s.median));
    }
    println!("load average after: {}", load_average());
    svc.stop();
}
