//! The satchel store conformance suite against `ConnectRedisStore`, on a real Redis
//! (`SATCHEL_REDIS_URL`, default `redis://127.0.0.1:6379`), each check on a key prefix of
//! its own that is removed afterwards.
//!
//! The suite runs with `owner_key: None`: with an owner *property* (the default, `user`)
//! the owner is one of the data keys by design, which the suite's exact data counts do
//! not expect (its login writes `user` itself, its `clear` + new owner expects one key).
//! `connect_redis_store.rs` covers the owner property separately.

mod redis_env;

use std::sync::atomic::{AtomicU32, Ordering};

use satchel::conformance::Harness;
use satchel::StoreKey;
use satchel_connect::{ConnectRedisOptions, ConnectRedisStore};

/// Stores on one test's prefix; each `store()` gets a sub-prefix of its own.
struct Compat {
    env: redis_env::Env,
    next: AtomicU32,
}

impl Harness for Compat {
    type Store = ConnectRedisStore;

    async fn store(&self) -> ConnectRedisStore {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let options = ConnectRedisOptions {
            prefix: format!("{}{n}:", self.env.prefix),
            owner_key: None,
            ..ConnectRedisOptions::default()
        };
        ConnectRedisStore::connect(&self.env.url, options)
            .await
            .expect("connect to Redis")
    }

    async fn corrupt(&self, store: &ConnectRedisStore, key: &StoreKey) {
        self.env.set(&store.redis_key(key), "garbage", 3600).await;
    }
}

/// Each check's harness on a key prefix of its own (removed afterwards), or `None` (a loud
/// skip; a failure under `CI=true`) without Redis.
async fn setup(check: &str) -> Option<Compat> {
    let env = redis_env::Env::new(check).await?;
    Some(Compat {
        env,
        next: AtomicU32::new(0),
    })
}

satchel::conformance_tests!(setup = setup);
