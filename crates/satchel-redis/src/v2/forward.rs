//! The forward record a periodic id renewal leaves (SEC-49, `docs/id-renewal.md`),
//! standalone and Sentinel only.
//!
//! It lives under its own key, `{prefix}f:{hex of the old session key}`, never under the
//! session key: so no session operation (`load`, the write scripts, `SET … IFEQ`, touch,
//! rotate, the owner index, the admin `SCAN` of `s:*`) can ever read a forward as a
//! session, and none of them had to change (the hot paths stay one `GET` and one write).
//! Only `create` (a live forward holds its key: `KeyTaken`; its script asks whether the
//! forward key exists with a `SETRANGE … ''` that reads nothing, see `scripts::create`)
//! and `delete` (the forward goes with the key, in the same `DEL`) look at it.
//!
//! Value, byte-exact:
//!
//! | bytes | what |
//! |---|---|
//! | 0 | `F` (forward format tag) |
//! | 1..14 | the grace deadline, 13-digit ms text (as a v2 session's `e`: the `create` script compares it as a string) |
//! | 14.. | the forward bytes the engine made (opaque here; never an id) |
//!
//! TTL: `PXAT` the grace deadline, so Redis drops it by itself; the deadline in the
//! value is what answers at the caller's `now` (time is the caller's).

use satchel::{StoreError, StoreErrorKind, Timestamp};

use super::format;

/// The first byte of a forward value.
const TAG: u8 = b'F';
/// Tag + deadline.
const HEADER: usize = 14;

/// The stored value of a forward holding `bytes` until `until`.
pub(crate) fn encode(bytes: &[u8], until: Timestamp) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER + bytes.len());
    v.push(TAG);
    v.extend_from_slice(&format::digits(until.as_millis()));
    v.extend_from_slice(bytes);
    v
}

/// The forward bytes of a stored forward value if it is live at `now`. A value that is
/// not a forward (truncated, another tag, a deadline that is not 13 digits) is
/// [`StoreErrorKind::Corrupt`], as every unreadable record is: the engine then treats
/// the old id as absent (a `corrupt_record` anomaly) and deletes the key, which removes
/// the forward. Never a panic.
pub(crate) fn decode(value: &[u8], now: Timestamp) -> Result<Option<Vec<u8>>, StoreError> {
    let corrupt = || StoreError::msg(StoreErrorKind::Corrupt, "malformed renewal forward record");
    let (Some(&TAG), Some(deadline), Some(bytes)) =
        (value.first(), value.get(1..HEADER), value.get(HEADER..))
    else {
        return Err(corrupt());
    };
    let until = format::parse_digits(deadline).ok_or_else(corrupt)?;
    // The header's largest value means "never" (as for sessions).
    let live = until >= format::NEVER || now.as_millis() < until;
    Ok(live.then(|| bytes.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_until_the_deadline_only() {
        let until = Timestamp::from_millis(1_767_225_630_000);
        let v = encode(b"\x00fwd\xff", until);
        assert_eq!(&v[..HEADER], b"F1767225630000");
        let before = Timestamp::from_millis(until.as_millis() - 1);
        assert_eq!(
            decode(&v, before).expect("decode"),
            Some(b"\x00fwd\xff".to_vec())
        );
        assert_eq!(
            decode(&v, until).expect("decode"),
            None,
            "dead at the deadline"
        );
        assert_eq!(
            decode(&encode(b"", until), before).expect("empty"),
            Some(Vec::new())
        );
    }

    #[test]
    fn anything_else_is_corrupt_never_a_panic() {
        let now = Timestamp::from_millis(1);
        for bad in [
            &b""[..],
            b"F",
            b"F123",
            b"F176722563000",
            b"G1767225630000xx",
            b"F17672256300x0xx",
            b"2\x00\x00\x00\x011767225630000",
        ] {
            let err = decode(bad, now).expect_err("corrupt");
            assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{bad:?}");
        }
    }

    #[test]
    fn a_deadline_past_the_header_range_is_never() {
        let v = encode(b"x", Timestamp::from_millis(u64::MAX));
        assert_eq!(
            decode(&v, Timestamp::from_millis(format::NEVER + 5)).expect("decode"),
            Some(b"x".to_vec())
        );
    }
}
