//! Redis goes down and comes back under a running app: requests that need the session
//! fail fast with 503 (no hang, no panic), requests that don't still succeed, and once
//! Redis is back the same store recovers by itself. Uses a redis-server child process
//! this test starts, kills and restarts on the same port.

mod common;

use std::time::{Duration, Instant};

use axum::{routing::get, Router};
use http::{header, Request, StatusCode};
use satchel::SessionConfig;
use satchel_axum::{Error, Session, SessionLayer};
use satchel_redis::{NearCacheConfig, RedisConfig, RedisStore};
use tower::ServiceExt;

async fn count(session: Session) -> Result<String, Error> {
    let n: u64 = session.get("n").await?.unwrap_or(0);
    session.insert("n", &(n + 1))?;
    Ok(format!("{}", n + 1))
}

async fn plain() -> &'static str {
    "no session here"
}

async fn call(app: &Router, path: &str, cookie: Option<&str>) -> (StatusCode, Option<String>) {
    let mut req = Request::get(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let resp = app
        .clone()
        .oneshot(req.body(axum::body::Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let set = resp
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    (resp.status(), set)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_fails_fast_and_recovers() {
    outage(None).await;
}

/// The same with the near cache: its tracking connection reconnects by itself too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_fails_fast_and_recovers_with_the_near_cache() {
    outage(Some(NearCacheConfig::default())).await;
}

async fn outage(near_cache: Option<NearCacheConfig>) {
    let Some(mut server) = common::RedisChild::start() else {
        return;
    };
    let timeout = Duration::from_millis(500);
    let config = RedisConfig {
        connect_timeout: timeout,
        command_timeout: timeout,
        near_cache,
        ..RedisConfig::default()
    };
    let store = RedisStore::connect(&server.url(), config)
        .await
        .expect("connect");
    let app = Router::new()
        .route("/count", get(count))
        .route("/plain", get(plain))
        .layer(SessionLayer::new(store, SessionConfig::default()));

    let (status, set) = call(&app, "/count", None).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = set.expect("session cookie");
    assert_eq!(call(&app, "/count", Some(&cookie)).await.0, StatusCode::OK);

    server.kill();
    for _ in 0..3 {
        let started = Instant::now();
        let (status, set) = call(&app, "/count", Some(&cookie)).await;
        let took = started.elapsed();
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "session route while down"
        );
        assert!(set.is_none(), "no Set-Cookie on a failed request");
        assert!(
            took < timeout * 3,
            "failed in {took:?}; must fail within the command timeout"
        );
        let (status, _) = call(&app, "/plain", Some(&cookie)).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "a route without session works while down"
        );
    }

    server.restart();
    // Redis restarted empty (no persistence): the old session is gone, so the first
    // successful request starts a new one. Recovery is by itself, within a few seconds.
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        let (status, _) = call(&app, "/count", Some(&cookie)).await;
        if status == StatusCode::OK || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        status,
        StatusCode::OK,
        "the store must recover without a restart"
    );
    let (status, set) = call(&app, "/count", None).await;
    assert_eq!(status, StatusCode::OK);
    let fresh = set.expect("cookie");
    assert_eq!(call(&app, "/count", Some(&fresh)).await.0, StatusCode::OK);
}
