//! A submission's figure checks over HTTP: `GET /api/submissions/{id}/figures`
//! (the cached reports of its files, the files OJS has, the background job),
//! `POST` to the same path (admin: check OJS's files, or the uploaded body
//! with `?name=`), and the submission page's form (`POST
//! /submissions/{id}/figures`: the same, with a `multipart/form-data` upload).
//!
//! The models never run inside a request: a request starts a background job
//! (one at a time, [`crate::agents::jobs::Jobs`]; another is `503 Busy`) and
//! answers `202`; the job's progress and result are read back here.

use super::page::Page;
use super::{http, Handled, Reply};
use crate::agents::jobs::{JobError, JobState, Started};
use crate::context::AppContext;
use crate::figures::agent::files_to_check;
use crate::store::Store;
use serde_json::{json, Value};

/// The largest file uploaded for a check (a manuscript with its figures; the checks' own limit is larger).
pub(crate) const MAX_UPLOAD_BYTES: usize = 40 << 20;

/// What a job checks.
pub(crate) enum Work {
    /// The submission's files in OJS's files directory.
    OjsFiles,
    /// One file given by hand.
    Upload { name: String, bytes: Vec<u8> },
}

/// Why a check could not be started.
pub(crate) struct Refused {
    pub status: u16,
    pub heading: &'static str,
    pub message: String,
}

impl Refused {
    fn new(status: u16, heading: &'static str, message: impl Into<String>) -> Refused {
        Refused {
            status,
            heading,
            message: message.into(),
        }
    }

    fn reply(self) -> Reply {
        let r = Reply::error(self.status, self.message);
        if self.status == 503 {
            r.with_header("Retry-After", "10")
        } else {
            r
        }
    }

    pub(crate) fn page(self, id: i64) -> Page {
        Page {
            status: self.status,
            heading: self.heading.into(),
            message: self.message,
            back: Some(format!("/submissions/{id}#figures")),
        }
    }
}

/// Starts checking `work` for submission `id` in the background.
pub(crate) fn start(ctx: &AppContext, id: i64, work: Work) -> Result<Started, Refused> {
    let store = ctx
        .open_store()
        .map_err(|e| Refused::new(503, "The local store cannot be read", e.to_string()))?;
    let exists = store
        .submission(id)
        .map_err(|e| Refused::new(503, "The local store cannot be read", e.to_string()))?
        .is_some();
    if !exists {
        return Err(Refused::new(
            404,
            "No such submission",
            format!("there is no submission #{id} (or it has not been synced yet)"),
        ));
    }
    let agent = ctx.models.figures().map_err(|e| {
        Refused::new(
            503,
            "The figure checks are not available",
            format!(
                "{e}; install the vision models with scripts/fetch-models.sh (or an update from the channel)"
            ),
        )
    })?;
    if let Work::OjsFiles = work {
        let files = store
            .submission_files(id)
            .map_err(|e| Refused::new(503, "The local store cannot be read", e.to_string()))?;
        if let Some(why) = agent.cannot_check_ojs_files(&files) {
            return Err(Refused::new(409, "Nothing to check", why));
        }
    }
    drop(store);
    let path = ctx.store_path.clone();
    let started = ctx.figure_jobs.start(id, crate::system::unix_now, move || {
        // Never recreate a store that vanished under the service.
        if !path.exists() {
            return Err(format!("the local store {} is gone", path.display()));
        }
        let store = Store::open(&path).map_err(|e| e.to_string())?;
        let now = crate::system::unix_now();
        let checks = match work {
            Work::OjsFiles => agent
                .check_submission(&store, id, now)
                .map_err(|e| e.to_string())?,
            Work::Upload { name, bytes } => {
                vec![agent.check_upload(&store, id, &name, bytes, now)]
            }
        };
        let failed: Vec<String> = checks
            .iter()
            .filter_map(|c| c.error.as_ref().map(|e| format!("{}: {e}", c.name)))
            .collect();
        if failed.len() == checks.len() && !failed.is_empty() {
            return Err(failed.join("; "));
        }
        Ok(())
    });
    match started {
        Ok(s) => Ok(s),
        Err(e @ JobError::Busy { .. }) => Err(Refused::new(
            503,
            "The figure checks are busy",
            format!("another submission's files are being checked: {e}"),
        )),
        Err(e) => Err(Refused::new(500, "Cannot start the checks", e.to_string())),
    }
}

/// A file name given by a client, reduced to its last component (browsers may send a whole path).
pub(crate) fn upload_name(raw: &str) -> Result<String, String> {
    let name = raw
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect::<String>();
    if name.is_empty() || name == "." || name == ".." {
        return Err("the uploaded file needs a name (for example article.pdf)".into());
    }
    Ok(name)
}

