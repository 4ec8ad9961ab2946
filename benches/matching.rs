//! Matching latency for one submission against 1k and 10k synthetic reviewers
//! (each with 2 authored papers and 3 interests, in a real SQLite store), and a
//! vector scan over 100k int8-packed 384-d vectors.
//!
//!   cargo bench --bench matching
//!
//! Vectors come from the dependency-free hashing embedder (384-d, like MiniLM):
//! the measured part is the matcher and the scan, not the model. "cold" embeds
//! every profile; "warm" has vectors cached but recomputes scores (what a
//! changed submission costs); "cached" is served from reviewer_matching_scores.

use ojscog::agents::matching::match_reviewers;
use ojscog::agents::search::PackedVectors;
use ojscog::inference::{dot, normalize, HashingEmbedder};
use ojscog::store::records::*;
use ojscog::store::{Batch, Store};
use std::time::Instant;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f32 {
        (self.next() % 20_000) as f32 / 10_000.0 - 1.0
    }
}

fn words(rng: &mut Rng, topic: usize, n: usize) -> String {
    (0..n)
        .map(|_| {
            if rng.below(3) == 0 {
                format!("common{}", rng.below(300))
            } else {
                format!("t{topic}w{}", rng.below(40))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn paper(id: i64, rng: &mut Rng, topic: usize, author: Author) -> SubmissionRecord {
    SubmissionRecord {
        id,
        journal_id: 1,
        status: 3,
        stage_id: 5,
        submitted: true,
        locale: "en".into(),
        texts: vec![LocalizedText {
            locale: "en".into(),
            title: words(rng, topic, 10),
            abstract_text: words(rng, topic, 120),
        }],
        authors: vec![author],
        fingerprint: format!("b{id}"),
        ..Default::default()
    }
}

fn build(n: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut store =
        Store::open(&dir.path().join("bench.sqlite3")).unwrap_or_else(|e| panic!("{e}"));
    let mut rng = Rng(42);
    let reviewers: Vec<Reviewer> = (0..n)
        .map(|i| Reviewer {
            id: i as i64 + 1,
            username: format!("r{i}"),
            email: format!("r{i}@example.org"),
            given_name: format!("Given{i}"),
            family_name: format!("Family{i}"),
            affiliation: format!("Institute {}", i % 500),
            disabled: false,
            interests: (0..3).map(|k| format!("t{}w{}", (i + k) % 50, k)).collect(),
        })
        .collect();
    store
        .apply(&Batch {
            reviewers: Some(reviewers),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let mut id = 1i64;
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut upsert = Vec::new();
        for &i in chunk {
            for _ in 0..2 {
                let a = Author {
                    id,
                    given_name: format!("Given{i}"),
                    family_name: format!("Family{i}"),
                    email: format!("r{i}@example.org"),
                    ..Default::default()
                };
                upsert.push(paper(id, &mut rng, i % 50, a));
                id += 1;
            }
        }
        store
            .apply(&Batch {
                upsert,
                ..Default::default()
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let mut target = paper(
        1_000_000,
        &mut rng,
        7,
        Author {
            id: 9_999_999,
            given_name: "Outside".into(),
            family_name: "Author".into(),
            email: "outside@example.com".into(),
            ..Default::default()
        },
    );
    target.status = 1;
    target.stage_id = 3;
    store
        .apply(&Batch {
            upsert: vec![target],
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    (dir, store)
}

fn bench_match(n: usize) {
    let t = Instant::now();
    let (_dir, store) = build(n);
    let build_s = t.elapsed().as_secs_f64();
    let e = HashingEmbedder::default();
    let t = Instant::now();
    let r = match_reviewers(&store, &e, 1_000_000, 10).unwrap_or_else(|e| panic!("{e}"));
    let cold = t.elapsed().as_secs_f64();
    assert_eq!(r.candidates.len(), 10);
    let reps = if n > 5000 { 3 } else { 10 };
    let mut warm = Vec::new();
    for _ in 0..reps {
        // Invalidate the score cache only (vectors stay cached).
        store
            .replace_match_scores(1_000_000, &[])
            .unwrap_or_else(|e| panic!("{e}"));
        let t = Instant::now();
        let r = match_reviewers(&store, &e, 1_000_000, 10).unwrap_or_else(|e| panic!("{e}"));
        warm.push(t.elapsed().as_secs_f64());
        assert!(!r.cached);
    }
    let mut cached = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        let r = match_reviewers(&store, &e, 1_000_000, 10).unwrap_or_else(|e| panic!("{e}"));
        cached.push(t.elapsed().as_secs_f64());
        assert!(r.cached);
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "match 1 submission vs {n:>6} reviewers ({} profile papers): cold {:>7.3} s, warm {:>7.3} s, cached {:>7.3} s   (store built in {build_s:.1} s)",
        2 * n,
        cold,
        med(&mut warm),
        med(&mut cached)
    );
}

fn bench_scan(n: usize, dim: usize) {
    let mut rng = Rng(7);
    let mut packed = PackedVectors::with_capacity(dim, n);
    let mut floats: Vec<f32> = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let mut v: Vec<f32> = (0..dim).map(|_| rng.unit()).collect();
        normalize(&mut v);
        packed.push(&v);
        floats.extend_from_slice(&v);
    }
    let queries: Vec<Vec<f32>> = (0..20)
        .map(|_| {
            let mut v: Vec<f32> = (0..dim).map(|_| rng.unit()).collect();
            normalize(&mut v);
            v
        })
        .collect();
    let _ = packed.top_k(&queries[0], 10);
    let t = Instant::now();
    for q in &queries {
        std::hint::black_box(packed.top_k(q, 10));
    }
    let int8 = t.elapsed().as_secs_f64() / queries.len() as f64;
    let t = Instant::now();
    for q in &queries {
        let s: Vec<f32> = floats.chunks_exact(dim).map(|row| dot(q, row)).collect();
        std::hint::black_box(s);
    }
    let f32_s = t.elapsed().as_secs_f64() / queries.len() as f64;
    println!(
        "scan {n} x {dim}-d: int8 packed top-10 {:.2} ms/query ({:.1} MB), f32 brute force {:.2} ms/query ({:.1} MB)",
        int8 * 1e3,
        packed.bytes() as f64 / 1e6,
        f32_s * 1e3,
        (floats.len() * 4) as f64 / 1e6
    );
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    if want("scan") {
        bench_scan(100_000, 384);
    }
    if want("match") {
        bench_match(1_000);
        bench_match(10_000);
    }
}
