//! The sealed cookie path with payloads a Node app (or a bug) could sign (issue 20):
//! koa-session and cookie-session cookies that are correctly signed but hold something
//! satchel cannot read are no session (anonymous, the cookie removed), never an error;
//! a value of another type stays in the session for the handler to judge.

use std::time::Duration;

use base64::Engine as _;
use satchel::{Engine, SessionConfig, SessionErrorKind, Stateless};
use satchel_connect::cookie_session::CookieSessionCookies;
use satchel_connect::cookies::signature;
use satchel_connect::keygrip::Keygrip;
use satchel_connect::koa::KoaCookies;

const KEY: &str = "key1";

/// Payloads that are signed but unreadable: truncated JSON, a top-level array, scalars,
/// bad UTF-8, a broken `_expire`, and not base64 at all.
fn unreadable() -> Vec<(&'static str, String)> {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    vec![
        ("truncated JSON", b64(br#"{"n":1,"_expire":"#)),
        ("a top-level array", b64(b"[1,2,3]")),
        ("null", b64(b"null")),
        ("a string", b64(br#""n""#)),
        ("invalid UTF-8", b64(b"{\"n\":\"\xff\"}")),
        ("not base64", "%%%not-base64%%%".to_owned()),
    ]
}

fn engine(cookie_name: &str, stateless: Stateless) -> Engine {
    let config = SessionConfig::builder()
        .cookie_name(cookie_name)
        .build()
        .expect("config");
    Engine::stateless(stateless, config)
}

/// The `Cookie` header of a `name` cookie holding `value`, signed as keygrip would.
fn signed(name: &str, value: &str) -> String {
    let keys = Keygrip::new([KEY]).expect("keys");
    format!(
        "{name}={value}; {name}.sig={}",
        signature(&keys, name, value)
    )
}

async fn assert_no_session(engine: &Engine, header: &str, what: &str) {
    let session = engine.begin([header.as_bytes()]);
    let n = session.get::<i64>("n").await.expect(what);
    assert_eq!(n, None, "{what}");
    let done = engine.finish(&session, 200).await;
    assert!(done.error.is_none(), "{what}: {:?}", done.error);
    assert!(
        done.set_cookies().any(|c| c.contains("Max-Age=0")),
        "{what}: the unreadable cookie is not removed"
    );
}

#[tokio::test]
async fn unreadable_koa_session_cookies_are_no_session() {
    let koa = engine(
        "koa.sess",
        Stateless::new(KoaCookies::new(Keygrip::new([KEY]).expect("keys"))),
    );
    for (shape, value) in unreadable() {
        assert_no_session(&koa, &signed("koa.sess", &value), shape).await;
    }
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for (shape, json) in [
        (
            "an unparsable _expire",
            r#"{"n":1,"_expire":"soon","_maxAge":86400000}"#,
        ),
        (
            "a user of another type",
            r#"{"n":1,"user":{"id":7},"_expire":4102444800000,"_maxAge":86400000}"#,
        ),
    ] {
        let header = signed("koa.sess", &b64(json));
        let session = koa.begin([header.as_bytes()]);
        // Either no session or a session whose odd value the handler may judge; never a
        // failed request.
        let _ = session.get::<i64>("n").await.expect(shape);
        let done = koa.finish(&session, 200).await;
        assert!(done.error.is_none(), "{shape}: {:?}", done.error);
    }
    // A `user` that is no owner name (an object, as many Koa apps keep) is data, and a
    // write keeps it (it used to be dropped on open).
    let json = r#"{"n":1,"user":{"id":7},"_expire":4102444800000,"_maxAge":86400000}"#;
    let session = koa.begin([signed("koa.sess", &b64(json)).as_bytes()]);
    let user = session
        .get::<serde_json::Value>("user")
        .await
        .expect("user");
    assert_eq!(user, Some(serde_json::json!({"id": 7})));
    session.insert("n", &2).expect("insert");
    let done = koa.finish(&session, 200).await;
    let cookie = done.set_cookie.expect("re-sealed");
    let value = cookie
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .expect("pair")
        .1;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(value)
        .expect("base64");
    let payload = String::from_utf8(payload).expect("utf-8");
    assert!(payload.contains(r#""user":{"id":7}"#), "{payload}");
}

#[tokio::test]
async fn unreadable_cookie_session_cookies_are_no_session() {
    let keys = Keygrip::new([KEY]).expect("keys");
    let express = engine(
        "session",
        Stateless::new(CookieSessionCookies::new(keys, Duration::from_secs(3600))),
    );
    for (shape, value) in unreadable() {
        assert_no_session(&express, &signed("session", &value), shape).await;
    }
}

/// A readable payload with a value of another type: the session opens; reading the value
/// as an integer is the handler's `Deserialize` error (the demo treats it as absent).
#[tokio::test]
async fn odd_typed_values_open_and_fail_only_the_typed_read() {
    let koa = engine(
        "koa.sess",
        Stateless::new(KoaCookies::new(Keygrip::new([KEY]).expect("keys"))),
    );
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for odd in [r#""x""#, "1e308"] {
        let json = format!(r#"{{"n":{odd},"m":2,"_expire":4102444800000,"_maxAge":86400000}}"#);
        let header = signed("koa.sess", &b64(&json));
        let session = koa.begin([header.as_bytes()]);
        let err = session.get::<i64>("n").await.expect_err(odd);
        assert_eq!(err.kind(), SessionErrorKind::Deserialize, "{odd}");
        assert_eq!(session.get::<i64>("m").await.expect(odd), Some(2));
        let done = koa.finish(&session, 200).await;
        assert!(done.error.is_none(), "{odd}: {:?}", done.error);
    }
}
