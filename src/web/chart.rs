//! Inline SVG line charts of the metric history: no scripts, no external assets.

use super::format;
use std::fmt::Write as _;

/// How a chart's values are read and labelled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Unit {
    /// Whole things: submissions, reviews.
    Count,
    /// A 0..1 ratio shown as a percentage.
    Ratio,
    Bytes,
    /// A rate derived from a counter.
    PerMinute,
}

impl Unit {
    pub(crate) fn label(self, v: f64) -> String {
        match self {
            _ if v == 0.0 => "0".into(),
            Unit::Count if v.fract().abs() < 1e-9 => format!("{}", v.round() as i64),
            Unit::Count => format!("{v:.1}"),
            Unit::Ratio => format::percent(v),
            Unit::Bytes => format::bytes(v.max(0.0) as u64),
            Unit::PerMinute if v >= 10.0 => format!("{v:.0}/min"),
            Unit::PerMinute => format!("{v:.1}/min"),
        }
    }
}

/// One chart: a metric's samples over a window.
pub(crate) struct Chart<'a> {
    /// Element id of the figure (`chart-…`).
    pub id: &'a str,
    pub title: &'a str,
    /// The stored metric name, in `data-metric`.
    pub metric: &'a str,
    pub unit: Unit,
    /// Stroke colour.
    pub color: &'a str,
    /// Fixed top of the scale (e.g. 100 % or installed memory), used as is;
    /// else a round number above the data.
    pub y_max: Option<f64>,
    /// (unix time, value), oldest first.
    pub points: Vec<(i64, f64)>,
    /// Shown inside the box instead of lines when there is nothing to draw.
    pub empty_text: &'a str,
}

const W: f64 = 360.0;
const H: f64 = 150.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

/// 1, 2, 2.5, 5 or 10 times a power of ten, at least `v`.
pub(crate) fn nice_max(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let exp = 10f64.powf(v.log10().floor());
    let f = v / exp;
    let nice = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .find(|n| f <= *n + 1e-9)
        .unwrap_or(10.0);
    nice * exp
}

/// Per-minute rates between consecutive samples of a counter; a drop (the
/// service restarted and the counter began again) starts afresh.
pub(crate) fn rate_per_minute(points: &[(i64, f64)]) -> Vec<(i64, f64)> {
    points
        .windows(2)
        .filter_map(|w| {
            let ((t0, v0), (t1, v1)) = (w[0], w[1]);
            (t1 > t0 && v1 >= v0).then(|| (t1, (v1 - v0) * 60.0 / (t1 - t0) as f64))
        })
        .collect()
}

