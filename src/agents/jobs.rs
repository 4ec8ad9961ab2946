//! Background jobs a page starts and then only looks at: a submission's
//! screening report takes the LLM seconds, and a page must never wait for it.
//!
//! One job per key (a submission id); at most `max_running` at once (more is
//! [`JobError::Busy`], never a queue that grows); the outcome of the last
//! [`MAX_TRACKED`] jobs is remembered so the page can say "failed: …". The work
//! itself runs on its own thread and is bounded by whatever it calls (the
//! LLM's [`crate::inference::Worker`] has a queue and a deadline).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Finished jobs remembered (the oldest are forgotten first).
pub const MAX_TRACKED: usize = 256;

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Running { since: i64 },
    Done { at: i64 },
    Failed { at: i64, error: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JobError {
    #[error("{running} background job(s) are running already; try again when one has finished")]
    Busy { running: usize },
    #[error("cannot start a background thread: {0}")]
    Spawn(String),
}

/// Whether [`Jobs::start`] started the work or found it running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    New,
    AlreadyRunning,
}

/// The jobs of one kind (the service keeps one set for screening reports).
pub struct Jobs {
    name: &'static str,
    max_running: usize,
    states: Mutex<HashMap<i64, JobState>>,
}

impl Jobs {
    pub fn new(name: &'static str, max_running: usize) -> Arc<Jobs> {
        Arc::new(Jobs {
            name,
            max_running: max_running.max(1),
            states: Mutex::new(HashMap::new()),
        })
    }

    /// The state of `key`'s job, if one ran since the service started.
    pub fn state(&self, key: i64) -> Option<JobState> {
        self.lock().get(&key).cloned()
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        running(&self.lock())
    }

    /// Starts `work` for `key` on its own thread, unless it runs already.
    /// `now` is the clock the states are stamped with.
    pub fn start<F>(
        self: &Arc<Self>,
        key: i64,
        now: fn() -> i64,
        work: F,
    ) -> Result<Started, JobError>
    where
        F: FnOnce() -> Result<(), String> + Send + 'static,
    {
        {
            let mut states = self.lock();
            if matches!(states.get(&key), Some(JobState::Running { .. })) {
                return Ok(Started::AlreadyRunning);
            }
            let n = running(&states);
            if n >= self.max_running {
                return Err(JobError::Busy { running: n });
            }
            forget_oldest(&mut states);
            states.insert(key, JobState::Running { since: now() });
        }
        let jobs = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name(format!("{}-job", self.name))
            .spawn(move || {
                // A panic in the work must not leave the job "running" forever.
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                    .unwrap_or_else(|_| Err("the job panicked".to_string()));
                let state = match outcome {
                    Ok(()) => JobState::Done { at: now() },
                    Err(error) => JobState::Failed { at: now(), error },
                };
                jobs.lock().insert(key, state);
            });
        match spawned {
            Ok(_) => Ok(Started::New),
            Err(e) => {
                self.lock().remove(&key);
                Err(JobError::Spawn(e.to_string()))
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, JobState>> {
        // The map stays consistent whatever panicked while holding it.
        self.states.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn running(states: &HashMap<i64, JobState>) -> usize {
    states
        .values()
        .filter(|s| matches!(s, JobState::Running { .. }))
        .count()
}

/// Keeps the map under [`MAX_TRACKED`] by forgetting the oldest finished jobs.
fn forget_oldest(states: &mut HashMap<i64, JobState>) {
    while states.len() >= MAX_TRACKED {
        let oldest = states
            .iter()
            .filter_map(|(k, s)| match s {
                JobState::Done { at } | JobState::Failed { at, .. } => Some((*at, *k)),
                JobState::Running { .. } => None,
            })
            .min();
        match oldest {
            Some((_, k)) => {
                states.remove(&k);
            }
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    fn clock() -> i64 {
        1_000
    }

    fn wait_until(jobs: &Jobs, key: i64, done: impl Fn(&JobState) -> bool) -> JobState {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = jobs.state(key).filter(|s| done(s)) {
                return s;
            }
            assert!(Instant::now() < deadline, "job {key} never finished");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_job_runs_once_per_key_and_records_its_outcome() {
        let jobs = Jobs::new("test", 2);
        let (tx, rx) = mpsc::channel::<()>();
        assert_eq!(
            jobs.start(7, clock, move || {
                rx.recv().ok();
                Ok(())
            }),
            Ok(Started::New)
        );
        assert_eq!(jobs.state(7), Some(JobState::Running { since: 1_000 }));
        assert_eq!(jobs.start(7, clock, || Ok(())), Ok(Started::AlreadyRunning));
        tx.send(()).unwrap();
        let s = wait_until(&jobs, 7, |s| !matches!(s, JobState::Running { .. }));
        assert_eq!(s, JobState::Done { at: 1_000 });
        assert_eq!(jobs.running(), 0);
    }

    #[test]
    fn more_jobs_than_allowed_are_refused_not_queued() {
        let jobs = Jobs::new("test", 1);
        let (tx, rx) = mpsc::channel::<()>();
        jobs.start(1, clock, move || {
            rx.recv().ok();
            Ok(())
        })
        .unwrap();
        assert_eq!(
            jobs.start(2, clock, || Ok(())),
            Err(JobError::Busy { running: 1 })
        );
        assert_eq!(jobs.state(2), None, "a refused job leaves no trace");
        tx.send(()).unwrap();
        wait_until(&jobs, 1, |s| matches!(s, JobState::Done { .. }));
        assert_eq!(jobs.start(2, clock, || Ok(())), Ok(Started::New));
    }

    #[test]
    fn a_failing_or_panicking_job_is_recorded_as_failed() {
        let jobs = Jobs::new("test", 2);
        jobs.start(1, clock, || Err("the model is missing".into()))
            .unwrap();
        jobs.start(2, clock, || panic!("boom")).unwrap();
        let one = wait_until(&jobs, 1, |s| matches!(s, JobState::Failed { .. }));
        assert_eq!(
            one,
            JobState::Failed {
                at: 1_000,
                error: "the model is missing".into()
            }
        );
        let two = wait_until(&jobs, 2, |s| matches!(s, JobState::Failed { .. }));
        assert!(matches!(two, JobState::Failed { error, .. } if error.contains("panicked")));
    }

    #[test]
    fn finished_jobs_are_forgotten_oldest_first_beyond_the_limit() {
        let mut states = HashMap::new();
        for k in 0..MAX_TRACKED as i64 {
            states.insert(k, JobState::Done { at: k });
        }
        forget_oldest(&mut states);
        assert_eq!(states.len(), MAX_TRACKED - 1);
        assert!(!states.contains_key(&0));
    }
}
