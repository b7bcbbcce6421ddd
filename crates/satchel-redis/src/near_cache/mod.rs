//! The near cache: loaded session records kept in process, invalidated by Redis
//! server-assisted client-side caching (RESP3 `CLIENT TRACKING`, default mode, `NOLOOP`).
//! See `docs/redis-near-cache.md` for the design, the consistency argument and the
//! measurements.
//!
//! - [`core`]: the bounded map with per-key generations and a global epoch (the
//!   read/invalidate race, flushes, maximum life), testable without Redis.
//! - [`tracked_conn`]: the tracking connection (reconnects, re-enables tracking, applies
//!   invalidation pushes in socket order).
//! - [`VersionedBackend`]: the seam between the cache and the store's layout.

pub(crate) mod core;
pub(crate) mod tracked_conn;

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use satchel::{Patch, Record, StoreError, StoreKey, Timestamp, WriteOutcome};

use crate::v2::Loaded;

/// Turns the near cache on for a [`crate::RedisStore`] on a standalone server or through
/// Sentinel (see [`crate::RedisConfig::near_cache`]).
#[derive(Debug, Clone)]
pub struct NearCacheConfig {
    /// At most this many sessions are kept (default 100,000); past it arbitrary entries
    /// are evicted.
    pub max_entries: usize,
    /// No entry is served longer than this after it was loaded or written (default 60 s):
    /// the safety net for an invalidation lost without the connection dropping.
    pub max_entry_life: Duration,
}

impl Default for NearCacheConfig {
    fn default() -> Self {
        NearCacheConfig {
            max_entries: 100_000,
            max_entry_life: Duration::from_secs(60),
        }
    }
}

/// Counters of a store's near cache since it connected (for operators and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NearCacheStats {
    /// Loads answered from the cache.
    pub hits: u64,
    /// Loads (and writes) that found nothing usable cached.
    pub misses: u64,
    /// Keys forgotten one at a time (invalidation pushes and this store's own writes).
    pub invalidations: u64,
    /// Whole-cache flushes (connects, disconnects, null invalidations, revocations).
    pub flushes: u64,
    /// Entries held now, ready or being loaded.
    pub entries: u64,
}

/// The cache type the store holds.
pub(crate) type Cache = core::Core<Arc<Loaded>>;

pub(crate) fn stats(cache: &Cache) -> NearCacheStats {
    let c = &cache.counters;
    NearCacheStats {
        hits: c.hits.load(Ordering::Relaxed),
        misses: c.misses.load(Ordering::Relaxed),
        invalidations: c.invalidations.load(Ordering::Relaxed),
        flushes: c.flushes.load(Ordering::Relaxed),
        entries: cache.len() as u64,
    }
}

