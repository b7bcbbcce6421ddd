//! Live interop with Express's cookie-session: the real Express app
//! (`tests/interop/cookie-session-app.mjs`: express 5 + cookie-session 2.1.1 from the repo's
//! package-lock) and a satchel app (`CookieSessionCookies` on a stateless engine) read and
//! write the same `session` / `session.sig` cookies; one scripted user with one cookie jar
//! moves between them.

#![allow(clippy::unwrap_used)]

mod live;
mod redis_env;

use live::http::{Response, User};
use live::node::{ensure_packages, NodeApp};
use live::{flow, satchel_app};
use serde_json::json;

/// The `Set-Cookie` header satchel sent for `name`, if any.
fn set_cookie<'a>(res: &'a Response, name: &str) -> Option<&'a str> {
    res.set_cookies
        .iter()
        .map(String::as_str)
        .find(|h| h.starts_with(&format!("{name}=")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn express_login_is_shared_with_rust_until_rust_logs_out() {
    if !ensure_packages() {
        return;
    }
    let node = NodeApp::cookie_session("key1,key2").await;
    let rust = satchel_app::start_cookie_session(&["key1", "key2"]).await;
    let express = node.port;
    let mut user = User::default();

    let res = user.send(express, "POST", "/login?user=alice").await;
    assert_eq!((res.status, res.json()), (200, json!({"user": "alice"})));
    assert!(user.cookie("session").is_some() && user.cookie("session.sig").is_some());

    // Rust reads the Express session without rewriting it (nothing changed).
    let res = user.send(rust, "GET", "/whoami").await;
    assert_eq!(res.json(), json!({"user": "alice", "n": 0}));
    assert!(res.set_cookies.is_empty(), "{:?}", res.set_cookies);

    flow::counter_goes_both_ways(&mut user, express, rust, "alice", |res| {
        // Every re-seal is persistent for cookie-session's maxAge (one hour), counted
        // from when the request loaded the session: a slow request may see 3599 s left.
        let value = set_cookie(res, "session").expect("value cookie");
        let max_age: u64 = value
            .split("; ")
            .find_map(|attr| attr.strip_prefix("Max-Age="))
            .and_then(|v| v.parse().ok())
            .expect("Max-Age");
        assert!((3590..=3600).contains(&max_age), "{value}");
        assert!(set_cookie(res, "session.sig").is_some());
    })
    .await;

    // A tampered value is no session on either side.
    let mut forged = flow::tampered(&user, "session");
    assert_eq!(forged.send(rust, "GET", "/whoami").await.status, 401);
    assert_eq!(forged.send(express, "GET", "/whoami").await.status, 401);

    let res = user.send(rust, "POST", "/logout").await;
    assert_eq!(res.status, 200);
    assert!(user.jar.is_empty(), "both cookies cleared: {:?}", user.jar);
    assert_eq!(user.send(express, "GET", "/whoami").await.status, 401);
    assert_eq!(user.send(rust, "GET", "/whoami").await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_rust_creates_is_an_express_session_and_old_keys_are_resigned() {
    if !ensure_packages() {
        return;
    }
    // Express still knows the old key; Rust signs with a new one first.
    let node = NodeApp::cookie_session("key1,key2").await;
    let old = satchel_app::start_cookie_session(&["key2"]).await;
    let rotated = satchel_app::start_cookie_session(&["key1", "key2"]).await;
    let mut user = User::default();
    let res = user.send(old, "POST", "/login?user=bob").await;
    assert_eq!(res.status, 200);
    let signed_with_key2 = user.cookie("session.sig").unwrap().to_owned();
    let res = user.send(node.port, "GET", "/whoami").await;
    assert_eq!(
        res.json(),
        json!({"user": "bob", "n": 0}),
        "Express accepts Rust's session"
    );
    let res = user.send(node.port, "POST", "/incr").await;
    assert_eq!(res.json(), json!({"n": 1}));
    // Reading on the rotated app re-signs with key1.
    let res = user.send(rotated, "GET", "/whoami").await;
    assert_eq!(res.json(), json!({"user": "bob", "n": 1}));
    let resigned = user.cookie("session.sig").unwrap().to_owned();
    assert_ne!(resigned, signed_with_key2);
    let res = user.send(node.port, "GET", "/whoami").await;
    assert_eq!(res.status, 200);
    // Express signs with key1 too: the rotated Rust app reads it without re-signing.
    let res = user.send(node.port, "POST", "/incr").await;
    assert_eq!(res.json(), json!({"n": 2}));
    let res = user.send(rotated, "GET", "/whoami").await;
    assert_eq!(res.json(), json!({"user": "bob", "n": 2}));
    assert!(res.set_cookies.is_empty(), "{:?}", res.set_cookies);
    // Logout on Express ends it for Rust.
    let res = user.send(node.port, "POST", "/logout").await;
    assert_eq!(res.status, 200);
    assert!(user.jar.is_empty(), "{:?}", user.jar);
    assert_eq!(user.send(rotated, "GET", "/whoami").await.status, 401);
}
