//! The per-request state machine every integration drives.
//!
//! An integration calls [`Engine::begin`] with the request's `Cookie` headers, hands the
//! returned [`Session`] to the handler, and after the handler calls [`Engine::finish`] with
//! the response status. `finish` decides the single store write (patch, create, rotate,
//! touch or delete) and what the response must carry ([`Finish`]). Integrations translate
//! types and nothing else.
//!
//! # Round trips
//! - handler never touches the session: 0 store calls;
//! - handler only reads: 1 (`load`), plus a `touch` once the touch threshold has passed;
//! - handler writes without reading: 1 (`apply`, or `create` for a new session);
//! - handler reads then writes: 2 (`load`, `apply`).

mod corrupt;
mod inline;
mod renew;
mod stateless;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

pub use stateless::Stateless;

use crate::backend::Backend;
use crate::config::{ConfigError, SessionConfig};
use crate::cookie::{self, Incoming, IncomingSealed};
use crate::error::{cause_chain, SessionError, SessionErrorKind, StoreError};
use crate::id::{SessionId, StoreKey};
use crate::id_format::IdFormat;
use crate::memory::codec::Packed;
use crate::observe::{self, Loaded, Rotated};
use crate::patch_source::PatchSource;
use crate::record::{Data, Expires, ExpiryChange, Meta, Patch, Record, Value};
use crate::session::Session;
use crate::state::{Base, Changes, CookieOut, Expiry, Rotation, State};
use crate::store::{Capabilities, SessionInfo, SessionStore, WriteOutcome};
use crate::time::{Clock, SystemClock, Timestamp};

/// How many fresh ids to try when a new id collides with an existing record. With 256-bit
/// ids a collision means a broken generator; the retries only keep `create` honest.
const CREATE_ATTEMPTS: usize = 3;

/// The session engine: one per application, shared by every request. Cheap to clone.
#[derive(Clone)]
pub struct Engine(Arc<Inner>);

struct Inner {
    store: Backend,
    config: SessionConfig,
    clock: Arc<dyn Clock>,
    /// An interop id format; `None`: satchel's own (the fast path, no dynamic call).
    ids: Option<Arc<dyn IdFormat>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.0.config)
            .field("clock", &self.0.clock)
            .finish_non_exhaustive()
    }
}

/// What the response must carry once the handler is done.
pub struct Finish {
    /// A `Set-Cookie` header value, if the cookie must be set or removed.
    pub set_cookie: Option<String>,
    /// Further `Set-Cookie` values: a stateless engine's other chunks and removals of
    /// chunks the browser no longer needs. Empty (no allocation) otherwise. Send every
    /// value of [`Finish::set_cookies`].
    pub extra_set_cookies: Vec<String>,
    /// Add `Cache-Control: no-store` (the response sets or clears the session cookie, so no
    /// cache may keep it, CVE-2023-30861; or it is an error response, or a handler's 5xx
    /// after it used the session, standing in for one that would have).
    pub no_store: bool,
    /// Add `Vary: Cookie` (the response depends on the session cookie; always with an
    /// error response, and with a handler's 5xx after it used the session).
    pub vary_cookie: bool,
    /// The session failed: replace the response with an error response for this error
    /// (status [`SessionError::default_status`] unless configured otherwise), with no
    /// internal detail in the body.
    pub error: Option<SessionError>,
}

impl std::fmt::Debug for Finish {
    // The Set-Cookie value carries the session id: never print it (SEC-36).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cookie = self.set_cookie.as_ref().map(|c| {
            if c.contains("Max-Age=0") {
                "<removal>"
            } else {
                "<redacted>"
            }
        });
        f.debug_struct("Finish")
            .field("set_cookie", &cookie)
            .field("extra_set_cookies", &self.extra_set_cookies.len())
            .field("no_store", &self.no_store)
            .field("vary_cookie", &self.vary_cookie)
            .field("error", &self.error)
            .finish()
    }
}

impl Finish {
    /// Every `Set-Cookie` value the response must carry, in order.
    pub fn set_cookies(&self) -> impl Iterator<Item = &str> {
        self.set_cookie
            .iter()
            .chain(self.extra_set_cookies.iter())
            .map(String::as_str)
    }
}

impl Engine {
    /// A stateless engine: sessions live in sealed cookies (see [`crate::sealed`]), with
    /// the system clock.
    pub fn stateless(stateless: Stateless, config: SessionConfig) -> Self {
        Self::stateless_with_clock(stateless, config, SystemClock)
    }

    /// A stateless engine reading time from `clock`.
    ///
    /// # Panics
    /// If the configuration asks for id renewal
    /// ([`crate::SessionConfigBuilder::renew_id_after`]): a sealed cookie has no server
    /// state to forward from (it is re-sealed with a new issue time on every write
    /// instead), and a renewal asked for is never silently dropped.
    pub fn stateless_with_clock(
        stateless: Stateless,
        config: SessionConfig,
        clock: impl Clock,
    ) -> Self {
        assert!(
            config.renewal.is_none(),
            "{}",
            ConfigError::RenewalUnsupported
        );
        Engine(Arc::new(Inner {
            store: Backend::Sealed(Box::new(stateless)),
            config,
            clock: Arc::new(clock),
            ids: None,
        }))
    }

