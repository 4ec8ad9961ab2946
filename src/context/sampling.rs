//! Reading the device and the editorial queue into gauges, and writing every
//! counter and gauge into the store's history (pruned by retention). The
//! service's sampler thread calls [`AppContext::sample_once`] on an interval;
//! `/metrics` refreshes the gauges before it renders.

use super::AppContext;
use crate::metrics::{names, Metrics};
use crate::store::{Store, StoreError};
use crate::system::{unix_now, DeviceStatus};

/// Updates the gauges that come from the device and the store.
pub fn refresh_gauges(
    metrics: &Metrics,
    device: &DeviceStatus,
    store: &Store,
    now: i64,
    last_success: Option<i64>,
) -> Result<(), StoreError> {
    metrics.set(names::CPU_USAGE, &[], device.cpu_usage_ratio);
    metrics.set(names::MEMORY_USED, &[], device.memory_used_bytes as f64);
    metrics.set(names::MEMORY_TOTAL, &[], device.memory_total_bytes as f64);
    metrics.set(names::DISK_FREE, &[], device.disk_free_bytes as f64);
    metrics.set(names::DISK_TOTAL, &[], device.disk_total_bytes as f64);
    metrics.set(names::UPTIME, &[], device.uptime_seconds as f64);
    if let Some(t) = device.temperature_celsius {
        metrics.set(names::TEMPERATURE, &[], t);
    }
    if let Some(w) = device.disk_written_bytes {
        metrics.set(names::DISK_WRITTEN, &[], w as f64);
    }
    for n in &device.network {
        let l = [("interface", n.interface.as_str())];
        metrics.set(names::NET_RECEIVED, &l, n.received_bytes as f64);
        metrics.set(names::NET_TRANSMITTED, &l, n.transmitted_bytes as f64);
    }
    if let Some(t) = last_success {
        metrics.set(names::SYNC_STALENESS, &[], (now - t).max(0) as f64);
    }
    let q = store.queue_summary()?;
    for (stage, n) in &q.pending_by_stage {
        metrics.set(names::PENDING, &[("stage", stage)], *n as f64);
    }
    metrics.set(names::REVIEWS_ACTIVE, &[], q.reviews_active as f64);
    metrics.set(names::REVIEWS_OVERDUE, &[], q.reviews_overdue as f64);
    for w in store.workflow(now)? {
        let j = [("journal", w.journal.as_str())];
        metrics.set(names::WF_RECEIVED, &j, w.received as f64);
        for (kind, n) in &w.decisions {
            metrics.set(
                names::WF_DECISIONS,
                &[("journal", w.journal.as_str()), ("decision", kind)],
                *n as f64,
            );
        }
        for (name, v) in [
            (names::WF_ACCEPTANCE, w.acceptance_ratio),
            (names::WF_FIRST_DECISION, w.first_decision_median_seconds),
            (names::WF_TURNAROUND, w.review_turnaround_median_seconds),
            (names::WF_INVITATIONS, w.invitation_acceptance_ratio),
        ] {
            // No figure yet (nothing to divide or take a median of): no sample, rather than a made-up 0.
            match v {
                Some(v) => metrics.set(name, &j, v),
                None => metrics.remove(name, &j),
            }
        }
    }
    Ok(())
}

impl AppContext {
    /// One sampling step: refresh gauges, store the history, prune old samples.
    pub fn sample_once(&self, writer: &mut Store) -> Result<(), StoreError> {
        let now = unix_now();
        let device = self.read_device();
        refresh_gauges(
            &self.metrics,
            &device,
            writer,
            now,
            self.sync.status().last_success_at,
        )?;
        writer.insert_samples(now, &self.metrics.history_snapshot())?;
        let keep = self.config.metrics.retention_hours as i64 * 3600;
        writer.prune_samples(now - keep)?;
        Ok(())
    }
}
