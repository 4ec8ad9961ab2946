//! The editors' pages in a real browser: headless Chromium driven through
//! chromedriver (`support::browser`), against the real service on the demo
//! journal. What an editor does — click from the status page to a
//! submission, search, sign in and out — plus what must never work (a form
//! posted from another site), keyboard navigation, a phone-sized screen, and
//! axe-core on every page (no serious or critical violation). Screenshots go
//! to `<target>/artifacts/screenshots/`.

use crate::support::browser::{Browser, ENTER, TAB};
use crate::support::web::{start_demo, TestService, ADMIN_TOKEN, READ_TOKEN};
use std::io::{Read, Write};
use std::time::Duration;

const LOAD: Duration = Duration::from_secs(30);

/// Signs in through the real sign-in form (a POST) with `token`.
fn sign_in(b: &Browser, t: &TestService, token: &str) {
    b.goto(&t.url("/"));
    assert!(
        b.exists("#token"),
        "the sign-in form at {}",
        b.current_url()
    );
    b.type_into("#token", token);
    b.submit_form("form[action='/signin'] button[type=submit]");
    assert!(
        b.wait_for("#pending-total", LOAD),
        "signed in: the status page, not {}: {}",
        b.current_url(),
        b.text("body")
    );
}

fn wait(b: &Browser, css: &str) {
    assert!(
        b.wait_for(css, LOAD),
        "no {css} at {}: {}",
        b.current_url(),
        b.text("body")
    );
}

#[test]
fn an_editor_clicks_from_the_status_page_to_a_submission_and_sees_the_suggestions_and_the_excluded_reviewer(
) {
    let t = start_demo();
    t.wait_for_index();
    let b = Browser::start();
    sign_in(&b, &t, READ_TOKEN);
    // The first submission waiting longest, from the status page.
    let first = b
        .attr("#oldest-pending a[href^='/submissions/']", "href")
        .expect("the status page links its submissions");
    b.click("#oldest-pending a[href^='/submissions/']");
    wait(&b, "#submission-title");
    assert!(b.current_url().ends_with(&first), "{}", b.current_url());
    assert!(b.exists("#suggestions") && b.exists("#screening") && b.exists("#similar"));
    // Through the navigation to #6, co-written by one of the journal's reviewers.
    b.click("nav a[href='/submissions']");
    wait(&b, "#submissions");
    b.click("#submissions a[href='/submissions/6']");
    wait(&b, "#suggestions .suggestion");
    assert!(
        !b.text("#suggestions ol.suggestions")
            .contains("Daniel Whitfield"),
        "an author is never suggested"
    );
    let n = b.texts("#suggestions .suggestion").len();
    assert!((1..=5).contains(&n), "{n} suggestions");
    // The excluded reviewers are folded: unfold them.
    assert!(b.text("#excluded").contains("excluded reviewer"));
    b.click("#excluded summary");
    let excluded = b.text("#excluded ul.excluded");
    assert!(
        excluded.contains("Daniel Whitfield: is an author of this submission"),
        "{excluded}"
    );
    assert!(
        excluded.contains("declined to review this submission"),
        "{excluded}"
    );
    b.screenshot("pages-submission-6");
    b.axe().assert_no_serious("/submissions/6");
    // A suggested reviewer's page is one click away.
    b.click("#suggestions .suggestion a");
    wait(&b, "#reviewer-name");
    assert!(b.exists("#recent-reviews"));
}

#[test]
fn an_editor_searches_from_the_header_and_opens_a_result() {
    let t = start_demo();
    t.wait_for_index();
    let b = Browser::start();
    sign_in(&b, &t, READ_TOKEN);
    b.type_into("#q", "kelp forests");
    b.press(ENTER);
    wait(&b, "#search-results");
    assert!(
        b.current_url().contains("/search?q=kelp"),
        "{}",
        b.current_url()
    );
    let marks = b.texts("#search-results mark");
    assert!(
        marks.iter().any(|m| m.eq_ignore_ascii_case("kelp")),
        "{marks:?}"
    );
    b.screenshot("pages-search");
    b.axe().assert_no_serious("/search?q=kelp forests");
    let title = b.text(".hit a");
    b.click(".hit a");
    wait(&b, "main h1");
    assert_eq!(b.text("main h1"), title, "the result's own page");
}

