//! The embedded demo journal: a small, realistic journal written for ojscog
//! (not taken from any real one), so that `ojscog serve --demo` shows every
//! page and API with real behaviour on a machine with no OJS.
//!
//! Dates are relative to "now", so overdue reviews are overdue whenever the
//! demo runs. It goes through the same `Store::apply` path as an OJS sync.

use crate::store::records::*;
use crate::store::{Batch, Store, StoreError};
use crate::system::unix_now;
use std::path::Path;

struct DemoReviewer {
    given: &'static str,
    family: &'static str,
    affiliation: &'static str,
    interests: &'static [&'static str],
}

const REVIEWERS: &[DemoReviewer] = &[
    DemoReviewer {
        given: "Amara",
        family: "Okafor",
        affiliation: "University of Lagos",
        interests: &[
            "coral reef ecology",
            "ocean acidification",
            "marine biodiversity",
        ],
    },
    DemoReviewer {
        given: "Lars",
        family: "Henriksen",
        affiliation: "Norwegian Institute for Water Research",
        interests: &[
            "fisheries management",
            "stock assessment",
            "population dynamics",
        ],
    },
    DemoReviewer {
        given: "Mei",
        family: "Tanaka",
        affiliation: "Hokkaido University",
        interests: &["marine microbiology", "plankton", "biogeochemistry"],
    },
    DemoReviewer {
        given: "Sofía",
        family: "Ramírez",
        affiliation: "Universidad de Costa Rica",
        interests: &["mangrove forests", "blue carbon", "coastal wetlands"],
    },
    DemoReviewer {
        given: "Daniel",
        family: "Whitfield",
        affiliation: "University of Tasmania",
        interests: &["seagrass restoration", "coastal ecology", "remote sensing"],
    },
    DemoReviewer {
        given: "Priya",
        family: "Nair",
        affiliation: "National Institute of Oceanography, Goa",
        interests: &["microplastics", "marine pollution", "ecotoxicology"],
    },
];

/// (reviewer index, assigned days ago, due in days from now, outcome)
enum Outcome {
    Completed { days_ago: i64, recommendation: i64 },
    Declined,
    Accepted,
    Awaiting,
}

struct DemoSubmission {
    title: &'static str,
    abstract_text: &'static str,
    keywords: &'static [&'static str],
    authors: &'static [(&'static str, &'static str, &'static str)],
    section: i64,
    stage: i64,
    status: i64,
    submitted: bool,
    submitted_days_ago: i64,
    activity_days_ago: i64,
    reviews: &'static [(usize, i64, i64, Outcome)],
}

