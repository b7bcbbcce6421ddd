//! SEC-46: a request future dropped at any await point (a client that disconnects, a
//! timeout layer) never leaves a session half-changed. A property test drives login,
//! `cycle_id` and logout one poll at a time, drops the future after a random number of
//! polls, and checks the store: exactly one of the old and new ids is valid (logout: the
//! old one or none), and the valid record is either exactly the old one or exactly the
//! new one. It runs over a plain `MemoryStore` (the engine's in-process path) and over a
//! wrapper that yields before and after every store call (so every call is an await point
//! where the future can be dropped, as with a networked store).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use proptest::prelude::*;
use satchel::{
    Capabilities, Engine, Expires, MemoryStore, Patch, Record, SessionConfig, SessionId,
    SessionInfo, SessionStore, StoreError, StoreKey, TestClock, Timestamp, WriteOutcome,
};

/// Pending once (waking itself), then ready: one await point.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

async fn yield_now() {
    YieldOnce(false).await;
}

/// A store whose every call is an await point before it reaches the inner store and one
/// after it answered (the call itself stays the inner store's: atomic).
#[derive(Clone)]
struct Yielding<S>(S);

impl<S: SessionStore + Clone> SessionStore for Yielding<S> {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        yield_now().await;
        let r = self.0.load(key, now).await;
        yield_now().await;
        r
    }
    async fn create(
        &self,
        key: &StoreKey,
        record: &Record,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        yield_now().await;
        let r = self.0.create(key, record, now).await;
        yield_now().await;
        r
    }
    async fn apply(
        &self,
        key: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        yield_now().await;
        let r = self.0.apply(key, patch, now).await;
        yield_now().await;
        r
    }
    async fn rotate(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        yield_now().await;
        let r = self.0.rotate(old, new, patch, now).await;
        yield_now().await;
        r
    }
    async fn renew(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        forward: &[u8],
        grace_until: Timestamp,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        yield_now().await;
        let r = self
            .0
            .renew(old, new, patch, forward, grace_until, now)
            .await;
        yield_now().await;
        r
    }
    async fn load_forward(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        yield_now().await;
        let r = self.0.load_forward(key, now).await;
        yield_now().await;
        r
    }
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        yield_now().await;
        let r = self.0.delete(key).await;
        yield_now().await;
        r
    }
    async fn touch(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Expires>, StoreError> {
        yield_now().await;
        let r = self.0.touch(key, now).await;
        yield_now().await;
        r
    }
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    async fn sessions_of(
        &self,
        owner: &str,
        now: Timestamp,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        yield_now().await;
        self.0.sessions_of(owner, now).await
    }
    async fn revoke_owner(&self, owner: &str, keep: Option<&StoreKey>) -> Result<u64, StoreError> {
        yield_now().await;
        self.0.revoke_owner(owner, keep).await
    }
    async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
        yield_now().await;
        self.0.purge_expired(now, limit).await
    }
}

/// Polls `fut` at most `polls` times; `true` if it finished, `false` if it was dropped
/// before (mid-flight, at whatever await point it had reached).
fn poll_then_drop<F: Future>(fut: F, polls: usize) -> bool {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..polls {
        if fut.as_mut().poll(&mut cx).is_ready() {
            return true;
        }
    }
    false
}

/// Runs `fut` to completion (every await point here wakes itself).
fn run<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Action {
    /// An anonymous session with `n = 1` reads `n`, writes `n = 2` and logs in as alice.
    Login,
    /// bob's session with `n = 1` reads `n`, writes `n = 2` and cycles its id.
    CycleId,
    /// bob's session with `n = 1` logs out.
    Logout,
    /// bob's session with `n = 1`, past the renewal interval, reads `n` and writes
    /// `n = 2`: a periodic renewal (SEC-49).
    Renew,
}

/// The renewal interval of [`Action::Renew`]'s engine.
const RENEW_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

const NOW: Timestamp = Timestamp::from_millis(1_700_000_000_000);

fn config(renewal: bool) -> SessionConfig {
    let builder = SessionConfig::builder().no_store_circuit_breaker();
    let builder = if renewal {
        builder
            .idle_timeout(3 * RENEW_AFTER)
            .renew_id_after(RENEW_AFTER)
    } else {
        builder
    };
    builder.build().expect("config")
}

/// Stores the starting session through the engine; returns its id.
fn start(engine: &Engine, owner: Option<&str>) -> SessionId {
    let session = engine.begin(std::iter::empty::<&[u8]>());
    session.insert("n", &1).expect("insert");
    if let Some(owner) = owner {
        session.login(owner).expect("login");
    }
    let done = run(engine.finish(&session, 200));
    let set = done.set_cookie.expect("a new session sets its cookie");
    let value = set
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .map(|(_, v)| v)
        .expect("cookie value");
    SessionId::parse(value).expect("canonical id")
}

fn n_of(record: &Record) -> i64 {
    record.data["n"].deserialize().expect("n")
}

