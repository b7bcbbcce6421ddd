//! SEC-44: a Redis that runs out of memory. With an evicting `maxmemory-policy`, users
//! whose sessions Redis evicted become anonymous (never someone else, never an error),
//! and a policy that can evict an owner index is a warning at connect. Uses a
//! redis-server child with a tiny `maxmemory` (set above what the empty server uses).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http::{header, Request};
use satchel::SessionConfig;
use satchel_axum::{Error, Session, SessionLayer};
use satchel_redis::{RedisConfig, RedisStore};
use tower::ServiceExt;
use tracing_subscriber::util::SubscriberInitExt as _;

async fn login(session: Session, Path(user): Path<String>) -> Result<&'static str, Error> {
    session.login(user)?;
    // Some weight, so a few thousand sessions overflow a 1 MB budget.
    session.insert("pad", &"x".repeat(200))?;
    Ok("ok")
}

async fn whoami(session: Session) -> Result<Response, Error> {
    Ok(match session.owner().await? {
        Some(u) => u.into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    })
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    cookie: Option<&str>,
) -> (StatusCode, Option<String>, String) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let resp = app
        .clone()
        .oneshot(req.body(axum::body::Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = resp.status();
    let set = resp
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, set, String::from_utf8_lossy(&body).into_owned())
}

/// Starts a server with `policy` and a `maxmemory` 1 MB above what it uses empty.
async fn server(policy: &str) -> Option<common::RedisChild> {
    let server =
        common::RedisChild::start_with(&["--maxmemory-policy".to_owned(), policy.to_owned()])?;
    let client = redis::Client::open(server.url()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await
        .expect("info");
    let used: u64 = info
        .lines()
        .find_map(|l| l.trim_end().strip_prefix("used_memory:"))
        .and_then(|v| v.parse().ok())
        .expect("used_memory");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(used + (1 << 20))
        .query_async(&mut conn)
        .await
        .expect("config set maxmemory");
    Some(server)
}

/// Logs in 6,000 users (about 2 MB of sessions into a 1 MB budget), then asks each who
/// it is: every answer is itself or anonymous, never another user, never an error, and
/// the first users (evicted first by `volatile-ttl`, their deadlines being the earliest)
/// include anonymous ones.
async fn evicted_users_become_anonymous(policy: &str) {
    let Some(server) = server(policy).await else {
        return;
    };
    let store = RedisStore::connect(&server.url(), RedisConfig::with_prefix(common::prefix()))
        .await
        .expect("connect");
    let config = SessionConfig::builder()
        .dangerous_insecure_cookies()
        .build()
        .expect("config");
    let app = Router::new()
        .route("/login/{user}", post(login))
        .route("/whoami", get(whoami))
        .layer(SessionLayer::new(store, config));
    let mut cookies = Vec::new();
    for i in 0..6000 {
        let (status, set, _) = call(&app, "POST", &format!("/login/user{i}"), None).await;
        assert_eq!(status, StatusCode::OK, "login {i} under {policy}");
        cookies.push(set.expect("session cookie"));
    }
    let (mut anonymous, mut themselves) = (0, 0);
    for (i, cookie) in cookies.iter().enumerate() {
        let (status, _, body) = call(&app, "GET", "/whoami", Some(cookie)).await;
        match status {
            StatusCode::OK => {
                assert_eq!(body, format!("user{i}"), "user{i} got someone else's session");
                themselves += 1;
            }
            StatusCode::UNAUTHORIZED => anonymous += 1,
            other => panic!("user{i} got {other} under {policy}: an evicted session must be anonymous, not an error"),
        }
    }
    assert!(
        anonymous > 0,
        "nothing was evicted under {policy}: the budget is too big for the test"
    );
    assert!(themselves > 0, "everyone was evicted under {policy}");
}

#[tokio::test]
async fn volatile_ttl_evicts_to_anonymous() {
    evicted_users_become_anonymous("volatile-ttl").await;
}

#[tokio::test]
async fn volatile_lru_evicts_to_anonymous() {
    evicted_users_become_anonymous("volatile-lru").await;
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buf {
    type Writer = Buf;
    fn make_writer(&'a self) -> Buf {
        self.clone()
    }
}

async fn connect_logs(policy: &str) -> Option<String> {
    let server =
        common::RedisChild::start_with(&["--maxmemory-policy".to_owned(), policy.to_owned()])?;
    let buf = Buf::default();
    let _guard = tracing_subscriber::fmt()
        .with_writer(buf.clone())
        .with_ansi(false)
        .finish()
        .set_default();
    let _store = RedisStore::connect(&server.url(), RedisConfig::with_prefix(common::prefix()))
        .await
        .expect("connect");
    let logs = String::from_utf8_lossy(&buf.0.lock().expect("lock")).into_owned();
    Some(logs)
}

#[tokio::test]
async fn a_risky_policy_is_a_warning_at_connect() {
    let Some(logs) = connect_logs("volatile-lru").await else {
        return;
    };
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("maxmemory-policy is risky"), "{logs}");
    assert!(logs.contains("volatile-lru"), "{logs}");
}

#[tokio::test]
async fn safe_policies_connect_quietly() {
    for policy in ["noeviction", "volatile-ttl"] {
        let Some(logs) = connect_logs(policy).await else {
            return;
        };
        assert!(!logs.contains("maxmemory-policy"), "{policy}: {logs}");
    }
}
