//! The web server end to end: a real service (demo journal) on a free port,
//! talked to with a real HTTP client and raw sockets. Tests are named for
//! the bug they would catch.

use crate::support::web;
use crate::support::Inspect;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use web::*;

fn count(store: &ojscog::store::Store, sql: &str) -> i64 {
    store.scalar_i64(sql).unwrap()
}

#[test]
fn every_route_answers_with_its_content_type() {
    let t = start_demo();
    let cases = [
        ("/", "text/html; charset=utf-8"),
        ("/health", "application/json"),
        ("/metrics", "text/plain; version=0.0.4; charset=utf-8"),
        ("/api/submissions", "application/json"),
        ("/api/submissions/1", "application/json"),
        ("/api/reviewers", "application/json"),
        ("/api/sync", "application/json"),
    ];
    for (path, ct) in cases {
        let r = t.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_eq!(r.content_type, ct, "{path}");
        assert_eq!(
            r.header("X-Content-Type-Options"),
            Some("nosniff"),
            "{path}"
        );
        if ct == "application/json" {
            r.json();
        }
    }
    t.stop();
}

#[test]
fn submissions_status_filter_counts_match_the_store() {
    let t = start_demo();
    let store = t.store();
    for (name, number) in [
        ("queued", 1),
        ("published", 3),
        ("declined", 4),
        ("scheduled", 5),
    ] {
        let expected = count(
            &store,
            &format!("SELECT COUNT(*) FROM submissions WHERE status = {number} AND submitted = 1"),
        );
        let by_name = t.get(&format!("/api/submissions?status={name}")).json();
        let by_number = t.get(&format!("/api/submissions?status={number}")).json();
        let list = by_name["submissions"].as_array().unwrap();
        assert_eq!(list.len() as i64, expected, "status={name}");
        assert_eq!(
            by_name, by_number,
            "status={name} and status={number} agree"
        );
        assert!(list.iter().all(|s| s["status"] == name), "{list:?}");
    }
    // The demo has queued submissions, so the comparison above was not 0 == 0.
    let queued = count(
        &store,
        "SELECT COUNT(*) FROM submissions WHERE status = 1 AND submitted = 1",
    );
    assert!(queued >= 5, "demo has {queued} queued submissions");
    assert_eq!(
        queued,
        store.queue_summary().unwrap().pending_total,
        "queued == pending"
    );

    let all = t.get("/api/submissions").json();
    assert_eq!(
        all["count"].as_i64().unwrap(),
        count(&store, "SELECT COUNT(*) FROM submissions")
    );
    assert_eq!(all["truncated"], false);
    for item in all["submissions"].as_array().unwrap() {
        for field in [
            "id",
            "title",
            "status",
            "stage",
            "date_submitted",
            "authors",
            "keywords",
        ] {
            assert!(item.get(field).is_some(), "{field} missing in {item}");
        }
    }
    t.stop();
}

#[test]
fn submissions_stage_filter_and_limit() {
    let t = start_demo();
    let store = t.store();
    for (name, number) in [
        ("submission", 1),
        ("review", 3),
        ("copyediting", 4),
        ("production", 5),
    ] {
        let expected = count(
            &store,
            &format!("SELECT COUNT(*) FROM submissions WHERE stage_id = {number}"),
        );
        let r = t.get(&format!("/api/submissions?stage={name}")).json();
        assert_eq!(
            r["submissions"].as_array().unwrap().len() as i64,
            expected,
            "stage={name}"
        );
    }
    let both = t.get("/api/submissions?status=queued&stage=review").json();
    assert_eq!(
        both["count"].as_i64().unwrap(),
        count(
            &store,
            "SELECT COUNT(*) FROM submissions WHERE status = 1 AND submitted = 1 AND stage_id = 3"
        )
    );
    let review_pending = store
        .queue_summary()
        .unwrap()
        .pending_by_stage
        .into_iter()
        .find(|(s, _)| s == "review")
        .unwrap()
        .1;
    assert_eq!(both["count"].as_i64().unwrap(), review_pending);

    let limited = t.get("/api/submissions?limit=2").json();
    assert_eq!(limited["submissions"].as_array().unwrap().len(), 2);
    assert_eq!(limited["truncated"], true);
    assert_eq!(limited["limit"], 2);
    // Upper case and spaces are forgiven; encoding is decoded.
    let r = t.get("/api/submissions?status=%20Queued%20&stage=REVIEW");
    assert_eq!(r.status, 200, "{}", r.body);
    t.stop();
}

