//! MemoryStore against the store conformance suite.

use satchel::conformance::Harness;
use satchel::{MemoryStore, StoreKey};

struct Memory;

impl Harness for Memory {
    type Store = MemoryStore;

    async fn store(&self) -> MemoryStore {
        MemoryStore::new()
    }

    async fn corrupt(&self, store: &MemoryStore, key: &StoreKey) {
        assert!(store.corrupt_for_tests(key, b"\x01\x00\xff\xff\xff"));
    }
}

satchel::conformance_tests!(Memory);
