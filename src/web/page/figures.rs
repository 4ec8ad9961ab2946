//! The submission page's "Figures and tables" card: the last check of each of
//! the submission's files (one line for the editor, then what to look at), the
//! background job's progress, and for the admin the two ways to start one:
//! check OJS's files, or upload a file by hand. The page only reads the store;
//! the models run in the job.

use super::super::auth::Role;
use super::super::format::{self, escape};
use crate::agents::jobs::JobState;
use crate::context::AppContext;
use std::fmt::Write as _;

/// Problems listed per file before "and N more".
const PROBLEMS_SHOWN: usize = 8;

pub(super) fn card(
    h: &mut String,
    ctx: &AppContext,
    role: Role,
    id: i64,
    (job, follow): (Option<JobState>, bool),
    now: i64,
) {
    h.push_str(r#"<section class="card" id="figures"><h2>Figures and tables</h2>"#);
    let store = match ctx.open_store() {
        Ok(s) => s,
        Err(e) => {
            let _ = write!(
                h,
                r#"<p class="error">The checks cannot be read: {}</p></section>"#,
                escape(&e.to_string())
            );
            return;
        }
    };
    let checks = store.figure_checks(id).unwrap_or_default();
    let files = store.submission_files(id).unwrap_or_default();
    match &job {
        Some(JobState::Running { since }) => super::submission::job_running(
            h,
            (id, "figures"),
            "The files are being checked on the box",
            (*since, follow, now),
        ),
        Some(JobState::Failed { at, error }) => {
            super::submission::job_failed(h, "figures", "The last check failed", *at, error, now)
        }
        _ => {}
    }
    if checks.is_empty() {
        h.push_str(r#"<p class="muted" id="figures-none">Not checked yet: captions, figure resolution and sharpness, tiny text, turned and scanned pages.</p>"#);
    } else {
        h.push_str(r#"<ul class="figure-files" id="figures-files">"#);
        for (c, report) in &checks {
            let from = if c.source == "upload" {
                "uploaded"
            } else {
                "from OJS"
            };
            let _ = write!(
                h,
                r#"<li><div><strong>{name}</strong> <span class="muted small">({from}, {ago})</span></div>"#,
                name = escape(&c.name),
                ago = escape(&format::ago(now - c.checked_at)),
            );
            match (report, &c.error) {
                (_, Some(e)) => {
                    let _ = write!(
                        h,
                        r#"<p class="error figure-error">Not checked: {}</p>"#,
                        escape(e)
                    );
                }
                (Some(r), None) => {
                    let _ = write!(h, r#"<p class="figure-summary">{}</p>"#, escape(&r.summary));
                    if !r.problems.is_empty() {
                        h.push_str(r#"<ul class="figure-problems">"#);
                        for p in r.problems.iter().take(PROBLEMS_SHOWN) {
                            let _ = write!(h, "<li>{}</li>", escape(p));
                        }
                        if r.problems.len() > PROBLEMS_SHOWN {
                            let _ = write!(
                                h,
                                r#"<li class="muted">and {} more (<a href="/api/submissions/{id}/figures">the full report</a>)</li>"#,
                                r.problems.len() - PROBLEMS_SHOWN
                            );
                        }
                        h.push_str("</ul>");
                    }
                }
                (None, None) => h.push_str(
                    r#"<p class="muted">The report is no longer cached; check again.</p>"#,
                ),
            }
            h.push_str("</li>");
        }
        h.push_str("</ul>");
    }
    if !cfg!(feature = "vision") {
        h.push_str(r#"<p class="muted small">This ojscog was built without the figure checks (the <code>vision</code> feature).</p></section>"#);
        return;
    }
    if role != Role::Admin {
        h.push_str(r#"<p class="muted small">Checking files needs the admin token: <a href="/signin">sign in</a> with it.</p></section>"#);
        return;
    }
    let running = matches!(job, Some(JobState::Running { .. }));
    let disabled = if running { " disabled" } else { "" };
    let cfg = &ctx.config.figures;
    let checkable = crate::figures::agent::files_to_check(&files, &cfg.stages, cfg.max_files);
    if cfg.has_files_dir() && !checkable.is_empty() {
        let _ = write!(
            h,
            r#"<form method="post" action="/submissions/{id}/figures" class="actions"><button type="submit" class="primary" id="check-figures"{disabled}>Check {n} file{s} from OJS</button></form>"#,
            n = checkable.len(),
            s = if checkable.len() == 1 { "" } else { "s" },
        );
    } else if !cfg.has_files_dir() {
        h.push_str(r#"<p class="muted small" id="figures-no-mount">OJS's files are not mounted on this box (<code>[figures] files_dir</code>); upload a file to check it.</p>"#);
    }
    let _ = write!(
        h,
        r#"<form method="post" action="/submissions/{id}/figures" enctype="multipart/form-data" class="actions"><label for="figures-file">Check a file</label> <input type="file" id="figures-file" name="file" accept=".pdf,.png,.jpg,.jpeg,.tif,.tiff" required> <button type="submit" id="upload-figures"{disabled}>Upload and check</button></form><p class="muted small">PDF, PNG, JPEG or TIFF, up to {} MB.</p>"#,
        super::super::figures::MAX_UPLOAD_BYTES >> 20
    );
    h.push_str("</section>");
}
