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
/// The most pixels of a raster image placed in a PDF that is decoded at its own resolution (a full-page figure at
/// 600 dpi is ~25 MP; over this the figure is judged from the page's rendering).
pub const MAX_RASTER_PIXELS: u64 = 16_000_000;

/// The raster images placed on the page being handed over, decoded on demand at their own resolution: the
/// argument indexes [`PageFacts::images`]; None when it cannot be decoded or is over [`MAX_RASTER_PIXELS`].
pub type Rasters<'a> = &'a dyn Fn(usize) -> Option<PageImage>;

/// What [`each_page`] hands each page to.
pub type EachPage<'a> =
    dyn FnMut(usize, Result<Rendered, String>, Rasters<'_>) -> Result<(), FiguresError> + 'a;

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

/// Renders the pages of `bytes` (a PDF or an image) one at a time and hands each to `each` (its 0-based index, the
/// page or why it could not be rendered, and its raster images on demand) before the next is rendered: one page is
/// in memory at a time, whatever the page count. Returns how many pages the file has. `pdfium_lib` is needed for
/// PDFs only; an error from `each` stops the rendering and is returned.
pub fn each_page(
    bytes: &[u8],
    pdfium_lib: Option<&Path>,
    each: &mut EachPage<'_>,
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
    // An image that states its density prints at that size: it is its own page and its own placed raster.
    let dpi = stated_dpi(bytes);
    let whole = Rect::new(0.0, 0.0, image.width as f32, image.height as f32);
    let facts = PageFacts {
        dpi,
        images: dpi
            .map(|_| vec![(whole, image.width, image.height)])
            .unwrap_or_default(),
        ..PageFacts::default()
    };
    each(0, Ok(Rendered { image, facts }), &|_| None)?;
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

/// The pixels per inch an image file states for itself: PNG's pHYs (per metre), JPEG's JFIF density, TIFF's
/// XResolution and ResolutionUnit. None when it states none, only an aspect ratio, or an implausible one (under 10 or
/// over 10,000).
pub fn stated_dpi(bytes: &[u8]) -> Option<f32> {
    let be16 = |b: &[u8], i: usize| Some(u16::from_be_bytes(b.get(i..i + 2)?.try_into().ok()?));
    let be32 = |b: &[u8], i: usize| Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?));
    let dpi = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        // Chunks: length, type, data, CRC; pHYs comes before the image data.
        let mut i = 8;
        loop {
            let len = be32(bytes, i)? as usize;
            let kind = bytes.get(i + 4..i + 8)?;
            if kind == b"IDAT" || kind == b"IEND" {
                return None;
            }
            if kind == b"pHYs" && len == 9 && bytes.get(i + 16) == Some(&1) {
                break be32(bytes, i + 8)? as f32 * 0.0254;
            }
            i = i.checked_add(12 + len)?;
        }
    } else if bytes.starts_with(&[0xFF, 0xD8]) {
        // Markers: FF xx, then a big-endian length that counts itself; JFIF's APP0 comes first.
        let mut i = 2;
        loop {
            let (marker, len) = (*bytes.get(i + 1)?, be16(bytes, i + 2)? as usize);
            if bytes[i] != 0xFF || marker == 0xDA {
                return None;
            }
            let data = bytes.get(i + 4..i + 2 + len)?;
            if marker == 0xE0 && data.starts_with(b"JFIF\0") && data.len() >= 12 {
                let x = f32::from(be16(data, 8)?);
                break match data[7] {
                    1 => x,
                    2 => x * 2.54,
                    _ => return None,
                };
            }
            i += 2 + len;
        }
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        let little = bytes[0] == b'I';
        // An unsigned number of `n` bytes at `i`, in the file's byte order.
        let uint = |i: usize, n: usize| {
            let b = bytes.get(i..i + n)?;
            let fold = |v: u32, x: &u8| (v << 8) | u32::from(*x);
            Some(if little {
                b.iter().rev().fold(0, fold)
            } else {
                b.iter().fold(0, fold)
            })
        };
        // The first image directory: 12-byte entries (tag, type, count, value or offset).
        let ifd = uint(4, 4)? as usize;
        let (mut x, mut unit) = (None, 2);
        for e in 0..uint(ifd, 2)?.min(512) as usize {
            let at = ifd + 2 + 12 * e;
            match uint(at, 2)? {
                282 => {
                    let off = uint(at + 8, 4)? as usize;
                    let (n, d) = (uint(off, 4)?, uint(off + 4, 4)?);
                    x = (d > 0).then(|| n as f32 / d as f32);
                }
                296 => unit = uint(at + 8, 2)?,
                _ => {}
            }
        }
        match unit {
            2 => x?,
            3 => x? * 2.54,
            _ => return None,
        }
    } else {
        return None;
    };
    (10.0..=10_000.0).contains(&dpi).then_some(dpi)
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

