//! [`MemoryStore`]: the embedded default, fit for production on a single instance.
//!
//! - **Concurrent**: records live in independently locked shards (64 by default), chosen
//!   by bits of the store key, so requests for different sessions rarely meet on a lock.
//!   No lock is held across an `.await` (every operation is synchronous inside).
//! - **Compact**: a record is its three deadlines plus one byte blob (see `codec.rs`),
//!   kept inside the table entry up to 32 bytes (a `{"user", "n"}` session fits), so a
//!   lookup touches one entry in memory (plus the control bytes of the other class's
//!   table, see [`MemoryStore`]): ~140 bytes per such session at 100,000 sessions and ~210 at
//!   1,000,000, including the table's own overhead.
//! - **Bounded**: at most `max_sessions` records (default 1,000,000), split evenly over
//!   the shards (fewer than 64 shards when that would leave one fewer than 64 records).
//!   The bound is also what a client can fill: see [`MemoryStore`] for what is evicted
//!   first and how to size it.
//! - **No leak of expired records**: a record past its deadline is never returned and is
//!   removed when seen; each shard also sweeps itself after as many writes as it holds
//!   records (amortised O(1) per write), and [`SessionStore::purge_expired`] sweeps on
//!   demand.
//! - **Lost on restart**: users then start fresh anonymous sessions. Use an SQL or Redis
//!   store when sessions must survive a restart or be shared by several instances.

pub(crate) mod codec;
mod owners;
mod shard;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::error::StoreError;
use crate::id::StoreKey;
use crate::patch_source::PatchSource;
use crate::record::{Expires, Patch, Record};
use crate::store::{Capabilities, SessionInfo, SessionStore, WriteOutcome};
use crate::time::Timestamp;
use codec::Times;
use owners::Owners;
use shard::{Entry, Forward, Found, Shard};

const DEFAULT_MAX_SESSIONS: usize = 1_000_000;
const DEFAULT_SHARDS: usize = 64;
/// Fewer shards are used when `max_sessions` would give each fewer records than this: a
/// full shard evicts even while others have room, so tiny shards would evict early and
/// leave one shard's few records to whoever lands there.
const MIN_SHARD_CAPACITY: usize = 64;
/// A full shard re-sweeps for expired records at most this often; in between it evicts.
const FULL_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// An in-process session store. Cheap to clone: clones share the same sessions.
///
/// # Capacity and eviction
///
/// A full shard first sweeps its expired records (at most once a second). If that frees
/// nothing, it evicts, in this order:
///
/// 1. **Anonymous sessions** (no owner): the one expiring soonest among a sample of 16.
///    Any cookie-less request can create one, so while a shard holds a single anonymous
///    session, a flood of new ones only pushes out each other.
/// 2. **Owned sessions** (logged in, [`Session::login`](crate::Session::login)), only when
///    the shard holds no anonymous one: the least recently active among a sample of 16
///    (last activity is the idle deadline minus the idle timeout, so it costs no field).
///    A flood can then take one user's place per shard, and the next newcomer takes that
///    anonymous session's place instead.
///
/// Each shard keeps its anonymous and owned sessions in two tables, so finding a victim
/// is bounded: one sample of 16 records of one table, never a search of the shard. The
/// split costs no bytes per record (each table grows on its own); a lookup of an
/// anonymous session probes the owned table first (a second probe, cheap when the key is
/// absent). Measured with `cargo run -p satchel-bench --release --bin memsize`, tables'
/// overhead included: a small anonymous `{"user", "n"}` session costs ~210 bytes at
/// 1,000,000 sessions (~140 at 100,000); the same session logged in (the user as owner,
/// data `{"n"}`) ~480 (~310 at 100,000), most of it the per-owner index behind
/// [`SessionStore::sessions_of`].
///
/// **Capacity is a denial-of-service surface.** Creating an anonymous session takes one
/// request; at the default cap a single client can replace every anonymous session in
/// seconds, logging out nobody but disturbing every visitor without an account (a cart,
/// a flash message). Size `max_sessions` for the memory you can give (~210 B per small
/// anonymous session, ~480 B logged in, more for larger data) rather than for the sessions you expect, and limit the
/// rate of session-creating requests per client in front of the application (a reverse
/// proxy or a tower rate limiter): satchel has no per-client limit. Owned sessions are
/// only as protected as logging in is hard: one account that logs in again and again
/// fills the owned table too (and pushes out the least recently active users), so where
/// anyone can get an account, limit logins per account or count an owner's sessions at
/// login ([`Session::owner_sessions`](crate::Session::owner_sessions)) and refuse or
/// [`Session::revoke_other_sessions`](crate::Session::revoke_other_sessions) past a few.
#[derive(Clone)]
pub struct MemoryStore(Arc<Shared>);

