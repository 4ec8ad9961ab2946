//! The figure checks as the service's agent: a submission's files — OJS's own,
//! read through a read-only mount of OJS's files directory (`[figures]
//! files_dir`), or one uploaded by hand — checked and cached.
//!
//! Reports are cached in `figure_reports` by (file sha256, the detectors' id):
//! the same bytes seen by the same models are never checked twice, whichever
//! submission or upload they came with. `figure_checks` records the last check
//! of each file of a submission (its report's key, or why it could not be
//! checked). Every check that reaches the models, and every failure, is logged
//! in `agent_execution_log` (agent `figures`) and counted in
//! `ojscog_agent_runs_total{agent="figures",outcome}`; cache hits are not runs.
//!
//! A file's path comes from OJS's database: it is refused unless it names a
//! file inside the files directory (no absolute paths, no `..`, no symlink
//! out of it), and it is read only up to [`super::MAX_FILE_BYTES`].

use super::FiguresError;
use crate::config::FiguresConfig;
use crate::metrics::{names, Metrics};
use crate::store::records::SubmissionFile;
use crate::store::{AgentRun, CachedFigureReport, FigureCheck, Store};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The agent's name in logs and metrics.
pub const AGENT: &str = "figures";

/// Where a checked file came from.
pub const SOURCE_OJS: &str = "ojs";
pub const SOURCE_UPLOAD: &str = "upload";

/// Whether the checks can read a file of this name or MIME type (PDF, PNG, JPEG, TIFF).
pub fn is_checkable(name: &str, mimetype: Option<&str>) -> bool {
    if let Some(m) = mimetype {
        let m = m.to_ascii_lowercase();
        if m == "application/pdf" || matches!(m.as_str(), "image/png" | "image/jpeg" | "image/tiff")
        {
            return true;
        }
    }
    let lower = name.to_ascii_lowercase();
    [".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"]
        .iter()
        .any(|x| lower.ends_with(x))
}

/// Which of a submission's files are checked: those of `stages` that the checks can read, one per OJS file (a file
/// carried into a later stage keeps its `file_id`; its newest row is taken), newest first, at most `max`.
pub fn files_to_check<'a>(
    files: &'a [SubmissionFile],
    stages: &[i64],
    max: usize,
) -> Vec<&'a SubmissionFile> {
    let mut picked: Vec<&SubmissionFile> = Vec::new();
    for f in files.iter().rev() {
        if !stages.contains(&f.stage)
            || !is_checkable(&f.name, f.mimetype.as_deref())
            || picked.iter().any(|p| p.file_id == f.file_id)
        {
            continue;
        }
        picked.push(f);
    }
    picked.truncate(max);
    picked
}

/// The file `relative` (OJS's `files.path`) under `files_dir`, refusing anything that would leave it.
pub fn resolve(files_dir: &Path, relative: &str) -> Result<PathBuf, String> {
    let rel = Path::new(relative);
    if relative.is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(format!(
            "OJS records the path {relative:?}, which is not a plain path inside its files directory"
        ));
    }
    let root = files_dir.canonicalize().map_err(|e| {
        format!(
            "OJS's files directory {} cannot be read: {e}",
            files_dir.display()
        )
    })?;
    let full = root
        .join(rel)
        .canonicalize()
        .map_err(|e| format!("{relative} is not in OJS's files directory: {e}"))?;
    if !full.starts_with(&root) {
        return Err(format!(
            "{relative} leads out of OJS's files directory (a link?)"
        ));
    }
    Ok(full)
}