#[test]
fn bad_query_parameters_are_400_with_a_json_error() {
    let t = start_demo();
    for q in [
        "status=bogus",
        "status=",
        "stage=nowhere",
        "stage=9",
        "limit=0",
        "limit=abc",
        "limit=-3",
        "limit=100000",
        "colour=blue",
        "status=queued&status=declined",
        "status=%zz",
        "status=%ff",
    ] {
        let r = t.get(&format!("/api/submissions?{q}"));
        assert_eq!(r.status, 400, "{q}: {}", r.body);
        assert_eq!(r.content_type, "application/json", "{q}");
        let msg = r.json()["error"].as_str().unwrap().to_string();
        assert!(!msg.is_empty(), "{q}");
    }
    let r = t.get("/api/submissions?status=bogus");
    assert!(
        r.json()["error"].as_str().unwrap().contains("queued"),
        "the error says what is allowed: {}",
        r.body
    );
    t.stop();
}

#[test]
fn submission_detail_missing_and_malformed_ids() {
    let t = start_demo();
    let store = t.store();
    let title = store
        .column_strings("SELECT title FROM submissions WHERE id = 1")
        .unwrap()
        .remove(0);
    let r = t.get("/api/submissions/1");
    assert_eq!(r.status, 200);
    let d = r.json();
    assert_eq!(d["id"], 1);
    assert_eq!(d["title"], title.as_str());
    assert!(d["abstract_text"].as_str().is_some(), "{d}");
    assert!(d["review_assignments"].as_array().is_some(), "{d}");

    let r = t.get("/api/submissions/99999");
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("99999"));
    for bad in ["abc", "-1", "0", "1.5", "99999999999999999999999"] {
        let r = t.get(&format!("/api/submissions/{bad}"));
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        r.json();
    }
    let r = t.get("/api/submissions/1/reviews");
    assert_eq!(r.status, 404);
    t.stop();
}

#[test]
fn reviewers_carry_workload_numbers_that_match_the_queue() {
    let t = start_demo();
    let store = t.store();
    let r = t.get("/api/reviewers");
    assert_eq!(r.status, 200);
    let v = r.json();
    let list = v["reviewers"].as_array().unwrap();
    assert_eq!(
        list.len() as i64,
        count(&store, "SELECT COUNT(*) FROM reviewers")
    );
    for rv in list {
        for field in [
            "id",
            "name",
            "affiliation",
            "interests",
            "active_reviews",
            "completed_reviews",
            "declined_reviews",
            "avg_days_to_complete",
        ] {
            assert!(rv.get(field).is_some(), "{field} missing in {rv}");
        }
    }
    let active: i64 = list
        .iter()
        .map(|r| r["active_reviews"].as_i64().unwrap())
        .sum();
    assert_eq!(active, store.queue_summary().unwrap().reviews_active);
    assert!(list
        .iter()
        .any(|r| r["interests"].as_array().is_some_and(|i| !i.is_empty())));
    t.stop();
}

#[test]
fn sync_status_reports_the_demo_source_and_staleness() {
    let t = start_demo();
    let v = t.get("/api/sync").json();
    assert_eq!(v["source"], "demo");
    assert_eq!(v["configured"], false);
    let staleness = v["staleness_seconds"].as_i64().unwrap();
    assert!((0..600).contains(&staleness), "{v}");
    assert!(v.get("last_success_at").is_some());
    assert!(v.get("next_attempt_at").is_some());
    t.stop();
}

#[test]
fn post_sync_is_401_without_a_token_and_403_with_a_wrong_one() {
    let t = start_demo();
    let r = t.post("/api/sync", None, b"");
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r
        .header("WWW-Authenticate")
        .is_some_and(|h| h.starts_with("Bearer")));
    r.json();
    let r = t.post("/api/sync", Some("not-the-admin-token-at-all"), b"");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("admin token"));
    // Same length, one character off.
    let mut near = ADMIN_TOKEN.to_string();
    near.pop();
    near.push('X');
    assert_eq!(t.post("/api/sync", Some(&near), b"").status, 403);
    let r = web::call(
        agent()
            .post(&t.url("/api/sync"))
            .set("Authorization", &format!("Basic {ADMIN_TOKEN}")),
        Some(b""),
    );
    assert_eq!(r.status, 403);
    // The right token: but the demo has no OJS to sync from.
    let r = t.post("/api/sync", Some(ADMIN_TOKEN), b"");
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["started"], false);
    assert!(r.json()["error"].as_str().unwrap().contains("OJS"));
    t.stop();
}

