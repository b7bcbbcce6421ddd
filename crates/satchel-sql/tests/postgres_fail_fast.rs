//! Issue 19 item 4 on an SQL store: once a PostgreSQL store has failed as unreachable,
//! the engine's circuit breaker answers the next requests with 503 without reaching the
//! pool (which would wait for a connection until its acquire timeout). Nothing listens on
//! the server's port, so this needs no service.
#![cfg(feature = "postgres")]

use std::time::{Duration, Instant};

use satchel::{BreakerPolicy, Engine, Instrumented, SessionConfig, SessionErrorKind, SessionId};
use satchel_sql::{PostgresStore, SqlOptions};

#[tokio::test]
async fn an_unreachable_postgres_fails_fast_after_the_first_failure() {
    let acquire = Duration::from_secs(3);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(acquire)
        .connect_lazy("postgres://satchel@127.0.0.1:1/none")
        .expect("lazy pool");
    let options = SqlOptions::default()
        .with_acquire_timeout(acquire)
        .with_cleanup(None);
    let store = Instrumented::new(PostgresStore::from_pool(pool, options));
    // A long first backoff, so that no probe falls inside the requests below.
    let policy =
        BreakerPolicy::new(Duration::from_secs(60), Duration::from_secs(120)).expect("policy");
    let config = SessionConfig::builder()
        .store_circuit_breaker(policy)
        .build()
        .expect("config");
    let engine = Engine::new(store.clone(), config);
    let cookie = format!("id={}", SessionId::generate().encode());

    let request = || async {
        let session = engine.begin([cookie.as_bytes()]);
        let read = session.get::<i64>("n").await;
        let done = engine.finish(&session, 200).await;
        assert!(read.is_err());
        let err = done.error.expect("a store error");
        assert_eq!(err.kind(), SessionErrorKind::Store);
        assert_eq!(err.default_status(), 503);
        assert!(done.set_cookie.is_none());
    };

    request().await; // how the engine learns of the outage
    assert_eq!(store.calls().load, 1);
    for _ in 0..10 {
        let started = Instant::now();
        request().await;
        let took = started.elapsed();
        assert!(
            took < acquire / 3,
            "waited {took:?} for a store known to be down"
        );
    }
    assert_eq!(
        store.calls().load,
        1,
        "requests reached the pool during the outage"
    );
}
