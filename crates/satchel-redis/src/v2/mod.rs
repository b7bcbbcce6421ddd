//! Layout v2: one Redis string per session, version-checked writes.
//!
//! # The seam (what a near cache builds on)
//! - [`Loaded`] is a record together with the version it was read at ([`Token`]).
//! - [`RedisStore::load_versioned`] reads one session (one `GET`; a layout-v1 hash costs
//!   an `HGETALL` more, once, until its next write rewrites it in v2).
//! - [`RedisStore::apply_on`] writes a patch *on a base*: the `Loaded` the caller
//!   believes is current (or `None`: it is read first). The write is one script call that
//!   checks the base's version; if the session changed meanwhile, the reply carries the
//!   current value, the patch's expectations ([`satchel::Patch::expect`]) are checked
//!   against it, and the write is rebased and retried (at most [`MAX_ATTEMPTS`] = 32 calls,
//!   then an `Unavailable` error: never a silent loss, never a `Conflict` that is not one).
//!   It returns the outcome and, when known, what is stored now (to refresh a cache).
//!
//! A base is only ever a guess: a stale one costs one retry, never a wrong write. The
//! store keeps the last version of each session it loaded or wrote as the base of its
//! next write (`bases.rs`), which is what makes the engine's read-then-write two round
//! trips (`GET`, then one `EVALSHA`) although the store contract passes no base to
//! `apply`.
//!
//! # Costs (round trips)
//! | operation | round trips |
//! |---|---|
//! | load | 1 (`GET`) |
//! | apply with a current base | 1 |
//! | apply without a base (a blind write by a process that never read the session) | 2 (`GET`, script) |
//! | apply on a base that another writer outdated | +1 per rebase |
//! | create, touch, rotate, renew (standalone, Sentinel) | 1 |
//! | load_forward (standalone, Sentinel) | 1 (`GET` of the forward key) |
//! | delete | 1, plus a `ZREM` when the session had an owner |
//! | the first write of a layout-v1 record | +1 (the rewrite in v2) |

pub(crate) mod bases;
pub(crate) mod format;
pub(crate) mod forward;
pub(crate) mod ifeq;
mod ops;
pub(crate) mod scripts;

use redis::Value as RValue;
use satchel::{Meta, Patch, Record, StoreError, StoreErrorKind, StoreKey, Timestamp, WriteOutcome};

use crate::scripts::Script;
use crate::{codec, RedisStore};

/// How many version-checked write calls one write may take before it gives up. Writes from
/// one process queue in their lane, so only other processes can outdate a base; with k
/// processes writing one session flat out, a write loses a round with a chance of about
/// (k-1)/k, so 32 rounds make giving up negligible for a few instances (2: 2^-32; 4:
/// 1e-4) while still bounding a call to 32 round trips.
pub(crate) const MAX_ATTEMPTS: usize = 32;

/// The version a record was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// A v2 value: its version prefix (format version, write token, expiry) and the
    /// whole value as stored (what `SET … IFEQ` compares, `ifeq.rs`).
    V2 {
        /// The first [`format::CAS_LEN`] bytes of `value`.
        prefix: format::CasPrefix,
        /// The stored bytes.
        value: Vec<u8>,
    },
    /// A layout-v1 hash, as its flat `HGETALL` reply (field, value, ...): its next write
    /// replaces it by a v2 value if it is still exactly this.
    V1(Vec<Vec<u8>>),
}

/// A record and the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loaded {
    /// The version to check when writing on this record.
    pub(crate) token: Token,
    /// The record as stored at that version.
    pub(crate) record: Record,
}

/// A write's base: owned (taken from the bases, or read for the write) or shared with
/// the near cache, which keeps its `Arc` and so costs no copy of the record.
#[derive(Debug)]
pub(crate) enum BaseRef {
    Owned(Loaded),
    Shared(std::sync::Arc<Loaded>),
}

impl std::ops::Deref for BaseRef {
    type Target = Loaded;

    fn deref(&self) -> &Loaded {
        match self {
            BaseRef::Owned(l) => l,
            BaseRef::Shared(a) => a,
        }
    }
}

