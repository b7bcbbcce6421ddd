//! Live interop with koa-session in external-store mode: the real Koa app
//! (`tests/interop/koa-redis-app.mjs`: koa 3 + koa-session 7 + koa-redis 4.0.1 from the
//! repo's package-lock) and a satchel app (`KoaIds` + `KoaRedisStore`) share one Redis;
//! one scripted user with one cookie jar moves between them.
//!
//! koa-redis keys records by the bare UUID (no prefix), so the test deletes every key it
//! saw when it ends (even on failure) instead of a prefix. Needs Node and Redis
//! (`SATCHEL_REDIS_URL`); skipped loudly without them, failed under `CI=true`.

#![allow(clippy::unwrap_used)]

mod live;
mod redis_env;

use std::sync::Mutex;

use live::http::User;
use live::node::{ensure_packages, NodeApp};
use live::{flow, satchel_app};
use serde_json::json;

const COOKIE: &str = "koa.sess";

/// The Redis keys (UUIDs) a test saw; deleted on drop.
struct Seen<'a> {
    env: &'a redis_env::Env,
    keys: Mutex<Vec<String>>,
}

impl<'a> Seen<'a> {
    fn new(env: &'a redis_env::Env) -> Self {
        Seen {
            env,
            keys: Mutex::new(Vec::new()),
        }
    }

    /// The user's external key (the `koa.sess` cookie), remembered for clean-up.
    fn key(&self, user: &User) -> String {
        let key = user.cookie(COOKIE).expect("koa.sess in the jar").to_owned();
        assert!(
            satchel_connect::koa::parse_uuid(key.as_bytes()).is_some(),
            "{key}"
        );
        self.keys.lock().unwrap().push(key.clone());
        key
    }
}

impl Drop for Seen<'_> {
    fn drop(&mut self) {
        let keys = std::mem::take(&mut *self.keys.lock().unwrap());
        if keys.is_empty() {
            return;
        }
        if let Ok(mut conn) =
            redis::Client::open(self.env.url.as_str()).and_then(|c| c.get_connection())
        {
            let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(&keys).query(&mut conn);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn koa_redis_login_is_shared_with_rust_until_rust_logs_out() {
    if !ensure_packages() {
        return;
    }
    let Some(env) = redis_env::Env::new("live_koa_redis_login").await else {
        return;
    };
    let seen = Seen::new(&env);
    let node = NodeApp::koa_redis("key1,key2", &env.url).await;
    let rust = satchel_app::start_koa_redis(&["key1", "key2"], &env.url).await;
    let koa = node.port;
    let mut user = User::default();

    let res = user.send(koa, "POST", "/login?user=alice").await;
    assert_eq!((res.status, res.json()), (200, json!({"user": "alice"})));
    let key = seen.key(&user);
    let stored = env.get(&key).await.expect("koa-redis stored the UUID key");
    assert!(
        stored.starts_with(r#"{"user":"alice","_expire":"#),
        "{stored}"
    );
    assert!(
        (3600..=3610).contains(&env.ttl(&key).await),
        "maxAge + 10 s"
    );

    flow::counter_goes_both_ways(&mut user, koa, rust, "alice", |_| {}).await;
    assert_eq!(user.cookie(COOKIE), Some(key.as_str()), "same session key");

    // A forged key (valid UUID, signature of another) is no session on either side.
    let sig = user.cookie("koa.sess.sig").unwrap().to_owned();
    let forged = format!("{COOKIE}=00000000-0000-4000-8000-000000000000; koa.sess.sig={sig}");
    assert_eq!(flow::whoami_on_both(&forged, rust, koa).await, (401, 401));

    let old = format!("{COOKIE}={key}; koa.sess.sig={sig}");
    let res = user.send(rust, "POST", "/logout").await;
    assert_eq!(res.status, 200);
    assert_eq!(user.cookie(COOKIE), None, "Rust cleared the cookie");
    assert_eq!(user.send(koa, "GET", "/whoami").await.status, 401);
    assert_eq!(env.get(&key).await, None, "the Redis key is gone");
    // A client that kept the old cookies is logged out on both sides, and stays so.
    assert_eq!(flow::whoami_on_both(&old, rust, koa).await, (401, 401));
    assert_eq!(env.get(&key).await, None, "nothing revived it");
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_rust_creates_is_a_koa_redis_session() {
    if !ensure_packages() {
        return;
    }
    let Some(env) = redis_env::Env::new("live_koa_redis_rust").await else {
        return;
    };
    let seen = Seen::new(&env);
    // Koa still verifies with the old key2, which the first Rust app signs with; Koa
    // re-signs with key1, which the second Rust app (after the rotation) verifies.
    let node = NodeApp::koa_redis("key1,key2", &env.url).await;
    let old = satchel_app::start_koa_redis(&["key2"], &env.url).await;
    let rust = satchel_app::start_koa_redis(&["key1", "key2"], &env.url).await;
    let mut user = User::default();

    let res = user.send(old, "POST", "/login?user=bob").await;
    assert_eq!((res.status, res.json()), (200, json!({"user": "bob"})));
    let key = seen.key(&user);
    let stored = env.get(&key).await.expect("Rust stored the UUID key");
    assert!(
        stored.starts_with(r#"{"user":"bob","_expire":"#),
        "{stored}"
    );

    flow::koa_reads_counts_and_resigns(&mut user, node.port, "bob", COOKIE, &key).await;
    let res = user.send(rust, "GET", "/whoami").await;
    assert_eq!(
        (res.status, res.json()),
        (200, json!({"user": "bob", "n": 1})),
        "Rust reads Koa's write"
    );
    // Logging out on Koa ends it for Rust too.
    let res = user.send(node.port, "POST", "/logout").await;
    assert_eq!(res.status, 200);
    assert_eq!(env.get(&key).await, None);
    assert_eq!(user.send(rust, "GET", "/whoami").await.status, 401);
    drop(node);
}
