//! Submission files into page images and page facts: PDFs through pdfium
//! (`pdfium-render`, its library from the model store's verified `pdfium`
//! entry, loaded once per process), images (PNG, JPEG, TIFF) through `image`.
//! Everything is bounded before it is decoded: the file's size, the page
//! count, the rendering's pixels.

use super::checks::PageFacts;
use super::FiguresError;
use crate::inference::vision::detect::Rect;
use crate::inference::vision::PageImage;
use pdfium_render::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

pub use super::MAX_FILE_BYTES;
/// Pages checked per file (the first ones; the report says when more were left).
pub const MAX_PAGES: usize = 60;
/// Pixels per inch of the page renderings (what the detectors were trained near).
pub const RENDER_DPI: f32 = 150.0;
/// The longest side of a rendering.
pub const MAX_SIDE: f32 = 2400.0;
/// The most pixels a page image may have (a 600 dpi A4 scan is 35 MP).
pub const MAX_PIXELS: u64 = 40_000_000;

/// A page ready for the detectors.
pub struct Rendered {
    pub image: PageImage,
    pub facts: PageFacts,
}

/// What a file is, by its first bytes.
pub fn is_pdf(bytes: &[u8]) -> bool {
    bytes.len() >= 5
        && bytes[..1024.min(bytes.len())]
            .windows(5)
            .any(|w| w == b"%PDF-")
}

/// Renders the pages of `bytes` (a PDF or an image) one at a time and hands each to `each` (its 0-based index, and
/// the page or why it could not be rendered) before the next is rendered: one page image is in memory at a time,
/// whatever the page count. Returns how many pages the file has. `pdfium_lib` is needed for PDFs only; an error
/// from `each` stops the rendering and is returned.
pub fn each_page(
    bytes: &[u8],
    pdfium_lib: Option<&Path>,
    each: &mut dyn FnMut(usize, Result<Rendered, String>) -> Result<(), FiguresError>,
) -> Result<usize, FiguresError> {
    if bytes.is_empty() {
        return Err(FiguresError::File("the file is empty".into()));
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(FiguresError::File(format!(
            "the file is {} MiB; at most {} MiB are checked",
            bytes.len() >> 20,
            MAX_FILE_BYTES >> 20
        )));
    }
    if is_pdf(bytes) {
        let lib = pdfium_lib.ok_or_else(|| {
            FiguresError::Renderer("pdfium is not installed (scripts/fetch-models.sh)".into())
        })?;
        return pdf_pages(bytes, lib, each);
    }
    let image = decode_image(bytes)?;
    each(
        0,
        Ok(Rendered {
            image,
            facts: PageFacts::default(),
        }),
    )?;
    Ok(1)
}

fn reader(bytes: &[u8]) -> Result<image::ImageReader<std::io::Cursor<&[u8]>>, FiguresError> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| FiguresError::File(e.to_string()))?;
    if reader.format().is_none() {
        return Err(FiguresError::File(
            "not a PDF, PNG, JPEG or TIFF file".into(),
        ));
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4 + (64 << 20));
    reader.limits(limits);
    Ok(reader)
}

/// Decodes an image file into an RGB page; a file that is no image, or one too large, is a clear error.
pub fn decode_image(bytes: &[u8]) -> Result<PageImage, FiguresError> {
    let (w, h) = reader(bytes)?
        .into_dimensions()
        .map_err(|e| FiguresError::File(format!("unreadable image: {e}")))?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(FiguresError::File(format!(
            "the image is {w}x{h} pixels; at most {} million are read",
            MAX_PIXELS / 1_000_000
        )));
    }
    let img = reader(bytes)?
        .decode()
        .map_err(|e| FiguresError::File(format!("unreadable image: {e}")))?;
    let rgb = img.into_rgb8();
    Ok(PageImage {
        width: rgb.width(),
        height: rgb.height(),
        rgb: rgb.into_raw(),
    })
}

/// pdfium, bound once per process to `lib` (a second path is ignored: pdfium is one library per process).
fn pdfium(lib: &Path) -> Result<&'static Pdfium, FiguresError> {
    static PDFIUM: OnceLock<Result<Pdfium, String>> = OnceLock::new();
    PDFIUM
        .get_or_init(|| {
            Pdfium::bind_to_library(lib)
                .map(Pdfium::new)
                .map_err(|e| format!("cannot load pdfium from {}: {e}", lib.display()))
        })
        .as_ref()
        .map_err(|e| FiguresError::Renderer(e.clone()))
}

