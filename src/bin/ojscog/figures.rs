//! `check-files`: the figure and table checks on files given by hand.

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
