//! The near cache's bookkeeping, without Redis: entries keyed by Redis key name, each with
//! a generation, and a global epoch.
//!
//! The read/invalidate race (redis.io, "client-side caching"): a load's reply and an
//! invalidation for the same key can reach the cache in either order. A load therefore
//! takes a [`Ticket`] *before* it sends its read: that puts a `Pending` placeholder with a
//! fresh generation under the key. An invalidation removes whatever is under the key, a
//! flush (disconnect, null invalidation) bumps the epoch and empties everything, and a
//! completing load stores its value only if its placeholder is still there with its
//! generation and the epoch has not moved. A reply that lost its placeholder is returned
//! to the caller but not cached.
//!
//! Writes through this instance (the tracking connection runs in `NOLOOP` mode, so Redis
//! sends it no invalidation for its own writes) take a ticket too, and when they complete
//! they either store the version they wrote (their placeholder survived: nothing else
//! touched the key meanwhile) or remove the key (something did: a concurrent load or write
//! of this instance whose outcome is unknown relative to ours).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Number of independently locked shards.
const SHARDS: usize = 16;

/// A claim on a key taken before a read or write is sent; see the module docs.
#[derive(Debug)]
pub(crate) struct Ticket {
    key: Box<[u8]>,
    generation: u64,
    epoch: u64,
}

enum State<V> {
    /// A load or write of this instance is in flight; nothing is served from here.
    Pending,
    /// A value read (or written) while tracked, and when it was cached.
    Ready { value: V, cached_at: Instant },
}

struct Entry<V> {
    generation: u64,
    state: State<V>,
}

/// Counters for operators and for the staleness tool; monotonic since start.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) invalidations: AtomicU64,
    pub(crate) flushes: AtomicU64,
}

/// One shard: Redis key name → entry.
type Shard<V> = HashMap<Box<[u8]>, Entry<V>>;

/// The cache proper: bounded, sharded, generation-checked.
pub(crate) struct Core<V> {
    shards: Box<[Mutex<Shard<V>>]>,
    hasher: RandomState,
    per_shard: usize,
    max_life: Duration,
    epoch: AtomicU64,
    next_generation: AtomicU64,
    pub(crate) counters: Counters,
}

impl<V: Clone> Core<V> {
    /// A cache of at most about `max_entries` entries, each served for at most `max_life`.
    pub(crate) fn new(max_entries: usize, max_life: Duration) -> Self {
        Core {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            per_shard: max_entries.div_ceil(SHARDS).max(1),
            max_life,
            epoch: AtomicU64::new(0),
            next_generation: AtomicU64::new(1),
            counters: Counters::default(),
        }
    }

    fn shard(&self, key: &[u8]) -> MutexGuard<'_, Shard<V>> {
        // The remainder is below SHARDS, so the conversion cannot fail.
        let i = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        // A panic while holding a shard cannot leave an entry half-written (each change
        // is one insert/remove), so a poisoned lock is safe to reuse.
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh_generation(&self) -> u64 {
        self.next_generation.fetch_add(1, Ordering::Relaxed)
    }

