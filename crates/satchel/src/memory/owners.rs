//! The per-owner index of a [`super::MemoryStore`]: owner → store keys of their sessions,
//! for [`crate::SessionStore::sessions_of`] and [`crate::SessionStore::revoke_owner`].
//!
//! Bounded by the store: it holds exactly the owned records the shards hold (every path
//! that removes a record unindexes it), so it evicts nothing of its own. What it must not
//! do is get slow for one owner with many sessions (an account that logs in again and
//! again): each record's removal updates its owner's keys under this index's one lock, so
//! a linear scan there would make every removal cost as much as that owner's session
//! count. Owners with a few sessions (the common case) keep them inline; past
//! [`MAX_FEW`] they move to a hash set, so adding and removing a key is O(1) either way.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use smallvec::SmallVec;

use super::shard::KeyHasher;
use crate::id::StoreKey;

/// Up to this many sessions an owner's keys are a small vector (scanned on removal).
const MAX_FEW: usize = 16;

type KeySet = hashbrown::HashSet<StoreKey, BuildHasherDefault<KeyHasher>>;

/// One owner's session keys.
enum Keys {
    /// Two inline (a phone and a laptop), on the heap up to [`MAX_FEW`].
    Few(SmallVec<[StoreKey; 2]>),
    Many(KeySet),
}

/// Owner names come from the application (often from user input), so the outer map keeps
/// std's DoS-resistant hasher.
#[derive(Default)]
pub(super) struct Owners(HashMap<String, Keys>);

impl Owners {
    pub(super) fn add(&mut self, owner: String, key: StoreKey) {
        let keys = self
            .0
            .entry(owner)
            .or_insert_with(|| Keys::Few(SmallVec::new()));
        match keys {
            Keys::Few(few) if few.len() < MAX_FEW => {
                if !few.contains(&key) {
                    few.push(key);
                }
            }
            Keys::Few(few) => {
                let mut set: KeySet = few.drain(..).collect();
                set.insert(key);
                *keys = Keys::Many(set);
            }
            Keys::Many(set) => {
                set.insert(key);
            }
        }
    }

    pub(super) fn remove(&mut self, owner: &str, key: &StoreKey) {
        let Some(keys) = self.0.get_mut(owner) else {
            return;
        };
        let now_empty = match keys {
            Keys::Few(few) => {
                if let Some(i) = few.iter().position(|k| k == key) {
                    few.swap_remove(i);
                }
                few.is_empty()
            }
            Keys::Many(set) => {
                set.remove(key);
                set.is_empty()
            }
        };
        if now_empty {
            self.0.remove(owner);
        }
    }

    /// The store keys of `owner`'s sessions, in no particular order.
    pub(super) fn keys(&self, owner: &str) -> Vec<StoreKey> {
        match self.0.get(owner) {
            None => Vec::new(),
            Some(Keys::Few(few)) => few.to_vec(),
            Some(Keys::Many(set)) => set.iter().copied().collect(),
        }
    }

    /// How many keys are indexed, over all owners.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.0
            .values()
            .map(|keys| match keys {
                Keys::Few(few) => few.len(),
                Keys::Many(set) => set.len(),
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> StoreKey {
        crate::SessionId::generate().store_key()
    }

    #[test]
    fn keys_are_added_and_removed_past_the_switch_to_a_set() {
        let mut owners = Owners::default();
        let keys: Vec<StoreKey> = (0..100).map(|_| key()).collect();
        let other = key();
        owners.add("bob".into(), other);
        for k in &keys {
            owners.add("alice".into(), *k);
        }
        owners.add("alice".into(), keys[0]); // again: no duplicate
        assert_eq!(owners.keys("alice").len(), 100);
        assert_eq!(owners.len(), 101);
        for k in &keys[..99] {
            owners.remove("alice", k);
        }
        assert_eq!(owners.keys("alice"), [keys[99]]);
        owners.remove("alice", &keys[99]);
        assert!(owners.keys("alice").is_empty());
        assert!(
            !owners.0.contains_key("alice"),
            "an owner without keys is dropped"
        );
        owners.remove("nobody", &other);
        assert_eq!(owners.keys("bob"), [other]);
    }
}
