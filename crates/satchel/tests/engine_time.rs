//! Time, driven by a `TestClock`: the touch threshold, idle and absolute timeouts
//! (SEC-14, SEC-15) and "remember me" cookies.

mod common;

use std::time::Duration;

use common::{attr, cookie_value, j, Browser, Env};
use satchel::{Expiry, SessionConfig};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);
const MS: Duration = Duration::from_millis(1);

/// One read-only request; returns whether the session was alive (its `n` was there).
async fn read_n(env: &Env, browser: &mut Browser) -> bool {
    let session = browser.begin(&env.engine);
    let n: Option<i64> = session.get("n").await.expect("get");
    let done = browser.finish(&env.engine, &session, 200).await;
    assert!(done.error.is_none(), "{:?}", done.error);
    n.is_some()
}

// ---------------------------------------------------------------------------------------
// Touch threshold
// ---------------------------------------------------------------------------------------

/// Default threshold (10 % of a 30-minute idle timeout = 3 minutes): one millisecond
/// before it a read does not touch, at it a read touches once, and the touch really moves
/// the server-side idle deadline.
#[tokio::test]
async fn touch_happens_exactly_at_the_threshold_and_extends_idle() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("n", j(1))]).await;

    env.clock.advance(3 * MINUTE - MS);
    assert!(read_n(&env, &mut browser).await);
    assert_eq!((env.counts().load, env.counts().touch), (1, 0));

    env.clock.advance(MS);
    assert!(read_n(&env, &mut browser).await);
    assert_eq!((env.counts().load, env.counts().touch), (2, 1));
    assert_eq!(env.counts().apply, 0, "a touch is not a patch");

    // Right after the touch the threshold starts again.
    env.clock.advance(MINUTE);
    assert!(read_n(&env, &mut browser).await);
    assert_eq!(env.counts().touch, 1);

    // 31 minutes after creation: dead without the touch, alive with it (deadline 33 min).
    env.clock.advance(27 * MINUTE);
    assert!(
        read_n(&env, &mut browser).await,
        "the touch extended the idle deadline"
    );
}

/// `touch_after_percent(0)` touches on every read; `touch_after_percent(50)` only after
/// half the idle timeout.
#[tokio::test]
async fn touch_threshold_is_configurable() {
    let every = Env::with_config(
        SessionConfig::builder()
            .touch_after_percent(0)
            .build()
            .expect("config"),
    );
    let mut browser = every.browser_with(&[("n", j(1))]).await;
    every.clock.advance(MS);
    assert!(read_n(&every, &mut browser).await);
    assert_eq!(every.counts().touch, 1);

    let half = Env::with_config(
        SessionConfig::builder()
            .touch_after_percent(50)
            .build()
            .expect("config"),
    );
    let mut browser = half.browser_with(&[("n", j(1))]).await;
    half.clock.advance(15 * MINUTE - MS);
    assert!(read_n(&half, &mut browser).await);
    assert_eq!(half.counts().touch, 0);
    half.clock.advance(MS);
    assert!(read_n(&half, &mut browser).await);
    assert_eq!(half.counts().touch, 1);
}

// ---------------------------------------------------------------------------------------
// Idle timeout (SEC-14)
// ---------------------------------------------------------------------------------------

/// SEC-14: after the idle timeout the session is gone on the server, even though the
/// browser re-sends the cookie; one millisecond earlier it is alive.
#[tokio::test]
async fn idle_timeout_is_enforced_by_the_server() {
    let env = Env::new();
    let mut alive = env.logged_in("alice", &[("n", j(1))]).await;
    let mut idle = env.logged_in("bob", &[("n", j(1))]).await;
    let idle_id = idle.id().expect("id").to_owned();
    let captured = idle.clone();

    env.clock.advance(30 * MINUTE - MS);
    assert!(
        read_n(&env, &mut alive).await,
        "alive 1 ms before the idle deadline"
    );

    env.clock.advance(MS);
    let session = idle.begin(&env.engine);
    assert_eq!(session.get::<i64>("n").await.expect("get"), None);
    assert_eq!(
        session.owner().await.expect("owner"),
        None,
        "no longer logged in"
    );
    let done = idle.finish(&env.engine, &session, 200).await;
    assert!(done.error.is_none());
    if let Some(set) = &done.set_cookie {
        assert_eq!(cookie_value(set), "", "only a removal cookie: {set}");
    }
    assert!(!env.has_record(&idle_id).await);

    // Re-sending the cookie again changes nothing, and a write gets a fresh id (SEC-2).
    let mut replay = captured;
    let session = replay.begin(&env.engine);
    assert_eq!(session.owner().await.expect("owner"), None);
    session.insert("n", &2).expect("insert");
    let done = replay.finish(&env.engine, &session, 200).await;
    let fresh = cookie_value(done.set_cookie.as_deref().expect("fresh cookie")).to_owned();
    assert_ne!(fresh, idle_id);
    assert_eq!(env.record(&fresh).await.expect("record").meta.owner, None);
}

