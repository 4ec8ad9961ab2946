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
use ojscog::store::records::*;
use ojscog::store::{Batch, Store};
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
    /// `lo..=hi`
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const HABITATS: &[&str] = &[
    "coral reefs",
    "kelp forests",
    "seagrass meadows",
    "mangrove swamps",
    "salt marshes",
    "rocky shores",
    "estuaries",
    "deep-sea vents",
    "polar sea ice",
    "sandy beaches",
    "tidal flats",
    "fjords",
    "continental shelves",
    "oyster reefs",
    "coastal lagoons",
];
const PROCESSES: &[&str] = &[
    "nutrient cycling",
    "heat stress",
    "sediment transport",
    "larval dispersal",
    "predator control",
    "carbon burial",
    "ocean acidification",
    "invasive species spread",
    "microbial respiration",
    "fishing pressure",
    "disease outbreaks",
    "hypoxia",
    "eutrophication",
    "sea-level rise",
    "marine heatwaves",
    "primary production",
    "trophic cascades",
    "coastal erosion",
];
const ORGANISMS: &[&str] = &[
    "seagrass",
    "reef-building corals",
    "giant kelp",
    "blue mussels",
    "sea urchins",
    "juvenile cod",
    "seabirds",
    "harbour seals",
    "diatoms",
    "copepods",
    "sea stars",
    "mangrove trees",
    "oysters",
    "jellyfish",
    "krill",
    "green turtles",
];
const METHODS: &[&str] = &[
    "stable isotope analysis",
    "environmental DNA",
    "remote sensing",
    "long-term monitoring",
    "mesocosm experiments",
    "species distribution models",
    "acoustic telemetry",
    "meta-analysis",
    "citizen science",
    "underwater visual census",
    "metabarcoding",
    "hydrodynamic modelling",
];
const PLACES: &[&str] = &[
    "the Baltic Sea",
    "the Gulf of Mexico",
    "the Great Barrier Reef",
    "Patagonia",
    "the North Sea",
    "Hudson Bay",
    "the Red Sea",
    "the Wadden Sea",
    "the Mediterranean",
    "the Bay of Bengal",
    "the Benguela upwelling",
    "the Salish Sea",
    "the Coral Triangle",
    "the Svalbard archipelago",
];
const FINDINGS: &[&str] = &[
    "declined sharply after the warm years",
    "recovered within two seasons",
    "varied more between sites than between years",
    "tracked water temperature closely",
    "was strongest near river mouths",
    "did not differ between protected and fished areas",
    "doubled over the study period",
    "depended on the density of grazers",
];
const GIVEN: &[&str] = &[
    "Ana", "Ben", "Chloé", "David", "Elif", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kofi",
    "Lena", "Marta", "Nils", "Olga", "Pedro", "Qing", "Rosa", "Sven", "Tariq", "Uma", "Victor",
    "Wen", "Ximena", "Yusuf", "Zofia", "Aiko", "Bruno", "Carmen", "Dmitri", "Esther", "Felix",
    "Greta", "Hamid", "Ivana", "João", "Karin", "Luis", "Maya", "Noor",
];
const FAMILY: &[&str] = &[
    "Almeida",
    "Bergström",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Hansen",
    "Ito",
    "Jensen",
    "Kowalski",
    "López",
    "Müller",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quispe",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Uddin",
    "Virtanen",
    "Wang",
    "Xu",
    "Yilmaz",
    "Zhang",
    "Andersson",
    "Brown",
    "Chen",
    "Da Silva",
    "Evans",
    "Ferreira",
    "Gonzalez",
    "Haddad",
    "Iqbal",
    "Johansson",
    "Kim",
    "Larsen",
    "Moreau",
    "Novak",
    "O'Brien",
    "Pereira",
    "Reyes",
    "Santos",
    "Thompson",
    "Van Dijk",
    "Walsh",
    "Yamamoto",
    "Ziegler",
    "Nguyen",
];
const INSTITUTES: &[&str] = &[
    "University of Gothenburg",
    "Alfred Wegener Institute",
    "Scripps Institution of Oceanography",
    "University of Tasmania",
    "Institut de Ciències del Mar",
    "GEOMAR Helmholtz Centre",
    "Universidade de São Paulo",
    "University of Cape Town",
    "Hokkaido University",
    "National Institute of Oceanography, Goa",
    "Memorial University of Newfoundland",
    "IFREMER",
    "University of the Philippines",
    "King Abdullah University of Science and Technology",
    "University of Bergen",
    "Universidad Austral de Chile",
    "James Cook University",
    "Stazione Zoologica Anton Dohrn",
    "Woods Hole Oceanographic Institution",
    "Xiamen University",
];
const SECTIONS: &[(&str, &str)] = &[
    ("Articles", "ART"),
    ("Short Communications", "SC"),
    ("Reviews", "REV"),
    ("Methods", "MET"),
];

