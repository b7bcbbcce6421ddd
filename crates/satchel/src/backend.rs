//! [`Backend`]: how the engine reaches its store.
//!
//! Any [`SessionStore`] works through the object-safe [`DynStore`] shim, at the price of
//! one boxed future per store call. The built-in [`MemoryStore`] gets a direct path
//! instead: it is the default and the store whose calls are cheapest, so the two
//! allocations and the dynamic calls would be a visible share of its request cost.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use crate::breaker::{BreakerPolicy, CircuitBreaker};
use crate::engine::Stateless;
use crate::error::StoreError;
use crate::id::StoreKey;
use crate::memory::codec::Packed;
use crate::memory::MemoryStore;
use crate::observe::{self, Op};
use crate::record::{Expires, Patch, Record};
use crate::store::{Capabilities, DynStore, SessionInfo, SessionStore, WriteOutcome};
use crate::time::{Clock, Timestamp};

pub(crate) enum Backend {
    Memory(MemoryStore),
    Dyn(Box<dyn DynStore>),
    /// A stateless engine: no store; the engine seals records into cookies instead and
    /// never calls the store methods below (they answer `Unsupported` if it did).
    Sealed(Box<Stateless>),
}

/// Runs a remote store's call, timing it and counting its failure.
async fn timed<T>(
    op: Op,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let start = observe::times_stores().then(Instant::now);
    let result = call.await;
    if let Some(start) = start {
        observe::latency(op, start.elapsed());
    }
    counted(result)
}

/// Counts a failed store call by kind (every store call the engine makes passes here,
/// the MemoryStore's in-place paths included).
#[inline]
pub(crate) fn counted<T>(result: Result<T, StoreError>) -> Result<T, StoreError> {
    if let Err(err) = &result {
        observe::store_error(err.kind());
    }
    result
}

/// What every store method answers on a stateless engine.
fn stateless<T>() -> Result<T, StoreError> {
    Err(StoreError::unsupported(
        "a stateless (sealed-cookie) engine has no session store",
    ))
}

impl Backend {
    /// The backend for `store`; any store but a [`MemoryStore`] (which cannot be down) goes
    /// behind a [`CircuitBreaker`] when `breaker` says so.
    pub(crate) fn new<S: SessionStore>(
        store: S,
        breaker: Option<(BreakerPolicy, &Arc<dyn Clock>)>,
    ) -> Self {
        let mut slot = Some(store);
        if let Some(memory) = (&mut slot as &mut dyn Any).downcast_mut::<Option<MemoryStore>>() {
            if let Some(memory) = memory.take() {
                return Backend::Memory(memory);
            }
        }
        match slot {
            Some(store) => {
                match breaker {
                    Some((policy, clock)) => Backend::Dyn(Box::new(
                        CircuitBreaker::with_shared_clock(store, policy, Arc::clone(clock)),
                    )),
                    None => Backend::Dyn(Box::new(store)),
                }
            }
            // Only reachable if the downcast above took the store, which returned.
            None => Backend::Memory(MemoryStore::new()),
        }
    }

