//! The [`SessionStore`] operations: read, decide in Rust, then compare-and-set (see the
//! table in the module docs of [`super`]).

use satchel::{
    Capabilities, Expires, Meta, Patch, Record, SessionStore, StoreError, StoreErrorKind, StoreKey,
    Timestamp, WriteOutcome,
};

use super::meta::{self, Context};
use super::patch::{self, Applied};
use super::redis_io::{Read, Rotated};
use super::{view, ConnectRedisStore, WRITE_ATTEMPTS};
use crate::connect_redis::{RedisStoreOptions, StoredSession};

/// The longest TTL written: ten years. satchel clamps expiries to 400 days and
/// connect-redis's default is one day; this only keeps absurd deadlines from making
/// Redis refuse the `SET`.
const MAX_TTL_SECONDS: u64 = 10 * 365 * 24 * 3600;

/// A live record as read: the exact text (what the compare-and-set expects), the record
/// and its satchel metadata.
struct Current {
    read: Read,
    stored: StoredSession,
    meta: Meta,
}

impl ConnectRedisStore {
    fn context(&self, redis_deadline: Option<Timestamp>, now: Timestamp) -> Context<'_> {
        let options = &self.inner.options;
        Context {
            redis_deadline,
            now,
            default_ttl: options.default_ttl,
            owner_key: options.owner_key.as_deref(),
        }
    }

    /// The live record under the Redis key `key` at `now`, or `None` (absent, a value
    /// express-session treats as no session, or past its deadline).
    async fn current(&self, key: &str, now: Timestamp) -> Result<Option<Current>, StoreError> {
        let Some(read) = self.inner.redis.read(key).await? else {
            return Ok(None);
        };
        let Some(stored) = parse(&read.text)? else {
            return Ok(None);
        };
        let meta = meta::read(&stored, self.context(read.redis_deadline, now))?;
        if meta.is_expired(now) {
            return Ok(None);
        }
        Ok(Some(Current { read, stored, meta }))
    }

    /// `apply` (`new` is `None`) or `rotate`: read, patch in Rust, compare-and-set; again
    /// on a lost race.
    async fn write(
        &self,
        old: &StoreKey,
        new: Option<&StoreKey>,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let key = self.redis_key(old);
        let new_key = new.map(|k| self.redis_key(k));
        let owner_key = self.inner.options.owner_key.as_deref();
        for _ in 0..WRITE_ATTEMPTS {
            let Some(mut cur) = self.current(&key, now).await? else {
                return Ok(WriteOutcome::Gone);
            };
            match patch::apply(&mut cur.stored, &mut cur.meta, patch, owner_key, now)? {
                Applied::Conflict(keys) => return Ok(WriteOutcome::Conflict(keys)),
                Applied::TooLarge => return Ok(WriteOutcome::TooLarge),
                Applied::Changed => {}
            }
            let json = view::to_json(&cur.stored)?;
            let ttl = ttl_seconds(&cur.meta, now);
            let redis = &self.inner.redis;
            let done = match &new_key {
                None => redis.swap(&key, &cur.read.text, &json, ttl).await?,
                Some(new_key) => match redis
                    .rotate(&key, new_key, &cur.read.text, &json, ttl)
                    .await?
                {
                    Rotated::Done => true,
                    Rotated::Taken => return Ok(WriteOutcome::KeyTaken),
                    Rotated::Raced => false,
                },
            };
            if done {
                return Ok(WriteOutcome::Applied(cur.meta.expires()));
            }
        }
        lost_races(patch)
    }
}

/// After [`WRITE_ATTEMPTS`] lost races: a conflict on the keys the patch names.
fn lost_races(patch: &Patch) -> Result<WriteOutcome, StoreError> {
    let mut keys: Vec<String> = patch
        .expect
        .iter()
        .map(|(k, _)| k.clone())
        .chain(patch.set.iter().map(|(k, _)| k.clone()))
        .chain(patch.remove.iter().cloned())
        .collect();
    keys.sort();
    keys.dedup();
    Ok(WriteOutcome::Conflict(keys))
}

/// A stored value as express-session reads it: `None` for what it treats as no session
/// (an empty string, `null`, …).
///
/// # Errors
/// `Corrupt` where express-session would fail the request with a 500 (not JSON, not an
/// object, no valid `cookie` object).
fn parse(text: &str) -> Result<Option<StoredSession>, StoreError> {
    RedisStoreOptions::parse_get_reply(Some(text))
        .map_err(|e| StoreError::new(StoreErrorKind::Corrupt, e))
}

/// connect-redis's TTL rule, `ceil((deadline − now) / 1000)`, on the session's deadline;
/// at least 1 (callers only write live sessions).
fn ttl_seconds(meta: &Meta, now: Timestamp) -> u64 {
    let ms = meta
        .expires_at()
        .as_millis()
        .saturating_sub(now.as_millis());
    ms.div_ceil(1000).clamp(1, MAX_TTL_SECONDS)
}

impl SessionStore for ConnectRedisStore {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        match self.current(&self.redis_key(key), now).await? {
            Some(cur) => Ok(Some(view::record_of(&cur.stored, cur.meta)?)),
            None => Ok(None),
        }
    }

    async fn create(
        &self,
        key: &StoreKey,
        record: &Record,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let options = &self.inner.options;
        let stored = view::new_stored(record, &options.cookie, options.owner_key.as_deref())?;
        let expires = record.meta.expires();
        if record.meta.is_expired(now) {
            // Dead on arrival: storing it would only make Redis delete it again.
            return Ok(WriteOutcome::Applied(expires));
        }
        let json = view::to_json(&stored)?;
        let ttl = ttl_seconds(&record.meta, now);
        let rkey = self.redis_key(key);
        let redis = &self.inner.redis;
        for _ in 0..WRITE_ATTEMPTS {
            if redis.set_new(&rkey, &json, ttl).await? {
                return Ok(WriteOutcome::Applied(expires));
            }
            // Something is there. Only a dead record (past its deadline, or what Express
            // reads as no session) may be replaced, and only if it is still that record.
            let Some(read) = redis.read(&rkey).await? else {
                continue; // gone meanwhile: try the plain create again
            };
            let dead = match parse(&read.text) {
                Ok(None) => true,
                Ok(Some(stored)) => meta::read(&stored, self.context(read.redis_deadline, now))
                    .is_ok_and(|m| m.is_expired(now)),
                // Never replace what we cannot read.
                Err(_) => false,
            };
            if !dead {
                return Ok(WriteOutcome::KeyTaken);
            }
            if redis.swap(&rkey, &read.text, &json, ttl).await? {
                return Ok(WriteOutcome::Applied(expires));
            }
        }
        Ok(WriteOutcome::KeyTaken)
    }

    async fn apply(
        &self,
        key: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.write(key, None, patch, now).await
    }

    async fn rotate(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.write(old, Some(new), patch, now).await
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.inner.redis.delete(&self.redis_key(key)).await
    }

    /// Moves the deadline (and `cookie.expires` and the TTL with it) by a compare-and-set
    /// of the whole record, so a touch racing a logout never brings the record back.
    async fn touch(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Expires>, StoreError> {
        match self.write(key, None, &Patch::default(), now).await? {
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