/// One case: the action's request, dropped after `polls` polls (or finished), then the
/// store checked. Returns whether the request finished.
fn case<S: SessionStore + Clone>(
    store: S,
    memory: &MemoryStore,
    action: Action,
    polls: usize,
) -> bool {
    let renew = matches!(action, Action::Renew);
    let clock = TestClock::new(NOW);
    let engine = Engine::with_clock(store, config(renew), clock.clone());
    let start_owner = match action {
        Action::Login => None,
        Action::CycleId | Action::Logout | Action::Renew => Some("bob"),
    };
    let old = start(&engine, start_owner);
    let old_key = old.store_key();
    let before = run(memory.load(&old_key, NOW))
        .expect("load")
        .expect("stored");
    assert_eq!(memory.len(), 1);
    if renew {
        clock.advance(RENEW_AFTER);
    }

    let cookie = format!("id={}", old.encode());
    let request = async {
        let session = engine.begin([cookie.as_bytes()]);
        match action {
            Action::Renew => {
                let n: i64 = session.get("n").await.expect("get").unwrap_or(0);
                session.insert("n", &(n + 1)).expect("insert");
            }
            Action::Login | Action::CycleId => {
                let n: i64 = session.get("n").await.expect("get").unwrap_or(0);
                session.insert("n", &(n + 1)).expect("insert");
                if matches!(action, Action::Login) {
                    session.login("alice").expect("login");
                } else {
                    session.cycle_id().expect("cycle_id");
                }
            }
            Action::Logout => session.logout(),
        }
        engine.finish(&session, 200).await
    };
    let finished = poll_then_drop(request, polls);

    let old_now = run(memory.load(&old_key, NOW)).expect("load");
    match action {
        Action::Renew => {
            // Exactly one of: the old session untouched (and no forward), or the renewed
            // session with the write plus the forward at the old key.
            let forward = run(memory.load_forward(&old_key, NOW)).expect("load_forward");
            let others: Vec<StoreKey> = run(memory.sessions_of("bob", NOW))
                .expect("sessions_of")
                .into_iter()
                .map(|info| info.key)
                .filter(|k| *k != old_key)
                .collect();
            match old_now {
                Some(record) => {
                    assert!(!finished, "a finished renewal moved the record");
                    assert_eq!(record, before, "the old session is untouched");
                    assert!(others.is_empty() && forward.is_none(), "half a renewal");
                    assert_eq!(memory.len(), 1);
                }
                None => {
                    assert_eq!(others.len(), 1, "the old id died without a new one");
                    assert!(forward.is_some(), "renewed without a forward");
                    assert_eq!(memory.len(), 2, "the renewed session and the forward");
                    let new = run(memory.load(&others[0], NOW))
                        .expect("load")
                        .expect("new");
                    assert_eq!(n_of(&new), 2, "the new record has the request's write");
                    assert_eq!(new.meta.created_at, before.meta.created_at);
                }
            }
        }
        Action::Logout => {
            assert!(memory.len() <= 1, "a logout never adds a record");
            match old_now {
                Some(record) => {
                    assert!(!finished, "a finished logout deleted the record");
                    assert_eq!(record, before, "the old session is untouched");
                }
                None => assert_eq!(memory.len(), 0),
            }
        }
        Action::Login | Action::CycleId => {
            let owner = if matches!(action, Action::Login) {
                "alice"
            } else {
                "bob"
            };
            let others: Vec<StoreKey> = run(memory.sessions_of(owner, NOW))
                .expect("sessions_of")
                .into_iter()
                .map(|info| info.key)
                .filter(|k| *k != old_key)
                .collect();
            assert_eq!(memory.len(), 1, "exactly one record, never both or none");
            match old_now {
                Some(record) => {
                    assert!(others.is_empty(), "old and new both valid");
                    assert!(!finished, "a finished rotation moved the record");
                    assert_eq!(record, before, "the old session is untouched");
                }
                None => {
                    assert_eq!(others.len(), 1, "the old id died without a new one");
                    let new = run(memory.load(&others[0], NOW))
                        .expect("load")
                        .expect("new");
                    assert_eq!(n_of(&new), 2, "the new record has the request's write");
                    assert_eq!(new.meta.owner.as_deref(), Some(owner));
                    assert_eq!(new.meta.created_at, before.meta.created_at);
                    if matches!(action, Action::Login) {
                        assert!(new.data.contains_key(satchel::auth::AUTH_KEY));
                    }
                }
            }
        }
    }
    finished
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Login),
        Just(Action::CycleId),
        Just(Action::Logout),
        Just(Action::Renew)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn dropped_requests_leave_exactly_one_valid_id(
        action in action(),
        polls in 0usize..16,
        yielding in any::<bool>(),
    ) {
        let memory = MemoryStore::new();
        if yielding {
            case(Yielding(memory.clone()), &memory, action, polls);
        } else {
            case(memory.clone(), &memory, action, polls);
        }
    }
}

/// The property above only means something if the drops land at every await point: over
/// the yielding store each action is dropped unfinished at several poll counts, and
/// finishes given enough polls.
#[test]
fn drops_land_mid_request_and_enough_polls_finish() {
    for action in [
        Action::Login,
        Action::CycleId,
        Action::Logout,
        Action::Renew,
    ] {
        let memory = MemoryStore::new();
        let unfinished = (0..16)
            .filter(|&polls| {
                let memory = MemoryStore::new();
                !case(Yielding(memory.clone()), &memory, action, polls)
            })
            .count();
        assert!(
            unfinished >= 3,
            "{action:?}: only {unfinished} poll counts cut it short"
        );
        assert!(
            case(Yielding(memory.clone()), &memory, action, 1_000),
            "{action:?} finishes"
        );
    }
}
