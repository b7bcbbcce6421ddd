//! [`Revocations`] in Redis: the sealed-session deny-list shared by every instance and
//! kept across restarts.
//!
//! # Layout
//! | key | value | expires |
//! |---|---|---|
//! | `{prefix}r:s:{hex SHA-256 of the session id}` | `0:{until ms}` | `PXAT until` |
//! | `{prefix}r:o:{hex SHA-1 of the owner}` | `{not before ms}:{until ms}` | `PXAT until` |
//!
//! Raw session ids and owner names never reach Redis. Both kinds of entry are written by
//! one small Lua script that only ever raises the stored times (a later revoke with an
//! earlier cut-off or deadline never lowers them), atomically, on one key. Lookups compare
//! `until` with the engine's `now` as well, so an entry is dead at its deadline even if
//! Redis has not expired the key yet.
//!
//! # Cost
//! `is_revoked` is one `MGET` of the session key and, for an owned session, the owner key:
//! one round trip on a standalone server or Sentinel primary. In a Cluster the two keys
//! hash to different slots (no hash tags, so the entries spread over the nodes); the
//! client splits the `MGET` per slot and sends the parts concurrently: one round trip to
//! each of at most two nodes, in parallel. A revoke is one `EVALSHA` on one key (plus one
//! `EVAL` the first time a server sees the script).
//!
//! # Failover
//! With [`RedisConfig::wait_for_replicas`] set on the store, both revokes end with the
//! same `WAIT` as a logout (`durability.rs`, SEC-43) and fail with `Backend` when fewer
//! replicas confirmed in time: a revocation is acknowledged only once a replica a
//! failover could promote has it. Lookups never wait.
//!
//! # Bound
//! Every entry carries its expiry, so Redis holds at most the revocations of one absolute
//! session lifetime (one key per logout or login with a pre-login session, one per owner
//! that revoked its other devices). Run Redis with `maxmemory-policy noeviction` (or an
//! `allkeys-*` policy with room to spare): under a `volatile-*` policy these keys, which
//! all carry a TTL, are eviction candidates, and an evicted entry lets a revoked cookie in.

use redis::Value as RValue;
use satchel::sealed::Revocations;
use satchel::store::BoxFuture;
use satchel::{StoreError, StoreErrorKind, StoreKey, Timestamp};

use crate::{RedisConfig, RedisStore};

/// Raises the `{not before}:{until}` pair under `KEYS[1]` to at least `ARGV[1]`, `ARGV[2]`
/// and sets the key to expire at the resulting `until`. A value it cannot parse is
/// replaced (it was never written by this script), never trusted.
const REVOKE: &str = r"
local nb = tonumber(ARGV[1])
local untl = tonumber(ARGV[2])
local cur = redis.call('GET', KEYS[1])
if cur then
  local cnb, cuntl = string.match(cur, '^(%d+):(%d+)$')
  if cnb then
    nb = math.max(nb, tonumber(cnb))
    untl = math.max(untl, tonumber(cuntl))
  end
end
redis.call('SET', KEYS[1], string.format('%.0f:%.0f', nb, untl), 'PXAT', string.format('%.0f', untl))
return 1
";

/// A Redis-backed [`Revocations`] store, sharing a [`RedisStore`]'s connection and key
/// prefix (standalone, Sentinel or Cluster). Cheap to clone.
#[derive(Clone, Debug)]
pub struct RedisRevocations {
    store: RedisStore,
    script_sha: String,
}

impl RedisRevocations {
    /// Revocations under `store`'s key prefix, on its connection.
    pub fn new(store: &RedisStore) -> Self {
        RedisRevocations {
            store: store.clone(),
            script_sha: redis::Script::new(REVOKE).get_hash().to_owned(),
        }
    }

    /// Connects to `url` (as [`RedisStore::connect`]: `redis://`, `redis+cluster://`,
    /// `redis+sentinel://`) for revocations only.
    ///
    /// # Errors
    /// As [`RedisStore::connect`].
    pub async fn connect(url: &str, config: RedisConfig) -> Result<Self, StoreError> {
        Ok(Self::new(&RedisStore::connect(url, config).await?))
    }

