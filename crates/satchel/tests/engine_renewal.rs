//! Periodic id renewal (SEC-49, `docs/id-renewal.md`), driven by a `TestClock`, on both
//! engine paths to a MemoryStore: the direct one and the generic store shim (through a
//! counting wrapper), since they load and save through different code.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Browser, CountingStore};
use satchel::{
    ConfigError, Engine, MemoryStore, Record, SessionConfig, SessionErrorKind, SessionId,
    SessionStore, TestClock, ID_ISSUED_AT_KEY,
};

const HOUR: Duration = Duration::from_secs(3600);
const GRACE: Duration = Duration::from_secs(30);
const MS: Duration = Duration::from_millis(1);

fn config() -> SessionConfig {
    // An idle timeout longer than the interval, so the session lives to be renewed.
    SessionConfig::builder()
        .idle_timeout(3 * HOUR)
        .renew_id_after(HOUR)
        .renewal_grace(GRACE)
        .build()
        .expect("config")
}

/// An engine over a MemoryStore, directly or through the generic shim.
struct Setup {
    engine: Engine,
    memory: MemoryStore,
    clock: TestClock,
}

impl Setup {
    fn new(direct: bool) -> Self {
        let memory = MemoryStore::new();
        let clock = TestClock::default();
        let engine = if direct {
            Engine::with_clock(memory.clone(), config(), clock.clone())
        } else {
            Engine::with_clock(CountingStore::new(memory.clone()), config(), clock.clone())
        };
        Setup {
            engine,
            memory,
            clock,
        }
    }

    /// The live record for the cookie value `id` (read past the engine).
    async fn record(&self, id: &str) -> Option<Record> {
        let id = SessionId::parse(id)?;
        self.memory
            .load(&id.store_key(), self.engine.now())
            .await
            .expect("load")
    }

    /// A browser holding a fresh session `{"n": 1}`.
    async fn browser(&self) -> Browser {
        let mut browser = Browser::new();
        let session = browser.begin(&self.engine);
        session.insert("n", &1).expect("insert");
        let done = browser.finish(&self.engine, &session, 200).await;
        assert!(done.error.is_none(), "{:?}", done.error);
        browser
    }

    /// One read-only request: the value of `n` and whether the response set a cookie.
    async fn read(&self, browser: &mut Browser) -> (Option<i64>, bool) {
        let session = browser.begin(&self.engine);
        let n = session.get::<i64>("n").await.expect("get");
        let done = browser.finish(&self.engine, &session, 200).await;
        assert!(done.error.is_none(), "{:?}", done.error);
        (n, done.set_cookie.is_some())
    }
}

fn issued_at(record: &Record) -> Option<String> {
    record
        .data
        .get(ID_ISSUED_AT_KEY)
        .map(|v| v.get().to_owned())
}

/// Past the interval a read-only request moves the session to a new id and sets its
/// cookie; a millisecond before it nothing changes.
async fn renews_after_the_interval_only(direct: bool) {
    let s = Setup::new(direct);
    let mut browser = s.browser().await;
    let first = browser.id().expect("id").to_owned();

    s.clock.advance(HOUR - MS);
    assert_eq!(s.read(&mut browser).await, (Some(1), false), "not due yet");
    assert_eq!(browser.id(), Some(first.as_str()));

    s.clock.advance(MS);
    assert_eq!(s.read(&mut browser).await, (Some(1), true), "due: renewed");
    let second = browser.id().expect("id").to_owned();
    assert_ne!(second, first, "a new id");
    assert!(
        s.record(&first).await.is_none(),
        "the old id holds no session"
    );
    let renewed = s.record(&second).await.expect("renewed record");
    assert_eq!(
        issued_at(&renewed),
        Some(s.engine.now().as_millis().to_string()),
        "the new id's issue time is stored"
    );

    // The interval counts from the renewal, not from the creation.
    s.clock.advance(HOUR - MS);
    assert_eq!(s.read(&mut browser).await, (Some(1), false));
    s.clock.advance(MS);
    assert_eq!(s.read(&mut browser).await, (Some(1), true));
    assert_ne!(browser.id(), Some(second.as_str()));
}

