//! The satchel store conformance suite against `KoaRedisStore`, on a real Redis
//! (`SATCHEL_REDIS_URL`, default `redis://127.0.0.1:6379`), each check on a key prefix of
//! its own that is removed afterwards. Without Redis the checks are skipped loudly (and
//! fail under `CI=true`).
//!
//! The suite runs with `owner_key: None`, as the connect-redis conformance does: with an
//! owner *property* the owner is one of the data keys by design, which the suite's exact
//! data counts do not expect. The suite's keys are SHA-256 store keys, which the store
//! writes as hex (UUID keys are covered by the unit tests and `live_koa_redis.rs`).

mod redis_env;

use std::sync::atomic::{AtomicU32, Ordering};

use satchel::conformance::Harness;
use satchel::StoreKey;
use satchel_connect::koa::{KoaRedisOptions, KoaRedisStore};

/// Stores on one test's prefix; each `store()` gets a sub-prefix of its own.
struct Koa<'a> {
    env: &'a redis_env::Env,
    next: AtomicU32,
}

impl Harness for Koa<'_> {
    type Store = KoaRedisStore;

    async fn store(&self) -> KoaRedisStore {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let options = KoaRedisOptions {
            prefix: format!("{}{n}:", self.env.prefix),
            owner_key: None,
            ..KoaRedisOptions::default()
        };
        KoaRedisStore::connect(&self.env.url, options)
            .await
            .expect("connect to Redis")
    }

    async fn corrupt(&self, store: &KoaRedisStore, key: &StoreKey) {
        self.env.set(&store.redis_key(key), "garbage", 3600).await;
    }
}

/// One test per check, skipped (failed under `CI=true`) without Redis. The list mirrors
/// `satchel::conformance_tests!`, which cannot skip.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(env) = redis_env::Env::new(concat!("koa_", stringify!($name))).await else {
                    return;
                };
                let harness = Koa { env: &env, next: AtomicU32::new(0) };
                satchel::conformance::$name(&harness).await;
            }
        )*
    };
}

conformance!(
    create_then_load_round_trips,
    create_never_overwrites,
    apply_merges_named_keys_only,
    apply_refuses_stale_reads,
    apply_enforces_the_size_limit,
    expired_records_are_absent,
    touch_extends_idle_only,
    no_resurrection_after_delete,
    concurrent_different_keys_all_survive,
    concurrent_increments_lose_nothing,
    rotate_moves_the_record,
    owner_index_lists_and_revokes,
    purge_removes_only_expired,
    corrupt_records_are_errors,
    awkward_keys_and_values_round_trip,
);
