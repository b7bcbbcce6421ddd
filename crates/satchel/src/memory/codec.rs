//! The compact byte form MemoryStore keeps each record's data in.
//!
//! One allocation per session instead of a map of strings: a 2-key session costs ~40 bytes
//! here instead of ~300 as a `BTreeMap<String, Box<RawValue>>`. Layout (version 1):
//!
//! ```text
//! [version=1] [flags: bit0 persistent, bit1 has owner] [varint idle_timeout_ms]
//! [varint len, owner bytes]?              (if bit1)
//! ([varint len, key bytes] [varint len, JSON value bytes])*   until the end
//! ```
//!
//! Decoding never panics and never trusts a length: anything malformed is
//! [`StoreError::corrupt`].

use std::time::Duration;

use crate::error::StoreError;
use crate::record::{Data, Meta, Record, Value};
use crate::time::{duration_millis, Timestamp};

const VERSION: u8 = 1;
const PERSISTENT: u8 = 1;
const HAS_OWNER: u8 = 2;

/// The fixed-size part of a stored record, kept outside the blob so expiry checks need no
/// decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Times {
    pub(super) created: Timestamp,
    pub(super) idle: Timestamp,
    pub(super) absolute: Timestamp,
}

impl Times {
    pub(super) fn of(meta: &Meta) -> Self {
        Times {
            created: meta.created_at,
            idle: meta.idle_deadline,
            absolute: meta.absolute_deadline,
        }
    }

    pub(super) fn expires_at(&self) -> Timestamp {
        self.idle.min(self.absolute)
    }
}

pub(super) fn encode(record: &Record) -> Box<[u8]> {
    let meta = &record.meta;
    let mut out = Vec::with_capacity(
        8 + meta.owner.as_ref().map_or(0, |o| o.len() + 2)
            + record
                .data
                .iter()
                .map(|(k, v)| k.len() + v.get().len() + 4)
                .sum::<usize>(),
    );
    out.push(VERSION);
    let mut flags = 0;
    if meta.persistent {
        flags |= PERSISTENT;
    }
    if meta.owner.is_some() {
        flags |= HAS_OWNER;
    }
    out.push(flags);
    put_varint(&mut out, duration_millis(meta.idle_timeout));
    if let Some(owner) = &meta.owner {
        put_bytes(&mut out, owner.as_bytes());
    }
    for (key, value) in &record.data {
        put_bytes(&mut out, key.as_bytes());
        put_bytes(&mut out, value.get().as_bytes());
    }
    out.into_boxed_slice()
}

pub(super) fn decode(blob: &[u8], times: Times) -> Result<Record, StoreError> {
    let mut r = Reader(blob);
    if r.byte()? != VERSION {
        return Err(StoreError::corrupt("unknown memory record version"));
    }
    let flags = r.byte()?;
    let idle_timeout = Duration::from_millis(r.varint()?);
    let owner = if flags & HAS_OWNER != 0 {
        Some(r.string()?)
    } else {
        None
    };
    let mut data = Data::new();
    while !r.0.is_empty() {
        let key = r.string()?;
        let value = r.string()?;
        let value =
            Value::from_json(value).map_err(|_| StoreError::corrupt("value is not JSON"))?;
        data.insert(key, value);
    }
    Ok(Record {
        data,
        meta: Meta {
            created_at: times.created,
            idle_timeout,
            idle_deadline: times.idle,
            absolute_deadline: times.absolute,
            persistent: flags & PERSISTENT != 0,
            owner,
        },
    })
}

/// Reads only the owner, for index maintenance.
pub(super) fn owner(blob: &[u8]) -> Option<String> {
    let mut r = Reader(blob);
    r.byte().ok()?;
    let flags = r.byte().ok()?;
    r.varint().ok()?;
    if flags & HAS_OWNER == 0 {
        return None;
    }
    r.string().ok()
}

/// Reads only the flags and idle timeout, for touches.
pub(super) fn idle_timeout(blob: &[u8]) -> Result<(Duration, bool), StoreError> {
    let mut r = Reader(blob);
    if r.byte()? != VERSION {
        return Err(StoreError::corrupt("unknown memory record version"));
    }
    let flags = r.byte()?;
    Ok((Duration::from_millis(r.varint()?), flags & PERSISTENT != 0))
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        // Truncation is the point: the low 7 bits, with the continuation bit set.
        out.push((n & 0x7f) as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
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
            .ok_or(StoreError::corrupt("truncated memory record"))?;
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
        Err(StoreError::corrupt("overlong varint in memory record"))
    }

    fn string(&mut self) -> Result<String, StoreError> {
        let len = usize::try_from(self.varint()?).unwrap_or(usize::MAX);
        if len > self.0.len() {
            return Err(StoreError::corrupt("length past the end of memory record"));
        }
        let (bytes, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| StoreError::corrupt("invalid UTF-8 in memory record"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(owner: Option<String>, pairs: &[(String, i64)]) -> Record {
        let mut meta = Meta::new(
            Timestamp::from_millis(5),
            Duration::from_secs(1800),
            Duration::from_secs(3600),
        );
        meta.owner = owner;
        Record {
            data: pairs
                .iter()
                .map(|(k, v)| (k.clone(), Value::from_json(v.to_string()).expect("json")))
                .collect(),
            meta,
        }
    }

    proptest! {
        #[test]
        fn round_trips(owner in proptest::option::of(".{0,40}"), pairs in proptest::collection::vec((".{0,20}", any::<i64>()), 0..8)) {
            let r = record(owner.clone(), &pairs);
            let blob = encode(&r);
            let back = decode(&blob, Times::of(&r.meta)).expect("decodes");
            prop_assert_eq!(&back, &r);
            prop_assert_eq!(super::owner(&blob), owner);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let times = Times { created: Timestamp::EPOCH, idle: Timestamp::MAX, absolute: Timestamp::MAX };
            let _ = decode(&bytes, times);
            let _ = super::owner(&bytes);
            let _ = idle_timeout(&bytes);
        }
    }

    #[test]
    fn small_sessions_are_small() {
        let r = record(None, &[("n".into(), 123_456)]);
        assert!(encode(&r).len() < 20);
    }
}
