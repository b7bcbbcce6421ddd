//! Helpers shared by the fuzz targets in `fuzz_targets/`: a runtime, fixed session ids,
//! and small reference implementations ("oracles") written independently of satchel's
//! own code, so a target can check what the library did, not only that it did not panic.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use satchel::{
    Data, Meta, Record, SessionId, StoreError, StoreErrorKind, StoreKey, Timestamp, Value,
};

/// The time every target runs at: 2026-01-01T00:00:00Z (the `TestClock` default).
pub const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_000);

/// A live session, created at [`NOW`]: a read loads it and does not touch it.
pub const LIVE_FRESH: &str = "satchel-fuzz-live-session-number-one-00000A";
/// A live session whose idle window is two thirds used: a read loads it, then touches it.
pub const LIVE_TOUCH: &str = "satchel-fuzz-live-session-number-two-00000g";
/// A session past its idle deadline but still held by the store: loads as absent.
pub const EXPIRED: &str = "satchel-fuzz-expired-session-number-three-Q";

/// The owner bound to the sessions `memory_record` creates.
pub const OWNER: &str = "user-42";

/// Runs `future` to completion on one current-thread tokio runtime, built once per
/// process (building one per input would cost more than the input itself).
pub fn block_on<F: Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a current-thread runtime")
        })
        .block_on(future)
}

/// The fixed id `encoded` (one of the constants above).
pub fn fixed_id(encoded: &str) -> SessionId {
    SessionId::parse(encoded).expect("the fixture ids are canonical")
}

/// The store key of the fixed id `encoded`.
pub fn fixed_key(encoded: &str) -> StoreKey {
    fixed_id(encoded).store_key()
}

/// A record holding `n = 1`, created `age` before [`NOW`] with a 30-minute idle and a
/// 12-hour absolute timeout (satchel's defaults), never touched since.
pub fn record_created_ago(age: Duration, owner: Option<&str>) -> Record {
    let created = Timestamp::from_millis(NOW.as_millis() - millis(age));
    let mut meta = Meta::new(
        created,
        Duration::from_secs(30 * 60),
        Duration::from_secs(12 * 3600),
    );
    meta.owner = owner.map(str::to_owned);
    Record {
        data: Data::from([("n".to_owned(), json("1"))]),
        meta,
    }
}

/// `text` as a session value; for literals known to be JSON.
pub fn json(text: &str) -> Value {
    Value::from_json(text).expect("a JSON literal")
}

/// `at` plus `d`.
pub fn later(at: Timestamp, d: Duration) -> Timestamp {
    at.saturating_add(d)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Panics unless `result` is a success or a `Corrupt` store error: what a store may answer
/// when it reads back bytes it cannot decode.
#[track_caller]
pub fn ok_or_corrupt<T>(what: &str, result: Result<T, StoreError>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(err) => {
            assert_eq!(
                err.kind(),
                StoreErrorKind::Corrupt,
                "{what}: expected Ok or a Corrupt error, got {err}"
            );
            None
        }
    }
}

// --- oracles -------------------------------------------------------------------------

/// Whether `value` is the canonical cookie form of a 32-byte id: exactly 43 characters of
/// the base64url alphabet, no padding, and the 2 bits the last character carries past the
/// 256th all zero (so exactly one spelling exists per id).
pub fn is_canonical_id(value: &[u8]) -> bool {
    fn sextet(c: u8) -> Option<u8> {
        match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'-' => Some(62),
            b'_' => Some(63),
            _ => None,
        }
    }
    value.len() == 43
        && value.iter().all(|&c| sextet(c).is_some())
        && sextet(value[42]).is_some_and(|last| last & 0b11 == 0)
}

/// Whether `text` is 64 lower-case hex digits: what `StoreKey::to_hex` writes.
pub fn is_lower_hex_64(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Splits a fuzz input into `Cookie` header values: none for an empty input, otherwise
/// the pieces between `\n`s, at most 4 (the 4th keeps any further `\n`).
pub fn split_headers(data: &[u8]) -> Vec<&[u8]> {
    if data.is_empty() {
        return Vec::new();
    }
    data.splitn(4, |&b| b == b'\n').collect()
}

/// What a request with these `Cookie` header values carries for cookie `name`, by RFC 6265
/// §5.4 as satchel applies it: the values of every `name=value` pair (pairs split on `;`,
/// name and value stripped of spaces and tabs), in order.
pub fn cookie_values<'a>(headers: &[&'a [u8]], name: &[u8]) -> Vec<&'a [u8]> {
    let strip = |s: &'a [u8]| -> &'a [u8] {
        let is_ws = |b: &u8| *b == b' ' || *b == b'\t';
        let start = s.iter().position(|b| !is_ws(b)).unwrap_or(s.len());
        let end = s.iter().rposition(|b| !is_ws(b)).map_or(start, |i| i + 1);
        &s[start..end]
    };
    let mut out = Vec::new();
    for header in headers {
        for pair in header.split(|&b| b == b';') {
            if let Some(eq) = pair.iter().position(|&b| b == b'=') {
                if strip(&pair[..eq]) == name {
                    out.push(strip(&pair[eq + 1..]));
                }
            }
        }
    }
    out
}

/// The id satchel must look up for these `Cookie` headers (default configuration: cookie
/// `id`, at most 16 KiB of headers): the single `id` cookie's value if it is canonical;
/// nothing if there is no `id` cookie, more than one (cookie tossing), a non-canonical
/// one, or too many header bytes.
pub fn expected_lookup<'a>(headers: &[&'a [u8]]) -> Option<&'a [u8]> {
    let total: usize = headers.iter().map(|h| h.len()).sum();
    if total > 16 * 1024 {
        return None;
    }
    match cookie_values(headers, b"id").as_slice() {
        [only] if is_canonical_id(only) => Some(*only),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_are_canonical() {
        for id in [LIVE_FRESH, LIVE_TOUCH, EXPIRED] {
            assert!(is_canonical_id(id.as_bytes()), "{id}");
            assert_eq!(fixed_id(id).encode(), id);
        }
    }
}
