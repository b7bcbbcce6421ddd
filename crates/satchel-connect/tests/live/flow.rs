//! The scripted steps every live test shares, so the four Node modes are checked the
//! same way.

use serde_json::json;

use super::http::{request, Response, User};

/// `user` (logged in as `owner` on Node) increments twice on Rust (`on_rust_write` sees
/// each response), Node reads `n = 2`, increments once itself, and Rust reads `n = 3`.
pub async fn counter_goes_both_ways(
    user: &mut User,
    node: u16,
    rust: u16,
    owner: &str,
    on_rust_write: impl Fn(&Response),
) {
    for n in 1..=2 {
        let res = user.send(rust, "POST", "/incr").await;
        assert_eq!(
            (res.status, res.json()),
            (200, json!({"n": n})),
            "Rust /incr"
        );
        on_rust_write(&res);
    }
    let res = user.send(node, "GET", "/whoami").await;
    assert_eq!(
        (res.status, res.json()),
        (200, json!({"user": owner, "n": 2})),
        "Node reads Rust's writes"
    );
    let res = user.send(node, "POST", "/incr").await;
    assert_eq!((res.status, res.json()), (200, json!({"n": 3})));
    let res = user.send(rust, "GET", "/whoami").await;
    assert_eq!(
        (res.status, res.json()),
        (200, json!({"user": owner, "n": 3})),
        "Rust reads Node's writes"
    );
}

/// Koa (on `node`) takes over a session a Rust app signed with the old key: it reads it
/// (`owner`, `n = 0`), counts to 1, and re-signs `cookie.sig` with its first key; the
/// `cookie` value itself (the session's key, `value`) stays.
pub async fn koa_reads_counts_and_resigns(
    user: &mut User,
    node: u16,
    owner: &str,
    cookie: &str,
    value: &str,
) {
    let sig = format!("{cookie}.sig");
    let signed_by_rust = user.cookie(&sig).unwrap().to_owned();
    let res = user.send(node, "GET", "/whoami").await;
    assert_eq!(
        (res.status, res.json()),
        (200, json!({"user": owner, "n": 0})),
        "Koa reads Rust's session"
    );
    let res = user.send(node, "POST", "/incr").await;
    assert_eq!((res.status, res.json()), (200, json!({"n": 1})));
    assert_ne!(user.cookie(&sig).unwrap(), signed_by_rust, "Koa re-signed");
    assert_eq!(user.cookie(cookie), Some(value));
}

/// What `/whoami` answers on Rust and on Node (in that order) to a client that sends only
/// `cookie` (a `Cookie` header).
pub async fn whoami_on_both(cookie: &str, rust: u16, node: u16) -> (u16, u16) {
    let on_rust = request(rust, "GET", "/whoami", Some(cookie)).await.status;
    (
        on_rust,
        request(node, "GET", "/whoami", Some(cookie)).await.status,
    )
}

/// A copy of `user` whose cookie `name` has one character changed (its seventh).
pub fn tampered(user: &User, name: &str) -> User {
    let mut forged = User {
        jar: user.jar.clone(),
    };
    let value = forged.jar.get_mut(name).expect("the cookie to tamper with");
    let c = if value.as_bytes()[6] == b'A' {
        "B"
    } else {
        "A"
    };
    value.replace_range(6..7, c);
    forged
}
