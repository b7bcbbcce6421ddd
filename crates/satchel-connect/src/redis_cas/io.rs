//! Talking to Redis: the three Lua scripts the store needs, over one multiplexed
//! connection set up, bounded in time and error-mapped by satchel-redis's shared
//! [`satchel_redis::connect`] (one implementation for every Redis store).
//!
//! The scripts only compare and move JSON text; every decision about its content is made
//! in Rust (see `patch`), so the format logic lives in one place and the scripts stay a
//! few lines each:
//!
//! | script | does, atomically |
//! |---|---|
//! | `read` | `GET` the value, with `PTTL` and `TIME` (when Redis drops the key, by Redis's clock) |
//! | `swap` | `SET key new EX ttl` only if the value is still exactly the one read |
//! | `rotate` | if `old` still holds the value read: `SET new … NX EX ttl`, then `DEL old` |

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{Cmd, Script, ScriptInvocation, Value as RValue};
use satchel::{StoreError, StoreErrorKind, Timestamp};
// Connection setup, command bounds and error kinds: satchel-redis's, so both mean the same.
use satchel_redis::connect::{self, store_error};

const READ: &str = r"
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local t = redis.call('TIME')
return {v, redis.call('PTTL', KEYS[1]), t[1], t[2]}
";

const SWAP: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
";

const ROTATE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', ARGV[3]) then return -1 end
redis.call('DEL', KEYS[1])
return 1
";

/// A value read with what Redis knows about the key's lifetime.
#[derive(Debug)]
pub(crate) struct Read {
    /// The stored text, exactly as read (the compare-and-set compares against it).
    pub(crate) text: String,
    /// When Redis drops the key, by Redis's clock; `None` without a TTL.
    pub(crate) redis_deadline: Option<Timestamp>,
}

/// What the rotate script did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rotated {
    Done,
    /// The old key no longer holds the value read.
    Raced,
    /// The new key exists.
    Taken,
}

/// The connection and the scripts.
#[derive(Clone)]
pub(crate) struct Redis {
    conn: ConnectionManager,
    command_timeout: Duration,
    scripts: std::sync::Arc<[Script; 3]>,
}

impl Redis {
    /// Connects to one Redis server (`redis://` or `rediss://`).
    pub(crate) async fn connect(
        url: &str,
        connect_timeout: Duration,
        command_timeout: Duration,
    ) -> Result<Self, StoreError> {
        if url.starts_with("redis+") {
            return Err(StoreError::msg(
                StoreErrorKind::Backend,
                "this store connects to one Redis server (redis://host:port), as the Node client does",
            ));
        }
        let client = redis::Client::open(url).map_err(store_error)?;
        let conn = connect::connection_manager(client, connect_timeout, command_timeout).await?;
        Ok(Redis {
            conn,
            command_timeout,
            scripts: std::sync::Arc::new([
                Script::new(READ),
                Script::new(SWAP),
                Script::new(ROTATE),
            ]),
        })
    }

    /// The value under `key` and its lifetime, or `None`.
    pub(crate) async fn read(&self, key: &str) -> Result<Option<Read>, StoreError> {
        let invocation = self.scripts[0].key(key);
        let reply = self.run(&invocation).await?;
        let RValue::Array(parts) = reply else {
            return Ok(None);
        };
        let [value, pttl, secs, micros] = parts.as_slice() else {
            return Err(StoreError::msg(
                StoreErrorKind::Backend,
                "unexpected read reply",
            ));
        };
        let text = match value {
            RValue::BulkString(bytes) => String::from_utf8(bytes.clone())
                .map_err(|_| StoreError::corrupt("the stored session is not UTF-8"))?,
            _ => {
                return Err(StoreError::msg(
                    StoreErrorKind::Backend,
                    "unexpected read reply",
                ))
            }
        };
        let redis_deadline = match (int(pttl), int(secs), int(micros)) {
            (Some(ttl), Some(s), Some(us)) if ttl >= 0 => u64::try_from(
                s.saturating_mul(1000)
                    .saturating_add(us / 1000)
                    .saturating_add(ttl),
            )
            .ok()
            .map(Timestamp::from_millis),
            _ => None,
        };
        Ok(Some(Read {
            text,
            redis_deadline,
        }))
    }

    /// `SET key value NX EX ttl`: whether it was set.
    pub(crate) async fn set_new(
        &self,
        key: &str,
        value: &str,
        ttl: u64,
    ) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value).arg("NX").arg("EX").arg(ttl);
        Ok(matches!(self.send(&cmd).await?, RValue::Okay))
    }

    /// Replaces `read` under `key` with `value` (TTL `ttl` s) if it is still there:
    /// whether it was.
    pub(crate) async fn swap(
        &self,
        key: &str,
        read: &str,
        value: &str,
        ttl: u64,
    ) -> Result<bool, StoreError> {
        let mut invocation = self.scripts[1].key(key);
        invocation.arg(read).arg(value).arg(ttl);
        Ok(int(&self.run(&invocation).await?) == Some(1))
    }

    /// Moves `read` at `old` to `value` at `new` (see the module table).
    pub(crate) async fn rotate(
        &self,
        old: &str,
        new: &str,
        read: &str,
        value: &str,
        ttl: u64,
    ) -> Result<Rotated, StoreError> {
        let mut invocation = self.scripts[2].key(old);
        invocation.key(new).arg(read).arg(value).arg(ttl);
        Ok(match int(&self.run(&invocation).await?) {
            Some(1) => Rotated::Done,
            Some(-1) => Rotated::Taken,
            _ => Rotated::Raced,
        })
    }

    /// `DEL key`.
    pub(crate) async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.send(redis::cmd("DEL").arg(key)).await.map(drop)
    }

    async fn send(&self, cmd: &Cmd) -> Result<RValue, StoreError> {
        let mut conn = self.conn.clone();
        connect::bounded(self.command_timeout, async move {
            conn.send_packed_command(cmd).await
        })
        .await
    }

    /// Runs a script (`EVALSHA`, loading it on `NOSCRIPT`).
    async fn run(&self, invocation: &ScriptInvocation<'_>) -> Result<RValue, StoreError> {
        let mut conn = self.conn.clone();
        connect::bounded(self.command_timeout, async move {
            invocation.invoke_async::<RValue>(&mut conn).await
        })
        .await
    }
}

/// An integer reply (Redis sends `TIME`'s parts as strings).
fn int(v: &RValue) -> Option<i64> {
    match v {
        RValue::Int(n) => Some(*n),
        RValue::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}