    /// The Redis key of the deny-list entry for `session`.
    pub fn session_entry_key(&self, session: &StoreKey) -> String {
        format!("{}r:s:{}", self.store.prefix(), session.to_hex())
    }

    /// The Redis key of `owner`'s "not before" entry.
    pub fn owner_entry_key(&self, owner: &str) -> String {
        format!(
            "{}r:o:{}",
            self.store.prefix(),
            sha1_smol::Sha1::from(owner).digest()
        )
    }

    async fn raise(&self, key: &str, not_before: u64, until: u64) -> Result<(), StoreError> {
        let args = [not_before.to_string(), until.to_string()];
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&self.script_sha).arg(1).arg(key).arg(&args);
        match self.store.send(&cmd).await {
            Err(e) if crate::is_noscript(&e) => {
                let mut cmd = redis::cmd("EVAL");
                cmd.arg(REVOKE).arg(1).arg(key).arg(&args);
                self.store.send(&cmd).await.map(drop)
            }
            other => other.map(drop),
        }
    }

    async fn lookup(
        &self,
        session: &StoreKey,
        owner: Option<&str>,
        issued_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("MGET");
        cmd.arg(self.session_entry_key(session));
        if let Some(owner) = owner {
            cmd.arg(self.owner_entry_key(owner));
        }
        let reply = self.store.send(&cmd).await?;
        let RValue::Array(values) = reply else {
            return Err(StoreError::corrupt("MGET did not answer an array"));
        };
        let mut entries = values.iter().map(entry);
        let session_entry = entries.next().transpose()?.flatten();
        let owner_entry = entries.next().transpose()?.flatten();
        let now = now.as_millis();
        let denied = session_entry.is_some_and(|(_, until)| until > now);
        let before = owner_entry
            .is_some_and(|(not_before, until)| until > now && issued_at.as_millis() <= not_before);
        Ok(denied || before)
    }
}

/// One `MGET` element: absent, or a `{not before}:{until}` pair.
fn entry(value: &RValue) -> Result<Option<(u64, u64)>, StoreError> {
    let bytes = match value {
        RValue::Nil => return Ok(None),
        RValue::BulkString(b) => b.as_slice(),
        RValue::SimpleString(s) => s.as_bytes(),
        _ => return Err(StoreError::corrupt("revocation entry is not a string")),
    };
    let parse = |s: &[u8]| {
        std::str::from_utf8(s)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
    };
    let mut parts = bytes.splitn(2, |b| *b == b':');
    match (parts.next().and_then(parse), parts.next().and_then(parse)) {
        (Some(nb), Some(until)) => Ok(Some((nb, until))),
        _ => Err(StoreError::corrupt("revocation entry is not `ms:ms`")),
    }
}

impl Revocations for RedisRevocations {
    fn is_revoked<'a>(
        &'a self,
        session: &'a StoreKey,
        owner: Option<&'a str>,
        issued_at: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.lookup(session, owner, issued_at, now))
    }

    fn revoke_session<'a>(
        &'a self,
        session: &'a StoreKey,
        until: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if until <= now {
                return Ok(()); // the cookie is dead already
            }
            self.raise(&self.session_entry_key(session), 0, until.as_millis())
                .await?;
            self.store.wait_for_replicas().await
        })
    }

    fn revoke_owner<'a>(
        &'a self,
        owner: &'a str,
        not_before: Timestamp,
        until: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if until <= not_before {
                return Err(StoreError::msg(
                    StoreErrorKind::Backend,
                    "an owner revocation must last past its cut-off",
                ));
            }
            self.raise(
                &self.owner_entry_key(owner),
                not_before.as_millis(),
                until.as_millis(),
            )
            .await?;
            self.store.wait_for_replicas().await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_garbage_is_an_error_not_a_panic() {
        assert_eq!(entry(&RValue::Nil).expect("nil"), None);
        assert_eq!(
            entry(&RValue::BulkString(b"5:10".to_vec())).expect("pair"),
            Some((5, 10))
        );
        for bad in [&b""[..], b":", b"5", b"5:", b"x:1", b"1:-2", b"\xff:1"] {
            assert!(entry(&RValue::BulkString(bad.to_vec())).is_err());
        }
        assert!(entry(&RValue::Int(3)).is_err());
    }
}
