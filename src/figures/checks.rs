//! The checks on one page, from what the detectors saw and what the file
//! itself says: figures and tables with or without a caption, caption
//! numbers, a figure's effective resolution at print size and its blur, text
//! inside a figure too small to read at print size, a page turned a quarter, a
//! page that is a scan. Pure functions: the page, the detections and
//! the facts in, findings out.

use crate::inference::vision::detect::{Detection, Rect};
use crate::inference::vision::{PageImage, Seen};
use serde::Serialize;

/// Below this many dots per inch at print size a raster figure is too coarse to print well.
pub const MIN_PRINT_DPI: f32 = 150.0;
/// A figure's blur score (variance of the Laplacian of its grey levels, 0..255 scale, at the rendering's
/// resolution) below this is blurred. On the drawn test pages blurred figures score under 20 and sharp ones over 160.
pub const MIN_SHARPNESS: f32 = 60.0;
/// Text inside a figure whose smallest row measures under this many points at print size is too small to read.
/// Journals ask for about 6 pt type at least. On the drawn test pages' tuning split, rows of 2–3.5 pt labels measure
/// 2.4–3.9 pt and rows of 7–10 pt labels 5.6–11.3 pt (`tests/integration/vision_files.rs` prints both ranges).
pub const MIN_TEXT_POINTS: f32 = 5.0;

/// What the file says about a page, apart from its pixels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageFacts {
    /// Pixels of the rendering per inch of the printed page (None: unknown, e.g. a bare image).
    pub dpi: Option<f32>,
    /// Whether the page has a text layer (None: not a PDF).
    pub text_layer: Option<bool>,
    /// Raster images placed on the page: where (rendering pixels) and their own size in pixels.
    pub images: Vec<(Rect, u32, u32)>,
    /// The text of the page's text layer inside a rectangle (rendering pixels); None when there is no text layer.
    pub captions: Vec<(Rect, String)>,
    /// Figures whose raster image was read at its own resolution ([`native_region`]): the figure's box and the
    /// smallest row of text found in it, in points at print size (None: no row of text).
    pub figure_text: Vec<(Rect, Option<f32>)>,
}

/// Where to read a figure's text at the resolution of the raster image under it.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeRegion {
    /// Which of [`PageFacts::images`].
    pub index: usize,
    /// The figure's part of that image, in the image's own pixels.
    pub pixels: Rect,
    /// The image's own size in pixels.
    pub size: (f32, f32),
    /// The image's pixels per inch at print size.
    pub dpi: f32,
}

/// A figure or table and what was found about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub kind: &'static str,
    pub score: f32,
    #[serde(flatten)]
    pub rect: Rect,
    /// Its caption's box and, when the page has a text layer, the caption's text.
    pub caption: Option<Caption>,
    /// Raster figures: the image's resolution at print size.
    pub dpi: Option<f32>,
    /// Figures: the variance of the Laplacian (lower is blurrier).
    pub sharpness: Option<f32>,
    /// Figures: the height of the smallest row of text found inside, in points at print size: read from the raster
    /// image under the figure at its own resolution when there is one, else from the page's rendering (where labels
    /// under ~4 pt are mostly missed).
    pub smallest_text_points: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Caption {
    #[serde(flatten)]
    pub rect: Rect,
    pub text: Option<String>,
    /// "Figure 3" → 3.
    pub number: Option<u32>,
}

/// One page's findings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageReport {
    pub page: usize,
    pub width: u32,
    pub height: u32,
    pub figures: Vec<Item>,
    pub tables: Vec<Item>,
    pub text_boxes: usize,
    pub rotated: bool,
    /// A PDF page without a text layer but with text in its pixels.
    pub scanned: bool,
    /// What the editor should look at, one line each.
    pub problems: Vec<String>,
}