fn pdf_pages(bytes: &[u8], lib: &Path, each: &mut EachPage<'_>) -> Result<usize, FiguresError> {
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
        each(i, rendered, &|k| raster(&page, k))?;
        drop(page);
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
        for (object, w, h) in placed(page) {
            if let Ok(b) = object.bounds() {
                facts.images.push((to_px(b.to_rect()), w, h));
            }
        }
    }
    Ok(Rendered { image, facts })
}

/// The raster images placed on `page` with their own size in pixels, in the page's order.
fn placed<'a>(page: &'a PdfPage<'_>) -> impl Iterator<Item = (PdfPageObject<'a>, u32, u32)> + 'a {
    page.objects().iter().filter_map(|object| {
        let img = object.as_image_object()?;
        let (w, h) = (img.width().ok()?, img.height().ok()?);
        object.bounds().ok()?;
        Some((object, w.max(0) as u32, h.max(0) as u32))
    })
}

/// The `k`-th raster image placed on `page` (the order of [`PageFacts::images`]) decoded at its own resolution;
/// None over [`MAX_RASTER_PIXELS`] or when pdfium cannot decode it.
fn raster(page: &PdfPage<'_>, k: usize) -> Option<PageImage> {
    let (object, w, h) = placed(page).nth(k)?;
    if w == 0 || h == 0 || u64::from(w) * u64::from(h) > MAX_RASTER_PIXELS {
        return None;
    }
    let rgb = object.as_image_object()?.get_raw_image().ok()?.into_rgb8();
    Some(PageImage {
        width: rgb.width(),
        height: rgb.height(),
        rgb: rgb.into_raw(),
    })
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

#[cfg(test)]
mod tests {
    use super::stated_dpi;

    #[test]
    fn an_image_s_stated_density_is_read_from_png_jpeg_and_tiff() {
        // PNG: signature, a (short) IHDR chunk, pHYs at 11811 px per metre (300 dpi), then IDAT.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend([0, 0, 0, 1]);
        png.extend(b"IHDR\0");
        png.extend([0; 4]);
        png.extend([0, 0, 0, 9]);
        png.extend(b"pHYs");
        png.extend(11811u32.to_be_bytes());
        png.extend(11811u32.to_be_bytes());
        png.extend([1, 0, 0, 0, 0]);
        png.extend([0, 0, 0, 0]);
        png.extend(b"IDAT");
        let dpi = stated_dpi(&png).unwrap();
        assert!((dpi - 300.0).abs() < 0.1, "{dpi}");
        // The unit "unknown" (0) is an aspect ratio only.
        let mut aspect = png.clone();
        aspect[8 + 13 + 16] = 0;
        assert_eq!(stated_dpi(&aspect), None);
        // JPEG: SOI, APP0 JFIF with 118 dots per cm (~300 dpi), SOS.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
        jpeg.extend(b"JFIF\0");
        jpeg.extend([1, 1, 2, 0, 118, 0, 118, 0, 0]);
        jpeg.extend([0xFF, 0xDA, 0, 2]);
        let dpi = stated_dpi(&jpeg).unwrap();
        assert!((dpi - 299.72).abs() < 0.01, "{dpi}");
        // TIFF (little-endian): one directory with XResolution 600/2 and ResolutionUnit inch.
        let mut tiff = b"II*\0".to_vec();
        tiff.extend(8u32.to_le_bytes());
        tiff.extend(2u16.to_le_bytes());
        for (tag, kind, value) in [(282u16, 5u16, 38u32), (296, 3, 2)] {
            tiff.extend(tag.to_le_bytes());
            tiff.extend(kind.to_le_bytes());
            tiff.extend(1u32.to_le_bytes());
            tiff.extend(value.to_le_bytes());
        }
        tiff.extend([0; 4]);
        tiff.extend(600u32.to_le_bytes());
        tiff.extend(2u32.to_le_bytes());
        assert_eq!(stated_dpi(&tiff), Some(300.0));
        // Cut short or not an image: no density, no panic.
        for n in 0..png.len() {
            let _ = stated_dpi(&png[..n]);
        }
        for n in 0..tiff.len() {
            assert_eq!(stated_dpi(&tiff[..n]), None);
        }
        assert_eq!(stated_dpi(b"%PDF-1.7"), None);
    }
}
