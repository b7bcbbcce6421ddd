//! The contract between the engine and a place that keeps sessions.
//!
//! A store keeps [`Record`]s under [`StoreKey`]s (hashes of session ids; a store never sees
//! an id). The engine calls it at most twice per request: one [`SessionStore::load`] when the
//! handler first reads, then one write ([`SessionStore::apply`], [`SessionStore::create`],
//! [`SessionStore::rotate`], [`SessionStore::touch`] or [`SessionStore::delete`]).
//!
//! # Concurrency guarantees every store must give
//! The conformance suite (`satchel::conformance`, feature `conformance`) checks each one.
//! 1. **Writes merge per key.** `apply` changes only the keys its patch names, atomically:
//!    two requests that change different keys of one session both survive.
//! 2. **No resurrection.** `apply`, `rotate` and `touch` only ever update an existing, live
//!    record. A session deleted (logged out, revoked, expired) while a request was in
//!    flight stays deleted: the late write reports [`WriteOutcome::Gone`].
//! 3. **No silent overwrite.** A patch carries, for each key the request read and then
//!    changed, the value it read. If another request changed that key meanwhile, the whole
//!    patch is refused with [`WriteOutcome::Conflict`].
//! 4. **Create never overwrites.** `create` on a key that exists reports
//!    [`WriteOutcome::KeyTaken`] and changes nothing (tower-sessions 0.12.0's takeover bug).
//! 5. **Time is the caller's.** Each call gets `now`; a record whose deadline has passed at
//!    `now` is absent for every operation, whether or not the store has evicted it yet.

use std::future::Future;
use std::pin::Pin;

use crate::error::StoreError;
use crate::id::StoreKey;
use crate::record::{Expires, Patch, Record};
use crate::time::Timestamp;

/// The result of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The write happened; the session now expires as stated.
    Applied(Expires),
    /// There is no live record under the key (never was, deleted or expired): nothing was
    /// written.
    Gone,
    /// These keys changed since the request read them: nothing was written.
    Conflict(Vec<String>),
    /// `create` or `rotate` found a record under the new key: nothing was written.
    KeyTaken,
    /// The data would exceed the patch's [`Patch::max_data_bytes`]: nothing was written.
    TooLarge,
}

/// What a store can do beyond the required operations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// [`SessionStore::sessions_of`] and [`SessionStore::revoke_owner`] work.
    pub owner_index: bool,
    /// [`SessionStore::purge_expired`] does work (stores that expire records by themselves,
    /// like Redis, may not need it).
    pub purge: bool,
    /// `apply` is atomic: guarantees 1–3 of the module docs hold under concurrency (two
    /// patches to different keys both survive, a stale expectation is always a conflict).
    /// Stores built on plain load/save cannot promise this. The conformance suite runs its
    /// concurrent-apply checks exactly when a store claims it.
    pub atomic_patch: bool,
    /// `rotate` is atomic: under concurrent rotations and patches of one session, exactly
    /// one of the old and new keys is live at any moment, at most one rotation of a key
    /// succeeds, and no patch reported applied to the old key is lost in the move. The
    /// default [`SessionStore::rotate`] (load, create, delete) is not; nor is a rotation
    /// across Redis Cluster slots. The conformance suite runs its concurrent-rotation check
    /// exactly when a store claims it.
    pub atomic_rotate: bool,
    /// [`SessionStore::renew`] is atomic and [`SessionStore::load_forward`] reads what it
    /// left (periodic id renewal, SEC-49, `docs/id-renewal.md`): the move and the forward
    /// record at the old key happen in one step, so the old key never holds nothing in
    /// between, and at most one renewal of a key succeeds. An engine configured with a
    /// renewal interval refuses a store that does not claim it. The conformance suite runs
    /// its renewal checks exactly when a store claims it.
    pub renewal: bool,
}

impl Capabilities {
    /// No optional capability.
    pub const NONE: Capabilities = Capabilities {
        owner_index: false,
        purge: false,
        atomic_patch: false,
        atomic_rotate: false,
        renewal: false,
    };
    /// Every capability.
    pub const ALL: Capabilities = Capabilities {
        owner_index: true,
        purge: true,
        atomic_patch: true,
        atomic_rotate: true,
        renewal: true,
    };
}

/// One session of an owner, as listed by [`SessionStore::sessions_of`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session's store key: enough to revoke it server-side, useless as a cookie.
    /// Do not hand it to clients either; list positions or your own handles instead.
    pub key: StoreKey,
    /// When the session was created.
    pub created_at: Timestamp,
    /// When it dies without activity.
    pub idle_deadline: Timestamp,
    /// When it dies regardless.
    pub absolute_deadline: Timestamp,
}