impl BaseRef {
    /// The base as an owned value (a copy only if it is shared).
    pub(crate) fn into_owned(self) -> Loaded {
        match self {
            BaseRef::Owned(l) => l,
            BaseRef::Shared(a) => std::sync::Arc::unwrap_or_clone(a),
        }
    }
}

impl From<Loaded> for BaseRef {
    fn from(l: Loaded) -> Self {
        BaseRef::Owned(l)
    }
}

impl From<std::sync::Arc<Loaded>> for BaseRef {
    fn from(a: std::sync::Arc<Loaded>) -> Self {
        BaseRef::Shared(a)
    }
}

/// The v2 scripts, hashed once per store.
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) write: Script,
    pub(crate) write_indexed: Script,
    pub(crate) rotate: Script,
    pub(crate) renew: Script,
    pub(crate) create: Script,
    pub(crate) touch: Script,
    pub(crate) delete: Script,
    pub(crate) delete_if: Script,
    pub(crate) upgrade: Script,
}

impl Scripts {
    /// `near_cache`: the store keeps a near cache, so its writes re-track their key
    /// (`scripts::write`). `forwards`: the store can renew ids (not a Cluster), so
    /// `create` and `delete` also look at the key's forward key (`forward.rs`).
    pub(crate) fn new(near_cache: bool, forwards: bool) -> Self {
        Scripts {
            write: Script::bare(&scripts::write(near_cache)),
            write_indexed: Script::bare(&scripts::write_indexed(near_cache)),
            rotate: Script::bare(&scripts::move_record(false)),
            renew: Script::bare(&scripts::move_record(true)),
            create: Script::bare(&scripts::create(forwards)),
            touch: Script::bare(scripts::TOUCH),
            delete: Script::bare(scripts::DELETE),
            delete_if: Script::bare(scripts::DELETE_IF),
            upgrade: Script::bare(scripts::UPGRADE),
        }
    }
}

/// Whether `e` is Redis's `WRONGTYPE` (a GET on a v1 hash).
fn is_wrongtype(e: &StoreError) -> bool {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<redis::RedisError>())
        .is_some_and(|r| r.code() == Some("WRONGTYPE"))
}

fn unexpected() -> StoreError {
    StoreError::msg(StoreErrorKind::Backend, "unexpected Redis reply")
}

/// The `PXAT` argument for a record expiring at `at` (empty: no expiry).
pub(crate) fn pxat(at: Timestamp) -> Vec<u8> {
    let ms = at.as_millis();
    if ms < format::NEVER {
        ms.to_string().into_bytes()
    } else {
        Vec::new()
    }
}

/// Where a write moves the record (standalone and Sentinel only): to `new`, leaving a
/// renewal's forward record at the old key when `forward` is given (its stored value,
/// `forward.rs`, and its deadline).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Move<'a> {
    pub(crate) new: &'a StoreKey,
    pub(crate) forward: Option<(&'a [u8], Timestamp)>,
}

/// What the owner index needs after a write that moves `old` (under `old_member`) to
/// `new` (under `new_member`): the member to remove from whose index, and to add to whose.
#[derive(Debug, Default)]
pub(crate) struct IndexChange {
    pub(crate) remove: Option<(String, String)>,
    pub(crate) add: Option<(String, String, String)>,
}

impl IndexChange {
    pub(crate) fn of(old: &Meta, new: &Meta, old_member: &str, new_member: &str) -> Self {
        let moved = old_member != new_member;
        let mut change = IndexChange::default();
        if let Some(o) = &old.owner {
            if moved || new.owner.as_ref() != Some(o) {
                change.remove = Some((o.clone(), old_member.to_owned()));
            }
        }
        if let Some(o) = &new.owner {
            if moved
                || old.owner.as_ref() != Some(o)
                || old.absolute_deadline != new.absolute_deadline
            {
                change.add = Some((
                    o.clone(),
                    new_member.to_owned(),
                    new.absolute_deadline.as_millis().to_string(),
                ));
            }
        }
        change
    }

