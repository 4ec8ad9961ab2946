//! The access model over real HTTP: sign-in, sessions, the Host allowlist,
//! the Origin check, failed sign-ins limited, and what stays open.

use crate::support::web;

use ojscog::config::Access;
use std::time::Duration;
use web::*;

/// The session cookie's `name=value` from a Set-Cookie header.
fn cookie_of(r: &Reply) -> String {
    let set = r.header("Set-Cookie").expect("a Set-Cookie header");
    set.split(';').next().unwrap().trim().to_string()
}

#[test]
fn confidential_routes_need_a_token_and_only_health_and_metrics_stay_open() {
    let t = start_demo();
    for path in [
        "/api/submissions",
        "/api/submissions/1",
        "/api/reviewers",
        "/api/sync",
        "/api/search?q=seagrass",
        "/api/submissions/3/reviewers",
        "/api/submissions/3/assessment",
    ] {
        let r = t.get_anon(path);
        assert_eq!(r.status, 401, "{path}: {}", r.body);
        assert!(r.header("WWW-Authenticate").is_some(), "{path}");
        assert!(!r.body.contains('@'), "{path} leaks an email: {}", r.body);
    }
    // A browser asking for the page is sent to the sign-in form.
    let r = t.get_with("/?x=1", &[("Accept", "text/html")]);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("Location"), Some("/signin?next=/%3Fx%3D1"));
    // /health says only ok/degraded/down without credentials, all with them.
    let open = t.get_anon("/health").json();
    assert_eq!(open.as_object().unwrap().len(), 1, "{open}");
    assert_eq!(open["status"], "ok");
    let full = t.get("/health").json();
    assert!(full["checks"]["sync"].is_object(), "{full}");
    assert_eq!(t.get_anon("/metrics").status, 200);
    // The read token opens the API; a wrong one is refused.
    assert_eq!(t.get("/api/reviewers").status, 200);
    let wrong = t.get_with(
        "/api/reviewers",
        &[("Authorization", "Bearer not-the-token-000000")],
    );
    assert_eq!(wrong.status, 401);
    t.stop();
}

#[test]
fn sign_in_form_sets_a_strict_httponly_session_that_sign_out_ends() {
    let t = start_demo();
    let form = t.get_anon("/signin?next=/api/reviewers");
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"token\""), "{}", form.body);
    assert!(form
        .header("Content-Security-Policy")
        .unwrap()
        .contains("form-action 'self'"));

    let bad = call(
        agent()
            .post(&t.url("/signin"))
            .set("Content-Type", "application/x-www-form-urlencoded"),
        Some(b"token=wrong-token-00000000&next=/"),
    );
    assert_eq!(bad.status, 401);
    assert!(bad.header("Set-Cookie").is_none());

    let ok = call(
        agent()
            .post(&t.url("/signin"))
            .set("Content-Type", "application/x-www-form-urlencoded"),
        Some(format!("token={READ_TOKEN}&next=%2Fapi%2Freviewers").as_bytes()),
    );
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(ok.header("Location"), Some("/api/reviewers"));
    let set = ok.header("Set-Cookie").unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(set.contains(attr), "{attr} missing: {set}");
    }
    let cookie = cookie_of(&ok);
    let id = cookie.split_once('=').unwrap().1.to_string();
    // The store keeps only a hash of the session id.
    let stored: i64 = {
        let s = t.store();
        let _ = s.session_count(0).unwrap();
        s.session_count(0).unwrap()
    };
    assert_eq!(stored, 1);
    let db = std::fs::read(&t.service().ctx.store_path).unwrap();
    assert!(
        !db.windows(id.len()).any(|w| w == id.as_bytes()),
        "the raw session id is not in the store file"
    );

    let with = t.get_with("/api/reviewers", &[("Cookie", &cookie)]);
    assert_eq!(with.status, 200);
    let page = t.get_with("/", &[("Cookie", &cookie), ("Accept", "text/html")]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"signed-in-as\""), "{}", page.body);
    assert!(page.body.contains("action=\"/signout\""));

    let out = call(
        agent().post(&t.url("/signout")).set("Cookie", &cookie),
        Some(b""),
    );
    assert_eq!(out.status, 303);
    assert!(out.header("Set-Cookie").unwrap().contains("Max-Age=0"));
    let after = t.get_with("/api/reviewers", &[("Cookie", &cookie)]);
    assert_eq!(after.status, 401, "the session ended on the server too");
    t.stop();
}

#[test]
fn a_sign_in_link_sets_the_cookie_and_leaves_the_token_behind() {
    let t = start_demo();
    let r = t.get_anon(&format!("/signin?token={READ_TOKEN}"));
    assert_eq!(r.status, 200);
    assert!(r.body.contains("http-equiv=\"refresh\""), "{}", r.body);
    assert!(!r.body.contains(READ_TOKEN), "the token is not echoed");
    let cookie = cookie_of(&r);
    assert_eq!(t.get_with("/api/sync", &[("Cookie", &cookie)]).status, 200);
    // The admin token signs in as admin: POST /api/sync with the session works.
    let admin = t.get_anon(&format!("/signin?token={ADMIN_TOKEN}"));
    let admin_cookie = cookie_of(&admin);
    let post = call(
        agent()
            .post(&t.url("/api/sync"))
            .set("Cookie", &admin_cookie),
        Some(b""),
    );
    assert_eq!(
        post.status, 409,
        "demo has no OJS, but the call was allowed: {}",
        post.body
    );
    // The read session may not.
    let post = call(
        agent().post(&t.url("/api/sync")).set("Cookie", &cookie),
        Some(b""),
    );
    assert_eq!(post.status, 403, "{}", post.body);
    t.stop();
}

