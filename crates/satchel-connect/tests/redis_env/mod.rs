//! Where the tests' Redis is (`SATCHEL_REDIS_URL`, else `redis://127.0.0.1:6379`), a key
//! prefix of its own for each test, and removing that test's keys when it ends.
//!
//! Without Redis a test is skipped with a loud notice; under `CI=true` it fails instead:
//! CI must never pass by skipping.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use satchel::{Engine, SessionConfig};
use satchel_connect::{ConnectRedisOptions, ConnectRedisStore, ExpressIds};

/// The Redis URL the tests use.
pub fn url() -> String {
    std::env::var("SATCHEL_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

/// Whether this run is CI, where nothing may be skipped.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Writes straight to stderr: libtest captures `eprintln!` of passing tests, and a skip
/// must be seen.
pub fn loud(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "\n*** {msg} ***\n");
}

/// One test's corner of Redis: its URL and key prefix. Dropping it deletes every key
/// under the prefix.
pub struct Env {
    pub url: String,
    pub prefix: String,
}

impl Env {
    /// A fresh prefix for test `name`, or `None` (after a loud skip notice) when Redis is
    /// not reachable; under `CI=true` that is a test failure instead.
    pub async fn new(name: &str) -> Option<Env> {
        let url = url();
        let reachable = match redis::Client::open(url.as_str()) {
            Ok(client) => tokio::time::timeout(
                std::time::Duration::from_secs(2),
                client.get_multiplexed_async_connection(),
            )
            .await
            .is_ok_and(|c| c.is_ok()),
            Err(_) => false,
        };
        if !reachable {
            let msg = format!(
                "Redis is not reachable at {url} (set SATCHEL_REDIS_URL, or start it with `eval \"$(scripts/services start redis)\"`)"
            );
            assert!(!ci(), "{msg}");
            loud(&format!("SKIPPED: {msg}"));
            return None;
        }
        Some(Env {
            url,
            prefix: format!(
                "satchel-connect-test:{name}:{:016x}:",
                rand::random::<u64>()
            ),
        })
    }

    /// Default options on this test's prefix.
    pub fn options(&self) -> ConnectRedisOptions {
        ConnectRedisOptions::with_prefix(self.prefix.clone())
    }

    /// A store on this test's prefix with `options` (its prefix is replaced).
    pub async fn store(&self, options: ConnectRedisOptions) -> ConnectRedisStore {
        let options = ConnectRedisOptions {
            prefix: self.prefix.clone(),
            ..options
        };
        ConnectRedisStore::connect(&self.url, options)
            .await
            .expect("connect to Redis")
    }

    /// An engine as an Express app's: cookie `connect.sid` signed with `secrets`, on this
    /// test's store, and its id format.
    pub async fn express_engine(&self, secrets: &[String]) -> (Engine, ExpressIds) {
        let store = self.store(self.options()).await;
        let config = SessionConfig::builder()
            .cookie_name("connect.sid")
            .dangerous_insecure_cookies()
            .build()
            .unwrap();
        let ids = ExpressIds::new(secrets.to_vec()).unwrap();
        (Engine::with_id_format(store, config, ids.clone()), ids)
    }

    /// A plain connection, to seed and inspect records the way Node would see them.
    pub async fn raw(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .expect("connect to Redis")
    }

    /// The raw value under `key` (a full Redis key).
    pub async fn get(&self, key: &str) -> Option<String> {
        redis::cmd("GET")
            .arg(key)
            .query_async(&mut self.raw().await)
            .await
            .unwrap()
    }

    /// `SET key value EX ttl`, as connect-redis writes.
    pub async fn set(&self, key: &str, value: &str, ttl: u64) {
        let () = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("EX")
            .arg(ttl)
            .query_async(&mut self.raw().await)
            .await
            .unwrap();
    }

    /// `TTL key` in seconds (-2: no key, -1: no TTL).
    pub async fn ttl(&self, key: &str) -> i64 {
        redis::cmd("TTL")
            .arg(key)
            .query_async(&mut self.raw().await)
            .await
            .unwrap()
    }

    /// Every key under this test's prefix.
    pub fn keys(&self) -> Vec<String> {
        let Ok(mut conn) = redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection())
        else {
            return Vec::new();
        };
        let pattern = format!("{}*", self.prefix);
        let mut keys: Vec<String> = Vec::new();
        let mut cursor = 0u64;
        loop {
            let reply: redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query(&mut conn);
            let Ok((next, batch)) = reply else { break };
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let keys = self.keys();
        if keys.is_empty() {
            return;
        }
        if let Ok(mut conn) =
            redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection())
        {
            let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(&keys).query(&mut conn);
        }
    }
}
