//! The AI routes over real HTTP against the demo journal: reviewer
//! suggestions with conflicts, semantic search, screening reports.

use crate::support::web;

use web::start_demo;

#[test]
fn reviewer_suggestions_rank_and_exclude_with_reasons() {
    let t = start_demo();
    t.wait_for_index();
    // Demo #6 (seagrass) is co-written by Daniel Whitfield, a reviewer; Lars declined it.
    let r = t.get("/api/submissions/6/reviewers?limit=3");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    #[cfg(feature = "embeddings")]
    assert!(v.get("warning").is_none(), "the real model is loaded: {v}");
    let candidates = v["candidates"].as_array().unwrap();
    assert!(!candidates.is_empty() && candidates.len() <= 3, "{v}");
    let scores: Vec<f64> = candidates
        .iter()
        .map(|c| c["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "ranked by score: {scores:?}"
    );
    for c in candidates {
        assert!(
            !c["reasons"].as_array().unwrap().is_empty(),
            "every suggestion says why: {c}"
        );
    }
    let excluded = v["excluded"].as_array().unwrap();
    let reason_of = |name: &str| -> Vec<String> {
        excluded
            .iter()
            .filter(|e| e["name"].as_str().unwrap_or("").contains(name))
            .flat_map(|e| {
                e["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["code"].as_str().unwrap().to_string())
            })
            .collect()
    };
    assert!(
        reason_of("Whitfield").contains(&"author".to_string()),
        "{v}"
    );
    assert!(
        reason_of("Henriksen").iter().any(|c| c == "declined_this"),
        "{v}"
    );
    assert!(!candidates
        .iter()
        .any(|c| c["name"].as_str().unwrap().contains("Whitfield")));

    assert_eq!(t.get("/api/submissions/999/reviewers").status, 404);
    assert_eq!(t.get("/api/submissions/abc/reviewers").status, 400);
    assert_eq!(t.get("/api/submissions/6/reviewers?limit=0").status, 400);
    assert_eq!(t.get("/api/submissions/6/reviewers?top=3").status, 400);
    assert_eq!(t.get("/api/submissions/6/nothing").status, 404);
    assert_eq!(t.get("/api/submissions/6/reviewers?offset=-1").status, 400);
    t.stop();
}

/// Issue 9: a journal with more reviewers than one page gets the whole
/// ranking by paging; the expertise is calibrated and said in words.
#[test]
fn the_ranking_pages_with_offset_and_explains_expertise_in_words() {
    let t = start_demo();
    t.wait_for_index();
    let all = t.get("/api/submissions/6/reviewers?limit=100").json();
    let total = all["total_candidates"].as_u64().unwrap() as usize;
    let ids = |v: &serde_json::Value| -> Vec<i64> {
        v["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["reviewer_id"].as_i64().unwrap())
            .collect()
    };
    assert!(total >= 3 && ids(&all).len() == total, "{all}");
    // Two pages of two put together are the first four of the whole ranking.
    let p1 = t
        .get("/api/submissions/6/reviewers?limit=2&offset=0")
        .json();
    let p2 = t
        .get("/api/submissions/6/reviewers?limit=2&offset=2")
        .json();
    let mut paged = ids(&p1);
    paged.extend(ids(&p2));
    assert_eq!(paged, ids(&all)[..4.min(total)].to_vec());
    assert_eq!(p2["total_candidates"], all["total_candidates"]);
    // Past the end: an empty page, not an error.
    let past = t.get(&format!("/api/submissions/6/reviewers?offset={total}"));
    assert_eq!(past.status, 200);
    assert!(ids(&past.json()).is_empty());
    // Each candidate: expertise 0..1 with its raw channels; the reasons speak words, not cosines.
    for c in all["candidates"].as_array().unwrap() {
        let e = c["expertise"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&e), "{c}");
        assert!(c["channels"].is_object(), "{c}");
        for r in c["reasons"].as_array().unwrap() {
            let text = r["text"].as_str().unwrap();
            assert!(!text.contains("similarity -"), "{text}");
            if r["code"] == "closest_work" {
                assert!(text.contains("in meaning"), "{text}");
            }
            if r["code"] == "expertise" {
                assert!(
                    text.contains("journal's papers") || text.contains("typical paper"),
                    "{text}"
                );
            }
        }
    }
    let metrics = t.get("/metrics").body;
    assert!(
        metrics.contains("route=\"/api/submissions/{id}/reviewers\""),
        "route template label"
    );
    t.stop();
}

#[test]
fn search_finds_by_meaning_and_by_term() {
    let t = start_demo();
    t.wait_for_index();
    let r = t.get("/api/search?q=seagrass%20restoration&limit=5");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let hits = v["hits"].as_array().unwrap();
    assert!(!hits.is_empty() && hits.len() <= 5);
    let first_paper = hits.iter().find(|h| h["kind"] == "submission").unwrap();
    assert_eq!(
        first_paper["id"], 6,
        "the seagrass paper first among papers: {v}"
    );
    assert!(
        first_paper["snippet"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("seagrass"),
        "{v}"
    );
    let first_person = hits.iter().find(|h| h["kind"] == "reviewer").unwrap();
    assert_eq!(
        first_person["title"], "Daniel Whitfield",
        "the seagrass reviewer first among people: {v}"
    );
    #[cfg(feature = "embeddings")]
    {
        // No shared word with the query: only meaning can find the coral paper.
        let v = t
            .get("/api/search?q=heat%20damage%20to%20reefs&limit=3")
            .json();
        assert!(v.get("warning").is_none(), "{v}");
        let ids: Vec<i64> = v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["kind"] == "submission")
            .map(|h| h["id"].as_i64().unwrap())
            .collect();
        assert!(ids.contains(&1), "bleaching paper found by meaning: {v}");
    }
    assert_eq!(t.get("/api/search").status, 400);
    assert_eq!(t.get("/api/search?q=").status, 400);
    assert_eq!(t.get("/api/search?q=x&limit=1000").status, 400);
    t.stop();
}

#[cfg(feature = "llm")]
#[test]
fn screening_report_is_made_by_an_admin_post_then_served_from_cache() {
    let t = start_demo();
    assert_eq!(
        t.get("/api/submissions/3/assessment").status,
        404,
        "nothing cached yet, and a GET never runs the model"
    );
    assert_eq!(
        t.post("/api/submissions/3/assessment", None, b"").status,
        401,
        "making a report needs the admin token"
    );
    let r = t.post("/api/submissions/3/assessment", Some(web::ADMIN_TOKEN), b"");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["cached"], false, "{v}");
    assert!(
        v["judgement"]["summary"].as_str().unwrap().len() >= 40,
        "{v}"
    );
    let again = t.get("/api/submissions/3/assessment");
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["cached"], true);
    assert_eq!(t.get("/api/submissions/999/assessment").status, 404);
    assert_eq!(
        t.post(
            "/api/submissions/999/assessment",
            Some(web::ADMIN_TOKEN),
            b""
        )
        .status,
        404
    );
    let metrics = t.get("/metrics").body;
    assert!(
        metrics.contains("ojscog_agent_runs_total{agent=\"screening\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
    t.stop();
}

/// 8 concurrent searches used to make `/health` miss the watchdog's probes;
/// now model work has its own lane and `/health` a reserved worker.
#[cfg(feature = "embeddings")]
#[test]
fn concurrent_searches_never_starve_health() {
    let t = std::sync::Arc::new(start_demo());
    let mut searches = Vec::new();
    for i in 0..8 {
        let t = t.clone();
        searches.push(std::thread::spawn(move || {
            let mut answers = Vec::new();
            for j in 0..3 {
                let r = t.get(&format!("/api/search?q=coastal%20ecology%20{i}{j}&limit=5"));
                answers.push((r.status, r.header("Retry-After").map(str::to_string)));
            }
            answers
        }));
    }
    for _ in 0..10 {
        let r = t.get_anon("/health");
        assert_eq!(r.status, 200, "{}", r.body);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    for s in searches {
        for (status, retry) in s.join().unwrap() {
            assert!(
                status == 200 || (status == 503 && retry.is_some()),
                "a search is answered or told when to retry: {status} {retry:?}"
            );
        }
    }
}