// ---------------------------------------------------------------------------------------
// Absolute timeout (SEC-15)
// ---------------------------------------------------------------------------------------

/// SEC-15: a read every idle/2 keeps the session alive until created + absolute (12 h),
/// never longer.
#[tokio::test]
async fn absolute_timeout_ends_an_active_session_reading() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("n", j(1))]).await;

    let mut died_at = None;
    for k in 1..=60u32 {
        env.clock.advance(15 * MINUTE);
        if !read_n(&env, &mut browser).await {
            died_at = Some(k);
            break;
        }
    }
    // 48 × 15 min = 12 h: the request at exactly created + absolute finds it gone.
    assert_eq!(died_at, Some(48));
}

/// SEC-15: writes every idle/2 cannot extend the absolute deadline either; the write that
/// comes too late starts a fresh session holding none of the old data.
#[tokio::test]
async fn absolute_timeout_ends_an_active_session_writing() {
    let env = Env::new();
    let mut browser = env.logged_in("alice", &[("secret", j(1))]).await;
    let first = browser.id().expect("id").to_owned();

    let mut k = 0u32;
    while browser.id() == Some(first.as_str()) && k < 60 {
        k += 1;
        env.clock.advance(15 * MINUTE);
        let session = browser.begin(&env.engine);
        session.insert("step", &k).expect("insert");
        let done = browser.finish(&env.engine, &session, 200).await;
        assert!(done.error.is_none(), "{:?}", done.error);
    }
    assert_eq!(k, 48, "the write at created + 12 h found the session gone");
    let fresh = browser.id().expect("fresh id").to_owned();
    assert_ne!(fresh, first);
    let record = env.record(&fresh).await.expect("record");
    assert_eq!(record.meta.owner, None);
    assert_eq!(
        record.data.keys().map(String::as_str).collect::<Vec<_>>(),
        ["step"]
    );
    assert!(!env.has_record(&first).await);
}

/// SEC-15: the absolute deadline is exact to the millisecond.
#[tokio::test]
async fn absolute_deadline_is_exact() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("n", j(1))]).await;
    for _ in 0..47 {
        env.clock.advance(15 * MINUTE);
        assert!(read_n(&env, &mut browser).await);
    }
    // Now at 11:45; the last touch capped the idle deadline at 12:00.
    env.clock.advance(15 * MINUTE - MS);
    assert!(read_n(&env, &mut browser).await, "alive at 11:59:59.999");
    env.clock.advance(MS);
    assert!(!read_n(&env, &mut browser).await, "gone at 12:00:00.000");
}

// ---------------------------------------------------------------------------------------
// Remember me
// ---------------------------------------------------------------------------------------

fn max_age(set_cookie: &str) -> Option<u64> {
    attr(set_cookie, "Max-Age").map(|v| v.parse().expect("numeric Max-Age"))
}

