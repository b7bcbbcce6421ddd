//! Shared helpers for the engine integration tests: a store wrapper that counts (and can
//! fail) every operation, a tiny cookie-keeping "browser", and an environment bundling an
//! engine over a counted `MemoryStore` with a `TestClock`.
//!
//! Not every test file uses every helper.
#![allow(dead_code)]

pub(crate) mod log_capture;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use satchel::{
    Capabilities, Engine, Expires, Finish, MemoryStore, Patch, Record, Session, SessionConfig,
    SessionId, SessionInfo, SessionStore, StoreError, StoreErrorKind, StoreKey, TestClock,
    Timestamp, WriteOutcome,
};

/// The store operations the engine uses per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Load,
    Create,
    Apply,
    Rotate,
    Delete,
    Touch,
}

const OPS: [Op; 6] = [
    Op::Load,
    Op::Create,
    Op::Apply,
    Op::Rotate,
    Op::Delete,
    Op::Touch,
];

impl Op {
    fn index(self) -> usize {
        match self {
            Op::Load => 0,
            Op::Create => 1,
            Op::Apply => 2,
            Op::Rotate => 3,
            Op::Delete => 4,
            Op::Touch => 5,
        }
    }
}

/// How many times each operation was called (failed calls included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) load: usize,
    pub(crate) create: usize,
    pub(crate) apply: usize,
    pub(crate) rotate: usize,
    pub(crate) delete: usize,
    pub(crate) touch: usize,
}

impl Counts {
    /// Every call, reads and writes.
    pub(crate) fn total(&self) -> usize {
        self.load + self.writes()
    }

    /// Every call that may change the store.
    pub(crate) fn writes(&self) -> usize {
        self.create + self.apply + self.rotate + self.delete + self.touch
    }
}

#[derive(Default)]
struct Stats {
    calls: [AtomicUsize; 6],
    fail: [AtomicBool; 6],
}

/// Wraps a store, counting every call per operation; each operation can be switched to
/// fail with `StoreErrorKind::Unavailable` (the inner store is then not called).
#[derive(Clone)]
pub(crate) struct CountingStore<S> {
    inner: S,
    stats: Arc<Stats>,
}

impl<S> fmt::Debug for CountingStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingStore")
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl<S> CountingStore<S> {
    pub(crate) fn new(inner: S) -> Self {
        CountingStore {
            inner,
            stats: Arc::default(),
        }
    }

    pub(crate) fn counts(&self) -> Counts {
        let n = |op: Op| self.stats.calls[op.index()].load(Ordering::SeqCst);
        Counts {
            load: n(Op::Load),
            create: n(Op::Create),
            apply: n(Op::Apply),
            rotate: n(Op::Rotate),
            delete: n(Op::Delete),
            touch: n(Op::Touch),
        }
    }

    /// Zeroes the counters (not the failure switches).
    pub(crate) fn reset(&self) {
        for c in &self.stats.calls {
            c.store(0, Ordering::SeqCst);
        }
    }

    /// Makes `op` fail (`true`) or work again (`false`).
    pub(crate) fn set_fail(&self, op: Op, fail: bool) {
        self.stats.fail[op.index()].store(fail, Ordering::SeqCst);
    }

    /// Makes loads fail.
    pub(crate) fn fail_loads(&self, fail: bool) {
        self.set_fail(Op::Load, fail);
    }

    /// Makes every write (create, apply, rotate, delete, touch) fail.
    pub(crate) fn fail_writes(&self, fail: bool) {
        for op in OPS {
            if op != Op::Load {
                self.set_fail(op, fail);
            }
        }
    }

    /// Makes every operation fail.
    pub(crate) fn fail_all(&self, fail: bool) {
        for op in OPS {
            self.set_fail(op, fail);
        }
    }

    /// Counts a call to `op`; `Err` if `op` is switched to fail.
    fn call(&self, op: Op) -> Result<(), StoreError> {
        self.stats.calls[op.index()].fetch_add(1, Ordering::SeqCst);
        if self.stats.fail[op.index()].load(Ordering::SeqCst) {
            Err(StoreError::msg(
                StoreErrorKind::Unavailable,
                "injected failure (CountingStore)",
            ))
        } else {
            Ok(())
        }
    }
}

