//! JavaScript `Date` text forms, on millisecond Unix times (JavaScript's time values):
//! `toISOString()` (stored JSON) and the ISO form `new Date(string)` reads back. The
//! `toUTCString()` of `Expires` attributes is the `cookie` crate's writer (the same text
//! for years 1000–9999; outside them the crate drops JavaScript's zero padding and signs
//! years past 9999. A browser's RFC 6265 date parser skips the sign, so the only dates it
//! reads differently are in the years 10–99 AD, which only a hand-made record holds:
//! Node's `0010` is ignored, the crate's `10` read as 2010).
//!
//! The calendar arithmetic and RFC 3339 parsing are the `time` crate's (feature
//! `large-dates`: JavaScript dates reach the year ±275,760); what is left here is only
//! JavaScript's own layout of the text (`±YYYYYY` years outside 0–9999, milliseconds,
//! `GMT`), which no crate writes. Reading accepts what `Date.prototype.toJSON` writes
//! and RFC 3339 (offsets, longer fractions truncated to milliseconds as V8 does); the
//! looser forms `Date.parse` also guesses at (no seconds, `24:00`, date only, RFC 2822)
//! are refused: Node never writes them, and no captured vector holds one.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// JavaScript dates reach ±100,000,000 days from the epoch; beyond that a Date is invalid.
const MAX_TIME_MS: i64 = 8_640_000_000_000_000;

/// The instant `ms`, when it is a valid JavaScript date (`Expires` attributes: the
/// `cookie` crate writes them).
pub(crate) fn instant(ms: i64) -> Option<OffsetDateTime> {
    if !(-MAX_TIME_MS..=MAX_TIME_MS).contains(&ms) {
        return None;
    }
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

/// `new Date(ms).toISOString()`: `2026-01-01T01:00:00.123Z` (six-digit signed years outside
/// 0–9999). `None` where JavaScript would throw (an invalid date).
pub(crate) fn to_iso_string(ms: i64) -> Option<String> {
    let d = instant(ms)?;
    let y = d.year();
    let year = if (0..=9999).contains(&y) {
        format!("{y:04}")
    } else {
        format!("{}{:06}", if y < 0 { '-' } else { '+' }, y.unsigned_abs())
    };
    Some(format!(
        "{year}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second(),
        d.millisecond()
    ))
}

/// Reads `YYYY-MM-DDTHH:mm:ss[.fraction](Z|±HH:mm)`, with `±YYYYYY` years allowed (what
/// `toISOString` writes past 9999), to milliseconds (longer fractions truncated).
pub(crate) fn parse_iso(text: &str) -> Option<i64> {
    let parsed = match text.as_bytes().first()? {
        sign @ (b'+' | b'-') => {
            // RFC 3339 has four-digit years only: parse the rest in a leap year, then
            // move it to the real one (refused when that has no such day).
            let digits = text.get(1..7)?;
            if !digits.bytes().all(|b| b.is_ascii_digit()) || (*sign == b'-' && digits == "000000")
            {
                return None; // -000000 is explicitly invalid
            }
            let year: i32 = digits.parse().ok()?;
            let year = if *sign == b'-' { -year } else { year };
            let rest = text.get(7..)?;
            OffsetDateTime::parse(&format!("2000{rest}"), &Rfc3339)
                .ok()?
                .replace_year(year)
                .ok()?
        }
        _ => OffsetDateTime::parse(text, &Rfc3339).ok()?,
    };
    let ms = i64::try_from(parsed.unix_timestamp_nanos().div_euclid(1_000_000)).ok()?;
    (-MAX_TIME_MS..=MAX_TIME_MS).contains(&ms).then_some(ms)
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
            assert_eq!(parse_iso(&text.replace("Z", "+00:00")), Some(ms), "{text}");
            assert_eq!(parse_iso(&text), Some(ms), "{text}");
        }
    }

    #[test]
    fn iso_forms_date_accepts() {
        assert_eq!(parse_iso("2026-01-01T00:00:00Z"), Some(NOW - 123));
        assert_eq!(parse_iso("2026-01-01T00:00:00.1239Z"), Some(NOW));
        assert_eq!(parse_iso("2026-01-01T01:00:00.123+01:00"), Some(NOW));
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
            // Forms Date.parse accepts but Node never writes.
            "2026-01-01T00:00Z",
            "2025-12-31T24:00:00.000Z",
            "+010001-02-29T00:00:00.000Z", // 10001 is no leap year
            "２０２６-01-01T00:00Z",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }

    #[test]
    fn instants_in_javascript_range() {
        assert_eq!(instant(0), Some(OffsetDateTime::UNIX_EPOCH));
        assert!(instant(MAX_TIME_MS).is_some() && instant(-MAX_TIME_MS).is_some());
        assert_eq!(instant(MAX_TIME_MS + 1), None);
    }
}
