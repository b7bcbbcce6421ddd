//! [`CircuitBreaker`]: a [`SessionStore`] wrapper that fails fast while the store is down.
//!
//! Without it, every request during an outage waits for the store client's own timeout
//! (a Redis command timeout, a pool's acquire timeout) before it can answer 503. Once one
//! call has failed with [`StoreErrorKind::Unavailable`] or [`StoreErrorKind::Timeout`], the
//! breaker *opens*: calls answer `Unavailable` at once, without reaching the store, while
//! one call at a time (the *probe*) is let through after a backoff that starts at
//! [`BreakerPolicy::first_backoff`] and doubles up to [`BreakerPolicy::max_backoff`], each
//! wait jittered to between half and all of it (so a fleet of apps does not probe in
//! lockstep). The first probe the store answers closes the breaker again.
//!
//! Only the store's reachability counts: a `Corrupt` record, a `Backend` or `Unsupported`
//! error, and every [`WriteOutcome`] (conflict, gone, …) are answers, so they never open
//! it and a probe that gets one closes it. [`SessionStore::purge_expired`] (housekeeping,
//! off the request path) bypasses the breaker entirely.
//!
//! The engine wraps every store except the in-process [`crate::MemoryStore`] in one by
//! default (see [`crate::SessionConfigBuilder::store_circuit_breaker`]); wrap a store
//! yourself only to share one breaker's view of a store with other code.
//!
//! A remote [`Revocations`] store (a sealed-cookie deployment's deny-list on Redis or SQL)
//! is called on every request too, so `CircuitBreaker` wraps one the same way:
//! `Stateless::new(keyring).revocations(CircuitBreaker::new(RedisRevocations::connect(..)))`.
//! It fails closed: while open, `is_revoked` is an error (the request answers 503), never
//! "not revoked". Do not wrap [`crate::sealed::MemoryRevocations`]: it never waits, and its
//! "list full" refusal is `Unavailable`, which would open the breaker for every request.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use parking_lot::Mutex;
use rand::Rng;

use crate::error::{cause_chain, StoreError, StoreErrorKind};
use crate::id::StoreKey;
use crate::record::{Expires, Patch, Record};
use crate::sealed::Revocations;
use crate::store::{BoxFuture, Capabilities, SessionInfo, SessionStore, WriteOutcome};
use crate::time::{duration_millis, Clock, SystemClock, Timestamp};

/// How long an open [`CircuitBreaker`] waits between probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    first_backoff: Duration,
    max_backoff: Duration,
}

impl BreakerPolicy {
    /// Waits `first_backoff` before the first probe, doubling after each failed probe up
    /// to `max_backoff`. Returns `None` unless `0 < first_backoff <= max_backoff`.
    pub fn new(first_backoff: Duration, max_backoff: Duration) -> Option<Self> {
        (!first_backoff.is_zero() && first_backoff <= max_backoff).then_some(BreakerPolicy {
            first_backoff,
            max_backoff,
        })
    }

    /// The wait before the first probe.
    pub fn first_backoff(&self) -> Duration {
        self.first_backoff
    }

    /// The longest wait between probes.
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }
}