#[tokio::test]
async fn renews_after_the_interval_only_direct() {
    renews_after_the_interval_only(true).await;
}

#[tokio::test]
async fn renews_after_the_interval_only_shim() {
    renews_after_the_interval_only(false).await;
}

/// Inside the grace window the old id reaches the renewed session (reads and writes),
/// is answered with the renewed id's cookie, never renews again and never yields a third
/// id; after the window it is an unknown id, and the store holds one session.
async fn old_id_inside_the_window_reaches_the_new_session_only(direct: bool) {
    let s = Setup::new(direct);
    let mut tab1 = s.browser().await;
    let mut tab2 = tab1.clone();
    let old = tab1.id().expect("id").to_owned();
    s.clock.advance(HOUR);
    assert_eq!(s.read(&mut tab1).await, (Some(1), true));
    let new = tab1.id().expect("id").to_owned();
    let issued = issued_at(&s.record(&new).await.expect("renewed"));

    s.clock.advance(GRACE - MS);
    let session = tab2.begin(&s.engine);
    assert_eq!(session.get::<i64>("n").await.expect("get"), Some(1));
    session.insert("tab2", &true).expect("insert");
    let done = tab2.finish(&s.engine, &session, 200).await;
    assert!(done.error.is_none(), "{:?}", done.error);
    assert_eq!(
        tab2.id(),
        Some(new.as_str()),
        "answered with the renewed id"
    );
    let renewed = s.record(&new).await.expect("renewed");
    assert_eq!(
        renewed.data.get("tab2").map(|v| v.get()),
        Some("true"),
        "the write landed in the renewed session"
    );
    assert_eq!(issued_at(&renewed), issued, "never renewed twice");

    // A read-only request with the old id: the same new id again, no third one.
    let mut tab3 = Browser::with_cookie(format!("id={old}"));
    assert_eq!(s.read(&mut tab3).await, (Some(1), true));
    assert_eq!(tab3.id(), Some(new.as_str()));

    // At the end of the window the old id is dead: anonymous, its cookie removed.
    s.clock.advance(MS);
    let mut late = Browser::with_cookie(format!("id={old}"));
    assert_eq!(s.read(&mut late).await, (None, true));
    assert_eq!(late.id(), None, "the old cookie is removed");
    assert!(s.record(&new).await.is_some());
    s.memory
        .purge_expired(s.engine.now(), usize::MAX)
        .await
        .expect("purge");
    assert_eq!(s.memory.len(), 1, "one session, no fork, forward gone");
}

#[tokio::test]
async fn old_id_inside_the_window_reaches_the_new_session_only_direct() {
    old_id_inside_the_window_reaches_the_new_session_only(true).await;
}

#[tokio::test]
async fn old_id_inside_the_window_reaches_the_new_session_only_shim() {
    old_id_inside_the_window_reaches_the_new_session_only(false).await;
}

/// Two requests carrying the old id, both loaded before the renewal and both writing after
/// it (ordered by hand, no sleeps): the first renews, the second's renewal finds the old
/// record gone, follows the forward and replays its write on the renewed id. Both answer
/// the same new id, both writes are in the one renewed record, renewed once.
async fn two_requests_with_the_old_id_do_not_fork(direct: bool) {
    let s = Setup::new(direct);
    let first = s.browser().await;
    let old = first.id().expect("id").to_owned();
    s.clock.advance(HOUR);
    let (mut a, mut b) = (first.clone(), first.clone());
    let (ra, rb) = (a.begin(&s.engine), b.begin(&s.engine));
    assert_eq!(ra.get::<i64>("n").await.expect("get"), Some(1));
    assert_eq!(rb.get::<i64>("n").await.expect("get"), Some(1));
    ra.insert("a", &1).expect("insert");
    rb.insert("b", &2).expect("insert");
    let done_a = a.finish(&s.engine, &ra, 200).await;
    s.clock.advance(MS);
    let done_b = b.finish(&s.engine, &rb, 200).await;
    assert!(done_a.error.is_none(), "{:?}", done_a.error);
    assert!(done_b.error.is_none(), "{:?}", done_b.error);
    let new = a.id().expect("id").to_owned();
    assert_ne!(new, old);
    assert_eq!(b.id(), Some(new.as_str()), "both land on the same new id");
    let r = s.record(&new).await.expect("renewed");
    let get = |k: &str| r.data.get(k).map(|v| v.get().to_owned());
    assert_eq!(
        (get("n"), get("a"), get("b")),
        (Some("1".into()), Some("1".into()), Some("2".into()))
    );
    let issued = issued_at(&r);
    assert_eq!(
        issued,
        Some((s.engine.now().as_millis() - 1).to_string()),
        "renewed once, by the first"
    );

    s.clock.advance(GRACE);
    let mut late = Browser::with_cookie(format!("id={old}"));
    assert_eq!(s.read(&mut late).await, (None, true));
    s.memory
        .purge_expired(s.engine.now(), usize::MAX)
        .await
        .expect("purge");
    assert_eq!(s.memory.len(), 1, "exactly one live session");
}

