//! Requests of one session that overlap: no resurrection after logout, rotation or revoke
//! (SEC-17), no silent lost update (SEC-45), merges of different keys.
//!
//! The interleavings are written out step by step (request A begins, request B finishes,
//! A finishes…) so they are deterministic; the last tests add real parallel tasks on a
//! multi-thread runtime.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{j, Env};
use satchel::SessionErrorKind;

// ---------------------------------------------------------------------------------------
// No resurrection (SEC-17)
// ---------------------------------------------------------------------------------------

/// SEC-17 (CVE-2025-46336): A loads, B logs out, A writes: A gets `Gone`, no cookie, and
/// the store stays empty.
#[tokio::test]
async fn late_write_after_logout_is_gone_not_resurrected() {
    let env = Env::new();
    let mut browser = env.logged_in("alice", &[("n", j(1))]).await;
    let captured = browser.clone();

    let a = browser.begin(&env.engine);
    assert_eq!(a.get::<i64>("n").await.expect("get"), Some(1));

    let b = browser.begin(&env.engine);
    b.logout();
    let done_b = browser.finish(&env.engine, &b, 200).await;
    assert!(done_b.error.is_none());
    assert_eq!(env.memory.len(), 0);

    a.insert("n", &2).expect("insert");
    let done_a = env.engine.finish(&a, 200).await;
    let err = done_a.error.expect("A must fail");
    assert_eq!(err.kind(), SessionErrorKind::Gone);
    assert_eq!(err.default_status(), 409);
    assert_eq!(done_a.set_cookie, None);
    assert_eq!(env.memory.len(), 0, "no record came back");

    let replay = captured.begin(&env.engine);
    assert_eq!(replay.owner().await.expect("owner"), None);
    assert_eq!(replay.get::<i64>("n").await.expect("get"), None);
    env.engine.finish(&replay, 200).await;
    assert!(env
        .engine
        .sessions_of("alice")
        .await
        .expect("list")
        .is_empty());
}

/// SEC-17 (session-file-store #55): the touch path cannot bring a logged-out session back
/// either.
#[tokio::test]
async fn late_touch_after_logout_creates_nothing() {
    let env = Env::new();
    let mut browser = env.logged_in("alice", &[("n", j(1))]).await;
    let captured = browser.clone();

    let a = browser.begin(&env.engine);
    assert_eq!(a.get::<i64>("n").await.expect("get"), Some(1));

    let b = browser.begin(&env.engine);
    b.logout();
    browser.finish(&env.engine, &b, 200).await;

    env.clock.advance(Duration::from_secs(10 * 60)); // well past the touch threshold
    let done_a = env.engine.finish(&a, 200).await;
    assert_eq!(done_a.set_cookie, None);
    assert_eq!(env.memory.len(), 0, "the touch recreated the session");
    assert_eq!(env.counts().create, 0);

    let replay = captured.begin(&env.engine);
    assert_eq!(replay.owner().await.expect("owner"), None);
    env.engine.finish(&replay, 200).await;
}

/// SEC-17: a blind write (no read) racing a logout must not restore the old session: the
/// old id stays dead, the old data and owner are not carried anywhere (a fresh anonymous
/// session holding only A's new key is acceptable).
#[tokio::test]
async fn late_blind_write_after_logout_does_not_restore_old_data() {
    let env = Env::new();
    let mut browser = env.logged_in("alice", &[("secret", j("s3cr3t"))]).await;
    let old = browser.id().expect("id").to_owned();
    let captured = browser.clone();

    let a = browser.begin(&env.engine);

    let b = browser.begin(&env.engine);
    b.logout();
    browser.finish(&env.engine, &b, 200).await;

    a.insert("last_page", &"/inbox").expect("insert");
    let done_a = env.engine.finish(&a, 200).await;

    assert!(!env.has_record(&old).await, "the old id must stay dead");
    assert!(env.memory.len() <= 1);
    if let Some(set) = &done_a.set_cookie {
        let new = common::cookie_value(set);
        assert_ne!(new, old);
        if !new.is_empty() {
            let record = env
                .record(new)
                .await
                .expect("the cookie must point at a record");
            assert_eq!(record.meta.owner, None, "not re-authenticated");
            assert_eq!(
                record.data.keys().map(String::as_str).collect::<Vec<_>>(),
                ["last_page"]
            );
        }
    } else {
        assert_eq!(env.memory.len(), 0, "a record nobody holds a cookie for");
    }
    assert!(env
        .engine
        .sessions_of("alice")
        .await
        .expect("list")
        .is_empty());

    let replay = captured.begin(&env.engine);
    assert_eq!(replay.owner().await.expect("owner"), None);
    assert_eq!(replay.get::<String>("secret").await.expect("get"), None);
    env.engine.finish(&replay, 200).await;
}