struct Shared {
    shards: Box<[Mutex<Shard>]>,
    shard_mask: u64,
    max_sessions: usize,
    /// owner → store keys of their sessions. Locked after a shard lock, never before.
    owners: Mutex<Owners>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("shards", &self.0.shards.len())
            .field("max_sessions", &self.0.max_sessions)
            .finish_non_exhaustive()
    }
}

/// Builds a [`MemoryStore`].
#[derive(Debug, Clone)]
pub struct MemoryStoreBuilder {
    max_sessions: usize,
    shards: usize,
}

impl MemoryStoreBuilder {
    /// The most sessions kept at once (default 1,000,000), a hard bound. See
    /// [Capacity and eviction](MemoryStore#capacity-and-eviction) for what is evicted
    /// first at the bound (anonymous sessions, then the least recently active logged-in
    /// ones), the memory per session, and how to size it.
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.max_sessions = n.max(1);
        self
    }

    /// The number of independently locked shards, rounded up to a power of two
    /// (default 64). Fewer are used if `max_sessions` would leave a shard room for fewer
    /// than 64 records: each shard evicts on its own when full, so tiny shards would evict
    /// while the store as a whole has room.
    pub fn shards(mut self, n: usize) -> Self {
        self.shards = n.clamp(1, 1 << 16).next_power_of_two();
        self
    }

    /// The store.
    pub fn build(self) -> MemoryStore {
        // The largest power of two that leaves each shard MIN_SHARD_CAPACITY records.
        let fitting = (self.max_sessions / MIN_SHARD_CAPACITY).max(1);
        let shards = self.shards.min(1 << fitting.ilog2());
        // Shares of max_sessions that add up to it exactly: the cap is a hard bound.
        let (share, extra) = (self.max_sessions / shards, self.max_sessions % shards);
        MemoryStore(Arc::new(Shared {
            shards: (0..shards)
                .map(|i| Mutex::new(Shard::with_capacity(share + usize::from(i < extra))))
                .collect(),
            shard_mask: shards as u64 - 1,
            max_sessions: self.max_sessions,
            owners: Mutex::new(Owners::default()),
        }))
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A store with the default bounds.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder to set the bounds.
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder {
            max_sessions: DEFAULT_MAX_SESSIONS,
            shards: DEFAULT_SHARDS,
        }
    }

    /// How many records are held, expired ones not yet swept and renewals' forward
    /// records included.
    pub fn len(&self) -> usize {
        self.0.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Overwrites the stored bytes of `key` with `blob`, to test how corrupt data is
    /// handled. Returns whether the key existed.
    #[doc(hidden)]
    pub fn corrupt_for_tests(&self, key: &StoreKey, blob: &[u8]) -> bool {
        let mut shard = self.shard(key).lock();
        let (Some(class), Some(entry)) = (shard.class_of(key), shard.get(key)) else {
            return false;
        };
        let old_owner = codec::owner(&entry.blob);
        let corrupt = Entry {
            times: entry.times,
            blob: codec::Blob::from_slice(blob),
        };
        // Index the key under whatever owner the new bytes name, so the index never keeps
        // a key its record no longer claims (removal unindexes by the stored owner).
        self.unindex_owner(old_owner, key);
        self.index_owner(codec::owner(&corrupt.blob), *key);
        shard.replace(key, class, corrupt);
        true
    }

    fn shard(&self, key: &StoreKey) -> &Mutex<Shard> {
        &self.0.shards[self.shard_index(key)]
    }

    /// Bytes 8..16 of the key pick the shard (bytes 0..8 are the in-shard hash).
    fn shard_index(&self, key: &StoreKey) -> usize {
        let mut b = [0u8; 8];
        b.copy_from_slice(&key.as_bytes()[8..16]);
        // The mask keeps the index below the shard count, which fits in usize.
        usize::try_from(u64::from_le_bytes(b) & self.0.shard_mask).unwrap_or(0)
    }

    fn index_owner(&self, owner: Option<String>, key: StoreKey) {
        if let Some(owner) = owner {
            self.0.owners.lock().add(owner, key);
        }
    }

    fn unindex_owner(&self, owner: Option<String>, key: &StoreKey) {
        if let Some(owner) = owner {
            self.0.owners.lock().remove(&owner, key);
        }
    }

    /// Makes room for one more record in a full shard (see [`MemoryStore`]).
    fn make_room(&self, shard: &mut Shard, now: Timestamp) {
        if shard.len() < shard.capacity {
            return;
        }
        if now >= shard.next_full_sweep {
            self.sweep(shard, now, usize::MAX);
            shard.next_full_sweep = now.saturating_add(FULL_SWEEP_INTERVAL);
        }
        while shard.len() >= shard.capacity {
            if shard.evict_forward() {
                continue;
            }
            let Some((victim, entry)) = shard.evict_one() else {
                break;
            };
            let owner = codec::owner(&entry.blob);
            crate::observe::evicted(owner.is_some());
            self.unindex_owner(owner, &victim);
        }
    }

    /// Removes up to `limit` expired records from `shard`; returns how many.
    fn sweep(&self, shard: &mut Shard, now: Timestamp, limit: usize) -> usize {
        let mut removed = Vec::new();
        shard.retain(|key, entry| {
            if removed.len() < limit && now >= entry.times.expires_at() {
                removed.push((*key, codec::owner(&entry.blob)));
                false
            } else {
                true
            }
        });
        let forwards = shard.sweep_forwards(now, limit - removed.len());
        shard.writes_since_sweep = 0;
        shard.len_after_sweep = shard.len();
        for (key, owner) in &removed {
            self.unindex_owner(owner.clone(), key);
        }
        let total = removed.len() + forwards;
        if total > 0 {
            crate::observe::purged(total);
        }
        total
    }

    /// Counts a write and sweeps the shard once it has seen as many writes as the last
    /// sweep left records, so a shard holds at most about twice its live records plus
    /// 1024, at an amortised O(1) cost per write.
    fn after_write(&self, shard: &mut Shard, now: Timestamp) {
        shard.writes_since_sweep += 1;
        if shard.writes_since_sweep > shard.len_after_sweep.max(1024) {
            self.sweep(shard, now, usize::MAX);
        }
    }

    /// The live entry under `key`; an expired one is removed on sight.
    fn live<'s>(
        &self,
        shard: &'s mut Shard,
        key: &StoreKey,
        now: Timestamp,
    ) -> Option<&'s mut Entry> {
        match shard.live(key, now) {
            Found::Missing => None,
            Found::Expired(removed) => {
                self.unindex_owner(codec::owner(&removed.blob), key);
                None
            }
            Found::Live(_, entry) => Some(entry),
        }
    }

    fn insert_new(
        &self,
        shard: &mut Shard,
        key: &StoreKey,
        entry: Entry,
        now: Timestamp,
    ) -> WriteOutcome {
        // A live forward holds its key as firmly as a session (never overwritten).
        if self.live(shard, key, now).is_some() || shard.forward(key, now).is_some() {
            return WriteOutcome::KeyTaken;
        }
        self.make_room(shard, now);
        let owner = codec::owner(&entry.blob);
        let expires = Expires {
            at: entry.times.expires_at(),
            persistent: codec::idle_timeout(&entry.blob).is_ok_and(|(_, p)| p),
        };
        shard.insert(*key, entry);
        self.index_owner(owner, *key);
        self.after_write(shard, now);
        WriteOutcome::Applied(expires)
    }

    /// [`SessionStore::load`] for the engine: a small session's data stays packed (one
    /// copy of the stored bytes instead of a string per key and value).
    pub(crate) fn load_packed(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<(Record, Option<codec::Packed>)>, StoreError> {
        let mut shard = self.shard(key).lock();
        match self.live(&mut shard, key, now) {
            Some(entry) => codec::load(&entry.blob, entry.times).map(Some),
            None => Ok(None),
        }
    }

    /// The live entry under `key` with `patch` applied, not stored yet.
    fn patch_entry(
        &self,
        shard: &mut Shard,
        key: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<Result<codec::Patched, WriteOutcome>, StoreError> {
        let Some(entry) = self.live(shard, key, now) else {
            return Ok(Err(WriteOutcome::Gone));
        };
        codec::patch(&entry.blob, entry.times, patch, now)
    }
}

impl SessionStore for MemoryStore {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        let mut shard = self.shard(key).lock();
        match self.live(&mut shard, key, now) {
            Some(entry) => codec::decode(&entry.blob, entry.times).map(Some),
            None => Ok(None),
        }
    }

    async fn create(
        &self,
        key: &StoreKey,
        record: &Record,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let entry = Entry {
            times: Times::of(&record.meta),
            blob: codec::encode(record),
        };
        let mut shard = self.shard(key).lock();
        Ok(self.insert_new(&mut shard, key, entry, now))
    }

    async fn apply(
        &self,
        key: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.apply_source(key, patch, now)
    }

    async fn rotate(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.move_record(old, new, patch, None, now)
    }

    async fn renew(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        forward: &[u8],
        grace_until: Timestamp,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.renew_now(old, new, patch, forward, grace_until, now)
    }

    async fn load_forward(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.load_forward_now(key, now))
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        let mut shard = self.shard(key).lock();
        shard.remove_forward(key);
        if let Some(entry) = shard.remove(key) {
            self.unindex_owner(codec::owner(&entry.blob), key);
        }
        Ok(())
    }

    async fn touch(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Expires>, StoreError> {
        let mut shard = self.shard(key).lock();
        let Some(entry) = self.live(&mut shard, key, now) else {
            return Ok(None);
        };
        let (idle_timeout, persistent) = codec::idle_timeout(&entry.blob)?;
        entry.times.idle = now.saturating_add(idle_timeout).min(entry.times.absolute);
        Ok(Some(Expires {
            at: entry.times.expires_at(),
            persistent,
        }))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    async fn sessions_of(
        &self,
        owner: &str,
        now: Timestamp,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let keys = self.0.owners.lock().keys(owner);
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let shard = self.shard(&key).lock();
            if let Some(entry) = shard.get(&key) {
                if now < entry.times.expires_at() {
                    out.push(SessionInfo {
                        key,
                        created_at: entry.times.created,
                        idle_deadline: entry.times.idle,
                        absolute_deadline: entry.times.absolute,
                    });
                }
            }
        }
        out.sort_by_key(|s| s.created_at);
        Ok(out)
    }

    async fn revoke_owner(&self, owner: &str, keep: Option<&StoreKey>) -> Result<u64, StoreError> {
        let keys = self.0.owners.lock().keys(owner);
        let mut n = 0;
        for key in keys.iter().filter(|k| Some(*k) != keep) {
            let mut shard = self.shard(key).lock();
            if let Some(entry) = shard.remove(key) {
                self.unindex_owner(codec::owner(&entry.blob), key);
                n += 1;
            }
        }
        Ok(n)
    }

    async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
        let mut total = 0usize;
        for shard in self.0.shards.iter() {
            if total >= limit {
                break;
            }
            total += self.sweep(&mut shard.lock(), now, limit - total);
        }
        Ok(total as u64)
    }
}

