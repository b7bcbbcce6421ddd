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

use smallvec::SmallVec;

use crate::error::StoreError;
use crate::patch_source::PatchSource;
use crate::record::{Data, Meta, Record, Value};
use crate::store::WriteOutcome;
use crate::time::{duration_millis, Timestamp};

const VERSION: u8 = 1;
const PERSISTENT: u8 = 1;
const HAS_OWNER: u8 = 2;

/// Blobs up to this many bytes live inside the store's table entry instead of in a heap
/// allocation of their own. A `{"user", "n"}` session is ~32 bytes. Inline, a lookup
/// touches the table's memory only (one cache miss fewer per request when the sessions
/// do not fit in the CPU cache), and a write allocates nothing.
const BLOB_INLINE: usize = 32;

/// A record's bytes: inline up to [`BLOB_INLINE`] bytes, on the heap beyond.
pub(crate) type Blob = SmallVec<[u8; BLOB_INLINE]>;

/// Where an encoding is written: a `Vec` (sealed cookies) or a [`Blob`] (the store). The
/// caller sizes it with [`encoded_len`] first.
pub(crate) trait Sink {
    fn push(&mut self, byte: u8);
    fn extend_from_slice(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn push(&mut self, byte: u8) {
        Vec::push(self, byte);
    }
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        Vec::extend_from_slice(self, bytes);
    }
}

impl Sink for Blob {
    fn push(&mut self, byte: u8) {
        SmallVec::push(self, byte);
    }
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        SmallVec::extend_from_slice(self, bytes);
    }
}

/// The fixed-size part of a stored record, kept outside the blob so expiry checks need no
/// decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Times {
    pub(crate) created: Timestamp,
    pub(crate) idle: Timestamp,
    pub(crate) absolute: Timestamp,
}

impl Times {
    pub(crate) fn of(meta: &Meta) -> Self {
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

pub(crate) fn encode(record: &Record) -> Blob {
    let len = encoded_len(record);
    let mut out = Blob::with_capacity(len);
    encode_into(record, &mut out);
    debug_assert_eq!(out.len(), len);
    out
}

/// The exact length of `record`'s encoding.
pub(crate) fn encoded_len(record: &Record) -> usize {
    let meta = &record.meta;
    2 + varint_len(duration_millis(meta.idle_timeout))
        + meta
            .owner
            .as_ref()
            .map_or(0, |o| varint_len(o.len() as u64) + o.len())
        + record
            .data
            .iter()
            .map(|(k, v)| entry_len(k.len(), v.get().len()))
            .sum::<usize>()
}

/// Appends the encoding of `record` to `out` (sealed cookies frame it behind a header),
/// which has room for [`encoded_len`] more bytes.
pub(crate) fn encode_into<O: Sink>(record: &Record, out: &mut O) {
    let meta = &record.meta;
    let idle_ms = duration_millis(meta.idle_timeout);
    out.push(VERSION);
    let mut flags = 0;
    if meta.persistent {
        flags |= PERSISTENT;
    }
    if meta.owner.is_some() {
        flags |= HAS_OWNER;
    }
    out.push(flags);
    put_varint(out, idle_ms);
    if let Some(owner) = &meta.owner {
        put_bytes(out, owner.as_bytes());
    }
    for (key, value) in &record.data {
        put_bytes(out, key.as_bytes());
        put_bytes(out, value.get().as_bytes());
    }
}

/// Reads the version, flags, idle timeout and owner at the start of a blob; what is left
/// in `r` are the entries.
fn header(r: &mut Reader<'_>, times: Times) -> Result<Meta, StoreError> {
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
    Ok(Meta {
        created_at: times.created,
        idle_timeout,
        idle_deadline: times.idle,
        absolute_deadline: times.absolute,
        persistent: flags & PERSISTENT != 0,
        owner,
    })
}

pub(crate) fn decode(blob: &[u8], times: Times) -> Result<Record, StoreError> {
    let mut r = Reader(blob);
    let meta = header(&mut r, times)?;
    let mut data = Data::with_capacity(4);
    while !r.0.is_empty() {
        let key = r.string()?;
        let value = r.string()?;
        // Our own encoding of a Value (JSON validated when the Value was made), held in this
        // process's memory: parsing every value again on every load would only cost time.
        let value = Value::from_trusted_json(value);
        data.insert(key, value);
    }
    Ok(Record { data, meta })
}

/// The most entries a blob may hold to be kept packed (see [`load`]); larger sessions are
/// decoded into [`Data`], where a key lookup is a binary search instead of a scan.
const MAX_PACKED_ENTRIES: usize = 16;

/// A loaded record's data, left in its stored bytes: validated once at load, then read key
/// by key, so a request that reads one value allocates one copy of the blob instead of a
/// string per key and value.
#[derive(Debug)]
pub(crate) struct Packed {
    blob: Blob,
    /// Where the entries start.
    body: usize,
    /// The size of the data, as `Data` counts it (keys plus JSON values).
    size: usize,
}

impl Packed {
    fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut r = Reader(self.blob.get(self.body..).unwrap_or_default());
        std::iter::from_fn(move || {
            if r.0.is_empty() {
                return None;
            }
            // Validated at load: neither can fail.
            let key = r.slice().ok().and_then(|k| std::str::from_utf8(k).ok())?;
            let value = r.slice().ok().and_then(|v| std::str::from_utf8(v).ok())?;
            Some((key, value))
        })
    }

    /// The JSON text stored under `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        // Keys compare as bytes; only the value found is turned back into text.
        let mut r = Reader(self.blob.get(self.body..).unwrap_or_default());
        while !r.0.is_empty() {
            let (k, v) = (r.slice().ok()?, r.slice().ok()?);
            if k == key.as_bytes() {
                return std::str::from_utf8(v).ok();
            }
        }
        None
    }

