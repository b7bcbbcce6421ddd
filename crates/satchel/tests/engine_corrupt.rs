//! What the engine answers when the store holds a record it cannot decode (issue 20): by
//! default the request goes on as if there were no session, never a 503; under
//! `CorruptRecords::FailClosed` it fails with a 500 (no `Retry-After`). Every check runs on
//! both engine paths: the in-place MemoryStore path and the dynamic-store path.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::log_capture::{logs, start_capture, SERIAL};
use common::{Browser, CountingStore};
use satchel::http_support::ErrorStatuses;
use satchel::{
    CorruptRecords, Engine, MemoryStore, SessionConfig, SessionErrorKind, SessionId, SessionStore,
    StoreErrorKind, StoreKey, TestClock,
};

/// An engine over a MemoryStore, either directly (the in-place path) or behind a wrapper
/// (the dynamic path), with the MemoryStore to plant garbage in.
struct Env {
    engine: Engine,
    memory: MemoryStore,
    clock: TestClock,
}

impl Env {
    fn new(in_place: bool, policy: CorruptRecords) -> Self {
        let config = SessionConfig::builder()
            .corrupt_records(policy)
            .build()
            .expect("config");
        let memory = MemoryStore::new();
        let clock = TestClock::default();
        let engine = if in_place {
            Engine::with_clock(memory.clone(), config, clock.clone())
        } else {
            Engine::with_clock(CountingStore::new(memory.clone()), config, clock.clone())
        };
        Env {
            engine,
            memory,
            clock,
        }
    }

    /// A browser holding a session `{"n": 1, "secret": "keep-out"}` logged in as alice,
    /// whose record is then garbled.
    async fn corrupt_browser(&self) -> (Browser, StoreKey) {
        let mut browser = Browser::new();
        let session = browser.begin(&self.engine);
        session.insert("n", &1).expect("insert");
        session.insert("secret", "keep-out").expect("insert");
        session.login("alice").expect("login");
        let done = browser.finish(&self.engine, &session, 200).await;
        assert!(done.error.is_none(), "{:?}", done.error);
        let key = key_of(&browser);
        assert!(self.memory.corrupt_for_tests(&key, b"\x00garbage"));
        (browser, key)
    }

    async fn holds(&self, key: &StoreKey) -> bool {
        // A garbled record is an error, a deleted one `None`.
        !matches!(self.memory.load(key, self.engine.now()).await, Ok(None))
    }

    async fn record(&self, browser: &Browser) -> satchel::Record {
        self.memory
            .load(&key_of(browser), self.engine.now())
            .await
            .expect("load")
            .expect("a record")
    }
}

fn key_of(browser: &Browser) -> StoreKey {
    SessionId::parse(browser.id().expect("a cookie"))
        .expect("id")
        .store_key()
}

fn removes_cookie(set_cookie: Option<&String>) -> bool {
    set_cookie.is_some_and(|c| c.contains("Max-Age=0"))
}

/// Runs `check` on the in-place and the dynamic path.
async fn both_paths<F, Fut>(policy: CorruptRecords, check: F)
where
    F: Fn(Env, &'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let _serial = SERIAL.lock().await;
    for (in_place, path) in [(true, "in-place"), (false, "dyn")] {
        start_capture();
        check(Env::new(in_place, policy), path).await;
    }
}

/// A read of an unreadable record: anonymous, the cookie is removed, the record deleted,
/// one anomaly event with the store-key reference and the cause, no id in the log.
#[tokio::test]
async fn read_of_a_corrupt_record_is_anonymous() {
    both_paths(CorruptRecords::TreatAsAbsent, |env, path| async move {
        let (browser, key) = env.corrupt_browser().await;
        let session = browser.begin(&env.engine);
        assert_eq!(session.get::<i64>("n").await.expect(path), None, "{path}");
        assert_eq!(session.owner().await.expect(path), None, "{path}");
        let done = env.engine.finish(&session, 200).await;
        assert!(done.error.is_none(), "{path}: {:?}", done.error);
        assert!(removes_cookie(done.set_cookie.as_ref()), "{path}");
        assert!(!env.holds(&key).await, "{path}: the record was not deleted");
        let logs = logs();
        let events: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("corrupt_record"))
            .collect();
        assert_eq!(events.len(), 1, "{path}: {logs}");
        assert!(events[0].contains("satchel::anomaly"), "{path}: {logs}");
        assert!(events[0].contains(&key.short()), "{path}: {logs}");
        assert!(events[0].contains("op=\"load\""), "{path}: {logs}");
        assert!(
            events[0].contains("corrupt session record"),
            "{path}: {logs}"
        );
        assert!(
            !logs.contains(browser.id().expect("id")),
            "{path}: id logged"
        );
        assert!(!logs.contains("keep-out"), "{path}: record content logged");
    })
    .await;
}

