//! The satchel conformance suite against standalone Redis (`SATCHEL_REDIS_URL`) and a
//! Redis Cluster (`SATCHEL_REDIS_CLUSTER_URL`, `redis+cluster://host:port,...`). Each test
//! gets its own random key prefix.

mod common;

use satchel::conformance::Harness;
use satchel::StoreKey;
use satchel_redis::{RedisConfig, RedisStore};

/// A harness on the Redis named by the environment variable `.0`.
struct Redis(&'static str);

impl Harness for Redis {
    type Store = RedisStore;

    async fn store(&self) -> RedisStore {
        let url = common::url(self.0).expect("checked by the test");
        RedisStore::connect(&url, RedisConfig::with_prefix(common::prefix()))
            .await
            .expect("connect to Redis")
    }

    async fn corrupt(&self, store: &RedisStore, key: &StoreKey) {
        let url = common::url(self.0).expect("checked by the test");
        common::corrupt(&url, store, key).await;
    }
}

/// `satchel::conformance_tests!` with a skip (or, under CI, a failure) when the URL
/// variable is not set; the list mirrors the one in `satchel::conformance_tests!`.
macro_rules! conformance {
    ($module:ident, $var:literal) => {
        mod $module {
            use super::*;
            conformance!(@each $var;
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
        }
    };
    (@each $var:literal; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                if common::url($var).is_none() {
                    return;
                }
                satchel::conformance::$name(&Redis($var)).await;
            }
        )*
    };
}

conformance!(standalone, "SATCHEL_REDIS_URL");
conformance!(cluster, "SATCHEL_REDIS_CLUSTER_URL");