impl MemoryStore {
    /// [`SessionStore::apply`] for any [`PatchSource`]: the engine applies a request's
    /// pending changes through it without building a [`Patch`].
    pub(crate) fn apply_source(
        &self,
        key: &StoreKey,
        patch: &impl PatchSource,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let mut shard = self.shard(key).lock();
        let (class, entry) = match shard.live(key, now) {
            Found::Live(class, entry) => (class, entry),
            Found::Missing => return Ok(WriteOutcome::Gone),
            Found::Expired(removed) => {
                self.unindex_owner(codec::owner(&removed.blob), key);
                return Ok(WriteOutcome::Gone);
            }
        };
        let patched = match codec::patch(&entry.blob, entry.times, patch, now)? {
            Ok(patched) => patched,
            Err(outcome) => return Ok(outcome),
        };
        let expires = Expires {
            at: patched.times.expires_at(),
            persistent: patched.persistent,
        };
        if patch.owner().is_some() {
            // The owner may change, and with it the table the record belongs in.
            let old_owner = codec::owner(&entry.blob);
            let new_owner = codec::owner(&patched.blob);
            let patched = Entry {
                times: patched.times,
                blob: patched.blob,
            };
            shard.replace(key, class, patched);
            self.unindex_owner(old_owner, key);
            self.index_owner(new_owner, *key);
        } else {
            entry.times = patched.times;
            entry.blob = patched.blob;
        }
        self.after_write(&mut shard, now);
        Ok(WriteOutcome::Applied(expires))
    }
}

