//! Live interop with koa-session cookie mode: the real Koa app (`tests/interop/koa-app.mjs`:
//! koa 3 + koa-session from the repo's package-lock) and a satchel app (`KoaCookies` on a
//! stateless engine) read and write the same `koa.sess` / `koa.sess.sig` cookies; one
//! scripted user with one cookie jar moves between them.

#![allow(clippy::unwrap_used)]

mod live;
mod redis_env;

use live::http::User;
use live::node::{ensure_packages, NodeApp};
use live::{flow, satchel_app};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn koa_login_is_shared_with_rust_until_rust_logs_out() {
    if !ensure_packages() {
        return;
    }
    let node = NodeApp::koa("key1,key2").await;
    let rust = satchel_app::start_koa(&["key1", "key2"]).await;
    let koa = node.port;
    let mut user = User::default();

    let res = user.send(koa, "POST", "/login?user=alice").await;
    assert_eq!((res.status, res.json()), (200, json!({"user": "alice"})));
    assert!(user.cookie("koa.sess").is_some() && user.cookie("koa.sess.sig").is_some());

    flow::counter_goes_both_ways(&mut user, koa, rust, "alice", |_| {}).await;

    // A tampered value is no session on either side.
    let mut forged = flow::tampered(&user, "koa.sess");
    assert_eq!(forged.send(rust, "GET", "/whoami").await.status, 401);
    assert_eq!(forged.send(koa, "GET", "/whoami").await.status, 401);

    let res = user.send(rust, "POST", "/logout").await;
    assert_eq!(res.status, 200);
    assert!(user.jar.is_empty(), "both cookies cleared: {:?}", user.jar);
    assert_eq!(user.send(koa, "GET", "/whoami").await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_rust_creates_is_a_koa_session_and_old_keys_are_resigned() {
    if !ensure_packages() {
        return;
    }
    // Koa still knows the old key; Rust signs with a new one first.
    let node = NodeApp::koa("key1,key2").await;
    let old = satchel_app::start_koa(&["key2"]).await;
    let rotated = satchel_app::start_koa(&["key1", "key2"]).await;
    let mut user = User::default();
    let res = user.send(old, "POST", "/login?user=bob").await;
    assert_eq!(res.status, 200);
    let signed_with_key2 = user.cookie("koa.sess.sig").unwrap().to_owned();
    let res = user.send(node.port, "GET", "/whoami").await;
    assert_eq!(
        res.json(),
        json!({"user": "bob", "n": 0}),
        "Koa accepts Rust's session"
    );
    // Reading on the rotated app re-signs with key1.
    let res = user.send(rotated, "GET", "/whoami").await;
    assert_eq!(res.json(), json!({"user": "bob", "n": 0}));
    assert_ne!(user.cookie("koa.sess.sig").unwrap(), signed_with_key2);
    let res = user.send(node.port, "GET", "/whoami").await;
    assert_eq!(res.status, 200);
}
