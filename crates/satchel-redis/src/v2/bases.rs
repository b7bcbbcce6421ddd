//! Per-store bookkeeping that keeps version-checked writes at one round trip:
//!
//! - **Bases**: the last version of each session this store loaded or wrote, so that the
//!   `apply` after the engine's `load` (the store contract passes no base) can send its
//!   version-checked write without another `GET`. A base is only a guess: the script
//!   checks it, and a stale one costs one retry (the reply carries the current value). A
//!   base never answers a read. Bounded: at [`MAX_BASES`] entries or [`MAX_BASE_BYTES`] of
//!   session data the map is cleared (the next writes of those sessions cost a `GET`).
//!   A layout-v2 base is kept as the bytes it was read as (moved out of the `GET` reply,
//!   no copy) and decoded only when a write takes it: most loads are never followed by a
//!   write, and a decoded copy per load was the read route's largest cost in this crate
//!   (`Bases::put` at the top of a perf profile of the loadbench).
//! - **Lanes**: writes to one session from this process go one at a time. Without them,
//!   N concurrent writers of one session would all race at Redis and each round only one
//!   would win (N rounds for the last one); in a lane each writer finds the base its
//!   predecessor left and succeeds at the first attempt. Other processes still race, which
//!   the bounded retry absorbs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use satchel::StoreKey;

use super::{format, Loaded, Token};

/// How many bases a store keeps at most.
pub(crate) const MAX_BASES: usize = 8_192;
/// How many bytes of session data (keys, values, owners) the bases hold at most.
pub(crate) const MAX_BASE_BYTES: usize = 8 << 20;

type Lane = Arc<tokio::sync::Mutex<()>>;

#[derive(Default)]
pub(crate) struct Bases {
    bases: Mutex<Map>,
    lanes: Mutex<HashMap<[u8; 32], Lane>>,
}

/// The bases and the bytes of data they hold.
#[derive(Default)]
struct Map {
    entries: HashMap<[u8; 32], Base>,
    bytes: usize,
}

/// One base: a v2 value as stored (decoded when taken), or a decoded layout-v1 record.
enum Base {
    V2(Vec<u8>),
    V1(Loaded),
}

impl Base {
    fn of(loaded: Loaded) -> Self {
        match loaded.token {
            Token::V2 { value, .. } => Base::V2(value),
            Token::V1(_) => Base::V1(loaded),
        }
    }

    /// What it costs in memory, roughly: the bytes it holds and a fixed overhead.
    fn cost(&self) -> usize {
        64 + match self {
            Base::V2(value) => value.len(),
            Base::V1(loaded) => {
                let r = &loaded.record;
                r.meta.owner.as_ref().map_or(0, String::len)
                    + r.data
                        .iter()
                        .map(|(k, v)| 32 + k.len() + v.get().len())
                        .sum::<usize>()
            }
        }
    }

    /// The base as a record with its version, or `None` if its bytes no longer decode
    /// (they did when read; the write then reads the session first).
    fn into_loaded(self) -> Option<Loaded> {
        match self {
            Base::V1(loaded) => Some(loaded),
            Base::V2(value) => {
                let (prefix, record) = format::decode(&value).ok()?;
                Some(Loaded {
                    token: Token::V2 { prefix, value },
                    record,
                })
            }
        }
    }
}

impl Bases {
    /// Remembers `loaded` as the latest known version of `key` (a v2 one as its bytes:
    /// the decoded record is dropped).
    pub(crate) fn put(&self, key: &StoreKey, loaded: Loaded) {
        self.put_base(key, Base::of(loaded));
    }

    /// Remembers the v2 value `value` (as read) as the latest known version of `key`.
    pub(crate) fn put_stored(&self, key: &StoreKey, value: Vec<u8>) {
        self.put_base(key, Base::V2(value));
    }

