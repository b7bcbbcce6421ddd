//! The operator sees why Redis failed (issue 14, item 1): the engine's one report of a
//! failed request carries the redis-rs cause (connection refused, OOM), not only "session
//! store failure". Runs its own redis-server children on free loopback ports.

mod common;

#[path = "../../satchel/tests/common/log_capture.rs"]
mod log_capture;

use std::time::{Duration, Instant};

use log_capture::{logs, start_capture, SERIAL};
use satchel::{Engine, SessionConfig};
use satchel_redis::{RedisConfig, RedisStore};

/// The engine's failure reports logged since `from` (a length of [`logs`]).
fn reports_since(from: usize) -> Vec<String> {
    logs()[from..]
        .lines()
        .filter(|l| l.contains("session store failure; answering with an error"))
        .map(str::to_owned)
        .collect()
}

/// Every call reaches Redis (no breaker failing fast), with short timeouts.
async fn engine(url: &str) -> Engine {
    let timeout = Duration::from_millis(500);
    let config = RedisConfig {
        connect_timeout: timeout,
        command_timeout: timeout,
        ..RedisConfig::default()
    };
    let store = RedisStore::connect(url, config).await.expect("connect");
    let config = SessionConfig::builder()
        .no_store_circuit_breaker()
        .build()
        .expect("config");
    Engine::new(store, config)
}

/// One request that writes a new session; its error, if any.
async fn write_one(engine: &Engine) -> Option<satchel::SessionError> {
    let session = engine.begin(None);
    session.insert("n", &1).expect("insert");
    engine.finish(&session, 200).await.error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_reaches_the_log() {
    let _serial = SERIAL.lock().await;
    start_capture();
    let Some(mut server) = common::RedisChild::start() else {
        return;
    };
    let engine = engine(&server.url()).await;
    assert!(write_one(&engine).await.is_none(), "Redis is up");
    server.kill();
    // The first failures may be the dropped connection (reset, broken pipe); once the
    // client reconnects, the port refuses: wait for that report, with a deadline.
    let from = logs().len();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let err = write_one(&engine).await.expect("Redis is down");
        assert_eq!(err.default_status(), 503);
        let reports = reports_since(from);
        assert!(!reports.is_empty(), "each failure is reported: {}", logs());
        for report in &reports {
            assert!(
                report.contains("session store failure: session store"),
                "the kind, then the cause: {report}"
            );
        }
        if reports.iter().any(|r| r.contains("Connection refused")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no report names the refused connection: {reports:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_memory_reaches_the_log() {
    let _serial = SERIAL.lock().await;
    start_capture();
    // Below what an empty server uses: every write is refused with OOM.
    let Some(server) = common::RedisChild::start_with(&["--maxmemory".into(), "1".into()]) else {
        return;
    };
    let engine = engine(&server.url()).await;
    let from = logs().len();
    let err = write_one(&engine).await.expect("Redis refuses writes");
    assert_eq!(err.default_status(), 503);
    let reports = reports_since(from);
    assert_eq!(reports.len(), 1, "logged once: {}", logs());
    assert!(
        reports[0].contains("session store unavailable: ") && reports[0].contains("OOM"),
        "{}",
        reports[0]
    );
}