/// What the cache needs from the layout (layout v2's seam: `RedisStore::load_versioned`
/// and `RedisStore::apply_on`, in `lib.rs`). Both calls must run on the tracking
/// connection. The layout's write script must end with a read of the session key
/// (`EXISTS`, see `v2/scripts.rs`): with `NOLOOP` that read is what keeps this connection
/// tracked on the key it just wrote, so that the next write by another instance still
/// invalidates the cached new version.
pub(crate) trait VersionedBackend {
    /// The live record under `key` at `now` and the version it was read at.
    fn get_versioned(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Loaded>, StoreError>> + Send;

    /// Writes `patch` given `base`, the version this instance holds (if any). Returns the
    /// outcome and, when it wrote, the version now in Redis if it is known exactly.
    fn write_on_base(
        &self,
        key: &StoreKey,
        base: Option<Arc<Loaded>>,
        patch: &Patch,
        now: Timestamp,
    ) -> impl Future<Output = Result<(WriteOutcome, Option<Loaded>), StoreError>> + Send;
}

/// A load answered by the cache alone, if it can be: `Some(answer)` on a hit (0 round
/// trips), `None` when Redis must be asked ([`load`]).
pub(crate) fn load_cached(
    cache: &Cache,
    redis_key: &[u8],
    now: Timestamp,
) -> Option<Option<Record>> {
    let hit = cache.get(redis_key)?;
    // The session's deadlines are enforced from the cached record, against the caller's
    // clock, exactly as a load from Redis would.
    Some(Some(hit.record.clone()).filter(|r| !r.meta.is_expired(now)))
}

/// A load through the cache: 0 round trips when warm.
pub(crate) async fn load<B: VersionedBackend + Sync>(
    cache: &Cache,
    backend: &B,
    redis_key: &[u8],
    key: &StoreKey,
    now: Timestamp,
) -> Result<Option<Record>, StoreError> {
    if let Some(answer) = load_cached(cache, redis_key, now) {
        return Ok(answer);
    }
    let (ticket, _) = cache.begin(redis_key);
    let loaded = match backend.get_versioned(key, now).await {
        Ok(v) => v,
        Err(e) => {
            cache.complete_load(ticket, None);
            return Err(e);
        }
    };
    let Some(loaded) = loaded else {
        cache.complete_load(ticket, None);
        return Ok(None);
    };
    let record = loaded.record.clone();
    cache.complete_load(ticket, Some(Arc::new(loaded)));
    Ok(Some(record))
}

/// A write through the cache: one round trip, against the cached version when there is
/// one; the version written is cached only if nothing else touched the key meanwhile.
pub(crate) async fn apply<B: VersionedBackend + Sync>(
    cache: &Cache,
    backend: &B,
    redis_key: &[u8],
    key: &StoreKey,
    patch: &Patch,
    now: Timestamp,
) -> Result<WriteOutcome, StoreError> {
    // The cached base is shared with the write, not copied: the write reads it and
    // builds its new version from it.
    let (ticket, base) = cache.begin(redis_key);
    match backend.write_on_base(key, base, patch, now).await {
        Ok((outcome, stored)) => {
            // Only the version this write left is known to be tracked and current; what a
            // refused write reports (the value it checked against) is not cached.
            let written = match outcome {
                WriteOutcome::Applied(_) => stored.map(Arc::new),
                _ => None,
            };
            cache.complete_write(ticket, written);
            Ok(outcome)
        }
        Err(e) => {
            // The write may or may not have happened.
            cache.complete_write(ticket, None);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A layout that answers from memory and, when told to, lets an invalidation (as the
    /// tracking connection's read loop would apply it) land between the cache's ticket and
    /// the reply: the read/invalidate race, made deterministic.
    struct Fake {
        cache: Arc<Cache>,
        redis_key: Vec<u8>,
        stored: Mutex<Option<Record>>,
        invalidate_during_call: Mutex<bool>,
    }

    impl Fake {
        fn maybe_race(&self) {
            if std::mem::take(&mut *self.invalidate_during_call.lock().expect("lock")) {
                self.cache.invalidate(&self.redis_key);
            }
        }
    }

    impl VersionedBackend for Fake {
        async fn get_versioned(
            &self,
            _key: &StoreKey,
            now: Timestamp,
        ) -> Result<Option<Loaded>, StoreError> {
            let r = self.stored.lock().expect("lock").clone();
            self.maybe_race();
            Ok(r.filter(|r| !r.meta.is_expired(now)).map(loaded))
        }

        async fn write_on_base(
            &self,
            _key: &StoreKey,
            _base: Option<Arc<Loaded>>,
            patch: &Patch,
            now: Timestamp,
        ) -> Result<(WriteOutcome, Option<Loaded>), StoreError> {
            let mut stored = self.stored.lock().expect("lock");
            let r = stored.as_mut().expect("live");
            patch.apply_to(r, now);
            let out = (
                WriteOutcome::Applied(r.meta.expires()),
                Some(loaded(r.clone())),
            );
            drop(stored);
            self.maybe_race();
            Ok(out)
        }
    }

    fn loaded(record: Record) -> Loaded {
        Loaded {
            token: crate::v2::Token::V1(Vec::new()),
            record,
        }
    }

    fn setup() -> (Arc<Cache>, Fake, StoreKey, Timestamp) {
        let cache = Arc::new(Cache::new(100, Duration::from_secs(60)));
        let now = Timestamp::from_millis(1_000_000);
        let record = Record {
            data: Default::default(),
            meta: satchel::Meta::new(now, Duration::from_secs(60), Duration::from_secs(600)),
        };
        let fake = Fake {
            cache: cache.clone(),
            redis_key: b"s:k".to_vec(),
            stored: Mutex::new(Some(record)),
            invalidate_during_call: Mutex::new(false),
        };
        (
            cache,
            fake,
            StoreKey::from_hex(&"ab".repeat(32)).expect("hex"),
            now,
        )
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn a_load_invalidated_in_flight_is_returned_but_not_cached() {
        let (cache, fake, key, now) = setup();
        *fake.invalidate_during_call.lock().expect("lock") = true;
        let r = block_on(load(&cache, &fake, b"s:k", &key, now)).expect("load");
        assert!(r.is_some());
        assert!(
            !cache.contains(b"s:k"),
            "a reply that lost its placeholder was cached"
        );
        // Without the race the next load is cached.
        block_on(load(&cache, &fake, b"s:k", &key, now)).expect("load");
        assert!(cache.contains(b"s:k"));
    }

    #[test]
    fn a_write_invalidated_in_flight_is_not_cached() {
        let (cache, fake, key, now) = setup();
        block_on(load(&cache, &fake, b"s:k", &key, now)).expect("load");
        *fake.invalidate_during_call.lock().expect("lock") = true;
        let mut patch = Patch::default();
        patch
            .set
            .push(("a".into(), satchel::Value::from_json("1").expect("json")));
        block_on(apply(&cache, &fake, b"s:k", &key, &patch, now)).expect("write");
        assert!(!cache.contains(b"s:k"));
        // Without the race the written version is cached, and served.
        block_on(apply(&cache, &fake, b"s:k", &key, &patch, now)).expect("write");
        assert!(cache.contains(b"s:k"));
        let r = block_on(load(&cache, &fake, b"s:k", &key, now))
            .expect("load")
            .expect("live");
        assert_eq!(r.data.get("a").map(|v| v.get()), Some("1"));
    }

    #[test]
    fn cached_records_are_checked_against_the_callers_clock() {
        let (cache, fake, key, now) = setup();
        block_on(load(&cache, &fake, b"s:k", &key, now)).expect("load");
        assert!(cache.contains(b"s:k"));
        let late = now.saturating_add(Duration::from_secs(61));
        assert_eq!(
            block_on(load(&cache, &fake, b"s:k", &key, late)).expect("load"),
            None
        );
    }
}
