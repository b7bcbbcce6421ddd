//! Version-checked writes without Lua, where the server has `SET key value IFEQ old GET`
//! (Valkey ≥ 8.1, Redis ≥ 8.4).
//!
//! The `write` script (`scripts.rs`) is the floor of a Lua write on Redis 7: 2.5-3.0 µs of
//! server CPU a call, against 0.6 µs for a plain `SET`. `SET … IFEQ` is that plain `SET`
//! with a compare: measured on Valkey 8.1.8 (`INFO commandstats`, 10,000 keys, interleaved
//! with the script), 0.62 µs against the script's 2.09. It compares the *whole* stored
//! value, so the base must carry the bytes it was read as ([`super::Token::V2`]); with `GET`
//! the reply is the value it compared against, which is all a rebase needs:
//!
//! | reply | meaning | the script's reply it stands for |
//! |---|---|---|
//! | nil | no such key (IFEQ never creates one) | `0` gone |
//! | the base's bytes | written | `1` |
//! | other bytes | not written; the current value | the current value |
//! | empty string | not written; not a session | `0` gone |
//! | `WRONGTYPE` | not written; a layout-v1 hash | `-1` |
//!
//! The script's other check, "not expired at the caller's `now`", is the base's (equal
//! bytes mean equal deadlines), and `write_loop` makes it before every attempt.
//!
//! **With the near cache** the `SET` is followed, on the same connection and in the same
//! round trip, by `GETRANGE k 0 17`: the `SET` dropped the key from Redis's tracking table
//! (`NOLOOP` spares this connection the message, not the loss of tracking), and that read
//! tracks it again. It is not atomic with the `SET`, and need not be: the written version
//! is cached only if the read found exactly its prefix (`WRITTEN_UNTRACKED` otherwise),
//! and from that read on any other write invalidates it. The script path does the same
//! read inside the script (`scripts::RETRACK`).
//!
//! Used only for the plain write (no rotation, no owner-index change: those stay scripts,
//! atomic with their index), and for bases of at most
//! [`MAX_COMPARED`] bytes (the old value travels with the new one; past that the script's
//! 18-byte check is cheaper on the wire). Whether the server has it is probed once at
//! connect ([`RedisStore::probe_set_ifeq`]); a server that later refuses it (a failover
//! to an older one) turns it off for the store, and that write goes through the script.

use std::sync::atomic::{AtomicBool, Ordering};

use redis::Value as RValue;
use satchel::StoreError;

use super::format::CAS_LEN;
use super::{is_wrongtype, unexpected};
use crate::RedisStore;

/// The reply `write_ifeq` gives for a write that happened while the near cache could not
/// confirm the key is tracked at the written version: the caller must not cache it.
pub(crate) const WRITTEN_UNTRACKED: i64 = 3;

/// The largest base (stored bytes) a write compares with `IFEQ`.
pub(crate) const MAX_COMPARED: usize = 4096;

/// Whether a store writes with `SET … IFEQ` (the probe's answer, off until then).
#[derive(Debug, Default)]
pub(crate) struct SetIfeq(AtomicBool);

impl SetIfeq {
    fn on(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed);
    }
}

/// Whether `e` is a server's answer to an option it does not know (`ERR syntax error` from
/// Redis < 8.4 and Valkey < 8.1).
fn is_unknown_option(e: &StoreError) -> bool {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<redis::RedisError>())
        .is_some_and(|r| {
            r.code() == Some("ERR")
                && r.detail()
                    .is_some_and(|d| d.to_ascii_lowercase().contains("syntax"))
        })
}

