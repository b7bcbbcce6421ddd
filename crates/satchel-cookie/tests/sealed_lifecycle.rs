//! Login, logout, rotation, flash, expiry and revocation for sealed-cookie sessions,
//! through the engine exactly as an integration drives it.

mod common;

use std::time::Duration;

use common::{engine, engine_with, keyring, set_n, Jar};
use satchel::sealed::MemoryRevocations;
use satchel::{Expiry, Stateless};

#[tokio::test]
async fn data_survives_requests_and_nothing_is_readable() {
    let (engine, _) = engine();
    let mut jar = Jar::default();
    // An anonymous visitor who stores nothing gets no cookie.
    let f = jar
        .request(&engine, |s| async move {
            assert_eq!(s.get::<i64>("n").await.expect("read"), None);
        })
        .await;
    assert!(f.set_cookie.is_none());
    jar.request(&engine, |s| async move {
        s.login("alice@example.com").expect("login");
        s.insert("n", &1).expect("insert");
        s.insert("secret", &"hunter2").expect("insert");
    })
    .await;
    let cookie = jar.header();
    for visible in ["alice", "hunter2", "secret", "\"n\""] {
        assert!(!cookie.contains(visible), "{visible} readable in {cookie}");
    }
    assert_eq!(jar.n(&engine).await, Some(1));
    set_n(&mut jar, &engine, 2).await;
    assert_eq!(jar.n(&engine).await, Some(2));
}

#[tokio::test]
async fn read_only_requests_send_no_cookie_until_a_touch_is_due() {
    let (engine, clock) = engine();
    let mut jar = Jar::default();
    set_n(&mut jar, &engine, 5).await;
    let f = jar
        .request(&engine, |s| async move {
            s.get::<i64>("n").await.expect("read");
        })
        .await;
    assert!(f.set_cookie.is_none(), "nothing changed, nothing to send");
    // Past the touch threshold the idle deadline slides: a new cookie.
    clock.advance(Duration::from_secs(500));
    let f = jar
        .request(&engine, |s| async move {
            s.get::<i64>("n").await.expect("read");
        })
        .await;
    assert!(f.set_cookie.is_some(), "touch re-seals");
    clock.advance(Duration::from_secs(500));
    assert_eq!(jar.n(&engine).await, Some(5), "the slide kept it alive");
}

#[tokio::test]
async fn idle_and_absolute_deadlines_are_enforced_from_inside_the_cookie() {
    let (engine, clock) = engine();
    let mut jar = Jar::default();
    set_n(&mut jar, &engine, 1).await;
    let stolen = jar.clone();
    clock.advance(Duration::from_secs(601));
    let mut replay = stolen.clone();
    assert_eq!(replay.n(&engine).await, None, "idle deadline passed");
    assert!(replay.0.is_empty(), "the dead cookie is removed");

    // Keep a session busy: the absolute deadline still ends it.
    let mut busy = Jar::default();
    set_n(&mut busy, &engine, 1).await;
    for i in 0..7 {
        clock.advance(Duration::from_secs(500));
        set_n(&mut busy, &engine, i).await;
    }
    assert_eq!(
        busy.n(&engine).await,
        Some(6),
        "still alive after 3500 s of activity"
    );
    clock.advance(Duration::from_secs(200));
    assert_eq!(busy.n(&engine).await, None, "absolute deadline passed");
}

#[tokio::test]
async fn login_rotates_and_the_pre_login_cookie_is_revoked() {
    let (engine, _) = engine();
    let mut jar = Jar::default();
    set_n(&mut jar, &engine, 1).await;
    let before = jar.clone();
    jar.request(&engine, |s| async move { s.login("bob").expect("login") })
        .await;
    assert_ne!(before.header(), jar.header());
    assert_eq!(jar.n(&engine).await, Some(1), "login keeps the data");
    let mut old = before.clone();
    assert_eq!(old.n(&engine).await, None, "pre-login copy no longer opens");
    let owner = {
        let header = jar.header();
        let s = engine.begin([header.as_bytes()]);
        s.owner().await.expect("owner")
    };
    assert_eq!(owner.as_deref(), Some("bob"));
}

#[tokio::test]
async fn logout_clears_every_chunk_and_a_replayed_cookie_is_rejected() {
    let (engine, _) = engine();
    let mut jar = Jar::default();
    jar.request(&engine, |s| async move {
        s.login("carol").expect("login");
        // With the login's auth state (SEC-20), still within two chunks.
        s.insert("big", &"z".repeat(5900)).expect("insert");
    })
    .await;
    assert_eq!(jar.0.len(), 2, "6 KB spans two chunks: {:?}", jar.0.keys());
    let copy = jar.clone();
    let f = jar.request(&engine, |s| async move { s.logout() }).await;
    assert_eq!(f.set_cookies().count(), 2);
    assert!(f.set_cookies().all(|c| c.contains("Max-Age=0")));
    assert!(jar.0.is_empty());
    let mut replay = copy;
    let seen = replay
        .request(&engine, |s| async move {
            assert_eq!(s.get::<String>("big").await.expect("read"), None);
        })
        .await;
    assert_eq!(seen.set_cookies().count(), 2, "replayed chunks are removed");
}

