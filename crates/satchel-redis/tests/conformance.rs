//! The satchel conformance suite against standalone Redis (`SATCHEL_REDIS_URL`) and a
//! Redis Cluster (`SATCHEL_REDIS_CLUSTER_URL`, `redis+cluster://host:port,...`), and on
//! standalone again with the near cache on, on Valkey ≥ 8.1 (`SATCHEL_VALKEY_URL`),
//! where writes use `SET … IFEQ`, and through Sentinel (`SATCHEL_REDIS_SENTINEL_URL`),
//! with and without the near cache. Each test gets its own random key prefix. The renewal
//! checks run wherever the store claims renewal (all but the Cluster).

mod common;

use satchel::conformance::Harness;
use satchel::StoreKey;
use satchel_redis::{NearCacheConfig, RedisConfig, RedisStore};

/// A harness on the Redis named by the environment variable `.0`, with the near cache on
/// when `.1`.
struct Redis(&'static str, bool);

impl Harness for Redis {
    type Store = RedisStore;

    async fn store(&self) -> RedisStore {
        let url = common::url(self.0).expect("checked by the test");
        let mut config = RedisConfig::with_prefix(common::prefix());
        if self.1 {
            config.near_cache = Some(NearCacheConfig::default());
        }
        RedisStore::connect(&url, config)
            .await
            .expect("connect to Redis")
    }

    async fn corrupt(&self, store: &RedisStore, key: &StoreKey) {
        let url = common::url(self.0).expect("checked by the test");
        common::corrupt(&url, store, key).await;
        // The corruption came from another connection: its invalidation reaches a near
        // cache shortly after; a store that has caught up must see it.
        store.sync_near_cache().await.expect("sync");
    }
}

/// The harness for `var`'s Redis, or `None` (a loud skip; a failure under `CI=true`)
/// when the variable is not set.
async fn on(var: &'static str) -> Option<Redis> {
    common::url(var).map(|_| Redis(var, false))
}

mod standalone {
    async fn setup(_check: &str) -> Option<super::Redis> {
        super::on("SATCHEL_REDIS_URL").await
    }
    satchel::conformance_tests!(setup = setup);
}

mod cluster {
    async fn setup(_check: &str) -> Option<super::Redis> {
        super::on("SATCHEL_REDIS_CLUSTER_URL").await
    }
    satchel::conformance_tests!(setup = setup);
}

/// Valkey ≥ 8.1: plain writes go through `SET … IFEQ` instead of the Lua script
/// (`tests/set_ifeq.rs` checks that they really do).
mod valkey {
    async fn setup(_check: &str) -> Option<super::Redis> {
        super::on("SATCHEL_VALKEY_URL").await
    }
    satchel::conformance_tests!(setup = setup);
}

mod standalone_near_cache {
    async fn setup(_check: &str) -> Option<super::Redis> {
        common_url().map(|_| super::Redis("SATCHEL_REDIS_URL", true))
    }
    fn common_url() -> Option<String> {
        super::common::url("SATCHEL_REDIS_URL")
    }
    satchel::conformance_tests!(setup = setup);
}

/// Through Sentinel (the same scripts as standalone, on the primary the sentinels name).
mod sentinel {
    async fn setup(_check: &str) -> Option<super::Redis> {
        super::on("SATCHEL_REDIS_SENTINEL_URL").await
    }
    satchel::conformance_tests!(setup = setup);
}

/// Through Sentinel with the near cache on.
mod sentinel_near_cache {
    async fn setup(_check: &str) -> Option<super::Redis> {
        super::common::url("SATCHEL_REDIS_SENTINEL_URL")
            .map(|_| super::Redis("SATCHEL_REDIS_SENTINEL_URL", true))
    }
    satchel::conformance_tests!(setup = setup);
}