impl RedisStore {
    /// Asks the server whether it takes `SET … IFEQ … GET` (on a probe key that never
    /// exists, so nothing is written) and remembers the answer. Anything but a clear
    /// answer leaves the script path on.
    pub(crate) async fn probe_set_ifeq(&self) {
        let key = format!("{}probe:set-ifeq", self.inner.prefix);
        let reply = self
            .send(
                redis::cmd("SET")
                    .arg(&key)
                    .arg("")
                    .arg("IFEQ")
                    .arg("satchel-probe")
                    .arg("GET"),
            )
            .await;
        let on = match reply {
            Ok(RValue::Nil | RValue::BulkString(_)) => true,
            Ok(_) => false,
            Err(e) if is_unknown_option(&e) => false,
            Err(e) => {
                tracing::warn!(
                    target: "satchel",
                    cause = %e,
                    "could not ask Redis whether it has SET IFEQ; writing with the Lua script"
                );
                false
            }
        };
        tracing::debug!(target: "satchel", set_ifeq = on, "Redis write path chosen");
        self.inner.set_ifeq.set(on);
    }

    /// Whether a plain write on a base of these stored bytes goes through `SET … IFEQ`.
    pub(crate) fn uses_set_ifeq(&self, stored: &[u8]) -> bool {
        self.inner.set_ifeq.on() && !stored.is_empty() && stored.len() <= MAX_COMPARED
    }

    /// `SET k value IFEQ stored GET [PXAT pxat]`, its reply in the `write` script's terms
    /// (see the module docs), or `None` when the server refused the option: the store then
    /// stops using it and the caller runs the script.
    pub(crate) async fn write_ifeq(
        &self,
        k: &str,
        stored: &[u8],
        value: &[u8],
        pxat: &[u8],
    ) -> Result<Option<RValue>, StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(k).arg(value).arg("IFEQ").arg(stored).arg("GET");
        if !pxat.is_empty() {
            cmd.arg("PXAT").arg(pxat);
        }
        let (reply, tracked) = if self.inner.near.is_some() {
            // Both queued now, in this order, on the one (tracking) connection: one round
            // trip. Were the read to run first it would find the old prefix, and the
            // version would just not be cached.
            let retrack = redis::cmd("GETRANGE")
                .arg(k)
                .arg(0)
                .arg(CAS_LEN - 1)
                .clone();
            let (reply, read) =
                futures_util::future::join(self.send(&cmd), self.send(&retrack)).await;
            let tracked =
                matches!(read, Ok(RValue::BulkString(p)) if value.get(..CAS_LEN) == Some(&p[..]));
            (reply, tracked)
        } else {
            (self.send(&cmd).await, true)
        };
        match reply {
            Ok(RValue::Nil) => Ok(Some(RValue::Int(0))),
            Ok(RValue::BulkString(old)) if old == stored => Ok(Some(RValue::Int(if tracked {
                1
            } else {
                WRITTEN_UNTRACKED
            }))),
            Ok(RValue::BulkString(old)) if old.is_empty() => Ok(Some(RValue::Int(0))),
            Ok(RValue::BulkString(old)) => Ok(Some(RValue::BulkString(old))),
            Ok(_) => Err(unexpected()),
            Err(e) if is_wrongtype(&e) => Ok(Some(RValue::Int(-1))),
            Err(e) if is_unknown_option(&e) => {
                tracing::warn!(
                    target: "satchel",
                    "Redis refused SET IFEQ (a failover to an older server?); writing with \
                     the Lua script from now on"
                );
                self.inner.set_ifeq.set(false);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use satchel::StoreErrorKind;

    fn server_error(kind: redis::ErrorKind, detail: &str) -> StoreError {
        StoreError::new(
            StoreErrorKind::Backend,
            redis::RedisError::from((
                kind,
                "An error was signalled by the server",
                detail.to_owned(),
            )),
        )
    }

    #[test]
    fn only_a_syntax_error_means_the_option_is_unknown() {
        assert!(is_unknown_option(&server_error(
            redis::ErrorKind::ResponseError,
            "syntax error"
        )));
        assert!(!is_unknown_option(&server_error(
            redis::ErrorKind::ResponseError,
            "OOM command not allowed"
        )));
        assert!(!is_unknown_option(&server_error(
            redis::ErrorKind::IoError,
            "syntax of the connection"
        )));
    }
}
