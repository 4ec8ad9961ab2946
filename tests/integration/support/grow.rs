//! Grows a demo store with generated submissions, through `Store::apply` as a
//! sync would (the way `src/demo.rs` loads the demo journal).

use ojscog::store::records::{Author, LocalizedText, SubmissionRecord, Term};
use ojscog::store::{Batch, Store};

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
];
const PLACES: &[&str] = &[
    "the Baltic Sea",
    "the Gulf of Mexico",
    "the Great Barrier Reef",
    "Patagonia",
    "the North Sea",
    "Hudson Bay",
    "the Red Sea",
];

/// Submission `id` with a title, a two-sentence abstract and two keywords.
pub fn generated(id: i64) -> SubmissionRecord {
    let i = id as usize;
    let habitat = HABITATS[i % HABITATS.len()];
    let process = PROCESSES[(i / HABITATS.len()) % PROCESSES.len()];
    let place = PLACES[(i / 7) % PLACES.len()];
    SubmissionRecord {
        id,
        journal_id: 1,
        section_id: Some(1),
        publication_id: Some(id),
        publication_version: Some(1),
        status: 1,
        stage_id: 1,
        submitted: true,
        locale: "en".into(),
        date_submitted: Some("2026-01-05 12:00:00".into()),
        date_last_activity: Some("2026-01-05 12:00:00".into()),
        last_modified: Some("2026-01-05 12:00:00".into()),
        texts: vec![LocalizedText {
            locale: "en".into(),
            title: format!("Study {id}: {process} in {habitat} of {place}"),
            abstract_text: format!(
                "We measured {process} across {habitat} in {place} over {} seasons. \
                 The results bear on how {habitat} respond to change.",
                2 + i % 5
            ),
        }],
        authors: vec![Author {
            id: 100_000 + id,
            seq: 0.0,
            given_name: "Gen".into(),
            family_name: format!("Author{id}"),
            affiliation: "Generated Institute".into(),
            email: format!("author{id}@example.net"),
            ..Default::default()
        }],
        terms: [habitat, process]
            .iter()
            .enumerate()
            .map(|(seq, t)| Term {
                kind: "keyword".into(),
                locale: "en".into(),
                term: t.to_string(),
                seq: seq as i64,
            })
            .collect(),
        fingerprint: format!("generated:{id}"),
        ..Default::default()
    }
}

/// Adds generated submissions `first..first+n` in batches of 500 (one transaction each).
pub fn grow(store: &mut Store, first: i64, n: i64) {
    let ids: Vec<i64> = (first..first + n).collect();
    for chunk in ids.chunks(500) {
        let batch = Batch {
            upsert: chunk.iter().map(|&id| generated(id)).collect(),
            ..Default::default()
        };
        store.apply(&batch).expect("generated submissions apply");
    }
}
