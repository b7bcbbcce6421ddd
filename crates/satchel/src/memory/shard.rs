//! One independently locked part of a [`super::MemoryStore`]: its records, split into two
//! tables by whether they have an owner, and the eviction policy that split serves.
//!
//! Anonymous records (no owner) are cheap for anyone to create: one cookie-less request
//! each. Owned records are logged-in users. Keeping them in separate tables lets eviction
//! find an anonymous victim in O(1) whenever one exists, so a flood of anonymous sessions
//! can only ever push out other anonymous sessions, never a logged-in user, as long as one
//! anonymous record is left in the shard. The split costs no memory per record (the same
//! entries, in two tables instead of one); a lookup probes the owned table first and the
//! anonymous one second (a cache-friendly control-byte check when the key is not there).

use std::hash::{BuildHasherDefault, Hasher};

use super::codec::{self, Times};
use crate::id::StoreKey;
use crate::time::{duration_millis, Timestamp};

/// How many records of a table eviction compares (like Redis's `maxmemory-samples`).
const EVICTION_SAMPLE: usize = 16;

type Map = hashbrown::HashMap<StoreKey, Entry, BuildHasherDefault<KeyHasher>>;

/// A stored record: its deadlines, and its bytes (see `codec.rs`).
pub(super) struct Entry {
    pub(super) times: Times,
    pub(super) blob: codec::Blob,
}

impl Entry {
    fn class(&self) -> Class {
        if codec::has_owner(&self.blob) {
            Class::Owned
        } else {
            Class::Anonymous
        }
    }

    /// When the record was last used: its idle deadline minus its idle timeout (the store
    /// sets the one from the other on every write and touch; touches are throttled by the
    /// engine, so this is as fresh as the last write or touch). A deadline cut short by the
    /// absolute one makes the record look older than it is, which only moves forward a
    /// record that expires soon anyway; an unreadable one counts as never used.
    fn last_active(&self) -> Timestamp {
        match codec::idle_timeout(&self.blob) {
            Ok((idle_timeout, _)) => Timestamp::from_millis(
                self.times
                    .idle
                    .as_millis()
                    .saturating_sub(duration_millis(idle_timeout)),
            ),
            Err(_) => Timestamp::EPOCH,
        }
    }
}

/// A forward record left at an old key by a renewal (SEC-49): the engine's opaque bytes
/// (never an id) and the end of the grace window. Never a session: it lives in its own
/// table, which every session operation does not look at.
pub(super) struct Forward {
    pub(super) bytes: Vec<u8>,
    pub(super) until: Timestamp,
}

/// Which table of a shard holds a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    /// No owner: evicted first.
    Anonymous,
    /// A logged-in user's: evicted only when no anonymous record is left in the shard.
    Owned,
}

/// What [`Shard::live`] found under a key.
pub(super) enum Found<'s> {
    /// Nothing.
    Missing,
    /// A record past its deadline, now removed (the caller unindexes its owner).
    Expired(Entry),
    /// A live record, in the table of its class.
    Live(Class, &'s mut Entry),
}

#[derive(Default)]
pub(super) struct Shard {
    anonymous: Map,
    owned: Map,
    /// Renewals' forward records: anonymous by nature (anyone holding an old cookie), so
    /// evicted before any session.
    forwards: hashbrown::HashMap<StoreKey, Forward, BuildHasherDefault<KeyHasher>>,
    /// The most records this shard holds.
    pub(super) capacity: usize,
    pub(super) writes_since_sweep: usize,
    /// How many records the last sweep left; the next one comes after as many writes.
    pub(super) len_after_sweep: usize,
    pub(super) next_full_sweep: Timestamp,
}