/// The `<figure>` with its heading, latest value and SVG.
///
/// `start..end` is the time window; consecutive samples further apart than
/// `gap` seconds are not joined (the service was off).
pub(crate) fn render(c: &Chart, start: i64, end: i64, gap: i64) -> String {
    let points: Vec<(i64, f64)> = c
        .points
        .iter()
        .copied()
        .filter(|(t, v)| *t >= start && *t <= end && v.is_finite())
        .collect();
    let latest = points
        .last()
        .map(|(_, v)| c.unit.label(*v))
        .unwrap_or_else(|| "–".into());
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<figure class="chart" id="{id}" data-metric="{metric}" data-samples="{n}">
<figcaption><span class="chart-title">{title}</span><span class="chart-value" style="border-bottom:3px solid {color}">{latest}</span></figcaption>
<svg viewBox="0 0 {W} {H}" role="img" aria-label="{title}, last 24 hours" preserveAspectRatio="xMidYMid meet">"#,
        id = format::escape(c.id),
        metric = format::escape(c.metric),
        n = points.len(),
        title = format::escape(c.title),
        color = format::escape(c.color),
        latest = format::escape(&latest),
    );
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, TOP, H - BOTTOM);
    let data_max = points.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let y_max = match c.y_max {
        Some(m) if m > 0.0 && m >= data_max => m,
        _ => nice_max(data_max),
    };

    // Grid and y labels at 0, half and the top.
    for frac in [0.0, 0.5, 1.0] {
        let y = y1 - frac * (y1 - y0);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}"/><text class="axis" x="{lx}" y="{ty:.1}" text-anchor="end">{label}</text>"#,
            lx = x0 - 6.0,
            ty = y + 3.5,
            label = format::escape(&c.unit.label(frac * y_max)),
        );
    }
    // Time labels.
    let span_hours = ((end - start) as f64 / 3600.0).round() as i64;
    for (x, anchor, label) in [
        (x0, "start", format!("{span_hours} h ago")),
        (
            (x0 + x1) / 2.0,
            "middle",
            format!("{} h ago", span_hours / 2),
        ),
        (x1, "end", "now".to_string()),
    ] {
        let _ = write!(
            out,
            r#"<text class="axis" x="{x:.1}" y="{y:.1}" text-anchor="{anchor}">{label}</text>"#,
            y = H - 6.0,
        );
    }

    if points.len() < 2 {
        let _ = write!(
            out,
            r#"<text class="empty" x="{x:.1}" y="{y:.1}" text-anchor="middle">{text}</text>"#,
            x = (x0 + x1) / 2.0,
            y = (y0 + y1) / 2.0 + 4.0,
            text = format::escape(c.empty_text),
        );
    } else {
        let span = (end - start).max(1) as f64;
        let px = |t: i64| x0 + (t - start) as f64 / span * (x1 - x0);
        let py = |v: f64| y1 - (v / y_max).clamp(0.0, 1.0) * (y1 - y0);
        let mut segments: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut last_t = None;
        for (t, v) in &points {
            if last_t.is_none_or(|lt| t - lt > gap) {
                segments.push(Vec::new());
            }
            if let Some(seg) = segments.last_mut() {
                seg.push((px(*t), py(*v)));
            }
            last_t = Some(*t);
        }
        for seg in &segments {
            let line: Vec<String> = seg.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let line = line.join(" ");
            if let (Some((fx, _)), Some((lx, _))) = (seg.first(), seg.last()) {
                let _ = write!(
                    out,
                    r#"<polygon class="area" fill="{color}" points="{fx:.1},{y1:.1} {line} {lx:.1},{y1:.1}"/>"#,
                    color = format::escape(c.color),
                );
            }
            let _ = write!(
                out,
                r#"<polyline fill="none" stroke="{color}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round" points="{line}"/>"#,
                color = format::escape(c.color),
            );
        }
        if let Some((t, v)) = points.last() {
            let _ = write!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                px(*t),
                py(*v),
                format::escape(c.color)
            );
        }
    }
    out.push_str("</svg></figure>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(points: Vec<(i64, f64)>) -> Chart<'static> {
        Chart {
            id: "chart-x",
            title: "Things <waiting>",
            metric: "ojscog_things",
            unit: Unit::Count,
            color: "#123456",
            y_max: None,
            points,
            empty_text: "collecting data…",
        }
    }

    #[test]
    fn scales() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(10.0), 10.0);
        assert_eq!(nice_max(11.0), 20.0);
        assert_eq!(nice_max(0.42), 0.5);
        assert_eq!(nice_max(2.2e9), 2.5e9);
    }

    #[test]
    fn rates_skip_restarts() {
        let r = rate_per_minute(&[(0, 10.0), (60, 40.0), (120, 5.0), (180, 8.0)]);
        assert_eq!(r, vec![(60, 30.0), (180, 3.0)]);
    }

    #[test]
    fn too_few_samples_say_so() {
        let svg = render(&chart(vec![(50, 3.0)]), 0, 86_400, 600);
        assert!(svg.contains("collecting data…"), "{svg}");
        assert!(!svg.contains("<polyline"), "{svg}");
        assert!(svg.contains(r#"data-samples="1""#), "{svg}");
        assert!(svg.contains("Things &lt;waiting&gt;"), "escaped: {svg}");
    }

    #[test]
    fn lines_break_at_gaps() {
        let pts = vec![
            (0, 1.0),
            (60, 2.0),
            (120, 3.0),
            (10_000, 4.0),
            (10_060, 5.0),
        ];
        let svg = render(&chart(pts), 0, 86_400, 600);
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(svg.contains("24 h ago") && svg.contains("now"), "{svg}");
        assert!(svg.contains(r#">5</span>"#), "latest value shown: {svg}");
        // Samples outside the window are not drawn.
        let svg = render(&chart(vec![(-5000, 1.0), (-4000, 1.0)]), 0, 86_400, 600);
        assert!(svg.contains("collecting data…"), "{svg}");
    }
}