/// The job's state as JSON.
pub(crate) fn job_json(job: Option<JobState>) -> Value {
    match job {
        None => Value::Null,
        Some(JobState::Running { since }) => json!({"state": "running", "since": since}),
        Some(JobState::Done { at }) => json!({"state": "done", "at": at}),
        Some(JobState::Failed { at, error }) => {
            json!({"state": "failed", "at": at, "error": error})
        }
    }
}

/// `GET /api/submissions/{id}/figures`.
pub(crate) fn reports(ctx: &AppContext, id: &str) -> Handled {
    let id = super::submission_id(id)?;
    let store = ctx
        .open_store()
        .map_err(|e| Reply::error(503, e.to_string()))?;
    if store
        .submission(id)
        .map_err(|e| Reply::error(503, e.to_string()))?
        .is_none()
    {
        return Err(Reply::error(404, format!("submission {id} not found")));
    }
    let files = store
        .submission_files(id)
        .map_err(|e| Reply::error(503, e.to_string()))?;
    let cfg = &ctx.config.figures;
    let picked: Vec<i64> = files_to_check(&files, &cfg.stages, cfg.max_files)
        .iter()
        .map(|f| f.id)
        .collect();
    let checks = store
        .figure_checks(id)
        .map_err(|e| Reply::error(503, e.to_string()))?;
    Ok(Reply::json(
        200,
        &json!({
            "submission_id": id,
            "files_dir_configured": cfg.has_files_dir(),
            "ojs_files": files.iter().map(|f| json!({
                "submission_file_id": f.id,
                "name": f.name,
                "stage": f.stage,
                "checked_by_default": picked.contains(&f.id),
            })).collect::<Vec<_>>(),
            "checks": checks.into_iter().map(|(c, r)| {
                let mut v = serde_json::to_value(&c).unwrap_or_default();
                if let (Some(obj), Some(r)) = (v.as_object_mut(), r) {
                    obj.insert("summary".into(), r.summary.into());
                    obj.insert("problems".into(), r.problems.into());
                    obj.insert("report".into(), r.report);
                }
                v
            }).collect::<Vec<_>>(),
            "job": job_json(ctx.figure_jobs.state(id)),
        }),
    ))
}

/// `POST /api/submissions/{id}/figures`: no body checks OJS's files; a body (`?name=FILE`) is a file to check.
pub(crate) fn check(ctx: &AppContext, id: &str, query: &str, body: &[u8]) -> Handled {
    let id = super::submission_id(id)?;
    let p = super::params(query, &["name"])?;
    let work = if body.is_empty() {
        Work::OjsFiles
    } else {
        let raw = p
            .iter()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        let name = upload_name(raw).map_err(|e| Reply::error(400, format!("{e}: add ?name=")))?;
        Work::Upload {
            name,
            bytes: body.to_vec(),
        }
    };
    let started = start(ctx, id, work).map_err(Refused::reply)?;
    Ok(Reply::json(
        202,
        &json!({
            "submission_id": id,
            "started": started == Started::New,
            "job": job_json(ctx.figure_jobs.state(id)),
            "see": format!("/api/submissions/{id}/figures"),
        }),
    ))
}

/// `POST /submissions/{id}/figures` (the page's forms): a `multipart/form-data` body with a `file` is an upload;
/// anything else checks OJS's files. Back to the submission, which follows the job.
pub(crate) fn action(ctx: &AppContext, id: &str, req: &super::Req) -> Result<Reply, Page> {
    let id = super::submission_id(id).map_err(Page::from_reply)?;
    let bad = |message: String| Page {
        status: 400,
        heading: "Cannot take that file".into(),
        message,
        back: Some(format!("/submissions/{id}#figures")),
    };
    let content_type = req.header("content-type").unwrap_or_default();
    let work = if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let (name, bytes) = http::multipart_file(content_type, &req.body, "file").map_err(bad)?;
        if bytes.is_empty() {
            return Err(bad("choose a file to check first".into()));
        }
        Work::Upload {
            name: upload_name(&name).map_err(bad)?,
            bytes: bytes.to_vec(),
        }
    } else {
        Work::OjsFiles
    };
    start(ctx, id, work).map_err(|r| r.page(id))?;
    Ok(super::page::actions::see_other(format!(
        "/submissions/{id}?follow=1#figures"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploaded_names_keep_only_their_last_component() {
        assert_eq!(
            upload_name("C:\\Users\\me\\paper.pdf").unwrap(),
            "paper.pdf"
        );
        assert_eq!(upload_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(upload_name(" fig\u{0}1.png ").unwrap(), "fig1.png");
        assert!(upload_name("dir/").is_err());
        assert!(upload_name("..").is_err());
    }
}