    /// The cached value under `key`, if one is ready and younger than the maximum life.
    pub(crate) fn get(&self, key: &[u8]) -> Option<V> {
        let mut shard = self.shard(key);
        let found = match shard.get(key) {
            Some(Entry {
                state: State::Ready { value, cached_at },
                ..
            }) => {
                if cached_at.elapsed() < self.max_life {
                    Some(value.clone())
                } else {
                    shard.remove(key);
                    None
                }
            }
            _ => None,
        };
        drop(shard);
        let counter = if found.is_some() {
            &self.counters.hits
        } else {
            &self.counters.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Whether a ready value is cached under `key` (for tests and the staleness tool).
    pub(crate) fn contains(&self, key: &[u8]) -> bool {
        matches!(
            self.shard(key).get(key),
            Some(Entry {
                state: State::Ready { .. },
                ..
            })
        )
    }

    /// Puts a fresh placeholder under `key` (replacing what was there) and returns its
    /// ticket, with the value that was ready under it (a write's base).
    pub(crate) fn begin(&self, key: &[u8]) -> (Ticket, Option<V>) {
        let generation = self.fresh_generation();
        let mut shard = self.shard(key);
        // Read under the shard lock: a flush bumps the epoch before it clears the shards,
        // so a ticket either sees the new epoch or has its placeholder cleared.
        let epoch = self.epoch.load(Ordering::Acquire);
        if shard.len() >= self.per_shard && !shard.contains_key(key) {
            // Evict one entry; the map's hash order makes the choice arbitrary. An evicted
            // entry's later invalidation finds nothing, which is fine.
            if let Some(victim) = shard.keys().next().cloned() {
                shard.remove(&victim);
            }
        }
        let old = shard.insert(
            key.into(),
            Entry {
                generation,
                state: State::Pending,
            },
        );
        let base = match old {
            Some(Entry {
                state: State::Ready { value, cached_at },
                ..
            }) if cached_at.elapsed() < self.max_life => Some(value),
            _ => None,
        };
        (
            Ticket {
                key: key.into(),
                generation,
                epoch,
            },
            base,
        )
    }

    /// Completes a load: caches `value` if the ticket's placeholder survived. Returns
    /// whether it was cached. `None` (nothing found, or an error) drops the placeholder.
    pub(crate) fn complete_load(&self, ticket: Ticket, value: Option<V>) -> bool {
        let mut shard = self.shard(&ticket.key);
        let epoch = self.epoch.load(Ordering::Acquire);
        let ours = matches!(
            shard.get(&ticket.key),
            Some(Entry { generation, state: State::Pending }) if *generation == ticket.generation
        );
        if !ours {
            // Invalidated, flushed or taken over by a newer load/write: not ours to touch.
            return false;
        }
        match value {
            Some(value) if epoch == ticket.epoch => {
                shard.insert(
                    ticket.key,
                    Entry {
                        generation: ticket.generation,
                        state: State::Ready {
                            value,
                            cached_at: Instant::now(),
                        },
                    },
                );
                true
            }
            _ => {
                shard.remove(&ticket.key);
                false
            }
        }
    }

    /// Completes a write of this instance: caches `written` (the version the write left
    /// in Redis, when known) if nothing else touched the key since the ticket; otherwise
    /// removes the key, so that no load that overlapped the write stays cached.
    pub(crate) fn complete_write(&self, ticket: Ticket, written: Option<V>) -> bool {
        let mut shard = self.shard(&ticket.key);
        let epoch = self.epoch.load(Ordering::Acquire);
        let ours = matches!(
            shard.get(&ticket.key),
            Some(Entry { generation, state: State::Pending }) if *generation == ticket.generation
        );
        match written {
            Some(value) if ours && epoch == ticket.epoch => {
                shard.insert(
                    ticket.key,
                    Entry {
                        generation: ticket.generation,
                        state: State::Ready {
                            value,
                            cached_at: Instant::now(),
                        },
                    },
                );
                true
            }
            _ => {
                shard.remove(&ticket.key);
                false
            }
        }
    }

    /// Forgets `key` (an invalidation from Redis, or a local write whose result is not
    /// cached). In-flight loads of it will not be cached.
    pub(crate) fn invalidate(&self, key: &[u8]) {
        self.shard(key).remove(key);
        self.counters.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets everything (disconnect, null invalidation, revocation): no load or write
    /// in flight will be cached either.
    pub(crate) fn flush(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for shard in self.shards.iter() {
            shard.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
    }

    /// Number of entries (ready or pending).
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core() -> Core<u32> {
        Core::new(1000, Duration::from_secs(60))
    }

    #[test]
    fn a_completed_load_is_served() {
        let c = core();
        let (t, base) = c.begin(b"k");
        assert_eq!(base, None);
        assert!(c.complete_load(t, Some(1)));
        assert_eq!(c.get(b"k"), Some(1));
    }

    #[test]
    fn an_invalidation_between_ticket_and_reply_keeps_the_reply_out() {
        let c = core();
        let (t, _) = c.begin(b"k");
        // The invalidation is processed before the (older) reply reaches the cache.
        c.invalidate(b"k");
        assert!(!c.complete_load(t, Some(1)));
        assert_eq!(c.get(b"k"), None);
    }

    #[test]
    fn a_flush_between_ticket_and_reply_keeps_the_reply_out() {
        let c = core();
        let (t, _) = c.begin(b"k");
        c.flush();
        assert!(!c.complete_load(t, Some(1)));
        assert_eq!(c.get(b"k"), None);
        // A flush after a value was cached removes it.
        let (t, _) = c.begin(b"k");
        assert!(c.complete_load(t, Some(2)));
        c.flush();
        assert_eq!(c.get(b"k"), None);
    }

    #[test]
    fn an_older_load_cannot_overwrite_a_newer_one() {
        let c = core();
        let (old, _) = c.begin(b"k");
        let (new, _) = c.begin(b"k");
        assert!(!c.complete_load(old, Some(1)));
        assert!(c.complete_load(new, Some(2)));
        assert_eq!(c.get(b"k"), Some(2));
    }

    #[test]
    fn a_write_caches_its_version_only_when_nothing_overlapped() {
        let c = core();
        let (t, _) = c.begin(b"k");
        assert!(c.complete_load(t, Some(1)));
        let (w, base) = c.begin(b"k");
        assert_eq!(base, Some(1));
        // While the write is in flight nothing is served.
        assert_eq!(c.get(b"k"), None);
        assert!(c.complete_write(w, Some(2)));
        assert_eq!(c.get(b"k"), Some(2));

        // A load that overlapped the write may have read the old value (our own writes
        // send us no invalidation): the write completing removes it.
        let (w, _) = c.begin(b"k");
        let (l, _) = c.begin(b"k");
        assert!(c.complete_load(l, Some(2)));
        assert!(!c.complete_write(w, Some(3)));
        assert_eq!(c.get(b"k"), None);

        // An invalidation during the write: someone else wrote too.
        let (w, _) = c.begin(b"k");
        c.invalidate(b"k");
        assert!(!c.complete_write(w, Some(4)));
        assert_eq!(c.get(b"k"), None);
    }

    #[test]
    fn entries_die_at_the_maximum_life() {
        let c: Core<u32> = Core::new(10, Duration::ZERO);
        let (t, _) = c.begin(b"k");
        assert!(c.complete_load(t, Some(1)));
        assert_eq!(c.get(b"k"), None);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let c: Core<u32> = Core::new(32, Duration::from_secs(60));
        for i in 0..1000u32 {
            let (t, _) = c.begin(&i.to_be_bytes());
            c.complete_load(t, Some(i));
        }
        assert!(c.len() <= 32, "{} entries", c.len());
    }
}
