//! The device, appliance and backups cards of the status page: CPU, memory,
//! disk, temperature, the A/B root slots, the last scheduled backup.

use super::{row, row_with_value};
use crate::context::AppContext;
use crate::system::appliance::Slots;
use crate::system::DeviceStatus;
use crate::web::format::{self, escape};
use std::fmt::Write as _;

/// A labelled meter: "CPU 12 %" with a bar, coloured by how full it is.
fn meter(h: &mut String, id: &str, label: &str, ratio: f64, text: &str, data: &str) {
    let ratio = if ratio.is_finite() {
        ratio.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let tone = if ratio >= 0.9 {
        "bad"
    } else if ratio >= 0.75 {
        "warn"
    } else {
        "good"
    };
    let _ = write!(
        h,
        r#"<div class="meter"><div class="meter-head"><span>{label}</span><span id="{id}" data-value="{data}">{text}</span></div><div class="meter-bar"><span class="{tone}" style="width:{w:.1}%"></span></div></div>"#,
        label = escape(label),
        text = escape(text),
        data = escape(data),
        w = ratio * 100.0,
    );
}

pub(super) fn device_card(h: &mut String, d: &DeviceStatus) {
    h.push_str(r#"<section class="card" id="device"><h2>Device</h2>"#);
    meter(
        h,
        "device-cpu",
        "CPU",
        d.cpu_usage_ratio,
        &format!(
            "{} of {} cores",
            format::percent(d.cpu_usage_ratio),
            d.cpu_count
        ),
        &format!("{:.4}", d.cpu_usage_ratio),
    );
    let mem_ratio = if d.memory_total_bytes > 0 {
        d.memory_used_bytes as f64 / d.memory_total_bytes as f64
    } else {
        0.0
    };
    meter(
        h,
        "device-memory",
        "Memory",
        mem_ratio,
        &format!(
            "{} of {}",
            format::bytes(d.memory_used_bytes),
            format::bytes(d.memory_total_bytes)
        ),
        &d.memory_used_bytes.to_string(),
    );
    if d.disk_total_bytes > 0 {
        let used = d.disk_total_bytes.saturating_sub(d.disk_free_bytes);
        meter(
            h,
            "device-disk",
            "Data disk",
            used as f64 / d.disk_total_bytes as f64,
            &format!(
                "{} free of {}",
                format::bytes(d.disk_free_bytes),
                format::bytes(d.disk_total_bytes)
            ),
            &d.disk_free_bytes.to_string(),
        );
    } else {
        h.push_str(r#"<p class="muted" id="device-disk">Data disk size unknown.</p>"#);
    }
    h.push_str("<dl>");
    match d.temperature_celsius {
        Some(t) => {
            let cls = if t >= 80.0 {
                "bad"
            } else if t >= 70.0 {
                "warn"
            } else {
                "good"
            };
            row_with_value(
                h,
                "device-temperature",
                "Temperature",
                &format!("{t:.1}"),
                &format!(r#"<span class="pill {cls}">{t:.0} °C</span>"#),
            );
        }
        None => row_with_value(
            h,
            "device-temperature",
            "Temperature",
            "",
            r#"<span class="muted">no sensor</span>"#,
        ),
    }
    row_with_value(
        h,
        "device-uptime",
        "Up for",
        &d.uptime_seconds.to_string(),
        &escape(&format::duration(d.uptime_seconds)),
    );
    row_with_value(
        h,
        "device-load",
        "Load (1 min)",
        &format!("{:.2}", d.load_average_1m),
        &escape(&format!("{:.2}", d.load_average_1m)),
    );
    if !d.hostname.is_empty() {
        row(h, "device-hostname", "Name", &escape(&d.hostname));
    }
    h.push_str("</dl></section>\n");
}

/// The A/B root slots, on the appliance. (Tokens are never shown on the LAN
/// page: first-boot provisioning shows them on the box's console only.)
pub(super) fn appliance_card(h: &mut String, ctx: &AppContext) {
    let Some(v) = Slots::read(&ctx.config.web.slots_file) else {
        return;
    };
    h.push_str(r#"<section class="card" id="appliance"><h2>Appliance</h2>"#);
    let _ = write!(
        h,
        r#"<dl><dt>Booted slot</dt><dd id="slot-booted">{}</dd><dt>Primary slot</dt><dd id="slot-primary">{}</dd></dl><table id="slots"><thead><tr><th>Slot</th><th>State</th><th>Tries left</th><th>Version</th></tr></thead><tbody>"#,
        escape(&v.booted),
        escape(&v.primary)
    );
    for (name, slot) in &v.slots {
        let _ = write!(
            h,
            r#"<tr data-slot="{n}"><td>{n}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            escape(&slot.state),
            slot.tries_left.map_or("?".to_string(), |t| t.to_string()),
            escape(&slot.version),
            n = escape(name),
        );
    }
    h.push_str("</tbody></table>");
    h.push_str("</section>\n");
}

/// The backups line: the last scheduled backup, a warning when it is old or failed, or that none are scheduled.
pub(super) fn backup_card(h: &mut String, ctx: &AppContext, now: i64) {
    use crate::backup::schedule::LastBackup;
    let cfg = &ctx.config.backup;
    h.push_str(r#"<section class="card" id="backups"><h2>Backups</h2>"#);
    let last = ctx
        .open_store()
        .map(|s| LastBackup::read(&s))
        .unwrap_or_default();
    if !cfg.is_scheduled() {
        h.push_str(r#"<p class="muted" id="backup-off">No scheduled backups: set <code>[backup] dir</code> to a USB stick or a network share (or run <code>ojscog backup</code>).</p>"#);
    } else {
        match (last.at, &last.path) {
            (Some(at), Some(path)) => {
                let _ = write!(
                    h,
                    r#"<p id="backup-last">Last backup {} ({}) to <code>{}</code>; every {}, the newest {} kept.</p>"#,
                    escape(&format::ago(now - at)),
                    escape(&crate::human::bytes(last.bytes.unwrap_or(0))),
                    escape(path),
                    escape(&crate::human::duration(cfg.interval_secs)),
                    cfg.keep
                );
                if now - at > cfg.stale_after_secs() {
                    let _ = write!(
                        h,
                        r#"<p class="note warn" id="backup-stale">The last backup is {} old: check the backup directory <code>{}</code>.</p>"#,
                        escape(&crate::human::duration((now - at).max(0) as u64)),
                        escape(&cfg.dir.display().to_string())
                    );
                }
            }
            _ => h.push_str(
                r#"<p class="note warn" id="backup-none">No backup has been taken yet.</p>"#,
            ),
        }
        if let (Some(e), Some(at)) = (&last.error, last.error_at) {
            if last.at.is_none_or(|a| at > a) {
                let _ = write!(
                    h,
                    r#"<p class="error" id="backup-failed">The last backup failed {}: {}</p>"#,
                    escape(&format::ago(now - at)),
                    escape(e)
                );
            }
        }
    }
    h.push_str("</section>\n");
}