/// `Expiry::Persistent` for 30 days gives a cookie with `Max-Age` of 30 days, and the
/// session outlives the default idle and absolute timeouts (and then dies at 30 days).
#[tokio::test]
async fn remember_me_sets_a_persistent_cookie() {
    let env = Env::new();
    let mut browser = Browser::new();
    let session = browser.begin(&env.engine);
    session.login("alice").expect("login");
    session.insert("n", &1).expect("insert");
    session
        .set_expiry(Expiry::Persistent {
            idle: 30 * DAY,
            absolute: 30 * DAY,
        })
        .expect("expiry");
    let done = browser.finish(&env.engine, &session, 200).await;

    let set = done.set_cookie.expect("cookie");
    assert_eq!(max_age(&set), Some(30 * 24 * 3600), "{set}");
    assert!(done.no_store);

    env.clock.advance(2 * DAY); // past the 30-minute idle and 12-hour absolute defaults
    assert!(read_n(&env, &mut browser).await);
    env.clock.advance(28 * DAY - MS);
    assert!(
        read_n(&env, &mut browser).await,
        "alive just before 30 days"
    );
    env.clock.advance(MS);
    assert!(!read_n(&env, &mut browser).await, "gone at 30 days");
}

/// A remember-me session slides: a later read (past the touch threshold) or write re-sends
/// the cookie with `Max-Age` recomputed from the server's new idle deadline.
#[tokio::test]
async fn remember_me_cookie_slides_on_later_use() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("n", j(1))]).await;

    let session = browser.begin(&env.engine);
    session
        .set_expiry(Expiry::Persistent {
            idle: 30 * DAY,
            absolute: 90 * DAY,
        })
        .expect("expiry");
    let done = browser.finish(&env.engine, &session, 200).await;
    let set = done
        .set_cookie
        .expect("switching to persistent re-sends the cookie");
    assert_eq!(max_age(&set), Some(30 * 24 * 3600));
    let id = browser.id().expect("id").to_owned();
    assert_eq!(cookie_value(&set), id, "same id (not a privilege change)");
    env.store.reset();

    // 3 days later (past 10 % of the 30-day idle window) a read touches and re-sends.
    env.clock.advance(3 * DAY);
    let session = browser.begin(&env.engine);
    assert_eq!(session.get::<i64>("n").await.expect("get"), Some(1));
    let done = browser.finish(&env.engine, &session, 200).await;
    let set = done
        .set_cookie
        .expect("a touch re-sends the persistent cookie");
    assert_eq!(cookie_value(&set), id);
    assert_eq!(max_age(&set), Some(30 * 24 * 3600), "{set}");
    assert!(done.no_store && done.vary_cookie);

    // Right after, a read sends nothing (no touch due); a write re-sends.
    let session = browser.begin(&env.engine);
    assert_eq!(session.get::<i64>("n").await.expect("get"), Some(1));
    assert_eq!(
        browser.finish(&env.engine, &session, 200).await.set_cookie,
        None
    );
    env.clock.advance(DAY);
    let session = browser.begin(&env.engine);
    session.insert("n", &2).expect("insert");
    let done = browser.finish(&env.engine, &session, 200).await;
    let set = done
        .set_cookie
        .expect("a write re-sends the persistent cookie");
    assert_eq!(max_age(&set), Some(30 * 24 * 3600), "{set}");

    // The absolute deadline still ends it: keep using it every 20 days until day 90.
    let mut alive_days = 4;
    while read_n(&env, &mut browser).await {
        env.clock.advance(20 * DAY);
        alive_days += 20;
        assert!(alive_days <= 110, "never ended");
    }
    assert!(
        (90..=110).contains(&alive_days),
        "ended at day {alive_days}"
    );
}

/// `Expiry::BrowserSession` gives a cookie without `Max-Age`, and brings back the
/// configured timeouts.
#[tokio::test]
async fn browser_session_expiry_has_no_max_age() {
    let env = Env::new();
    let mut browser = Browser::new();
    let session = browser.begin(&env.engine);
    session.insert("n", &1).expect("insert");
    session
        .set_expiry(Expiry::Persistent {
            idle: 7 * DAY,
            absolute: 7 * DAY,
        })
        .expect("expiry");
    let done = browser.finish(&env.engine, &session, 200).await;
    assert_eq!(
        max_age(done.set_cookie.as_deref().expect("cookie")),
        Some(7 * 24 * 3600)
    );
    let id = browser.id().expect("id").to_owned();

    env.clock.advance(HOUR);
    let session = browser.begin(&env.engine);
    session.set_expiry(Expiry::BrowserSession).expect("expiry");
    let done = browser.finish(&env.engine, &session, 200).await;
    let set = done.set_cookie.expect("cookie re-sent without Max-Age");
    assert_eq!(cookie_value(&set), id);
    assert_eq!(attr(&set, "Max-Age"), None, "{set}");
    assert_eq!(attr(&set, "Expires"), None, "{set}");

    let record = env.record(&id).await.expect("record");
    assert!(!record.meta.persistent);
    assert_eq!(record.meta.idle_timeout, 30 * MINUTE);
    assert_eq!(
        record.meta.absolute_deadline,
        record.meta.created_at.saturating_add(12 * HOUR),
        "absolute deadline counted from creation"
    );

    // A brand-new session asking for a browser-session cookie gets one too.
    let mut other = Browser::new();
    let session = other.begin(&env.engine);
    session.insert("n", &1).expect("insert");
    session.set_expiry(Expiry::BrowserSession).expect("expiry");
    let done = other.finish(&env.engine, &session, 200).await;
    assert_eq!(
        attr(done.set_cookie.as_deref().expect("cookie"), "Max-Age"),
        None
    );
}

