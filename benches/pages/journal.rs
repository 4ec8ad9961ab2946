//! The generated journal of `cargo bench --bench pages`: 5,000 submissions,
//! 2,000 reviewers, their review assignments and decisions, written through
//! `Store::apply` as a sync writes them, from word lists and a seeded xorshift.

use super::{DAY, REVIEWERS, SUBMISSIONS};
use ojscog::store::records::*;
use ojscog::store::{Batch, Store};
use std::path::Path;

pub(crate) struct Rng(u64);
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

pub(crate) const HABITATS: &[&str] = &[
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
pub(crate) const PROCESSES: &[&str] = &[
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
pub(crate) const ORGANISMS: &[&str] = &[
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
pub(crate) const METHODS: &[&str] = &[
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
pub(crate) const PLACES: &[&str] = &[
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
pub(crate) const FINDINGS: &[&str] = &[
    "declined sharply after the warm years",
    "recovered within two seasons",
    "varied more between sites than between years",
    "tracked water temperature closely",
    "was strongest near river mouths",
    "did not differ between protected and fished areas",
    "doubled over the study period",
    "depended on the density of grazers",
];
pub(crate) const GIVEN: &[&str] = &[
    "Ana", "Ben", "Chloé", "David", "Elif", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kofi",
    "Lena", "Marta", "Nils", "Olga", "Pedro", "Qing", "Rosa", "Sven", "Tariq", "Uma", "Victor",
    "Wen", "Ximena", "Yusuf", "Zofia", "Aiko", "Bruno", "Carmen", "Dmitri", "Esther", "Felix",
    "Greta", "Hamid", "Ivana", "João", "Karin", "Luis", "Maya", "Noor",
];
pub(crate) const FAMILY: &[&str] = &[
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
pub(crate) const INSTITUTES: &[&str] = &[
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
pub(crate) const SECTIONS: &[(&str, &str)] = &[
    ("Articles", "ART"),
    ("Short Communications", "SC"),
    ("Reviews", "REV"),
    ("Methods", "MET"),
];

/// Unix seconds as OJS writes dates: `YYYY-MM-DD HH:MM:SS` (UTC).
pub(crate) fn ojs_date(t: i64) -> String {
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

pub(crate) fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

pub(crate) fn title(rng: &mut Rng) -> String {
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

pub(crate) fn abstract_text(rng: &mut Rng, title: &str) -> String {
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
pub(crate) fn keyword(rng: &mut Rng) -> String {
    let lists: [&[&str]; 4] = [HABITATS, PROCESSES, ORGANISMS, METHODS];
    let list = lists[rng.below(lists.len())];
    rng.pick(list).to_string()
}

pub(crate) fn reviewers(rng: &mut Rng) -> Vec<Reviewer> {
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
pub(crate) struct Ids {
    author: i64,
    assignment: i64,
    decision: i64,
}

/// Submission `id` with its authors, keywords, review rounds, assignments and
/// decisions, as of `now`.
pub(crate) fn submission(
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
        files: Vec::new(),
        fingerprint: format!("bench:{id}"),
    }
}

/// Writes the journal into a new store at `path`, through `Store::apply` as a
/// sync would: the journal, its sections and every reviewer in one batch (a
/// batch's reviewer list replaces the stored one), then submissions 500 at a time.
pub(crate) fn generate(path: &Path, now: i64) {
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
pub(crate) fn count_rows(path: &Path) -> Vec<(&'static str, i64)> {
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
pub(crate) fn pick_submissions(path: &Path) -> (i64, i64) {
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