#[test]
fn post_sync_is_401_when_admin_calls_are_disabled() {
    let t = start_with(|c| c.web.admin_token = String::new(), true);
    for token in [None, Some(""), Some(ADMIN_TOKEN)] {
        let r = t.post("/api/sync", token, b"");
        assert_eq!(r.status, 401, "{token:?}: {}", r.body);
        let msg = r.json()["error"].as_str().unwrap().to_string();
        assert!(msg.contains("disabled"), "{msg}");
    }
    t.stop();
}

#[test]
fn post_sync_with_ojs_configured_is_202_and_health_degrades() {
    // An OJS nobody listens for: the sync loop fails and backs off.
    let t = start_with(
        |c| {
            c.ojs.url = "mysql://reader:secret@127.0.0.1:9/ojs".into();
            c.ojs.timeout_secs = 2;
        },
        false,
    );
    let r = t.post("/api/sync", Some(ADMIN_TOKEN), b"{}");
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json()["started"], true);
    let h = t.get("/health");
    assert_eq!(h.status, 200, "degraded still answers 200: {}", h.body);
    let v = h.json();
    assert_eq!(v["status"], "degraded", "{v}");
    assert_eq!(v["checks"]["sync"]["status"], "degraded", "{v}");
    assert_eq!(v["checks"]["store"]["status"], "ok", "{v}");
    assert!(
        !h.body.contains("secret"),
        "no password in /health: {}",
        h.body
    );
    let took = t.stop();
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
}

