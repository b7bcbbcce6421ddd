//! The engine's paths for stores that answer in process: [`Engine::finish_now`] (the end
//! of a request without a future), and for the built-in MemoryStore a load and a final
//! save done under the session's lock, with nothing copied out of the request's state.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::{fail, projected_size_by, projected_size_of, Engine, Finish, SaveMode, Write};
use crate::backend::Backend;
use crate::error::{SessionError, StoreError, StoreErrorKind};
use crate::memory::MemoryStore;
use crate::patch_source::PendingPatch;
use crate::record::Patch;
use crate::session::Session;
use crate::state::{Base, Changes, State};
use crate::store::WriteOutcome;
use crate::time::Timestamp;

impl Engine {
    /// [`Engine::finish`] run to completion on the spot when nothing it calls can wait: the
    /// engine's store is the built-in [`crate::MemoryStore`], or it is stateless without a
    /// revocation store. `None` for every other store: await [`Engine::finish`] instead.
    ///
    /// Integrations call it first so the common request needs no boxed future for its
    /// save; the result is exactly what `finish` would have returned.
    pub fn finish_now(&self, session: &Session, status: u16) -> Option<Finish> {
        if !self.completes_inline() {
            return None;
        }
        let mut finish = pin!(self.finish(session, status));
        match finish
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(finish) => Some(finish),
            // Unreachable: on these stores no `.await` inside `finish` ever waits. Were that
            // to change, the request fails closed instead of dropping a save half done.
            Poll::Pending => {
                debug_assert!(false, "an in-process store's save did not complete");
                tracing::error!(target: "satchel", "an in-process store's save did not complete; answering with an error");
                Some(Finish::failed(SessionError::store(StoreError::msg(
                    StoreErrorKind::Backend,
                    "the in-process store did not complete",
                ))))
            }
        }
    }

    /// [`Engine::ensure_loaded`] on the built-in MemoryStore, under the session's lock.
    pub(super) fn load_in_place(
        &self,
        memory: &MemoryStore,
        state: &mut State,
    ) -> Result<(), SessionError> {
        state.check()?;
        let Base::NotLoaded(id) = &state.base else {
            return Ok(()); // loaded already, or nothing to load (a store engine has no sealed base)
        };
        let key = id.store_key();
        let now = self.now();
        let loaded = crate::backend::counted(memory.load_packed(&key, now));
        if let (Ok(None), Some(_)) = (&loaded, self.0.config.renewal) {
            // The old id of a renewal inside its grace window leads to the renewed one.
            let forward = memory.load_forward_now(&key, now);
            if let Some(new) = self.open_forward(id, &key, forward) {
                let new_key = new.store_key();
                match crate::backend::counted(memory.load_packed(&new_key, now)) {
                    Ok(None) => {} // ended since: the old id is just unknown
                    Ok(found) => {
                        state.set_base(Base::None);
                        return self.adopt_followed(state, (new, found), now);
                    }
                    Err(err) => {
                        state.set_base(Base::None);
                        return self.loaded(state, new, &new_key, Err(err));
                    }
                }
            }
        }
        match state.set_base(Base::None) {
            Base::NotLoaded(id) => self.loaded(state, id, &key, loaded),
            // Not reached: the base was matched above, under the same lock.
            other => {
                state.base = other;
                Ok(())
            }
        }
    }

    /// The final save of a loaded session on the built-in MemoryStore, without a rotation:
    /// the pending changes are applied where they lie ([`PendingPatch`]), under the
    /// session's lock, since the store call is synchronous. The result is what building
    /// the `Patch` and applying it would give, minus an allocation per key and list.
    pub(super) fn apply_pending(
        &self,
        memory: &MemoryStore,
        state: &mut State,
        changes: &Changes,
        now: Timestamp,
    ) -> Result<(), SessionError> {
        let (key, id, outcome) = {
            let Base::Live(id, record) = &state.base else {
                // The caller checked; a base that is not loaded has no fast path.
                return Err(fail(
                    state,
                    SessionError::store(StoreError::msg(
                        StoreErrorKind::Backend,
                        "in-place save of a session that is not loaded",
                    )),
                ));
            };
            // Keys read and then written (or cleared) must still hold what was read.
            let expect = changes
                .reads
                .iter()
                .filter(|k| changes.clear || changes.writes.contains_key(k.as_str()))
                .map(|k| (k.as_str(), state.stored(k.as_str())))
                .collect();
            let pending = PendingPatch {
                clear: changes.clear,
                writes: &changes.writes,
                expect,
                expiry: self.expiry_change(changes.expiry, Some(&record.meta), now),
                max_data_bytes: self.0.config.max_data_bytes,
            };
            let after = match &state.packed {
                Some(packed) => projected_size_by(
                    packed.size(),
                    |k| packed.get(k).map(|v| k.len() + v.len()),
                    &pending,
                ),
                None => projected_size_of(record, &pending),
            };
            let key = id.store_key();
            let outcome = if after > self.0.config.max_data_bytes {
                Ok(WriteOutcome::TooLarge)
            } else {
                crate::observe::write(crate::observe::Op::Patch);
                crate::backend::counted(memory.apply_source(&key, &pending, now))
            };
            (key, *id.as_bytes(), outcome)
        };
        let write = Write {
            id,
            key,
            // Read by `after_write` only for an explicit save or a record it never saw,
            // neither of which takes this path.
            patch: Patch::default(),
            known: true,
            rotate: false,
            renew: false,
            forwarded: false,
            expiry_changed: changes.expiry.is_some(),
            rotation: None,
            expiry: changes.expiry,
        };
        // A loaded record is never re-created (that is for blind writes): `None` always.
        self.after_write(state, SaveMode::Final, write, (outcome, None), now)
            .map(|_| ())
    }

    /// Whether every store call of this engine completes without waiting.
    fn completes_inline(&self) -> bool {
        match &self.0.store {
            Backend::Memory(_) => true,
            Backend::Sealed(stateless) => stateless.revocations.is_none(),
            Backend::Dyn(_) => false,
        }
    }
}

impl Finish {
    /// What a request whose save failed with `error` must answer: the error response,
    /// no cookie.
    fn failed(error: SessionError) -> Self {
        Finish {
            set_cookie: None,
            extra_set_cookies: Vec::new(),
            no_store: true,
            vary_cookie: true,
            error: Some(error),
        }
    }
}