    /// Whether a write from `old` to `new` under the same key can change the owner
    /// index: [`IndexChange::of`] is empty otherwise.
    pub(crate) fn may_change(old: &Meta, new: &Meta) -> bool {
        old.owner != new.owner
            || (new.owner.is_some() && old.absolute_deadline != new.absolute_deadline)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remove.is_none() && self.add.is_none()
    }
}

impl RedisStore {
    /// The live record under `key` at `now` and the version it was read at.
    pub(crate) async fn load_versioned(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<Loaded>, StoreError> {
        let k = self.session_key(key);
        let loaded = match self.send(redis::cmd("GET").arg(&k)).await {
            Ok(RValue::Nil) => return Ok(None),
            Ok(RValue::BulkString(value)) => {
                let (prefix, record) = format::decode(&value)?;
                Loaded {
                    token: Token::V2 { prefix, value },
                    record,
                }
            }
            Ok(_) => return Err(unexpected()),
            Err(e) if is_wrongtype(&e) => match self.load_v1(&k).await? {
                Some(loaded) => loaded,
                None => return Ok(None),
            },
            Err(e) => return Err(e),
        };
        Ok((!loaded.record.meta.is_expired(now)).then_some(loaded))
    }

    /// Reads a layout-v1 hash (only after a `GET` answered `WRONGTYPE`).
    async fn load_v1(&self, k: &str) -> Result<Option<Loaded>, StoreError> {
        let reply = self.send(redis::cmd("HGETALL").arg(k)).await?;
        let Some(record) = codec::decode_record(&reply)? else {
            return Ok(None);
        };
        Ok(Some(Loaded {
            token: Token::V1(codec::flat_fields(&reply)?),
            record,
        }))
    }

    /// Applies `patch` to the session under `key`, version-checked against `base` (see
    /// the module docs): the outcome, and what is stored now when known.
    pub(crate) async fn apply_on(
        &self,
        key: &StoreKey,
        base: Option<BaseRef>,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<(WriteOutcome, Option<Loaded>), StoreError> {
        self.write_loop(key, None, base, patch, now).await
    }

    /// The retry loop of `apply_on` and of rotation and renewal (`mv`: where the record
    /// moves to, standalone and Sentinel only).
    pub(crate) async fn write_loop(
        &self,
        key: &StoreKey,
        mv: Option<Move<'_>>,
        base: Option<BaseRef>,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<(WriteOutcome, Option<Loaded>), StoreError> {
        let mut base = match base {
            Some(b) => b,
            None => match self.load_versioned(key, now).await? {
                Some(b) => BaseRef::Owned(b),
                None => return Ok((WriteOutcome::Gone, None)),
            },
        };
        for _ in 0..MAX_ATTEMPTS {
            if base.record.meta.is_expired(now) {
                return Ok((WriteOutcome::Gone, None));
            }
            let conflicts = patch.conflicts(&base.record.data);
            if !conflicts.is_empty() {
                return Ok((WriteOutcome::Conflict(conflicts), Some(base.into_owned())));
            }
            if patch.too_large(&base.record.data) {
                return Ok((WriteOutcome::TooLarge, Some(base.into_owned())));
            }
            let (prefix, stored) = match &base.token {
                Token::V2 { prefix, value } => (*prefix, value.as_slice()),
                Token::V1(fields) => {
                    // Rewrite the record as it is in v2 first, then write on that.
                    match self.upgrade(key, &base.record, fields).await? {
                        Upgraded::Done(loaded) => base = BaseRef::Owned(loaded),
                        Upgraded::Gone => return Ok((WriteOutcome::Gone, None)),
                        Upgraded::Changed => match self.load_versioned(key, now).await? {
                            Some(b) => base = BaseRef::Owned(b),
                            None => return Ok((WriteOutcome::Gone, None)),
                        },
                    }
                    continue;
                }
            };
            let mut next = base.record.clone();
            patch.apply_to(&mut next, now);
            let value = format::encode(&next, format::next_token(&prefix));
            let reply = self
                .cas(
                    key,
                    mv,
                    (&prefix, stored),
                    &value,
                    &base.record.meta,
                    &next.meta,
                    now,
                )
                .await?;
            match reply {
                RValue::Int(1) => {
                    let loaded = Loaded {
                        token: Token::V2 {
                            prefix: format::cas_prefix(&value)?,
                            value,
                        },
                        record: next,
                    };
                    return Ok((
                        WriteOutcome::Applied(loaded.record.meta.expires()),
                        Some(loaded),
                    ));
                }
                // Written, but the near cache must not keep this version (`ifeq.rs`).
                RValue::Int(ifeq::WRITTEN_UNTRACKED) => {
                    return Ok((WriteOutcome::Applied(next.meta.expires()), None));
                }
                RValue::Int(0) => return Ok((WriteOutcome::Gone, None)),
                RValue::Int(2) => return Ok((WriteOutcome::KeyTaken, Some(base.into_owned()))),
                // A hash appeared (a layout-v1 writer): read it as such.
                RValue::Int(-1) => match self.load_versioned(key, now).await? {
                    Some(b) => base = BaseRef::Owned(b),
                    None => return Ok((WriteOutcome::Gone, None)),
                },
                RValue::BulkString(current) => {
                    let (prefix, record) = format::decode(&current)?;
                    base = BaseRef::Owned(Loaded {
                        token: Token::V2 {
                            prefix,
                            value: current,
                        },
                        record,
                    });
                }
                _ => return Err(unexpected()),
            }
        }
        Err(StoreError::msg(
            StoreErrorKind::Unavailable,
            "the session changed under every attempt to write it; try again",
        ))
    }

    /// One version-checked write of `value` (the record with meta `next`) on the version
    /// `base` of `key` (its prefix and stored bytes; meta `old`), moving it as `mv` says
    /// if given (a rotation, or a renewal with its forward); with the owner index change it implies (standalone: in the same script;
    /// Cluster: after it). The plain write (no move, no index change) is a `SET … IFEQ`
    /// where the server has it (`ifeq.rs`), else the `write` script; the reply is the
    /// script's either way.
    #[allow(clippy::too_many_arguments)]
    async fn cas(
        &self,
        key: &StoreKey,
        mv: Option<Move<'_>>,
        (prefix, stored): (&format::CasPrefix, &[u8]),
        value: &[u8],
        old: &Meta,
        next: &Meta,
        now: Timestamp,
    ) -> Result<RValue, StoreError> {
        let k = self.session_key(key);
        let new = mv.map(|m| m.new);
        // An ordinary write (no move, same owner and deadline) never touches the index:
        // the members are only spelled out when it might.
        let change = if new.is_none() && !IndexChange::may_change(old, next) {
            IndexChange::default()
        } else {
            let member = key.to_hex();
            let new_member = new.map_or_else(|| member.clone(), StoreKey::to_hex);
            IndexChange::of(old, next, &member, &new_member)
        };
        if new.is_none() && change.is_empty() && self.uses_set_ifeq(stored) {
            if let Some(reply) = self
                .write_ifeq(&k, stored, value, &pxat(next.expires_at()))
                .await?
            {
                return Ok(reply);
            }
        }
        let mut args = vec![
            prefix.to_vec(),
            format::digits(now.as_millis()).to_vec(),
            value.to_vec(),
            pxat(next.expires_at()),
        ];
        let s = &self.inner.v2;
        if let Some(mv) = mv {
            // Standalone and Sentinel only (see `RedisStore::rotate`, `RedisStore::renew`).
            let kn = self.session_key(mv.new);
            let mut keys = vec![k, kn];
            let script = match mv.forward {
                None => &s.rotate,
                Some((value, until)) => {
                    keys.push(self.forward_key(key));
                    args.push(value.to_vec());
                    args.push(pxat(until));
                    &s.renew
                }
            };
            self.push_index_args(&mut keys, &mut args, &change, now);
            return self.eval_owned(script, &keys, &args).await;
        }
        if change.is_empty() {
            return self.eval(&s.write, &[&k], &args).await;
        }
        if !self.inner.cluster {
            let mut keys = vec![k];
            self.push_index_args(&mut keys, &mut args, &change, now);
            return self.eval_owned(&s.write_indexed, &keys, &args).await;
        }
        let reply = self.eval(&s.write, &[&k], &args).await?;
        if reply == RValue::Int(1) {
            self.index_change_across_slots(&change, now).await?;
        }
        Ok(reply)
    }

    /// Appends the owner index keys and arguments `scripts::INDEX_TAIL` reads.
    pub(crate) fn push_index_args(
        &self,
        keys: &mut Vec<String>,
        args: &mut Vec<Vec<u8>>,
        change: &IndexChange,
        now: Timestamp,
    ) {
        let flag = |b: bool| if b { b"1".to_vec() } else { b"0".to_vec() };
        args.push(flag(change.remove.is_some()));
        match &change.remove {
            Some((owner, member)) => {
                keys.push(self.index_key(owner));
                args.push(member.clone().into_bytes());
            }
            None => args.push(Vec::new()),
        }
        args.push(flag(change.add.is_some()));
        match &change.add {
            Some((owner, member, score)) => {
                keys.push(self.index_key(owner));
                args.push(member.clone().into_bytes());
                args.push(score.clone().into_bytes());
            }
            None => args.extend([Vec::new(), Vec::new()]),
        }
        args.push(now.as_millis().to_string().into_bytes());
    }

    /// Cluster mode: the owner index change after a session write, as separate commands
    /// (not atomic with it; see the crate docs).
    pub(crate) async fn index_change_across_slots(
        &self,
        change: &IndexChange,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if let Some((owner, member)) = &change.remove {
            let idx = self.index_key(owner);
            self.send(redis::cmd("ZREM").arg(&idx).arg(member)).await?;
        }
        if let Some((owner, member, score)) = &change.add {
            self.index_add(owner, member, score, now).await?;
        }
        Ok(())
    }

    /// `eval` with owned key names.
    pub(crate) async fn eval_owned(
        &self,
        script: &Script,
        keys: &[String],
        args: &[Vec<u8>],
    ) -> Result<RValue, StoreError> {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        self.eval(script, &keys, args).await
    }

    /// Replaces the v1 hash under `key`, if it is still exactly `fields`, by `record` in v2.
    async fn upgrade(
        &self,
        key: &StoreKey,
        record: &Record,
        fields: &[Vec<u8>],
    ) -> Result<Upgraded, StoreError> {
        let k = self.session_key(key);
        let value = format::encode(record, format::first_token());
        let mut args = Vec::with_capacity(fields.len() + 2);
        args.push(value.clone());
        args.push(pxat(record.meta.expires_at()));
        args.extend(fields.iter().cloned());
        match self.eval(&self.inner.v2.upgrade, &[&k], &args).await? {
            RValue::Int(1) => Ok(Upgraded::Done(Loaded {
                token: Token::V2 {
                    prefix: format::cas_prefix(&value)?,
                    value,
                },
                record: record.clone(),
            })),
            RValue::Int(0) => Ok(Upgraded::Gone),
            RValue::Int(2 | -1) => Ok(Upgraded::Changed),
            _ => Err(unexpected()),
        }
    }
}

enum Upgraded {
    Done(Loaded),
    Gone,
    Changed,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The shortcut `cas` takes must never skip an index change `IndexChange::of` makes.
    #[test]
    fn may_change_is_false_only_when_the_change_is_empty() {
        let now = Timestamp::from_millis(1_000_000);
        let base = Meta::new(now, Duration::from_secs(60), Duration::from_secs(600));
        let owners = [None, Some("alice".to_owned()), Some("bob".to_owned())];
        let deadlines = [
            base.absolute_deadline,
            now.saturating_add(Duration::from_secs(9)),
        ];
        for old_owner in &owners {
            for new_owner in &owners {
                for (old_abs, new_abs) in [(0, 0), (0, 1), (1, 0)] {
                    let mut old = base.clone();
                    old.owner = old_owner.clone();
                    old.absolute_deadline = deadlines[old_abs];
                    let mut new = base.clone();
                    new.owner = new_owner.clone();
                    new.absolute_deadline = deadlines[new_abs];
                    let change = IndexChange::of(&old, &new, "m", "m");
                    assert_eq!(
                        IndexChange::may_change(&old, &new),
                        !change.is_empty(),
                        "{old_owner:?} -> {new_owner:?}, deadlines {old_abs} -> {new_abs}"
                    );
                }
            }
        }
    }
}
