//! koa-redis's record layout for the shared compare-and-set operations
//! ([`crate::redis_cas`]): the koa-session payload plus the `_satchel` member.

use satchel::{Meta, StoreError, StoreErrorKind, StoreKey, Timestamp};

use super::KoaRedisOptions;
use crate::data::OrderedData;
use crate::koa::payload::from_members;
use crate::koa::{encode_json, MaxAge, ONE_DAY_MS};
use crate::payload::{members, PayloadError};
use crate::redis_cas::extension::{js_ms, millis, owner_in, timestamp, Extension};
use crate::redis_cas::{ceil_ttl, Layout};

/// The member satchel's metadata travels in (koa-session ignores and drops `_` members).
pub(super) const EXTENSION: &str = "_satchel";

/// What koa-session adds to the TTL it passes to the store: the record outlives the
/// cookie by ten seconds.
const TTL_MARGIN_MS: u64 = 10_000;

/// koa-session records as koa-redis keeps them.
pub(super) struct Koa(pub(super) KoaRedisOptions);

/// A parsed record.
pub(super) struct KoaRecord {
    data: OrderedData,
    expire_ms: Option<i64>,
    max_age: Option<MaxAge>,
    ext: Option<String>,
}

impl Layout for Koa {
    type Doc = KoaRecord;

    /// `None` when `_expire` has passed (koa-session's rule); `Corrupt` for a value that
    /// is not a JSON object (koa-redis would treat it as missing; satchel reports it).
    fn parse(&self, text: &str, now: Timestamp) -> Result<Option<KoaRecord>, StoreError> {
        let mut all = members(text).map_err(|e| StoreError::new(StoreErrorKind::Corrupt, e))?;
        let ext = all
            .iter()
            .position(|(k, _)| k == EXTENSION)
            .map(|i| all.remove(i).1);
        match from_members(all, js_ms(now)) {
            Ok(p) => Ok(Some(KoaRecord {
                data: p.data,
                expire_ms: p.expire_ms,
                max_age: p.max_age,
                ext,
            })),
            Err(PayloadError::Expired) => Ok(None),
            Err(e) => Err(StoreError::new(StoreErrorKind::Corrupt, e)),
        }
    }

