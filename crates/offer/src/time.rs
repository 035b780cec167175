//! FHIR dates and instants to and from seconds since the epoch (UTC), without a calendar
//! crate: the proleptic Gregorian conversions of civil dates (days from 1970-01-01).

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `instant` of seconds since the epoch: `2026-12-06T06:14:27Z`.
pub fn instant(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The day (`YYYY-MM-DD`) of seconds since the epoch.
pub fn day(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

fn num(s: &str, len: usize) -> Option<i64> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// A FHIR `date` or `dateTime` (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`, or with a time and a zone:
/// `…Thh:mm[:ss[.fff]](Z|±hh:mm)`) as the range of seconds it covers: `[start, end)`.
pub fn parse_range(s: &str) -> Option<(i64, i64)> {
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let y = num(parts.first()?, 4)?;
    let m = parts.get(1).map(|p| num(p, 2)).unwrap_or(Some(1))?;
    let d = parts.get(2).map(|p| num(p, 2)).unwrap_or(Some(1))?;
    if parts.len() > 3 || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let start_day = days_from_civil(y, m, d);
    if civil_from_days(start_day) != (y, m, d) {
        return None;
    }
    let Some(time) = time else {
        let end_day = match parts.len() {
            1 => days_from_civil(y + 1, 1, 1),
            2 if m == 12 => days_from_civil(y + 1, 1, 1),
            2 => days_from_civil(y, m + 1, 1),
            _ => start_day + 1,
        };
        return Some((start_day * 86_400, end_day * 86_400));
    };
    if parts.len() != 3 {
        return None;
    }
    let (clock, offset) = if let Some(c) = time.strip_suffix('Z') {
        (c, 0)
    } else {
        let at = time.rfind(['+', '-'])?;
        let (c, z) = time.split_at(at);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let (h, mi) = z.get(1..)?.split_once(':')?;
        let (h, mi) = (num(h, 2)?, num(mi, 2)?);
        if h > 14 || mi > 59 {
            return None;
        }
        (c, sign * (h * 3600 + mi * 60))
    };
    let clock = clock.split('.').next()?;
    let hms: Vec<&str> = clock.split(':').collect();
    let h = num(hms.first()?, 2)?;
    let mi = num(hms.get(1)?, 2)?;
    let (sec, width) = match hms.get(2) {
        Some(s) => (num(s, 2)?, 1),
        None => (0, 60),
    };
    if hms.len() > 3 || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let start = start_day * 86_400 + h * 3600 + mi * 60 + sec - offset;
    Some((start, start + width))
}

/// A `dateTime` with seconds and a zone, as seconds since the epoch (its start).
pub fn parse_instant(s: &str) -> Option<i64> {
    if !s.contains('T') {
        return None;
    }
    parse_range(s).map(|(start, _)| start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_trip() {
        for secs in [0, 1_767_225_600, 1_796_451_267, 951_782_400] {
            assert_eq!(parse_instant(&instant(secs)), Some(secs), "{secs}");
        }
        assert_eq!(instant(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(day(1_767_225_600 + 86_399), "2026-01-01");
    }

    #[test]
    fn ranges_cover_their_precision() {
        let jan = 1_767_225_600;
        assert_eq!(parse_range("2026"), Some((jan, 1_798_761_600)));
        assert_eq!(parse_range("2026-01"), Some((jan, jan + 31 * 86_400)));
        assert_eq!(parse_range("2026-01-01"), Some((jan, jan + 86_400)));
        assert_eq!(
            parse_range("2026-01-01T01:00:00+01:00"),
            Some((jan, jan + 1))
        );
        assert_eq!(parse_range("2026-01-01T00:00Z"), Some((jan, jan + 60)));
        for bad in [
            "",
            "26",
            "2026-13",
            "2026-02-30",
            "2026-01-01T25:00:00Z",
            "2026-01-01T10:00:00",
            "x",
        ] {
            assert_eq!(parse_range(bad), None, "{bad}");
        }
    }
}
