//! Figure, table and text checks on submission files, on the device: files →
//! pages ([`render`]: PDFs through pdfium, images through `image`) → the NCNN
//! detectors ([`crate::inference::vision::Eye`]: page layout, text) →
//! [`checks`] per page (captions, resolution at print size, blur, tiny text,
//! turned and scanned pages) → one [`FileReport`] with a line for the editor.
//!
//! Rendering and checking are bounded: a file's size, its page count (the
//! first [`render::MAX_PAGES`] are checked), the rendering's pixels; a page
//! that cannot be rendered is an error of that page, not of the file.

pub mod agent;
pub mod checks;
#[cfg(feature = "vision")]
pub mod render;

use checks::PageReport;
use serde::Serialize;

/// The largest file checked (a file over it is refused, never cut).
pub const MAX_FILE_BYTES: usize = 100 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FiguresError {
    #[error("{0}")]
    File(String),
    #[error("the PDF renderer is not available: {0}")]
    Renderer(String),
    #[error(transparent)]
    Vision(#[from] crate::inference::InferenceError),
}

/// The checks of one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    pub name: String,
    pub sha256: String,
    /// The pages the file has, and the ones checked (the first ones).
    pub page_count: usize,
    pub pages: Vec<PageReport>,
    /// Pages that could not be rendered, with why.
    pub page_errors: Vec<String>,
    /// Caption numbers out of order ("Figure 4 follows Figure 2").
    pub numbering: Vec<String>,
    /// The detectors and their versions.
    pub models: String,
    /// One line for the editor.
    pub summary: String,
}

impl FileReport {
    /// Every problem of the file, pages first.
    pub fn problems(&self) -> Vec<String> {
        let mut p: Vec<String> = self
            .pages
            .iter()
            .flat_map(|r| r.problems.iter().cloned())
            .collect();
        p.extend(self.numbering.iter().cloned());
        p.extend(self.page_errors.iter().cloned());
        p
    }
}

/// Figure (or table) captions numbered out of order, in reading order over the pages: each number should be one more
/// than the one before.
pub fn numbering(pages: &[PageReport], kind: &str) -> Vec<String> {
    let mut numbers: Vec<u32> = Vec::new();
    for p in pages {
        let items = if kind == "figure" {
            &p.figures
        } else {
            &p.tables
        };
        // Reading order: a column at a time (an item narrower than the page's half, right of its middle, is in the
        // right column), top to bottom.
        let mid = p.width as f32 / 2.0;
        let column = |r: &checks::Item| {
            u8::from(r.rect.width() < 0.6 * p.width as f32 && (r.rect.x0 + r.rect.x1) / 2.0 > mid)
        };
        let mut ordered: Vec<&checks::Item> = items.iter().collect();
        ordered.sort_by(|a, b| {
            column(a)
                .cmp(&column(b))
                .then(a.rect.y0.total_cmp(&b.rect.y0))
        });
        numbers.extend(
            ordered
                .iter()
                .filter_map(|i| i.caption.as_ref().and_then(|c| c.number)),
        );
    }
    let name = if kind == "figure" { "Figure" } else { "Table" };
    let mut out = Vec::new();
    let mut last = 0;
    for n in numbers {
        if n != last + 1 {
            out.push(if last == 0 {
                format!("{name} {n} is the first {kind} caption (expected {name} 1)")
            } else {
                format!("{name} {n} follows {name} {last}")
            });
        }
        last = n;
    }
    out
}

/// The line an editor reads first.
pub fn summary(
    pages: &[PageReport],
    page_count: usize,
    numbering: &[String],
    errors: usize,
) -> String {
    let figures: usize = pages.iter().map(|p| p.figures.len()).sum();
    let tables: usize = pages.iter().map(|p| p.tables.len()).sum();
    let uncaptioned = pages
        .iter()
        .flat_map(|p| p.figures.iter().chain(&p.tables))
        .filter(|i| i.caption.is_none())
        .count();
    let problems: usize =
        pages.iter().map(|p| p.problems.len()).sum::<usize>() + numbering.len() + errors;
    let mut s = format!(
        "{} page{}{}: {figures} figure{}, {tables} table{}",
        pages.len(),
        if pages.len() == 1 { "" } else { "s" },
        if page_count > pages.len() {
            format!(" of {page_count} checked")
        } else {
            String::new()
        },
        if figures == 1 { "" } else { "s" },
        if tables == 1 { "" } else { "s" },
    );
    if problems == 0 {
        s.push_str("; nothing to fix");
    } else {
        s.push_str(&format!(
            "; {problems} thing{} to look at",
            if problems == 1 { "" } else { "s" }
        ));
        if uncaptioned > 0 {
            s.push_str(&format!(" ({uncaptioned} without caption)"));
        }
    }
    s
}