    /// Whether sessions live in sealed cookies rather than in a store.
    pub fn is_stateless(&self) -> bool {
        self.stateless_parts().is_some()
    }

    /// An engine over `store` with the system clock.
    ///
    /// Any store but a [`crate::MemoryStore`] is put behind a [`crate::CircuitBreaker`]
    /// (reading this engine's clock) unless the configuration turns it off
    /// ([`crate::SessionConfigBuilder::no_store_circuit_breaker`]): during an outage,
    /// requests answer 503 at once instead of each waiting for the store's timeout.
    ///
    /// # Panics
    /// On the configuration errors [`Engine::try_new`] returns.
    pub fn new<S: SessionStore>(store: S, config: SessionConfig) -> Self {
        Self::with_clock(store, config, SystemClock)
    }

    /// [`Engine::new`], returning a configuration the store cannot serve as an error:
    /// [`ConfigError::RenewalUnsupported`] when id renewal is configured and the store
    /// does not claim [`Capabilities::renewal`].
    ///
    /// # Errors
    /// As said.
    pub fn try_new<S: SessionStore>(store: S, config: SessionConfig) -> Result<Self, ConfigError> {
        Self::try_with_clock(store, config, SystemClock)
    }

    /// An engine over `store` reading time from `clock` (tests use [`crate::TestClock`]).
    ///
    /// # Panics
    /// On the configuration errors [`Engine::try_with_clock`] returns.
    pub fn with_clock<S: SessionStore>(store: S, config: SessionConfig, clock: impl Clock) -> Self {
        match Self::try_with_clock(store, config, clock) {
            Ok(engine) => engine,
            Err(err) => panic!("{err}"),
        }
    }

    /// [`Engine::with_clock`], returning a configuration the store cannot serve as an
    /// error (see [`Engine::try_new`]).
    ///
    /// # Errors
    /// As for [`Engine::try_new`].
    pub fn try_with_clock<S: SessionStore>(
        store: S,
        config: SessionConfig,
        clock: impl Clock,
    ) -> Result<Self, ConfigError> {
        renew::check(&config, SessionStore::capabilities(&store), false)?;
        let clock: Arc<dyn Clock> = Arc::new(clock);
        Ok(Engine(Arc::new(Inner {
            store: Backend::new(store, config.circuit_breaker.map(|p| (p, &clock))),
            config,
            clock,
            ids: None,
        })))
    }

    /// An engine over `store` whose session ids travel in `format` instead of satchel's
    /// own (to share sessions with another framework, see [`IdFormat`]), with the system
    /// clock.
    pub fn with_id_format<S: SessionStore>(
        store: S,
        config: SessionConfig,
        format: impl IdFormat,
    ) -> Self {
        Self::with_id_format_and_clock(store, config, format, SystemClock)
    }

    /// [`Engine::with_id_format`] reading time from `clock`.
    ///
    /// # Panics
    /// If the configuration asks for id renewal: forward records carry satchel's own ids
    /// ([`ConfigError::RenewalUnsupported`]).
    pub fn with_id_format_and_clock<S: SessionStore>(
        store: S,
        config: SessionConfig,
        format: impl IdFormat,
        clock: impl Clock,
    ) -> Self {
        if let Err(err) = renew::check(&config, SessionStore::capabilities(&store), true) {
            panic!("{err}");
        }
        let clock: Arc<dyn Clock> = Arc::new(clock);
        Engine(Arc::new(Inner {
            store: Backend::new(store, config.circuit_breaker.map(|p| (p, &clock))),
            config,
            clock,
            ids: Some(Arc::new(format)),
        }))
    }