    /// The size of the data: keys plus JSON values.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The data as a [`Data`].
    pub(crate) fn to_data(&self) -> Data {
        self.entries()
            .map(|(k, v)| (k.to_owned(), Value::from_trusted_json(v.to_owned())))
            .collect()
    }
}

/// Like [`decode`] (the same validation and errors), but a small session's data stays
/// packed: the record's `data` is then empty and the `Packed` holds it.
pub(crate) fn load(blob: &[u8], times: Times) -> Result<(Record, Option<Packed>), StoreError> {
    let mut r = Reader(blob);
    let meta = header(&mut r, times)?;
    let body = blob.len() - r.0.len();
    // Validate every entry as `decode` would, noting the keys to rule out duplicates
    // (which `decode` resolves last-wins; such blobs take that path).
    let mut keys: [&[u8]; MAX_PACKED_ENTRIES] = [&[]; MAX_PACKED_ENTRIES];
    let mut n = 0;
    let mut size = 0;
    let mut packable = true;
    let mut entries = Reader(r.0);
    while !entries.0.is_empty() {
        let key = entries.str()?;
        let value = entries.str()?;
        size += key.len() + value.len();
        if packable {
            if n == MAX_PACKED_ENTRIES || keys[..n].contains(&key.as_bytes()) {
                packable = false;
            } else {
                keys[n] = key.as_bytes();
                n += 1;
            }
        }
    }
    if !packable {
        return decode(blob, times).map(|record| (record, None));
    }
    let record = Record {
        data: Data::new(),
        meta,
    };
    let packed = Packed {
        blob: Blob::from_slice(blob),
        body,
        size,
    };
    Ok((record, Some(packed)))
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

/// Whether the record has an owner, from its flags byte alone (no allocation): which of a
/// shard's tables it belongs in. A blob too short to have flags has none.
pub(super) fn has_owner(blob: &[u8]) -> bool {
    blob.get(1).is_some_and(|flags| flags & HAS_OWNER != 0)
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

/// A stored blob patched in place of decoding and re-encoding it: the new blob and times.
pub(super) struct Patched {
    pub(super) blob: Blob,
    pub(super) times: Times,
    pub(super) persistent: bool,
}

/// Applies `patch` straight to the bytes: the hot path of every write. No maps, no
/// intermediate vectors, and the output is allocated once at its exact size (not at all
/// when it fits inline).
/// `Ok(Err(outcome))` is a refusal (conflict, too large) and changes nothing.
pub(super) fn patch<P: PatchSource>(
    blob: &[u8],
    times: Times,
    patch: &P,
    now: Timestamp,
) -> Result<Result<Patched, WriteOutcome>, StoreError> {
    let mut r = Reader(blob);
    if r.byte()? != VERSION {
        return Err(StoreError::corrupt("unknown memory record version"));
    }
    let mut flags = r.byte()?;
    let mut idle_ms = r.varint()?;
    let mut owner = if flags & HAS_OWNER != 0 {
        Some(r.slice()?)
    } else {
        None
    };
    let body = r.0;
    let replaced = |key: &[u8]| {
        patch.clear()
            || patch.remove().any(|k| k.as_bytes() == key)
            || patch.set().any(|(k, _)| k.as_bytes() == key)
    };
    // One pass over the stored entries: validate them, size what is kept, and note the
    // current value of every expected key.
    let mut current: [Option<&[u8]>; 8] = [None; 8];
    let mut kept = 0usize;
    let mut kept_bytes = 0usize;
    let mut entries = Reader(body);
    while !entries.0.is_empty() {
        let (key, value) = (entries.slice()?, entries.slice()?);
        if let Some(i) = patch.expect().position(|(k, _)| k.as_bytes() == key) {
            if let Some(slot) = current.get_mut(i) {
                *slot = Some(value);
            }
        }
        if !replaced(key) {
            kept += key.len() + value.len();
            kept_bytes += entry_len(key.len(), value.len());
        }
    }
    let mut conflicts = Vec::new();
    for (i, (key, seen)) in patch.expect().enumerate() {
        let now_value = match current.get(i) {
            Some(slot) => *slot,
            None => find(body, key.as_bytes())?, // more than 8 expectations: look it up
        };
        if now_value != seen.map(str::as_bytes) {
            conflicts.push(key.to_owned());
        }
    }
    if !conflicts.is_empty() {
        return Ok(Err(WriteOutcome::Conflict(conflicts)));
    }
    let added: usize = patch.set().map(|(k, v)| k.len() + v.len()).sum();
    if patch
        .max_data_bytes()
        .is_some_and(|limit| kept + added > limit)
    {
        return Ok(Err(WriteOutcome::TooLarge));
    }
    let mut times = times;
    if let Some(expiry) = patch.expiry() {
        idle_ms = duration_millis(expiry.idle_timeout);
        times.absolute = expiry.absolute_deadline;
        flags = if expiry.persistent {
            flags | PERSISTENT
        } else {
            flags & !PERSISTENT
        };
    }
    if let Some(new_owner) = patch.owner() {
        owner = new_owner.map(str::as_bytes);
        flags = if owner.is_some() {
            flags | HAS_OWNER
        } else {
            flags & !HAS_OWNER
        };
    }
    times.idle = now
        .saturating_add(Duration::from_millis(idle_ms))
        .min(times.absolute);
    let size = 2
        + varint_len(idle_ms)
        + owner.map_or(0, |o| varint_len(o.len() as u64) + o.len())
        + kept_bytes
        + patch
            .set()
            .map(|(k, v)| entry_len(k.len(), v.len()))
            .sum::<usize>();
    let mut out = Blob::with_capacity(size);
    out.push(VERSION);
    out.push(flags);
    put_varint(&mut out, idle_ms);
    if let Some(owner) = owner {
        put_bytes(&mut out, owner);
    }
    let mut entries = Reader(body);
    while !entries.0.is_empty() {
        let (key, value) = (entries.slice()?, entries.slice()?);
        if !replaced(key) {
            put_bytes(&mut out, key);
            put_bytes(&mut out, value);
        }
    }
    for (key, value) in patch.set() {
        put_bytes(&mut out, key.as_bytes());
        put_bytes(&mut out, value.as_bytes());
    }
    debug_assert_eq!(out.len(), size);
    Ok(Ok(Patched {
        blob: out,
        times,
        persistent: flags & PERSISTENT != 0,
    }))
}

/// The stored value of `key` in an entries region.
fn find<'a>(body: &'a [u8], key: &[u8]) -> Result<Option<&'a [u8]>, StoreError> {
    let mut r = Reader(body);
    while !r.0.is_empty() {
        let (k, v) = (r.slice()?, r.slice()?);
        if k == key {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

fn varint_len(n: u64) -> usize {
    // 7 bits per byte, at least one byte.
    (64 - n.leading_zeros() as usize).div_ceil(7).max(1)
}

fn entry_len(key: usize, value: usize) -> usize {
    varint_len(key as u64) + key + varint_len(value as u64) + value
}

fn put_varint<O: Sink>(out: &mut O, mut n: u64) {
    // LEB128: the low 7 bits per byte, with the high bit set on all but the last.
    let low7 = |n: u64| u8::try_from(n & 0x7f).unwrap_or(0);
    while n >= 0x80 {
        out.push(low7(n) | 0x80);
        n >>= 7;
    }
    out.push(low7(n));
}

fn put_bytes<O: Sink>(out: &mut O, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
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

    fn slice(&mut self) -> Result<&'a [u8], StoreError> {
        let len = usize::try_from(self.varint()?).unwrap_or(usize::MAX);
        if len > self.0.len() {
            return Err(StoreError::corrupt("length past the end of memory record"));
        }
        let (bytes, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(bytes)
    }

    fn str(&mut self) -> Result<&'a str, StoreError> {
        std::str::from_utf8(self.slice()?)
            .map_err(|_| StoreError::corrupt("invalid UTF-8 in memory record"))
    }

    fn string(&mut self) -> Result<String, StoreError> {
        let bytes = self.slice()?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| StoreError::corrupt("invalid UTF-8 in memory record"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Patch;
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
            prop_assert_eq!(has_owner(&blob), owner.is_some());
            prop_assert_eq!(super::owner(&blob), owner);
        }

        #[test]
        fn blob_patch_matches_record_patch(
            pairs in proptest::collection::vec(("[a-d]", any::<i64>()), 0..6),
            set in proptest::collection::vec(("[a-f]", any::<i64>()), 0..4),
            remove in proptest::collection::vec("[a-f]", 0..3),
            clear in any::<bool>(),
            owner in proptest::option::of(proptest::option::of("[a-z]{1,8}")),
        ) {
            let r = record(Some("o".into()), &pairs);
            let mut p = Patch { clear, remove, owner, ..Patch::default() };
            let mut seen = std::collections::BTreeSet::new();
            for (k, v) in set {
                if seen.insert(k.clone()) {
                    p.set.push((k, Value::from_json(v.to_string()).expect("json")));
                }
            }
            let now = Timestamp::from_millis(1_000);
            let blob = encode(&r);
            let Ok(Ok(patched)) = patch(&blob, Times::of(&r.meta), &p, now) else {
                panic!("patch failed");
            };
            let via_blob = decode(&patched.blob, patched.times).expect("decodes");
            let mut via_record = r.clone();
            p.apply_to(&mut via_record, now);
            prop_assert_eq!(via_blob, via_record);
        }

        #[test]
        fn packed_load_matches_decode(
            owner in proptest::option::of("[a-z]{0,8}"),
            pairs in proptest::collection::vec((".{0,6}", any::<i64>()), 0..20),
            probe in ".{0,6}",
        ) {
            let r = record(owner, &pairs);
            let blob = encode(&r);
            let times = Times::of(&r.meta);
            let (loaded, packed) = load(&blob, times).expect("loads");
            prop_assert_eq!(&loaded.meta, &r.meta);
            match packed {
                None => prop_assert_eq!(&loaded.data, &r.data),
                Some(p) => {
                    prop_assert!(loaded.data.is_empty());
                    prop_assert_eq!(p.to_data(), r.data.clone());
                    prop_assert_eq!(p.size(), r.data.iter().map(|(k, v)| k.len() + v.get().len()).sum::<usize>());
                    for (k, v) in r.data.iter() {
                        prop_assert_eq!(p.get(k), Some(v.get()));
                    }
                    prop_assert_eq!(p.get(&probe), r.data.get(&probe).map(Value::get));
                }
            }
        }

        #[test]
        fn packed_load_fails_like_decode(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let times = Times { created: Timestamp::EPOCH, idle: Timestamp::MAX, absolute: Timestamp::MAX };
            prop_assert_eq!(load(&bytes, times).is_ok(), decode(&bytes, times).is_ok());
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let times = Times { created: Timestamp::EPOCH, idle: Timestamp::MAX, absolute: Timestamp::MAX };
            let _ = decode(&bytes, times);
            let _ = super::owner(&bytes);
            let _ = has_owner(&bytes);
            let _ = idle_timeout(&bytes);
            let _ = patch(&bytes, times, &Patch::default(), Timestamp::EPOCH);
        }
    }

    #[test]
    fn varint_len_matches_the_encoding() {
        for n in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, n);
            assert_eq!(out.len(), varint_len(n), "{n}");
        }
    }

    #[test]
    fn small_sessions_are_small() {
        let r = record(None, &[("n".into(), 123_456)]);
        assert!(encode(&r).len() < 20);
    }
}
