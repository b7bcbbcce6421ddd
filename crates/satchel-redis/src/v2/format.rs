//! The layout-v2 value of a session: a fixed-width text header the scripts compare as
//! strings, then the record packed like MemoryStore's codec (a sibling of
//! `satchel/src/memory/codec.rs`: the same varint-framed entries, but every value read back
//! is validated as JSON, since it comes over the network).
//!
//! ```text
//! offset  len  what
//! 0       1    '2'                 format version
//! 1       4    token               write counter, big-endian; +1 on every write
//! 5       13   e                   min(idle deadline, absolute deadline), Unix ms, zero-padded
//! 18      1    flags               bit0 owner follows, bit1 persistent, bit2 exact times
//! 19      ..   varint created_at, varint idle timeout,
//!              then either varint (absolute deadline - created_at)          (idle deadline = e)
//!              or      varint idle deadline, varint absolute deadline        (bit2)
//!              [varint len, owner]                                           (bit0)
//!              (varint len, key, varint len, JSON value)*                    until the end
//! ```
//!
//! The first [`CAS_LEN`] bytes (version, token, `e`) are the *version* a write checks: every
//! write changes the token, and a touch changes only `e`, so two equal prefixes mean equal
//! bodies. Only `e` is text, because it is the one field a script orders (`now >= e`, as
//! strings: no `tonumber`); a touch computes the new `e` on the client from the base it
//! read and overwrites those 13 bytes (`SETRANGE`). Bit2 is set when the idle deadline is
//! not `e` (past the absolute deadline: only `create` can be handed such a record), or a
//! time does not fit 13 digits (after the year 2286); the header then holds `e` clamped
//! to `9999999999999` (never) and touches go through a full write.

use std::time::Duration;

use satchel::{Data, Meta, Record, StoreError, Timestamp, Value};

/// The format version byte.
pub(crate) const VERSION: u8 = b'2';
/// How many bytes of the value a version check compares: version, token, `e`.
pub(crate) const CAS_LEN: usize = 18;
/// Where `e` starts (after the version and the token).
pub(crate) const E_AT: usize = 5;
/// The largest time the header writes as digits; anything later is "never" here.
pub(crate) const NEVER: u64 = 9_999_999_999_999;

const HAS_OWNER: u8 = 1;
const PERSISTENT: u8 = 2;
const EXACT_TIMES: u8 = 4;

/// The version prefix of a stored value: what a write compares before replacing it.
pub(crate) type CasPrefix = [u8; CAS_LEN];

/// A 13-digit, zero-padded decimal, clamped to [`NEVER`].
pub(crate) fn digits(ms: u64) -> [u8; 13] {
    let mut out = [b'0'; 13];
    let mut n = ms.min(NEVER);
    for slot in out.iter_mut().rev() {
        *slot = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
    }
    out
}

/// The value of a 13-digit text written by [`digits`]; `None` for anything else.
pub(crate) fn parse_digits(b: &[u8]) -> Option<u64> {
    if b.len() != 13 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The token after `prefix`'s (wrapping).
pub(crate) fn next_token(prefix: &CasPrefix) -> u32 {
    u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]).wrapping_add(1)
}

/// `e` of a version prefix, in ms.
pub(crate) fn expiry_of(prefix: &CasPrefix) -> Option<u64> {
    parse_digits(&prefix[E_AT..])
}

/// Whether a record's times are all in the header's compact form, so that a touch can
/// rewrite `e` alone.
pub(crate) fn touchable(meta: &Meta) -> bool {
    !exact(meta)
}

fn exact(m: &Meta) -> bool {
    let (c, d, a, i) = (
        m.created_at.as_millis(),
        m.idle_deadline.as_millis(),
        m.absolute_deadline.as_millis(),
        ms(m.idle_timeout),
    );
    d > a || a >= NEVER || a < c || i >= NEVER
}

/// A fresh token for a new record: random, so that a record created again under the same
/// key never repeats the version of an earlier one.
pub(crate) fn first_token() -> u32 {
    rand::random()
}