const SUBMISSIONS: &[DemoSubmission] = &[
    DemoSubmission {
        title: "Thermal stress thresholds for bleaching in Acropora colonies of the Gulf of Guinea",
        abstract_text: "We monitored 240 tagged Acropora colonies across four reefs for three summers and related bleaching to degree heating weeks. Bleaching began at 4.1 degree heating weeks, a lower threshold than reported for the Indo-Pacific. Colonies on turbid inshore reefs bleached less, suggesting that shading buffers thermal stress. We conclude that regional thresholds should replace global ones in early-warning products.",
        keywords: &["coral bleaching", "thermal stress", "Acropora", "West Africa"],
        authors: &[("Kwame", "Mensah", "University of Ghana"), ("Efua", "Asante", "University of Cape Coast")],
        section: 1, stage: 3, status: 1, submitted: true, submitted_days_ago: 41, activity_days_ago: 12,
        reviews: &[(0, 30, -2, Outcome::Accepted), (4, 30, 5, Outcome::Completed { days_ago: 9, recommendation: 2 }), (2, 31, 0, Outcome::Declined)],
    },
    DemoSubmission {
        title: "Recovery of Atlantic cod spawning stocks after a decade of reduced quotas",
        abstract_text: "Using survey indices and catch-at-age data from 1995 to 2023, we fit a state-space assessment model to three cod stocks in the Norwegian and Barents Seas. Spawning stock biomass increased in two stocks after quota cuts, while the third did not recover, which we attribute to warming-driven recruitment failure. Management strategies should account for temperature when setting rebuilding targets.",
        keywords: &["Atlantic cod", "stock assessment", "fisheries management", "recruitment"],
        authors: &[("Ingrid", "Solberg", "Institute of Marine Research, Bergen")],
        section: 1, stage: 3, status: 1, submitted: true, submitted_days_ago: 55, activity_days_ago: 35,
        reviews: &[(1, 50, -20, Outcome::Accepted), (3, 49, -19, Outcome::Awaiting)],
    },
    DemoSubmission {
        title: "Seasonal succession of diatoms and dinoflagellates in a subarctic bay",
        abstract_text: "Weekly sampling over two years in Funka Bay described the succession of phytoplankton groups by microscopy and 18S metabarcoding. Diatoms dominated the spring bloom, followed by dinoflagellates when silicate was exhausted. Bloom timing shifted eleven days earlier in the warmer year. The data set is released with this article.",
        keywords: &["phytoplankton", "diatoms", "metabarcoding", "bloom phenology"],
        authors: &[("Haruto", "Sato", "Tohoku University"), ("Yuki", "Mori", "Tohoku University")],
        section: 1, stage: 1, status: 1, submitted: true, submitted_days_ago: 6, activity_days_ago: 6,
        reviews: &[],
    },
    DemoSubmission {
        title: "Carbon stocks of restored and natural mangrove stands on the Pacific coast of Costa Rica",
        abstract_text: "We measured above- and below-ground carbon in twelve restored and twelve natural mangrove plots. Restored stands reached 68 percent of natural soil carbon after fifteen years. Carbon accrual was fastest where tidal flow had been reconnected. These results support blue-carbon crediting for hydrological restoration.",
        keywords: &["mangroves", "blue carbon", "restoration", "soil carbon"],
        authors: &[("Andrés", "Villalobos", "Universidad Nacional, Costa Rica"), ("Laura", "Chen", "Smithsonian Environmental Research Center")],
        section: 1, stage: 4, status: 1, submitted: true, submitted_days_ago: 120, activity_days_ago: 4,
        reviews: &[(3, 100, -70, Outcome::Completed { days_ago: 80, recommendation: 1 }), (4, 100, -70, Outcome::Completed { days_ago: 75, recommendation: 2 })],
    },
    DemoSubmission {
        title: "Microplastic ingestion by commercial fish species along the Konkan coast",
        abstract_text: "We examined the gut contents of 412 fish from eight commercial species landed at four harbours. Microplastics were found in 37 percent of individuals, mostly fibres from fishing gear. Ingestion rates were highest in demersal feeders. We recommend gear-marking and recovery schemes to reduce the dominant source.",
        keywords: &["microplastics", "fish", "marine pollution", "India"],
        authors: &[("Rohan", "Kulkarni", "Goa University")],
        section: 3, stage: 3, status: 1, submitted: true, submitted_days_ago: 28, activity_days_ago: 20,
        reviews: &[(5, 21, 7, Outcome::Accepted), (0, 21, -1, Outcome::Awaiting)],
    },
    DemoSubmission {
        title: "Seagrass transplanting success depends on sediment sulfide, not donor genotype",
        abstract_text: "In a factorial experiment in Tasmanian estuaries we transplanted Zostera muelleri shoots from three donor meadows into sites with contrasting sediment chemistry. Survival after twelve months was explained by porewater sulfide and not by donor meadow. Pre-screening recipient sites for sulfide would avoid most restoration failures.",
        keywords: &["seagrass", "restoration", "sediment", "Zostera"],
        authors: &[("Olivia", "Grant", "Deakin University"), ("Daniel", "Whitfield", "University of Tasmania")],
        section: 1, stage: 3, status: 1, submitted: true, submitted_days_ago: 35, activity_days_ago: 25,
        reviews: &[(1, 26, 3, Outcome::Declined)],
    },
    DemoSubmission {
        title: "A review of ocean acidification effects on calcifying larvae",
        abstract_text: "We synthesise 186 experimental studies of larval calcifiers exposed to elevated carbon dioxide. Effects on survival were strongest in bivalves and weakest in crustaceans. Many studies used unrealistic pH jumps; we propose reporting standards for future experiments.",
        keywords: &["ocean acidification", "larvae", "meta-analysis", "calcification"],
        authors: &[("Thomas", "Becker", "GEOMAR Helmholtz Centre for Ocean Research Kiel")],
        section: 2, stage: 5, status: 1, submitted: true, submitted_days_ago: 200, activity_days_ago: 10,
        reviews: &[(0, 180, -150, Outcome::Completed { days_ago: 160, recommendation: 1 }), (2, 180, -150, Outcome::Completed { days_ago: 150, recommendation: 2 })],
    },
    DemoSubmission {
        title: "Nitrogen fixation by Trichodesmium in the oligotrophic Arabian Sea",
        abstract_text: "Cruise measurements at 22 stations quantified nitrogen fixation with 15N2 incubations. Rates were highest during the inter-monsoon and correlated with dust deposition. Trichodesmium accounted for most fixation at the surface.",
        keywords: &["nitrogen fixation", "Trichodesmium", "Arabian Sea", "biogeochemistry"],
        authors: &[("Anjali", "Menon", "Cochin University of Science and Technology")],
        section: 3, stage: 3, status: 1, submitted: true, submitted_days_ago: 15, activity_days_ago: 15,
        reviews: &[],
    },
    DemoSubmission {
        title: "Harbour porpoise bycatch in gillnet fisheries: acoustic deterrents revisited",
        abstract_text: "",
        keywords: &[],
        authors: &[("Jonas", "Vestergaard", "Aarhus University")],
        section: 1, stage: 1, status: 1, submitted: false, submitted_days_ago: 0, activity_days_ago: 2,
        reviews: &[],
    },
    DemoSubmission {
        title: "Storm surge exposure of coastal wetlands under sea-level rise scenarios",
        abstract_text: "We coupled a hydrodynamic model with wetland elevation data for the Gulf of Nicoya. Under 0.5 metres of sea-level rise, one third of wetland area would face annual storm inundation. Landward migration space exists for only half of it.",
        keywords: &["coastal wetlands", "sea-level rise", "storm surge", "modelling"],
        authors: &[("Mariana", "Solís", "Universidad de Costa Rica")],
        section: 1, stage: 1, status: 4, submitted: true, submitted_days_ago: 90, activity_days_ago: 80,
        reviews: &[],
    },
    DemoSubmission {
        title: "Long-term decline of kelp forests in southern Norway",
        abstract_text: "Forty years of diver surveys show that kelp cover fell by half in sheltered fjords while exposed coasts remained stable. Declines followed warm summers and sea urchin outbreaks.",
        keywords: &["kelp", "long-term monitoring", "sea urchins", "Norway"],
        authors: &[("Erik", "Nilsen", "University of Bergen")],
        section: 1, stage: 5, status: 3, submitted: true, submitted_days_ago: 300, activity_days_ago: 120,
        reviews: &[(1, 280, -250, Outcome::Completed { days_ago: 255, recommendation: 1 }), (4, 280, -250, Outcome::Completed { days_ago: 262, recommendation: 1 })],
    },
    DemoSubmission {
        title: "Viral lysis as a control on bacterial production in coastal upwelling waters",
        abstract_text: "Dilution experiments off central Chile partitioned bacterial mortality between grazing and viral lysis. Viruses removed up to 60 percent of daily bacterial production during upwelling, releasing dissolved organic carbon that fuels the microbial loop.",
        keywords: &["marine viruses", "bacteria", "upwelling", "microbial loop"],
        authors: &[("Camila", "Rojas", "Universidad de Concepción")],
        section: 3, stage: 3, status: 1, submitted: true, submitted_days_ago: 48, activity_days_ago: 30,
        reviews: &[(2, 40, -10, Outcome::Completed { days_ago: 18, recommendation: 3 }), (5, 40, -10, Outcome::Accepted)],
    },
];

