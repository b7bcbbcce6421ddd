//! koa-generic-session's record layout for the shared compare-and-set operations
//! ([`crate::redis_cas`]): [`StoredSession`] plus the `cookie.satchel` member.

use std::time::Duration;

use satchel::{Meta, StoreError, StoreErrorKind, StoreKey, Timestamp};

use super::KoaGenericRedisOptions;
use crate::data::OrderedData;
use crate::koa_generic::record::idle_ms;
use crate::koa_generic::{cookie_options, StoredSession};
use crate::redis_cas::extension::{millis, owner_in, Extension};
use crate::redis_cas::Layout;

/// Our writes round the TTL up to whole seconds and reach Redis a little after `now`, so
/// a key outlives the deadline we recorded by up to ~1 s; only one that outlives it by
/// more was saved by Koa since.
const TTL_SLACK: Duration = Duration::from_secs(2);

/// The member of the `cookie` object satchel's metadata travels in.
const EXTENSION: &str = "satchel";

/// koa-generic-session records as koa-redis keeps them.
pub(super) struct Generic(pub(super) KoaGenericRedisOptions);

/// A parsed record: the session without the extension member, and that member.
pub(super) struct GenericRecord {
    session: StoredSession,
    ext: Option<String>,
}

impl Layout for Generic {
    type Doc = GenericRecord;

    /// `None` where koa-generic-session sees no session (not JSON, `null`, …); `Corrupt`
    /// for JSON that is not an object or a `cookie` member that is not one.
    fn parse(&self, text: &str, _now: Timestamp) -> Result<Option<GenericRecord>, StoreError> {
        let Some(mut session) = StoredSession::from_json(text)
            .map_err(|e| StoreError::new(StoreErrorKind::Corrupt, e))?
        else {
            return Ok(None);
        };
        let ext = session.cookie.remove(EXTENSION);
        Ok(Some(GenericRecord { session, ext }))
    }