/// SEC-17: a late write after a concurrent login (rotation) is `Gone`; the rotated session
/// is untouched and the pre-login id stays dead.
#[tokio::test]
async fn late_write_after_rotation_is_gone() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("n", j(1))]).await;
    let old = browser.id().expect("id").to_owned();

    let a = browser.begin(&env.engine);
    assert_eq!(a.get::<i64>("n").await.expect("get"), Some(1));

    let b = browser.begin(&env.engine);
    b.login("alice").expect("login");
    browser.finish(&env.engine, &b, 200).await;
    let new = browser.id().expect("new id").to_owned();
    assert_ne!(new, old);

    a.insert("n", &5).expect("insert");
    let done_a = env.engine.finish(&a, 200).await;
    assert_eq!(done_a.error.map(|e| e.kind()), Some(SessionErrorKind::Gone));
    assert_eq!(done_a.set_cookie, None);
    assert!(!env.has_record(&old).await);
    let record = env.record(&new).await.expect("rotated record");
    assert_eq!(record.data["n"].get(), "1");
    assert_eq!(record.meta.owner.as_deref(), Some("alice"));
    assert_eq!(env.memory.len(), 1);
}

/// SEC-17 / SEC-19: a late write of a session revoked by "log out my other devices" is
/// `Gone`.
#[tokio::test]
async fn late_write_after_revoke_is_gone() {
    let env = Env::new();
    let phone = env.logged_in("alice", &[("device", j("phone"))]).await;
    let laptop = env.logged_in("alice", &[("device", j("laptop"))]).await;

    let a = phone.begin(&env.engine);
    assert_eq!(
        a.get::<String>("device").await.expect("get").as_deref(),
        Some("phone")
    );

    let c = laptop.begin(&env.engine);
    assert_eq!(c.revoke_other_sessions().await.expect("revoke"), 1);
    env.engine.finish(&c, 200).await;

    a.insert("device", &"phone2").expect("insert");
    let done_a = env.engine.finish(&a, 200).await;
    assert_eq!(done_a.error.map(|e| e.kind()), Some(SessionErrorKind::Gone));
    assert_eq!(done_a.set_cookie, None);
    assert_eq!(env.memory.len(), 1);
    assert!(!env.has_record(phone.id().expect("id")).await);
    assert_eq!(
        env.engine.sessions_of("alice").await.expect("list").len(),
        1
    );
}

// ---------------------------------------------------------------------------------------
// Conflicts and merges (SEC-45)
// ---------------------------------------------------------------------------------------

/// SEC-45: two requests read n = 0 and both write n + 1: one succeeds, the other gets a
/// 409 conflict, n ends at 1 (no silent lost update, no double count).
#[tokio::test]
async fn stale_read_then_write_is_a_conflict() {
    let env = Env::new();
    let browser = env.browser_with(&[("n", j(0))]).await;
    let id = browser.id().expect("id").to_owned();

    let a = browser.begin(&env.engine);
    let b = browser.begin(&env.engine);
    let na: i64 = a.get("n").await.expect("get").expect("n");
    let nb: i64 = b.get("n").await.expect("get").expect("n");
    assert_eq!((na, nb), (0, 0));
    a.insert("n", &(na + 1)).expect("insert");
    b.insert("n", &(nb + 1)).expect("insert");

    let done_a = env.engine.finish(&a, 200).await;
    let done_b = env.engine.finish(&b, 200).await;
    assert!(done_a.error.is_none());
    let err = done_b.error.expect("B must conflict");
    assert_eq!(err.kind(), SessionErrorKind::Conflict);
    assert_eq!(err.default_status(), 409);
    assert_eq!(err.keys(), ["n"]);
    assert_eq!(done_b.set_cookie, None);
    assert_eq!(env.record(&id).await.expect("record").data["n"].get(), "1");
}

