//! The figure checks end to end on the drawn test pages' PDFs (pdfium renders
//! them, NCNN's detectors look, the checks judge), against what was drawn:
//! captions found or missing, turned pages, scanned pages, coarse rasters; and
//! bad files through the real binary. Needs the vision models and pdfium
//! (scripts/fetch-models.sh), NCNN (scripts/build-ncnn.sh), the test pages
//! (scripts/vision/pages.sh, `OJSCOG_VISION_PAGES`) and the `vision` feature.

#[cfg(feature = "vision")]
use ojscog::figures::{self, render};
#[cfg(feature = "vision")]
use ojscog::inference::vision::{detect::Rect, Eye, VisionSettings};

#[cfg(feature = "vision")]
fn pages_dir() -> std::path::PathBuf {
    std::env::var_os("OJSCOG_VISION_PAGES").map(std::path::PathBuf::from).expect(
        "OJSCOG_VISION_PAGES is not set: run scripts/vision/pages.sh and point it at the directory it prints \
         (scripts/test does)",
    )
}

#[cfg(feature = "vision")]
fn pdfium() -> std::path::PathBuf {
    // A scratch data dir has no store of its own: the developers' store answers.
    let scratch = tempfile::tempdir().unwrap();
    render::pdfium_library(scratch.path()).expect("pdfium installed (scripts/fetch-models.sh)")
}

#[cfg(feature = "vision")]
fn rect(v: &serde_json::Value) -> Rect {
    let b: Vec<f32> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    Rect {
        x0: b[0],
        y0: b[1],
        x1: b[2],
        y1: b[3],
    }
}

/// How often a check's verdict agrees with what was drawn.
#[cfg(feature = "vision")]
#[derive(Default, Debug)]
struct Agree {
    right: usize,
    all: usize,
}

#[cfg(feature = "vision")]
impl Agree {
    fn add(&mut self, ok: bool) {
        self.all += 1;
        self.right += usize::from(ok);
    }
    fn rate(&self) -> f64 {
        self.right as f64 / self.all.max(1) as f64
    }
}

/// Every drawn PDF checked as an editor would (`figures::check_file`): the verdicts per kind of check are compared
/// with the drawing and reported; the floors are the measured rates rounded down.
#[cfg(feature = "vision")]
#[test]
fn the_checks_on_the_drawn_pdfs_agree_with_what_was_drawn() {
    use std::collections::BTreeMap;
    let dir = pages_dir();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let eye = Eye::load(&VisionSettings::new(tmp.path())).expect("the vision models load");
    let lib = pdfium();
    let mut agree: BTreeMap<String, Agree> = BTreeMap::new();
    // The smallest text rows measured on the tuning pages (lowest, highest), for the labels drawn tiny and normal:
    // where `MIN_TEXT_POINTS` sits between them.
    let (mut tiny_measured, mut normal_measured) = ((f32::MAX, 0f32), (f32::MAX, 0f32));
    for pg in manifest["pages"].as_array().unwrap() {
        let name = pg["page"].as_str().unwrap();
        let held_out = pg["split"] == "heldout";
        let mut add = |check: &str, ok: bool| {
            agree.entry(check.to_string()).or_default().add(ok);
            if held_out {
                agree
                    .entry(format!("{check}, held out"))
                    .or_default()
                    .add(ok);
            }
        };
        let bytes = std::fs::read(dir.join(format!("{name}.pdf"))).unwrap();
        let r = figures::check_file(&eye, name, &bytes, Some(&lib)).expect("checked");
        assert_eq!(r.pages.len(), 1, "{name}");
        let page = &r.pages[0];
        let (rotated, scanned) = (
            pg["rotated"].as_bool().unwrap(),
            pg["scanned"].as_bool().unwrap(),
        );
        add("turned page", page.rotated == rotated);
        add("scanned page", page.scanned == scanned);
        if rotated {
            continue;
        }
        // Caption numbers as drawn (reading order): in order when they count 1, 2, 3…
        let drawn: Vec<u64> = pg["elements"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "figure_caption")
            .filter_map(|e| e["number"].as_u64())
            .collect();
        let in_order = drawn.iter().enumerate().all(|(i, n)| *n == i as u64 + 1);
        let flagged = r.numbering.iter().any(|n| n.starts_with("Figure"));
        if !scanned {
            add("figure numbering", flagged != in_order);
        }
        for e in pg["elements"].as_array().unwrap() {
            let kind = e["kind"].as_str().unwrap();
            if kind != "figure" && kind != "table" {
                continue;
            }
            let truth = rect(&e["box"]);
            let items = if kind == "figure" {
                &page.figures
            } else {
                &page.tables
            };
            let Some(found) = items.iter().find(|i| i.rect.iou(&truth) >= 0.5) else {
                add(
                    if kind == "figure" {
                        "figure found"
                    } else {
                        "table found"
                    },
                    false,
                );
                continue;
            };
            add(
                if kind == "figure" {
                    "figure found"
                } else {
                    "table found"
                },
                true,
            );
            let captioned = e["captioned"].as_bool().unwrap();
            add(
                if kind == "figure" {
                    "figure caption"
                } else {
                    "table caption"
                },
                found.caption.is_some() == captioned,
            );
            let blurred = e["blurred"].as_bool() == Some(true);
            if kind == "figure" {
                let said = page.problems.iter().any(|p| p.ends_with("looks blurred"));
                add(
                    "figure blurred",
                    found
                        .sharpness
                        .is_some_and(|s| s < figures::checks::MIN_SHARPNESS)
                        == blurred
                        && (!blurred || said),
                );
            }
            if kind == "figure" && !scanned {
                let coarse = e["dpi"].as_f64().unwrap() < 150.0;
                add(
                    "figure resolution",
                    found.dpi.is_some_and(|d| d < 150.0) == coarse,
                );
                let tiny = e["tiny_text"].as_bool().unwrap();
                let small = found
                    .smallest_text_points
                    .is_some_and(|p| p < figures::checks::MIN_TEXT_POINTS);
                let said = page
                    .problems
                    .iter()
                    .any(|p| p.contains("too small to read"));
                let right = small == tiny && (!tiny || said);
                if !right {
                    eprintln!(
                        "tiny text wrong on {name}: labels drawn {} pt at {} dpi{}, smallest row measured {:?} pt",
                        e["label_points"],
                        e["dpi"],
                        if blurred { ", blurred" } else { "" },
                        found.smallest_text_points
                    );
                }
                add("figure tiny text", right);
                if let (Some(m), false) = (found.smallest_text_points, held_out) {
                    let (lo, hi) = if tiny {
                        &mut tiny_measured
                    } else {
                        &mut normal_measured
                    };
                    *lo = lo.min(m);
                    *hi = hi.max(m);
                }
                // Where a machine can read the labels at all: a sharp raster of at least 150 dpi.
                if !blurred && !coarse {
                    add("figure tiny text, sharp and fine", right);
                }
                if captioned {
                    let n = e["number"].as_u64().map(|n| n as u32);
                    add(
                        "caption number read",
                        found.caption.as_ref().and_then(|c| c.number) == n,
                    );
                }
            }
        }
    }
    for (check, a) in &agree {
        eprintln!(
            "vision checks: {check:20} {:4}/{:4}  {:.3}",
            a.right,
            a.all,
            a.rate()
        );
    }
    eprintln!(
        "vision checks: smallest text rows measured on the tuning pages: tiny labels {:.2}..{:.2} pt, normal {:.2}..{:.2} pt; too small under {} pt",
        tiny_measured.0, tiny_measured.1, normal_measured.0, normal_measured.1, figures::checks::MIN_TEXT_POINTS
    );
    for (check, floor) in CHECK_FLOORS {
        let a = &agree[*check];
        assert!(a.rate() >= *floor, "{check}: {:.3} < {floor}", a.rate());
    }
}