/// Checks page `page` (1-based) of a file.
pub fn check_page(page: usize, img: &PageImage, seen: &Seen, facts: &PageFacts) -> PageReport {
    let captions_of = |class: &str| -> Vec<&Detection> {
        seen.layout.iter().filter(|d| d.class == class).collect()
    };
    let fig_caps = captions_of("figure_caption");
    let tab_caps = captions_of("table_caption");
    let mut used = Vec::new();
    let mut figures = Vec::new();
    for d in seen.layout.iter().filter(|d| d.class == "figure") {
        let caption = pair("figure", &d.rect, &fig_caps, &mut used, facts, img.height);
        let dpi = facts
            .dpi
            .and_then(|page_dpi| raster_dpi(&d.rect, &facts.images, page_dpi));
        let smallest = match facts.figure_text.iter().find(|(r, _)| r == &d.rect) {
            Some((_, points)) => *points,
            None => smallest_text(img, &d.rect, &seen.text, facts.dpi),
        };
        figures.push(Item {
            kind: "figure",
            score: d.score,
            rect: d.rect,
            caption,
            dpi,
            sharpness: Some(sharpness(img, &d.rect)),
            smallest_text_points: smallest,
        });
    }
    let tables: Vec<Item> = seen
        .layout
        .iter()
        .filter(|d| d.class == "table")
        .map(|d| Item {
            kind: "table",
            score: d.score,
            rect: d.rect,
            caption: pair("table", &d.rect, &tab_caps, &mut used, facts, img.height),
            dpi: None,
            sharpness: None,
            smallest_text_points: None,
        })
        .collect();
    let rotated = is_rotated(&seen.text);
    let scanned = facts.text_layer == Some(false) && seen.text.len() >= 5;
    let mut problems = Vec::new();
    for (i, f) in figures.iter().enumerate() {
        let name = format!("page {page}, figure {}", i + 1);
        if f.caption.is_none() {
            problems.push(format!("{name} has no caption"));
        }
        if let Some(dpi) = f.dpi.filter(|d| *d < MIN_PRINT_DPI) {
            problems.push(format!(
                "{name} is {dpi:.0} dpi at print size (at least {MIN_PRINT_DPI:.0} wanted)"
            ));
        }
        if f.sharpness.is_some_and(|s| s < MIN_SHARPNESS) {
            problems.push(format!("{name} looks blurred"));
        }
        if let Some(points) = f.smallest_text_points.filter(|p| *p < MIN_TEXT_POINTS) {
            problems.push(format!(
                "{name} has text about {points:.1} pt high at print size, too small to read"
            ));
        }
    }
    for (i, t) in tables.iter().enumerate() {
        if t.caption.is_none() {
            problems.push(format!("page {page}, table {} has no caption", i + 1));
        }
    }
    if rotated {
        problems.push(format!(
            "page {page} is turned a quarter (its text runs vertically)"
        ));
    }
    if scanned {
        problems.push(format!("page {page} is a scan (no text layer)"));
    }
    PageReport {
        page,
        width: img.width,
        height: img.height,
        figures,
        tables,
        text_boxes: seen.text.len(),
        rotated,
        scanned,
        problems,
    }
}

/// The caption of `item`: the nearest unused candidate just below or above it that overlaps it horizontally. The
/// candidates are the detector's caption boxes (`caps`) and, on a page with a text layer, the lines that start like
/// a caption of this kind ("Figure 3", "Table 2"): the text layer knows captions the detector misses.
fn pair(
    kind: &str,
    item: &Rect,
    caps: &[&Detection],
    used: &mut Vec<Rect>,
    facts: &PageFacts,
    page_h: u32,
) -> Option<Caption> {
    let reach = page_h as f32 * 0.06;
    let lines = facts
        .captions
        .iter()
        .filter(|(_, t)| caption_kind(t) == Some(kind))
        .map(|(r, _)| *r);
    let mut best: Option<(f32, Rect)> = None;
    for r in caps.iter().map(|c| c.rect).chain(lines) {
        if used.iter().any(|u| u.iou(&r) > 0.3) {
            continue;
        }
        let overlap = (item.x1.min(r.x1) - item.x0.max(r.x0)).max(0.0);
        if overlap < 0.3 * r.width().min(item.width()) {
            continue;
        }
        let gap = if r.y0 >= item.y1 - 2.0 {
            r.y0 - item.y1
        } else if r.y1 <= item.y0 + 2.0 {
            item.y0 - r.y1
        } else {
            continue;
        };
        if gap <= reach && best.is_none_or(|(g, _)| gap < g) {
            best = Some((gap, r));
        }
    }
    let (_, rect) = best?;
    used.push(rect);
    // The caption's own line: the text-layer line that starts like a caption and overlaps the box most.
    let text = facts
        .captions
        .iter()
        .filter(|(r, t)| r.intersection(&rect) > 0.0 && caption_kind(t) == Some(kind))
        .max_by(|a, b| a.0.intersection(&rect).total_cmp(&b.0.intersection(&rect)))
        .map(|(_, t)| t.trim().to_string());
    let number = text.as_deref().and_then(caption_number);
    Some(Caption { rect, text, number })
}

