//! Self-checks of the real-browser harness (`support::browser`): headless
//! Chromium under chromedriver signs in to the real service, reads the status
//! page, types, clicks, presses keys, takes screenshots, and axe-core runs in
//! the page despite its `default-src 'none'` CSP.

use crate::support::browser::{Browser, ENTER, SHIFT, TAB};
use crate::support::web::{start_demo, TestService, READ_TOKEN};
use std::time::{Duration, Instant};

const LOAD: Duration = Duration::from_secs(30);

/// Signs in through the sign-in link (what `serve --demo` prints) and opens `/`.
fn sign_in_and_open_status_page(b: &Browser, t: &TestService) {
    b.goto(&t.url(&format!("/signin?token={READ_TOKEN}")));
    b.goto(&t.url("/"));
    expect_status_page(b, "signed in with the link");
}

/// Waits for the status page (its `#pending-total`); panics with where the browser is instead.
fn expect_status_page(b: &Browser, what: &str) {
    assert!(
        b.wait_for("#pending-total", LOAD),
        "{what}: no status page (#pending-total) within {LOAD:?}; at {}:\n{}",
        b.current_url(),
        b.text("body")
    );
}

fn viewport(b: &Browser) -> (u64, u64) {
    let v = b.execute("return [window.innerWidth, window.innerHeight];", vec![]);
    (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())
}

#[test]
fn the_browser_harness_signs_in_and_reads_the_status_page() {
    let t = start_demo();
    let b = Browser::start();
    sign_in_and_open_status_page(&b, &t);

    assert_eq!(
        b.current_url(),
        t.url("/"),
        "signed in and on the status page"
    );
    assert!(!b.title().trim().is_empty(), "the status page has a title");
    assert_eq!(viewport(&b), (1280, 900), "a desktop viewport");
    assert!(
        !b.text("#pending-total").trim().is_empty(),
        "the pending total is shown"
    );
    assert!(
        b.page_source().contains("pending-total"),
        "the page source is the DOM"
    );
    assert!(
        !b.texts("a, button").is_empty(),
        "the status page has links or buttons"
    );
    assert!(!b.exists("#no-such-element-here"));
    assert!(!b.wait_for("#no-such-element-here", Duration::from_millis(200)));
    assert_eq!(
        b.execute_async(
            "const done = arguments[arguments.length - 1]; setTimeout(() => done(arguments[0] + 1), 10);",
            vec![41.into()],
        ),
        serde_json::json!(42)
    );

    let png = b.screenshot("harness-status-page");
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG"), "{} is a PNG", png.display());
    println!("screenshot: {} ({} bytes)", png.display(), bytes.len());

    let started = Instant::now();
    let report = b.axe();
    println!(
        "axe on / took {:?}; {} violation(s):\n{report}",
        started.elapsed(),
        report.violations.len()
    );
    for v in &report.violations {
        assert!(!v.id.is_empty() && !v.help.is_empty(), "{v:?}");
        assert!(!v.targets.is_empty(), "{v:?} names its elements");
    }
}

#[test]
fn axe_finds_an_image_without_alt_text() {
    let t = start_demo();
    let b = Browser::start();
    // The sign-in page has the strict CSP (default-src 'none'): axe is
    // injected through WebDriver all the same.
    b.goto(&t.url("/signin"));
    assert!(b.exists("#token"), "the sign-in form");
    b.axe();

    b.execute(
        "document.body.innerHTML = '<main><h1>Test</h1><img src=\"data:,\"></main>';",
        vec![],
    );
    let report = b.axe();
    println!("{report}");
    let v = report
        .violations
        .iter()
        .find(|v| v.id == "image-alt")
        .unwrap_or_else(|| panic!("axe did not report image-alt: {report:?}"));
    assert_eq!(v.impact, "critical", "{v:?}");
    assert_eq!(v.targets, ["img"], "{v:?}");

    println!("(a panic message from assert_no_serious is expected here)");
    let failed = std::panic::catch_unwind(|| report.assert_no_serious("the test page"))
        .expect_err("a critical violation fails the assertion");
    let message = failed.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("image-alt")
            && message.contains("the test page")
            && message.contains("img"),
        "{message}"
    );
}