impl Default for BreakerPolicy {
    /// 100 ms doubling to 2 s: an outage costs each request nothing, and a store that comes
    /// back is used again within about 2 s.
    fn default() -> Self {
        BreakerPolicy {
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// Wraps a store so that calls fail fast while it is known to be down (see the module
/// docs). Clones share one breaker.
pub struct CircuitBreaker<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: Clone> Clone for CircuitBreaker<S> {
    fn clone(&self) -> Self {
        CircuitBreaker {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S> fmt::Debug for CircuitBreaker<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("policy", &self.shared.policy)
            .field("open", &self.is_open())
            .finish_non_exhaustive()
    }
}

struct Shared {
    policy: BreakerPolicy,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// Mirrors "`state` is `Open`", so that a call to a healthy store costs two atomic
    /// loads and neither the lock nor the clock.
    open: AtomicBool,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed,
    Open {
        since: Timestamp,
        /// No probe before this.
        probe_at: Timestamp,
        /// The un-jittered wait that set `probe_at`.
        backoff: Duration,
        /// A probe is in flight: everyone else fails fast.
        probing: bool,
    },
}

impl<S> CircuitBreaker<S> {
    /// Wraps `inner` with the default policy and the system clock.
    pub fn new(inner: S) -> Self {
        Self::with_policy(inner, BreakerPolicy::default(), SystemClock)
    }

    /// Wraps `inner` with `policy`, reading time from `clock` (tests use
    /// [`crate::TestClock`]).
    pub fn with_policy(inner: S, policy: BreakerPolicy, clock: impl Clock) -> Self {
        Self::with_shared_clock(inner, policy, Arc::new(clock))
    }

    pub(crate) fn with_shared_clock(
        inner: S,
        policy: BreakerPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        CircuitBreaker {
            inner,
            shared: Arc::new(Shared {
                policy,
                clock,
                state: Mutex::new(State::Closed),
                open: AtomicBool::new(false),
            }),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Whether calls currently fail fast (apart from the probes).
    pub fn is_open(&self) -> bool {
        self.shared.open.load(Ordering::Acquire)
    }

    /// Runs `call` if the breaker lets it through, and learns from its result.
    ///
    /// A hand-written future rather than an `async fn`: an `async fn` keeps its future
    /// argument in its state and moves it into a second slot to await it, so every
    /// guarded call would be twice the size of the store's own future (measured 10.9 KB
    /// for a Redis write, each allocated and copied once per call by the boxing in
    /// `DynStore`). `Guarded` holds it once.
    fn guard<T, F>(&self, call: F) -> Guarded<'_, F>
    where
        F: Future<Output = Result<T, StoreError>>,
    {
        Guarded {
            shared: &self.shared,
            ticket: None,
            admitted: false,
            call,
        }
    }
}

pin_project_lite::pin_project! {
    /// A store call behind the breaker: admitted at its first poll (a refusal is its
    /// result and `call` is never polled), its result reported when it completes; dropped
    /// unfinished, its ticket hands a probe on (see [`Ticket`]).
    struct Guarded<'a, F> {
        shared: &'a Shared,
        ticket: Option<Ticket<'a>>,
        admitted: bool,
        #[pin]
        call: F,
    }
}

impl<T, F> Future for Guarded<'_, F>
where
    F: Future<Output = Result<T, StoreError>>,
{
    type Output = Result<T, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if !*this.admitted {
            *this.admitted = true;
            let shared: &Shared = this.shared;
            match shared.admit() {
                Ok(ticket) => *this.ticket = Some(ticket),
                Err(refused) => return Poll::Ready(Err(refused)),
            }
        }
        let result = std::task::ready!(this.call.poll(cx));
        if let Some(ticket) = this.ticket.take() {
            ticket.finish(&result);
        }
        Poll::Ready(result)
    }
}

/// The right to make one call; a probe's ticket dropped unfinished (the request was
/// cancelled) hands the probe to the next caller rather than leaving the breaker stuck.
struct Ticket<'a> {
    shared: &'a Shared,
    probe: bool,
    finished: bool,
}

impl Shared {
    fn admit(&self) -> Result<Ticket<'_>, StoreError> {
        if !self.open.load(Ordering::Acquire) {
            return Ok(Ticket {
                shared: self,
                probe: false,
                finished: false,
            });
        }
        let now = self.clock.now();
        let mut state = self.state.lock();
        let probe = match &mut *state {
            State::Closed => false,
            State::Open {
                probe_at, probing, ..
            } => {
                if *probing || now < *probe_at {
                    return Err(StoreError::msg(
                        StoreErrorKind::Unavailable,
                        "failing fast: the store failed recently and is being probed",
                    ));
                }
                *probing = true;
                true
            }
        };
        Ok(Ticket {
            shared: self,
            probe,
            finished: false,
        })
    }

    /// A wait of between half and all of `backoff`.
    fn jittered(backoff: Duration) -> Duration {
        let full = duration_millis(backoff);
        Duration::from_millis(rand::rng().random_range(full / 2..=full))
    }
}

impl Ticket<'_> {
    fn finish<T>(mut self, result: &Result<T, StoreError>) {
        self.finished = true;
        let unreachable = match result {
            Err(e) => matches!(
                e.kind(),
                StoreErrorKind::Unavailable | StoreErrorKind::Timeout
            )
            .then_some(e),
            Ok(_) => None,
        };
        if unreachable.is_none() && !self.probe {
            return; // the common case: a healthy store, nothing to learn
        }
        let shared = self.shared;
        let policy = shared.policy;
        let now = shared.clock.now();
        let mut state = shared.state.lock();
        match (&mut *state, unreachable) {
            (State::Closed, None) => {}
            (State::Closed, Some(err)) => {
                let wait = Shared::jittered(policy.first_backoff);
                *state = State::Open {
                    since: now,
                    probe_at: now.saturating_add(wait),
                    backoff: policy.first_backoff,
                    probing: false,
                };
                shared.open.store(true, Ordering::Release);
                crate::observe::outage_started(&cause_chain(err));
            }
            // A call let through before the breaker opened tells nothing new: only the
            // probe decides.
            (State::Open { .. }, _) if !self.probe => {}
            (State::Open { since, .. }, None) => {
                let down = now.saturating_since(*since);
                *state = State::Closed;
                shared.open.store(false, Ordering::Release);
                crate::observe::outage_ended(down);
            }
            (
                State::Open {
                    probe_at,
                    backoff,
                    probing,
                    ..
                },
                Some(_),
            ) => {
                *backoff = backoff.saturating_mul(2).min(policy.max_backoff);
                *probe_at = now.saturating_add(Shared::jittered(*backoff));
                *probing = false;
            }
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if self.probe && !self.finished {
            if let State::Open { probing, .. } = &mut *self.shared.state.lock() {
                *probing = false;
            }
        }
    }
}

impl<S: SessionStore> SessionStore for CircuitBreaker<S> {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        self.guard(self.inner.load(key, now)).await
    }

    async fn create(
        &self,
        key: &StoreKey,
        record: &Record,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.guard(self.inner.create(key, record, now)).await
    }

    async fn apply(
        &self,
        key: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.guard(self.inner.apply(key, patch, now)).await
    }

    async fn rotate(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.guard(self.inner.rotate(old, new, patch, now)).await
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
        self.guard(self.inner.renew(old, new, patch, forward, grace_until, now))
            .await
    }

    async fn load_forward(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.guard(self.inner.load_forward(key, now)).await
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.guard(self.inner.delete(key)).await
    }

    async fn touch(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Expires>, StoreError> {
        self.guard(self.inner.touch(key, now)).await
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn sessions_of(
        &self,
        owner: &str,
        now: Timestamp,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        self.guard(self.inner.sessions_of(owner, now)).await
    }

    async fn revoke_owner(&self, owner: &str, keep: Option<&StoreKey>) -> Result<u64, StoreError> {
        self.guard(self.inner.revoke_owner(owner, keep)).await
    }

    /// Not guarded: housekeeping off the request path, whose bulk deletes may time out on a
    /// store that is merely busy, which must not make requests fail fast.
    async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
        self.inner.purge_expired(now, limit).await
    }
}

/// Each inner call is made only once the breaker has let it through (a `Revocations`
/// implementation may start its work when the call is made, not when it is polled).
impl<R: Revocations> Revocations for CircuitBreaker<R> {
    fn is_revoked<'a>(
        &'a self,
        session: &'a StoreKey,
        owner: Option<&'a str>,
        issued_at: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(
            self.guard(async move { self.inner.is_revoked(session, owner, issued_at, now).await }),
        )
    }

    fn revoke_session<'a>(
        &'a self,
        session: &'a StoreKey,
        until: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.guard(async move { self.inner.revoke_session(session, until, now).await }))
    }

    fn revoke_owner<'a>(
        &'a self,
        owner: &'a str,
        not_before: Timestamp,
        until: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.guard(async move { self.inner.revoke_owner(owner, not_before, until).await }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::time::TestClock;
    use crate::MemoryStore;

    /// A store whose `load` fails as told (and can be held until released), counting calls.
    #[derive(Clone, Default)]
    struct Scripted {
        memory: MemoryStore,
        failure: Arc<Mutex<Option<StoreErrorKind>>>,
        gate: Arc<Mutex<Option<Arc<tokio::sync::Semaphore>>>>,
        loads: Arc<AtomicUsize>,
    }

    impl Scripted {
        fn fail(&self, kind: Option<StoreErrorKind>) {
            *self.failure.lock() = kind;
        }
        fn loads(&self) -> usize {
            self.loads.load(Ordering::SeqCst)
        }
    }

    impl SessionStore for Scripted {
        async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
            self.loads.fetch_add(1, Ordering::SeqCst);
            let gate = self.gate.lock().clone();
            if let Some(gate) = gate {
                let _permit = gate.acquire().await;
            }
            let failure = *self.failure.lock();
            match failure {
                Some(kind) => Err(StoreError::new(
                    kind,
                    std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused by test"),
                )),
                None => self.memory.load(key, now).await,
            }
        }
        async fn create(
            &self,
            key: &StoreKey,
            record: &Record,
            now: Timestamp,
        ) -> Result<WriteOutcome, StoreError> {
            self.memory.create(key, record, now).await
        }
        async fn apply(
            &self,
            key: &StoreKey,
            patch: &Patch,
            now: Timestamp,
        ) -> Result<WriteOutcome, StoreError> {
            self.memory.apply(key, patch, now).await
        }
        async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
            self.memory.delete(key).await
        }
    }

    fn breaker() -> (CircuitBreaker<Scripted>, Scripted, TestClock) {
        let store = Scripted::default();
        let clock = TestClock::default();
        let breaker =
            CircuitBreaker::with_policy(store.clone(), BreakerPolicy::default(), clock.clone());
        (breaker, store, clock)
    }

    fn key() -> StoreKey {
        crate::SessionId::generate().store_key()
    }

    /// A guarded call holds the store's future once: an `async fn` guard held it twice
    /// (its argument, then the awaited copy), which doubled every boxed store call.
    #[tokio::test]
    async fn a_guarded_call_is_not_twice_the_call() {
        async fn call() -> Result<u8, StoreError> {
            let state = [7u8; 4096];
            tokio::task::yield_now().await;
            Ok(state[4095])
        }
        let (breaker, _store, _clock) = breaker();
        let inner = std::mem::size_of_val(&call());
        let guarded = breaker.guard(call());
        let size = std::mem::size_of_val(&guarded);
        assert!(
            size < inner + 128,
            "guarded {size} bytes around a {inner}-byte call"
        );
        assert_eq!(guarded.await.expect("admitted"), 7);
    }

    #[tokio::test]
    async fn only_unreachability_opens_it() {
        let (breaker, store, _clock) = breaker();
        for kind in [
            StoreErrorKind::Corrupt,
            StoreErrorKind::Backend,
            StoreErrorKind::Unsupported,
        ] {
            store.fail(Some(kind));
            for _ in 0..3 {
                let err = breaker
                    .load(&key(), Timestamp::EPOCH)
                    .await
                    .expect_err("fails");
                assert_eq!(
                    err.kind(),
                    kind,
                    "the store's own answer, not a fast failure"
                );
            }
            assert!(!breaker.is_open(), "{kind:?} opened the breaker");
        }
        assert_eq!(store.loads(), 9);
        store.fail(Some(StoreErrorKind::Timeout));
        assert!(breaker.load(&key(), Timestamp::EPOCH).await.is_err());
        assert!(breaker.is_open());
        store.fail(None);
        assert_eq!(
            breaker
                .load(&key(), Timestamp::EPOCH)
                .await
                .expect_err("open")
                .kind(),
            StoreErrorKind::Unavailable
        );
        assert_eq!(store.loads(), 10, "failed fast");
    }

    #[tokio::test]
    async fn a_probe_that_gets_any_answer_closes_it() {
        let (breaker, store, clock) = breaker();
        store.fail(Some(StoreErrorKind::Unavailable));
        assert!(breaker.load(&key(), Timestamp::EPOCH).await.is_err());
        store.fail(Some(StoreErrorKind::Corrupt));
        clock.advance(Duration::from_millis(100));
        assert!(breaker.load(&key(), Timestamp::EPOCH).await.is_err());
        assert!(!breaker.is_open(), "a corrupt record is an answer");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_probe_at_a_time_and_a_cancelled_probe_hands_over() {
        let (breaker, store, clock) = breaker();
        store.fail(Some(StoreErrorKind::Unavailable));
        assert!(breaker.load(&key(), Timestamp::EPOCH).await.is_err());
        store.fail(None);
        clock.advance(Duration::from_millis(100));

        // The probe hangs in the store (as a command does until its timeout).
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        *store.gate.lock() = Some(Arc::clone(&gate));
        let probe = {
            let breaker = breaker.clone();
            tokio::spawn(async move { breaker.load(&key(), Timestamp::EPOCH).await.is_ok() })
        };
        while store.loads() < 2 {
            tokio::task::yield_now().await;
        }
        for _ in 0..5 {
            assert!(breaker.load(&key(), Timestamp::EPOCH).await.is_err());
        }
        assert_eq!(store.loads(), 2, "others fail fast while the probe is out");

        // The probe's request is cancelled: the next caller probes instead.
        probe.abort();
        assert!(probe.await.is_err(), "aborted");
        *store.gate.lock() = None;
        assert!(breaker.load(&key(), Timestamp::EPOCH).await.is_ok());
        assert_eq!(store.loads(), 3);
        assert!(!breaker.is_open());
    }

    #[tokio::test]
    async fn transitions_are_logged_once_each_with_the_cause() {
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buf {
            type Writer = Buf;
            fn make_writer(&'a self) -> Buf {
                self.clone()
            }
        }
        let buf = Buf::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(buf.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let (breaker, store, clock) = breaker();
        store.fail(Some(StoreErrorKind::Unavailable));
        for _ in 0..10 {
            assert!(breaker.load(&key(), Timestamp::EPOCH).await.is_err());
            clock.advance(Duration::from_millis(500)); // some of them probe, and fail
        }
        store.fail(None);
        clock.advance(Duration::from_secs(2));
        for _ in 0..3 {
            assert!(breaker.load(&key(), Timestamp::EPOCH).await.is_ok());
        }
        let logs = String::from_utf8_lossy(&buf.0.lock()).into_owned();
        assert_eq!(
            logs.matches("session store unreachable").count(),
            1,
            "{logs}"
        );
        assert_eq!(
            logs.matches("session store answers again").count(),
            1,
            "{logs}"
        );
        assert!(logs.contains("refused by test"), "the cause chain: {logs}");
        // Both are audit events (docs/observability.md).
        assert_eq!(logs.matches("satchel::audit").count(), 2, "{logs}");
        assert!(logs.contains("event=\"store_outage_start\""), "{logs}");
        assert!(logs.contains("event=\"store_outage_end\""), "{logs}");
    }

    /// A deny-list whose lookups fail as told, counting calls.
    #[derive(Clone, Default)]
    struct FailingRevocations {
        down: Arc<std::sync::atomic::AtomicBool>,
        calls: Arc<AtomicUsize>,
    }

    impl Revocations for FailingRevocations {
        fn is_revoked<'a>(
            &'a self,
            _session: &'a StoreKey,
            _owner: Option<&'a str>,
            _issued_at: Timestamp,
            _now: Timestamp,
        ) -> BoxFuture<'a, Result<bool, StoreError>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let down = self.down.load(Ordering::SeqCst);
            Box::pin(async move {
                if down {
                    Err(StoreError::msg(
                        StoreErrorKind::Unavailable,
                        "refused by test",
                    ))
                } else {
                    Ok(false)
                }
            })
        }
        fn revoke_session<'a>(
            &'a self,
            _session: &'a StoreKey,
            _until: Timestamp,
            _now: Timestamp,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async { Ok(()) })
        }
        fn revoke_owner<'a>(
            &'a self,
            _owner: &'a str,
            _not_before: Timestamp,
            _until: Timestamp,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn a_remote_deny_list_fails_fast_and_closed_while_down() {
        let inner = FailingRevocations::default();
        let clock = TestClock::default();
        let breaker =
            CircuitBreaker::with_policy(inner.clone(), BreakerPolicy::default(), clock.clone());
        inner.down.store(true, Ordering::SeqCst);
        for _ in 0..10 {
            let err = breaker
                .is_revoked(&key(), None, Timestamp::EPOCH, clock.now())
                .await
                .expect_err("never \"not revoked\" while the deny-list is unreachable");
            assert_eq!(err.kind(), StoreErrorKind::Unavailable);
        }
        assert_eq!(
            inner.calls.load(Ordering::SeqCst),
            1,
            "one call reached the store"
        );
        inner.down.store(false, Ordering::SeqCst);
        clock.advance(Duration::from_secs(3));
        assert!(!breaker
            .is_revoked(&key(), None, Timestamp::EPOCH, clock.now())
            .await
            .expect("the probe closes it"));
        assert!(!breaker.is_open());
    }
}