/// Reads at most `max` bytes of `path`; a larger file is an error, not a partial read.
pub fn read_bounded(path: &Path, max: usize) -> Result<Vec<u8>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let meta = f.metadata().map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.len() > max as u64 {
        return Err(format!(
            "it is {} bytes; files over {max} bytes are not checked",
            meta.len()
        ));
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    f.take(max as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if buf.len() > max {
        return Err(format!("it grew over {max} bytes while being read"));
    }
    Ok(buf)
}

/// Checks one file's bytes: `check` runs the models; the rest is the same for every file.
pub trait FileChecker: Send + Sync {
    /// The detectors' id (what reports are cached by).
    fn model_id(&self) -> &str;
    /// The report of one file (`name` is only shown).
    fn check(&self, name: &str, bytes: &[u8]) -> Result<super::FileReport, FiguresError>;
}

/// The figure checks of the service: the checker, where OJS's files are, the metrics.
pub struct FigureAgent {
    checker: Box<dyn FileChecker>,
    config: FiguresConfig,
    metrics: Arc<Metrics>,
}

impl FigureAgent {
    pub fn new(
        checker: Box<dyn FileChecker>,
        config: FiguresConfig,
        metrics: Arc<Metrics>,
    ) -> FigureAgent {
        FigureAgent {
            checker,
            config,
            metrics,
        }
    }

    /// The detectors' id.
    pub fn model_id(&self) -> &str {
        self.checker.model_id()
    }

    /// Why the submission's OJS files cannot be checked, if they cannot: no files directory mounted, or no file the
    /// checks can read.
    pub fn cannot_check_ojs_files(&self, files: &[SubmissionFile]) -> Option<String> {
        if !self.config.has_files_dir() {
            return Some(
                "this box cannot read OJS's files: set [figures] files_dir to a read-only mount of OJS's files \
                 directory (or upload a file by hand)"
                    .into(),
            );
        }
        if files_to_check(files, &self.config.stages, self.config.max_files).is_empty() {
            return Some(
                "OJS has no PDF or image file of this submission in the checked stages".into(),
            );
        }
        None
    }

    /// Checks the submission's files from OJS's files directory (those already cached are not checked again).
    pub fn check_submission(
        &self,
        store: &Store,
        submission_id: i64,
        now: i64,
    ) -> Result<Vec<FigureCheck>, FiguresError> {
        let files = store
            .submission_files(submission_id)
            .map_err(|e| FiguresError::File(e.to_string()))?;
        if let Some(why) = self.cannot_check_ojs_files(&files) {
            return Err(FiguresError::File(why));
        }
        let mut out = Vec::new();
        for f in files_to_check(&files, &self.config.stages, self.config.max_files) {
            let bytes = match &f.path {
                None => Err(
                    "OJS's database does not say where this file is (no `files` table)".to_string(),
                ),
                Some(p) => resolve(&self.config.files_dir, p)
                    .and_then(|full| read_bounded(&full, super::MAX_FILE_BYTES)),
            };
            out.push(self.check_one(
                store,
                submission_id,
                SOURCE_OJS,
                &f.name,
                Some(f.id),
                bytes,
                now,
            ));
        }
        Ok(out)
    }

    /// Checks a file uploaded by hand for the submission.
    pub fn check_upload(
        &self,
        store: &Store,
        submission_id: i64,
        name: &str,
        bytes: Vec<u8>,
        now: i64,
    ) -> FigureCheck {
        self.check_one(
            store,
            submission_id,
            SOURCE_UPLOAD,
            name,
            None,
            Ok(bytes),
            now,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn check_one(
        &self,
        store: &Store,
        submission_id: i64,
        source: &str,
        name: &str,
        submission_file_id: Option<i64>,
        bytes: Result<Vec<u8>, String>,
        now: i64,
    ) -> FigureCheck {
        let model = self.model_id().to_string();
        let mut check = FigureCheck {
            submission_id,
            source: source.into(),
            name: name.into(),
            submission_file_id,
            sha256: None,
            model: Some(model.clone()),
            error: None,
            checked_at: now,
        };
        let t0 = Instant::now();
        let outcome = match bytes {
            Err(e) => {
                check.error = Some(e);
                "error"
            }
            Ok(bytes) => {
                let sha = crate::models::sha256_hex(&bytes);
                check.sha256 = Some(sha.clone());
                match store.figure_report(&sha, &model) {
                    Ok(Some(_)) => {
                        // A cache hit is not a run.
                        self.record(store, &check);
                        return check;
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot read the figure report cache"),
                }
                match self.checker.check(name, &bytes) {
                    Ok(report) => {
                        let cached = CachedFigureReport {
                            summary: report.summary.clone(),
                            problems: report.problems(),
                            report: serde_json::to_value(&report).unwrap_or_default(),
                            created_at: now,
                        };
                        self.metrics
                            .inc(names::FIGURE_PAGES, &[], report.pages.len() as f64);
                        if let Err(e) = store.save_figure_report(&sha, &model, &cached) {
                            check.error = Some(format!("cannot keep the report: {e}"));
                            "error"
                        } else {
                            "ok"
                        }
                    }
                    Err(e) => {
                        check.error = Some(e.to_string());
                        if matches!(
                            &e,
                            FiguresError::Vision(crate::inference::InferenceError::Timeout { .. })
                        ) {
                            "timeout"
                        } else {
                            "error"
                        }
                    }
                }
            }
        };
        self.record(store, &check);
        let run = AgentRun {
            agent: AGENT.into(),
            submission_id: Some(submission_id),
            started_at: now,
            duration_seconds: t0.elapsed().as_secs_f64(),
            outcome: outcome.into(),
            model_id: Some(model),
            detail: Some(match &check.error {
                None => format!("{source} file {name}"),
                Some(e) => format!("{source} file {name}: {e}"),
            }),
        };
        if let Err(e) = store.log_agent_run(&run) {
            tracing::warn!(error = %e, "cannot log the figure check");
        }
        self.metrics
            .agent_run(AGENT, outcome, run.duration_seconds, now);
        match &check.error {
            None => tracing::info!(
                submission_id,
                file = name,
                seconds = run.duration_seconds,
                "figures checked"
            ),
            Some(e) => {
                tracing::warn!(submission_id, file = name, error = %e, "figure check failed")
            }
        }
        check
    }

    fn record(&self, store: &Store, check: &FigureCheck) {
        if let Err(e) = store.record_figure_check(check) {
            tracing::warn!(error = %e, "cannot record the figure check");
        }
    }
}

/// The figure checks on NCNN (the `vision` feature): the detectors and pdfium.
#[cfg(feature = "vision")]
pub struct VisionChecker {
    eye: crate::inference::vision::Eye,
    /// pdfium's library, or why it is missing (only PDFs need it).
    pdfium: Result<PathBuf, String>,
}

#[cfg(feature = "vision")]
impl VisionChecker {
    /// Loads the verified detectors from the store under `data_dir`, and finds pdfium.
    pub fn load(data_dir: &Path) -> Result<VisionChecker, FiguresError> {
        let eye = crate::inference::vision::Eye::load(
            &crate::inference::vision::VisionSettings::new(data_dir),
        )?;
        let pdfium = super::render::pdfium_library(data_dir).map_err(|e| e.to_string());
        Ok(VisionChecker { eye, pdfium })
    }
}

#[cfg(feature = "vision")]
impl FileChecker for VisionChecker {
    fn model_id(&self) -> &str {
        self.eye.model_id()
    }

    fn check(&self, name: &str, bytes: &[u8]) -> Result<super::FileReport, FiguresError> {
        let lib = match (&self.pdfium, super::render::is_pdf(bytes)) {
            (Err(e), true) => return Err(FiguresError::Renderer(e.clone())),
            (lib, _) => lib.as_ref().ok().map(|p| p.as_path()),
        };
        super::check_file(&self.eye, name, bytes, lib)
    }
}

/// The service's figure agent over the models in `data_dir`'s store; without the `vision` feature, why not.
pub fn load(
    data_dir: &Path,
    config: &FiguresConfig,
    metrics: Arc<Metrics>,
) -> Result<FigureAgent, FiguresError> {
    #[cfg(feature = "vision")]
    {
        let checker = VisionChecker::load(data_dir)?;
        Ok(FigureAgent::new(Box::new(checker), config.clone(), metrics))
    }
    #[cfg(not(feature = "vision"))]
    {
        let _ = (data_dir, config, metrics);
        Err(FiguresError::Renderer(
            "this ojscog was built without the `vision` feature".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(id: i64, file_id: i64, stage: i64, name: &str) -> SubmissionFile {
        SubmissionFile {
            id,
            file_id,
            stage,
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn each_ojs_file_is_checked_once_newest_first_within_the_stages() {
        let files = [
            file(1, 10, 2, "article.pdf"),
            file(2, 10, 4, "article.pdf"), // the same file sent to review
            file(3, 11, 2, "data.xlsx"),
            file(4, 12, 10, "galley.pdf"), // proof stage: not checked
            file(5, 13, 15, "revised.PDF"),
        ];
        let picked: Vec<i64> = files_to_check(&files, &[2, 4, 15], 6)
            .iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(picked, vec![5, 2]);
        assert_eq!(files_to_check(&files, &[2, 4, 15], 1).len(), 1);
    }

    #[test]
    fn paths_from_the_database_cannot_leave_the_files_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("files");
        std::fs::create_dir_all(root.join("journals/1")).unwrap();
        std::fs::write(root.join("journals/1/a.pdf"), b"%PDF-1.4").unwrap();
        std::fs::write(dir.path().join("secret"), b"no").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), root.join("journals/1/link.pdf"))
            .unwrap();
        assert!(resolve(&root, "journals/1/a.pdf").is_ok());
        for bad in [
            "../secret",
            "/etc/passwd",
            "journals/../../secret",
            "",
            "./journals/1/a.pdf",
        ] {
            assert!(resolve(&root, bad).is_err(), "{bad:?} was accepted");
        }
        let e = resolve(&root, "journals/1/link.pdf").unwrap_err();
        assert!(e.contains("leads out"), "{e}");
        assert!(resolve(&root, "journals/1/missing.pdf").is_err());
    }

    #[test]
    fn files_over_the_limit_are_refused_not_cut() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.pdf");
        std::fs::write(&p, vec![0u8; 100]).unwrap();
        assert_eq!(read_bounded(&p, 100).unwrap().len(), 100);
        assert!(read_bounded(&p, 99).unwrap_err().contains("over 99 bytes"));
        assert!(read_bounded(dir.path(), 1000).is_err());
    }

    #[test]
    fn checkable_files_by_type_or_name() {
        assert!(is_checkable("x.bin", Some("application/pdf")));
        assert!(is_checkable("Figure 1.TIFF", None));
        assert!(!is_checkable("data.xlsx", Some("application/vnd.ms-excel")));
    }
}
