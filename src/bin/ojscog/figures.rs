//! `check-files` and `bench vision`: the figure and table checks on files given by hand, and their speed.

#[cfg(feature = "vision")]
use anyhow::Context;
use anyhow::Result;
use ojscog::config::Config;
#[cfg(feature = "vision")]
use ojscog::figures::{self, render};
#[cfg(feature = "vision")]
use ojscog::inference::vision::{Eye, VisionSettings};
use std::path::PathBuf;

/// `ojscog check-files PATH...`: one summary line and the problems per file (or JSON); a file that cannot be read is
/// reported and the others are still checked.
#[cfg(feature = "vision")]
pub(crate) fn check_files_cmd(cfg: Config, paths: Vec<PathBuf>, json: bool) -> Result<()> {
    let eye = Eye::load(&VisionSettings::new(&cfg.data_dir))
        .context("the vision models cannot be loaded")?;
    let pdfium = render::pdfium_library(&cfg.data_dir);
    let mut failed = 0;
    let mut reports = Vec::new();
    for path in &paths {
        let result = read(path).and_then(|bytes| {
            let lib = match (&pdfium, render::is_pdf(&bytes)) {
                (Err(e), true) => anyhow::bail!("{e}"),
                (lib, _) => lib.as_ref().ok().map(|p| p.as_path()),
            };
            Ok(figures::check_file(
                &eye,
                &path.display().to_string(),
                &bytes,
                lib,
            )?)
        });
        match result {
            Ok(r) if json => reports.push(serde_json::to_value(&r)?),
            Ok(r) => {
                println!("{}: {}", r.name, r.summary);
                for p in r.problems() {
                    println!("  - {p}");
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("{}: {e:#}", path.display());
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} files could not be checked", paths.len());
    }
    Ok(())
}

#[cfg(not(feature = "vision"))]
pub(crate) fn check_files_cmd(_: Config, _: Vec<PathBuf>, _: bool) -> Result<()> {
    anyhow::bail!(
        "this ojscog was built without the `vision` feature (cargo build --features vision)"
    )
}

#[cfg(feature = "vision")]
fn read(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut buf = Vec::new();
    f.take(render::MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(buf)
}

/// `ojscog bench vision DIR`: both detectors on `count` drawn pages, on NCNN or ONNX Runtime (one runtime per
/// process, so the peak RSS is that runtime's): pages per second, time per model, load time, peak RSS.
#[cfg(feature = "vision")]
pub(crate) fn bench_vision_cmd(
    cfg: Config,
    dir: &std::path::Path,
    runtime: &str,
    threads: usize,
    count: usize,
    json: bool,
) -> Result<()> {
    use ojscog::inference::vision::{backend, look};
    use std::time::Instant;
    let mut settings = VisionSettings::new(&cfg.data_dir);
    settings.threads = threads;
    let t = Instant::now();
    let (mut d, model) = match runtime {
        "ncnn" => backend::load_ncnn(&settings)?,
        "onnx" => {
            let store = ojscog::models::ModelStore::resolve(&cfg.data_dir, "onnxruntime")?;
            let lib = ojscog::inference::embed::ort_dylib_path(&store)?;
            backend::load_onnx(&settings, &lib)?
        }
        other => anyhow::bail!("unknown runtime {other:?} (ncnn or onnx)"),
    };
    let load_ms = t.elapsed().as_millis();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    files.sort();
    files.truncate(count.max(1));
    anyhow::ensure!(!files.is_empty(), "no PNG pages in {}", dir.display());
    let pages: Vec<_> = files
        .iter()
        .map(|f| Ok(render::decode_image(&std::fs::read(f)?)?))
        .collect::<Result<_>>()?;
    look(d.as_mut(), &pages[0])?; // warm-up, untimed
    let (mut layout_ms, mut text_ms) = (0u64, 0u64);
    let t = Instant::now();
    for p in &pages {
        let seen = look(d.as_mut(), p)?;
        layout_ms += seen.layout_ms;
        text_ms += seen.text_ms;
    }
    let secs = t.elapsed().as_secs_f64();
    let peak_rss = ojscog::system::peak_rss_bytes();
    let n = pages.len() as f64;
    let report = serde_json::json!({
        "runtime": runtime,
        "model": model,
        "pages": pages.len(),
        "threads": threads,
        "pages_per_second": n / secs,
        "layout_ms_per_page": layout_ms as f64 / n,
        "text_ms_per_page": text_ms as f64 / n,
        "load_ms": load_ms,
        "peak_rss_bytes": peak_rss,
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{runtime:5} {} pages, {threads} threads: {:.2} pages/s (layout {:.0} ms, text {:.0} ms per page), \
             load {load_ms} ms, peak RSS {} MiB",
            pages.len(),
            n / secs,
            layout_ms as f64 / n,
            text_ms as f64 / n,
            peak_rss >> 20
        );
    }
    Ok(())
}

#[cfg(not(feature = "vision"))]
pub(crate) fn bench_vision_cmd(
    _: Config,
    _: &std::path::Path,
    _: &str,
    _: usize,
    _: usize,
    _: bool,
) -> Result<()> {
    anyhow::bail!(
        "this ojscog was built without the `vision` feature (cargo build --features vision)"
    )
}
