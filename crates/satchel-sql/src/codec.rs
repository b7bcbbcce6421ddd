//! Between satchel's types and column values: timestamps as BIGINT milliseconds, session
//! data as one JSON object, JSON paths for backends that address keys by path.

use std::collections::BTreeMap;
use std::time::Duration;

use satchel::{Data, Meta, Record, StoreError, StoreKey, Timestamp, Value};
use serde_json::value::RawValue;

use crate::EXPIRY_BUCKET_MS;

/// The format version written in every row; rows with another are `Corrupt` (a newer
/// satchel wrote them, or something else did).
pub(crate) const FORMAT: i16 = 1;

/// The latest instant stored (9999-12-31T23:59:59.999Z): later deadlines are clamped to it,
/// so `now + idle_timeout` and the minute rounding can never overflow a BIGINT in SQL.
pub(crate) const MAX_MS: i64 = 253_402_300_799_999;

/// A timestamp as stored.
pub(crate) fn ms(t: Timestamp) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(MAX_MS).min(MAX_MS)
}

/// A duration as stored.
pub(crate) fn dur_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(MAX_MS).min(MAX_MS)
}

/// A stored timestamp (negative ones, which satchel never writes, read as the epoch).
pub(crate) fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// The `expires_at` column: the earlier deadline rounded up to the bucket.
pub(crate) fn expiry_bucket(meta: &Meta) -> i64 {
    let at = ms(meta.idle_deadline).min(ms(meta.absolute_deadline));
    let rem = at.rem_euclid(EXPIRY_BUCKET_MS);
    if rem == 0 {
        at
    } else {
        at - rem + EXPIRY_BUCKET_MS
    }
}

/// The same rounding in SQL, for an integer expression `x` (all three backends divide
/// BIGINTs as integers with `DIV` (MySQL) or `/` (the others); `div` says which).
pub(crate) fn bucket_sql(x: &str, div: &str) -> String {
    format!(
        "((({x}) + {m}) {div} {b}) * {b}",
        m = EXPIRY_BUCKET_MS - 1,
        b = EXPIRY_BUCKET_MS
    )
}

/// The upper bound for an index range scan that finds every row expired at `now`.
pub(crate) fn purge_bound(now: Timestamp) -> i64 {
    ms(now) + EXPIRY_BUCKET_MS
}

/// A session's data as one compact JSON object.
pub(crate) fn encode_data(data: &Data) -> String {
    let mut out = String::with_capacity(
        2 + data
            .iter()
            .map(|(k, v)| k.len() + v.get().len() + 4)
            .sum::<usize>(),
    );
    push_object(&mut out, data.iter().map(|(k, v)| (k.as_str(), v)));
    out
}

/// `pairs` as one compact JSON object (keys in the order given).
#[cfg(feature = "postgres")]
pub(crate) fn object<'a>(pairs: impl Iterator<Item = (&'a str, &'a Value)>) -> String {
    let mut out = String::new();
    push_object(&mut out, pairs);
    out
}

fn push_object<'a>(out: &mut String, pairs: impl Iterator<Item = (&'a str, &'a Value)>) {
    out.push('{');
    for (i, (k, v)) in pairs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(out, k);
        out.push(':');
        out.push_str(v.get());
    }
    out.push('}');
}

/// `s` as a JSON string literal, escaped exactly as serde_json does (MariaDB compares object
/// labels as written, so every label satchel writes must be escaped the same way).
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    // serde_json never fails to serialise a &str.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\"")));
}

/// Decodes a stored data column: a JSON object of JSON values.
pub(crate) fn decode_data(text: &str) -> Result<Data, StoreError> {
    let raw: BTreeMap<String, &RawValue> = serde_json::from_str(text)
        .map_err(|_| StoreError::corrupt("session data is not a JSON object"))?;
    raw.into_iter()
        .map(|(k, v)| {
            Value::from_json(v.get())
                .map(|v| (k, v))
                .map_err(|_| StoreError::corrupt("session value is not JSON"))
        })
        .collect()
}

