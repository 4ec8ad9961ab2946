//! Workload and responsiveness: the factors a reviewer's expertise is
//! multiplied by, each with its reason.

use super::reasons::{reason, Reason, ReasonCode};
use super::CAPACITY;
use crate::store::agents::ReviewerFacts;

/// Workload, responsiveness and speed factors, with their reasons.
pub(super) fn adjustments(r: &ReviewerFacts) -> (f64, Vec<Reason>) {
    let mut f = 1.0;
    let mut out = Vec::new();
    if r.active > 0 {
        let w = 1.0 / (1.0 + 0.2 * r.active as f64);
        f *= w;
        out.push(reason(
            ReasonCode::Workload,
            format!(
                "{} open review{}",
                r.active,
                if r.active == 1 { "" } else { "s" }
            ),
            Some(w),
        ));
    }
    if r.active >= CAPACITY {
        f *= 0.5;
        out.push(reason(
            ReasonCode::AtCapacity,
            format!("at capacity ({CAPACITY} or more open reviews)"),
            Some(0.5),
        ));
    }
    if r.declined > 0 && r.assigned >= 2 {
        // Smoothed toward a 25 % prior so one decline out of two is not damning.
        let rate = (r.declined as f64 + 0.5) / (r.assigned as f64 + 2.0);
        let d = 1.0 - 0.6 * (rate - 0.25).max(0.0);
        f *= d;
        out.push(reason(
            ReasonCode::Declines,
            format!("declined {} of {} invitations", r.declined, r.assigned),
            Some(d),
        ));
    }
    if let Some(days) = r.avg_days_to_complete.filter(|d| d.is_finite()) {
        let s = if days > 42.0 {
            0.8
        } else if days > 28.0 {
            0.9
        } else {
            1.0
        };
        if s < 1.0 {
            f *= s;
            out.push(reason(
                ReasonCode::Slow,
                format!("takes {days:.0} days on average to complete a review"),
                Some(s),
            ));
        } else if r.completed > 0 {
            out.push(reason(
                ReasonCode::Responsive,
                format!("completes reviews in {days:.0} days on average"),
                Some(1.0),
            ));
        }
    }
    (f, out)
}