impl Shard {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        Shard {
            capacity,
            ..Shard::default()
        }
    }

    pub(super) fn len(&self) -> usize {
        self.anonymous.len() + self.owned.len() + self.forwards.len()
    }

    /// The bytes of the live forward record under `key`; an expired one is removed on
    /// sight.
    pub(super) fn forward(&mut self, key: &StoreKey, now: Timestamp) -> Option<&[u8]> {
        match self.forwards.entry(*key) {
            hashbrown::hash_map::Entry::Vacant(_) => None,
            hashbrown::hash_map::Entry::Occupied(entry) if now >= entry.get().until => {
                entry.remove();
                None
            }
            hashbrown::hash_map::Entry::Occupied(entry) => Some(&entry.into_mut().bytes),
        }
    }

    /// Leaves a forward record under `key` (whose session was just removed).
    pub(super) fn insert_forward(&mut self, key: StoreKey, forward: Forward) {
        self.forwards.insert(key, forward);
    }

    /// Removes the forward record under `key`, if any.
    pub(super) fn remove_forward(&mut self, key: &StoreKey) -> bool {
        self.forwards.remove(key).is_some()
    }

    /// Removes up to `limit` forward records whose window is over at `now`; returns how
    /// many.
    pub(super) fn sweep_forwards(&mut self, now: Timestamp, limit: usize) -> usize {
        let mut removed = 0;
        self.forwards.retain(|_, f| {
            if removed < limit && now >= f.until {
                removed += 1;
                false
            } else {
                true
            }
        });
        removed
    }

    /// Removes the forward record closing soonest among [`EVICTION_SAMPLE`] of them, if
    /// any is held: forwards go before any session, anonymous ones included (a forward
    /// only spares other tabs a retry; losing it early ends the old id at once, as a
    /// plain rotation would).
    pub(super) fn evict_forward(&mut self) -> bool {
        let victim = self
            .forwards
            .iter()
            .take(EVICTION_SAMPLE)
            .min_by_key(|(_, f)| f.until)
            .map(|(k, _)| *k);
        victim.is_some_and(|k| self.forwards.remove(&k).is_some())
    }

    /// How many records have no owner.
    #[cfg(test)]
    pub(super) fn anonymous_len(&self) -> usize {
        self.anonymous.len()
    }

    fn table(&mut self, class: Class) -> &mut Map {
        match class {
            Class::Anonymous => &mut self.anonymous,
            Class::Owned => &mut self.owned,
        }
    }

    /// Which table holds `key`, if either does.
    pub(super) fn class_of(&self, key: &StoreKey) -> Option<Class> {
        if self.owned.contains_key(key) {
            Some(Class::Owned)
        } else if self.anonymous.contains_key(key) {
            Some(Class::Anonymous)
        } else {
            None
        }
    }

    /// The record under `key`, live or not.
    pub(super) fn get(&self, key: &StoreKey) -> Option<&Entry> {
        self.owned.get(key).or_else(|| self.anonymous.get(key))
    }

    /// The live record under `key`; an expired one is removed on sight.
    pub(super) fn live(&mut self, key: &StoreKey, now: Timestamp) -> Found<'_> {
        // Not owned: then anonymous or missing, which one probe of that table tells.
        let class = if self.owned.contains_key(key) {
            Class::Owned
        } else {
            Class::Anonymous
        };
        match self.table(class).entry(*key) {
            hashbrown::hash_map::Entry::Vacant(_) => Found::Missing,
            hashbrown::hash_map::Entry::Occupied(entry)
                if now >= entry.get().times.expires_at() =>
            {
                Found::Expired(entry.remove())
            }
            hashbrown::hash_map::Entry::Occupied(entry) => Found::Live(class, entry.into_mut()),
        }
    }

    pub(super) fn insert(&mut self, key: StoreKey, entry: Entry) {
        let class = entry.class();
        self.table(class).insert(key, entry);
    }

    pub(super) fn remove(&mut self, key: &StoreKey) -> Option<Entry> {
        self.owned
            .remove(key)
            .or_else(|| self.anonymous.remove(key))
    }

    /// Replaces the record under `key` (found live in `class`) with `entry`, moving it to
    /// the other table if the write gave it an owner or took it away.
    pub(super) fn replace(&mut self, key: &StoreKey, class: Class, entry: Entry) {
        if entry.class() == class {
            if let Some(slot) = self.table(class).get_mut(key) {
                *slot = entry;
                return;
            }
        }
        self.table(class).remove(key);
        self.insert(*key, entry);
    }

    /// Keeps only the records for which `keep` is true.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&StoreKey, &Entry) -> bool) {
        self.anonymous.retain(|k, e| keep(k, e));
        self.owned.retain(|k, e| keep(k, e));
    }

    /// Removes one record to make room (the shard has no expired ones left to sweep):
    /// - while any anonymous record is held, the anonymous record expiring soonest among
    ///   [`EVICTION_SAMPLE`] of them (it would be gone soonest anyway);
    /// - otherwise the least recently active owned record among as many.
    ///
    /// O(`EVICTION_SAMPLE`): the sample is the first records of one table, and knowing
    /// which table has an anonymous record takes no search.
    pub(super) fn evict_one(&mut self) -> Option<(StoreKey, Entry)> {
        let victim = if self.anonymous.is_empty() {
            self.owned
                .iter()
                .take(EVICTION_SAMPLE)
                .min_by_key(|(_, e)| e.last_active())
                .map(|(k, _)| *k)?
        } else {
            self.anonymous
                .iter()
                .take(EVICTION_SAMPLE)
                .min_by_key(|(_, e)| e.times.expires_at())
                .map(|(k, _)| *k)?
        };
        let entry = self.remove(&victim)?;
        Some((victim, entry))
    }
}

