//! JavaScript `Date` text forms, on millisecond Unix times (JavaScript's time values):
//! `toISOString()` (stored JSON), `toUTCString()` (`Expires` attributes) and the ISO
//! form `new Date(string)` reads back.

/// JavaScript dates reach ±100,000,000 days from the epoch; beyond that a Date is invalid.
const MAX_TIME_MS: i64 = 8_640_000_000_000_000;
const MS_PER_DAY: i64 = 86_400_000;
const DAY_NAMES: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A broken-down UTC time.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    ms_of_day: i64,
}

/// Days since 1970-01-01 → (year, month 1–12, day 1–31) (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // day is 1..=31 and month 1..=12 by construction.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// (year, month 1–12, day 1–31) → days since 1970-01-01.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil(ms: i64) -> Option<Civil> {
    if !(-MAX_TIME_MS..=MAX_TIME_MS).contains(&ms) {
        return None;
    }
    let (year, month, day) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    Some(Civil {
        year,
        month,
        day,
        ms_of_day: ms.rem_euclid(MS_PER_DAY),
    })
}

/// `new Date(ms).toISOString()`: `2026-01-01T01:00:00.123Z` (six-digit signed years outside
/// 0–9999). `None` where JavaScript would throw (an invalid date).
pub(crate) fn to_iso_string(ms: i64) -> Option<String> {
    let c = civil(ms)?;
    let t = c.ms_of_day;
    let year = if (0..=9999).contains(&c.year) {
        format!("{:04}", c.year)
    } else {
        format!("{}{:06}", if c.year < 0 { '-' } else { '+' }, c.year.abs())
    };
    Some(format!(
        "{year}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.month,
        c.day,
        t / 3_600_000,
        t / 60_000 % 60,
        t / 1000 % 60,
        t % 1000
    ))
}

/// `new Date(ms).toUTCString()`: `Thu, 01 Jan 2026 01:00:00 GMT` (milliseconds dropped).
pub(crate) fn to_utc_string(ms: i64) -> Option<String> {
    let c = civil(ms)?;
    let t = c.ms_of_day;
    let weekday = DAY_NAMES[usize::try_from(ms.div_euclid(MS_PER_DAY).rem_euclid(7)).ok()?];
    let month = MONTH_NAMES[usize::try_from(c.month.checked_sub(1)?).ok()?];
    let year = if c.year < 0 {
        format!("-{:04}", -c.year)
    } else {
        format!("{:04}", c.year)
    };
    Some(format!(
        "{weekday}, {:02} {month} {year} {:02}:{:02}:{:02} GMT",
        c.day,
        t / 3_600_000,
        t / 60_000 % 60,
        t / 1000 % 60
    ))
}

