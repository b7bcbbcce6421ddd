//! Issue 19 item 4: once the store is known down, requests fail fast instead of each
//! waiting for the store's own timeout, one probe at a time finds out when it is back, and
//! the engine recovers by itself. Driven with the test clock over a store whose failures
//! are switched on and off (the breaker's backoff reads the engine's clock).

mod common;

use std::time::Duration;

use common::{j, Env};
use satchel::{BreakerPolicy, SessionConfig, SessionErrorKind, StoreErrorKind};

/// A read through the engine: `Ok(n)` or the error's store kind.
async fn read(env: &Env, browser: &mut common::Browser) -> Result<Option<i64>, StoreErrorKind> {
    let session = browser.begin(&env.engine);
    let got = session.get::<i64>("n").await;
    let done = browser.finish(&env.engine, &session, 200).await;
    match (got, done.error) {
        (Ok(n), None) => Ok(n),
        (_, Some(err)) | (Err(err), None) => {
            assert_eq!(err.kind(), SessionErrorKind::Store, "{err}");
            assert_eq!(err.default_status(), 503);
            Err(err.store_kind().expect("a store error"))
        }
    }
}

#[tokio::test]
async fn an_outage_fails_fast_after_the_first_failure_and_recovers_by_itself() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("n", j(1))]).await;
    env.store.fail_loads(true);

    // The first failure reaches the store (that is how the engine learns of the outage).
    assert_eq!(
        read(&env, &mut browser).await,
        Err(StoreErrorKind::Unavailable)
    );
    assert_eq!(env.counts().load, 1);

    // Every later request answers 503 without reaching (and waiting for) the store.
    for _ in 0..20 {
        assert_eq!(
            read(&env, &mut browser).await,
            Err(StoreErrorKind::Unavailable)
        );
    }
    assert_eq!(
        env.counts().load,
        1,
        "requests during the outage reached the store"
    );

    // After the backoff, one probe goes through; it fails, and the wait doubles.
    env.clock.advance(Duration::from_millis(100));
    assert!(read(&env, &mut browser).await.is_err());
    assert!(read(&env, &mut browser).await.is_err());
    assert_eq!(env.counts().load, 2, "exactly one probe per backoff");
    env.clock.advance(Duration::from_millis(99)); // the next wait is 100..=200 ms
    assert!(read(&env, &mut browser).await.is_err());
    assert_eq!(env.counts().load, 2, "the backoff doubled");

    // The store comes back: the next probe succeeds and everything works again.
    env.store.fail_loads(false);
    env.clock.advance(Duration::from_millis(101));
    assert_eq!(read(&env, &mut browser).await, Ok(Some(1)));
    for _ in 0..3 {
        assert_eq!(read(&env, &mut browser).await, Ok(Some(1)));
    }
    assert_eq!(
        env.counts().load,
        3 + 3,
        "closed again: every request reaches the store"
    );
}

#[tokio::test]
async fn the_backoff_stops_growing_at_its_maximum() {
    let policy = BreakerPolicy::new(Duration::from_millis(100), Duration::from_millis(400))
        .expect("valid policy");
    let env = Env::with_config(
        SessionConfig::builder()
            .store_circuit_breaker(policy)
            .build()
            .expect("config"),
    );
    let mut browser = env.browser_with(&[("n", j(1))]).await;
    env.store.fail_loads(true);
    assert!(read(&env, &mut browser).await.is_err());
    // 100, 200, 400, 400, 400: advancing by the maximum always reaches the next probe.
    for probes in 2..8 {
        env.clock.advance(Duration::from_millis(400));
        assert!(read(&env, &mut browser).await.is_err());
        assert_eq!(env.counts().load, probes);
    }
}

#[tokio::test]
async fn writes_fail_fast_too_and_nothing_is_saved_while_open() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("n", j(1))]).await;
    let id = browser.id().expect("id").to_owned();
    env.store.fail_writes(true);
    let session = browser.begin(&env.engine);
    session.insert("n", &2).expect("insert");
    let done = browser.finish(&env.engine, &session, 200).await;
    assert_eq!(done.error.map(|e| e.kind()), Some(SessionErrorKind::Store));

    // The store works again, but the breaker does not know yet: the write is refused
    // without reaching it, and the response sets no cookie.
    env.store.fail_writes(false);
    let before = env.counts();
    let session = browser.begin(&env.engine);
    session.insert("n", &3).expect("insert");
    let done = browser.finish(&env.engine, &session, 200).await;
    assert_eq!(done.error.map(|e| e.kind()), Some(SessionErrorKind::Store));
    assert_eq!(done.set_cookie, None);
    assert_eq!(env.counts(), before, "no store call while open");
    assert_eq!(env.record(&id).await.expect("record").data["n"].get(), "1");

    env.clock.advance(Duration::from_millis(100));
    let session = browser.begin(&env.engine);
    session.insert("n", &4).expect("insert");
    let done = browser.finish(&env.engine, &session, 200).await;
    assert!(done.error.is_none(), "{:?}", done.error);
    assert_eq!(env.record(&id).await.expect("record").data["n"].get(), "4");
}

#[tokio::test]
async fn the_breaker_can_be_turned_off() {
    let env = Env::with_config(
        SessionConfig::builder()
            .no_store_circuit_breaker()
            .build()
            .expect("config"),
    );
    assert_eq!(env.engine.config().circuit_breaker(), None);
    let mut browser = env.browser_with(&[("n", j(1))]).await;
    env.store.fail_loads(true);
    for _ in 0..5 {
        assert!(read(&env, &mut browser).await.is_err());
    }
    assert_eq!(env.counts().load, 5, "every request reaches the store");
    env.store.fail_loads(false);
    assert_eq!(read(&env, &mut browser).await, Ok(Some(1)));
}

#[test]
fn the_default_policy_is_on_and_bounded() {
    let policy = SessionConfig::default()
        .circuit_breaker()
        .expect("on by default");
    assert_eq!(policy, BreakerPolicy::default());
    assert_eq!(policy.first_backoff(), Duration::from_millis(100));
    assert_eq!(policy.max_backoff(), Duration::from_secs(2));
    assert!(BreakerPolicy::new(Duration::ZERO, Duration::from_secs(1)).is_none());
    assert!(BreakerPolicy::new(Duration::from_secs(2), Duration::from_secs(1)).is_none());
}
