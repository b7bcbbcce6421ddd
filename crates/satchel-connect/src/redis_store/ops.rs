//! connect-redis's record layout for the shared compare-and-set operations
//! ([`crate::redis_cas`]), and the [`SessionStore`](satchel::SessionStore) implementation on top (see the table
//! in the module docs of [`super`]).

use satchel::{Meta, StoreError, StoreErrorKind, StoreKey, Timestamp};

use super::meta::{self, Context};
use super::{view, ConnectRedisOptions, ConnectRedisStore};
use crate::connect_redis::{RedisStoreOptions, StoredSession};
use crate::data::OrderedData;
use crate::redis_cas::Layout;

/// express-session records as connect-redis keeps them.
pub(super) struct Express(pub(super) ConnectRedisOptions);

impl Layout for Express {
    type Doc = StoredSession;

    /// A stored value as express-session reads it: `None` for what it treats as no
    /// session (an empty string, `null`, …); `Corrupt` where express-session would fail
    /// the request with a 500 (not JSON, not an object, no valid `cookie` object).
    fn parse(&self, text: &str, _now: Timestamp) -> Result<Option<StoredSession>, StoreError> {
        RedisStoreOptions::parse_get_reply(Some(text))
            .map_err(|e| StoreError::new(StoreErrorKind::Corrupt, e))
    }

    fn meta(
        &self,
        doc: &StoredSession,
        redis_deadline: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Meta, StoreError> {
        let cx = Context {
            redis_deadline,
            now,
            default_ttl: self.0.default_ttl,
            owner_key: self.0.owner_key.as_deref(),
        };
        meta::read(doc, cx)
    }

    fn data(doc: &StoredSession) -> &OrderedData {
        &doc.data
    }

    fn data_mut(doc: &mut StoredSession) -> &mut OrderedData {
        &mut doc.data
    }

    fn write_meta(&self, doc: &mut StoredSession, meta: &Meta) {
        meta::write(doc, meta, self.0.owner_key.as_deref());
    }

    fn new_doc(&self, data: OrderedData, meta: &Meta) -> Result<StoredSession, StoreError> {
        let mut stored = StoredSession::new(self.0.cookie.cookie(), data);
        meta::write(&mut stored, meta, self.0.owner_key.as_deref());
        Ok(stored)
    }

    fn to_json(&self, doc: &StoredSession) -> Result<String, StoreError> {
        view::to_json(doc)
    }

    /// connect-redis's TTL rule, `ceil((deadline − now) / 1000)`, on the session's
    /// deadline; at least 1 (callers only write live sessions).
    fn ttl_seconds(&self, meta: &Meta, now: Timestamp) -> u64 {
        crate::redis_cas::ttl_to_deadline(meta, now)
    }

    fn owner_key(&self) -> Option<&str> {
        self.0.owner_key.as_deref()
    }

    fn redis_key(&self, key: &StoreKey) -> String {
        super::keys::redis_key(&self.0.prefix, key)
    }
}

crate::redis_cas::store::session_store_over_cas!(ConnectRedisStore);
