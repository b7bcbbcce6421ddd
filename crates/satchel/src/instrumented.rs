//! [`Instrumented`]: a store wrapper that counts calls and fails on demand, for testing
//! integrations and applications against store behaviour (feature `conformance`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{StoreError, StoreErrorKind};
use crate::id::StoreKey;
use crate::record::{Expires, Patch, Record};
use crate::store::{Capabilities, SessionInfo, SessionStore, WriteOutcome};
use crate::time::Timestamp;

/// Wraps a store, counting each operation and failing reads and/or writes on demand.
/// Clones share counters and switches.
#[derive(Debug, Clone)]
pub struct Instrumented<S> {
    inner: S,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    load: AtomicU64,
    create: AtomicU64,
    apply: AtomicU64,
    rotate: AtomicU64,
    delete: AtomicU64,
    touch: AtomicU64,
    fail_reads: AtomicBool,
    fail_writes: AtomicBool,
}

/// A snapshot of [`Instrumented`]'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calls {
    /// `load` calls.
    pub load: u64,
    /// `create` calls.
    pub create: u64,
    /// `apply` calls.
    pub apply: u64,
    /// `rotate` calls.
    pub rotate: u64,
    /// `delete` calls.
    pub delete: u64,
    /// `touch` calls.
    pub touch: u64,
}

impl Calls {
    /// All calls.
    pub fn total(&self) -> u64 {
        self.load + self.writes()
    }

    /// All calls that write.
    pub fn writes(&self) -> u64 {
        self.create + self.apply + self.rotate + self.delete + self.touch
    }
}

impl<S> Instrumented<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Instrumented {
            inner,
            counters: Arc::default(),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The calls so far.
    pub fn calls(&self) -> Calls {
        let c = &self.counters;
        Calls {
            load: c.load.load(Ordering::SeqCst),
            create: c.create.load(Ordering::SeqCst),
            apply: c.apply.load(Ordering::SeqCst),
            rotate: c.rotate.load(Ordering::SeqCst),
            delete: c.delete.load(Ordering::SeqCst),
            touch: c.touch.load(Ordering::SeqCst),
        }
    }

    /// Makes `load` fail (as an unavailable store) until switched back.
    pub fn fail_reads(&self, fail: bool) {
        self.counters.fail_reads.store(fail, Ordering::SeqCst);
    }

    /// Makes every write fail (as an unavailable store) until switched back.
    pub fn fail_writes(&self, fail: bool) {
        self.counters.fail_writes.store(fail, Ordering::SeqCst);
    }

    fn count(&self, counter: &AtomicU64, write: bool) -> Result<(), StoreError> {
        counter.fetch_add(1, Ordering::SeqCst);
        let fail = if write {
            &self.counters.fail_writes
        } else {
            &self.counters.fail_reads
        };
        if fail.load(Ordering::SeqCst) {
            return Err(StoreError::msg(
                StoreErrorKind::Unavailable,
                "injected failure",
            ));
        }
        Ok(())
    }
}

impl<S: SessionStore> SessionStore for Instrumented<S> {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        self.count(&self.counters.load, false)?;
        self.inner.load(key, now).await
    }

    async fn create(
        &self,
        key: &StoreKey,
        record: &Record,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.count(&self.counters.create, true)?;
        self.inner.create(key, record, now).await
    }

    async fn apply(
        &self,
        key: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.count(&self.counters.apply, true)?;
        self.inner.apply(key, patch, now).await
    }

    async fn rotate(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.count(&self.counters.rotate, true)?;
        self.inner.rotate(old, new, patch, now).await
    }

    /// Counted as a rotation: it is one, with a forward record left behind.
    async fn renew(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        forward: &[u8],
        grace_until: Timestamp,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.count(&self.counters.rotate, true)?;
        self.inner
            .renew(old, new, patch, forward, grace_until, now)
            .await
    }

    /// Counted as a load: it is the read that follows a load that found nothing.
    async fn load_forward(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.count(&self.counters.load, false)?;
        self.inner.load_forward(key, now).await
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.count(&self.counters.delete, true)?;
        self.inner.delete(key).await
    }

    async fn touch(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Expires>, StoreError> {
        self.count(&self.counters.touch, true)?;
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