#[tokio::test]
async fn two_requests_with_the_old_id_do_not_fork_direct() {
    two_requests_with_the_old_id_do_not_fork(true).await;
}

#[tokio::test]
async fn two_requests_with_the_old_id_do_not_fork_shim() {
    two_requests_with_the_old_id_do_not_fork(false).await;
}

/// Many concurrent requests with the old id on a multi-threaded runtime, all loaded before
/// any saves (a barrier): every one succeeds with the same new id, every write is in the
/// one renewed record and no other session exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_with_the_old_id_renew_once() {
    for direct in [true, false] {
        let s = Arc::new(Setup::new(direct));
        let first = s.browser().await;
        s.clock.advance(HOUR);
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (s, barrier, mut browser) = (Arc::clone(&s), Arc::clone(&barrier), first.clone());
            tasks.push(tokio::spawn(async move {
                let session = browser.begin(&s.engine);
                assert_eq!(session.get::<i64>("n").await.expect("get"), Some(1));
                barrier.wait().await;
                session.insert(&format!("k{i}"), &i).expect("insert");
                let done = browser.finish(&s.engine, &session, 200).await;
                assert!(done.error.is_none(), "request {i}: {:?}", done.error);
                browser.id().expect("id").to_owned()
            }));
        }
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.expect("task"));
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "direct={direct}: one new id for all: {ids:?}");
        assert_ne!(Some(ids[0].as_str()), first.id());
        let r = s.record(&ids[0]).await.expect("renewed");
        for i in 0..8 {
            assert_eq!(
                r.data.get(&format!("k{i}")).map(|v| v.get().to_owned()),
                Some(i.to_string()),
                "direct={direct}: write {i} is in the renewed record"
            );
        }
        s.memory
            .purge_expired(s.engine.now().saturating_add(GRACE), usize::MAX)
            .await
            .expect("purge");
        assert_eq!(s.memory.len(), 1, "direct={direct}: no fork");
    }
}

/// A request that read a key and wrote it back, racing a renewal that changed the same
/// key: its replay on the renewed id is a real conflict, not a silent overwrite.
#[tokio::test]
async fn a_replayed_write_still_conflicts_on_a_changed_key() {
    for direct in [true, false] {
        let s = Setup::new(direct);
        let first = s.browser().await;
        s.clock.advance(HOUR);
        let (mut a, mut b) = (first.clone(), first.clone());
        let (ra, rb) = (a.begin(&s.engine), b.begin(&s.engine));
        let n = ra.get::<i64>("n").await.expect("get").expect("n");
        let m = rb.get::<i64>("n").await.expect("get").expect("n");
        ra.insert("n", &(n + 1)).expect("insert");
        rb.insert("n", &(m + 10)).expect("insert");
        let done_a = a.finish(&s.engine, &ra, 200).await;
        assert!(done_a.error.is_none(), "{:?}", done_a.error);
        let done_b = b.finish(&s.engine, &rb, 200).await;
        let err = done_b.error.expect("a conflict");
        assert_eq!(err.kind(), SessionErrorKind::Conflict, "direct={direct}");
        let r = s.record(a.id().expect("id")).await.expect("renewed");
        assert_eq!(
            r.data.get("n").map(|v| v.get()),
            Some("2"),
            "direct={direct}"
        );
    }
}