/// SEC-45: a removal or a clear based on a stale read is a conflict too.
#[tokio::test]
async fn stale_remove_and_clear_are_conflicts() {
    let env = Env::new();
    let browser = env
        .browser_with(&[("token", j("t1")), ("other", j(0))])
        .await;
    let id = browser.id().expect("id").to_owned();

    let a = browser.begin(&env.engine);
    let c = browser.begin(&env.engine);
    assert_eq!(
        a.get::<String>("token").await.expect("get").as_deref(),
        Some("t1")
    );
    assert_eq!(
        c.get::<String>("token").await.expect("get").as_deref(),
        Some("t1")
    );

    let b = browser.begin(&env.engine);
    b.insert("token", &"t2").expect("insert");
    assert!(env.engine.finish(&b, 200).await.error.is_none());

    a.remove("token").expect("remove");
    let done_a = env.engine.finish(&a, 200).await;
    assert_eq!(
        done_a.error.map(|e| e.kind()),
        Some(SessionErrorKind::Conflict)
    );

    c.clear().expect("clear");
    let done_c = env.engine.finish(&c, 200).await;
    assert_eq!(
        done_c.error.map(|e| e.kind()),
        Some(SessionErrorKind::Conflict)
    );

    let record = env.record(&id).await.expect("record");
    assert_eq!(record.data["token"].get(), "\"t2\"");
    assert_eq!(record.data["other"].get(), "0");
}

/// SEC-45: requests that read and write different keys both survive.
#[tokio::test]
async fn different_keys_written_concurrently_both_survive() {
    let env = Env::new();
    let browser = env.browser_with(&[("a", j(1)), ("b", j(10))]).await;
    let id = browser.id().expect("id").to_owned();

    let ra = browser.begin(&env.engine);
    let rb = browser.begin(&env.engine);
    let a: i64 = ra.get("a").await.expect("get").expect("a");
    let b: i64 = rb.get("b").await.expect("get").expect("b");
    ra.insert("a", &(a + 1)).expect("insert");
    rb.insert("b", &(b + 1)).expect("insert");
    rb.insert("c", &"new").expect("insert");

    let done_a = env.engine.finish(&ra, 200).await;
    let done_b = env.engine.finish(&rb, 200).await;
    assert!(done_a.error.is_none() && done_b.error.is_none());
    let record = env.record(&id).await.expect("record");
    assert_eq!(record.data["a"].get(), "2");
    assert_eq!(record.data["b"].get(), "11");
    assert_eq!(record.data["c"].get(), "\"new\"");
}

/// SEC-45: an explicit `save()` surfaces the conflict inside the handler, which re-reads
/// (getting the fresh value) and retries successfully.
#[tokio::test]
async fn explicit_save_conflict_can_be_retried() {
    let env = Env::new();
    let browser = env.browser_with(&[("n", j(0))]).await;
    let id = browser.id().expect("id").to_owned();

    let a = browser.begin(&env.engine);
    let n: i64 = a.get("n").await.expect("get").expect("n");
    assert_eq!(n, 0);

    let b = browser.begin(&env.engine);
    let nb: i64 = b.get("n").await.expect("get").expect("n");
    b.insert("n", &(nb + 1)).expect("insert");
    assert!(env.engine.finish(&b, 200).await.error.is_none());

    a.insert("n", &(n + 1)).expect("insert");
    let err = a.save().await.expect_err("stale write");
    assert_eq!(err.kind(), SessionErrorKind::Conflict);
    assert_eq!(err.keys(), ["n"]);

    let fresh: i64 = a.get("n").await.expect("re-read").expect("n");
    assert_eq!(fresh, 1, "the re-read sees B's write");
    a.insert("n", &(fresh + 1)).expect("insert");
    a.save().await.expect("retry succeeds");
    let done_a = env.engine.finish(&a, 200).await;
    assert!(done_a.error.is_none(), "{:?}", done_a.error);
    assert_eq!(done_a.set_cookie, None);
    assert_eq!(env.record(&id).await.expect("record").data["n"].get(), "2");
}