/// A read then a write: a brand-new session under a fresh id, holding only what this
/// request wrote (nothing of the unreadable record, no owner).
#[tokio::test]
async fn write_after_reading_a_corrupt_record_starts_a_new_session() {
    both_paths(CorruptRecords::TreatAsAbsent, |env, path| async move {
        let (mut browser, old) = env.corrupt_browser().await;
        let session = browser.begin(&env.engine);
        let n: i64 = session.get("n").await.expect(path).unwrap_or(0);
        session.insert("n", &(n + 10)).expect("insert");
        let done = browser.finish(&env.engine, &session, 200).await;
        assert!(done.error.is_none(), "{path}: {:?}", done.error);
        assert_ne!(key_of(&browser), old, "{path}: the id must change");
        let record = env.record(&browser).await;
        assert_eq!(record.data.len(), 1, "{path}");
        assert_eq!(record.data["n"].deserialize::<i64>().expect("n"), 10);
        assert_eq!(record.meta.owner, None, "{path}");
        assert!(!env.holds(&old).await, "{path}: the record was not deleted");
    })
    .await;
}

/// A write without a read (a blind patch) and a login without a read (a blind rotation):
/// a brand-new session, as for an unknown id.
#[tokio::test]
async fn blind_writes_to_a_corrupt_record_start_a_new_session() {
    both_paths(CorruptRecords::TreatAsAbsent, |env, path| async move {
        let (mut browser, old) = env.corrupt_browser().await;
        let session = browser.begin(&env.engine);
        session.insert("m", &2).expect("insert");
        let done = browser.finish(&env.engine, &session, 200).await;
        assert!(done.error.is_none(), "{path}: {:?}", done.error);
        assert_ne!(key_of(&browser), old, "{path}");
        let record = env.record(&browser).await;
        assert_eq!(record.data.len(), 1, "{path}");
        assert!(!env.holds(&old).await, "{path}: the record was not deleted");
        assert!(logs().contains("op=\"apply\""), "{path}");

        let (mut browser, old) = env.corrupt_browser().await;
        let session = browser.begin(&env.engine);
        session.login("bob").expect("login");
        let done = browser.finish(&env.engine, &session, 200).await;
        assert!(done.error.is_none(), "{path}: {:?}", done.error);
        assert_ne!(key_of(&browser), old, "{path}");
        let record = env.record(&browser).await;
        assert_eq!(record.meta.owner.as_deref(), Some("bob"), "{path}");
        assert!(record.data.get("secret").is_none(), "{path}");
        assert!(!env.holds(&old).await, "{path}: the record was not deleted");
    })
    .await;
}

/// A logout deletes the unreadable record like any other.
#[tokio::test]
async fn logout_deletes_a_corrupt_record() {
    both_paths(CorruptRecords::TreatAsAbsent, |env, path| async move {
        for read_first in [false, true] {
            let (browser, key) = env.corrupt_browser().await;
            let session = browser.begin(&env.engine);
            if read_first {
                assert_eq!(session.get::<i64>("n").await.expect(path), None);
            }
            session.logout();
            let done = env.engine.finish(&session, 200).await;
            assert!(done.error.is_none(), "{path}: {:?}", done.error);
            assert!(removes_cookie(done.set_cookie.as_ref()), "{path}");
            assert!(!env.holds(&key).await, "{path}: not deleted");
        }
    })
    .await;
}