/// Measured rates rounded down (see the test above).
#[cfg(feature = "vision")]
const CHECK_FLOORS: &[(&str, f64)] = &[
    ("turned page", 0.97),
    ("scanned page", 0.97),
    ("figure found", 0.88),
    ("table found", 0.87),
    ("figure caption", 0.93),
    ("table caption", 0.88),
    ("caption number read", 0.95),
    ("figure numbering", 0.97),
    ("figure resolution", 0.97),
    ("figure blurred", 0.97),
    ("figure tiny text", 0.89),
    ("figure tiny text, sharp and fine", 0.96),
    ("figure tiny text, sharp and fine, held out", 0.9),
    ("figure caption, held out", 0.85),
    ("figure found, held out", 0.75),
];

/// Bad files get a clear error each, and the good ones are still checked: through the real binary.
#[cfg(feature = "vision")]
#[test]
fn check_files_reports_bad_files_clearly_and_checks_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let pages = pages_dir();
    std::fs::copy(pages.join("001.pdf"), dir.path().join("good.pdf")).unwrap();
    std::fs::copy(pages.join("003.png"), dir.path().join("good.png")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"just some words\n").unwrap();
    let pdf = std::fs::read(pages.join("001.pdf")).unwrap();
    std::fs::write(dir.path().join("truncated.pdf"), &pdf[..pdf.len() / 3]).unwrap();
    std::fs::write(dir.path().join("empty.pdf"), b"").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ojscog"))
        .args([
            "check-files",
            "good.pdf",
            "good.png",
            "notes.txt",
            "truncated.pdf",
            "empty.pdf",
        ])
        .current_dir(dir.path())
        .env("OJSCOG_DATA_DIR", dir.path())
        .output()
        .expect("runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "bad files make the exit status fail");
    assert!(stdout.contains("good.pdf: 1 page: "), "{stdout}\n{stderr}");
    assert!(stdout.contains("good.png: 1 page: "), "{stdout}");
    assert!(
        stderr.contains("notes.txt: not a PDF, PNG, JPEG or TIFF file"),
        "{stderr}"
    );
    assert!(
        stderr.contains("truncated.pdf: not a readable PDF"),
        "{stderr}"
    );
    assert!(stderr.contains("empty.pdf: the file is empty"), "{stderr}");
    assert!(
        stderr.contains("3 of 5 files could not be checked"),
        "{stderr}"
    );
}
