//! The editors' pages over plain HTTP, on the demo journal: what each page
//! shows, its errors as pages, who may see and do what. (The same pages in a
//! real browser, with accessibility checks: `web_pages_browser.rs`.)

use crate::support::{grow, web};
use web::*;

fn html(t: &TestService, path: &str) -> Reply {
    t.get_with(
        path,
        &[
            ("Authorization", &format!("Bearer {READ_TOKEN}")),
            ("Accept", "text/html"),
        ],
    )
}

/// The text after `start` up to the next `end`.
fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let at = s
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in the page"));
    let rest = &s[at + start.len()..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

#[test]
fn every_submission_on_the_status_page_links_to_its_page() {
    let t = start_demo();
    let page = html(&t, "/").body;
    let q = t.store().queue_summary().unwrap();
    assert!(!q.oldest_pending.is_empty());
    for s in &q.oldest_pending {
        let link = format!("href=\"/submissions/{}\"", s.id);
        assert!(page.contains(&link), "#{} is not linked from /", s.id);
        let r = html(&t, &format!("/submissions/{}", s.id));
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.content_type.starts_with("text/html"));
        assert!(r
            .header("Content-Security-Policy")
            .is_some_and(|c| c.contains("default-src 'none'")));
        assert!(
            r.body.contains(&ojscog_escape(&s.title)),
            "#{} shows its title",
            s.id
        );
    }
    t.stop();
}

fn ojscog_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[test]
fn a_submission_page_shows_authors_reviews_suggestions_and_the_excluded_reviewer_with_the_conflict()
{
    let t = start_demo();
    t.wait_for_index();
    // #6 is co-written by a reviewer (Daniel Whitfield), and another declined it.
    let p = html(&t, "/submissions/6");
    assert_eq!(p.status, 200, "{}", p.body);
    let d = t.store().submission(6).unwrap().unwrap();
    for a in &d.author_details {
        assert!(
            p.body.contains(&ojscog_escape(&a.family_name)),
            "author {}",
            a.family_name
        );
        if !a.affiliation.is_empty() {
            assert!(
                p.body.contains(&ojscog_escape(&a.affiliation)),
                "affiliation {}",
                a.affiliation
            );
        }
    }
    for k in &d.summary.keywords {
        assert!(p.body.contains(&ojscog_escape(k)), "keyword {k}");
    }
    let suggestions = between(&p.body, "id=\"suggestions\"", "</section>");
    let ranked = between(suggestions, "<ol class=\"suggestions\">", "</ol>");
    assert!(
        ranked.matches("class=\"suggestion\"").count() >= 1,
        "{suggestions}"
    );
    assert!(
        !ranked.contains("Daniel Whitfield"),
        "an author is never suggested"
    );
    let excluded = between(suggestions, "<details id=\"excluded\">", "</details>");
    let whitfield = between(excluded, "Daniel Whitfield", "</li>");
    assert!(!whitfield.is_empty());
    assert!(
        whitfield.contains("is an author of this submission"),
        "{whitfield}"
    );
    assert!(
        excluded.contains("declined to review this submission"),
        "{excluded}"
    );
    // The review history: #1 has assignments, one of them overdue in the demo.
    let one = html(&t, "/submissions/1").body;
    let reviews = between(&one, "id=\"reviews\"", "</section>");
    let assigned = t.store().submission(1).unwrap().unwrap().review_assignments;
    assert_eq!(
        reviews.matches("class=\"assignment\"").count(),
        assigned.len()
    );
    for a in &assigned {
        assert!(
            reviews.contains(&format!("data-state=\"{}\"", a.state)),
            "{a:?}"
        );
    }
    assert!(one.contains("id=\"screening\"") && one.contains("id=\"similar\""));
    t.stop();
}

#[cfg(feature = "embeddings")]
#[test]
fn similar_submissions_come_from_the_index_without_a_model_call() {
    let t = start_demo();
    t.wait_for_index();
    let p = html(&t, "/submissions/11").body;
    let similar = between(&p, "id=\"similar\"", "</section>");
    assert!(similar.contains("<ol class=\"similar\">"), "{similar}");
    assert!(
        !similar.contains("/submissions/11\""),
        "not similar to itself"
    );
    assert!(similar.matches("<li>").count() >= 3, "{similar}");
    t.stop();
}

#[test]
fn an_unknown_id_is_a_404_page_with_a_way_back_and_a_bad_one_a_400_page() {
    let t = start_demo();
    for (path, status) in [
        ("/submissions/999", 404),
        ("/reviewers/999999", 404),
        ("/submissions/abc", 400),
        ("/reviewers/-3", 400),
        ("/submissions?page=0", 400),
        ("/reviewers?sort=shoe", 400),
        ("/submissions?color=red", 400),
    ] {
        let r = html(&t, path);
        assert_eq!(r.status, status, "{path}: {}", r.body);
        assert!(r.content_type.starts_with("text/html"), "{path} is a page");
        assert!(r.body.contains("id=\"error\""), "{path}");
        assert!(
            r.body.contains("<a href=\"/\">Back to the status page</a>"),
            "{path}"
        );
    }
    // An API client asking the same gets JSON, as everywhere.
    assert!(
        t.get("/submissions/999").body.contains("Not found")
            || t.get("/submissions/999").status == 404
    );
    t.stop();
}

