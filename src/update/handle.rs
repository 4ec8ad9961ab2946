//! The running service's updater: a thread that checks the channel on a
//! timer and on request (`POST /api/update`), and the handle the web server
//! asks for the status.

use super::fetch::Channel;
use super::status::UpdateStatus;
use super::updater::Updater;
use crate::metrics::Metrics;
use std::sync::{Arc, Mutex};

/// What an admin asked the running service's updater to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Check,
    Apply,
}

/// The running service's updater: its status, and requests from the API
/// that wake its thread.
pub struct UpdateHandle {
    pub updater: Option<Updater>,
    /// Why there is no updater (the keys did not load).
    pub error: Option<String>,
    pub channel: Option<Channel>,
    request: Mutex<Option<Request>>,
    wake: std::sync::Condvar,
}

impl UpdateHandle {
    pub fn new(config: &crate::config::Config, metrics: Arc<Metrics>) -> UpdateHandle {
        let (updater, error) = match Updater::from_config(config, Some(metrics)) {
            Ok(u) => (Some(u), None),
            Err(e) => (None, Some(e.to_string())),
        };
        UpdateHandle {
            updater,
            error,
            channel: Updater::configured_channel(config),
            request: Mutex::new(None),
            wake: std::sync::Condvar::new(),
        }
    }

    pub fn status(&self) -> UpdateStatus {
        let mut s = self
            .updater
            .as_ref()
            .map(|u| u.status.get())
            .unwrap_or_default();
        if let Some(e) = &self.error {
            s.state = "disabled".into();
            s.last_failure = Some(e.clone());
        }
        s
    }

    /// Asks the updater thread to run now; false when nothing can run (no
    /// channel or no updater).
    pub fn request(&self, r: Request) -> bool {
        if self.updater.is_none() || self.channel.is_none() {
            return false;
        }
        let mut slot = self.request.lock().unwrap_or_else(|p| p.into_inner());
        // Apply wins over check when both were asked.
        if *slot != Some(Request::Apply) {
            *slot = Some(r);
        }
        self.wake.notify_all();
        true
    }

    /// Wakes the thread (to see a shutdown).
    pub fn notify(&self) {
        self.wake.notify_all();
    }

    /// Waits up to `d` for a request; returns it (None: the time passed, or
    /// `stopping` said stop after a [`UpdateHandle::notify`]).
    pub fn wait(&self, d: std::time::Duration, stopping: &dyn Fn() -> bool) -> Option<Request> {
        let slot = self.request.lock().unwrap_or_else(|p| p.into_inner());
        let (mut slot, _) = self
            .wake
            .wait_timeout_while(slot, d, |r| r.is_none() && !stopping())
            .unwrap_or_else(|p| p.into_inner());
        slot.take()
    }

    /// The updater thread's body: finish interrupted activations, then check
    /// every `interval` (and on request), applying when `auto_apply` or asked.
    /// `installed` is called after a model was installed (to reload it).
    pub fn run(
        &self,
        interval: std::time::Duration,
        auto_apply: bool,
        stopping: &dyn Fn() -> bool,
        installed: &dyn Fn(),
    ) {
        let Some(updater) = &self.updater else { return };
        match updater.recover(crate::system::unix_now()) {
            Ok(r) if r.iter().any(|r| r.result == "installed") => installed(),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot finish interrupted update activations"),
        }
        let Some(channel) = &self.channel else { return };
        // The first check soon after start, not at once: let the service settle.
        let mut wait = std::time::Duration::from_secs(30).min(interval);
        while !stopping() {
            let asked = self.wait(wait, stopping);
            if stopping() {
                return;
            }
            wait = interval;
            let apply = asked == Some(Request::Apply) || (asked.is_none() && auto_apply);
            let now = crate::system::unix_now;
            let plan = match updater.check(channel, now()) {
                Ok(p) => p,
                Err(_) => continue, // recorded and shown by `check`
            };
            if apply && !plan.todo.is_empty() {
                let done = updater.apply(channel, &plan, &now, stopping);
                if done
                    .iter()
                    .any(|r| r.kind == "model" && r.result == "installed")
                {
                    installed();
                }
            }
        }
    }
}