    fn meta(
        &self,
        doc: &GenericRecord,
        redis_deadline: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Meta, StoreError> {
        let idle = idle_ms(&doc.session).unsigned_abs();
        let idle_timeout = Duration::from_millis(idle);
        let ext = doc.ext.as_deref().map(Extension::parse).transpose()?;
        // Koa's writes move the TTL and keep the member (with our last deadline): a key
        // that outlives that deadline by more than our own rounding was saved by Koa.
        let idle_deadline = match (ext.as_ref().map(|e| e.deadline), redis_deadline) {
            (Some(ours), Some(redis)) if redis > ours.saturating_add(TTL_SLACK) => redis,
            (Some(ours), _) => ours,
            (None, Some(redis)) => redis,
            (None, None) => now.saturating_add(idle_timeout),
        };
        let mut meta = match ext {
            Some(ext) => {
                let persistent = ext.persistent.unwrap_or(true);
                Meta {
                    idle_timeout,
                    idle_deadline,
                    ..ext.into_meta(persistent)
                }
            }
            None => Meta {
                created_at: Timestamp::from_millis(idle_deadline.as_millis().saturating_sub(idle)),
                idle_timeout,
                idle_deadline,
                absolute_deadline: Timestamp::MAX,
                persistent: true,
                owner: None,
            },
        };
        if let Some(key) = self.owner_key() {
            meta.owner = owner_in(&doc.session.data, key);
        }
        Ok(meta)
    }

    fn data(doc: &GenericRecord) -> &OrderedData {
        &doc.session.data
    }

    fn data_mut(doc: &mut GenericRecord) -> &mut OrderedData {
        &mut doc.session.data
    }

    /// `cookie.maxAge` = the idle timeout (so Koa's next save keeps the same TTL and
    /// cookie lifetime), and the extension member.
    fn write_meta(&self, doc: &mut GenericRecord, meta: &Meta) {
        if doc.session.cookie.is_empty() {
            doc.session.cookie = cookie_options(&self.0.cookie);
        }
        let max_age = millis(meta.idle_timeout).max(1);
        doc.session
            .cookie
            .insert_canonical("maxAge".to_owned(), max_age.to_string());
        let ext = Extension::of(meta, true, self.owner_key());
        doc.ext = Some(ext.to_json());
    }

    fn new_doc(&self, data: OrderedData, meta: &Meta) -> Result<GenericRecord, StoreError> {
        let mut doc = GenericRecord {
            session: StoredSession {
                cookie: cookie_options(&self.0.cookie),
                data,
            },
            ext: None,
        };
        self.write_meta(&mut doc, meta);
        Ok(doc)
    }

    /// `{"cookie":{…,"satchel":{…}},…}`.
    fn to_json(&self, doc: &GenericRecord) -> Result<String, StoreError> {
        if doc.session.data.contains_key("cookie") {
            return Err(StoreError::msg(
                StoreErrorKind::Backend,
                "`cookie` cannot be a session property with koa-generic-session (it holds the cookie options)",
            ));
        }
        let Some(ext) = &doc.ext else {
            return Ok(doc.session.to_json());
        };
        let mut session = doc.session.clone();
        session
            .cookie
            .insert_canonical(EXTENSION.to_owned(), ext.clone());
        Ok(session.to_json())
    }

    /// `ceil((deadline − now) / 1000)`: Koa's `cookie.maxAge` TTL right after a write
    /// (less when an absolute deadline binds).
    fn ttl_seconds(&self, meta: &Meta, now: Timestamp) -> u64 {
        crate::redis_cas::ttl_to_deadline(meta, now)
    }

    fn owner_key(&self) -> Option<&str> {
        self.0.owner_key.as_deref()
    }

    /// The prefix and the sid for a koa-generic-session id, else the prefix and 64 hex
    /// digits.
    fn redis_key(&self, key: &StoreKey) -> String {
        crate::redis_store::keys::redis_key(&self.0.prefix, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_123);
    const KOA: &str = r#"{"cookie":{"httpOnly":true,"path":"/","overwrite":true,"signed":true,"maxAge":86400000},"user":"alice","n":3}"#;

    fn generic(owner: Option<&str>) -> Generic {
        Generic(KoaGenericRedisOptions {
            owner_key: owner.map(str::to_owned),
            ..KoaGenericRedisOptions::default()
        })
    }

    #[test]
    fn koa_written_records() {
        let g = generic(Some("user"));
        let doc = g.parse(KOA, NOW).expect("parse").expect("session");
        let deadline = NOW.saturating_add(Duration::from_secs(3600));
        let m = g.meta(&doc, Some(deadline), NOW).expect("meta");
        assert_eq!(m.owner.as_deref(), Some("alice"));
        assert_eq!(m.idle_timeout, Duration::from_secs(86_400));
        assert_eq!(m.idle_deadline, deadline, "the TTL");
        assert_eq!(g.to_json(&doc).expect("json"), KOA, "Koa's bytes kept");
        assert!(g.parse("not json", NOW).expect("parse").is_none());
        for bad in ["[]", "\"x\"", r#"{"cookie":[]}"#] {
            let err = g.parse(bad, NOW).err().expect("corrupt");
            assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{bad}");
        }
    }

    #[test]
    fn satchel_records_round_trip_with_the_extension() {
        let g = generic(None);
        let mut meta = Meta::new(NOW, Duration::from_secs(1800), Duration::from_secs(600));
        meta.owner = Some("bob".into());
        let mut data = OrderedData::new();
        data.insert("_flash", "1").expect("json");
        let doc = g.new_doc(data, &meta).expect("doc");
        let text = g.to_json(&doc).expect("json");
        assert!(
            text.starts_with(r#"{"cookie":{"httpOnly":true,"path":"/","overwrite":true,"signed":true,"maxAge":1800000,"satchel":{"#),
            "{text}"
        );
        assert!(text.ends_with(r#"},"_flash":1}"#), "{text}");
        let back = g.parse(&text, NOW).expect("parse").expect("live");
        assert_eq!(
            g.meta(&back, Some(meta.idle_deadline), NOW).expect("meta"),
            meta
        );
        assert_eq!(
            g.ttl_seconds(&meta, NOW),
            600,
            "bounded by the absolute deadline"
        );
        let mut bad = back;
        bad.session.data.insert("cookie", "1").expect("json");
        assert!(g.to_json(&bad).is_err(), "a `cookie` property is refused");
    }
}