#[test]
fn search_highlights_the_matched_terms_and_answers_empty_or_long_queries_kindly() {
    let t = start_demo();
    t.wait_for_index();
    let r = html(&t, "/search?q=kelp+forests");
    assert_eq!(r.status, 200, "{}", r.body);
    let hits = between(&r.body, "id=\"search-results\"", "</section>");
    assert!(hits.contains("href=\"/submissions/11\""), "{hits}");
    assert!(hits.contains("<mark>kelp</mark>"), "{hits}");
    assert!(
        r.body.contains("value=\"kelp forests\""),
        "the box keeps the query"
    );
    let empty = html(&t, "/search?q=");
    assert_eq!(empty.status, 200);
    assert!(empty.body.contains("id=\"search-empty\""));
    let long = html(&t, &format!("/search?q={}", "word+".repeat(130)));
    assert_eq!(long.status, 200);
    assert!(long.body.contains("id=\"search-too-long\""));
    let nothing = html(&t, "/search?q=zzyzx");
    assert!(
        nothing.body.contains("id=\"search-nothing\""),
        "{}",
        nothing.body
    );
    t.stop();
}

fn column(page: &str, table: &str) -> Vec<i64> {
    let body = between(page, &format!("id=\"{table}\""), "</table>");
    body.split("<td class=\"num open\" data-value=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
        .collect()
}

#[test]
fn the_reviewers_pages_sort_by_load_and_say_when_the_data_was_synced() {
    let t = start_demo();
    let busy = html(&t, "/reviewers").body;
    let open = column(&busy, "reviewers");
    assert_eq!(open.len(), t.store().reviewers().unwrap().len());
    assert!(
        open.windows(2).all(|w| w[0] >= w[1]),
        "busiest first: {open:?}"
    );
    let free = column(&html(&t, "/reviewers?sort=free").body, "reviewers");
    assert!(
        free.windows(2).all(|w| w[0] <= w[1]),
        "most room first: {free:?}"
    );
    assert!(busy.contains("id=\"synced-at\""));
    // One reviewer's page agrees with the list.
    let first = between(&busy, "<tr data-id=\"", "\"").to_string();
    let one = html(&t, &format!("/reviewers/{first}"));
    assert_eq!(one.status, 200, "{}", one.body);
    assert!(one
        .body
        .contains(&format!("id=\"reviewer-open\" data-value=\"{}\"", open[0])));
    assert!(one.body.contains("id=\"recent-reviews\"") && one.body.contains("id=\"interests\""));
    assert!(
        one.body.contains("href=\"/submissions/"),
        "recent reviews link to submissions"
    );
    t.stop();
}

#[test]
fn a_long_submissions_list_is_paged() {
    let t = start_demo();
    grow::grow(&mut t.writable_store(), 1000, 120);
    let first = html(&t, "/submissions").body;
    let total: usize = between(&first, "id=\"submissions-total\" data-value=\"", "\"")
        .parse()
        .unwrap();
    assert!(total > 120);
    let pages = total.div_ceil(50);
    assert!(first.contains(&format!("Page 1 of {pages}")), "{first}");
    assert!(first.contains("href=\"/submissions?page=2\""));
    let ids = |p: &str| -> Vec<String> {
        p.split("<tr data-id=\"")
            .skip(1)
            .map(|s| s[..s.find('"').unwrap()].to_string())
            .collect()
    };
    let second = html(&t, "/submissions?page=2").body;
    assert_eq!(ids(&first).len(), 50);
    assert!(
        ids(&second).iter().all(|id| !ids(&first).contains(id)),
        "pages do not overlap"
    );
    let review = html(&t, "/submissions?stage=review").body;
    assert!(review.contains("aria-current=\"true\">Review<"));
    t.stop();
}

#[test]
fn pages_send_a_browser_to_sign_in_and_an_api_client_gets_401() {
    let t = start_demo();
    let r = t.get_with("/submissions/3", &[("Accept", "text/html")]);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("Location"), Some("/signin?next=/submissions/3"));
    assert_eq!(t.get_anon("/reviewers").status, 401);
    assert_eq!(t.get_anon("/search?q=kelp").status, 401);
    t.stop();
}

fn post_form(t: &TestService, path: &str, token: &str, extra: &[(&str, &str)]) -> Reply {
    let mut req = agent()
        .post(&t.url(path))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Accept", "text/html")
        .set("Content-Type", "application/x-www-form-urlencoded");
    for (k, v) in extra {
        req = req.set(k, v);
    }
    call(req, Some(b""))
}

