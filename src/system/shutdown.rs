//! The one stop signal every part of the service obeys.
//!
//! Threads sleep on it ([`Shutdown::sleep`] wakes at once on trigger, no
//! polling) and async tasks await it ([`Shutdown::wait`], a `watch` channel).
//! It is set once and never cleared.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Cheap to clone; all clones share one flag.
#[derive(Clone)]
pub struct Shutdown(Arc<Inner>);

struct Inner {
    flag: Mutex<bool>,
    cv: Condvar,
    tx: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Shutdown {
        Shutdown(Arc::new(Inner {
            flag: Mutex::new(false),
            cv: Condvar::new(),
            tx: watch::Sender::new(false),
        }))
    }
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Asks everything to stop; wakes every sleeper and waiter.
    pub fn trigger(&self) {
        *self.0.flag.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.0.cv.notify_all();
        self.0.tx.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.0.flag.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Blocks the calling thread for up to `d`. Returns true when the time
    /// passed, false (at once) when shutdown was triggered.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        let mut stopped = self.0.flag.lock().unwrap_or_else(|p| p.into_inner());
        while !*stopped {
            let now = Instant::now();
            if now >= end {
                return true;
            }
            stopped = match self.0.cv.wait_timeout(stopped, end - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        false
    }

    /// Completes once shutdown is triggered (at once if it already was).
    pub async fn wait(&self) {
        let mut rx = self.0.tx.subscribe();
        // The sender lives as long as `self`: the wait cannot fail.
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sleeping_thread_wakes_at_once_on_trigger() {
        let s = Shutdown::new();
        let t = {
            let s = s.clone();
            std::thread::spawn(move || {
                let t0 = Instant::now();
                (s.sleep(Duration::from_secs(60)), t0.elapsed())
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        s.trigger();
        let (slept, took) = t.join().unwrap();
        assert!(!slept);
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert!(s.is_triggered());
        assert!(
            !s.sleep(Duration::from_secs(60)),
            "after trigger, sleep returns at once"
        );
    }

    #[test]
    fn sleep_returns_true_when_time_passes() {
        assert!(Shutdown::new().sleep(Duration::from_millis(10)));
    }

    #[test]
    fn async_waiters_complete_on_trigger_even_when_late() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let s = Shutdown::new();
        let s2 = s.clone();
        rt.block_on(async move {
            let waiter = tokio::spawn(async move { s2.wait().await });
            tokio::task::yield_now().await;
            s.trigger();
            waiter.await.unwrap();
            // A waiter that starts after the trigger completes at once.
            s.wait().await;
        });
    }
}
