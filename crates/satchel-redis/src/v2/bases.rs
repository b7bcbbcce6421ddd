//! Per-store bookkeeping that keeps version-checked writes at one round trip:
//!
//! - **Bases**: the last version of each session this store loaded or wrote, so that the
//!   `apply` after the engine's `load` (the store contract passes no base) can send its
//!   version-checked write without another `GET`. A base is only a guess: the script
//!   checks it, and a stale one costs one retry (the reply carries the current value). A
//!   base never answers a read. Bounded: at [`MAX_BASES`] entries the map is cleared.
//! - **Lanes**: writes to one session from this process go one at a time. Without them,
//!   N concurrent writers of one session would all race at Redis and each round only one
//!   would win (N rounds for the last one); in a lane each writer finds the base its
//!   predecessor left and succeeds at the first attempt. Other processes still race, which
//!   the bounded retry absorbs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use satchel::StoreKey;

use super::Loaded;

/// How many bases a store keeps at most.
pub(crate) const MAX_BASES: usize = 8_192;

type Lane = Arc<tokio::sync::Mutex<()>>;

#[derive(Default)]
pub(crate) struct Bases {
    bases: Mutex<HashMap<[u8; 32], Loaded>>,
    lanes: Mutex<HashMap<[u8; 32], Lane>>,
}

impl Bases {
    /// Remembers `loaded` as the latest known version of `key`.
    pub(crate) fn put(&self, key: &StoreKey, loaded: Loaded) {
        let mut map = self.bases.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_BASES && !map.contains_key(key.as_bytes()) {
            map.clear();
        }
        map.insert(*key.as_bytes(), loaded);
    }

    /// Takes the base of `key`, if any (the caller puts back what it writes).
    pub(crate) fn take(&self, key: &StoreKey) -> Option<Loaded> {
        self.bases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key.as_bytes())
    }

    /// Forgets `key` (deleted, gone, or its state unknown).
    pub(crate) fn forget(&self, key: &StoreKey) {
        self.take(key);
    }

    /// Updates the version prefix of `key`'s base after a touch, if the base is of the
    /// same write (same token), since a touch changes only the expiry.
    pub(crate) fn touched(&self, key: &StoreKey, prefix: super::format::CasPrefix, at: u64) {
        let mut map = self.bases.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(base) = map.get_mut(key.as_bytes()) {
            match &mut base.token {
                super::Token::V2(p) if p[..9] == prefix[..9] => {
                    *p = prefix;
                    base.record.meta.idle_deadline = satchel::Timestamp::from_millis(at);
                }
                _ => {
                    map.remove(key.as_bytes());
                }
            }
        }
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