/// SEC-47: absurd durations are clamped instead of panicking or overflowing:
/// `Duration::MAX` becomes the 400-day browser maximum, `ZERO` one second.
#[tokio::test]
async fn absurd_persistent_durations_are_clamped() {
    let env = Env::new();

    let mut forever = Browser::new();
    let session = forever.begin(&env.engine);
    session.insert("n", &1).expect("insert");
    session
        .set_expiry(Expiry::Persistent {
            idle: Duration::MAX,
            absolute: Duration::MAX,
        })
        .expect("expiry");
    let done = forever.finish(&env.engine, &session, 200).await;
    assert!(done.error.is_none());
    let age = max_age(done.set_cookie.as_deref().expect("cookie")).expect("Max-Age");
    assert_eq!(age, 400 * 24 * 3600);
    assert!(read_n(&env, &mut forever).await);

    let mut zero = Browser::new();
    let session = zero.begin(&env.engine);
    session.insert("n", &1).expect("insert");
    session
        .set_expiry(Expiry::Persistent {
            idle: Duration::ZERO,
            absolute: Duration::ZERO,
        })
        .expect("expiry");
    let done = zero.finish(&env.engine, &session, 200).await;
    assert!(done.error.is_none());
    assert_eq!(
        max_age(done.set_cookie.as_deref().expect("cookie")),
        Some(1)
    );
    assert!(read_n(&env, &mut zero).await, "alive for its one second");
    env.clock.advance(Duration::from_secs(1));
    assert!(!read_n(&env, &mut zero).await, "over after one second");
}

/// `Session::meta` shows the stored deadlines a page can print ("expires at"): none
/// without a session, the configured timeouts for a new one, and a remember-me login's
/// own deadlines and persistence once it is saved.
#[tokio::test]
async fn meta_shows_the_stored_deadlines() {
    let env = Env::new();
    let mut browser = Browser::new();
    let session = browser.begin(&env.engine);
    assert_eq!(session.meta().await.expect("meta"), None, "no session yet");
    session.insert("n", &1).expect("insert");
    browser.finish(&env.engine, &session, 200).await;
    let created = env.engine.now();

    let session = browser.begin(&env.engine);
    let meta = session.meta().await.expect("meta").expect("a live session");
    assert_eq!(meta.created_at, created);
    assert_eq!(meta.idle_deadline, created.saturating_add(30 * MINUTE));
    assert_eq!(meta.absolute_deadline, created.saturating_add(12 * HOUR));
    assert!(!meta.persistent && meta.owner.is_none());
    session.login("alice").expect("login");
    session
        .set_expiry(Expiry::Persistent {
            idle: 7 * DAY,
            absolute: 30 * DAY,
        })
        .expect("expiry");
    browser.finish(&env.engine, &session, 200).await;

    env.clock.advance(MINUTE);
    let session = browser.begin(&env.engine);
    let meta = session.meta().await.expect("meta").expect("a live session");
    assert!(meta.persistent);
    assert_eq!(meta.owner.as_deref(), Some("alice"));
    assert_eq!(meta.absolute_deadline, created.saturating_add(30 * DAY));
    assert_eq!(meta.idle_deadline, created.saturating_add(7 * DAY));
}
