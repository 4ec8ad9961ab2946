//! systemd's service protocol (`sd_notify`), for the server install's
//! `Type=notify` unit: `READY=1` once the service answers its own `/health`,
//! `WATCHDOG=1` every half `WatchdogSec` while it keeps answering, and
//! `STOPPING=1` on the way out. The service starts this only under a service
//! manager (`config::under_service_manager`); elsewhere (the appliance, a
//! developer's shell, the tests' in-process services) `stopping` is a no-op of
//! the `sd-notify` crate, which reads systemd's other variables itself.

use std::time::Duration;

/// The service manager's watchdog timeout (`WatchdogSec=`), when it set one for this process.
pub fn watchdog_timeout() -> Option<Duration> {
    let mut usec = 0u64;
    (sd_notify::watchdog_enabled(false, &mut usec) && usec > 0).then(|| Duration::from_micros(usec))
}

fn send(states: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!(error = %e, "cannot notify the service manager");
    }
}

/// `STOPPING=1`: the service is shutting down (no restart needed).
pub fn stopping() {
    send(&[sd_notify::NotifyState::Stopping]);
}

/// Says `READY=1` (with `status`) once `alive()` holds, then pets the service
/// manager's watchdog every half timeout while `alive()` keeps holding;
/// returns when `shutdown` is triggered. Polls `alive()` every 200 ms until ready.
pub fn run(status: &str, alive: &dyn Fn() -> bool, shutdown: &super::Shutdown) -> u64 {
    while !alive() {
        if !shutdown.sleep(Duration::from_millis(200)) {
            return 0;
        }
    }
    send(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(status),
    ]);
    tracing::info!("told the service manager that the service is ready");
    let Some(timeout) = watchdog_timeout() else {
        return 0;
    };
    let period = (timeout / 2).max(Duration::from_millis(100));
    let mut pets = 0;
    loop {
        if alive() {
            send(&[sd_notify::NotifyState::Watchdog]);
            pets += 1;
        } else {
            tracing::warn!(
                "the service does not answer its own /health: not petting systemd's watchdog"
            );
        }
        if !shutdown.sleep(period) {
            return pets;
        }
    }
}
