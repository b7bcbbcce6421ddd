//! Periodic id renewal (SEC-49, `docs/id-renewal.md`) through satchel's `Engine` on a real
//! `RedisStore`, driven by a `TestClock` that starts at the real time (Redis expires keys
//! by its own clock, so the test clock must not start in the past): on standalone Redis,
//! with the near cache, and through Sentinel. Plus what the store leaves in Redis (the
//! forward key and its TTL), a malformed forward, and the Cluster refusal.

mod common;

use std::sync::Arc;
use std::time::Duration;

use satchel::{
    ConfigError, Engine, Finish, Record, Session, SessionConfig, SessionId, SessionStore,
    StoreErrorKind, StoreKey, TestClock, Timestamp, WriteOutcome, ID_ISSUED_AT_KEY,
};
use satchel_redis::{NearCacheConfig, RedisConfig, RedisStore};

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

/// Keeps the session cookie like a browser.
#[derive(Debug, Clone, Default)]
struct Browser {
    cookie: Option<String>,
}

impl Browser {
    fn with_id(id: &str) -> Self {
        Browser {
            cookie: Some(format!("id={id}")),
        }
    }

    fn id(&self) -> Option<&str> {
        self.cookie
            .as_deref()
            .and_then(|c| c.split_once('='))
            .map(|(_, v)| v)
    }

    fn begin(&self, engine: &Engine) -> Session {
        match &self.cookie {
            Some(c) => engine.begin([c.as_bytes()]),
            None => engine.begin(std::iter::empty::<&[u8]>()),
        }
    }

    async fn finish(&mut self, engine: &Engine, session: &Session) -> Finish {
        let done = engine.finish(session, 200).await;
        if let Some(set) = &done.set_cookie {
            let pair = set.split(';').next().unwrap_or_default().trim();
            let value = pair.split_once('=').map_or("", |(_, v)| v);
            let removal = set
                .split(';')
                .any(|a| a.trim().eq_ignore_ascii_case("Max-Age=0"));
            self.cookie = (!value.is_empty() && !removal).then(|| pair.to_owned());
        }
        done
    }
}

/// Engines over stores on one Redis (one prefix), sharing one test clock: `engines[i]`
/// is another process's store when `i > 0`.
struct Setup {
    engines: Vec<Engine>,
    store: RedisStore,
    clock: TestClock,
    url: String,
}

impl Setup {
    /// `None` (a loud skip) when `var` is not set.
    async fn new(var: &str, near_cache: bool, processes: usize) -> Option<Setup> {
        let url = common::url(var)?;
        let prefix = common::prefix();
        let clock = TestClock::new(Timestamp::now());
        let mut stores = Vec::new();
        for _ in 0..processes.max(1) {
            let mut c = RedisConfig::with_prefix(prefix.clone());
            if near_cache {
                c.near_cache = Some(NearCacheConfig::default());
            }
            stores.push(RedisStore::connect(&url, c).await.expect("connect"));
        }
        let store = stores[0].clone();
        let engines = stores
            .into_iter()
            .map(|s| Engine::try_with_clock(s, config(), clock.clone()).expect("renewal claimed"))
            .collect();
        Some(Setup {
            engines,
            store,
            clock,
            url,
        })
    }

    fn engine(&self) -> &Engine {
        &self.engines[0]
    }

    fn now(&self) -> Timestamp {
        self.engine().now()
    }

    /// The live record for the session id `id`, read past the engine.
    async fn record(&self, id: &str) -> Option<Record> {
        let key = SessionId::parse(id)?.store_key();
        self.store.load(&key, self.now()).await.expect("load")
    }

    async fn forward(&self, id: &str) -> Option<Vec<u8>> {
        let key = SessionId::parse(id).expect("id").store_key();
        self.store
            .load_forward(&key, self.now())
            .await
            .expect("load_forward")
    }

    /// A browser holding a fresh session `{"n": 1}`.
    async fn browser(&self) -> Browser {
        let mut browser = Browser::default();
        let session = browser.begin(self.engine());
        session.insert("n", &1).expect("insert");
        let done = browser.finish(self.engine(), &session).await;
        assert!(done.error.is_none(), "{:?}", done.error);
        browser
    }