/// A place that keeps sessions. See the module docs for the guarantees.
///
/// Implementations are cheap to share (`Clone` over an `Arc` or a pool) and must never
/// panic on what they read back: corrupt stored data is a [`StoreError`] of kind
/// [`crate::StoreErrorKind::Corrupt`] for every operation that has to decode it (never
/// part of the record, never `Unavailable`), and `delete` removes it. The engine then
/// goes on as if the record did not exist and deletes it (see
/// [`crate::CorruptRecords`]).
pub trait SessionStore: Send + Sync + 'static {
    /// The live record under `key` at `now`, or `None` if there is none or it has expired.
    fn load(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;

    /// Stores `record` under `key` if no live record is there: [`WriteOutcome::Applied`], or
    /// [`WriteOutcome::KeyTaken`] and no change. An expired record under `key` counts as
    /// absent and is replaced.
    fn create(
        &self,
        key: &StoreKey,
        record: &Record,
        now: Timestamp,
    ) -> impl Future<Output = Result<WriteOutcome, StoreError>> + Send;

    /// Applies `patch` to the live record under `key`, atomically (see [`Patch`] for the
    /// exact semantics): [`WriteOutcome::Applied`], [`WriteOutcome::Gone`] or
    /// [`WriteOutcome::Conflict`].
    fn apply(
        &self,
        key: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> impl Future<Output = Result<WriteOutcome, StoreError>> + Send;

    /// Moves the live record from `old` to `new` and applies `patch` to it, so that exactly
    /// one of the two keys is valid at any moment. [`WriteOutcome::Gone`] if `old` has no
    /// live record, [`WriteOutcome::KeyTaken`] if `new` has one (nothing changes in either
    /// case), [`WriteOutcome::Conflict`] as for `apply`.
    ///
    /// The default implementation is **not atomic** (load, create, delete): a store that
    /// can do better must override it and say so in [`Capabilities::atomic_rotate`].
    fn rotate(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> impl Future<Output = Result<WriteOutcome, StoreError>> + Send {
        async move {
            let Some(mut record) = self.load(old, now).await? else {
                return Ok(WriteOutcome::Gone);
            };
            let conflicts = patch.conflicts(&record.data);
            if !conflicts.is_empty() {
                return Ok(WriteOutcome::Conflict(conflicts));
            }
            if patch.too_large(&record.data) {
                return Ok(WriteOutcome::TooLarge);
            }
            patch.apply_to(&mut record, now);
            let outcome = self.create(new, &record, now).await?;
            if matches!(outcome, WriteOutcome::Applied(_)) {
                self.delete(old).await?;
            }
            Ok(outcome)
        }
    }

    /// Periodic id renewal (SEC-49): moves the live record from `old` to `new` and applies
    /// `patch` to it (as [`SessionStore::rotate`], same outcomes), and in the same atomic
    /// step leaves at `old` a forward record holding `forward` (opaque bytes the engine
    /// made; never an id), readable through [`SessionStore::load_forward`] until
    /// `grace_until`, after which `old` is absent.
    ///
    /// A forward record is never a session: `load`, `apply`, `touch`, `rotate` and `renew`
    /// on `old` see it as absent (`Gone`), `sessions_of` does not list it, `delete` and
    /// `purge_expired` (once past `grace_until`) remove it, and `create` on its key is
    /// [`WriteOutcome::KeyTaken`] while it lives.
    ///
    /// The default answers [`crate::StoreErrorKind::Unsupported`]: built from the other
    /// operations the old key would hold nothing for one round trip, which is exactly what
    /// renewal must avoid. A store that implements it claims [`Capabilities::renewal`].
    fn renew(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        forward: &[u8],
        grace_until: Timestamp,
        now: Timestamp,
    ) -> impl Future<Output = Result<WriteOutcome, StoreError>> + Send {
        let _ = (old, new, patch, forward, grace_until, now);
        async { Err(StoreError::unsupported("id renewal")) }
    }

    /// The bytes of the live forward record under `key` (left by
    /// [`SessionStore::renew`]), or `None` if there is none or its grace window is over.
    ///
    /// The default is `None`: a store that cannot renew holds no forward records.
    fn load_forward(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send {
        let _ = (key, now);
        async { Ok(None) }
    }

    /// Removes the record under `key`, if any. Deleting nothing is not an error.
    fn delete(&self, key: &StoreKey) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Moves the idle deadline of the live record under `key` to `now` plus its idle
    /// timeout (capped by its absolute deadline), and nothing else: `Some` with the new
    /// expiry, or `None` if there is no live record (never created again by a touch).
    fn touch(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Expires>, StoreError>> + Send {
        async move {
            match self.apply(key, &Patch::default(), now).await? {
                WriteOutcome::Applied(expires) => Ok(Some(expires)),
                _ => Ok(None),
            }
        }
    }

    /// What this store supports beyond the required operations.
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE
    }

    /// The live sessions bound to `owner`, oldest first.
    ///
    /// # Errors
    /// [`crate::StoreErrorKind::Unsupported`] unless [`Capabilities::owner_index`].
    fn sessions_of(
        &self,
        owner: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<SessionInfo>, StoreError>> + Send {
        let _ = (owner, now);
        async { Err(StoreError::unsupported("owner index")) }
    }

    /// Deletes every session bound to `owner` except `keep`; returns how many records were
    /// deleted (which may include expired ones not purged yet).
    ///
    /// # Errors
    /// [`crate::StoreErrorKind::Unsupported`] unless [`Capabilities::owner_index`].
    fn revoke_owner(
        &self,
        owner: &str,
        keep: Option<&StoreKey>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        let _ = (owner, keep);
        async { Err(StoreError::unsupported("owner index")) }
    }

    /// Deletes up to `limit` records that are expired at `now`; returns how many.
    ///
    /// # Errors
    /// [`crate::StoreErrorKind::Unsupported`] unless [`Capabilities::purge`].
    fn purge_expired(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        let _ = (now, limit);
        async { Err(StoreError::unsupported("purge")) }
    }
}

/// A boxed future, as the object-safe shim returns.
/// A boxed, sendable future: what object-safe store-side traits return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe mirror of [`SessionStore`], so that the engine and the `Session` handle
/// are not generic over the store. One allocation per store call, which is noise next to
/// the call itself.
pub(crate) trait DynStore: Send + Sync + 'static {
    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>>;
    fn create<'a>(
        &'a self,
        key: &'a StoreKey,
        record: &'a Record,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>>;
    fn apply<'a>(
        &'a self,
        key: &'a StoreKey,
        patch: &'a Patch,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>>;
    fn rotate<'a>(
        &'a self,
        old: &'a StoreKey,
        new: &'a StoreKey,
        patch: &'a Patch,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>>;
    #[allow(clippy::too_many_arguments)]
    fn renew<'a>(
        &'a self,
        old: &'a StoreKey,
        new: &'a StoreKey,
        patch: &'a Patch,
        forward: &'a [u8],
        grace_until: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>>;
    fn load_forward<'a>(
        &'a self,
        key: &'a StoreKey,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;
    fn delete<'a>(&'a self, key: &'a StoreKey) -> BoxFuture<'a, Result<(), StoreError>>;
    fn touch<'a>(
        &'a self,
        key: &'a StoreKey,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Option<Expires>, StoreError>>;
    fn capabilities(&self) -> Capabilities;
    fn sessions_of<'a>(
        &'a self,
        owner: &'a str,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>>;
    fn revoke_owner<'a>(
        &'a self,
        owner: &'a str,
        keep: Option<&'a StoreKey>,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
    fn purge_expired(&self, now: Timestamp, limit: usize)
        -> BoxFuture<'_, Result<u64, StoreError>>;
}

impl<S: SessionStore> DynStore for S {
    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        Box::pin(SessionStore::load(self, key, now))
    }
    fn create<'a>(
        &'a self,
        key: &'a StoreKey,
        record: &'a Record,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>> {
        Box::pin(SessionStore::create(self, key, record, now))
    }
    fn apply<'a>(
        &'a self,
        key: &'a StoreKey,
        patch: &'a Patch,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>> {
        Box::pin(SessionStore::apply(self, key, patch, now))
    }
    fn rotate<'a>(
        &'a self,
        old: &'a StoreKey,
        new: &'a StoreKey,
        patch: &'a Patch,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>> {
        Box::pin(SessionStore::rotate(self, old, new, patch, now))
    }
    fn renew<'a>(
        &'a self,
        old: &'a StoreKey,
        new: &'a StoreKey,
        patch: &'a Patch,
        forward: &'a [u8],
        grace_until: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<WriteOutcome, StoreError>> {
        Box::pin(SessionStore::renew(
            self,
            old,
            new,
            patch,
            forward,
            grace_until,
            now,
        ))
    }
    fn load_forward<'a>(
        &'a self,
        key: &'a StoreKey,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(SessionStore::load_forward(self, key, now))
    }
    fn delete<'a>(&'a self, key: &'a StoreKey) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(SessionStore::delete(self, key))
    }
    fn touch<'a>(
        &'a self,
        key: &'a StoreKey,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Option<Expires>, StoreError>> {
        Box::pin(SessionStore::touch(self, key, now))
    }
    fn capabilities(&self) -> Capabilities {
        SessionStore::capabilities(self)
    }
    fn sessions_of<'a>(
        &'a self,
        owner: &'a str,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>> {
        Box::pin(SessionStore::sessions_of(self, owner, now))
    }
    fn revoke_owner<'a>(
        &'a self,
        owner: &'a str,
        keep: Option<&'a StoreKey>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(SessionStore::revoke_owner(self, owner, keep))
    }
    fn purge_expired(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(SessionStore::purge_expired(self, now, limit))
    }
}