#[test]
fn page_actions_need_the_admin_role_and_a_same_origin_post() {
    let t = start_demo();
    let r = post_form(&t, "/submissions/3/screening", READ_TOKEN, &[]);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("id=\"error\""), "refused as a page");
    let evil = post_form(
        &t,
        "/submissions/3/screening",
        ADMIN_TOKEN,
        &[("Origin", "http://evil.example")],
    );
    assert_eq!(evil.status, 403);
    assert!(evil.body.contains("cross-site"), "{}", evil.body);
    let fetch = post_form(
        &t,
        "/sync",
        ADMIN_TOKEN,
        &[("Sec-Fetch-Site", "cross-site")],
    );
    assert_eq!(fetch.status, 403);
    // Another port of the same host is another origin (another service).
    let other_port = format!("http://127.0.0.1:{}", t.addr.port() ^ 1);
    let port = post_form(&t, "/sync", ADMIN_TOKEN, &[("Origin", &other_port)]);
    assert_eq!(port.status, 403, "{}", port.body);
    // Same origin, admin: the demo has no OJS to sync from, and says so.
    let origin = format!("http://{}", t.addr);
    let sync = post_form(&t, "/sync", ADMIN_TOKEN, &[("Origin", &origin)]);
    assert_eq!(sync.status, 409, "{}", sync.body);
    assert!(sync.body.contains("Nothing to sync from"));
    assert_eq!(
        post_form(&t, "/submissions/999/screening", ADMIN_TOKEN, &[]).status,
        404
    );
    // GET is not how an action is taken.
    assert_eq!(html(&t, "/sync").status, 405);
    t.stop();
}

#[cfg(not(feature = "llm"))]
#[test]
fn without_the_llm_the_screening_section_says_so_and_how_to_fix_it() {
    let t = start_demo();
    let p = html(&t, "/submissions/3").body;
    assert!(p.contains("id=\"screening-unavailable\""), "{p}");
    let r = post_form(&t, "/submissions/3/screening", ADMIN_TOKEN, &[]);
    assert_eq!(r.status, 503, "{}", r.body);
    t.stop();
}

#[cfg(feature = "llm")]
#[test]
fn a_screening_report_asked_for_on_the_page_is_made_in_the_background_and_then_shown() {
    use std::time::{Duration, Instant};
    let t = start_demo();
    let before = html(&t, "/submissions/3").body;
    assert!(before.contains("id=\"screening-none\""), "{before}");
    assert!(
        !before.contains("id=\"make-screening\""),
        "the read role sees no button"
    );
    let r = post_form(&t, "/submissions/3/screening", ADMIN_TOKEN, &[]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.header("Location"),
        Some("/submissions/3?follow=1#screening")
    );
    // The page answers at once while the model works, and reloads itself.
    let started = Instant::now();
    let during = html(&t, "/submissions/3?follow=1");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the page waited for the model"
    );
    assert!(
        during.body.contains("id=\"screening-progress\"")
            || during.body.contains("id=\"screening-summary\""),
        "{}",
        during.body
    );
    if during.body.contains("id=\"screening-progress\"") {
        assert!(during.body.contains("http-equiv=\"refresh\""));
        // Asking again while it runs starts nothing new.
        assert_eq!(
            post_form(&t, "/submissions/3/screening", ADMIN_TOKEN, &[]).status,
            303
        );
    }
    let deadline = Instant::now() + Duration::from_secs(240);
    let done = loop {
        let p = html(&t, "/submissions/3").body;
        if p.contains("id=\"screening-summary\"") || p.contains("id=\"screening-failed\"") {
            break p;
        }
        assert!(Instant::now() < deadline, "no report after 240 s");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(done.contains("id=\"screening-summary\""), "{done}");
    assert!(done.contains("id=\"screening-fit\""));
    // The editor is told how far the model's answers can be trusted (BENCHMARKS.md, LLM sizes).
    assert!(done.contains("id=\"screening-caution\""));
    use crate::support::Inspect;
    let runs = t
        .store()
        .column_strings("SELECT outcome FROM agent_execution_log WHERE agent = 'screening'")
        .unwrap();
    assert_eq!(runs, vec!["ok".to_string()], "the job ran once");
    t.stop();
}

#[test]
fn a_ranking_asked_again_comes_from_memory_until_a_sync_changes_the_mirror() {
    let t = start_demo();
    t.wait_for_index();
    let generation = t.store().mirror_generation().unwrap();
    assert!(generation > 0, "loading the demo changed the mirror");
    let first = t.get("/api/submissions/6/reviewers?limit=5").json();
    let again = t.get("/api/submissions/6/reviewers?limit=5").json();
    assert_eq!(again["cached"], true, "{again}");
    assert_eq!(first["candidates"], again["candidates"]);
    // A batch that changes nothing leaves the generation alone.
    t.writable_store()
        .apply(&ojscog::store::Batch::default())
        .unwrap();
    assert_eq!(t.store().mirror_generation().unwrap(), generation);
    // A new submission changes the journal every ranking is calibrated on.
    grow::grow(&mut t.writable_store(), 5000, 1);
    t.service().ctx.indexer.notify(); // as the sync loop does after a change
    assert!(t.store().mirror_generation().unwrap() > generation);
    // (503 while the background indexer embeds the new submission.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let after = loop {
        let r = t.get("/api/submissions/6/reviewers?limit=5");
        if r.status == 200 {
            break r.json();
        }
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(std::time::Instant::now() < deadline, "{}", r.body);
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(
        after["cached"], false,
        "recomputed after the change: {after}"
    );
}
