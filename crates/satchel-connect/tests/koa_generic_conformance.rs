//! The satchel store conformance suite against `KoaGenericRedisStore`, on a real Redis
//! (`SATCHEL_REDIS_URL`, default `redis://127.0.0.1:6379`), each check on a key prefix of
//! its own that is removed afterwards. Without Redis the checks are skipped loudly (and
//! fail under `CI=true`).
//!
//! The suite runs with `owner_key: None`, as the connect-redis conformance does: with an
//! owner *property* the owner is one of the data keys by design, which the suite's exact
//! data counts do not expect. The suite's keys are SHA-256 store keys, which the store
//! writes as hex (sid keys are covered by the unit tests and `live_koa_generic.rs`).

mod redis_env;

use std::sync::atomic::{AtomicU32, Ordering};

use satchel::conformance::Harness;
use satchel::StoreKey;
use satchel_connect::koa_generic::{KoaGenericRedisOptions, KoaGenericRedisStore};

/// Stores on one test's prefix; each `store()` gets a sub-prefix of its own.
struct Generic {
    env: redis_env::Env,
    next: AtomicU32,
}

impl Harness for Generic {
    type Store = KoaGenericRedisStore;

    async fn store(&self) -> KoaGenericRedisStore {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let options = KoaGenericRedisOptions {
            prefix: format!("{}{n}:", self.env.prefix),
            owner_key: None,
            ..KoaGenericRedisOptions::default()
        };
        KoaGenericRedisStore::connect(&self.env.url, options)
            .await
            .expect("connect to Redis")
    }

    async fn corrupt(&self, store: &KoaGenericRedisStore, key: &StoreKey) {
        // Not an object: koa-generic-session could not use it (not JSON at all is "no session").
        self.env.set(&store.redis_key(key), "[]", 3600).await;
    }
}

/// Each check's harness on a key prefix of its own (removed afterwards), or `None` (a loud
/// skip; a failure under `CI=true`) without Redis.
async fn setup(check: &str) -> Option<Generic> {
    let env = redis_env::Env::new(check).await?;
    Some(Generic {
        env,
        next: AtomicU32::new(0),
    })
}

satchel::conformance_tests!(setup = setup);