/// The columns of one stored row, as read.
pub(crate) struct Row {
    pub(crate) data: String,
    pub(crate) format: i64,
    pub(crate) created_at: i64,
    pub(crate) idle_timeout: i64,
    pub(crate) idle_deadline: i64,
    pub(crate) absolute_deadline: i64,
    pub(crate) persistent: bool,
    pub(crate) owner: Option<String>,
}

impl Row {
    /// The record, or `Corrupt` for an unknown format or undecodable data.
    pub(crate) fn into_record(self) -> Result<Record, StoreError> {
        if self.format != i64::from(FORMAT) {
            return Err(StoreError::corrupt("unknown session row format version"));
        }
        if self.idle_timeout < 0 {
            return Err(StoreError::corrupt("negative idle timeout"));
        }
        Ok(Record {
            data: decode_data(&self.data)?,
            meta: Meta {
                created_at: ts(self.created_at),
                idle_timeout: Duration::from_millis(self.idle_timeout.unsigned_abs()),
                idle_deadline: ts(self.idle_deadline),
                absolute_deadline: ts(self.absolute_deadline),
                persistent: self.persistent,
                owner: self.owner,
            },
        })
    }
}

/// The store key as the 32 bytes of the primary key.
pub(crate) fn key_bytes(key: &StoreKey) -> &[u8] {
    &key.as_bytes()[..]
}

/// A primary key read back.
pub(crate) fn key_from(bytes: &[u8]) -> Result<StoreKey, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(StoreKey::from_bytes)
        .map_err(|_| StoreError::corrupt("session key is not 32 bytes"))
}

/// A limit as a BIGINT.
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The JSON path of top-level key `key` for SQLite and MariaDB: `$."…"` with the key
/// escaped as a JSON string. `quote_as_unicode`: SQLite ends a quoted path label at the
/// first `"` whatever precedes it, but decodes `\u0022`; MariaDB wants `\"` (it compares
/// labels as written, and serde_json writes `\"`).
#[cfg(any(feature = "sqlite", feature = "mysql"))]
pub(crate) fn json_path(key: &str, quote_as_unicode: bool) -> String {
    let mut label = String::with_capacity(key.len() + 4);
    push_json_string(&mut label, key);
    let inner = &label[1..label.len() - 1];
    let inner = if quote_as_unicode {
        inner.replace("\\\"", "\\u0022")
    } else {
        inner.to_owned()
    };
    format!("$.\"{inner}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Value {
        Value::from_json(s).expect("json")
    }

    #[test]
    fn data_round_trips() {
        let data = Data::from([
            ("a".to_owned(), v("[1, 2]")),
            ("q\"k".to_owned(), v("\"x\"")),
            (String::new(), v("null")),
        ]);
        let text = encode_data(&data);
        assert_eq!(text, r#"{"":null,"a":[1, 2],"q\"k":"x"}"#);
        assert_eq!(decode_data(&text).expect("decode"), data);
        assert!(decode_data("[1]").is_err());
        assert!(decode_data("\"x\"").is_err());
        assert!(decode_data("not json").is_err());
    }

    #[test]
    fn times_clamp_and_round() {
        assert_eq!(ms(Timestamp::MAX), MAX_MS);
        assert_eq!(dur_ms(Duration::MAX), MAX_MS);
        assert_eq!(ts(-5), Timestamp::EPOCH);
        let mut meta = Meta::new(
            Timestamp::from_millis(60_000),
            Duration::from_millis(1),
            Duration::from_secs(3600),
        );
        assert_eq!(expiry_bucket(&meta), 120_000);
        meta.idle_deadline = Timestamp::from_millis(120_000);
        assert_eq!(expiry_bucket(&meta), 120_000);
    }

    #[test]
    #[cfg(any(feature = "sqlite", feature = "mysql"))]
    fn paths_escape_keys() {
        assert_eq!(json_path("a", false), r#"$."a""#);
        assert_eq!(json_path("q\"k", false), r#"$."q\"k""#);
        assert_eq!(json_path("q\"k", true), r#"$."q\u0022k""#);
        assert_eq!(json_path("b\\s", true), r#"$."b\\s""#);
        assert_eq!(json_path("", true), r#"$."""#);
    }
}