#[tokio::test]
async fn without_revocation_logout_still_clears_the_browser() {
    let (engine, _) = engine_with(Stateless::new(keyring()));
    let mut jar = Jar::default();
    set_n(&mut jar, &engine, 1).await;
    jar.request(&engine, |s| async move { s.logout() }).await;
    assert!(jar.0.is_empty());
}

#[tokio::test]
async fn revoke_other_sessions_keeps_only_the_caller() {
    let (engine, clock) = engine();
    let mut laptop = Jar::default();
    let mut phone = Jar::default();
    for jar in [&mut laptop, &mut phone] {
        jar.request(&engine, |s| async move {
            s.login("dave").expect("login");
            s.insert("n", &1).expect("insert");
        })
        .await;
    }
    clock.advance(Duration::from_millis(5));
    let f = laptop
        .request(&engine, |s| async move {
            assert_eq!(s.revoke_other_sessions().await.expect("revoke"), 0);
        })
        .await;
    assert!(f.set_cookie.is_some(), "the caller is re-sealed");
    assert_eq!(laptop.n(&engine).await, Some(1));
    assert_eq!(phone.n(&engine).await, None);
    // Listing is impossible statelessly: a typed Unsupported error.
    let header = laptop.header();
    let s = engine.begin([header.as_bytes()]);
    let err = s.owner_sessions().await.expect_err("unsupported");
    assert_eq!(err.store_kind(), Some(satchel::StoreErrorKind::Unsupported));
}

#[tokio::test]
async fn cycle_id_flash_and_remember_me() {
    let (engine, clock) = engine();
    let mut jar = Jar::default();
    jar.request(&engine, |s| async move {
        s.flash("info", "welcome").await.expect("flash");
    })
    .await;
    let before = jar.header();
    jar.request(&engine, |s| async move { s.cycle_id().expect("cycle") })
        .await;
    assert_ne!(before, jar.header());
    jar.request(&engine, |s| async move {
        let f = s.take_flashes().await.expect("take");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].message, "welcome");
    })
    .await;
    jar.request(&engine, |s| async move {
        assert!(
            s.take_flashes().await.expect("take").is_empty(),
            "read once"
        );
    })
    .await;
    let f = jar
        .request(&engine, |s| async move {
            s.set_expiry(Expiry::Persistent {
                idle: Duration::from_secs(86_400),
                absolute: Duration::from_secs(30 * 86_400),
            })
            .expect("expiry");
        })
        .await;
    assert!(f
        .set_cookie
        .as_deref()
        .is_some_and(|c| c.contains("Max-Age=86400")));
    clock.advance(Duration::from_secs(7200));
    jar.request(&engine, |s| async move {
        s.insert("still", &true).expect("insert");
    })
    .await;
    assert!(
        !jar.0.is_empty(),
        "persistent sessions outlive the default absolute timeout"
    );
}

#[tokio::test]
async fn a_failed_response_sends_no_cookie() {
    let (engine, _) = engine();
    let s = engine.begin(None);
    s.insert("n", &1).expect("insert");
    let f = engine.finish(&s, 500).await;
    assert!(f.set_cookie.is_none() && f.extra_set_cookies.is_empty());
}

#[tokio::test]
async fn memory_revocations_stay_bounded_by_deadlines() {
    let rev = std::sync::Arc::new(MemoryRevocations::new());
    let (engine, clock) = engine_with(Stateless::new(keyring()).revocations(rev.clone()));
    for _ in 0..10 {
        let mut jar = Jar::default();
        set_n(&mut jar, &engine, 1).await;
        jar.request(&engine, |s| async move { s.logout() }).await;
    }
    assert_eq!(rev.len(), 10);
    clock.advance(Duration::from_secs(3601));
    rev.sweep(engine.now());
    assert!(rev.is_empty());
}

/// Without a revocation store nothing in a sealed save waits, so `finish_now` seals on the
/// spot; with one, it declines and leaves the save to `finish`.
#[tokio::test]
async fn finish_now_seals_in_process_unless_revocations_are_kept() {
    let (sealed, _) = engine_with(Stateless::new(keyring()));
    let mut jar = Jar::default();
    let session = sealed.begin(None);
    session.insert("n", &41).expect("insert");
    let done = sealed.finish_now(&session, 200).expect("in process");
    assert!(done.error.is_none());
    jar.update(&done);
    let header = jar.header();
    let session = sealed.begin([header.as_bytes()]);
    let n: i64 = session.get("n").await.expect("read").expect("n");
    session.insert("n", &(n + 1)).expect("insert");
    let done = sealed.finish_now(&session, 200).expect("in process");
    jar.update(&done);
    assert_eq!(jar.n(&sealed).await, Some(42));

    let (revoking, _) = engine();
    let session = revoking.begin(None);
    session.insert("n", &1).expect("insert");
    assert!(revoking.finish_now(&session, 200).is_none());
    assert!(revoking.finish(&session, 200).await.set_cookie.is_some());
}
