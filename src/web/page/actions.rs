//! The pages' form actions (POST, admin role, same-origin only — the
//! [`super::super::auth::Gate`] checks `Origin`/`Sec-Fetch-Site` before any
//! handler runs, and the session cookie is `SameSite=Strict`). Each answers
//! 303 back to a page, so reloading never repeats the action.

use super::super::Reply;
use super::Page;
use crate::agents::jobs::{JobError, Started};
use crate::context::AppContext;
use crate::store::Store;

pub(crate) fn see_other(location: String) -> Reply {
    Reply::new(303, super::super::HTML, "").with_header("Location", location)
}

/// `POST /submissions/{id}/screening`: starts making the screening report in
/// the background (one job per submission, one at a time) and goes back to
/// the submission, whose page shows the progress.
pub(crate) fn make_screening(ctx: &AppContext, id: &str) -> Result<Reply, Page> {
    let id = super::super::submission_id(id).map_err(Page::from_reply)?;
    let store = super::open(ctx)?;
    if store.submission(id).map_err(Page::store)?.is_none() {
        return Err(Page::not_found(format!("There is no submission #{id}.")));
    }
    let agent = ctx.models.screening().map_err(|e| Page {
        status: 503,
        heading: "The screening model is not available".into(),
        message: format!(
            "{e}. Install it with scripts/fetch-models.sh (or an update from the channel)."
        ),
        back: Some(format!("/submissions/{id}")),
    })?;
    if agent.cached(&store, id).ok().flatten().is_some() {
        return Ok(see_other(format!("/submissions/{id}#screening")));
    }
    drop(store);
    let path = ctx.store_path.clone();
    let started = ctx
        .screening_jobs
        .start(id, crate::system::unix_now, move || {
            // Never recreate a store that vanished under the service.
            if !path.exists() {
                return Err(format!("the local store {} is gone", path.display()));
            }
            let store = Store::open(&path).map_err(|e| e.to_string())?;
            agent
                .assess(&store, id)
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
    match started {
        Ok(Started::New | Started::AlreadyRunning) => {
            Ok(see_other(format!("/submissions/{id}?follow=1#screening")))
        }
        Err(e @ JobError::Busy { .. }) => Err(Page {
            status: 503,
            heading: "The model is busy".into(),
            message: format!("Another screening report is being made: {e}."),
            back: Some(format!("/submissions/{id}")),
        }),
        Err(e) => Err(Page {
            status: 500,
            heading: "Cannot start the report".into(),
            message: e.to_string(),
            back: Some(format!("/submissions/{id}")),
        }),
    }
}

/// `POST /sync`: asks the sync loop to run now, then back to the status page.
pub(crate) fn sync_now(ctx: &AppContext) -> Result<Reply, Page> {
    if ctx.sync.request_sync() {
        Ok(see_other("/#sync".into()))
    } else {
        Err(Page {
            status: 409,
            heading: "Nothing to sync from".into(),
            message: "This box has no OJS database configured (demo mode or no ojs.url), so there is nothing to sync.".into(),
            back: Some("/".into()),
        })
    }
}