/// Renewal is opt-in, validated at build time, and an engine refuses a store that does not
/// claim it, at construction.
#[test]
fn renewal_configuration_errors() {
    assert_eq!(SessionConfig::default().renewal(), None, "off by default");
    let b = || SessionConfig::builder().renew_id_after(HOUR);
    assert_eq!(
        b().renewal_grace(HOUR).build(),
        Err(ConfigError::Renewal),
        "grace < interval"
    );
    assert_eq!(
        b().renewal_grace(Duration::from_secs(301)).build(),
        Err(ConfigError::Renewal),
        "grace at most 5 min"
    );
    assert_eq!(
        b().renewal_grace(Duration::ZERO).build(),
        Err(ConfigError::Renewal)
    );
    let ok = b().build().expect("default grace");
    assert_eq!(ok.renewal().map(|r| r.grace), Some(Duration::from_secs(30)));

    let err = Engine::try_with_clock(
        NoRenewal(MemoryStore::new()),
        config(),
        TestClock::default(),
    )
    .expect_err("store without renewal");
    assert_eq!(err, ConfigError::RenewalUnsupported);
    assert!(
        Engine::try_with_clock(
            NoRenewal(MemoryStore::new()),
            SessionConfig::default(),
            TestClock::default()
        )
        .is_ok(),
        "without renewal the store is fine"
    );
    assert!(Engine::try_new(MemoryStore::new(), config()).is_ok());
}

/// A MemoryStore that does not claim renewal (the default `renew`).
#[derive(Clone)]
struct NoRenewal(MemoryStore);

impl SessionStore for NoRenewal {
    async fn load(
        &self,
        key: &satchel::StoreKey,
        now: satchel::Timestamp,
    ) -> Result<Option<Record>, satchel::StoreError> {
        self.0.load(key, now).await
    }
    async fn create(
        &self,
        key: &satchel::StoreKey,
        record: &Record,
        now: satchel::Timestamp,
    ) -> Result<satchel::WriteOutcome, satchel::StoreError> {
        self.0.create(key, record, now).await
    }
    async fn apply(
        &self,
        key: &satchel::StoreKey,
        patch: &satchel::Patch,
        now: satchel::Timestamp,
    ) -> Result<satchel::WriteOutcome, satchel::StoreError> {
        self.0.apply(key, patch, now).await
    }
    async fn delete(&self, key: &satchel::StoreKey) -> Result<(), satchel::StoreError> {
        self.0.delete(key).await
    }
}

/// On the MemoryStore a renewal and a followed forward still complete inline
/// (`finish_now`, which integrations try first): no await of theirs waits.
#[tokio::test]
async fn renewal_completes_inline_on_the_memory_store() {
    let s = Setup::new(true);
    let first = s.browser().await;
    s.clock.advance(HOUR);
    let (mut a, mut b) = (first.clone(), first.clone());
    let (ra, rb) = (a.begin(&s.engine), b.begin(&s.engine));
    assert_eq!(ra.get::<i64>("n").await.expect("get"), Some(1));
    assert_eq!(rb.get::<i64>("n").await.expect("get"), Some(1));
    rb.insert("b", &2).expect("insert");
    let done_a = s.engine.finish_now(&ra, 200).expect("inline");
    a.receive(&done_a);
    let done_b = s.engine.finish_now(&rb, 200).expect("inline");
    b.receive(&done_b);
    assert!(done_a.error.is_none() && done_b.error.is_none());
    assert_ne!(a.id(), first.id(), "renewed inline");
    assert_eq!(a.id(), b.id(), "the forward followed inline");
    let r = s.record(a.id().expect("id")).await.expect("renewed");
    assert_eq!(r.data.get("b").map(|v| v.get()), Some("2"));
}