    fn put_base(&self, key: &StoreKey, base: Base) {
        let size = base.cost();
        if size > MAX_BASE_BYTES / 64 {
            // Too big to keep: its writes read it first.
            self.forget(key);
            return;
        }
        let mut map = self.bases.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = map.entries.remove(key.as_bytes()) {
            map.bytes = map.bytes.saturating_sub(old.cost());
        }
        if map.entries.len() >= MAX_BASES || map.bytes + size > MAX_BASE_BYTES {
            map.entries.clear();
            map.bytes = 0;
        }
        map.bytes += size;
        map.entries.insert(*key.as_bytes(), base);
    }

    /// Takes the base of `key`, if any (the caller puts back what it writes).
    pub(crate) fn take(&self, key: &StoreKey) -> Option<Loaded> {
        // Decoded outside the lock.
        self.remove(key)?.into_loaded()
    }

    fn remove(&self, key: &StoreKey) -> Option<Base> {
        let mut map = self.bases.lock().unwrap_or_else(PoisonError::into_inner);
        let base = map.entries.remove(key.as_bytes())?;
        map.bytes = map.bytes.saturating_sub(base.cost());
        Some(base)
    }

    /// Forgets `key` (deleted, gone, or its state unknown).
    pub(crate) fn forget(&self, key: &StoreKey) {
        drop(self.remove(key));
    }

    /// Waits for `key`'s lane: the guard holds it until dropped.
    pub(crate) async fn lane(&self, key: &StoreKey) -> LaneGuard<'_> {
        let lane = self
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(*key.as_bytes())
            .or_default()
            .clone();
        // The guard exists before the wait, so that a cancelled wait cleans up too.
        let mut guard = LaneGuard {
            bases: self,
            key: *key.as_bytes(),
            lane: Some(lane.clone()),
            held: None,
        };
        guard.held = Some(lane.lock_owned().await);
        guard
    }
}

/// Holds a lane; on drop (also when the request is cancelled) releases it and removes it
/// from the map if nobody else waits for it.
pub(crate) struct LaneGuard<'a> {
    bases: &'a Bases,
    key: [u8; 32],
    lane: Option<Lane>,
    held: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for LaneGuard<'_> {
    fn drop(&mut self) {
        self.held.take();
        if let Some(lane) = self.lane.take() {
            let mut lanes = self
                .bases
                .lanes
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // Ours and the map's: nobody else holds or waits for it.
            if Arc::strong_count(&lane) == 2 {
                lanes.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use satchel::{Meta, Record, Timestamp, Value};
    use std::time::Duration;

    fn loaded(value_len: usize) -> Loaded {
        let text = format!("\"{}\"", "x".repeat(value_len));
        let record = Record {
            data: [("k".to_owned(), Value::from_json(text).expect("json"))]
                .into_iter()
                .collect(),
            meta: Meta::new(
                Timestamp::EPOCH,
                Duration::from_secs(1),
                Duration::from_secs(2),
            ),
        };
        let value = format::encode(&record, 1);
        Loaded {
            token: Token::V2 {
                prefix: format::cas_prefix(&value).expect("v2"),
                value,
            },
            record,
        }
    }

    fn key(i: u32) -> StoreKey {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&i.to_be_bytes());
        StoreKey::from_bytes(b)
    }

    #[test]
    fn bases_stay_bounded_in_count_and_bytes() {
        let bases = Bases::default();
        for i in 0..2 * u32::try_from(MAX_BASES).expect("small") {
            bases.put(&key(i), loaded(10));
        }
        let n = bases.bases.lock().expect("lock").entries.len();
        assert!(n <= MAX_BASES, "{n}");
        let big = loaded(100_000);
        for i in 0..200 {
            bases.put(&key(i), big.clone());
        }
        let bytes = bases.bases.lock().expect("lock").bytes;
        assert!(bytes <= MAX_BASE_BYTES, "{bytes}");
        // Too big to keep at all.
        bases.put(&key(1), loaded(MAX_BASE_BYTES));
        assert!(bases.take(&key(1)).is_none());
        let small = loaded(10);
        bases.put(&key(2), small.clone());
        assert_eq!(
            bases.take(&key(2)),
            Some(small),
            "kept as bytes, decoded when taken"
        );
        assert!(bases.take(&key(2)).is_none());
    }
}
