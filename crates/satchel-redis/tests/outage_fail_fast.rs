//! Issue 19 item 4, end to end: with a long command timeout (10 s), Redis is killed
//! (SIGKILL) under a running app. Once the first request has failed, requests answer 503
//! at once instead of each waiting for the timeout: only the engine's probe (one request
//! at a time) waits for Redis. Redis is then restarted on the same port and the same app
//! recovers by itself. Uses a redis-server child process this test starts and kills.

mod common;

use std::time::{Duration, Instant};

use axum::{routing::get, Router};
use http::{header, Request, StatusCode};
use satchel::SessionConfig;
use satchel_axum::{Error, Session, SessionLayer};
use satchel_redis::{RedisConfig, RedisStore};
use tower::ServiceExt;

/// The store's own bound on each command and connection attempt.
const TIMEOUT: Duration = Duration::from_secs(10);
/// "Fast": far below `TIMEOUT`, generous for a loaded machine.
const FAST: Duration = Duration::from_secs(2);

async fn count(session: Session) -> Result<String, Error> {
    let n: u64 = session.get("n").await?.unwrap_or(0);
    session.insert("n", &(n + 1))?;
    Ok(format!("{}", n + 1))
}

async fn call(app: &Router, cookie: Option<&str>) -> (StatusCode, Option<String>, Duration) {
    let started = Instant::now();
    let mut req = Request::get("/count");
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
    (resp.status(), set, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_during_an_outage_do_not_wait_for_the_command_timeout() {
    let Some(mut server) = common::RedisChild::start() else {
        return;
    };
    let config = RedisConfig {
        connect_timeout: TIMEOUT,
        command_timeout: TIMEOUT,
        ..RedisConfig::with_prefix(common::prefix())
    };
    let store = RedisStore::connect(&server.url(), config)
        .await
        .expect("connect");
    // The engine's default configuration: the circuit breaker is on.
    let app = Router::new()
        .route("/count", get(count))
        .layer(SessionLayer::new(store, SessionConfig::default()));
    let (status, set, _) = call(&app, None).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = set.expect("session cookie");

    server.kill();
    // The first request is how the engine learns of the outage.
    let (status, set, took) = call(&app, Some(&cookie)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(set.is_none());
    assert!(took < TIMEOUT + FAST, "first failure took {took:?}");

    // Then waves of concurrent requests over a few seconds, as real traffic would come.
    let mut requests = Vec::new();
    for _wave in 0..5 {
        for _ in 0..8 {
            let app = app.clone();
            let cookie = cookie.clone();
            requests.push(tokio::spawn(async move { call(&app, Some(&cookie)).await }));
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let mut slow = Vec::new();
    for request in requests {
        let (status, set, took) = request.await.expect("request task");
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "while Redis is down"
        );
        assert!(set.is_none(), "no Set-Cookie on a failed request");
        if took >= FAST {
            slow.push(took);
        }
    }
    // Without the breaker, about half of these wait for the client's reconnection
    // attempts (2-2.5 s here) or the 10 s timeout. With it, only the probe (one request
    // at a time) may wait, and the waves (about 2 s) are shorter than one probe's wait.
    assert!(
        slow.len() <= 1,
        "{} of 40 requests waited for Redis (>= {FAST:?}): {slow:?}",
        slow.len()
    );

    server.restart();
    // Redis restarted empty: the old session is gone, so the first success starts anew.
    let deadline = Instant::now() + TIMEOUT * 3;
    let status = loop {
        let (status, _, _) = call(&app, Some(&cookie)).await;
        if status == StatusCode::OK || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        status,
        StatusCode::OK,
        "the app must recover without a restart"
    );
    let (status, set, _) = call(&app, None).await;
    assert_eq!(status, StatusCode::OK);
    let fresh = set.expect("cookie");
    let (status, _, took) = call(&app, Some(&fresh)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(took < FAST, "closed again: {took:?}");
}