/// Encodes `record` with write token `token`.
pub(crate) fn encode(record: &Record, token: u32) -> Vec<u8> {
    let m = &record.meta;
    let (c, d, a, i) = (
        m.created_at.as_millis(),
        m.idle_deadline.as_millis(),
        m.absolute_deadline.as_millis(),
        ms(m.idle_timeout),
    );
    let exact = exact(m);
    let size: usize = record
        .data
        .iter()
        .map(|(k, v)| 4 + k.len() + v.get().len())
        .sum();
    let mut out = Vec::with_capacity(CAS_LEN + 32 + m.owner.as_ref().map_or(0, String::len) + size);
    out.push(VERSION);
    out.extend_from_slice(&token.to_be_bytes());
    out.extend_from_slice(&digits(d.min(a)));
    let mut flags = 0;
    if m.owner.is_some() {
        flags |= HAS_OWNER;
    }
    if m.persistent {
        flags |= PERSISTENT;
    }
    if exact {
        flags |= EXACT_TIMES;
    }
    out.push(flags);
    put_varint(&mut out, c);
    put_varint(&mut out, i);
    if exact {
        put_varint(&mut out, d);
        put_varint(&mut out, a);
    } else {
        put_varint(&mut out, a - c);
    }
    if let Some(owner) = &m.owner {
        put_bytes(&mut out, owner.as_bytes());
    }
    for (k, v) in &record.data {
        put_bytes(&mut out, k.as_bytes());
        put_bytes(&mut out, v.get().as_bytes());
    }
    out
}

/// The version prefix of a stored value.
pub(crate) fn cas_prefix(value: &[u8]) -> Result<CasPrefix, StoreError> {
    value
        .get(..CAS_LEN)
        .and_then(|p| <CasPrefix>::try_from(p).ok())
        .filter(|p| p[0] == VERSION)
        .ok_or_else(|| StoreError::corrupt("not a version-2 session value"))
}

