//! The vision models on real pages: NCNN against ONNX Runtime on the same
//! input (the parity the conversion must keep), and figure, table and caption
//! detection measured on the drawn test pages (scripts/vision/pages.sh: one-page
//! PDFs with known content and their 150 dpi renderings; a quarter held out).
//! Needs the vision models (scripts/fetch-models.sh), NCNN
//! (scripts/build-ncnn.sh) and the `vision` feature.

#[cfg(feature = "vision")]
use ojscog::inference::vision::{self, detect, PageImage, VisionSettings};

#[cfg(not(feature = "vision"))]
#[test]
fn without_the_vision_feature_the_detectors_say_vision_is_not_built() {
    let dir = tempfile::tempdir().unwrap();
    let settings = ojscog::inference::vision::VisionSettings::new(dir.path());
    let e = ojscog::inference::vision::Eye::load(&settings)
        .err()
        .expect("not built")
        .to_string();
    assert!(e.contains("without the `vision` feature"), "{e}");
}

#[cfg(feature = "vision")]
struct Pages {
    dir: std::path::PathBuf,
    manifest: serde_json::Value,
}

#[cfg(feature = "vision")]
fn pages() -> Pages {
    let dir = std::env::var_os("OJSCOG_VISION_PAGES").map(std::path::PathBuf::from).expect(
        "OJSCOG_VISION_PAGES is not set: run scripts/vision/pages.sh and point it at the directory it prints \
         (scripts/test does)",
    );
    let text = std::fs::read_to_string(dir.join("manifest.json"))
        .unwrap_or_else(|e| panic!("no test pages at {}: {e}", dir.display()));
    Pages {
        manifest: serde_json::from_str(&text).expect("manifest.json"),
        dir,
    }
}

#[cfg(feature = "vision")]
fn page(p: &Pages, name: &str) -> PageImage {
    let bytes = std::fs::read(p.dir.join(format!("{name}.png"))).unwrap();
    ojscog::figures::render::decode_image(&bytes).expect("a PNG page")
}

/// The developers' store (where scripts/fetch-models.sh installs), through a scratch data dir.
#[cfg(feature = "vision")]
fn settings(dir: &std::path::Path) -> VisionSettings {
    let mut s = VisionSettings::new(dir);
    s.threads = 2;
    s
}

#[cfg(feature = "vision")]
fn ort_lib() -> std::path::PathBuf {
    let store = ojscog::models::ModelStore::new(ojscog::models::ModelStore::developer_root());
    ojscog::inference::embed::ort_dylib_path(&store)
        .expect("ONNX Runtime installed (scripts/fetch-models.sh)")
}

#[cfg(feature = "vision")]
fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "outputs differ in size");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Stated tolerance: the layout model's scores and box logits within 1e-3, the text detector's probabilities within
/// 1e-2 (fp32 on both sides; the differences are summation order), and the same boxes found.
#[cfg(feature = "vision")]
#[test]
fn ncnn_gives_what_onnx_runtime_gives_on_the_same_drawn_pages() {
    let p = pages();
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let (mut ncnn, ncnn_id) =
        vision::backend::load_ncnn(&s).expect("NCNN loads the converted models");
    let (mut onnx, _) =
        vision::backend::load_onnx(&s, &ort_lib()).expect("ONNX Runtime loads the originals");
    assert!(ncnn_id.starts_with("ncnn "), "{ncnn_id}");
    for name in ["000", "001", "003"] {
        let img = page(&p, name);
        let input = vision::layout_input(&img);
        let (a, b) = (ncnn.layout(&input).unwrap(), onnx.layout(&input).unwrap());
        assert_eq!(a.len(), 8);
        assert_eq!(b.len(), 8);
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            let d = max_diff(&x.data, &y.data);
            assert!(
                d <= 1e-3,
                "page {name}, layout output {i}: max difference {d}"
            );
        }
        let (tw, th) = detect::text_input_size(img.width, img.height, vision::TEXT_MAX_SIDE);
        let input = vision::text_input(&img, tw, th);
        let (x, y) = (
            ncnn.text(&input, th as usize, tw as usize).unwrap(),
            onnx.text(&input, th as usize, tw as usize).unwrap(),
        );
        assert_eq!(x.shape, y.shape);
        let d = max_diff(&x.data, &y.data);
        assert!(d <= 1e-2, "page {name}, text map: max difference {d}");
        let seen_n = vision::look(ncnn.as_mut(), &img).unwrap();
        let seen_o = vision::look(onnx.as_mut(), &img).unwrap();
        let classes = |s: &vision::Seen| s.layout.iter().map(|d| d.class).collect::<Vec<_>>();
        assert_eq!(classes(&seen_n), classes(&seen_o), "page {name}");
        assert!(
            (seen_n.text.len() as i64 - seen_o.text.len() as i64).abs() <= 1,
            "page {name}: {} vs {} text boxes",
            seen_n.text.len(),
            seen_o.text.len()
        );
        assert!(!seen_n.text.is_empty(), "page {name}: no text found");
    }
}

