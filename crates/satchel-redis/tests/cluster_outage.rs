//! A Cluster goes down and comes back under a running app (a private 3-primary Cluster
//! this test starts on free loopback ports): session routes answer 503 fast, routes
//! without session answer 200, and after the nodes restart (same ports, same node
//! configs, so the Cluster re-forms) the same app serves sessions again.

mod common;

use std::time::{Duration, Instant};

use axum::{routing::get, Router};
use http::{header, Request, StatusCode};
use satchel::SessionConfig;
use satchel_axum::{Error, Session, SessionLayer};
use satchel_redis::{RedisConfig, RedisStore};
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

fn cluster_ok(port: u16) -> bool {
    std::process::Command::new("redis-cli")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "cluster",
            "info",
        ])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_node_outage_fails_fast_and_recovers() {
    let dir = std::env::temp_dir().join(format!("satchel-cluster-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut nodes = Vec::new();
    for i in 0..3 {
        let extra: Vec<String> = [
            "--cluster-enabled",
            "yes",
            "--cluster-node-timeout",
            "1000",
            "--cluster-config-file",
            &format!("nodes-{i}.conf"),
            "--dir",
            dir.to_str().expect("utf-8 temp dir"),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let Some(node) = common::RedisChild::start_with(&extra) else {
            return;
        };
        nodes.push(node);
    }
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let created = std::process::Command::new("redis-cli")
        .arg("--cluster")
        .arg("create")
        .args(&addrs)
        .arg("--cluster-yes")
        .output()
        .expect("redis-cli --cluster create");
    assert!(created.status.success(), "cluster create failed");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !nodes.iter().all(|n| cluster_ok(n.port)) {
        assert!(Instant::now() < deadline, "cluster did not become ok");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let timeout = Duration::from_millis(500);
    let store = RedisStore::connect(
        &format!("redis+cluster://{}", addrs.join(",")),
        RedisConfig {
            connect_timeout: timeout,
            command_timeout: timeout,
            ..RedisConfig::default()
        },
    )
    .await
    .expect("connect");
    let app = Router::new()
        .route("/count", get(count))
        .route("/plain", get(plain))
        .layer(SessionLayer::new(store, SessionConfig::default()));
    let (status, set) = call(&app, "/count", None).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = set.expect("cookie");

    // The whole Cluster goes down (SIGKILL to every node).
    for n in &mut nodes {
        n.kill();
    }
    for _ in 0..3 {
        let started = Instant::now();
        let (status, set) = call(&app, "/count", Some(&cookie)).await;
        let took = started.elapsed();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(set.is_none());
        assert!(took < timeout * 3, "failed in {took:?}");
        assert_eq!(call(&app, "/plain", Some(&cookie)).await.0, StatusCode::OK);
    }
    for n in &mut nodes {
        n.restart();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let (status, _) = call(&app, "/count", Some(&cookie)).await;
        if status == StatusCode::OK || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        status,
        StatusCode::OK,
        "the store must recover without a restart"
    );
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}