/// The page, `/health` and the API render one judgement of the sync
/// (`SyncStatus::state`), so they cannot disagree.
#[test]
fn the_page_health_and_api_agree_on_the_sync_state() {
    // Demo: nothing to sync.
    let t = start_demo();
    assert_eq!(t.get("/api/sync").json()["state"], "demo");
    assert_eq!(t.get("/health").json()["checks"]["sync"]["state"], "demo");
    assert!(t
        .get("/")
        .body
        .contains(r#"<span class="pill neutral">Demo</span>"#));
    t.stop();
    // An OJS that never answers: never synced, degraded everywhere.
    let t = start_with(
        |c| {
            c.ojs.url = "mysql://reader:secret@127.0.0.1:9/ojs".into();
            c.ojs.timeout_secs = 2;
        },
        false,
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while t.get("/api/sync").json()["consecutive_failures"] == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sync never failed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(t.get("/api/sync").json()["state"], "never_synced");
    let h = t.get("/health").json();
    assert_eq!(h["checks"]["sync"]["state"], "never_synced", "{h}");
    assert_eq!(h["checks"]["sync"]["status"], "degraded", "{h}");
    // (A retry may be running at that moment: the page says so instead.)
    let page = t.get("/").body;
    assert!(
        page.contains(r#"<span class="pill bad">Never synced</span>"#)
            || page.contains(r#"<span class="pill neutral">Syncing now</span>"#),
        "{page}"
    );
    t.stop();
}

#[test]
fn unknown_paths_are_404_json() {
    let t = start_demo();
    for path in [
        "/nope",
        "/api",
        "/api/submission",
        "/favicon.ico",
        "/health/x",
    ] {
        let r = t.get(path);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.content_type, "application/json", "{path}");
        assert!(r.json()["error"].as_str().is_some(), "{path}");
    }
    t.stop();
}

#[test]
fn wrong_methods_are_405_with_allow() {
    let t = start_demo();
    for (method, path, allow) in [
        ("POST", "/", "GET, HEAD"),
        ("DELETE", "/api/submissions/1", "GET, HEAD"),
        ("PUT", "/health", "GET, HEAD"),
        ("POST", "/metrics", "GET, HEAD"),
        ("DELETE", "/api/sync", "GET, HEAD, POST"),
        ("PATCH", "/api/reviewers", "GET, HEAD"),
    ] {
        let r = t.request(method, path);
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("Allow"), Some(allow), "{method} {path}");
        r.json();
    }
    // HEAD is GET without the body.
    let r = t.request("HEAD", "/health");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    t.stop();
}

#[test]
fn oversized_bodies_are_413() {
    let t = start_demo(); // max_body_bytes = 4096
    let big = vec![b'x'; 5000];
    // Declared too large: refused before anything else, token or not.
    let r = t.post("/api/sync", Some(ADMIN_TOKEN), &big);
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("4096"));
    assert_eq!(t.post("/api/sync", None, &big).status, 413);
    assert_eq!(t.post("/", None, &big).status, 413);
    // Chunked, so no Content-Length to check: the read itself stops at the limit.
    let mut chunked = String::new();
    for _ in 0..5 {
        chunked.push_str(&format!("3e8\r\n{}\r\n", "y".repeat(1000)));
    }
    chunked.push_str("0\r\n\r\n");
    let req = format!(
        "POST /api/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunked}"
    );
    let resp = raw(t.addr, req.as_bytes(), Duration::from_secs(10));
    assert_eq!(raw_status(&resp), Some(413), "{resp}");
    // Under the limit is fine.
    let r = t.post("/api/sync", Some(ADMIN_TOKEN), &vec![b'z'; 3000]);
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(t.get("/health").status, 200);
    t.stop();
}

/// tiny_http threw an unread body away by allocating a buffer of the declared
/// length; a huge Content-Length made that allocation abort the process. Now
/// such a request is refused (413, or 431/400 from the parser for a length it
/// cannot even represent) without reading the body.
#[test]
fn absurd_content_length_does_not_abort_the_service() {
    let t = start_demo();
    for len in ["99999999999999", "18446744073709551615", "4000000000"] {
        let mut s = TcpStream::connect(t.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "POST /api/sync HTTP/1.1\r\nHost: x\r\nContent-Length: {len}\r\n\r\nabc"
        )
        .unwrap();
        let mut buf = [0u8; 512];
        let n = std::io::Read::read(&mut s, &mut buf).unwrap_or(0);
        let head = String::from_utf8_lossy(&buf[..n]).to_string();
        let status = raw_status(&head);
        if len == "18446744073709551615" {
            assert!(
                status.is_some_and(|s| (400..500).contains(&s)),
                "{len}: {head}"
            );
        } else {
            assert_eq!(status, Some(413), "{len}: {head}");
        }
        drop(s);
        let r = t.get("/health");
        assert_eq!(r.status, 200, "the service is still up after {len}");
    }
    t.stop();
}

#[test]
fn garbage_requests_get_4xx_and_the_service_survives() {
    let t = start_demo();
    let timeout = Duration::from_secs(5);
    for junk in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ] {
        let resp = raw(t.addr, junk, timeout);
        let status = raw_status(&resp);
        assert!(
            status.is_some_and(|s| (400..500).contains(&s)),
            "{:?} → {resp:?}",
            String::from_utf8_lossy(junk)
        );
    }
    // Not even ASCII, or cut off: whatever the answer, the service stays up.
    for junk in [
        &b"\x00\xff\xfe\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"[..],
        b"GET /health HTTP/1.1\r\nX: \xc3\xa9\r\n\r\n",
        b"GET /hea",
    ] {
        let _ = raw(t.addr, junk, Duration::from_millis(500));
    }
    let r = t.get("/health");
    assert_eq!(r.status, 200);
    let r = t.get("/api/submissions?limit=1");
    assert_eq!(r.status, 200);
    t.stop();
}

#[test]
fn slow_clients_do_not_block_other_requests() {
    let t = start_demo(); // two workers
    let mut stalled = Vec::new();
    // More stalled clients than workers: half a request head each...
    for _ in 0..4 {
        let mut s = TcpStream::connect(t.addr).unwrap();
        s.write_all(b"GET /api/reviewers HTTP/1.1\r\nHost: x\r\nUser-Agent: slo")
            .unwrap();
        stalled.push(s);
    }
    // ...and a whole head with a body that stops half way (the request
    // reaches a worker, which must not wait for the rest of the body).
    for _ in 0..4 {
        let mut s = TcpStream::connect(t.addr).unwrap();
        s.write_all(b"GET /api/reviewers HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\n")
            .unwrap();
        s.write_all(&[b'a'; 1500]).unwrap();
        stalled.push(s);
    }
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    for path in ["/health", "/api/submissions", "/", "/metrics", "/api/sync"] {
        for _ in 0..3 {
            assert_eq!(t.get(path).status, 200, "{path}");
        }
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "15 requests took {took:?}");
    let took = t.stop();
    assert!(
        took < Duration::from_secs(3),
        "stalled clients delay stop: {took:?}"
    );
    drop(stalled);
}

#[test]
fn metrics_pass_promtool_and_label_routes_by_template() {
    let t = start_demo();
    for path in [
        "/api/submissions/1",
        "/api/submissions/2",
        "/api/submissions/99999",
        "/nope/123",
        "/health",
    ] {
        t.get(path);
    }
    let r = t.get("/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    let text = r.body;
    for line in [
        r#"ojscog_http_requests_total{route="/api/submissions/{id}",status="200"} 2"#,
        r#"ojscog_http_requests_total{route="/api/submissions/{id}",status="404"} 1"#,
        r#"ojscog_http_requests_total{route="other",status="404"} 1"#,
        r#"ojscog_http_requests_total{route="/health",status="200"} 1"#,
        r#"ojscog_http_request_duration_seconds_count{route="/api/submissions/{id}"} 3"#,
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    assert!(!text.contains("route=\"/api/submissions/1\""), "{text}");
    assert!(!text.contains("/nope"), "no raw paths as labels: {text}");

    // Gauges are refreshed when scraped and agree with the store.
    let q = t.store().queue_summary().unwrap();
    for (stage, n) in &q.pending_by_stage {
        let line = format!("ojscog_submissions_pending{{stage=\"{stage}\"}} {n}\n");
        assert!(text.contains(&line), "missing `{line}` in:\n{text}");
    }
    assert!(
        text.contains(&format!("ojscog_reviews_overdue {}\n", q.reviews_overdue)),
        "{text}"
    );
    assert!(text.contains("ojscog_memory_total_bytes "), "{text}");

    // The exposition format is valid for Prometheus itself.
    crate::support::web::promtool_check(&text);
    t.stop();
}

#[test]
fn health_is_ok_in_demo_mode() {
    let t = start_demo();
    let r = t.get("/health");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(v["checks"]["store"]["status"], "ok");
    assert_eq!(v["checks"]["sync"]["status"], "ok");
    assert_eq!(v["checks"]["sync"]["source"], "demo");
    assert!(v["checks"]["sync"]["note"].as_str().is_some(), "{v}");
    assert!(v["checks"]["disk"]["status"].as_str().is_some(), "{v}");
    assert_eq!(
        v["checks"]["store"]["submissions"].as_i64().unwrap(),
        count(&t.store(), "SELECT COUNT(*) FROM submissions")
    );
    t.stop();
}

#[test]
fn store_that_disappears_gives_503_not_a_crash() {
    let t = start_demo();
    // Else the sampler, opening the store late, would create a fresh one.
    t.wait_for_first_sample();
    // Likewise the indexer's first pass, which writes vectors.
    t.wait_for_index();
    let path = t.service().ctx.store_path.clone();
    let moved = path.with_extension("moved");
    std::fs::rename(&path, &moved).unwrap();
    for ext in ["sqlite3-wal", "sqlite3-shm"] {
        let _ = std::fs::remove_file(path.with_extension(ext));
    }
    for p in ["/api/submissions", "/api/submissions/1", "/api/reviewers"] {
        let r = t.get(p);
        assert_eq!(r.status, 503, "{p}: {}", r.body);
        assert!(r.json()["error"].as_str().unwrap().contains("store"));
    }
    let h = t.get("/health");
    assert_eq!(h.status, 503, "{}", h.body);
    assert_eq!(h.json()["status"], "down");
    assert_eq!(h.json()["checks"]["store"]["status"], "down");
    let page = t.get("/");
    assert_eq!(
        page.status,
        503,
        "{}",
        &page.body[page.body.len().saturating_sub(3000)..]
    );
    assert!(page.body.contains("cannot be read"), "{}", page.body);
    assert_eq!(t.get("/metrics").status, 200, "metrics still answer");
    // Back in place: back to normal.
    std::fs::rename(&moved, &path).unwrap();
    assert_eq!(t.get("/api/submissions").status, 200);
    t.stop();
}

#[test]
fn stop_returns_promptly_with_idle_connections_open() {
    let t = start_demo();
    assert_eq!(t.get("/health").status, 200);
    // A keep-alive connection that stays idle, and one that never speaks.
    let mut idle = TcpStream::connect(t.addr).unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let silent = TcpStream::connect(t.addr).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let took = t.stop();
    assert!(took < Duration::from_secs(2), "stop took {took:?}");
    drop((idle, silent));
}
