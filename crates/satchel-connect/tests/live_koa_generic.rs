//! Live interop with koa-generic-session + koa-redis (the seed's Koa + Redis stack): the
//! real Koa app (`tests/interop/koa-generic-app.mjs`: koa 3, koa-generic-session 2.3.1
//! and koa-redis 4.0.1 from the repo's package-lock) and a satchel app (`KoaGenericIds`
//! with `KoaGenericRedisStore`) share one Redis under a unique key prefix; one scripted user
//! with one cookie jar moves between them, in both directions. Needs Node and Redis
//! (`SATCHEL_REDIS_URL`); skipped loudly without them, failed under `CI=true`.

#![allow(clippy::unwrap_used)]

mod live;
mod redis_env;

use live::http::User;
use live::node::{ensure_packages, NodeApp};
use live::{flow, satchel_app};
use serde_json::json;

const COOKIE: &str = "koa.sid";

/// The user's sid (the `koa.sid` cookie): 32 base64url characters.
fn sid(user: &User) -> String {
    let sid = user.cookie(COOKIE).expect("koa.sid in the jar").to_owned();
    assert!(satchel_connect::is_express_id(sid.as_bytes()), "{sid}");
    sid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_on_koa_count_on_rust_logout_on_rust() {
    if !ensure_packages() {
        return;
    }
    let Some(env) = redis_env::Env::new("live_koa_generic_login").await else {
        return;
    };
    let node = NodeApp::koa_generic("key1,key2", &env.url, &env.prefix).await;
    let rust = satchel_app::start_koa_generic(&["key1", "key2"], &env.url, &env.prefix).await;
    let koa = node.port;
    let mut user = User::default();

    let res = user.send(koa, "POST", "/login?user=alice").await;
    assert_eq!((res.status, res.json()), (200, json!({"user": "alice"})));
    let sid = sid(&user);
    let key = format!("{}{sid}", env.prefix);
    let stored = env.get(&key).await.expect("koa-redis stored prefix + sid");
    assert_eq!(
        stored,
        r#"{"cookie":{"maxAge":3600000,"httpOnly":true,"path":"/","overwrite":true,"signed":true},"user":"alice"}"#
    );
    assert!(
        (3599..=3600).contains(&env.ttl(&key).await),
        "cookie.maxAge"
    );

    flow::counter_goes_both_ways(&mut user, koa, rust, "alice", |_| {}).await;
    assert_eq!(
        user.cookie(COOKIE),
        Some(sid.as_str()),
        "same sid throughout"
    );
    let stored = env.get(&key).await.expect("record");
    assert!(
        stored.starts_with(r#"{"cookie":{"maxAge":3600000,"httpOnly":true,"path":"/","overwrite":true,"signed":true,"satchel":{"#)
            && stored.ends_with(r#"},"user":"alice","n":3}"#),
        "Koa kept satchel's member and wrote n = 3: {stored}"
    );

    // A forged sid (valid shape, another's signature) is no session on either side.
    let sig = user.cookie("koa.sid.sig").unwrap().to_owned();
    let forged = format!("{COOKIE}=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; koa.sid.sig={sig}");
    assert_eq!(flow::whoami_on_both(&forged, rust, koa).await, (401, 401));

    let old = format!("{COOKIE}={sid}; koa.sid.sig={sig}");
    let res = user.send(rust, "POST", "/logout").await;
    assert_eq!(res.status, 200);
    assert_eq!(user.cookie(COOKIE), None, "Rust cleared the cookie");
    assert_eq!(env.get(&key).await, None, "the record is gone");
    assert_eq!(
        user.send(koa, "GET", "/whoami").await.status,
        401,
        "logged out on Koa"
    );
    // A client that kept the old cookies is logged out on both sides, and stays so.
    assert_eq!(flow::whoami_on_both(&old, rust, koa).await, (401, 401));
    assert_eq!(env.get(&key).await, None, "nothing revived it");
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_on_rust_count_on_koa_logout_on_koa() {
    if !ensure_packages() {
        return;
    }
    let Some(env) = redis_env::Env::new("live_koa_generic_rust").await else {
        return;
    };
    // Koa verifies the old key2, which the first Rust app signs with, and re-signs with
    // key1, which the second Rust app (after the rotation) verifies.
    let node = NodeApp::koa_generic("key1,key2", &env.url, &env.prefix).await;
    let old = satchel_app::start_koa_generic(&["key2"], &env.url, &env.prefix).await;
    let rust = satchel_app::start_koa_generic(&["key1", "key2"], &env.url, &env.prefix).await;
    let mut user = User::default();

    let res = user.send(old, "POST", "/login?user=bob").await;
    assert_eq!((res.status, res.json()), (200, json!({"user": "bob"})));
    let sid = sid(&user);
    let key = format!("{}{sid}", env.prefix);
    let stored = env.get(&key).await.expect("Rust stored prefix + sid");
    assert!(
        stored.starts_with(r#"{"cookie":{"httpOnly":true,"path":"/","overwrite":true,"signed":true,"maxAge":3600000,"satchel":{"#)
            && stored.ends_with(r#"},"user":"bob"}"#),
        "{stored}"
    );

    flow::koa_reads_counts_and_resigns(&mut user, node.port, "bob", COOKIE, &sid).await;
    for n in 2..=3 {
        let res = user.send(rust, "POST", "/incr").await;
        assert_eq!(
            (res.status, res.json()),
            (200, json!({"n": n})),
            "Rust counts on"
        );
    }
    let res = user.send(node.port, "GET", "/whoami").await;
    assert_eq!(
        (res.status, res.json()),
        (200, json!({"user": "bob", "n": 3})),
        "Koa reads Rust's writes"
    );
    // Logging out on Koa ends it for Rust too.
    let res = user.send(node.port, "POST", "/logout").await;
    assert_eq!(res.status, 200);
    assert_eq!(env.get(&key).await, None);
    assert_eq!(
        user.send(rust, "GET", "/whoami").await.status,
        401,
        "logged out on Rust"
    );
    drop(node);
}
