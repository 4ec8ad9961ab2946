//! The checks on one page, from what the detectors saw and what the file
//! itself says: figures and tables with or without a caption, caption
//! numbers, a figure's effective resolution at print size and its blur, the
//! size of text inside a figure (measured only), a page turned a quarter, a
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
    /// Figures: the height of the smallest row of text found inside, in points at print size. Measured, not judged:
    /// at the 150 dpi rendering the text detector misses most labels under ~4 pt, so no verdict is made from it.
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
        let smallest = smallest_text(&d.rect, &seen.text, facts.dpi);
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

/// The print resolution of the raster image that covers most of `fig`: its pixels over its placed size in inches.
fn raster_dpi(fig: &Rect, images: &[(Rect, u32, u32)], page_dpi: f32) -> Option<f32> {
    let (r, w, h) = images
        .iter()
        .filter(|(r, _, _)| r.inside_share(fig) > 0.5 || fig.inside_share(r) > 0.5)
        .max_by(|a, b| a.0.intersection(fig).total_cmp(&b.0.intersection(fig)))?;
    let (inch_w, inch_h) = (r.width() / page_dpi, r.height() / page_dpi);
    if inch_w <= 0.0 || inch_h <= 0.0 {
        return None;
    }
    Some((*w as f32 / inch_w).min(*h as f32 / inch_h))
}

/// The height, in points, of the smallest text inside `fig` that reads as text: boxes shaped like words or numbers
/// standing in a row of at least three of about the same height (an axis's labels, a legend) — single marks such as a
/// scatter plot's dots are not text. None without a known print size or such a row.
fn smallest_text(fig: &Rect, text: &[Rect], dpi: Option<f32>) -> Option<f32> {
    let dpi = dpi?;
    let boxes: Vec<&Rect> = text
        .iter()
        .filter(|t| {
            t.inside_share(fig) > 0.8
                && t.width() >= 0.4 * t.height()
                && t.width() <= 15.0 * t.height()
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
        .map(|t| t.height() / dpi * 72.0)
        .min_by(f32::total_cmp)
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