    fn meta(
        &self,
        doc: &KoaRecord,
        redis_deadline: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Meta, StoreError> {
        let mut meta = match &doc.ext {
            Some(text) => {
                let ext = Extension::parse(text)?;
                let persistent = ext.persistent.unwrap_or(true);
                ext.into_meta(persistent)
            }
            None => koa_meta(doc, redis_deadline, now),
        };
        if let Some(key) = self.owner_key() {
            meta.owner = owner_in(&doc.data, key);
        }
        Ok(meta)
    }

    fn data(doc: &KoaRecord) -> &OrderedData {
        &doc.data
    }

    fn data_mut(doc: &mut KoaRecord) -> &mut OrderedData {
        &mut doc.data
    }

    fn write_meta(&self, doc: &mut KoaRecord, meta: &Meta) {
        doc.expire_ms = Some(js_ms(meta.expires_at()));
        doc.max_age = Some(MaxAge::Ms(millis(meta.idle_timeout).max(1)));
        let ext = Extension::of(meta, true, self.owner_key());
        doc.ext = Some(ext.to_json());
    }

    fn new_doc(&self, data: OrderedData, meta: &Meta) -> Result<KoaRecord, StoreError> {
        let mut doc = KoaRecord {
            data,
            expire_ms: None,
            max_age: None,
            ext: None,
        };
        self.write_meta(&mut doc, meta);
        Ok(doc)
    }

    /// koa-session's payload (`_expire` = the deadline, `_maxAge` = the idle timeout),
    /// then `_satchel`.
    fn to_json(&self, doc: &KoaRecord) -> Result<String, StoreError> {
        let max_age = match doc.max_age {
            Some(MaxAge::Ms(ms)) if ms > 0 => ms,
            _ => ONE_DAY_MS,
        };
        // encode_json writes `_expire` = now + maxAge: pass the `now` that gives ours.
        let expire = doc.expire_ms.unwrap_or(i64::MAX);
        let json = encode_json(
            &doc.data,
            Some(MaxAge::Ms(max_age)),
            expire.saturating_sub(max_age),
        )
        .map_err(|e| StoreError::new(StoreErrorKind::Backend, e))?;
        Ok(match (&doc.ext, json.strip_suffix('}')) {
            (Some(ext), Some(open)) => format!("{open},\"{EXTENSION}\":{ext}}}"),
            _ => json,
        })
    }

    /// `ceil((maxAge + 10000) / 1000)`, with maxAge the time left until the deadline
    /// (koa-session's maxAge right after a write, less when an absolute deadline binds).
    fn ttl_seconds(&self, meta: &Meta, now: Timestamp) -> u64 {
        let left = meta
            .expires_at()
            .as_millis()
            .saturating_sub(now.as_millis());
        ceil_ttl(left.saturating_add(TTL_MARGIN_MS))
    }

    fn owner_key(&self) -> Option<&str> {
        self.0.owner_key.as_deref()
    }

    /// The prefix and the UUID for a [`KoaIds`](crate::koa::KoaIds) id, else the prefix
    /// and 64 hex digits.
    fn redis_key(&self, key: &StoreKey) -> String {
        let prefix = &self.0.prefix;
        let bytes = key.as_bytes();
        if bytes[16..].iter().all(|&b| b == 0) {
            format!("{prefix}{}", crate::koa::ids::format_uuid(&bytes[..16]))
        } else {
            format!("{prefix}{}", key.to_hex())
        }
    }
}

/// The metadata of a record Koa wrote last (see the table on the store type).
fn koa_meta(doc: &KoaRecord, redis_deadline: Option<Timestamp>, now: Timestamp) -> Meta {
    let idle_ms = match doc.max_age {
        Some(MaxAge::Ms(ms)) if ms > 0 => ms,
        _ => ONE_DAY_MS,
    };
    let idle_timeout = std::time::Duration::from_millis(idle_ms.unsigned_abs());
    let idle_deadline = match doc.expire_ms {
        Some(ms) => timestamp(ms),
        None => redis_deadline.unwrap_or_else(|| now.saturating_add(idle_timeout)),
    };
    Meta {
        created_at: Timestamp::from_millis(
            idle_deadline
                .as_millis()
                .saturating_sub(idle_ms.unsigned_abs()),
        ),
        idle_timeout,
        idle_deadline,
        absolute_deadline: Timestamp::MAX,
        persistent: true,
        owner: None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_123);

    fn koa(owner: Option<&str>) -> Koa {
        Koa(KoaRedisOptions {
            owner_key: owner.map(str::to_owned),
            ..KoaRedisOptions::default()
        })
    }

    #[test]
    fn koa_written_records() {
        let text = r#"{"user":"alice","n":2,"_expire":1767229200123,"_maxAge":3600000}"#;
        let k = koa(Some("user"));
        let doc = k.parse(text, NOW).expect("parse").expect("live");
        let m = k.meta(&doc, None, NOW).expect("meta");
        assert_eq!(m.owner.as_deref(), Some("alice"));
        assert_eq!(m.idle_timeout, Duration::from_secs(3600));
        assert_eq!(m.idle_deadline.as_millis(), 1_767_229_200_123);
        assert_eq!(m.created_at, NOW);
        assert_eq!(k.to_json(&doc).expect("json"), text, "Koa's bytes kept");
        let later = Timestamp::from_millis(1_767_229_200_124);
        assert!(k.parse(text, later).expect("parse").is_none(), "expired");
        for bad in ["garbage", "[]", "\"x\""] {
            let err = k.parse(bad, NOW).err().expect("corrupt");
            assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{bad}");
        }
    }

    #[test]
    fn satchel_records_round_trip_with_the_extension() {
        let k = koa(None);
        let mut meta = Meta::new(NOW, Duration::from_secs(1800), Duration::from_secs(600));
        meta.owner = Some("bob".into());
        let mut data = OrderedData::new();
        data.insert("n", "1").expect("json");
        data.insert("_flash", "1").expect("json");
        let doc = k.new_doc(data, &meta).expect("doc");
        let text = k.to_json(&doc).expect("json");
        assert!(
            text.starts_with(r#"{"n":1,"_expire":1767226200123,"_maxAge":1800000,"_satchel":{"#),
            "{text}"
        );
        let back = k.parse(&text, NOW).expect("parse").expect("live");
        assert_eq!(k.meta(&back, None, NOW).expect("meta"), meta);
        assert_eq!(back.data.to_json_object(), r#"{"n":1}"#);
        // TTL: maxAge + 10 s, here bounded by the absolute deadline (600 s).
        assert_eq!(k.ttl_seconds(&meta, NOW), 610);
    }
}
