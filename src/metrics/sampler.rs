//! Periodically reads the device and the editorial queue into gauges, and
//! writes every counter and gauge into the store's history (pruned by retention).

use super::{names, Metrics};
use crate::service::{sleep_unless_shutdown, AppContext};
use crate::store::{Store, StoreError};
use crate::system::{unix_now, DeviceStatus};
use std::time::Duration;

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
    if let Some(t) = last_success {
        metrics.set(names::SYNC_STALENESS, &[], (now - t).max(0) as f64);
    }
    let q = store.queue_summary()?;
    for (stage, n) in &q.pending_by_stage {
        metrics.set(names::PENDING, &[("stage", stage)], *n as f64);
    }
    metrics.set(names::REVIEWS_ACTIVE, &[], q.reviews_active as f64);
    metrics.set(names::REVIEWS_OVERDUE, &[], q.reviews_overdue as f64);
    Ok(())
}

/// One sampling step: refresh gauges, store the history, prune old samples.
pub fn sample_once(ctx: &AppContext, writer: &mut Store) -> Result<(), StoreError> {
    let now = unix_now();
    let device = ctx.device.lock().unwrap_or_else(|p| p.into_inner()).read();
    refresh_gauges(
        &ctx.metrics,
        &device,
        writer,
        now,
        ctx.sync.status().last_success_at,
    )?;
    writer.insert_samples(now, &ctx.metrics.history_snapshot())?;
    let keep = ctx.config.metrics.retention_hours as i64 * 3600;
    writer.prune_samples(now - keep)?;
    Ok(())
}

/// The sampler thread: one sample at start, then every `sample_interval_secs`.
pub fn run(ctx: &AppContext, shutdown: &crate::system::Shutdown) {
    let interval = Duration::from_secs(ctx.config.metrics.sample_interval_secs);
    let mut writer = match Store::open(&ctx.store_path) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "metrics sampler cannot open the store");
            return;
        }
    };
    loop {
        if let Err(e) = sample_once(ctx, &mut writer) {
            tracing::warn!(error = %e, "metrics sample failed");
        }
        if !sleep_unless_shutdown(shutdown, interval) {
            return;
        }
    }
}