impl<S: SessionStore + Clone> SessionStore for CountingStore<S> {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        self.call(Op::Load)?;
        self.inner.load(key, now).await
    }

    async fn create(
        &self,
        key: &StoreKey,
        record: &Record,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.call(Op::Create)?;
        self.inner.create(key, record, now).await
    }

    async fn apply(
        &self,
        key: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.call(Op::Apply)?;
        self.inner.apply(key, patch, now).await
    }

    async fn rotate(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.call(Op::Rotate)?;
        self.inner.rotate(old, new, patch, now).await
    }

    /// Counted as a rotation (it is one, with a forward left behind).
    async fn renew(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        forward: &[u8],
        grace_until: Timestamp,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.call(Op::Rotate)?;
        self.inner
            .renew(old, new, patch, forward, grace_until, now)
            .await
    }

    /// Counted as a load (the second read of a load that found nothing).
    async fn load_forward(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.call(Op::Load)?;
        self.inner.load_forward(key, now).await
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.call(Op::Delete)?;
        self.inner.delete(key).await
    }

    async fn touch(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Expires>, StoreError> {
        self.call(Op::Touch)?;
        self.inner.touch(key, now).await
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn sessions_of(
        &self,
        owner: &str,
        now: Timestamp,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        self.inner.sessions_of(owner, now).await
    }

    async fn revoke_owner(&self, owner: &str, keep: Option<&StoreKey>) -> Result<u64, StoreError> {
        self.inner.revoke_owner(owner, keep).await
    }

    async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
        self.inner.purge_expired(now, limit).await
    }
}

/// An engine over a counted `MemoryStore`, with a test clock.
#[derive(Debug, Clone)]
pub(crate) struct Env {
    pub(crate) engine: Engine,
    /// The counting wrapper the engine calls (counters and failure switches).
    pub(crate) store: CountingStore<MemoryStore>,
    /// The same sessions, reached without counting.
    pub(crate) memory: MemoryStore,
    pub(crate) clock: TestClock,
}

impl Env {
    /// The default (secure) configuration.
    pub(crate) fn new() -> Self {
        Self::with_config(SessionConfig::default())
    }

    pub(crate) fn with_config(config: SessionConfig) -> Self {
        let memory = MemoryStore::new();
        let store = CountingStore::new(memory.clone());
        let clock = TestClock::default();
        let engine = Engine::with_clock(store.clone(), config, clock.clone());
        Env {
            engine,
            store,
            memory,
            clock,
        }
    }

    pub(crate) fn counts(&self) -> Counts {
        self.store.counts()
    }

    /// Whether the store holds a live record for the cookie value `id` (uncounted).
    pub(crate) async fn has_record(&self, id: &str) -> bool {
        let Some(id) = SessionId::parse(id) else {
            return false;
        };
        self.memory
            .load(&id.store_key(), self.engine.now())
            .await
            .expect("memory store load")
            .is_some()
    }

    /// The live record for the cookie value `id` (uncounted).
    pub(crate) async fn record(&self, id: &str) -> Option<Record> {
        let id = SessionId::parse(id)?;
        self.memory
            .load(&id.store_key(), self.engine.now())
            .await
            .expect("memory store load")
    }

    /// A browser that already holds a session with `pairs` (JSON values), created through
    /// the engine; counters are reset afterwards.
    pub(crate) async fn browser_with(&self, pairs: &[(&str, serde_json::Value)]) -> Browser {
        let mut browser = Browser::new();
        let session = browser.begin(&self.engine);
        for (k, v) in pairs {
            session.insert(k, v).expect("insert");
        }
        let done = browser.finish(&self.engine, &session, 200).await;
        assert!(done.error.is_none(), "setup failed: {:?}", done.error);
        assert!(browser.cookie().is_some(), "setup created no session");
        self.store.reset();
        browser
    }