#[cfg(feature = "vision")]
#[derive(Default, Debug)]
struct Counts {
    truth: usize,
    found: usize,
    hits: usize,
}

#[cfg(feature = "vision")]
impl Counts {
    fn precision(&self) -> f64 {
        self.hits as f64 / self.found.max(1) as f64
    }
    fn recall(&self) -> f64 {
        self.hits as f64 / self.truth.max(1) as f64
    }
}

/// (split, class) → (precision, recall) floors: the measured numbers rounded down.
#[cfg(feature = "vision")]
type Floor = ((&'static str, &'static str), (f64, f64));
#[cfg(feature = "vision")]
const FLOORS: &[Floor] = &[
    (("tune", "figure"), (0.90, 0.90)),
    (("heldout", "figure"), (0.80, 0.80)),
    (("tune", "table"), (0.95, 0.85)),
    (("heldout", "table"), (0.95, 0.90)),
    (("tune", "figure_caption"), (0.65, 0.50)),
    (("heldout", "figure_caption"), (0.70, 0.45)),
    (("tune", "table_caption"), (0.70, 0.78)),
    (("heldout", "table_caption"), (0.65, 0.75)),
];

/// Precision and recall of figures, tables and their captions (a detection is right when it overlaps a drawn one of
/// its class by IoU >= 0.5) over the upright drawn pages, per split; the floors are the measured numbers rounded down.
#[cfg(feature = "vision")]
#[test]
fn figures_tables_and_captions_on_the_drawn_pages_are_found() {
    use std::collections::BTreeMap;
    let p = pages();
    let dir = tempfile::tempdir().unwrap();
    let (mut ncnn, _) = vision::backend::load_ncnn(&settings(dir.path())).unwrap();
    let mut counts: BTreeMap<(String, &str), Counts> = BTreeMap::new();
    let pages = p.manifest["pages"].as_array().unwrap();
    assert!(pages.len() >= 100, "{} pages", pages.len());
    for pg in pages {
        if pg["rotated"].as_bool() == Some(true) {
            continue;
        }
        let img = page(&p, pg["page"].as_str().unwrap());
        let out = ncnn.layout(&vision::layout_input(&img)).unwrap();
        let levels: Vec<detect::Level<'_>> = (0..4)
            .map(|i| detect::Level {
                scores: &out[i].data,
                boxes: &out[i + 4].data,
            })
            .collect();
        let found = detect::decode_layout(&levels, img.width, img.height, &vision::min_score);
        let split = pg["split"].as_str().unwrap().to_string();
        for class in ["figure", "table", "figure_caption", "table_caption"] {
            let truth: Vec<detect::Rect> = pg["elements"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] == class)
                .map(|e| {
                    let b: Vec<f32> = e["box"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_f64().unwrap() as f32)
                        .collect();
                    detect::Rect {
                        x0: b[0],
                        y0: b[1],
                        x1: b[2],
                        y1: b[3],
                    }
                })
                .collect();
            let mine: Vec<&detect::Detection> = found.iter().filter(|d| d.class == class).collect();
            let c = counts.entry((split.clone(), class)).or_default();
            c.truth += truth.len();
            c.found += mine.len();
            let mut used = vec![false; truth.len()];
            for d in mine {
                if let Some(i) =
                    (0..truth.len()).find(|&i| !used[i] && truth[i].iou(&d.rect) >= 0.5)
                {
                    used[i] = true;
                    c.hits += 1;
                }
            }
        }
    }
    for ((split, class), c) in &counts {
        eprintln!(
            "vision pages: {split:8} {class:15} truth {:4} found {:4}  precision {:.3}  recall {:.3}",
            c.truth,
            c.found,
            c.precision(),
            c.recall()
        );
    }
    for ((split, class), floor) in FLOORS {
        let c = &counts[&(split.to_string(), *class)];
        assert!(
            c.precision() >= floor.0 && c.recall() >= floor.1,
            "{split} {class}: precision {:.3} recall {:.3}, floors {floor:?}",
            c.precision(),
            c.recall()
        );
    }
}

/// A converted model whose file does not match its manifest is refused before NCNN opens it.
#[cfg(feature = "vision")]
#[test]
fn a_vision_model_whose_file_does_not_match_its_manifest_never_reaches_ncnn() {
    use ojscog::models::ModelStore;
    let dev = ModelStore::new(ModelStore::developer_root());
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    for name in [vision::LAYOUT_MODEL, vision::TEXT_MODEL] {
        let m = dev
            .current(name)
            .expect("vision models installed (scripts/fetch-models.sh)");
        let to = models.join(name).join(&m.manifest.version);
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(m.dir.clone()).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
        }
        std::os::unix::fs::symlink(&m.manifest.version, models.join(name).join("current")).unwrap();
    }
    let bin = models
        .join(vision::TEXT_MODEL)
        .join(dev.current(vision::TEXT_MODEL).unwrap().manifest.version)
        .join("model.ncnn.bin");
    let mut bytes = std::fs::read(&bin).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&bin, bytes).unwrap();
    let e = vision::Eye::load(&settings(dir.path()))
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("model.ncnn.bin"), "{e}");
}