#[test]
fn signing_out_ends_the_session_in_the_browser() {
    let t = start_demo();
    let b = Browser::start();
    sign_in(&b, &t, READ_TOKEN);
    assert!(b.text("#signed-in-as").contains("read"));
    b.click("form[action='/signout'] button");
    wait(&b, "#token");
    b.goto(&t.url("/reviewers"));
    wait(&b, "#token");
    assert!(
        b.current_url().contains("/signin?next=/reviewers"),
        "{}",
        b.current_url()
    );
}

/// A page of another site (another host name and port) with a form that posts
/// to the box, as a malicious page an editor visits would.
fn serve_other_site(target: String) -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let page = format!(
        "<!doctype html><title>other site</title><form method=post action=\"{target}\"><button id=go>Win a prize</button></form>"
    );
    let handle = std::thread::spawn(move || {
        // Enough connections for the page and a favicon, then stop.
        for stream in listener.incoming().take(2) {
            let Ok(mut s) = stream else { return };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    (format!("http://localhost:{port}/"), handle)
}

#[test]
fn a_form_posted_from_another_site_is_refused_even_for_a_signed_in_admin() {
    let t = start_demo();
    let b = Browser::start();
    sign_in(&b, &t, ADMIN_TOKEN);
    let (other, server) = serve_other_site(t.url("/submissions/3/screening"));
    b.goto(&other);
    b.click("#go");
    wait(&b, "body");
    let body = b.text("body");
    assert!(
        body.contains("cross-site request refused"),
        "the box did not act on another site's form: {body}"
    );
    assert!(!body.contains("being made"), "{body}");
    b.screenshot("pages-cross-site-refused");
    drop(server);
    assert_eq!(
        t.service().ctx.screening_jobs.state(3),
        None,
        "no screening job was started"
    );
}

#[cfg(feature = "llm")]
#[test]
fn an_admin_makes_a_screening_report_from_the_page_and_watches_it_arrive() {
    let t = start_demo();
    let b = Browser::start();
    sign_in(&b, &t, ADMIN_TOKEN);
    b.goto(&t.url("/submissions/3"));
    wait(&b, "#make-screening");
    b.axe().assert_no_serious("/submissions/3 (admin)");
    b.click("#make-screening");
    assert!(
        b.current_url().contains("/submissions/3?follow=1"),
        "{}",
        b.current_url()
    );
    // While the model works the page says so and reloads itself (a meta
    // refresh); the test reloads it too, so that a slow machine or a browser
    // that throttles refreshes cannot stall it.
    if b.exists("#screening-progress") {
        assert!(
            b.exists("meta[http-equiv='refresh']"),
            "{}",
            b.page_source()
        );
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(400);
    while !b.exists("#screening-summary") {
        assert!(
            !b.exists("#screening-failed"),
            "the job failed: {}",
            b.text("#screening")
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no report within 400 s: {}",
            b.text("#screening")
        );
        std::thread::sleep(Duration::from_secs(2));
        b.goto(&t.url("/submissions/3?follow=1"));
    }
    assert!(!b.text("#screening-summary").trim().is_empty());
    b.screenshot("pages-screening-report");
    b.axe().assert_no_serious("/submissions/3 with its report");
}

/// Every page, at a desktop and a phone width: axe finds nothing serious, and
/// nothing is wider than the phone.
#[test]
fn every_page_passes_axe_and_fits_a_phone() {
    let t = start_demo();
    t.wait_for_index();
    let reviewer = t.store().reviewers().unwrap()[0].id;
    let pages = [
        ("status", "/".to_string()),
        ("submissions", "/submissions".to_string()),
        ("submission", "/submissions/6".to_string()),
        ("reviewers", "/reviewers".to_string()),
        ("reviewer", format!("/reviewers/{reviewer}")),
        ("search", "/search?q=coral+reef".to_string()),
        ("search-empty", "/search?q=".to_string()),
        ("not-found", "/submissions/999".to_string()),
    ];
    for (width, height, label) in [(1280, 900, "desktop"), (390, 844, "phone")] {
        let b = Browser::start_with_size(width, height);
        b.goto(&t.url("/signin"));
        b.axe().assert_no_serious("/signin");
        sign_in(&b, &t, READ_TOKEN);
        for (name, path) in &pages {
            b.goto(&t.url(path));
            wait(&b, "main");
            b.axe().assert_no_serious(&format!("{path} ({label})"));
            let wide = b.execute("return document.documentElement.scrollWidth;", vec![]);
            let wide = wide.as_u64().unwrap_or(0);
            assert!(
                wide <= width as u64,
                "{path} is {wide} px wide on a {width} px {label} screen"
            );
            b.screenshot(&format!("pages-{name}-{label}"));
        }
    }
}

/// A reader whose system is in dark mode gets dark pages (the colours follow `prefers-color-scheme`), and they
/// still pass axe (contrast included).
#[test]
fn pages_follow_the_reader_s_dark_colour_scheme_and_stay_readable() {
    let t = start_demo();
    t.wait_for_index();
    let b = Browser::start();
    b.prefer_dark();
    b.goto(&t.url("/signin"));
    b.axe().assert_no_serious("/signin (dark)");
    sign_in(&b, &t, READ_TOKEN);
    let luminance = |css: &str, prop: &str| -> f64 {
        let v = b.execute(
            "const c = getComputedStyle(document.querySelector(arguments[0]))[arguments[1]].match(/[0-9.]+/g).map(Number);\
             return (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]) / 255;",
            vec![css.into(), prop.into()],
        );
        v.as_f64()
            .unwrap_or_else(|| panic!("no colour for {css} {prop}: {v}"))
    };
    for path in [
        "/",
        "/submissions",
        "/submissions/6",
        "/reviewers",
        "/search?q=coral+reef",
    ] {
        b.goto(&t.url(path));
        wait(&b, "main");
        let (bg, ink) = (
            luminance("body", "backgroundColor"),
            luminance("body", "color"),
        );
        assert!(
            bg < 0.2 && ink > 0.7,
            "{path}: background {bg:.2}, text {ink:.2} in dark mode"
        );
        assert!(
            luminance(".card", "backgroundColor") < 0.25,
            "{path}: a light card in dark mode"
        );
        b.axe().assert_no_serious(&format!("{path} (dark)"));
        b.screenshot(&format!(
            "pages-dark{}",
            path.replace(['/', '?', '=', '+'], "-")
        ));
    }
}

/// Tab presses until `css` has the focus (at most `max`).
fn tab_to(b: &Browser, css: &str, max: usize) {
    for _ in 0..max {
        b.press(TAB);
        let focused = b.execute(
            "return document.activeElement.matches(arguments[0]);",
            vec![css.into()],
        );
        if focused.as_bool() == Some(true) {
            return;
        }
    }
    panic!("{css} not reached with {max} Tab presses");
}

#[test]
fn the_keyboard_alone_reaches_search_and_a_result() {
    let t = start_demo();
    t.wait_for_index();
    let b = Browser::start();
    sign_in(&b, &t, READ_TOKEN);
    // The first stop is the skip link, and it is visible when focused.
    b.press(TAB);
    assert!(
        b.active_element_outer_html().contains("Skip to content"),
        "{}",
        b.active_element_outer_html()
    );
    tab_to(&b, "#q", 15);
    b.press("coral reefs");
    b.press(ENTER);
    wait(&b, "#search-results");
    tab_to(&b, ".hit a", 25);
    let href = b.execute(
        "return document.activeElement.getAttribute('href');",
        vec![],
    );
    b.press(ENTER);
    wait(&b, "main h1");
    assert!(
        b.current_url().ends_with(href.as_str().unwrap()),
        "{} vs {href}",
        b.current_url()
    );
}