    /// A fresh id in this engine's format.
    pub(crate) fn new_id(&self) -> SessionId {
        match &self.0.ids {
            None => SessionId::generate(),
            Some(f) => crate::id_format::with_format_key(&**f, f.generate()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.0.config
    }

    /// The current time on the engine's clock.
    pub fn now(&self) -> Timestamp {
        self.0.clock.now()
    }

    /// The store's optional capabilities.
    pub fn capabilities(&self) -> Capabilities {
        self.0.store.capabilities()
    }

    /// Starts a request: reads the session cookie from the `Cookie` header values. No store
    /// call happens here; a malformed, duplicated or oversized cookie is never looked up.
    pub fn begin<'a, I>(&self, cookie_headers: I) -> Session
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let state = if let Some(parts) = self.stateless_parts() {
            let (base, chunks) = match cookie::parse_sealed(
                cookie_headers,
                &self.0.config,
                parts.chunk_cap(),
                parts.sealer.companion_suffix(),
            ) {
                IncomingSealed::Absent => (Base::None, 0),
                IncomingSealed::Value(sealed, n) => (Base::Sealed(Arc::new(sealed)), n),
                IncomingSealed::Invalid(why, n) => {
                    tracing::warn!(target: "satchel::anomaly", kind = why.as_str(), "session cookie ignored");
                    observe::cookie_rejected(why.as_str(), None);
                    (Base::None, n)
                }
            };
            let mut state = State::new(base, chunks > 0);
            state.chunks_in = chunks;
            state
        } else {
            let config = &self.0.config;
            let decode = |value: &[u8], companion: Option<&[u8]>| match &self.0.ids {
                None => cookie::decode_native(value),
                Some(f) => f
                    .decode_with_companion(&config.cookie_name, value, companion)
                    .map(|id| crate::id_format::with_format_key(&**f, id)),
            };
            let suffix = self.0.ids.as_ref().and_then(|f| f.companion_suffix());
            let (base, had_cookie) = match cookie::parse(cookie_headers, config, suffix, decode) {
                Incoming::Absent => (Base::None, false),
                Incoming::Id(id) => (Base::NotLoaded(id), true),
                Incoming::Invalid(why) => {
                    tracing::warn!(target: "satchel::anomaly", kind = why.as_str(), "session cookie ignored");
                    observe::cookie_rejected(why.as_str(), None);
                    (Base::None, true)
                }
            };
            State::new(base, had_cookie)
        };
        Session {
            engine: self.clone(),
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Ends a request: saves what the handler changed and says what the response needs.
    ///
    /// When `status` is a server error (5xx) the handler's changes are not saved (a failed
    /// request should not leave half its effects), except a logout, which always happens.
    pub async fn finish(&self, session: &Session, status: u16) -> Finish {
        let mode = if status >= 500 {
            SaveMode::FailedResponse
        } else {
            SaveMode::Final
        };
        // A failed response of a request that used the session carries the headers its
        // success would have (issue 19, item 9); looked at before the save drops changes.
        let failed_use = mode == SaveMode::FailedResponse && {
            let state = session.lock();
            state.accessed || state.changes.touches_record() || state.delete.is_some()
        };
        let result = self.save(session, mode).await;
        if session.lock().discard.is_some() {
            Box::pin(self.discard_corrupt(session)).await;
        }
        let mut state = session.lock();
        let mut extra_set_cookies = Vec::new();
        // The request is over: the cookie values move out instead of being copied.
        let set_cookie = match std::mem::replace(&mut state.cookie, CookieOut::Keep) {
            CookieOut::Keep => None,
            CookieOut::Set(value) => Some(value),
            CookieOut::Remove if self.is_stateless() => {
                let companion = self
                    .stateless_parts()
                    .and_then(|p| p.sealer.companion_suffix());
                let mut all = cookie::sealed_removals(&self.0.config, state.chunks_in, companion);
                extra_set_cookies = all.split_off(1);
                all.pop()
            }
            CookieOut::Remove => {
                let suffix = self.0.ids.as_ref().and_then(|f| f.companion_suffix());
                if let Some(suffix) = suffix {
                    extra_set_cookies.push(cookie::companion_removal(&self.0.config, suffix));
                }
                Some(cookie::removal_cookie(&self.0.config))
            }
            CookieOut::Many(mut all) => {
                extra_set_cookies = all.split_off(1.min(all.len()));
                all.pop()
            }
        };
        let error = result
            .err()
            .or_else(|| state.failed.as_deref().map(SessionError::duplicate));
        // A failed request sets no cookie at all: nothing points the browser at state
        // that may not have been saved (SEC-39).
        let set_cookie = if error.is_some() {
            extra_set_cookies.clear();
            None
        } else {
            set_cookie
        };
        // The one report of the request's failure, with the store's own cause (issue 14).
        if let Some(err) = &error {
            match err.kind() {
                SessionErrorKind::Store => {
                    tracing::error!(target: "satchel", error = %cause_chain(err), store_error = ?err.store_kind(), "session store failure; answering with an error")
                }
                _ => tracing::warn!(target: "satchel", error = %err, "session not saved"),
            }
        }
        if let Some(first) = &set_cookie {
            observe::cookie_bytes(
                first.len() + extra_set_cookies.iter().map(String::len).sum::<usize>(),
            );
        }
        // An error response, or a handler's 5xx after using the session, stands in for a
        // response that would have set the cookie or depended on it: no cache may keep it.
        let failed = error.is_some() || failed_use;
        Finish {
            no_store: set_cookie.is_some() || failed,
            vary_cookie: set_cookie.is_some() || state.accessed || failed,
            set_cookie,
            extra_set_cookies,
            error,
        }
    }

    /// Loads the record if the request has an id that was not loaded yet.
    pub(crate) async fn ensure_loaded(&self, session: &Session) -> Result<(), SessionError> {
        if let Backend::Memory(memory) = &self.0.store {
            // Synchronous: load under the session's lock, with no copy of the id and no
            // second look at the state afterwards.
            return self.load_in_place(memory, &mut session.lock());
        }
        let id = {
            let state = session.lock();
            state.check()?;
            match &state.base {
                Base::NotLoaded(id) => Ok(id.clone()),
                Base::Sealed(sealed) => Err(Arc::clone(sealed)),
                _ => return Ok(()),
            }
        };
        let id = match id {
            Ok(id) => id,
            Err(sealed) => {
                let parts = self.stateless_parts().ok_or_else(|| {
                    SessionError::store(StoreError::unsupported("sealed cookie on a store engine"))
                })?;
                return Box::pin(self.open_sealed(session, parts, sealed)).await;
            }
        };
        let key = id.store_key();
        let now = self.now();
        let loaded = self.0.store.load_packed(&key, now).await;
        let followed = match &loaded {
            Ok(None) if self.0.config.renewal.is_some() => {
                Box::pin(self.follow_load(&id, &key, now)).await
            }
            _ => Ok(None),
        };
        let mut state = session.lock();
        if !matches!(&state.base, Base::NotLoaded(current) if *current == id) {
            return state.check(); // someone else resolved it meanwhile
        }
        match followed {
            Ok(Some(followed)) => self.adopt_followed(&mut state, followed, now),
            Ok(None) => self.loaded(&mut state, id, &key, loaded),
            Err(err) => self.loaded(&mut state, id, &key, Err(err)),
        }
    }

    /// Makes what the store answered for `id` the request's base.
    pub(super) fn loaded(
        &self,
        state: &mut State,
        id: SessionId,
        key: &StoreKey,
        loaded: Result<Option<(Record, Option<Packed>)>, StoreError>,
    ) -> Result<(), SessionError> {
        match loaded {
            Ok(Some((record, packed))) => {
                observe::loaded(Loaded::Found);
                state.set_base(Base::Live(id, record));
                state.packed = packed;
                state.resolve_login(self.0.config.login_data());
            }
            Ok(None) => {
                observe::loaded(Loaded::Absent);
                tracing::warn!(target: "satchel::anomaly", kind = "unknown_id", session = %key.short(), "unknown or expired session id; not adopted");
                observe::cookie_rejected("unknown_id", Some(key));
                state.set_base(Base::None);
                if state.cookie == CookieOut::Keep {
                    state.cookie = CookieOut::Remove;
                }
            }
            Err(err) if err.kind() == crate::StoreErrorKind::Corrupt => {
                observe::loaded(Loaded::Failed);
                self.note_corrupt(state, key, &err, "load");
                if !self.absent_if_corrupt(&err) {
                    state.set_base(Base::NotLoaded(id));
                    return Err(fail(state, SessionError::store(err)));
                }
                // As for an unknown id: anonymous, the cookie goes, a write starts afresh.
                state.set_base(Base::None);
                if state.cookie == CookieOut::Keep {
                    state.cookie = CookieOut::Remove;
                }
            }
            Err(err) => {
                observe::loaded(Loaded::Failed);
                // The id stays, so a later read may try again (as after any failed load).
                state.set_base(Base::NotLoaded(id));
                return Err(fail(state, SessionError::store(err)));
            }
        }
        Ok(())
    }

    /// Saves pending changes.
    ///
    /// The common case (a patch to a loaded or known record) runs inline; every rarer
    /// branch (logout, reload for a browser-session expiry, create, touch, rotation) is a
    /// boxed future, so this future stays small and cheap to move at each `.await`.
    pub(crate) async fn save(&self, session: &Session, mode: SaveMode) -> Result<(), SessionError> {
        if let Some(parts) = self.stateless_parts() {
            // Boxed: keeps the store path's future as small as it was.
            return Box::pin(self.save_sealed(session, parts, mode)).await;
        }
        // 1. A logout deletes the old record first, whatever else happened (even after a
        //    failed load: a user who asked to log out must be logged out if at all possible).
        let ended = match session.lock().delete.take().map(|ended| *ended) {
            Some(Base::NotLoaded(id) | Base::Live(id, _)) => Some(id.store_key()),
            _ => None,
        };
        if let Some(key) = ended {
            Box::pin(self.delete_ended(session, key)).await?;
        }
        session.lock().check()?;
        if mode == SaveMode::FailedResponse {
            // Drop what the failed handler changed; a cookie set by an earlier explicit
            // save stays, since it names state that was already stored.
            session.lock().changes = Changes::default();
            return Ok(());
        }
        // An expiry change back to a browser session needs the creation time, and a login
        // may need the previous owner (the data policy, `LoginData`).
        let needs_load = {
            let state = session.lock();
            state.changes.expiry == Some(Expiry::BrowserSession)
                || state.login_needs_owner(self.0.config.login_data())
        };
        if needs_load {
            Box::pin(self.ensure_loaded(session)).await?;
        }
        let now = self.now();
        // The plan lands in one borrowed local and the rare branches come back as a boxed
        // future: no large temporary stays in this future's state across an `.await`.
        let mut write = None;
        if let Some(rare) = self.plan(session, mode, now, &mut write)? {
            return rare.await;
        }
        let Some(planned) = &write else {
            return Ok(());
        };
        let outcome = if planned.renew {
            Box::pin(self.renew_write(&planned.key, planned.id, &planned.patch, now)).await
        } else if planned.rotate {
            Box::pin(self.rotate_write(&planned.key, &planned.patch, now)).await
        } else {
            let mut attempts = 0;
            loop {
                attempts += 1;
                let outcome = self.0.store.apply(&planned.key, &planned.patch, now).await;
                match &outcome {
                    Ok(WriteOutcome::KeyTaken) if attempts < CREATE_ATTEMPTS => continue,
                    _ => break (outcome, None),
                }
            }
        };
        // Gone under the old id: a renewal may have forwarded it (docs/id-renewal.md).
        let outcome = match (&outcome, write.as_mut()) {
            ((Ok(WriteOutcome::Gone), _), Some(planned)) if self.0.config.renewal.is_some() => {
                match Box::pin(self.follow_write(planned, now)).await {
                    Some(followed) => followed,
                    None => outcome,
                }
            }
            _ => outcome,
        };
        let recreate = write
            .take()
            .map(|write| self.after_write(&mut session.lock(), mode, write, outcome, now))
            .transpose()?
            .flatten()
            .map(|record| Box::pin(self.create(session, record, now)));
        match recreate {
            Some(create) => create.await,
            None => Ok(()),
        }
    }

    /// Records what the store answered to `write`. `Ok(Some(record))`: the record was gone
    /// and the changes must start a brand-new session made of `record` instead.
    pub(super) fn after_write(
        &self,
        state: &mut State,
        mode: SaveMode,
        write: Write,
        outcome: (Result<WriteOutcome, StoreError>, Option<SessionId>),
        now: Timestamp,
    ) -> Result<Option<Record>, SessionError> {
        let (outcome, new_id) = outcome;
        let outcome = match outcome {
            Ok(o) => o,
            // An unreadable record is no session: the write goes on as if it were gone (a
            // blind write starts a fresh session, a loaded one ended meanwhile).
            Err(err) if err.kind() == crate::StoreErrorKind::Corrupt => {
                let op = if write.rotate { "rotate" } else { "apply" };
                self.note_corrupt(state, &write.key, &err, op);
                if !self.absent_if_corrupt(&err) {
                    return Err(fail(state, SessionError::store(err)));
                }
                WriteOutcome::Gone
            }
            Err(err) => return Err(fail(state, SessionError::store(err))),
        };
        match outcome {
            WriteOutcome::Applied(expires) => {
                if mode == SaveMode::Explicit {
                    state.unpack();
                }
                let (old_id, record) = match state.set_base(Base::None) {
                    Base::Live(id, record) => (Some(id), Some(record)),
                    Base::NotLoaded(id) => (Some(id), None),
                    Base::None | Base::Sealed(_) => (None, None),
                };
                let final_id = new_id.unwrap_or_else(|| match old_id {
                    Some(id) if *id.as_bytes() == write.id => id,
                    // Changed meanwhile by a clone of the session.
                    _ => SessionId::from_raw(write.id).with_store_key(write.key),
                });
                if write.rotate
                    || write.renew
                    || write.forwarded
                    || expires.persistent
                    || write.expiry_changed
                {
                    state.cookie = self.cookie_for(&final_id, expires, now);
                }
                if write.renew {
                    observe::rotated(Rotated::Renewal, &final_id.store_key(), Some(&write.key));
                } else if write.rotate {
                    let reason = match &write.rotation {
                        Some(Rotation::Owner(_)) => Rotated::Login,
                        _ => Rotated::CycleId,
                    };
                    observe::rotated(reason, &final_id.store_key(), Some(&write.key));
                }
                state.base = match record {
                    // Keep the local copy current only if the handler may still read it
                    // (a followed forward's copy is the old record's: read afresh).
                    Some(mut record) if mode == SaveMode::Explicit && !write.forwarded => {
                        write.patch.apply_to(&mut record, now);
                        Base::Live(final_id, record)
                    }
                    _ => Base::NotLoaded(final_id),
                };
                Ok(None)
            }
            WriteOutcome::Gone if !write.known => {
                // A blind write to an id we never saw alive: like any unknown id, it is not
                // adopted; the changes start a brand-new session instead (strict mode).
                observe::resurrection_refused();
                state.set_base(Base::None);
                let changes = Changes {
                    writes: write
                        .patch
                        .set
                        .into_iter()
                        .map(|(k, v)| (k, Some(v)))
                        .collect(),
                    rotate: write.rotation,
                    expiry: write.expiry,
                    ..Changes::default()
                };
                Ok(self.fresh_record(&changes, now))
            }
            WriteOutcome::Gone => {
                observe::resurrection_refused();
                state.set_base(Base::None);
                Err(fail(state, SessionError::new(SessionErrorKind::Gone)))
            }
            WriteOutcome::Conflict(keys) => {
                observe::conflict();
                // Not sticky: the handler may read again (fresh values) and retry.
                if let Base::Live(live_id, _) = &state.base {
                    let live_id = live_id.clone();
                    state.set_base(Base::NotLoaded(live_id));
                }
                state.changes.reads.clear();
                Err(SessionError::conflict(keys))
            }
            WriteOutcome::TooLarge => {
                Err(fail(state, SessionError::new(SessionErrorKind::TooLarge)))
            }
            WriteOutcome::KeyTaken => Err(fail(
                state,
                SessionError::store(StoreError::msg(
                    crate::StoreErrorKind::Backend,
                    "fresh session ids keep colliding; is the id generator broken?",
                )),
            )),
        }
    }

    /// Deletes the record a logout ended.
    async fn delete_ended(&self, session: &Session, key: StoreKey) -> Result<(), SessionError> {
        match self.0.store.delete(&key).await {
            Ok(()) => {
                observe::logged_out(Some(&key));
                Ok(())
            }
            Err(err) => Err(fail(&mut session.lock(), SessionError::store(err))),
        }
    }

    /// Decides, under the lock, what a save must send: takes the pending changes and builds
    /// the patch (with the values read as expectations).
    ///
    /// A patch lands in `write`; a create or a touch comes back as its boxed future.
    fn plan<'a>(
        &'a self,
        session: &'a Session,
        mode: SaveMode,
        now: Timestamp,
        write: &mut Option<Write>,
    ) -> Result<Option<Rare<'a>>, SessionError> {
        let mut guard = session.lock();
        let state = &mut *guard;
        let mut changes = std::mem::take(&mut state.changes);
        let (id, record) = match &state.base {
            Base::None | Base::Sealed(_) => {
                // Nothing to keep: an anonymous visitor who stored nothing costs nothing
                // (SEC-33).
                return Ok(self
                    .fresh_record(&changes, now)
                    .map(|record| -> Rare<'a> { Box::pin(self.create(session, record, now)) }));
            }
            Base::NotLoaded(id) => (id, None),
            Base::Live(id, record) => (id, Some(record)),
        };
        // A loaded session whose id is due is renewed by whatever request comes next,
        // read-only ones included; a login or `cycle_id` rotates it anyway.
        let renew = changes.rotate.is_none()
            && record.is_some_and(|r| self.renewal_due(state, &r.meta, now));
        if !changes.touches_record() && !renew {
            return Ok(match record {
                Some(record) if self.touch_due(&record.meta, now) => {
                    Some(Box::pin(self.touch(session, id.clone(), now)))
                }
                _ => None,
            });
        }
        // The in-place path cannot follow a renewal's forward when the old record turns
        // out gone: with renewal configured, MemoryStore sessions take the general path.
        if let (Backend::Memory(memory), Some(_), SaveMode::Final, None, None) = (
            &self.0.store,
            record,
            mode,
            &changes.rotate,
            self.0.config.renewal,
        ) {
            return self
                .apply_pending(memory, state, &changes, now)
                .map(|()| None);
        }
        let expect = match record {
            None => Vec::new(),
            Some(_) => {
                // Keys read and then written (or cleared) must still hold what was read.
                let reads = std::mem::take(&mut changes.reads);
                reads
                    .into_iter()
                    .filter(|k| changes.clear || changes.writes.contains_key(k.as_str()))
                    .map(|k| {
                        let seen = state
                            .stored(k.as_str())
                            .map(|text| Value::from_trusted_json(text.to_owned()));
                        (k.as_str().to_owned(), seen)
                    })
                    .collect()
            }
        };
        let rotate = changes.rotate.is_some();
        let expiry_changed = changes.expiry.is_some();
        let mut patch = self.patch(&mut changes, expect, record.map(|r| &r.meta), now);
        if self.0.config.renewal.is_some() && (rotate || renew) {
            // Every id change restarts the renewal interval.
            patch.set.push(Self::id_issued_at(now));
        }
        let after = match (record, &state.packed) {
            (None, _) => 0,
            (Some(_), Some(packed)) => projected_size_by(
                packed.size(),
                |k| packed.get(k).map(|v| k.len() + v.len()),
                &patch,
            ),
            (Some(record), None) => projected_size_of(record, &patch),
        };
        if after > self.0.config.max_data_bytes {
            return Err(fail(state, SessionError::new(SessionErrorKind::TooLarge)));
        }
        *write = Some(Write {
            key: id.store_key(),
            id: *id.as_bytes(),
            patch,
            known: record.is_some(),
            rotate,
            renew,
            forwarded: false,
            expiry_changed,
            rotation: changes.rotate,
            expiry: changes.expiry,
        });
        Ok(None)
    }

    /// Applies `patch` under a fresh id (login, `cycle_id`), retrying on the (broken
    /// generator) chance that the fresh id is taken. Returns the outcome and the last id
    /// tried.
    async fn rotate_write(
        &self,
        key: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> (Result<WriteOutcome, StoreError>, Option<SessionId>) {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let fresh = self.new_id();
            let outcome = self
                .0
                .store
                .rotate(key, &fresh.store_key(), patch, now)
                .await;
            match &outcome {
                Ok(WriteOutcome::KeyTaken) if attempts < CREATE_ATTEMPTS => continue,
                _ => return (outcome, Some(fresh)),
            }
        }
    }

    /// Stores `record` as a brand-new session.
    async fn create(
        &self,
        session: &Session,
        record: Record,
        now: Timestamp,
    ) -> Result<(), SessionError> {
        if data_size(&record.data) > self.0.config.max_data_bytes {
            return Err(fail(
                &mut session.lock(),
                SessionError::new(SessionErrorKind::TooLarge),
            ));
        }
        for _ in 0..CREATE_ATTEMPTS {
            let id = self.new_id();
            match self.0.store.create(&id.store_key(), &record, now).await {
                Ok(WriteOutcome::Applied(expires)) => {
                    observe::created();
                    if record.meta.owner.is_some() {
                        observe::rotated(Rotated::Login, &id.store_key(), None);
                    }
                    let mut state = session.lock();
                    state.cookie = self.cookie_for(&id, expires, now);
                    state.set_base(Base::Live(id, record));
                    return Ok(());
                }
                Ok(WriteOutcome::KeyTaken) => continue,
                Ok(_) => break,
                Err(err) => return Err(fail(&mut session.lock(), SessionError::store(err))),
            }
        }
        Err(fail(
            &mut session.lock(),
            SessionError::store(StoreError::msg(
                crate::StoreErrorKind::Backend,
                "could not create a session under a fresh id",
            )),
        ))
    }

    /// The record a brand-new session made of `changes` would start as; `None` when they
    /// hold nothing worth storing (no data, no login).
    fn fresh_record(&self, changes: &Changes, now: Timestamp) -> Option<Record> {
        let data = changes.fresh_data();
        let owner = stateless::login_owner(changes.rotate.as_ref());
        if data.is_empty() && owner.is_none() {
            return None;
        }
        let mut meta = Meta::new(
            now,
            self.0.config.idle_timeout,
            self.0.config.absolute_timeout,
        );
        meta.owner = owner;
        if let Some(Expiry::Persistent { idle, absolute }) = changes.expiry {
            let (idle, absolute) = Expiry::clamped(idle, absolute);
            meta.idle_timeout = idle;
            meta.absolute_deadline = now.saturating_add(absolute);
            meta.persistent = true;
            meta.touch(now);
        }
        Some(Record { data, meta })
    }

    /// Whether a read-only request should extend the idle deadline of `meta`: once the
    /// configured share of the idle timeout has passed, and only while it can still move.
    fn touch_due(&self, meta: &Meta, now: Timestamp) -> bool {
        if meta.idle_deadline >= meta.absolute_deadline {
            return false; // already capped: touching cannot extend it
        }
        let last = Timestamp::from_millis(
            meta.idle_deadline
                .as_millis()
                .saturating_sub(crate::time::duration_millis(meta.idle_timeout)),
        );
        self.0
            .config
            .touch_due(now.saturating_since(last), meta.idle_timeout)
    }

    /// Extends the idle deadline of a session that was read but not changed (the caller
    /// found the touch due, see [`Engine::touch_due`]).
    async fn touch(
        &self,
        session: &Session,
        id: SessionId,
        now: Timestamp,
    ) -> Result<(), SessionError> {
        match self.0.store.touch(&id.store_key(), now).await {
            Ok(Some(expires)) => {
                let mut state = session.lock();
                if let Base::Live(_, record) = &mut state.base {
                    record.meta.touch(now);
                }
                if expires.persistent {
                    state.cookie = self.cookie_for(&id, expires, now);
                }
                Ok(())
            }
            // Ended by another request meanwhile. Do not clear the cookie: the browser may
            // already hold a newer id from a concurrent login.
            Ok(None) => Ok(()),
            // Unreadable since it was loaded: like a record that ended meanwhile.
            Err(err) if err.kind() == crate::StoreErrorKind::Corrupt => {
                let mut state = session.lock();
                self.note_corrupt(&mut state, &id.store_key(), &err, "touch");
                if !self.absent_if_corrupt(&err) {
                    return Err(fail(&mut state, SessionError::store(err)));
                }
                Ok(())
            }
            Err(err) => Err(fail(&mut session.lock(), SessionError::store(err))),
        }
    }

    /// Builds the patch, moving the written values out of `changes` (no copies).
    fn patch(
        &self,
        changes: &mut Changes,
        expect: Vec<(String, Option<Value>)>,
        known: Option<&Meta>,
        now: Timestamp,
    ) -> Patch {
        let mut patch = Patch {
            clear: changes.clear,
            expect,
            max_data_bytes: Some(self.0.config.max_data_bytes),
            ..Patch::default()
        };
        changes.reads.clear();
        for (key, value) in std::mem::take(&mut changes.writes) {
            match value {
                Some(v) => patch.set.push((key, v)),
                None => patch.remove.push(key),
            }
        }
        match &changes.rotate {
            Some(Rotation::Owner(owner)) => patch.owner = Some(Some(owner.clone())),
            // A pending login unbinds whoever was logged in: a partial login is nobody's.
            Some(Rotation::Pending(_)) => patch.owner = Some(None),
            Some(Rotation::KeepOwner) | None => {}
        }
        patch.expiry = self.expiry_change(changes.expiry, known, now);
        patch
    }

    /// The deadlines a requested expiry policy comes to; `known`: the record's metadata,
    /// when it was loaded.
    pub(super) fn expiry_change(
        &self,
        expiry: Option<Expiry>,
        known: Option<&Meta>,
        now: Timestamp,
    ) -> Option<ExpiryChange> {
        expiry.map(|e| match e {
            Expiry::Persistent { idle, absolute } => {
                let (idle, absolute) = Expiry::clamped(idle, absolute);
                ExpiryChange {
                    idle_timeout: idle,
                    absolute_deadline: now.saturating_add(absolute),
                    persistent: true,
                }
            }
            Expiry::BrowserSession => ExpiryChange {
                idle_timeout: self.0.config.idle_timeout,
                absolute_deadline: known
                    .map_or(now, |m| m.created_at)
                    .saturating_add(self.0.config.absolute_timeout),
                persistent: false,
            },
        })
    }

    /// The cookie(s) naming `id`: one `Set-Cookie`, or two for an id format with a
    /// companion signature cookie.
    fn cookie_for(&self, id: &SessionId, expires: Expires, now: Timestamp) -> CookieOut {
        let max_age = expires
            .persistent
            .then(|| Duration::from_secs(expires.at.saturating_since(now).as_secs()));
        let Some(format) = &self.0.ids else {
            return CookieOut::Set(cookie::set_cookie(&self.0.config, id.encode(), max_age));
        };
        let value = format.encode(id);
        let Some(suffix) = format.companion_suffix() else {
            return CookieOut::Set(cookie::set_cookie(&self.0.config, value, max_age));
        };
        let signed = format
            .companion(&self.0.config.cookie_name, &value)
            .unwrap_or_default();
        CookieOut::Many(vec![
            cookie::set_cookie(&self.0.config, value, max_age),
            cookie::companion_cookie(&self.0.config, suffix, signed, max_age),
        ])
    }

    /// The live sessions bound to `owner`.
    ///
    /// # Errors
    /// A store error; `Unsupported` if the store has no owner index.
    pub async fn sessions_of(&self, owner: &str) -> Result<Vec<SessionInfo>, SessionError> {
        Ok(self.0.store.sessions_of(owner, self.now()).await?)
    }

    /// Ends every session of `owner` except `keep`; returns how many.
    ///
    /// # Errors
    /// A store error; `Unsupported` if the store has no owner index.
    ///
    /// On a stateless engine this sets a "not before" time for `owner` in the revocation
    /// store (every cookie of theirs sealed earlier stops working, `keep` included: use
    /// [`Session::revoke_other_sessions`] to keep the caller's) and returns 0, since
    /// cookies cannot be counted.
    pub async fn revoke_owner(
        &self,
        owner: &str,
        keep: Option<&StoreKey>,
    ) -> Result<u64, SessionError> {
        if let Some(parts) = self.stateless_parts() {
            return self.revoke_owner_sealed(parts, owner, None).await;
        }
        let n = self.0.store.revoke_owner(owner, keep).await?;
        observe::revoked(Some(n), keep);
        Ok(n)
    }

    /// Deletes up to `limit` expired records; returns how many.
    ///
    /// # Errors
    /// A store error; `Unsupported` if the store cannot purge.
    pub async fn purge_expired(&self, limit: usize) -> Result<u64, SessionError> {
        Ok(self.0.store.purge_expired(self.now(), limit).await?)
    }
}

/// Why a save happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SaveMode {
    /// `Session::save` inside the handler: the request goes on afterwards.
    Explicit,
    /// At `finish`, after a successful response: nothing reads the session afterwards.
    Final,
    /// At `finish`, after a 5xx: only a logout is carried out.
    FailedResponse,
}

/// A rarer branch of a save (create, touch), boxed to keep the save future small.
type Rare<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), SessionError>> + Send + 'a>>;

/// A patch to send, with what the save needs once the store answers.
pub(super) struct Write {
    /// The id's bytes: after the write the id is taken back from the state rather than
    /// cloned here (a clone re-initialises its cached store key).
    id: [u8; 32],
    key: StoreKey,
    patch: Patch,
    /// Whether the record was loaded (a `Gone` answer then means it died meanwhile).
    known: bool,
    rotate: bool,
    /// A periodic id renewal (SEC-49): `renew` instead of `apply`.
    renew: bool,
    /// The write went to the renewed id a forward named (the old id's record was gone).
    forwarded: bool,
    expiry_changed: bool,
    /// The requested rotation and expiry, for a blind write that turns into a create.
    rotation: Option<Rotation>,
    expiry: Option<Expiry>,
}

/// Records `err` as the request's failure (fail closed) and returns it.
fn fail(state: &mut State, err: SessionError) -> SessionError {
    state.failed = Some(Box::new(err.duplicate()));
    err
}

fn data_size(data: &Data) -> usize {
    data.iter().map(|(k, v)| k.len() + v.get().len()).sum()
}

/// The size `record`'s data would have after `patch`.
pub(crate) fn projected_size_of(record: &Record, patch: &impl PatchSource) -> usize {
    projected_size_by(
        data_size(&record.data),
        |k| record.data.get(k).map(|v| k.len() + v.get().len()),
        patch,
    )
}

/// The size data of `size` bytes would have after `patch`, where `entry(key)` is the size
/// of the stored entry under `key`.
fn projected_size_by(
    size: usize,
    entry: impl Fn(&str) -> Option<usize>,
    patch: &impl PatchSource,
) -> usize {
    let mut size = if patch.clear() { 0 } else { size };
    let stored = |k: &str| (!patch.clear()).then(|| entry(k)).flatten();
    for key in patch.remove() {
        if let Some(n) = stored(key) {
            size -= n;
        }
    }
    for (key, value) in patch.set() {
        if let Some(n) = stored(key) {
            if !patch.remove().any(|removed| removed == key) {
                size -= n;
            }
        }
        size += key.len() + value.len();
    }
    size
}
