//! Live interop: the real Express app (`tests/interop/express-app.mjs`: express-session
//! 1.19 + connect-redis from the repo's package-lock) and a satchel app (`ExpressIds` +
//! `ConnectRedisStore` behind `satchel_axum::SessionLayer`) share one Redis and one key
//! prefix; one scripted user with one cookie jar moves between them.
//!
//! Needs Node, npm (only when `tests/interop/node_modules` is missing: `npm ci` runs
//! first) and Redis (`SATCHEL_REDIS_URL`, default `redis://127.0.0.1:6379`). Without them
//! the tests are skipped loudly; under `CI=true` they fail.

#![allow(clippy::unwrap_used)]

mod live;
mod redis_env;

use live::http::User;
use live::node::{ensure_packages, NodeApp};
use live::{flow, satchel_app};
use satchel_connect::express;
use serde_json::json;

const COOKIE: &str = "connect.sid";

/// Both apps on this test's prefix, with a secret list of its own (new secret first, an
/// old one still verifying, as during a rotation).
async fn apps(env: &redis_env::Env) -> (NodeApp, u16, Vec<String>) {
    let secrets = vec![
        format!("live-{:016x}", rand::random::<u64>()),
        "old keyboard cat".to_owned(),
    ];
    let node = NodeApp::express(&secrets.join(","), &env.url, &env.prefix).await;
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let rust = satchel_app::start(&refs, &env.url, &env.prefix).await;
    (node, rust, secrets)
}

/// The express-session id in the user's `connect.sid` cookie (checked with the secrets,
/// as Express checks it).
fn sid(user: &User, secrets: &[String]) -> String {
    let header = format!(
        "{COOKIE}={}",
        user.cookie(COOKIE).expect("connect.sid in the jar")
    );
    express::session_id_from_header(&header, COOKIE, secrets).expect("a valid signed cookie")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn express_login_is_shared_with_rust_until_rust_logs_out() {
    if !ensure_packages() {
        return;
    }
    let Some(env) = redis_env::Env::new("live_express_login").await else {
        return;
    };
    let (node, rust, secrets) = apps(&env).await;
    let express = node.port;
    let mut user = User::default();

    let res = user.send(express, "POST", "/login?user=alice").await;
    assert_eq!((res.status, res.json()), (200, json!({"user": "alice"})));
    let id = sid(&user, &secrets);
    let key = format!("{}{id}", env.prefix);
    assert!(env.get(&key).await.is_some(), "Express stored sess:<id>");

    // Rust increments twice in Express's session, under Express's cookie; Express sees
    // both increments and the login, and Rust sees Express's.
    flow::counter_goes_both_ways(&mut user, express, rust, "alice", |_| {}).await;
    assert_eq!(sid(&user, &secrets), id, "same session, same id");

    // Logging out on Rust logs out on Express.
    let old_cookie = format!("{COOKIE}={}", user.cookie(COOKIE).unwrap());
    let res = user.send(rust, "POST", "/logout").await;
    assert_eq!(res.status, 200);
    assert_eq!(user.cookie(COOKIE), None, "Rust cleared the cookie");
    let res = user.send(express, "GET", "/whoami").await;
    assert_eq!(res.status, 401, "logged out on Express");
    assert_eq!(env.get(&key).await, None, "the Redis key is gone");
    // Even a client that kept the old cookie is logged out on both sides.
    let on_both = flow::whoami_on_both(&old_cookie, rust, express).await;
    assert_eq!(on_both, (401, 401));
    assert_eq!(env.get(&key).await, None, "and nothing revived it");
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_rust_creates_is_accepted_by_express() {
    if !ensure_packages() {
        return;
    }
    let Some(env) = redis_env::Env::new("live_rust_login").await else {
        return;
    };
    let (node, rust, secrets) = apps(&env).await;
    let express = node.port;
    let mut user = User::default();

    let res = user.send(rust, "POST", "/login?user=bob").await;
    assert_eq!((res.status, res.json()), (200, json!({"user": "bob"})));
    let res = user.send(rust, "POST", "/incr").await;
    assert_eq!(res.json(), json!({"n": 1}));
    let id = sid(&user, &secrets);
    let key = format!("{}{id}", env.prefix);

    // Express accepts Rust's cookie and record: req.session.user is the satchel owner.
    let res = user.send(express, "GET", "/whoami").await;
    assert_eq!(
        (res.status, res.json()),
        (200, json!({"user": "bob", "n": 1}))
    );
    let res = user.send(express, "POST", "/incr").await;
    assert_eq!(res.json(), json!({"n": 2}));
    let res = user.send(rust, "GET", "/whoami").await;
    assert_eq!(
        (res.status, res.json()),
        (200, json!({"user": "bob", "n": 2}))
    );

    // A cookie signed with the old secret (still listed on both sides) works on both.
    let old =
        satchel_connect::uri::encode_uri_component(&express::cookie_value(&id, "old keyboard cat"));
    let old_cookie = format!("{COOKIE}={old}");
    let on_both = flow::whoami_on_both(&old_cookie, rust, express).await;
    assert_eq!(on_both, (200, 200));

    // Express's logout (destroy) ends it for Rust too.
    let res = user.send(express, "POST", "/logout").await;
    assert_eq!(res.status, 200);
    let res = user.send(rust, "GET", "/whoami").await;
    assert_eq!(res.status, 401, "logged out on Rust");
    assert_eq!(env.get(&key).await, None);
    drop(node);
}
