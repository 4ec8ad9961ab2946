//! The status page: in a real headless Chromium (the numbers a managing
//! editor reads must be the store's), and over plain HTTP.

use crate::support::browser::artifacts_dir;
use crate::support::web;

use ojscog::metrics::names;
use ojscog::store::records::{Author, LocalizedText, ReviewAssignment, Reviewer, SubmissionRecord};
use ojscog::store::{Batch, QueueSummary};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use web::*;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs headless Chromium with `args` plus the flags every run needs, killing
/// it if it hangs. Returns stdout.
fn chromium(args: &[String]) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the browser test needs Chromium (Debian package `chromium`)"
    );
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("chromium starts");
    // Read the pipes while it runs: a DOM larger than a pipe buffer would
    // otherwise block Chromium forever.
    let reader = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = reader(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = reader(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = stdout.join().unwrap();
    let stderr = stderr.join().unwrap();
    assert!(
        status.success(),
        "chromium failed ({status}): {}",
        String::from_utf8_lossy(&stderr)
    );
    String::from_utf8_lossy(&stdout).into_owned()
}

/// The `data-value` of the element with `id` in `html`.
fn data_value(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no element with id {id}"));
    // The tag the id is in.
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    let tag = &html[start..end];
    let v = tag
        .split("data-value=\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no data-value in {tag}"));
    v[..v.find('"').unwrap()].to_string()
}

/// The visible text of the element with `id` (up to its first child tag).
fn text_of(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = html.find(&marker).unwrap();
    let open_end = at + html[at..].find('>').unwrap() + 1;
    let close = open_end + html[open_end..].find('<').unwrap();
    html[open_end..close].to_string()
}

/// The `<figure>` of one chart.
fn figure<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no chart {id}"));
    let end = at + html[at..].find("</figure>").unwrap();
    &html[at..end]
}

/// Plausible history for the charts, one sample every 10 minutes for 23 h.
fn seed_history(t: &TestService, q: &QueueSummary) {
    let mut store = t.writable_store();
    let now = ojscog::system::unix_now();
    let mut requests = 0.0;
    for i in 0..138i64 {
        let ts = now - 23 * 3600 + i * 600;
        let wave = ((i as f64) / 12.0).sin();
        requests += 20.0 + 15.0 * wave.abs();
        let samples = vec![
            (
                names::PENDING.to_string(),
                (q.pending_total as f64 - 2.0 + (i / 40) as f64).max(0.0),
            ),
            (
                names::REVIEWS_OVERDUE.to_string(),
                (q.reviews_overdue - i64::from(i < 60)).max(0) as f64,
            ),
            (names::REVIEWS_ACTIVE.to_string(), q.reviews_active as f64),
            (names::CPU_USAGE.to_string(), 0.18 + 0.12 * wave),
            (
                names::MEMORY_USED.to_string(),
                1.6e9 + 2.0e8 * ((i as f64) / 20.0).cos(),
            ),
            (names::HTTP_REQUESTS.to_string(), requests),
        ];
        store.insert_samples(ts, &samples).unwrap();
    }
}

#[test]
fn status_page_in_headless_chromium_shows_the_store_numbers() {
    let t = start_with(|c| c.metrics.sample_interval_secs = 3600, true);
    t.wait_for_first_sample();
    let q = t.store().queue_summary().unwrap();
    assert!(q.pending_total > 0 && q.reviews_overdue > 0, "{q:?}");
    seed_history(&t, &q);

    // The browser signs in the way a newcomer does: it opens the sign-in link
    // (read token), the page moves on to `/` carrying the session cookie.
    let url = t.url(&format!("/signin?token={READ_TOKEN}"));
    let dom = chromium(&[
        "--virtual-time-budget=10000".to_string(),
        "--dump-dom".to_string(),
        url.clone(),
    ]);
    assert!(dom.contains("</html>"), "not a page: {dom}");

    // The numbers a managing editor reads are the store's.
    assert_eq!(
        data_value(&dom, "pending-total"),
        q.pending_total.to_string()
    );
    assert_eq!(text_of(&dom, "pending-total"), q.pending_total.to_string());
    for (stage, n) in &q.pending_by_stage {
        assert_eq!(
            data_value(&dom, &format!("stage-{stage}")),
            n.to_string(),
            "stage {stage}"
        );
    }
    assert_eq!(
        data_value(&dom, "reviews-overdue"),
        q.reviews_overdue.to_string()
    );
    assert_eq!(
        data_value(&dom, "reviews-active"),
        q.reviews_active.to_string()
    );
    assert_eq!(data_value(&dom, "published"), q.published.to_string());
    assert!(dom.contains("id=\"demo-banner\""), "demo banner");
    assert_eq!(data_value(&dom, "sync-source"), "demo");
    for s in &q.oldest_pending {
        assert!(
            dom.contains(&format!("data-id=\"{}\"", s.id)),
            "oldest pending #{} listed",
            s.id
        );
    }
    for (_, name, _) in &q.busiest_reviewers {
        assert!(dom.contains(name.as_str()), "{name} listed");
    }
    for id in [
        "device-cpu",
        "device-memory",
        "device-disk",
        "device-uptime",
        "device-temperature",
        "sync-last-success",
        "sync-staleness",
        "sync-next",
        "sync-last-error",
        "sync-ojs-version",
    ] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "{id} on the page");
    }

    // Charts: drawn from the seeded history.
    assert!(dom.matches("<svg").count() >= 6, "charts present");
    for (id, metric) in [
        ("chart-pending", names::PENDING),
        ("chart-overdue", names::REVIEWS_OVERDUE),
        ("chart-cpu", names::CPU_USAGE),
        ("chart-memory", names::MEMORY_USED),
        ("chart-requests", names::HTTP_REQUESTS),
    ] {
        let f = figure(&dom, id);
        assert!(f.contains(&format!("data-metric=\"{metric}\"")), "{f}");
        assert!(f.contains("<polyline"), "{id} has a line: {f}");
        assert!(!f.contains("collecting data"), "{id}: {f}");
    }

    // A screenshot to look at, kept as a test artifact.
    let dir = artifacts_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("status-page.png");
    let _ = std::fs::remove_file(&png);
    chromium(&[
        "--virtual-time-budget=10000".to_string(),
        format!("--screenshot={}", png.display()),
        "--window-size=1280,2000".to_string(),
        url,
    ]);
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
    assert!(
        bytes.len() > 20_000,
        "a real picture, {} bytes",
        bytes.len()
    );
    println!("screenshot: {}", png.display());
    t.stop();
}