    /// Loads a record; a MemoryStore session's data is left packed.
    pub(crate) async fn load_packed(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<(Record, Option<Packed>)>, StoreError> {
        match self {
            Backend::Memory(m) => counted(m.load_packed(key, now)),
            Backend::Dyn(d) => timed(Op::Load, d.load(key, now))
                .await
                .map(|found| found.map(|record| (record, None))),
            Backend::Sealed(_) => stateless(),
        }
    }

    pub(crate) async fn create(
        &self,
        key: &StoreKey,
        record: &Record,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        observe::write(Op::Create);
        match self {
            Backend::Memory(m) => counted(SessionStore::create(m, key, record, now).await),
            Backend::Dyn(d) => timed(Op::Create, d.create(key, record, now)).await,
            Backend::Sealed(_) => stateless(),
        }
    }

    pub(crate) async fn apply(
        &self,
        key: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        observe::write(Op::Patch);
        match self {
            Backend::Memory(m) => counted(SessionStore::apply(m, key, patch, now).await),
            Backend::Dyn(d) => timed(Op::Patch, d.apply(key, patch, now)).await,
            Backend::Sealed(_) => stateless(),
        }
    }

    pub(crate) async fn rotate(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        observe::write(Op::Rotate);
        match self {
            Backend::Memory(m) => counted(SessionStore::rotate(m, old, new, patch, now).await),
            Backend::Dyn(d) => timed(Op::Rotate, d.rotate(old, new, patch, now)).await,
            Backend::Sealed(_) => stateless(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn renew(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        forward: &[u8],
        grace_until: Timestamp,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        observe::write(Op::Renew);
        match self {
            Backend::Memory(m) => counted(m.renew_now(old, new, patch, forward, grace_until, now)),
            Backend::Dyn(d) => {
                timed(
                    Op::Renew,
                    d.renew(old, new, patch, forward, grace_until, now),
                )
                .await
            }
            Backend::Sealed(_) => stateless(),
        }
    }

    pub(crate) async fn load_forward(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Backend::Memory(m) => counted(Ok(m.load_forward_now(key, now))),
            Backend::Dyn(d) => timed(Op::LoadForward, d.load_forward(key, now)).await,
            Backend::Sealed(_) => stateless(),
        }
    }

    pub(crate) async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        observe::write(Op::Delete);
        match self {
            Backend::Memory(m) => counted(SessionStore::delete(m, key).await),
            Backend::Dyn(d) => timed(Op::Delete, d.delete(key)).await,
            Backend::Sealed(_) => stateless(),
        }
    }

    pub(crate) async fn touch(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<Expires>, StoreError> {
        observe::write(Op::Touch);
        match self {
            Backend::Memory(m) => counted(SessionStore::touch(m, key, now).await),
            Backend::Dyn(d) => timed(Op::Touch, d.touch(key, now)).await,
            Backend::Sealed(_) => stateless(),
        }
    }

    pub(crate) fn capabilities(&self) -> Capabilities {
        match self {
            Backend::Memory(m) => SessionStore::capabilities(m),
            Backend::Dyn(d) => d.capabilities(),
            Backend::Sealed(_) => Capabilities::default(),
        }
    }

    pub(crate) async fn sessions_of(
        &self,
        owner: &str,
        now: Timestamp,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        match self {
            Backend::Memory(m) => counted(SessionStore::sessions_of(m, owner, now).await),
            Backend::Dyn(d) => timed(Op::SessionsOf, d.sessions_of(owner, now)).await,
            Backend::Sealed(_) => stateless(),
        }
    }

    pub(crate) async fn revoke_owner(
        &self,
        owner: &str,
        keep: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        match self {
            Backend::Memory(m) => counted(SessionStore::revoke_owner(m, owner, keep).await),
            Backend::Dyn(d) => timed(Op::RevokeOwner, d.revoke_owner(owner, keep)).await,
            Backend::Sealed(_) => stateless(),
        }
    }

    pub(crate) async fn purge_expired(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<u64, StoreError> {
        match self {
            Backend::Memory(m) => counted(SessionStore::purge_expired(m, now, limit).await),
            Backend::Dyn(d) => {
                let purged = timed(Op::Purge, d.purge_expired(now, limit)).await;
                if let Ok(n) = purged {
                    observe::record_purged(n); // a MemoryStore counts its own sweeps
                }
                purged
            }
            Backend::Sealed(_) => stateless(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> Arc<dyn Clock> {
        Arc::new(crate::SystemClock)
    }

    #[test]
    fn memory_store_takes_the_direct_path() {
        assert!(matches!(
            Backend::new(
                MemoryStore::new(),
                Some((BreakerPolicy::default(), &clock()))
            ),
            Backend::Memory(_)
        ));
    }

    #[cfg(feature = "conformance")]
    #[test]
    fn other_stores_go_through_the_shim() {
        let wrapped = crate::Instrumented::new(MemoryStore::new());
        assert!(matches!(Backend::new(wrapped, None), Backend::Dyn(_)));
    }
}