fn date(now: i64, days_ago: i64) -> String {
    // Noon UTC of that day.
    let (y, m, d) = crate::human::civil_from_days((now - days_ago * 86_400).div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02} 12:00:00")
}

/// The demo journal as the records a sync would produce.
pub fn batch(now: i64) -> Batch {
    let journal = Journal {
        id: 1,
        path: "jcme".into(),
        name: "Journal of Coastal and Marine Ecology (demo)".into(),
        primary_locale: "en".into(),
        locales: vec!["en".into()],
        enabled: true,
    };
    let sections = vec![
        Section {
            id: 1,
            journal_id: 1,
            title: "Articles".into(),
            abbrev: "ART".into(),
        },
        Section {
            id: 2,
            journal_id: 1,
            title: "Reviews".into(),
            abbrev: "REV".into(),
        },
        Section {
            id: 3,
            journal_id: 1,
            title: "Short Communications".into(),
            abbrev: "SC".into(),
        },
    ];
    let reviewers = REVIEWERS
        .iter()
        .enumerate()
        .map(|(i, r)| Reviewer {
            id: 100 + i as i64,
            username: format!("{}{}", r.given.to_lowercase(), r.family.to_lowercase()),
            email: format!(
                "{}.{}@example.org",
                r.given.to_lowercase(),
                r.family.to_lowercase()
            ),
            given_name: r.given.into(),
            family_name: r.family.into(),
            affiliation: r.affiliation.into(),
            disabled: false,
            interests: r.interests.iter().map(|s| s.to_string()).collect(),
        })
        .collect();
    let mut upsert = Vec::new();
    let mut review_id = 1;
    let mut author_id = 1;
    for (i, s) in SUBMISSIONS.iter().enumerate() {
        let id = i as i64 + 1;
        let mut rec = SubmissionRecord {
            id,
            journal_id: 1,
            section_id: Some(s.section),
            publication_id: Some(id),
            publication_version: Some(1),
            status: s.status,
            stage_id: s.stage,
            submitted: s.submitted,
            locale: "en".into(),
            date_submitted: s.submitted.then(|| date(now, s.submitted_days_ago)),
            date_last_activity: Some(date(now, s.activity_days_ago)),
            last_modified: Some(date(now, s.activity_days_ago)),
            texts: vec![LocalizedText {
                locale: "en".into(),
                title: s.title.into(),
                abstract_text: s.abstract_text.into(),
            }],
            fingerprint: format!("demo:{}", date(now, 0)),
            ..Default::default()
        };
        for (seq, (given, family, aff)) in s.authors.iter().enumerate() {
            rec.authors.push(Author {
                id: author_id,
                seq: seq as f64,
                given_name: (*given).into(),
                family_name: (*family).into(),
                affiliation: (*aff).into(),
                email: format!(
                    "{}.{}@example.edu",
                    given.to_lowercase(),
                    family.to_lowercase()
                ),
                ..Default::default()
            });
            author_id += 1;
        }
        for (seq, k) in s.keywords.iter().enumerate() {
            rec.terms.push(Term {
                kind: "keyword".into(),
                locale: "en".into(),
                term: (*k).into(),
                seq: seq as i64,
            });
        }
        if !s.reviews.is_empty() {
            rec.review_rounds.push(ReviewRound {
                id,
                stage_id: Some(3),
                round: 1,
                status: None,
            });
        }
        for (reviewer, assigned_ago, due_in, outcome) in s.reviews {
            let mut a = ReviewAssignment {
                id: review_id,
                reviewer_id: 100 + *reviewer as i64,
                review_round_id: Some(id),
                stage_id: Some(3),
                round: Some(1),
                date_assigned: Some(date(now, *assigned_ago)),
                date_notified: Some(date(now, *assigned_ago)),
                date_due: Some(date(now, -*due_in)),
                date_response_due: Some(date(now, *assigned_ago - 7)),
                last_modified: Some(date(now, *assigned_ago)),
                ..Default::default()
            };
            match outcome {
                Outcome::Completed {
                    days_ago,
                    recommendation,
                } => {
                    a.date_confirmed = Some(date(now, assigned_ago - 2));
                    a.date_completed = Some(date(now, *days_ago));
                    a.recommendation = Some(*recommendation);
                }
                Outcome::Declined => a.declined = true,
                Outcome::Accepted => a.date_confirmed = Some(date(now, assigned_ago - 2)),
                Outcome::Awaiting => {}
            }
            rec.review_assignments.push(a);
            review_id += 1;
        }
        if s.status == 4 {
            rec.decisions.push(Decision {
                id,
                stage_id: Some(1),
                editor_id: 1,
                decision: 8,
                date_decided: Some(date(now, s.activity_days_ago)),
                ..Default::default()
            });
        }
        if s.stage >= 4 {
            rec.decisions.push(Decision {
                id: 100 + id,
                stage_id: Some(3),
                editor_id: 1,
                decision: 2,
                date_decided: Some(date(now, s.activity_days_ago + 5)),
                ..Default::default()
            });
        }
        upsert.push(rec);
    }
    Batch {
        journals: Some((vec![journal], sections)),
        reviewers: Some(reviewers),
        upsert,
        delete: Vec::new(),
        state: vec![
            ("source".into(), "demo".into()),
            ("ojs_version".into(), String::new()),
            ("last_success_at".into(), now.to_string()),
        ],
    }
}

/// Fills (or refreshes) the store at `path` with the demo journal.
pub fn load(path: &Path) -> Result<(), StoreError> {
    let mut store = Store::open(path)?;
    store.apply(&batch(unix_now()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(date(0, 0), "1970-01-01 12:00:00");
        assert_eq!(date(1_700_000_000, 0), "2023-11-14 12:00:00");
        assert_eq!(date(951_782_400, 0), "2000-02-29 12:00:00");
    }

    #[test]
    fn demo_fills_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.sqlite3");
        load(&p).unwrap();
        load(&p).unwrap(); // twice is fine
        let s = Store::open(&p).unwrap();
        let counts: std::collections::HashMap<_, _> = s.counts().unwrap().into_iter().collect();
        assert_eq!(counts["submissions"], SUBMISSIONS.len() as i64);
        assert_eq!(counts["reviewers"], REVIEWERS.len() as i64);
        let q = s.queue_summary().unwrap();
        assert!(q.reviews_overdue >= 2, "{q:?}");
        assert_eq!(q.incomplete_submissions, 1);
        assert_eq!(q.published, 1);
        assert_eq!(q.declined, 1);
    }
}
