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

/// The harness for `var`'s Redis, or `None` (a loud skip; a failure under `CI=true`)
/// when the variable is not set.
async fn on(var: &'static str) -> Option<Redis> {
    common::url(var).map(|_| Redis(var))
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