/// Unix seconds as OJS writes dates: `YYYY-MM-DD HH:MM:SS` (UTC).
fn ojs_date(t: i64) -> String {
    let (days, secs) = (t.div_euclid(DAY), t.rem_euclid(DAY));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn title(rng: &mut Rng) -> String {
    let (h, p, o, m, pl) = (
        rng.pick(HABITATS),
        rng.pick(PROCESSES),
        rng.pick(ORGANISMS),
        rng.pick(METHODS),
        rng.pick(PLACES),
    );
    match rng.below(5) {
        0 => format!("{} in {h} of {pl}", capitalize(p)),
        1 => format!("{} and {p}: evidence from {pl}", capitalize(o)),
        2 => format!("How {p} shapes {o} in {h}"),
        3 => format!("{} of {o} across {h}, revealed by {m}", capitalize(p)),
        _ => format!("Tracking {p} in {pl} with {m}"),
    }
}

fn abstract_text(rng: &mut Rng, title: &str) -> String {
    let mut s = format!(
        "{}. We studied {} in {} of {} over {} years using {}.",
        title,
        rng.pick(PROCESSES),
        rng.pick(HABITATS),
        rng.pick(PLACES),
        rng.between(2, 12),
        rng.pick(METHODS)
    );
    for _ in 0..rng.between(2, 4) {
        let sentence = match rng.below(3) {
            0 => format!(
                " The abundance of {} {}.",
                rng.pick(ORGANISMS),
                rng.pick(FINDINGS)
            ),
            1 => format!(
                " Rates of {} {}, while {} {}.",
                rng.pick(PROCESSES),
                rng.pick(FINDINGS),
                rng.pick(ORGANISMS),
                rng.pick(FINDINGS)
            ),
            _ => format!(
                " Combining {} with {} at {} sites, we show that {} matters for {}.",
                rng.pick(METHODS),
                rng.pick(METHODS),
                rng.between(3, 60),
                rng.pick(PROCESSES),
                rng.pick(ORGANISMS)
            ),
        };
        s.push_str(&sentence);
    }
    s.push_str(" These results bear on the management of coastal ecosystems under change.");
    s
}

/// A keyword from any of the topic lists.
fn keyword(rng: &mut Rng) -> String {
    let lists: [&[&str]; 4] = [HABITATS, PROCESSES, ORGANISMS, METHODS];
    let list = lists[rng.below(lists.len())];
    rng.pick(list).to_string()
}

fn reviewers(rng: &mut Rng) -> Vec<Reviewer> {
    (1..=REVIEWERS)
        .map(|id| {
            let (g, f) = (rng.pick(GIVEN), rng.pick(FAMILY));
            let mut interests: Vec<String> = (0..rng.between(2, 5)).map(|_| keyword(rng)).collect();
            interests.sort();
            interests.dedup();
            Reviewer {
                id,
                username: format!("reviewer{id}"),
                email: format!(
                    "{}.{}{id}@example.org",
                    g.to_lowercase(),
                    f.to_lowercase().replace([' ', '\''], "")
                ),
                given_name: g.into(),
                family_name: f.into(),
                affiliation: rng.pick(INSTITUTES).into(),
                disabled: rng.chance(2),
                interests,
            }
        })
        .collect()
}

/// Ids for the records' children, unique over the whole store.
#[derive(Default)]
struct Ids {
    author: i64,
    assignment: i64,
    decision: i64,
}

/// Submission `id` with its authors, keywords, review rounds, assignments and
/// decisions, as of `now`.
fn submission(
    id: i64,
    rng: &mut Rng,
    ids: &mut Ids,
    reviewers: &[Reviewer],
    now: i64,
) -> SubmissionRecord {
    // (status, stage): 1 queued / 3 published / 4 declined; stage 1, 3, 4, 5.
    let (status, stage) = match rng.below(100) {
        0..=34 => (1, 3),
        35..=44 => (1, 1),
        45..=51 => (1, 4),
        52..=56 => (1, 5),
        57..=79 => (3, 5),
        80..=89 => (4, 3),
        _ => (4, 1),
    };
    let submitted = now - rng.between(DAY, 3 * 365 * DAY);
    let reviewed = stage >= 3;
    let current_review = status == 1 && stage == 3;
    let t = title(rng);
    let abs = abstract_text(rng, &t);

    let mut authors = Vec::new();
    let mut author_reviewers = Vec::new();
    for seq in 0..rng.between(1, 3) {
        ids.author += 1;
        // A quarter of the authors also review for the journal.
        let a = if rng.chance(25) {
            let r = &reviewers[rng.below(reviewers.len())];
            author_reviewers.push(r.id);
            Author {
                id: ids.author,
                seq: seq as f64,
                given_name: r.given_name.clone(),
                family_name: r.family_name.clone(),
                affiliation: r.affiliation.clone(),
                email: r.email.clone(),
                country: "SE".into(),
                orcid: String::new(),
            }
        } else {
            let (g, f) = (rng.pick(GIVEN), rng.pick(FAMILY));
            Author {
                id: ids.author,
                seq: seq as f64,
                given_name: g.into(),
                family_name: f.into(),
                affiliation: rng.pick(INSTITUTES).into(),
                email: format!("author{}@example.net", ids.author),
                country: "DE".into(),
                orcid: String::new(),
            }
        };
        authors.push(a);
    }
    let mut terms: Vec<Term> = Vec::new();
    for _ in 0..rng.between(2, 4) {
        let k = keyword(rng);
        if !terms.iter().any(|t| t.term == k) {
            terms.push(Term {
                kind: "keyword".into(),
                locale: "en".into(),
                term: k,
                seq: terms.len() as i64,
            });
        }
    }

    let mut rounds = Vec::new();
    let mut assignments = Vec::new();
    let mut decisions = Vec::new();
    let mut last = submitted;
    let editor = rng.between(1, 5);
    let mut decide = |ids: &mut Ids, stage: i64, round: Option<i64>, decision: i64, at: i64| {
        ids.decision += 1;
        decisions.push(Decision {
            id: ids.decision,
            review_round_id: round.map(|r| id * 10 + r),
            stage_id: Some(stage),
            round,
            editor_id: editor,
            decision,
            date_decided: Some(ojs_date(at.min(now))),
        });
    };
    if reviewed {
        let sent = (submitted + rng.between(2, 10) * DAY).min(now);
        decide(ids, 1, None, 3, sent);
        let n_rounds = if rng.chance(25) { 2 } else { 1 };
        let mut chosen: Vec<i64> = Vec::new();
        for round in 1..=n_rounds {
            let last_round = round == n_rounds;
            let open_round = current_review && last_round;
            rounds.push(ReviewRound {
                id: id * 10 + round,
                stage_id: Some(3),
                round,
                status: Some(if open_round { 4 } else { 1 }),
            });
            let start = if open_round {
                (now - rng.between(1, 100) * DAY).max(sent)
            } else {
                (sent + (round - 1) * 60 * DAY).min(now)
            };
            for _ in 0..rng.between(2, 4) {
                // A few reviewers carry much of the load.
                let reviewer = loop {
                    let r = if rng.chance(40) {
                        rng.between(1, 300)
                    } else {
                        rng.between(1, REVIEWERS)
                    };
                    if !chosen.contains(&r) && !author_reviewers.contains(&r) {
                        break r;
                    }
                };
                chosen.push(reviewer);
                ids.assignment += 1;
                let assigned = (start + rng.between(0, 5) * DAY).min(now);
                let mut a = ReviewAssignment {
                    id: ids.assignment,
                    reviewer_id: reviewer,
                    review_round_id: Some(id * 10 + round),
                    stage_id: Some(3),
                    round: Some(round),
                    date_assigned: Some(ojs_date(assigned)),
                    date_notified: Some(ojs_date(assigned)),
                    date_response_due: Some(ojs_date(assigned + 7 * DAY)),
                    date_due: Some(ojs_date(assigned + 35 * DAY)),
                    ..Default::default()
                };
                let roll = rng.below(100);
                let (completed, declined, cancelled) = if open_round {
                    (roll < 35, (35..50).contains(&roll), false)
                } else {
                    (roll < 75, (75..95).contains(&roll), roll >= 95)
                };
                let answered = (assigned + rng.between(1, 6) * DAY).min(now);
                if completed {
                    let done = (assigned + rng.between(5, 50) * DAY).min(now);
                    a.date_confirmed = Some(ojs_date(answered));
                    a.date_completed = Some(ojs_date(done));
                    a.recommendation = Some(rng.between(1, 6));
                    last = last.max(done);
                } else if declined {
                    a.declined = true;
                    a.date_confirmed = Some(ojs_date(answered));
                    last = last.max(answered);
                } else if cancelled {
                    a.cancelled = true;
                } else if rng.chance(60) {
                    // Open: accepted (or still awaiting an answer); overdue
                    // when assigned more than 35 days ago.
                    a.date_confirmed = Some(ojs_date(answered));
                }
                a.last_modified = a
                    .date_completed
                    .clone()
                    .or_else(|| a.date_confirmed.clone())
                    .or_else(|| a.date_assigned.clone());
                last = last.max(assigned);
                assignments.push(a);
            }
            if !last_round {
                decide(ids, 3, Some(round), 4, last + 3 * DAY);
                decide(ids, 3, Some(round), 14, last + 20 * DAY);
            }
        }
        let round = Some(n_rounds);
        let end = last + rng.between(3, 20) * DAY;
        match (status, stage) {
            (4, _) => decide(ids, 3, round, 6, end),
            (_, 4 | 5) => {
                decide(ids, 3, round, 2, end);
                if stage == 5 {
                    decide(ids, 4, None, 7, end + 30 * DAY);
                }
            }
            _ => {}
        }
        last = last.max(end.min(now));
    } else if status == 4 {
        let end = (submitted + rng.between(1, 20) * DAY).min(now);
        decide(ids, 1, None, 8, end);
        last = end;
    }
    let section = match rng.below(10) {
        0..=5 => 1,
        6..=7 => 2,
        8 => 3,
        _ => 4,
    };
    SubmissionRecord {
        id,
        journal_id: 1,
        section_id: Some(section),
        publication_id: Some(id),
        publication_version: Some(1),
        status,
        stage_id: stage,
        submitted: true,
        locale: "en".into(),
        date_submitted: Some(ojs_date(submitted)),
        date_last_activity: Some(ojs_date(last.min(now))),
        last_modified: Some(ojs_date(last.min(now))),
        texts: vec![LocalizedText {
            locale: "en".into(),
            title: t,
            abstract_text: abs,
        }],
        authors,
        terms,
        review_rounds: rounds,
        review_assignments: assignments,
        decisions,
        fingerprint: format!("bench:{id}"),
    }
}

/// Writes the journal into a new store at `path`, through `Store::apply` as a
/// sync would: the journal, its sections and every reviewer in one batch (a
/// batch's reviewer list replaces the stored one), then submissions 500 at a time.
fn generate(path: &Path, now: i64) {
    let mut store = Store::open(path).unwrap_or_else(|e| panic!("{e}"));
    let mut rng = Rng(0x5eed_2026);
    let revs = reviewers(&mut rng);
    store
        .apply(&Batch {
            journals: Some((
                vec![Journal {
                    id: 1,
                    path: "jcme".into(),
                    name: "Journal of Coastal and Marine Ecology".into(),
                    primary_locale: "en".into(),
                    locales: vec!["en".into()],
                    enabled: true,
                }],
                SECTIONS
                    .iter()
                    .enumerate()
                    .map(|(i, (title, abbrev))| Section {
                        id: i as i64 + 1,
                        journal_id: 1,
                        title: (*title).into(),
                        abbrev: (*abbrev).into(),
                    })
                    .collect(),
            )),
            reviewers: Some(revs.clone()),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let mut ids = Ids::default();
    let all: Vec<i64> = (1..=SUBMISSIONS).collect();
    for chunk in all.chunks(500) {
        let upsert = chunk
            .iter()
            .map(|&id| submission(id, &mut rng, &mut ids, &revs, now))
            .collect();
        store
            .apply(&Batch {
                upsert,
                ..Default::default()
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Rows of the tables the pages read.
fn count_rows(path: &Path) -> Vec<(&'static str, i64)> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("{e}"));
    [
        "submissions",
        "reviewers",
        "review_assignments",
        "authors",
        "submission_terms",
        "reviewer_interests",
        "editorial_decisions",
    ]
    .into_iter()
    .map(|t| {
        let n = conn
            .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"));
        (t, n)
    })
    .collect()
}

/// One submission in review with open assignments, and one new submission
/// (no reviews yet).
fn pick_submissions(path: &Path) -> (i64, i64) {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("{e}"));
    let in_review: i64 = conn
        .query_row(
            "SELECT s.id FROM submissions s JOIN review_assignments ra ON ra.submission_id = s.id
             WHERE s.status = 1 AND s.stage_id = 3 AND ra.date_completed IS NULL AND ra.declined = 0
             GROUP BY s.id HAVING COUNT(*) >= 2 ORDER BY s.id LIMIT 1 OFFSET 100",
            [],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let new: i64 = conn
        .query_row(
            "SELECT id FROM submissions WHERE status = 1 AND stage_id = 1 ORDER BY id LIMIT 1 OFFSET 50",
            [],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    (in_review, new)
}

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