/// Store keys are uniformly random hashes: [`StoreKey`]'s `Hash` feeds 8 of its bytes as
/// one `u64`, which this hasher passes through untouched.
#[derive(Default)]
pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only reached if something other than a StoreKey is hashed; mix anyway.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::record::{Meta, Record};

    fn entry(owner: Option<&str>, last_active: u64, idle_secs: u64) -> Entry {
        let now = Timestamp::from_millis(last_active * 1000);
        let mut meta = Meta::new(
            now,
            Duration::from_secs(idle_secs),
            Duration::from_secs(idle_secs * 100),
        );
        meta.owner = owner.map(str::to_owned);
        let record = Record {
            data: crate::record::Data::new(),
            meta,
        };
        Entry {
            times: Times::of(&record.meta),
            blob: codec::encode(&record),
        }
    }

    fn key() -> StoreKey {
        crate::SessionId::generate().store_key()
    }

    #[test]
    fn records_sit_in_the_table_of_their_class_and_move_with_their_owner() {
        let mut shard = Shard::with_capacity(8);
        let k = key();
        shard.insert(k, entry(None, 1, 60));
        assert_eq!(
            (shard.class_of(&k), shard.anonymous_len()),
            (Some(Class::Anonymous), 1)
        );
        shard.replace(&k, Class::Anonymous, entry(Some("alice"), 2, 60));
        assert_eq!(
            (shard.class_of(&k), shard.anonymous_len(), shard.len()),
            (Some(Class::Owned), 0, 1)
        );
        shard.replace(&k, Class::Owned, entry(None, 3, 60));
        assert_eq!(
            (shard.class_of(&k), shard.anonymous_len(), shard.len()),
            (Some(Class::Anonymous), 1, 1)
        );
        assert!(shard.remove(&k).is_some());
        assert_eq!((shard.class_of(&k), shard.len()), (None, 0));
    }

    #[test]
    fn eviction_takes_anonymous_first_then_the_least_recently_active() {
        let mut shard = Shard::with_capacity(8);
        let (idle, busy, anonymous) = (key(), key(), key());
        // The idle owner's long timeout makes it expire last: recency, not expiry, counts.
        shard.insert(idle, entry(Some("idle"), 10, 3600));
        shard.insert(busy, entry(Some("busy"), 20, 60));
        shard.insert(anonymous, entry(None, 30, 3600));
        let order: Vec<StoreKey> =
            std::iter::from_fn(|| shard.evict_one().map(|(k, _)| k)).collect();
        assert_eq!(order, [anonymous, idle, busy]);
    }

    #[test]
    fn an_unreadable_owned_record_counts_as_never_used() {
        let mut e = entry(Some("x"), 50, 60);
        e.blob.truncate(2); // the flags say "owner", the rest is gone
        assert!(codec::has_owner(&e.blob));
        assert_eq!(e.last_active(), Timestamp::EPOCH);
        assert_eq!(
            entry(Some("x"), 50, 60).last_active(),
            Timestamp::from_millis(50_000)
        );
    }
}
