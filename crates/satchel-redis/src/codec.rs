//! Turning Redis replies into records and outcomes, and patches into script arguments.
//! Nothing here panics on what Redis sends back: anything unexpected is
//! `StoreError::corrupt` (stored data) or a `Backend` error (protocol surprises).

use std::time::Duration;

use redis::Value as RValue;
use satchel::{Data, Expires, Meta, Record, StoreError, Timestamp, Value, WriteOutcome};

/// The format version written in the `v` field.
pub(crate) const FORMAT_VERSION: &[u8] = b"1";

pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Parses a decimal number written by us or by a script. Scripts compute in doubles and
/// write them with `%.0f`, so values beyond `u64` saturate instead of failing.
pub(crate) fn parse_u64(bytes: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(bytes).ok()?;
    if let Ok(n) = s.parse::<u64>() {
        return Some(n);
    }
    let f = s.parse::<f64>().ok()?;
    if !f.is_finite() || f < 0.0 || f.fract() != 0.0 {
        return None;
    }
    // Only reached for integral values above u64::MAX: saturate.
    (f >= 1.8e19).then_some(u64::MAX)
}

fn bytes(v: &RValue) -> Option<&[u8]> {
    match v {
        RValue::BulkString(b) => Some(b),
        RValue::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// One hash field and its value.
type Field<'a> = (&'a [u8], &'a [u8]);

/// The (field, value) pairs of an `HGETALL` reply (RESP2 array or RESP3 map).
fn pairs(reply: &RValue) -> Result<Vec<Field<'_>>, StoreError> {
    let bad = || StoreError::corrupt("unexpected HGETALL reply");
    match reply {
        RValue::Nil => Ok(Vec::new()),
        RValue::Array(items) => {
            if items.len() % 2 != 0 {
                return Err(bad());
            }
            items
                .chunks_exact(2)
                .map(|kv| {
                    Ok((
                        bytes(&kv[0]).ok_or_else(bad)?,
                        bytes(&kv[1]).ok_or_else(bad)?,
                    ))
                })
                .collect()
        }
        RValue::Map(items) => items
            .iter()
            .map(|(k, v)| Ok((bytes(k).ok_or_else(bad)?, bytes(v).ok_or_else(bad)?)))
            .collect(),
        _ => Err(bad()),
    }
}

/// The flat (field, value, ...) list of an `HGETALL` reply, in the server's order: what
/// the v2 `upgrade` script compares the hash against.
pub(crate) fn flat_fields(reply: &RValue) -> Result<Vec<Vec<u8>>, StoreError> {
    Ok(pairs(reply)?
        .into_iter()
        .flat_map(|(f, v)| [f.to_vec(), v.to_vec()])
        .collect())
}

/// Decodes the `HGETALL` reply of a session hash: `None` when the hash is absent.
pub(crate) fn decode_record(reply: &RValue) -> Result<Option<Record>, StoreError> {
    let fields = pairs(reply)?;
    if fields.is_empty() {
        return Ok(None);
    }
    let mut version = None;
    let (mut c, mut i, mut d, mut a, mut p, mut o) = (None, None, None, None, None, None);
    let mut data = Vec::with_capacity(fields.len().saturating_sub(6));
    for (field, value) in fields {
        match field {
            b"v" => version = Some(value),
            b"c" => c = parse_u64(value),
            b"i" => i = parse_u64(value),
            b"d" => d = parse_u64(value),
            b"a" => a = parse_u64(value),
            b"p" => {
                p = match value {
                    b"0" => Some(false),
                    b"1" => Some(true),
                    _ => None,
                }
            }
            // The data size, kept for the scripts' size check; the load recomputes nothing
            // from it, but a value that is not a number means the hash is not ours.
            b"z" => {
                if parse_u64(value).is_none() {
                    return Err(StoreError::corrupt("malformed session size field"));
                }
            }
            b"o" => {
                o = Some(
                    String::from_utf8(value.to_vec())
                        .map_err(|_| StoreError::corrupt("owner is not UTF-8"))?,
                )
            }
            [b'.', key @ ..] => {
                let key = String::from_utf8(key.to_vec())
                    .map_err(|_| StoreError::corrupt("session key is not UTF-8"))?;
                let text = String::from_utf8(value.to_vec())
                    .map_err(|_| StoreError::corrupt("session value is not UTF-8"))?;
                let value = Value::from_json(text)
                    .map_err(|_| StoreError::corrupt("session value is not JSON"))?;
                data.push((key, value));
            }
            _ => return Err(StoreError::corrupt("unknown field in session hash")),
        }
    }
    if version != Some(FORMAT_VERSION) {
        return Err(StoreError::corrupt("unknown session format version"));
    }
    let (Some(c), Some(i), Some(d), Some(a), Some(p)) = (c, i, d, a, p) else {
        return Err(StoreError::corrupt("missing or malformed session metadata"));
    };
    Ok(Some(Record {
        data: data.into_iter().collect::<Data>(),
        meta: Meta {
            created_at: Timestamp::from_millis(c),
            idle_timeout: Duration::from_millis(i),
            idle_deadline: Timestamp::from_millis(d),
            absolute_deadline: Timestamp::from_millis(a),
            persistent: p,
            owner: o,
        },
    }))
}

/// Decodes a write script's reply.
pub(crate) fn decode_outcome(reply: &RValue) -> Result<WriteOutcome, StoreError> {
    let bad = || StoreError::msg(satchel::StoreErrorKind::Backend, "unexpected script reply");
    let RValue::Array(items) = reply else {
        return Err(bad());
    };
    let status = items.first().and_then(bytes).ok_or_else(bad)?;
    match status {
        b"ok" => {
            let at = items
                .get(1)
                .and_then(bytes)
                .and_then(parse_u64)
                .ok_or_else(bad)?;
            let persistent = items.get(2).and_then(bytes) == Some(b"1");
            Ok(WriteOutcome::Applied(Expires {
                at: Timestamp::from_millis(at),
                persistent,
            }))
        }
        b"gone" => Ok(WriteOutcome::Gone),
        b"taken" => Ok(WriteOutcome::KeyTaken),
        b"large" => Ok(WriteOutcome::TooLarge),
        b"conflict" => items[1..]
            .iter()
            .map(|k| {
                bytes(k)
                    .and_then(|b| String::from_utf8(b.to_vec()).ok())
                    .ok_or_else(bad)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(WriteOutcome::Conflict),
        b"corrupt" => Err(StoreError::corrupt(
            "session hash is not a version-1 record",
        )),
        _ => Err(bad()),
    }
}

/// One owner index operation a script deferred to the client (Cluster mode).
#[derive(Debug)]
pub(crate) struct IndexOp {
    /// Add (else remove).
    pub(crate) add: bool,
    pub(crate) owner: String,
    pub(crate) member: String,
    /// The score (absolute deadline, ms) for an add.
    pub(crate) score: String,
}

/// The deferred index operations after the first three items of an `ok` reply.
pub(crate) fn index_ops(reply: &RValue) -> Result<Vec<IndexOp>, StoreError> {
    let bad = || StoreError::msg(satchel::StoreErrorKind::Backend, "unexpected script reply");
    let RValue::Array(items) = reply else {
        return Ok(Vec::new());
    };
    if items.first().and_then(bytes) != Some(b"ok") || items.len() < 3 {
        return Ok(Vec::new());
    }
    let rest = &items[3..];
    if rest.len() % 4 != 0 {
        return Err(bad());
    }
    let text = |v: &RValue| {
        bytes(v)
            .and_then(|b| String::from_utf8(b.to_vec()).ok())
            .ok_or_else(bad)
    };
    rest.chunks_exact(4)
        .map(|op| {
            Ok(IndexOp {
                add: text(&op[0])? == "a",
                owner: text(&op[1])?,
                member: text(&op[2])?,
                score: text(&op[3])?,
            })
        })
        .collect()
}

/// The number of records a `delete` script removed (its second item).
pub(crate) fn deleted_count(reply: &RValue) -> u64 {
    match reply {
        RValue::Array(items) => items
            .get(1)
            .and_then(bytes)
            .and_then(parse_u64)
            .unwrap_or(0),
        _ => 0,
    }
}

/// A reply that is a list of strings (`ZRANGE`).
pub(crate) fn strings(reply: &RValue) -> Result<Vec<String>, StoreError> {
    let bad = || StoreError::corrupt("owner index member is not UTF-8");
    match reply {
        RValue::Array(items) => items
            .iter()
            .map(|v| {
                bytes(v)
                    .and_then(|b| String::from_utf8(b.to_vec()).ok())
                    .ok_or_else(bad)
            })
            .collect(),
        RValue::Nil => Ok(Vec::new()),
        _ => Err(bad()),
    }
}

/// Appends a record in the layout the `create` script expects.
pub(crate) fn push_record(args: &mut Vec<Vec<u8>>, record: &Record) {
    let m = &record.meta;
    args.push(m.created_at.as_millis().to_string().into_bytes());
    args.push(ms(m.idle_timeout).to_string().into_bytes());
    args.push(m.idle_deadline.as_millis().to_string().into_bytes());
    args.push(m.absolute_deadline.as_millis().to_string().into_bytes());
    args.push(if m.persistent {
        b"1".to_vec()
    } else {
        b"0".to_vec()
    });
    match &m.owner {
        Some(o) => args.extend([b"1".to_vec(), o.as_bytes().to_vec()]),
        None => args.extend([b"0".to_vec(), Vec::new()]),
    }
    args.push(record.data.len().to_string().into_bytes());
    for (key, value) in record.data.iter() {
        args.push(key.as_bytes().to_vec());
        args.push(value.get().as_bytes().to_vec());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> RValue {
        RValue::BulkString(s.as_bytes().to_vec())
    }

    fn hash(pairs: &[(&str, &str)]) -> RValue {
        RValue::Array(pairs.iter().flat_map(|(k, v)| [bulk(k), bulk(v)]).collect())
    }

    const META: [(&str, &str); 6] = [
        ("v", "1"),
        ("c", "1000"),
        ("i", "60000"),
        ("d", "61000"),
        ("a", "601000"),
        ("p", "0"),
    ];

    #[test]
    fn decodes_a_record() {
        let mut fields = META.to_vec();
        fields.extend([
            (".", "\"empty key\""),
            (".n", "42"),
            ("o", "alice"),
            ("z", "15"),
        ]);
        let r = decode_record(&hash(&fields)).expect("ok").expect("some");
        assert_eq!(r.data.len(), 2);
        assert_eq!(r.data.get("").map(Value::get), Some("\"empty key\""));
        assert_eq!(r.meta.owner.as_deref(), Some("alice"));
        assert_eq!(r.meta.idle_timeout, Duration::from_secs(60));
        assert!(decode_record(&RValue::Array(vec![])).expect("ok").is_none());
    }

    #[test]
    fn garbage_is_corrupt_never_a_panic() {
        let cases: Vec<RValue> = vec![
            hash(&[
                ("v", "2"),
                ("c", "1"),
                ("i", "1"),
                ("d", "1"),
                ("a", "1"),
                ("p", "0"),
            ]),
            hash(&[("garbage", "x")]),
            hash(&{
                let mut f = META.to_vec();
                f.push(("z", "many"));
                f
            }),
            hash(&[("v", "1")]),
            hash(&[
                ("v", "1"),
                ("c", "x"),
                ("i", "1"),
                ("d", "1"),
                ("a", "1"),
                ("p", "0"),
            ]),
            hash(&{
                let mut f = META.to_vec();
                f.push((".k", "not json"));
                f
            }),
            RValue::Array(vec![bulk("v")]),
            RValue::Int(3),
            RValue::Array(vec![RValue::BulkString(vec![0xff]), bulk("1")]),
        ];
        for c in &cases {
            let err = decode_record(c).expect_err("corrupt");
            assert_eq!(err.kind(), satchel::StoreErrorKind::Corrupt, "{c:?}");
        }
    }

    #[test]
    fn numbers_from_doubles_saturate() {
        assert_eq!(parse_u64(b"123"), Some(123));
        assert_eq!(parse_u64(b"18446744073709551616"), Some(u64::MAX));
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"1.5"), None);
        assert_eq!(parse_u64(b"nan"), None);
    }
}