/// The sign-in page with its form turned into a GET: what it submits is then
/// the sign-in link (`/signin?token=…&next=…`), a navigation that no Origin
/// check stands in the way of. The harness's typing and submitting are tested
/// with it; the real (POST) form has its own test below.
fn open_sign_in_form_as_get(b: &Browser, t: &TestService) {
    b.goto(&t.url("/"));
    assert!(
        b.exists("form[action='/signin'] #token"),
        "anonymous: the sign-in form, at {}",
        b.current_url()
    );
    b.execute(
        "document.querySelector(\"form[action='/signin']\").method = 'get';",
        vec![],
    );
}

#[test]
fn tab_moves_the_focus_to_a_link_or_button_on_the_status_page() {
    let t = start_demo();
    let b = Browser::start();
    open_sign_in_form_as_get(&b, &t);
    b.type_into("#token", READ_TOKEN);
    b.press(ENTER);
    expect_status_page(&b, "signed in with Enter");

    b.press(TAB);
    let first = b.active_element_outer_html();
    println!("first Tab stop: {first}");
    assert!(
        first.starts_with("<a") || first.starts_with("<button"),
        "Tab on / focuses a link or button, not {first}"
    );
    b.press(TAB);
    let second = b.active_element_outer_html();
    println!("second Tab stop: {second}");
    assert_ne!(second, first, "a second Tab moves on");
    b.press(&format!("{SHIFT}{TAB}"));
    assert_eq!(b.active_element_outer_html(), first, "Shift+Tab goes back");
}

#[test]
fn a_phone_signs_in_through_a_form_and_out_again() {
    let t = start_demo();
    let b = Browser::start_with_size(390, 844);
    open_sign_in_form_as_get(&b, &t);
    assert!(
        b.current_url().contains("/signin?next="),
        "{}",
        b.current_url()
    );
    // Measured on the sign-in page, which fits: a page wider than the phone
    // widens the layout viewport (as a phone zooms out to show it all).
    assert_eq!(viewport(&b), (390, 844), "a phone viewport");
    assert_eq!(b.attr("#token", "type").as_deref(), Some("password"));
    assert_eq!(b.attr("#token", "no-such-attribute"), None);
    // type_into clears first: only the second token is sent.
    b.type_into("#token", "a wrong token");
    b.type_into("#token", READ_TOKEN);
    b.submit_form("form[action='/signin'] button[type=submit]");
    expect_status_page(&b, "signed in on the phone");
    let png = b.screenshot("harness-status-page-phone");
    println!("screenshot: {}", png.display());

    b.delete_cookies();
    b.goto(&t.url("/"));
    assert!(b.exists("#token"), "signed out: the sign-in form again");
}

/// The sign-in form as it is (a POST), typed into and submitted in a real browser.
#[test]
fn the_sign_in_form_signs_in_from_a_real_browser() {
    let t = start_demo();
    let b = Browser::start();
    b.goto(&t.url("/"));
    b.type_into("#token", READ_TOKEN);
    b.submit_form("form[action='/signin'] button[type=submit]");
    expect_status_page(&b, "signed in through the sign-in form");
}

#[test]
fn clicking_a_link_follows_it() {
    let t = start_demo();
    let b = Browser::start();
    sign_in_and_open_status_page(&b, &t);
    // Signed in, the sign-in page says so and links on.
    b.goto(&t.url("/signin"));
    assert!(
        b.text("main").contains("You are signed in"),
        "{}",
        b.page_source()
    );
    b.click("main a[href='/']");
    expect_status_page(&b, "the link led to the status page");
    assert_eq!(b.current_url(), t.url("/"));
}