    /// One read-only request: the value of `n` and whether the response set a cookie.
    async fn read(&self, browser: &mut Browser) -> (Option<i64>, bool) {
        let session = browser.begin(self.engine());
        let n = session.get::<i64>("n").await.expect("get");
        let done = browser.finish(self.engine(), &session).await;
        assert!(done.error.is_none(), "{:?}", done.error);
        (n, done.set_cookie.is_some())
    }

    /// A plain connection to the server that takes writes.
    async fn raw(&self) -> redis::aio::MultiplexedConnection {
        let url = common::direct_url(&self.url).await;
        redis::Client::open(url)
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect")
    }
}

fn issued_at(record: &Record) -> Option<String> {
    record
        .data
        .get(ID_ISSUED_AT_KEY)
        .map(|v| v.get().to_owned())
}

fn key_of(id: &str) -> StoreKey {
    SessionId::parse(id).expect("id").store_key()
}

/// Renewal due → a new id; the old id leads only to the new one within the grace window
/// (reads and writes, answered with the new id's cookie, never renewed again); dead at
/// the end of the window.
async fn renewal_moves_the_id_and_forwards_within_grace_only(setup: Option<Setup>) {
    let Some(s) = setup else {
        return;
    };
    let mut tab1 = s.browser().await;
    let mut tab2 = tab1.clone();
    let old = tab1.id().expect("id").to_owned();

    s.clock.advance(HOUR - MS);
    assert_eq!(s.read(&mut tab1).await, (Some(1), false), "not due yet");
    assert_eq!(tab1.id(), Some(old.as_str()));

    s.clock.advance(MS);
    assert_eq!(s.read(&mut tab1).await, (Some(1), true), "due: renewed");
    let new = tab1.id().expect("id").to_owned();
    assert_ne!(new, old, "a new id");
    assert!(
        s.record(&old).await.is_none(),
        "the old id holds no session"
    );
    assert!(
        s.forward(&old).await.is_some(),
        "the old id holds a forward"
    );
    let renewed = s.record(&new).await.expect("renewed record");
    let issued = issued_at(&renewed);
    assert_eq!(issued, Some(s.now().as_millis().to_string()));

    // Inside the window: a write with the old id lands on the renewed session and is
    // answered with the new id.
    s.clock.advance(GRACE - MS);
    let session = tab2.begin(s.engine());
    assert_eq!(session.get::<i64>("n").await.expect("get"), Some(1));
    session.insert("tab2", &true).expect("insert");
    let done = tab2.finish(s.engine(), &session).await;
    assert!(done.error.is_none(), "{:?}", done.error);
    assert_eq!(
        tab2.id(),
        Some(new.as_str()),
        "answered with the renewed id"
    );
    let renewed = s.record(&new).await.expect("renewed");
    assert_eq!(renewed.data.get("tab2").map(|v| v.get()), Some("true"));
    assert_eq!(issued_at(&renewed), issued, "never renewed twice");

    // A read-only request with the old id: the same new id, no third one.
    let mut tab3 = Browser::with_id(&old);
    assert_eq!(s.read(&mut tab3).await, (Some(1), true));
    assert_eq!(tab3.id(), Some(new.as_str()));

    // At the end of the window the old id is dead: anonymous, its cookie removed, while
    // the forward key may still be in Redis (its TTL is by Redis's clock).
    s.clock.advance(MS);
    assert_eq!(s.forward(&old).await, None, "dead at the caller's now");
    let mut late = Browser::with_id(&old);
    assert_eq!(s.read(&mut late).await, (None, true));
    assert_eq!(late.id(), None, "the old cookie is removed");
    assert!(
        s.record(&new).await.is_some(),
        "the renewed session lives on"
    );
    assert_eq!(
        s.store
            .load(&key_of(&old), s.now())
            .await
            .expect("load old"),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_moves_the_id_and_forwards_within_grace_only_standalone() {
    renewal_moves_the_id_and_forwards_within_grace_only(
        Setup::new("SATCHEL_REDIS_URL", false, 1).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_moves_the_id_and_forwards_within_grace_only_near_cache() {
    renewal_moves_the_id_and_forwards_within_grace_only(
        Setup::new("SATCHEL_REDIS_URL", true, 1).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_moves_the_id_and_forwards_within_grace_only_sentinel() {
    renewal_moves_the_id_and_forwards_within_grace_only(
        Setup::new("SATCHEL_REDIS_SENTINEL_URL", false, 1).await,
    )
    .await;
}

/// Concurrent requests carrying the old id, all loaded before any saves (a barrier), on
/// two processes' stores: every one succeeds and ends on the same new id, every write is
/// in the one renewed record, renewed once, and after the window the old id is dead.
async fn concurrent_requests_with_the_old_id_end_on_one_new_id(setup: Option<Setup>, n: usize) {
    let Some(s) = setup else {
        return;
    };
    let s = Arc::new(s);
    let first = s.browser().await;
    let old = first.id().expect("id").to_owned();
    s.clock.advance(HOUR);
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let (s, barrier, mut browser) = (Arc::clone(&s), Arc::clone(&barrier), first.clone());
        tasks.push(tokio::spawn(async move {
            let engine = &s.engines[i % s.engines.len()];
            let session = browser.begin(engine);
            assert_eq!(session.get::<i64>("n").await.expect("get"), Some(1));
            barrier.wait().await;
            session.insert(&format!("k{i}"), &i).expect("insert");
            let done = browser.finish(engine, &session).await;
            assert!(done.error.is_none(), "request {i}: {:?}", done.error);
            assert!(
                done.set_cookie.is_some(),
                "request {i}: the new id's cookie"
            );
            browser.id().expect("id").to_owned()
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.expect("task"));
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one new id for all: {ids:?}");
    let new = &ids[0];
    assert_ne!(*new, old);
    let r = s.record(new).await.expect("renewed");
    for i in 0..n {
        assert_eq!(
            r.data.get(&format!("k{i}")).map(|v| v.get().to_owned()),
            Some(i.to_string()),
            "write {i} is in the renewed record"
        );
    }
    assert_eq!(
        issued_at(&r),
        Some(s.now().as_millis().to_string()),
        "renewed once, at the renewal time"
    );
    assert!(s.record(&old).await.is_none());

    s.clock.advance(GRACE);
    let mut late = Browser::with_id(&old);
    assert_eq!(
        s.read(&mut late).await,
        (None, true),
        "dead after the window"
    );
    assert!(s.record(new).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_requests_with_the_old_id_end_on_one_new_id_standalone() {
    concurrent_requests_with_the_old_id_end_on_one_new_id(
        Setup::new("SATCHEL_REDIS_URL", false, 2).await,
        2,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_requests_with_the_old_id_end_on_one_new_id_standalone() {
    concurrent_requests_with_the_old_id_end_on_one_new_id(
        Setup::new("SATCHEL_REDIS_URL", false, 2).await,
        8,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_requests_with_the_old_id_end_on_one_new_id_near_cache() {
    concurrent_requests_with_the_old_id_end_on_one_new_id(
        Setup::new("SATCHEL_REDIS_URL", true, 2).await,
        8,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_requests_with_the_old_id_end_on_one_new_id_sentinel() {
    concurrent_requests_with_the_old_id_end_on_one_new_id(
        Setup::new("SATCHEL_REDIS_SENTINEL_URL", false, 2).await,
        8,
    )
    .await;
}

/// Two requests ordered by hand (no sleeps): both loaded the old record before the
/// renewal, the second writes after it, on another process's store, and its write is
/// replayed on the renewed id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_loaded_before_the_renewal_lands_on_the_new_id() {
    let Some(s) = Setup::new("SATCHEL_REDIS_URL", false, 2).await else {
        return;
    };
    let first = s.browser().await;
    s.clock.advance(HOUR);
    let (mut a, mut b) = (first.clone(), first.clone());
    let (ra, rb) = (a.begin(&s.engines[0]), b.begin(&s.engines[1]));
    assert_eq!(ra.get::<i64>("n").await.expect("get"), Some(1));
    assert_eq!(rb.get::<i64>("n").await.expect("get"), Some(1));
    ra.insert("a", &1).expect("insert");
    rb.insert("b", &2).expect("insert");
    let done_a = a.finish(&s.engines[0], &ra).await;
    assert!(done_a.error.is_none(), "{:?}", done_a.error);
    s.clock.advance(MS);
    let done_b = b.finish(&s.engines[1], &rb).await;
    assert!(done_b.error.is_none(), "{:?}", done_b.error);
    assert_ne!(a.id(), first.id());
    assert_eq!(a.id(), b.id(), "both on the same new id");
    let r = s.record(a.id().expect("id")).await.expect("renewed");
    let get = |k: &str| r.data.get(k).map(|v| v.get().to_owned());
    assert_eq!((get("a"), get("b")), (Some("1".into()), Some("2".into())));
}

/// What a renewal leaves in Redis: no session under the old key, the forward under
/// `{prefix}f:{hex}` with its TTL at the grace deadline, the renewed session under the
/// new key; `delete` of the old key removes the forward; `create` on a key whose forward
/// is dead at the caller's `now` (still in Redis) replaces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forward_has_its_own_key_and_ttl() {
    let Some(s) = Setup::new("SATCHEL_REDIS_URL", false, 1).await else {
        return;
    };
    let mut browser = s.browser().await;
    let old = browser.id().expect("id").to_owned();
    s.clock.advance(HOUR);
    assert_eq!(s.read(&mut browser).await, (Some(1), true));
    let new = browser.id().expect("id").to_owned();
    let (ko, kn) = (key_of(&old), key_of(&new));
    let fk = s.store.forward_key(&ko);
    assert_eq!(
        fk,
        format!("{}f:{}", s.store.prefix(), ko.to_hex()),
        "documented name"
    );
    let mut raw = s.raw().await;
    let exists = |k: String| redis::cmd("EXISTS").arg(k).clone();
    let n: u64 = exists(s.store.session_key(&ko))
        .query_async(&mut raw)
        .await
        .expect("exists");
    assert_eq!(n, 0, "the old session key is gone");
    let n: u64 = exists(s.store.session_key(&kn))
        .query_async(&mut raw)
        .await
        .expect("exists");
    assert_eq!(n, 1, "the new session key");
    let at: i64 = redis::cmd("PEXPIRETIME")
        .arg(&fk)
        .query_async(&mut raw)
        .await
        .expect("pexpiretime");
    let until = s.now().saturating_add(GRACE).as_millis();
    assert_eq!(
        u64::try_from(at).ok(),
        Some(until),
        "TTL at the grace deadline"
    );
    let value: Vec<u8> = redis::cmd("GET")
        .arg(&fk)
        .query_async(&mut raw)
        .await
        .expect("get");
    assert_eq!(value.first(), Some(&b'F'));
    assert_eq!(&value[1..14], format!("{until:013}").as_bytes());

    // A create on the old key while the forward lives: taken.
    let mut rec = s.record(&new).await.expect("renewed");
    rec.data.remove(ID_ISSUED_AT_KEY);
    let now = s.now();
    assert_eq!(
        s.store.create(&ko, &rec, now).await.expect("create"),
        WriteOutcome::KeyTaken
    );
    // Past the deadline at the caller's now, though Redis still holds it: replaced, and
    // the dead forward goes.
    let later = Timestamp::from_millis(until);
    assert!(matches!(
        s.store.create(&ko, &rec, later).await.expect("create"),
        WriteOutcome::Applied(_)
    ));
    let n: u64 = exists(fk.clone())
        .query_async(&mut raw)
        .await
        .expect("exists");
    assert_eq!(n, 0, "the dead forward was deleted by the create");
    assert_eq!(
        s.store.load_forward(&ko, now).await.expect("load_forward"),
        None
    );
    s.store.delete(&ko).await.expect("delete");

    // delete of a forwarded key removes the forward at once.
    let (k1, k2) = (
        SessionId::generate().store_key(),
        SessionId::generate().store_key(),
    );
    s.store.create(&k1, &rec, now).await.expect("create");
    let out = s
        .store
        .renew(
            &k1,
            &k2,
            &Default::default(),
            b"fwd",
            now.saturating_add(GRACE),
            now,
        )
        .await
        .expect("renew");
    assert!(matches!(out, WriteOutcome::Applied(_)), "{out:?}");
    s.store.delete(&k1).await.expect("delete");
    let n: u64 = exists(s.store.forward_key(&k1))
        .query_async(&mut raw)
        .await
        .expect("exists");
    assert_eq!(n, 0, "delete removed the forward key");
    assert!(s.store.load(&k2, now).await.expect("load").is_some());
}

/// A forward value that is not one (garbage, a well-framed forward whose bytes do not
/// open, another type under the key) is absent for the request carrying the old id:
/// anonymous, its cookie removed, never an error or a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_forward_is_absent() {
    let Some(s) = Setup::new("SATCHEL_REDIS_URL", false, 1).await else {
        return;
    };
    let mut raw = s.raw().await;
    let until = s
        .now()
        .saturating_add(HOUR)
        .saturating_add(GRACE)
        .as_millis();
    let garbage: Vec<Vec<u8>> = vec![
        b"garbage".to_vec(),
        b"F".to_vec(),
        format!("F{until:013}not forward bytes").into_bytes(),
        [format!("F{until:013}").as_bytes(), &[0u8; 40]].concat(),
    ];
    for (i, bad) in garbage.iter().enumerate() {
        let mut browser = s.browser().await;
        let old = browser.id().expect("id").to_owned();
        s.clock.advance(HOUR);
        assert_eq!(s.read(&mut browser).await, (Some(1), true), "case {i}");
        let fk = s.store.forward_key(&key_of(&old));
        let _: () = redis::cmd("SET")
            .arg(&fk)
            .arg(bad.as_slice())
            .query_async(&mut raw)
            .await
            .expect("set");
        let mut stale = Browser::with_id(&old);
        assert_eq!(
            s.read(&mut stale).await,
            (None, true),
            "case {i}: anonymous"
        );
        assert_eq!(stale.id(), None, "case {i}: the old cookie is removed");
    }
    // Another type under the forward key: a corrupt forward too.
    let mut browser = s.browser().await;
    let old = browser.id().expect("id").to_owned();
    s.clock.advance(HOUR);
    assert_eq!(s.read(&mut browser).await, (Some(1), true));
    let fk = s.store.forward_key(&key_of(&old));
    let _: () = redis::pipe()
        .del(&fk)
        .hset(&fk, "x", "y")
        .query_async(&mut raw)
        .await
        .expect("hash");
    let err = s
        .store
        .load_forward(&key_of(&old), s.now())
        .await
        .expect_err("corrupt");
    assert_eq!(err.kind(), StoreErrorKind::Corrupt);
    let mut stale = Browser::with_id(&old);
    assert_eq!(s.read(&mut stale).await, (None, true), "anonymous");
    let n: u64 = redis::cmd("EXISTS")
        .arg(&fk)
        .query_async(&mut raw)
        .await
        .expect("exists");
    assert_eq!(
        n, 0,
        "the engine deleted the unreadable forward with the key"
    );
}

/// On a Cluster the store does not claim renewal (no atomic cross-slot move): an engine
/// configured with a renewal interval is refused at construction, `renew` answers
/// `Unsupported` and no forward is ever read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_refuses_renewal_at_engine_construction() {
    let Some(url) = common::url("SATCHEL_REDIS_CLUSTER_URL") else {
        return;
    };
    let store = RedisStore::connect(&url, RedisConfig::with_prefix(common::prefix()))
        .await
        .expect("connect");
    assert!(!store.capabilities().renewal);
    let err = Engine::try_new(store.clone(), config()).expect_err("refused");
    assert_eq!(err, ConfigError::RenewalUnsupported);
    assert!(Engine::try_new(store.clone(), SessionConfig::default()).is_ok());
    let now = Timestamp::now();
    let (old, new) = (
        SessionId::generate().store_key(),
        SessionId::generate().store_key(),
    );
    let err = store
        .renew(&old, &new, &Default::default(), b"f", now, now)
        .await
        .expect_err("unsupported");
    assert_eq!(err.kind(), StoreErrorKind::Unsupported);
    assert_eq!(store.load_forward(&old, now).await.expect("none"), None);
}

/// `revoke_owner` racing renewals of one of the owner's sessions (another process renews
/// it again and again while the revocation runs): when both are done, no session of the
/// owner is live and so no forward leads anywhere (the renew script moves the owner index
/// member with the session, and the revocation reads the index again until it has seen
/// every member).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoke_owner_racing_renewals_leaves_no_live_session() {
    let Some(url) = common::url("SATCHEL_REDIS_URL") else {
        return;
    };
    let prefix = common::prefix();
    let connect = || async {
        RedisStore::connect(&url, RedisConfig::with_prefix(prefix.clone()))
            .await
            .expect("connect")
    };
    let (revoker, renewer) = (connect().await, connect().await);
    for round in 0..20 {
        let now = Timestamp::now();
        let owner = format!("owner-{round}");
        let first = SessionId::generate().store_key();
        let mut record = Record {
            data: Default::default(),
            meta: satchel::Meta::new(now, HOUR, 3 * HOUR),
        };
        record.meta.owner = Some(owner.clone());
        revoker.create(&first, &record, now).await.expect("create");
        let store = renewer.clone();
        let task = tokio::spawn(async move {
            let mut current = first;
            for _ in 0..40 {
                let next = SessionId::generate().store_key();
                let until = now.saturating_add(GRACE);
                match store
                    .renew(&current, &next, &Default::default(), b"f", until, now)
                    .await
                    .expect("renew")
                {
                    WriteOutcome::Applied(_) => current = next,
                    WriteOutcome::Gone => break,
                    other => panic!("renew: {other:?}"),
                }
                tokio::task::yield_now().await;
            }
            current
        });
        tokio::task::yield_now().await;
        revoker.revoke_owner(&owner, None).await.expect("revoke");
        let last = task.await.expect("task");
        let live = revoker.load(&last, now).await.expect("load").is_some();
        let listed = revoker.sessions_of(&owner, now).await.expect("sessions_of");
        if live {
            // The renewer may have kept going after the revocation only if the revocation
            // missed its session.
            panic!("round {round}: a renewed session survived revoke_owner ({listed:?})");
        }
        assert!(listed.is_empty(), "round {round}: {listed:?}");
    }
}

/// With the near cache, a renewal drops both session keys from the cache (the tracking
/// connection is `NOLOOP`: Redis sends this store no invalidation for its own writes), so
/// the next load of the old key is absent and of the new one is read from Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renew_drops_the_keys_it_touches_from_the_near_cache() {
    let Some(s) = Setup::new("SATCHEL_REDIS_URL", true, 1).await else {
        return;
    };
    let now = s.now();
    let (old, new) = (
        SessionId::generate().store_key(),
        SessionId::generate().store_key(),
    );
    let record = Record {
        data: Default::default(),
        meta: satchel::Meta::new(now, HOUR, 3 * HOUR),
    };
    s.store.create(&old, &record, now).await.expect("create");
    assert!(s.store.load(&old, now).await.expect("load").is_some());
    assert!(s.store.near_cache_holds(&old), "cached by the load");
    let out = s
        .store
        .renew(
            &old,
            &new,
            &Default::default(),
            b"f",
            now.saturating_add(GRACE),
            now,
        )
        .await
        .expect("renew");
    assert!(matches!(out, WriteOutcome::Applied(_)), "{out:?}");
    assert!(!s.store.near_cache_holds(&old), "the old key is dropped");
    assert!(
        !s.store.near_cache_holds(&new),
        "the new key is not cached stale"
    );
    assert!(s.store.load(&old, now).await.expect("load").is_none());
    assert!(s.store.load(&new, now).await.expect("load").is_some());
}