/// Reads the ISO 8601 date-time form of `new Date(string)`:
/// `YYYY-MM-DDTHH:mm[:ss[.fraction]](Z|±HH:mm)`, with `±YYYYYY` years allowed. Fractions
/// beyond milliseconds are truncated, as V8 does. Other forms that `Date.parse` guesses at
/// (date only, local time, RFC 2822) are refused: Node never writes them.
pub(crate) fn parse_iso(text: &str) -> Option<i64> {
    let mut r = Reader(text.as_bytes());
    let year = match r.peek()? {
        b'+' | b'-' => {
            let negative = r.next()? == b'-';
            let y = i64::from(r.number(6)?);
            if negative && y == 0 {
                return None; // -000000 is explicitly invalid
            }
            if negative {
                -y
            } else {
                y
            }
        }
        _ => i64::from(r.number(4)?),
    };
    r.literal(b'-')?;
    let month = r.number(2)?;
    r.literal(b'-')?;
    let day = r.number(2)?;
    r.literal(b'T')?;
    let hour = r.number(2)?;
    r.literal(b':')?;
    let minute = r.number(2)?;
    let mut second = 0;
    let mut milli = 0;
    if r.peek() == Some(b':') {
        r.next()?;
        second = r.number(2)?;
        if r.peek() == Some(b'.') {
            r.next()?;
            let digits = r.digit_run();
            if digits.is_empty() {
                return None;
            }
            for (i, d) in digits.iter().take(3).enumerate() {
                milli += u32::from(d - b'0') * [100, 10, 1][i];
            }
        }
    }
    let offset_min: i64 = match r.next()? {
        b'Z' => 0,
        sign @ (b'+' | b'-') => {
            let h = i64::from(r.number(2)?);
            r.literal(b':')?;
            let m = i64::from(r.number(2)?);
            if h > 23 || m > 59 {
                return None;
            }
            if sign == b'+' {
                h * 60 + m
            } else {
                -(h * 60 + m)
            }
        }
        _ => return None,
    };
    if !r.0.is_empty() || !(1..=12).contains(&month) || minute > 59 || second > 59 {
        return None;
    }
    // 24:00 is allowed only as the end of a day.
    if hour > 24 || (hour == 24 && (minute, second, milli) != (0, 0, 0)) {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let ms = days_from_civil(year, month, day) * MS_PER_DAY
        + i64::from(hour) * 3_600_000
        + i64::from(minute) * 60_000
        + i64::from(second) * 1000
        + i64::from(milli)
        - offset_min * 60_000;
    (-MAX_TIME_MS..=MAX_TIME_MS).contains(&ms).then_some(ms)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A cursor over ASCII input.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn next(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn literal(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// Exactly `width` decimal digits.
    fn number(&mut self, width: usize) -> Option<u32> {
        let digits = self.0.get(..width)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.0 = &self.0[width..];
        Some(digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    }

    fn digit_run(&mut self) -> &[u8] {
        let n = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        let (digits, rest) = self.0.split_at(n);
        self.0 = rest;
        digits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_123; // 2026-01-01T00:00:00.123Z

    #[test]
    fn iso_round_trip() {
        assert_eq!(
            to_iso_string(NOW).as_deref(),
            Some("2026-01-01T00:00:00.123Z")
        );
        assert_eq!(
            to_iso_string(0).as_deref(),
            Some("1970-01-01T00:00:00.000Z")
        );
        assert_eq!(
            to_iso_string(-1).as_deref(),
            Some("1969-12-31T23:59:59.999Z")
        );
        assert_eq!(
            to_iso_string(MAX_TIME_MS).as_deref(),
            Some("+275760-09-13T00:00:00.000Z")
        );
        assert_eq!(to_iso_string(MAX_TIME_MS + 1), None);
        for ms in [
            NOW,
            0,
            -1,
            951_782_400_000,
            MAX_TIME_MS,
            -MAX_TIME_MS,
            -62_198_755_200_000,
        ] {
            let text = to_iso_string(ms).expect("valid");
            assert_eq!(parse_iso(&text), Some(ms), "{text}");
        }
    }

    #[test]
    fn iso_forms_date_accepts() {
        assert_eq!(parse_iso("2026-01-01T00:00:00Z"), Some(NOW - 123));
        assert_eq!(parse_iso("2026-01-01T00:00Z"), Some(NOW - 123));
        assert_eq!(parse_iso("2026-01-01T00:00:00.1239Z"), Some(NOW));
        assert_eq!(parse_iso("2026-01-01T01:00:00.123+01:00"), Some(NOW));
        assert_eq!(parse_iso("2025-12-31T24:00:00.000Z"), Some(NOW - 123));
        for bad in [
            "",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00Z",
            "2026-01-01T25:00Z",
            "2026-01-01T00:00:00.Z",
            "-000000-01-01T00:00Z",
            "2026-01-01T00:00Zx",
            "26-01-01T00:00Z",
            "2026-01-01T24:00:01Z",
            "２０２６-01-01T00:00Z",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }

    #[test]
    fn utc_string() {
        assert_eq!(
            to_utc_string(NOW + 3_600_000).as_deref(),
            Some("Thu, 01 Jan 2026 01:00:00 GMT")
        );
        assert_eq!(
            to_utc_string(0).as_deref(),
            Some("Thu, 01 Jan 1970 00:00:00 GMT")
        );
        assert_eq!(
            to_utc_string(NOW + 86_400_000).as_deref(),
            Some("Fri, 02 Jan 2026 00:00:00 GMT")
        );
        assert_eq!(
            to_utc_string(-1).as_deref(),
            Some("Wed, 31 Dec 1969 23:59:59 GMT")
        );
    }
}
