//! The layer's behaviour over real HTTP: headers, fail-closed store errors, hostile
//! cookies handled without a store call, no write after a handler failure.

mod common;

use std::time::Duration;

use common::{app, serve, Http};
use http::{Method, StatusCode};
use satchel::{Instrumented, MemoryStore, SessionConfig, SessionId};
use satchel_axum::SessionLayer;

async fn setup() -> (Http, Instrumented<MemoryStore>) {
    let store = Instrumented::new(MemoryStore::new());
    let config = SessionConfig::builder()
        .dangerous_insecure_cookies()
        .build()
        .expect("config");
    let addr = serve(app(
        SessionLayer::new(store.clone(), config),
        Duration::ZERO,
    ))
    .await;
    (Http::new(addr), store)
}

#[tokio::test]
async fn new_sessions_get_cookie_and_cache_headers() {
    let (http, _) = setup().await;
    let r = http.send(Method::POST, "/write", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let set_cookie = r.headers["set-cookie"].to_str().expect("ascii");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"));
    assert_eq!(r.headers["cache-control"], "no-store"); // SEC-38
    assert_eq!(r.headers["vary"], "Cookie");
    // A read of an existing session sets nothing but still varies on the cookie.
    let cookie = r.cookie().expect("cookie");
    let r = http.send(Method::GET, "/read", Some(&cookie)).await;
    assert!(r.headers.get("set-cookie").is_none());
    assert_eq!(r.headers["vary"], "Cookie");
    // An existing Vary is extended, not replaced.
    let r = http.send(Method::GET, "/vary", Some(&cookie)).await;
    let vary: Vec<_> = r
        .headers
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().expect("ascii"))
        .collect();
    assert_eq!(vary, ["Accept-Encoding", "Cookie"]);
}

#[tokio::test]
async fn untouched_routes_cost_nothing() {
    let (http, store) = setup().await;
    let cookie = http
        .send(Method::POST, "/write", None)
        .await
        .cookie()
        .expect("cookie");
    let before = store.calls();
    let r = http.send(Method::GET, "/plain", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers.get("vary").is_none() && r.headers.get("set-cookie").is_none());
    assert_eq!(
        store.calls(),
        before,
        "no store call for a route that ignores the session"
    );
}

#[tokio::test]
async fn store_outage_fails_closed_with_503() {
    let (http, store) = setup().await;
    let cookie = http
        .send(Method::POST, "/write", None)
        .await
        .cookie()
        .expect("cookie");
    store.fail_reads(true);
    let r = http.send(Method::GET, "/read", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers["retry-after"], "1");
    assert!(r.headers.get("set-cookie").is_none());
    assert!(
        !r.body.contains("injected"),
        "no internal detail in the body: {}",
        r.body
    );
    // Routes that do not need the session keep working during the outage.
    assert_eq!(
        http.send(Method::GET, "/plain", Some(&cookie)).await.status,
        StatusCode::OK
    );
    store.fail_reads(false);
    store.fail_writes(true);
    let r = http.send(Method::POST, "/write", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        r.headers.get("set-cookie").is_none(),
        "no cookie for a session that was not saved"
    );
    let r = http.send(Method::POST, "/write", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    store.fail_writes(false);
    // Recovered: the session still holds what was saved before the outage.
    let r = http.send(Method::GET, "/read", Some(&cookie)).await;
    assert_eq!(r.json()["n"], 1);
}

#[tokio::test]
async fn hostile_cookies_never_reach_the_store() {
    let (http, store) = setup().await;
    let a = SessionId::generate().encode();
    let b = SessionId::generate().encode();
    let long = "x".repeat(17 * 1024);
    let cases = [
        "id=".to_owned(),
        "id=short".to_owned(),
        format!("id={a}="),
        format!("id=\"{a}\""),
        format!("id={a}; id={b}"),
        format!("id={b}; id={a}"),
        format!("junk={long}; id={a}"),
        format!("id={}", a.replace(|c: char| c.is_ascii_alphabetic(), "%")),
    ];
    for cookie in &cases {
        let r = http.send(Method::GET, "/read", Some(cookie)).await;
        assert_eq!(r.status, StatusCode::OK, "{cookie:.40}");
        assert_eq!(r.json()["n"], 0);
    }
    assert_eq!(
        store.calls().total(),
        0,
        "SEC-4/SEC-13: no store call for bad cookies"
    );
}

#[tokio::test]
async fn handler_errors_save_nothing() {
    let (http, store) = setup().await;
    let cookie = http
        .send(Method::POST, "/write", None)
        .await
        .cookie()
        .expect("cookie");
    let writes = store.calls().writes();
    let r = http
        .send(Method::POST, "/write-then-fail", Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.body, "handler failed");
    assert_eq!(
        store.calls().writes(),
        writes,
        "SEC-39: a 5xx handler writes nothing"
    );
    assert_eq!(
        http.send(Method::GET, "/read", Some(&cookie)).await.json()["n"],
        1
    );
}

#[tokio::test]
async fn missing_layer_is_a_500_not_a_panic() {
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(|_s: satchel_axum::Session| async { "unreachable" }),
    );
    let addr = serve(app).await;
    let r = Http::new(addr).send(Method::GET, "/", None).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
}