impl MemoryStore {
    /// [`SessionStore::renew`], synchronously (the engine's direct path).
    pub(crate) fn renew_now(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        forward: &[u8],
        grace_until: Timestamp,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let forward = Forward {
            bytes: forward.to_vec(),
            until: grace_until,
        };
        self.move_record(old, new, patch, Some(forward), now)
    }

    /// [`SessionStore::load_forward`], synchronously.
    pub(crate) fn load_forward_now(&self, key: &StoreKey, now: Timestamp) -> Option<Vec<u8>> {
        self.shard(key).lock().forward(key, now).map(<[u8]>::to_vec)
    }

    /// A rotation (`forward`: `None`) or a renewal, atomic under both shard locks.
    fn move_record(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        forward: Option<Forward>,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        // Lock both shards in index order (one lock if they are the same) so the move is
        // atomic: no observer ever sees both keys or neither.
        let (a, b) = (self.shard_index(old), self.shard_index(new));
        let mut first = self.0.shards[a.min(b)].lock();
        let mut second = (a != b).then(|| self.0.shards[a.max(b)].lock());
        let (old_shard, new_shard): (&mut Shard, &mut Shard) = match second.as_deref_mut() {
            None => {
                let patched = match self.patch_entry(&mut first, old, patch, now)? {
                    Ok(p) => p,
                    Err(outcome) => return Ok(outcome),
                };
                if self.live(&mut first, new, now).is_some() {
                    return Ok(WriteOutcome::KeyTaken);
                }
                return Ok(self.finish_rotate(&mut first, None, old, new, patched, forward, now));
            }
            Some(other) if a < b => (&mut *first, other),
            Some(other) => (other, &mut *first),
        };
        let patched = match self.patch_entry(old_shard, old, patch, now)? {
            Ok(p) => p,
            Err(outcome) => return Ok(outcome),
        };
        if self.live(new_shard, new, now).is_some() {
            return Ok(WriteOutcome::KeyTaken);
        }
        Ok(self.finish_rotate(old_shard, Some(new_shard), old, new, patched, forward, now))
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_rotate(
        &self,
        old_shard: &mut Shard,
        new_shard: Option<&mut Shard>,
        old: &StoreKey,
        new: &StoreKey,
        patched: codec::Patched,
        forward: Option<Forward>,
        now: Timestamp,
    ) -> WriteOutcome {
        if let Some(entry) = old_shard.remove(old) {
            self.unindex_owner(codec::owner(&entry.blob), old);
        }
        // The forward takes the old record's place under the same lock: the old key is
        // never empty in between, and the shard's count does not grow.
        if let Some(forward) = forward {
            old_shard.insert_forward(*old, forward);
        }
        let target = match new_shard {
            Some(shard) => shard,
            None => old_shard,
        };
        let entry = Entry {
            times: patched.times,
            blob: patched.blob,
        };
        self.insert_new(target, new, entry, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Meta, Value};

    fn record(now: Timestamp, ttl: u64) -> Record {
        Record {
            data: [("n".to_owned(), Value::from_json("1").expect("json"))].into(),
            meta: Meta::new(now, Duration::from_secs(ttl), Duration::from_secs(ttl * 10)),
        }
    }

    #[tokio::test]
    async fn capacity_is_a_hard_bound() {
        let store = MemoryStore::builder().max_sessions(64).shards(4).build();
        let now = Timestamp::from_millis(1_000_000);
        for _ in 0..10_000 {
            let key = crate::SessionId::generate().store_key();
            store
                .create(&key, &record(now, 60), now)
                .await
                .expect("create");
        }
        assert!(store.len() <= 64, "{} records", store.len());
    }

    /// A renewal's forward takes the old record's place (the count does not grow) and is
    /// the first thing evicted, before any anonymous session (docs/id-renewal.md).
    #[tokio::test]
    async fn forwards_are_evicted_before_sessions() {
        let store = MemoryStore::builder().max_sessions(3).shards(1).build();
        let now = Timestamp::from_millis(1_000_000);
        let key = || crate::SessionId::generate().store_key();
        let (old, new, other) = (key(), key(), key());
        for k in [old, other] {
            store
                .create(&k, &record(now, 60), now)
                .await
                .expect("create");
        }
        let until = now.saturating_add(Duration::from_secs(30));
        let outcome = store
            .renew(&old, &new, &Patch::default(), b"fw", until, now)
            .await
            .expect("renew");
        assert!(matches!(outcome, WriteOutcome::Applied(_)), "{outcome:?}");
        assert_eq!(store.len(), 3, "forward + renewed + other");
        // Full: the next session pushes out the forward, not a session.
        let third = key();
        store
            .create(&third, &record(now, 60), now)
            .await
            .expect("create");
        assert_eq!(store.len(), 3);
        assert_eq!(
            store.load_forward_now(&old, now),
            None,
            "the forward went first"
        );
        for k in [new, other, third] {
            assert!(store.load(&k, now).await.expect("load").is_some());
        }
    }

    #[tokio::test]
    async fn eviction_prefers_the_soonest_to_expire() {
        let store = MemoryStore::builder().max_sessions(8).shards(1).build();
        let now = Timestamp::from_millis(1_000_000);
        let long: Vec<_> = (0..7)
            .map(|_| crate::SessionId::generate().store_key())
            .collect();
        for key in &long {
            store
                .create(key, &record(now, 3600), now)
                .await
                .expect("create");
        }
        let short = crate::SessionId::generate().store_key();
        store
            .create(&short, &record(now, 10), now)
            .await
            .expect("create");
        let newcomer = crate::SessionId::generate().store_key();
        store
            .create(&newcomer, &record(now, 3600), now)
            .await
            .expect("create");
        assert!(store.load(&short, now).await.expect("load").is_none());
        for key in long.iter().chain([&newcomer]) {
            assert!(store.load(key, now).await.expect("load").is_some());
        }
    }

    #[tokio::test]
    async fn expired_records_are_swept_without_reads() {
        let store = MemoryStore::builder().shards(1).build();
        let t0 = Timestamp::from_millis(1_000_000);
        for _ in 0..5_000 {
            let key = crate::SessionId::generate().store_key();
            store
                .create(&key, &record(t0, 1), t0)
                .await
                .expect("create");
        }
        // Later writes alone keep the table from growing without bound.
        let later = t0.saturating_add(Duration::from_secs(3600));
        for _ in 0..6_000 {
            let key = crate::SessionId::generate().store_key();
            store
                .create(&key, &record(later, 3600), later)
                .await
                .expect("create");
        }
        assert!(store.len() < 7_000, "{} records held", store.len());
        let far = later.saturating_add(Duration::from_secs(365 * 24 * 3600));
        let purged = store.purge_expired(far, usize::MAX).await.expect("purge");
        assert!(purged > 0);
        assert_eq!(store.len(), 0);
    }
}
