//! connect-redis's record layout for the shared compare-and-set operations
//! ([`crate::redis_cas`]), and the [`SessionStore`] implementation on top (see the table
//! in the module docs of [`super`]).

use satchel::{
    Capabilities, Expires, Meta, Patch, Record, SessionStore, StoreError, StoreErrorKind, StoreKey,
    Timestamp, WriteOutcome,
};

use super::meta::{self, Context};
use super::{view, ConnectRedisOptions, ConnectRedisStore};
use crate::connect_redis::{RedisStoreOptions, StoredSession};
use crate::data::OrderedData;
use crate::redis_cas::{ceil_ttl, Layout};

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
        ceil_ttl(
            meta.expires_at()
                .as_millis()
                .saturating_sub(now.as_millis()),
        )
    }

    fn owner_key(&self) -> Option<&str> {
        self.0.owner_key.as_deref()
    }
}

impl SessionStore for ConnectRedisStore {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        self.inner.cas.load(&self.redis_key(key), now).await
    }

    async fn create(
        &self,
        key: &StoreKey,
        record: &Record,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.inner
            .cas
            .create(&self.redis_key(key), record, now)
            .await
    }

    async fn apply(
        &self,
        key: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.inner
            .cas
            .write(&self.redis_key(key), None, patch, now)
            .await
    }

    async fn rotate(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let new = self.redis_key(new);
        self.inner
            .cas
            .write(&self.redis_key(old), Some(&new), patch, now)
            .await
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.inner.cas.delete(&self.redis_key(key)).await
    }

    /// Moves the deadline (and `cookie.expires` and the TTL with it) by a compare-and-set
    /// of the whole record, so a touch racing a logout never brings the record back.
    async fn touch(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Expires>, StoreError> {
        match self.apply(key, &Patch::default(), now).await? {
            WriteOutcome::Applied(expires) => Ok(Some(expires)),
            _ => Ok(None),
        }
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::NONE;
        caps.atomic_patch = true;
        caps
    }
}