/// "figure" or "table" when `text` starts like such a caption.
fn caption_kind(text: &str) -> Option<&'static str> {
    caption_number(text)?;
    let lower = text.trim_start().to_ascii_lowercase();
    Some(if lower.starts_with("tab") {
        "table"
    } else {
        "figure"
    })
}

/// "Figure 12. …", "Fig. 3:", "Table 2 —" → the number.
pub fn caption_number(text: &str) -> Option<u32> {
    let lower = text.trim_start().to_ascii_lowercase();
    let rest = ["figure", "fig.", "fig", "table", "tab."]
        .iter()
        .find_map(|p| lower.strip_prefix(p))?;
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// The raster image that covers most of `fig` (an index into `images`).
fn raster_of(fig: &Rect, images: &[(Rect, u32, u32)]) -> Option<usize> {
    images
        .iter()
        .enumerate()
        .filter(|(_, (r, _, _))| r.inside_share(fig) > 0.5 || fig.inside_share(r) > 0.5)
        .max_by(|a, b| {
            a.1 .0
                .intersection(fig)
                .total_cmp(&b.1 .0.intersection(fig))
        })
        .map(|(i, _)| i)
}

/// The print resolution of the raster image that covers most of `fig`: its pixels over its placed size in inches.
fn raster_dpi(fig: &Rect, images: &[(Rect, u32, u32)], page_dpi: f32) -> Option<f32> {
    let (r, w, h) = &images[raster_of(fig, images)?];
    print_dpi(r, *w, *h, page_dpi)
}

/// The print resolution of an image of `w`×`h` pixels placed over `r` (rendering pixels at `page_dpi`).
fn print_dpi(r: &Rect, w: u32, h: u32, page_dpi: f32) -> Option<f32> {
    let (inch_w, inch_h) = (r.width() / page_dpi, r.height() / page_dpi);
    if inch_w <= 0.0 || inch_h <= 0.0 {
        return None;
    }
    Some((w as f32 / inch_w).min(h as f32 / inch_h))
}

impl NativeRegion {
    /// Whether text box `b` (in the crop's pixels) touches an edge where the crop cut the image: a label cut in two,
    /// not to be measured. The image's own edges cut nothing.
    pub fn cuts(&self, b: &Rect) -> bool {
        let (r, (w, h)) = (&self.pixels, self.size);
        (r.x0 >= 1.0 && b.x0 <= 1.0)
            || (r.y0 >= 1.0 && b.y0 <= 1.0)
            || (r.x1 <= w - 1.0 && b.x1 >= r.width() - 1.0)
            || (r.y1 <= h - 1.0 && b.y1 >= r.height() - 1.0)
    }
}

/// Where `fig`'s text can be read at its raster image's own resolution: the image under it and the figure's part
/// of it in the image's pixels. None without a print size (a bare image) or such an image.
pub fn native_region(fig: &Rect, facts: &PageFacts) -> Option<NativeRegion> {
    let page_dpi = facts.dpi?;
    let index = raster_of(fig, &facts.images)?;
    let (r, w, h) = &facts.images[index];
    let dpi = print_dpi(r, *w, *h, page_dpi)?;
    let (kx, ky) = (*w as f32 / r.width(), *h as f32 / r.height());
    let pixels = Rect::new(
        (fig.x0.max(r.x0) - r.x0) * kx,
        (fig.y0.max(r.y0) - r.y0) * ky,
        (fig.x1.min(r.x1) - r.x0) * kx,
        (fig.y1.min(r.y1) - r.y0) * ky,
    );
    let size = (*w as f32, *h as f32);
    (pixels.width() > 0.0 && pixels.height() > 0.0).then_some(NativeRegion {
        index,
        pixels,
        size,
        dpi,
    })
}

/// The height, in points, of the smallest text of `img` inside `fig` that reads as text: boxes shaped like words or
/// numbers standing in a row of at least three of about the same height (an axis's labels, a legend), none of them a
/// solid mark (a scatter plot's dots line up too). None without a known print size or such a row.
pub fn smallest_text(img: &PageImage, fig: &Rect, text: &[Rect], dpi: Option<f32>) -> Option<f32> {
    let dpi = dpi?;
    let boxes: Vec<&Rect> = text
        .iter()
        .filter(|t| {
            t.inside_share(fig) > 0.8
                && t.width() >= 0.4 * t.height()
                && t.width() <= 15.0 * t.height()
                && !solid_mark(img, t)
        })
        .collect();
    let centre = |r: &Rect| (r.y0 + r.y1) / 2.0;
    boxes
        .iter()
        .filter(|b| {
            let h = b.height();
            boxes
                .iter()
                .filter(|o| {
                    (centre(o) - centre(b)).abs() < 0.3 * h && (o.height() - h).abs() < 0.3 * h
                })
                .count()
                >= 3
        })
        // The row's height is its tallest box centred within it (the detector splits some labels into pieces,
        // never into taller ones), boxes over twice as tall being something else.
        .map(|b| {
            boxes
                .iter()
                .filter(|o| (b.y0..=b.y1).contains(&centre(o)) && o.height() <= 2.0 * b.height())
                .map(|o| o.height())
                .fold(b.height(), f32::max)
                / dpi
                * 72.0
        })
        .min_by(f32::total_cmp)
}

/// Whether the middle of box `r` is almost all ink: a filled mark (a dot, a bar's end), not letters or digits, whose
/// strokes leave most of a box's middle blank. Ink is what differs from the box's lightest pixel by more than 60 in
/// some channel; the middle is the centre ninth of the box.
pub fn solid_mark(img: &PageImage, r: &Rect) -> bool {
    let (w, h) = (img.width as usize, img.height as usize);
    let clamp = |v: f32, max: usize| (v.max(0.0) as usize).min(max);
    let (x0, x1) = (clamp(r.x0, w), clamp(r.x1, w));
    let (y0, y1) = (clamp(r.y0, h), clamp(r.y1, h));
    if x1 <= x0 || y1 <= y0 {
        return false;
    }
    let px = |x: usize, y: usize| &img.rgb[(y * w + x) * 3..(y * w + x) * 3 + 3];
    let mut bg = [0u8; 3];
    for y in y0..y1 {
        for x in x0..x1 {
            let p = px(x, y);
            if p.iter().map(|&c| u32::from(c)).sum::<u32>()
                > bg.iter().map(|&c| u32::from(c)).sum::<u32>()
            {
                bg.copy_from_slice(p);
            }
        }
    }
    let (cx0, cx1) = (x0 + (x1 - x0) / 3, x1 - (x1 - x0) / 3);
    let (cy0, cy1) = (y0 + (y1 - y0) / 3, y1 - (y1 - y0) / 3);
    let (mut ink, mut all) = (0usize, 0usize);
    for y in cy0..cy1.max(cy0 + 1).min(y1) {
        for x in cx0..cx1.max(cx0 + 1).min(x1) {
            let p = px(x, y);
            all += 1;
            ink += usize::from((0..3).any(|c| p[c].abs_diff(bg[c]) > 60));
        }
    }
    all > 0 && ink as f32 >= 0.8 * all as f32
}

/// Variance of the Laplacian of the grey levels inside `r`.
pub fn sharpness(img: &PageImage, r: &Rect) -> f32 {
    let (w, h) = (img.width as usize, img.height as usize);
    let x0 = (r.x0.max(0.0) as usize).min(w);
    let x1 = (r.x1.max(0.0) as usize).min(w);
    let y0 = (r.y0.max(0.0) as usize).min(h);
    let y1 = (r.y1.max(0.0) as usize).min(h);
    if x1 < x0 + 3 || y1 < y0 + 3 {
        return 0.0;
    }
    let grey = |x: usize, y: usize| {
        let p = &img.rgb[(y * w + x) * 3..(y * w + x) * 3 + 3];
        0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
    };
    let (mut sum, mut sum2, mut n) = (0f64, 0f64, 0f64);
    for y in y0 + 1..y1 - 1 {
        for x in x0 + 1..x1 - 1 {
            let l = grey(x - 1, y) + grey(x + 1, y) + grey(x, y - 1) + grey(x, y + 1)
                - 4.0 * grey(x, y);
            sum += f64::from(l);
            sum2 += f64::from(l) * f64::from(l);
            n += 1.0;
        }
    }
    let mean = sum / n;
    (sum2 / n - mean * mean) as f32
}

/// Whether most elongated text boxes stand upright (a page turned a quarter).
pub fn is_rotated(text: &[Rect]) -> bool {
    let tall = text.iter().filter(|t| t.height() > 2.0 * t.width()).count();
    let wide = text.iter().filter(|t| t.width() > 2.0 * t.height()).count();
    tall >= 5 && tall > 2 * wide
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caption_numbers_are_read_from_the_usual_forms() {
        assert_eq!(caption_number("Figure 12. The results"), Some(12));
        assert_eq!(caption_number("  Fig. 3: map"), Some(3));
        assert_eq!(caption_number("TABLE 2 — data"), Some(2));
        assert_eq!(caption_number("Figures show"), None);
        assert_eq!(caption_number("The figure 4"), None);
    }

    #[test]
    fn a_figure_gets_the_caption_just_below_it_and_a_far_one_is_not_its_caption() {
        let det = |class, r| Detection {
            class,
            score: 0.9,
            rect: r,
        };
        let page = PageImage {
            width: 1000,
            height: 1400,
            rgb: vec![255; 1000 * 1400 * 3],
        };
        let seen = Seen {
            layout: vec![
                det("figure", Rect::new(100.0, 100.0, 600.0, 400.0)),
                det("figure_caption", Rect::new(100.0, 410.0, 500.0, 430.0)),
                det("figure", Rect::new(100.0, 700.0, 600.0, 900.0)),
                det("figure_caption", Rect::new(100.0, 1200.0, 500.0, 1220.0)),
            ],
            text: vec![],
            layout_ms: 0,
            text_ms: 0,
        };
        let facts = PageFacts {
            captions: vec![(
                Rect::new(98.0, 408.0, 480.0, 432.0),
                "Figure 1. A chart".into(),
            )],
            ..PageFacts::default()
        };
        let r = check_page(1, &page, &seen, &facts);
        assert_eq!(r.figures.len(), 2);
        let c = r.figures[0].caption.as_ref().expect("captioned");
        assert_eq!(
            (c.text.as_deref(), c.number),
            (Some("Figure 1. A chart"), Some(1))
        );
        assert!(r.figures[1].caption.is_none());
        assert!(
            r.problems
                .contains(&"page 1, figure 2 has no caption".to_string()),
            "{:?}",
            r.problems
        );
        assert!(
            !r.problems
                .contains(&"page 1, figure 1 has no caption".to_string()),
            "{:?}",
            r.problems
        );
    }

    #[test]
    fn a_raster_figure_placed_large_from_few_pixels_is_coarse() {
        let fig = Rect::new(0.0, 0.0, 300.0, 150.0);
        // At 150 px per inch of the rendering, the image covers 2 x 1 inches; 200 x 100 pixels is 100 dpi.
        let dpi = raster_dpi(
            &fig,
            &[(Rect::new(0.0, 0.0, 300.0, 150.0), 200, 100)],
            150.0,
        )
        .unwrap();
        assert!((dpi - 100.0).abs() < 0.01, "{dpi}");
        assert!(raster_dpi(
            &fig,
            &[(Rect::new(900.0, 900.0, 950.0, 950.0), 10, 10)],
            150.0
        )
        .is_none());
    }

    #[test]
    fn a_figure_s_text_is_read_in_the_pixels_of_the_image_under_it() {
        // At 150 px per inch, an image of 600 x 300 pixels placed over 300 x 150 rendering pixels (2 x 1 inches):
        // 300 dpi; the figure's box covers its right half.
        let facts = PageFacts {
            dpi: Some(150.0),
            images: vec![
                (Rect::new(900.0, 900.0, 950.0, 950.0), 10, 10),
                (Rect::new(100.0, 100.0, 400.0, 250.0), 600, 300),
            ],
            ..PageFacts::default()
        };
        let n = native_region(&Rect::new(270.0, 110.0, 400.0, 240.0), &facts).unwrap();
        assert_eq!(n.index, 1);
        assert!((n.dpi - 300.0).abs() < 0.01, "{}", n.dpi);
        assert_eq!(n.pixels, Rect::new(340.0, 20.0, 600.0, 280.0));
        assert_eq!(n.size, (600.0, 300.0));
        // The crop (260 x 260 pixels) cut the image on its left, top and bottom, not at its right: a box touching
        // the left or bottom edge is a cut label, one touching the right edge only is whole.
        assert!(n.cuts(&Rect::new(0.0, 100.0, 20.0, 110.0)));
        assert!(n.cuts(&Rect::new(100.0, 250.0, 120.0, 260.0)));
        assert!(!n.cuts(&Rect::new(2.0, 100.0, 20.0, 110.0)));
        assert!(!n.cuts(&Rect::new(240.0, 100.0, 260.0, 110.0)));
        let bare = PageFacts {
            dpi: None,
            ..facts.clone()
        };
        assert!(native_region(&Rect::new(250.0, 90.0, 420.0, 260.0), &bare).is_none());
    }

    #[test]
    fn a_row_of_small_labels_is_small_text_and_single_marks_are_not_text() {
        let blank = PageImage {
            width: 1000,
            height: 500,
            rgb: vec![255; 1000 * 500 * 3],
        };
        let fig = Rect::new(0.0, 0.0, 1000.0, 500.0);
        // Three labels 10 px high in a row at 300 dpi: 2.4 pt; a lone 40 px mark is no row.
        let row: Vec<Rect> = (0..3)
            .map(|i| {
                Rect::new(
                    100.0 + 50.0 * i as f32,
                    400.0,
                    120.0 + 50.0 * i as f32,
                    410.0,
                )
            })
            .chain([Rect::new(500.0, 100.0, 540.0, 140.0)])
            .collect();
        let pt = smallest_text(&blank, &fig, &row, Some(300.0)).unwrap();
        assert!((pt - 2.4).abs() < 0.01, "{pt}");
        // A label the detector cut into pieces: the row is as tall as its whole labels.
        let mut pieces = row[..3].to_vec();
        pieces.extend([
            Rect::new(300.0, 398.0, 310.0, 412.0),
            Rect::new(320.0, 399.0, 330.0, 406.0),
        ]);
        let pt = smallest_text(&blank, &fig, &pieces, Some(300.0)).unwrap();
        assert!((pt - 14.0 / 300.0 * 72.0).abs() < 0.01, "{pt}");
        assert_eq!(smallest_text(&blank, &fig, &row[3..], Some(300.0)), None);
        assert_eq!(smallest_text(&blank, &fig, &row, None), None);
    }

    #[test]
    fn a_filled_dot_is_a_solid_mark_and_a_digit_s_strokes_are_not() {
        // 40 x 20: an orange disc of radius 7 centred at (10, 10); a black ring ("0") of radius 7 at (30, 10).
        let (w, h) = (40usize, 20usize);
        let mut rgb = vec![255u8; w * h * 3];
        for y in 0..h {
            for x in 0..w {
                let d = |cx: f32| ((x as f32 - cx).powi(2) + (y as f32 - 10.0).powi(2)).sqrt();
                let c = if d(10.0) <= 7.0 {
                    [255, 127, 14]
                } else if (5.5..=7.0).contains(&d(30.0)) {
                    [0, 0, 0]
                } else {
                    continue;
                };
                rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&c);
            }
        }
        let img = PageImage {
            width: 40,
            height: 20,
            rgb,
        };
        assert!(solid_mark(&img, &Rect::new(1.0, 1.0, 19.0, 19.0)));
        assert!(!solid_mark(&img, &Rect::new(21.0, 1.0, 39.0, 19.0)));
    }

    #[test]
    fn upright_text_boxes_mean_a_turned_page() {
        let upright: Vec<Rect> = (0..8)
            .map(|i| Rect::new(i as f32 * 30.0, 0.0, i as f32 * 30.0 + 12.0, 300.0))
            .collect();
        let lines: Vec<Rect> = (0..8)
            .map(|i| Rect::new(0.0, i as f32 * 30.0, 300.0, i as f32 * 30.0 + 12.0))
            .collect();
        assert!(is_rotated(&upright));
        assert!(!is_rotated(&lines));
    }

    #[test]
    fn a_flat_patch_has_no_sharpness_and_an_edge_has_much() {
        let (w, h) = (40usize, 40usize);
        let mut rgb = vec![255u8; w * h * 3];
        let flat = PageImage {
            width: 40,
            height: 40,
            rgb: rgb.clone(),
        };
        for y in 0..h {
            for x in 20..w {
                rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&[0, 0, 0]);
            }
        }
        let edge = PageImage {
            width: 40,
            height: 40,
            rgb,
        };
        let all = Rect::new(0.0, 0.0, 40.0, 40.0);
        assert_eq!(sharpness(&flat, &all), 0.0);
        assert!(sharpness(&edge, &all) > MIN_SHARPNESS);
    }
}