/// Decodes a stored value. Never panics; anything malformed is `Corrupt`.
pub(crate) fn decode(value: &[u8]) -> Result<(CasPrefix, Record), StoreError> {
    let prefix = cas_prefix(value)?;
    let bad = || StoreError::corrupt("malformed version-2 session header");
    let e = expiry_of(&prefix).ok_or_else(bad)?;
    let flags = *value.get(CAS_LEN).ok_or_else(bad)?;
    if flags & !(HAS_OWNER | PERSISTENT | EXACT_TIMES) != 0 {
        return Err(bad());
    }
    let mut r = Reader(&value[CAS_LEN + 1..]);
    let created = r.varint()?;
    let idle = r.varint()?;
    let (d, a) = if flags & EXACT_TIMES != 0 {
        (r.varint()?, r.varint()?)
    } else {
        let a = created.checked_add(r.varint()?).ok_or_else(bad)?;
        (e, a)
    };
    let owner = if flags & HAS_OWNER != 0 {
        Some(r.string()?)
    } else {
        None
    };
    let mut data = Data::new();
    while !r.0.is_empty() {
        let key = r.string()?;
        let text = r.string()?;
        let value =
            Value::from_json(text).map_err(|_| StoreError::corrupt("session value is not JSON"))?;
        data.insert(key, value);
    }
    let meta = Meta {
        created_at: Timestamp::from_millis(created),
        idle_timeout: Duration::from_millis(idle),
        idle_deadline: Timestamp::from_millis(d),
        absolute_deadline: Timestamp::from_millis(a),
        persistent: flags & PERSISTENT != 0,
        owner,
    };
    Ok((prefix, Record { data, meta }))
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    // LEB128: the low 7 bits per byte, the high bit set on all but the last.
    let low7 = |n: u64| u8::try_from(n & 0x7f).unwrap_or(0);
    while n >= 0x80 {
        out.push(low7(n) | 0x80);
        n >>= 7;
    }
    out.push(low7(n));
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, StoreError> {
        let (&b, rest) = self
            .0
            .split_first()
            .ok_or(StoreError::corrupt("truncated session value"))?;
        self.0 = rest;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, StoreError> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(StoreError::corrupt("overlong varint in session value"))
    }

    fn string(&mut self) -> Result<String, StoreError> {
        let len = usize::try_from(self.varint()?).unwrap_or(usize::MAX);
        if len > self.0.len() {
            return Err(StoreError::corrupt("length past the end of session value"));
        }
        let (bytes, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| StoreError::corrupt("invalid UTF-8 in session value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Value {
        Value::from_json(s).expect("json")
    }

    fn record(owner: Option<&str>) -> Record {
        let mut meta = Meta::new(
            Timestamp::from_millis(1_764_000_000_123),
            Duration::from_secs(1800),
            Duration::from_secs(86_400),
        );
        meta.owner = owner.map(str::to_owned);
        meta.persistent = owner.is_some();
        Record {
            data: Data::from([
                ("user".into(), v("\"alice\"")),
                ("n".into(), v("7")),
                ("".into(), v("null")),
                ("ключ".into(), v("{\"a\":[1,2]}")),
            ]),
            meta,
        }
    }

    #[test]
    fn round_trips() {
        for owner in [None, Some("bob")] {
            let r = record(owner);
            let bytes = encode(&r, 0xdead_beef);
            let (prefix, back) = decode(&bytes).expect("decodes");
            assert_eq!(back, r);
            assert_eq!(&prefix[..5], b"2\xde\xad\xbe\xef");
            assert_eq!(next_token(&prefix), 0xdead_bef0);
            assert_eq!(expiry_of(&prefix), Some(r.meta.expires_at().as_millis()));
        }
    }

    #[test]
    fn extreme_times_round_trip_exactly() {
        let mut r = record(Some("o"));
        r.meta.absolute_deadline = Timestamp::MAX;
        r.meta.idle_timeout = Duration::MAX;
        r.meta.idle_deadline = Timestamp::from_millis(u64::MAX - 1);
        let bytes = encode(&r, 0);
        let (prefix, back) = decode(&bytes).expect("decodes");
        assert_eq!(back.meta.absolute_deadline, Timestamp::MAX);
        assert_eq!(back.meta.idle_deadline, r.meta.idle_deadline);
        assert_eq!(back.meta.idle_timeout, Duration::from_millis(u64::MAX));
        assert_eq!(&prefix[E_AT..], b"9999999999999");
        // An idle deadline past the absolute one (only `create` can be handed one).
        let mut r = record(None);
        r.meta.idle_deadline = r
            .meta
            .absolute_deadline
            .saturating_add(Duration::from_secs(1));
        assert_eq!(decode(&encode(&r, 0)).expect("decodes").1, r);
    }

    #[test]
    fn the_expiry_is_fixed_width_text() {
        let bytes = encode(&record(None), 1);
        assert_eq!(&bytes[..5], b"2\0\0\0\x01");
        assert_eq!(&bytes[E_AT..CAS_LEN], b"1764001800123");
        let mut early = record(None);
        early.meta.idle_deadline = Timestamp::from_millis(42);
        early.meta.created_at = Timestamp::from_millis(1);
        let bytes = encode(&early, 1);
        assert_eq!(&bytes[E_AT..CAS_LEN], b"0000000000042");
        assert_eq!(decode(&bytes).expect("decodes").1, early);
    }

    #[test]
    fn small_sessions_are_small() {
        let mut r = record(None);
        r.data = Data::from([("user".into(), v("\"alice\"")), ("n".into(), v("7"))]);
        // 49 bytes: with Redis's 3-byte string header and NUL, one 64-byte allocation.
        assert!(encode(&r, 0).len() <= 60, "{}", encode(&r, 0).len());
    }

    #[test]
    fn garbage_never_panics() {
        let good = encode(&record(Some("x")), 5);
        for cut in 0..good.len() {
            let _ = decode(&good[..cut]);
        }
        let mut seed = 0x1234_5678_u64;
        for _ in 0..2_000 {
            let mut bytes = good.clone();
            for _ in 0..3 {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let at = usize::try_from(seed >> 33).unwrap_or(0) % bytes.len();
                bytes[at] = u8::try_from(seed >> 56).unwrap_or(0);
            }
            let _ = decode(&bytes);
        }
        assert!(decode(b"garbage").is_err());
        assert!(decode(b"").is_err());
    }
}