/// SEC-45: 10 tasks × 10 read-increment-write requests on a multi-thread runtime: every
/// request that finished without error counted exactly once; the others were conflicts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_increments_match_successful_finishes() {
    let env = Env::new();
    let browser = env.browser_with(&[("n", j(0))]).await;
    let cookie = browser.cookie().expect("cookie").to_owned();
    let barrier = Arc::new(tokio::sync::Barrier::new(10));

    let mut tasks = Vec::new();
    for _ in 0..10 {
        let engine = env.engine.clone();
        let cookie = cookie.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let (mut ok, mut conflicts) = (0i64, 0i64);
            for _ in 0..10 {
                let s = engine.begin([cookie.as_bytes()]);
                let n: i64 = s.get("n").await.expect("get").expect("n");
                tokio::task::yield_now().await;
                s.insert("n", &(n + 1)).expect("insert");
                let done = engine.finish(&s, 200).await;
                assert_eq!(done.set_cookie, None);
                match done.error {
                    None => ok += 1,
                    Some(e) => {
                        assert_eq!(e.kind(), SessionErrorKind::Conflict, "{e}");
                        assert_eq!(e.default_status(), 409);
                        conflicts += 1;
                    }
                }
            }
            (ok, conflicts)
        }));
    }
    let (mut ok, mut conflicts) = (0, 0);
    for t in tasks {
        let (o, c) = t.await.expect("task");
        ok += o;
        conflicts += c;
    }
    assert_eq!(ok + conflicts, 100);
    // Each conflict of a task needs another request's success inside that attempt's
    // window, and a task's windows are disjoint: so successes >= 10.
    assert!(ok >= 10, "too few successes: {ok}");
    let record = env.record(browser.id().expect("id")).await.expect("record");
    let n: i64 = record.data["n"].deserialize().expect("n");
    assert_eq!(n, ok, "{conflicts} conflicts");
}

/// SEC-45: 100 concurrent blind writes of distinct keys all land.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_of_distinct_keys_all_land() {
    let env = Env::new();
    let browser = env.browser_with(&[("seed", j(true))]).await;
    let cookie = browser.cookie().expect("cookie").to_owned();
    let barrier = Arc::new(tokio::sync::Barrier::new(100));

    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let engine = env.engine.clone();
            let cookie = cookie.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let s = engine.begin([cookie.as_bytes()]);
                s.insert(&format!("k{i}"), &i).expect("insert");
                let done = engine.finish(&s, 200).await;
                assert!(done.error.is_none(), "{:?}", done.error);
                assert_eq!(done.set_cookie, None);
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let record = env.record(browser.id().expect("id")).await.expect("record");
    assert_eq!(record.data.len(), 101);
    for i in 0..100 {
        assert_eq!(record.data[&format!("k{i}")].get(), i.to_string());
    }
    assert_eq!(env.counts().apply, 100);
    assert_eq!(env.counts().load, 0);
}

/// Overlapping requests that both only read never conflict and never write before the
/// touch threshold.
#[tokio::test]
async fn overlapping_readers_do_not_interfere() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("n", j(3))]).await;
    let sessions: Vec<_> = (0..5).map(|_| browser.begin(&env.engine)).collect();
    for s in &sessions {
        assert_eq!(s.get::<i64>("n").await.expect("get"), Some(3));
    }
    for s in &sessions {
        let done = browser.finish(&env.engine, s, 200).await;
        assert!(done.error.is_none());
        assert_eq!(done.set_cookie, None);
    }
    let c = env.counts();
    assert_eq!((c.load, c.writes()), (5, 0));
}
