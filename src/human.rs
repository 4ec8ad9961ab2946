//! Turning numbers and times into words a managing editor reads at a glance
//! ("5 minutes ago", "1.5 KB", "2024-05-01 14:03 UTC"), shared by the page,
//! `/health` and the command line; and the civil-date arithmetic, in one place.

fn plural(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// "just now", "5 minutes ago", "3 hours ago", "2 days ago".
pub fn ago(seconds: i64) -> String {
    // A little clock skew still reads "just now".
    if seconds <= -45 {
        return until(-seconds);
    }
    if seconds < 45 {
        return "just now".into();
    }
    format!("{} ago", span(seconds))
}

/// "in 5 minutes", "in a few seconds", "now".
pub fn until(seconds: i64) -> String {
    if seconds <= 0 {
        return "now".into();
    }
    if seconds < 45 {
        return "in a few seconds".into();
    }
    format!("in {}", span(seconds))
}

/// The largest sensible unit: "1 minute", "5 minutes", "3 hours", "2 days".
pub fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    let minutes = (s + 30) / 60;
    if minutes < 60 {
        return plural(minutes.max(1), "minute", "minutes");
    }
    let hours = (s + 1800) / 3600;
    if hours < 48 {
        return plural(hours, "hour", "hours");
    }
    plural((s + 43_200) / 86_400, "day", "days")
}

/// Two units, for uptimes: "3 days 4 hours", "5 hours 12 minutes", "7 minutes".
pub fn duration(seconds: u64) -> String {
    let s = seconds as i64;
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if d > 0 {
        format!(
            "{} {}",
            plural(d, "day", "days"),
            plural(h, "hour", "hours")
        )
    } else if h > 0 {
        format!(
            "{} {}",
            plural(h, "hour", "hours"),
            plural(m, "minute", "minutes")
        )
    } else {
        plural(m, "minute", "minutes")
    }
}

/// "812 MB", "3.4 GB" (binary units, as operating systems show them).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else if v < 10.0 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.0} {}", UNITS[unit])
    }
}

/// A percentage with no decimals unless it is small: "42 %", "3.5 %".
pub fn percent(ratio: f64) -> String {
    let p = ratio * 100.0;
    if p.is_finite() && p < 10.0 {
        format!("{p:.1} %")
    } else {
        format!("{p:.0} %")
    }
}

/// The unix day number of a (year, month, day).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// "2024-05-01 14:03 UTC".
pub fn utc(ts: i64) -> String {
    let (y, m, d) = civil_from_days(ts.div_euclid(86_400));
    let secs = ts.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// "14:03:27 UTC".
/// `ts` the way OJS writes dates (`2026-11-30 06:00:00`, UTC), for comparing
/// with the mirrored OJS dates.
pub fn ojs_datetime(ts: i64) -> String {
    format!(
        "{}:{:02}",
        utc(ts).trim_end_matches(" UTC"),
        ts.rem_euclid(60)
    )
}

pub fn utc_time(ts: i64) -> String {
    let secs = ts.rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Parses OJS's `YYYY-MM-DD[ HH:MM[:SS]]` (taken as UTC) into unix seconds.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once([' ', 'T']).unwrap_or((s, "00:00:00"));
    let mut dp = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (dp.next()??, dp.next()??, dp.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut tp = time
        .trim_end_matches('Z')
        .splitn(3, ':')
        .map(|p| p.split('.').next().and_then(|p| p.parse::<i64>().ok()));
    let h = tp.next().flatten().unwrap_or(0);
    let min = tp.next().flatten().unwrap_or(0);
    let sec = tp.next().flatten().unwrap_or(0);
    Some(days_from_civil(y, m, d) * 86_400 + h * 3600 + min * 60 + sec)
}

/// (year, month, day) of a unix day number (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A whole number with thin-space thousands separators: "12 345".
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_time_is_written_the_way_ojs_writes_dates() {
        assert_eq!(super::ojs_datetime(0), "1970-01-01 00:00:00");
        assert_eq!(super::ojs_datetime(86_400 + 3_725), "1970-01-02 01:02:05");
    }

    use super::*;

    #[test]
    fn human_times() {
        assert_eq!(ago(5), "just now");
        assert_eq!(ago(60), "1 minute ago");
        assert_eq!(ago(7 * 60), "7 minutes ago");
        assert_eq!(ago(3600), "1 hour ago");
        assert_eq!(ago(5 * 3600 + 100), "5 hours ago");
        assert_eq!(ago(3 * 86_400), "3 days ago");
        assert_eq!(until(600), "in 10 minutes");
        assert_eq!(until(10), "in a few seconds");
        assert_eq!(until(-3), "now");
        assert_eq!(ago(-600), "in 10 minutes");
        assert_eq!(ago(-5), "just now");
        assert_eq!(duration(3 * 86_400 + 4 * 3600 + 5), "3 days 4 hours");
        assert_eq!(duration(3600 + 60), "1 hour 1 minute");
        assert_eq!(duration(59), "0 minutes");
    }

    #[test]
    fn sizes_and_numbers() {
        assert_eq!(bytes(512), "512 bytes");
        assert_eq!(bytes(1536), "1.5 KB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0 GB");
        assert_eq!(bytes(120 * 1024 * 1024 * 1024), "120 GB");
        assert_eq!(percent(0.4234), "42 %");
        assert_eq!(percent(0.035), "3.5 %");
        assert_eq!(count(12345), "12\u{202f}345");
        assert_eq!(count(-7), "-7");
        assert_eq!(count(999), "999");
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(utc_time(1_700_000_000), "22:13:20 UTC");
        assert_eq!(parse_datetime("2023-11-14 22:13:20"), Some(1_700_000_000));
        assert_eq!(parse_datetime("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(parse_datetime("2000-02-29"), Some(951_782_400));
        assert_eq!(parse_datetime("garbage"), None);
        assert_eq!(parse_datetime("2020-13-01"), None);
    }
}