fn pdf_pages(
    bytes: &[u8],
    lib: &Path,
    each: &mut dyn FnMut(usize, Result<Rendered, String>) -> Result<(), FiguresError>,
) -> Result<usize, FiguresError> {
    let pdfium = pdfium(lib)?;
    let doc = pdfium.load_pdf_from_byte_slice(bytes, None).map_err(|e| {
        FiguresError::File(match e {
            PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::PasswordError) => {
                "the PDF is encrypted (a password is needed to open it)".to_string()
            }
            PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::FormatError) => {
                "not a readable PDF (damaged or cut short)".to_string()
            }
            other => format!("not a readable PDF ({other:?})"),
        })
    })?;
    let count = doc.pages().len() as usize;
    for (i, page) in doc.pages().iter().enumerate().take(MAX_PAGES) {
        // The page (and pdfium's own page data) is dropped before the next one is loaded.
        let rendered = render_page(&page).map_err(|e| format!("page {}: {e}", i + 1));
        drop(page);
        each(i, rendered)?;
    }
    Ok(count)
}

fn render_page(page: &PdfPage<'_>) -> Result<Rendered, String> {
    let (wp, hp) = (page.width().value, page.height().value);
    if !(wp > 1.0 && hp > 1.0 && wp < 14_400.0 && hp < 14_400.0) {
        return Err(format!(
            "a page of {wp:.0} x {hp:.0} points is no document page"
        ));
    }
    let scale = (RENDER_DPI / 72.0).min(MAX_SIDE / wp.max(hp));
    let config = PdfRenderConfig::new()
        .set_target_width((wp * scale).round() as i32)
        .set_maximum_height((hp * scale).round() as i32 + 1);
    let bitmap = page
        .render_with_config(&config)
        .map_err(|e| e.to_string())?;
    let rgb = bitmap.as_image().map_err(|e| e.to_string())?.into_rgb8();
    let image = PageImage {
        width: rgb.width(),
        height: rgb.height(),
        rgb: rgb.into_raw(),
    };
    // The rendering's pixels per inch, and page points (origin bottom left) to rendering pixels (top left); a page
    // with a /Rotate shows turned, and its points are not mapped (its images and text are not located).
    let rotated = !matches!(page.rotation(), Ok(PdfPageRenderRotation::None) | Err(_));
    let k = image.width as f32 / wp;
    let to_px = |r: PdfRect| Rect {
        x0: r.left().value * k,
        y0: (hp - r.top().value) * k,
        x1: r.right().value * k,
        y1: (hp - r.bottom().value) * k,
    };
    let text = page.text().map_err(|e| e.to_string())?;
    let text_layer = !text.chars().is_empty();
    let mut facts = PageFacts {
        dpi: Some(k * 72.0),
        text_layer: Some(text_layer),
        ..PageFacts::default()
    };
    if !rotated {
        for seg in text.segments().iter() {
            facts.captions.push((to_px(seg.bounds()), seg.text()));
        }
        for object in page.objects().iter() {
            let Some(img) = object.as_image_object() else {
                continue;
            };
            let (Ok(w), Ok(h), Ok(b)) = (img.width(), img.height(), object.bounds()) else {
                continue;
            };
            facts
                .images
                .push((to_px(b.to_rect()), w.max(0) as u32, h.max(0) as u32));
        }
    }
    Ok(Rendered { image, facts })
}

/// pdfium's library from the model store (the `pdfium` entry `scripts/fetch-models.sh` installs), verified against
/// its manifest before it is loaded.
pub fn pdfium_library(data_dir: &Path) -> Result<std::path::PathBuf, FiguresError> {
    const NAME: &str = "pdfium";
    let store = crate::models::ModelStore::resolve(data_dir, NAME)
        .map_err(|e| FiguresError::Renderer(e.to_string()))?;
    let m = store
        .verified(NAME)
        .map_err(|e| FiguresError::Renderer(e.to_string()))?;
    Ok(m.path("libpdfium.so"))
}