#[test]
fn fresh_service_charts_say_collecting_data() {
    let t = start_demo();
    let r = t.get("/");
    assert_eq!(r.status, 200);
    let f = figure(&r.body, "chart-pending");
    assert!(f.contains("<svg"), "{f}");
    assert!(f.contains("collecting data…"), "{f}");
    assert!(!f.contains("<polyline"), "{f}");
    t.stop();
}

#[test]
fn page_is_self_contained_and_refreshes_only_when_asked() {
    let t = start_demo();
    let auto = t.get("/?auto=1").body;
    assert!(auto.contains(r#"<meta http-equiv="refresh" content="30">"#));
    assert!(auto.contains("Stop reloading"));
    let r = t.get("/");
    assert_eq!(r.content_type, "text/html; charset=utf-8");
    let html = &r.body;
    assert!(
        !html.contains("http-equiv=\"refresh\""),
        "no reload the reader did not ask for"
    );
    assert!(html.contains("href=\"/?auto=1\""));
    assert!(!html.contains("<script"), "no scripts");
    assert!(!html.contains("src=\""), "no external images or scripts");
    assert!(!html.contains("href=\"http"), "no external links or styles");
    assert!(!html.contains("@import"), "no external CSS");
    let csp = r.header("Content-Security-Policy").unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    t.stop();
}

#[test]
fn page_escapes_html_that_comes_from_the_store() {
    // The sampler writes once at start, then not for an hour: the test's
    // own write does not race it.
    let t = start_with(|c| c.metrics.sample_interval_secs = 3600, true);
    t.wait_for_first_sample();
    let evil = "<script>alert('x')</script> & \"quotes\"";
    let mut store = t.writable_store();
    // A pending submission older than any demo one, so it is listed first,
    // with a hostile title, author and reviewer.
    let record = SubmissionRecord {
        id: 900,
        journal_id: 1,
        status: 1,
        stage_id: 3,
        submitted: true,
        locale: "en".into(),
        date_submitted: Some("2001-01-01 00:00:00".into()),
        date_last_activity: Some("2001-01-02 00:00:00".into()),
        texts: vec![LocalizedText {
            locale: "en".into(),
            title: evil.into(),
            abstract_text: String::new(),
        }],
        authors: vec![Author {
            id: 9000,
            given_name: "<img src=x onerror=alert(1)>".into(),
            family_name: "Author".into(),
            ..Default::default()
        }],
        review_assignments: vec![ReviewAssignment {
            id: 9000,
            reviewer_id: 9000,
            date_assigned: Some("2001-01-03 00:00:00".into()),
            date_due: Some("2999-01-01 00:00:00".into()),
            ..Default::default()
        }],
        fingerprint: "test".into(),
        ..Default::default()
    };
    let mut reviewers: Vec<Reviewer> = Vec::new();
    for r in t.get("/api/reviewers").json()["reviewers"]
        .as_array()
        .unwrap()
    {
        let name = r["name"].as_str().unwrap();
        let (given, family) = name.split_once(' ').unwrap();
        reviewers.push(Reviewer {
            id: r["id"].as_i64().unwrap(),
            username: format!("u{}", r["id"]),
            email: r["email"].as_str().unwrap().into(),
            given_name: given.into(),
            family_name: family.into(),
            affiliation: r["affiliation"].as_str().unwrap().into(),
            interests: r["interests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_str().unwrap().to_string())
                .collect(),
            ..Default::default()
        });
    }
    reviewers.push(Reviewer {
        id: 9000,
        username: "evil".into(),
        email: "evil@example.org".into(),
        given_name: "<b>Bold".into(),
        family_name: "Reviewer</b>".into(),
        ..Default::default()
    });
    store
        .apply(&Batch {
            reviewers: Some(reviewers),
            upsert: vec![record],
            ..Default::default()
        })
        .unwrap();

    let html = t.get("/").body;
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quotes&quot;"),
        "escaped title on the page"
    );
    assert!(!html.contains("<script>"), "raw title leaked");
    assert!(!html.contains("<img"), "raw author leaked");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt; Author"));
    assert!(!html.contains("<b>Bold"), "raw reviewer leaked");
    assert!(html.contains("&lt;b&gt;Bold Reviewer&lt;/b&gt;"));
    t.stop();
}