/// Checks one file end to end: its pages rendered, seen by `eye`, checked.
#[cfg(feature = "vision")]
pub fn check_file(
    eye: &crate::inference::vision::Eye,
    name: &str,
    bytes: &[u8],
    pdfium_lib: Option<&std::path::Path>,
) -> Result<FileReport, FiguresError> {
    let mut pages = Vec::new();
    let mut page_errors = Vec::new();
    // Page by page: each rendering is looked at and checked, then dropped before the next page is rendered.
    let page_count = render::each_page(bytes, pdfium_lib, &mut |i, r, rasters| {
        match r {
            Ok(r) => {
                let image = std::sync::Arc::new(r.image);
                let seen = eye.look(image.clone())?;
                let mut facts = r.facts;
                facts.figure_text = native_text(eye, &seen, &facts, rasters)?;
                pages.push(checks::check_page(i + 1, &image, &seen, &facts));
            }
            Err(e) => page_errors.push(e),
        }
        Ok(())
    })?;
    let mut numbers = numbering(&pages, "figure");
    numbers.extend(numbering(&pages, "table"));
    let summary = summary(&pages, page_count, &numbers, page_errors.len());
    Ok(FileReport {
        name: name.to_string(),
        sha256: crate::models::sha256_hex(bytes),
        page_count,
        pages,
        page_errors,
        numbering: numbers,
        models: eye.model_id().to_string(),
        summary,
    })
}

/// The text inside each figure that has a raster image under it, read at that image's own resolution (the page's
/// rendering loses labels under ~4 pt): the figure's box and the smallest row of text, in points at print size. A
/// scan is the page itself and is read from the rendering.
#[cfg(feature = "vision")]
fn native_text(
    eye: &crate::inference::vision::Eye,
    seen: &crate::inference::vision::Seen,
    facts: &checks::PageFacts,
    rasters: render::Rasters<'_>,
) -> Result<Vec<(crate::inference::vision::detect::Rect, Option<f32>)>, FiguresError> {
    let mut out = Vec::new();
    if facts.text_layer == Some(false) {
        return Ok(out);
    }
    for fig in seen.layout.iter().filter(|d| d.class == "figure") {
        let Some(region) = checks::native_region(&fig.rect, facts) else {
            continue;
        };
        let Some(raster) = rasters(region.index) else {
            continue;
        };
        let Some(part) = raster.crop(&region.pixels) else {
            continue;
        };
        let whole = crate::inference::vision::detect::Rect::new(
            0.0,
            0.0,
            part.width as f32,
            part.height as f32,
        );
        drop(raster);
        let part = std::sync::Arc::new(part);
        let mut boxes = eye.read_text(part.clone())?;
        boxes.retain(|b| !region.cuts(b));
        out.push((
            fig.rect,
            checks::smallest_text(&part, &whole, &boxes, Some(region.dpi)),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::vision::detect::Rect;
    use checks::{Caption, Item};

    fn figure(number: Option<u32>) -> Item {
        let r = Rect {
            x0: 0.0,
            y0: 0.0,
            x1: 10.0,
            y1: 10.0,
        };
        Item {
            kind: "figure",
            score: 0.9,
            rect: r,
            caption: number.map(|n| Caption {
                rect: r,
                text: Some(format!("Figure {n}.")),
                number: Some(n),
            }),
            dpi: None,
            sharpness: None,
            smallest_text_points: None,
        }
    }

    fn page(figures: Vec<Item>) -> PageReport {
        PageReport {
            page: 1,
            width: 10,
            height: 10,
            figures,
            tables: vec![],
            text_boxes: 0,
            rotated: false,
            scanned: false,
            problems: vec![],
        }
    }

    #[test]
    fn caption_numbers_must_count_up_by_one_across_pages() {
        let ok = [
            page(vec![figure(Some(1)), figure(None)]),
            page(vec![figure(Some(2))]),
        ];
        assert!(numbering(&ok, "figure").is_empty());
        let bad = [
            page(vec![figure(Some(1)), figure(Some(3))]),
            page(vec![figure(Some(2))]),
        ];
        assert_eq!(
            numbering(&bad, "figure"),
            vec!["Figure 3 follows Figure 1", "Figure 2 follows Figure 3"]
        );
        assert_eq!(
            numbering(&[page(vec![figure(Some(2))])], "figure"),
            vec!["Figure 2 is the first figure caption (expected Figure 1)"]
        );
    }

    #[test]
    fn the_summary_counts_what_an_editor_looks_at() {
        let mut p = page(vec![figure(Some(1)), figure(None)]);
        p.problems = vec!["page 1, figure 2 has no caption".into()];
        assert_eq!(
            summary(&[p], 12, &[], 0),
            "1 page of 12 checked: 2 figures, 0 tables; 1 thing to look at (1 without caption)"
        );
        assert_eq!(
            summary(&[page(vec![])], 1, &[], 0),
            "1 page: 0 figures, 0 tables; nothing to fix"
        );
    }
}