/// A record garbled between the load and the save: a touch goes on (the session ended),
/// a patch of the loaded record answers like a session that ended meanwhile (409).
#[tokio::test]
async fn records_garbled_during_the_request() {
    both_paths(CorruptRecords::TreatAsAbsent, |env, path| async move {
        let mut browser = Browser::new();
        let session = browser.begin(&env.engine);
        session.insert("n", &1).expect("insert");
        browser.finish(&env.engine, &session, 200).await;
        let key = key_of(&browser);

        // Touch: due after a third of the idle timeout.
        env.clock.advance(Duration::from_secs(600));
        let session = browser.begin(&env.engine);
        assert_eq!(session.get::<i64>("n").await.expect(path), Some(1));
        assert!(env.memory.corrupt_for_tests(&key, b"garbage"));
        let done = env.engine.finish(&session, 200).await;
        assert!(done.error.is_none(), "{path}: {:?}", done.error);
        assert!(!env.holds(&key).await, "{path}: not deleted");
        assert!(logs().contains("op=\"touch\""), "{path}");

        // Patch of a loaded record.
        let mut browser = Browser::new();
        let session = browser.begin(&env.engine);
        session.insert("n", &1).expect("insert");
        browser.finish(&env.engine, &session, 200).await;
        let key = key_of(&browser);
        let session = browser.begin(&env.engine);
        let n: i64 = session.get("n").await.expect(path).expect("n");
        assert!(env.memory.corrupt_for_tests(&key, b"garbage"));
        session.insert("n", &(n + 1)).expect("insert");
        let done = env.engine.finish(&session, 200).await;
        let err = done.error.expect("the session ended");
        assert_eq!(err.kind(), SessionErrorKind::Gone, "{path}");
        assert_eq!(ErrorStatuses::default().reply(&err).retry_after, None);
        assert!(!env.holds(&key).await, "{path}: not deleted");
    })
    .await;
}

/// `FailClosed`: the read fails, the response is a 500 without `Retry-After`, the record
/// stays, and the anomaly is still logged with its cause.
#[tokio::test]
async fn fail_closed_answers_500_without_retry_after() {
    both_paths(CorruptRecords::FailClosed, |env, path| async move {
        let (browser, key) = env.corrupt_browser().await;
        for _ in 0..2 {
            let session = browser.begin(&env.engine);
            let err = session.get::<i64>("n").await.expect_err(path);
            assert_eq!(err.store_kind(), Some(StoreErrorKind::Corrupt), "{path}");
            let done = env.engine.finish(&session, 200).await;
            let err = done.error.expect("fails closed");
            assert_eq!(err.default_status(), 500, "{path}");
            let reply = ErrorStatuses::default().reply(&err);
            assert_eq!((reply.status, reply.retry_after), (500, None), "{path}");
            assert!(done.set_cookie.is_none(), "{path}");
        }
        assert!(env.holds(&key).await, "{path}: fail-closed must not delete");
        // A blind write fails closed too.
        let session = browser.begin(&env.engine);
        session.insert("m", &1).expect("insert");
        let err = env.engine.finish(&session, 200).await.error.expect(path);
        assert_eq!(err.default_status(), 500, "{path}");
        let logs = logs();
        assert!(logs.contains("treated_as_absent=false"), "{path}");
        assert!(logs.contains("op=\"apply\""), "{path}: {logs}");
    })
    .await;
}

/// The fuzz corpus's hand-written broken MemoryStore records (fuzz/seeds/memory_record:
/// truncated, overlong varints, unknown versions and flags, invalid UTF-8, ...): each one
/// the store reports as `Corrupt` is no session to a read and to a write, on both paths.
#[tokio::test]
async fn fuzz_seed_records_are_no_session() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/memory_record");
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .expect("fuzz seeds")
        .map(|e| e.expect("entry").path())
        .collect();
    seeds.sort();
    let broken = std::sync::atomic::AtomicUsize::new(0);
    let broken = &broken;
    for seed in &seeds {
        let blob = std::fs::read(seed).expect("seed");
        let name = seed
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        both_paths(CorruptRecords::TreatAsAbsent, |env, path| {
            let blob = blob.clone();
            let name = name.clone();
            async move {
                for write in [false, true] {
                    let (mut browser, key) = env.corrupt_browser().await;
                    assert!(env.memory.corrupt_for_tests(&key, &blob));
                    match env.memory.load(&key, env.engine.now()).await {
                        Err(e) if e.kind() == StoreErrorKind::Corrupt => {
                            broken.fetch_add(usize::from(!write), Ordering::Relaxed);
                        }
                        _ => return, // a seed that decodes is not this check's business
                    }
                    let session = browser.begin(&env.engine);
                    let n = session.get::<i64>("n").await.expect(&name);
                    assert_eq!(n, None, "{name} ({path})");
                    if write {
                        session.insert("n", &5).expect("insert");
                    }
                    let done = browser.finish(&env.engine, &session, 200).await;
                    assert!(done.error.is_none(), "{name} ({path}): {:?}", done.error);
                    if write {
                        assert_eq!(env.record(&browser).await.data.len(), 1, "{name}");
                    }
                    assert!(!env.holds(&key).await, "{name} ({path}): not deleted");
                }
            }
        })
        .await;
    }
    // Both paths saw each broken seed; the corpus has about ten.
    let broken = broken.load(Ordering::Relaxed);
    assert!(broken >= 10, "{broken} broken seeds in {}", dir.display());
}