    /// A browser logged in as `owner` (a fresh session carrying only the owner and `pairs`).
    pub(crate) async fn logged_in(
        &self,
        owner: &str,
        pairs: &[(&str, serde_json::Value)],
    ) -> Browser {
        let mut browser = Browser::new();
        let session = browser.begin(&self.engine);
        for (k, v) in pairs {
            session.insert(k, v).expect("insert");
        }
        session.login(owner).expect("login");
        let done = browser.finish(&self.engine, &session, 200).await;
        assert!(done.error.is_none(), "login failed: {:?}", done.error);
        assert!(browser.cookie().is_some(), "login created no session");
        self.store.reset();
        browser
    }
}

/// Keeps the session cookie like a browser: stores `name=value` from each `Set-Cookie`,
/// drops it on a removal (`Max-Age=0` or an empty value), and sends it back on `begin`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Browser {
    cookie: Option<String>,
}

impl Browser {
    pub(crate) fn new() -> Self {
        Browser::default()
    }

    /// A browser sending exactly this `Cookie` header value.
    pub(crate) fn with_cookie(pair: impl Into<String>) -> Self {
        Browser {
            cookie: Some(pair.into()),
        }
    }

    /// The held cookie as `name=value`.
    pub(crate) fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    /// The held cookie's value (the session id).
    pub(crate) fn id(&self) -> Option<&str> {
        self.cookie
            .as_deref()
            .and_then(|c| c.split_once('='))
            .map(|(_, v)| v)
    }

    /// Starts a request carrying the held cookie, if any.
    pub(crate) fn begin(&self, engine: &Engine) -> Session {
        match &self.cookie {
            Some(c) => engine.begin([c.as_bytes()]),
            None => engine.begin(std::iter::empty::<&[u8]>()),
        }
    }

    /// Applies a response's `Set-Cookie`, if any.
    pub(crate) fn receive(&mut self, done: &Finish) {
        if let Some(set) = &done.set_cookie {
            let pair = set.split(';').next().unwrap_or_default().trim();
            let value = pair.split_once('=').map_or("", |(_, v)| v);
            if value.is_empty() || attr(set, "Max-Age") == Some("0") {
                self.cookie = None;
            } else {
                self.cookie = Some(pair.to_owned());
            }
        }
    }

    /// Ends a request through `engine` and keeps what the response sets.
    pub(crate) async fn finish(
        &mut self,
        engine: &Engine,
        session: &Session,
        status: u16,
    ) -> Finish {
        let done = engine.finish(session, status).await;
        self.receive(&done);
        done
    }
}

/// The value of attribute `name` in a `Set-Cookie` string (case-insensitive name), `""`
/// for a flag attribute.
pub(crate) fn attr<'a>(set_cookie: &'a str, name: &str) -> Option<&'a str> {
    set_cookie.split(';').skip(1).find_map(|part| {
        let part = part.trim();
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// The cookie value (`name=VALUE; …`) of a `Set-Cookie` string.
pub(crate) fn cookie_value(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .map_or("", |(_, v)| v.trim())
}

/// The attributes of a `Set-Cookie` string other than the expiry ones, sorted, names
/// lower-cased: what a removal cookie must mirror.
pub(crate) fn scope_attrs(set_cookie: &str) -> Vec<String> {
    let mut out: Vec<String> = set_cookie
        .split(';')
        .skip(1)
        .map(str::trim)
        .filter(|p| {
            let name = p.split('=').next().unwrap_or_default().to_ascii_lowercase();
            name != "max-age" && name != "expires"
        })
        .map(|p| match p.split_once('=') {
            Some((k, v)) => format!("{}={v}", k.to_ascii_lowercase()),
            None => p.to_ascii_lowercase(),
        })
        .collect();
    out.sort();
    out
}

/// A random, well-formed session id that no store has seen.
pub(crate) fn unknown_id() -> String {
    SessionId::generate().encode()
}

/// Shorthand for `serde_json::json!`-built pairs.
pub(crate) fn j(v: impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(v).expect("serialisable")
}