#[test]
fn failed_sign_ins_are_limited_per_client() {
    let t = start_demo();
    let mut statuses = Vec::new();
    for i in 0..12 {
        let r = t.get_anon(&format!("/signin?token=wrong-{i:020}"));
        statuses.push(r.status);
    }
    assert_eq!(&statuses[..10], &[401; 10], "{statuses:?}");
    assert_eq!(&statuses[10..], &[429; 2], "{statuses:?}");
    // Even the right token waits now, and so does a Bearer header.
    let r = t.get_anon(&format!("/signin?token={READ_TOKEN}"));
    assert_eq!(r.status, 429);
    assert!(r.header("Retry-After").is_some());
    assert_eq!(t.get("/api/sync").status, 429);
    // Requests without credentials are not failures and still get their answer.
    assert_eq!(t.get_anon("/health").status, 200);
    t.stop();
}

#[test]
fn other_host_names_are_refused_so_dns_rebinding_reads_nothing() {
    let t = start_with(
        |c| c.web.allowed_hosts = vec!["ojscog.office.example".into()],
        true,
    );
    let port = t.addr.port();
    for host in [
        "evil.example",
        "evil.example:8080",
        "127.0.0.1.evil.example",
    ] {
        let r = t.get_with(
            "/api/reviewers",
            &[
                ("Host", host),
                ("Authorization", &format!("Bearer {READ_TOKEN}")),
            ],
        );
        assert_eq!(r.status, 421, "{host}: {}", r.body);
        let r = t.get_with("/health", &[("Host", host)]);
        assert_eq!(r.status, 421, "{host}");
    }
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "ojscog.office.example".to_string(),
        format!("OJSCOG.office.example:{port}"),
    ] {
        let r = t.get_with("/health", &[("Host", &host)]);
        assert_eq!(r.status, 200, "{host}: {}", r.body);
    }
    // HTTP/1.1 without a Host header is malformed.
    let resp = raw(
        t.addr,
        b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    assert_eq!(raw_status(&resp), Some(400), "{resp}");
    t.stop();
}

#[test]
fn cross_site_posts_are_refused() {
    let t = start_demo();
    let post = |headers: &[(&str, &str)]| {
        let mut req = agent()
            .post(&t.url("/api/sync"))
            .set("Authorization", &format!("Bearer {ADMIN_TOKEN}"));
        for (k, v) in headers {
            req = req.set(k, v);
        }
        call(req, Some(b""))
    };
    assert_eq!(post(&[("Origin", "http://evil.example")]).status, 403);
    assert_eq!(post(&[("Origin", "null")]).status, 403);
    assert_eq!(post(&[("Sec-Fetch-Site", "cross-site")]).status, 403);
    let same = format!("http://{}", t.addr);
    assert_eq!(
        post(&[("Origin", &same)]).status,
        409,
        "same origin is fine"
    );
    assert_eq!(post(&[("Sec-Fetch-Site", "same-origin")]).status, 409);
    assert_eq!(post(&[]).status, 409, "non-browser clients send neither");
    // Signing in from another site's form is refused too (login CSRF).
    let r = call(
        agent()
            .post(&t.url("/signin"))
            .set("Origin", "http://evil.example"),
        Some(format!("token={READ_TOKEN}").as_bytes()),
    );
    assert_eq!(r.status, 403);
    t.stop();
}

#[test]
fn lan_access_opens_reading_but_not_admin_calls() {
    let t = start_with(|c| c.web.access = Access::Lan, true);
    assert_eq!(t.get_anon("/api/reviewers").status, 200);
    assert_eq!(t.get_with("/", &[("Accept", "text/html")]).status, 200);
    assert!(t.get_anon("/health").json()["checks"].is_object());
    assert_eq!(t.post("/api/sync", None, b"").status, 401);
    assert_eq!(t.post("/api/sync", Some(ADMIN_TOKEN), b"").status, 409);
    t.stop();
}

#[test]
fn a_read_token_is_made_when_none_is_configured_and_the_link_signs_in() {
    let t = start_with(|c| c.web.read_token = String::new(), true);
    let url = t.service().sign_in_url().expect("a sign-in link");
    assert!(url.contains("/signin?token="), "{url}");
    let r = call(agent().get(&url), None);
    assert_eq!(r.status, 200);
    let cookie = cookie_of(&r);
    assert_eq!(
        t.get_with("/api/reviewers", &[("Cookie", &cookie)]).status,
        200
    );
    // A configured token is never printed.
    let t2 = start_demo();
    assert!(t2.service().sign_in_url().is_none());
    t.stop();
    t2.stop();
}
