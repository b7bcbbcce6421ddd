//! The engine's stateless path: the record is sealed into the cookie itself.
//!
//! Same [`Session`] API and the same per-request state as the store path; what differs is
//! where a record comes from (opening the cookie) and where changes go (a re-sealed
//! cookie). See [`crate::sealed`] for the model and its one missing guarantee.

use std::sync::Arc;
use std::time::Duration;

use super::{data_size, fail, projected_size_of, Engine, SaveMode};
use crate::cookie::{self, SealedIn};
use crate::error::{SessionError, SessionErrorKind};
use crate::id::SessionId;
use crate::observe::Rotated;
use crate::record::Record;
use crate::sealed::{self, CookieSealer, Revocations, Unsealed};
use crate::session::Session;
use crate::state::{Base, CookieOut, Rotation};
use crate::time::Timestamp;

/// How a stateless engine seals sessions: the sealer, an optional revocation store and
/// the chunk cap. Build one and hand it to [`Engine::stateless`].
pub struct Stateless {
    pub(crate) sealer: Box<dyn CookieSealer>,
    pub(crate) revocations: Option<Arc<dyn Revocations>>,
    pub(crate) max_chunks: u8,
}

impl std::fmt::Debug for Stateless {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stateless")
            .field("revocations", &self.revocations.is_some())
            .field("max_chunks", &self.max_chunks)
            .finish_non_exhaustive()
    }
}

impl Stateless {
    /// The default cap on cookies per session: three chunks of about 4 KB. Many proxies
    /// limit a request header to 8–16 KB (nginx: 8 KB per header line by default), so
    /// more chunks than this risk requests the proxy refuses.
    pub const DEFAULT_MAX_CHUNKS: u8 = 3;

    /// Sessions sealed by `sealer`, without revocation, up to
    /// [`Stateless::DEFAULT_MAX_CHUNKS`] cookies.
    pub fn new(sealer: impl CookieSealer) -> Self {
        Stateless {
            sealer: Box::new(sealer),
            revocations: None,
            max_chunks: Self::DEFAULT_MAX_CHUNKS,
        }
    }

    /// Checks every opened cookie against `revocations` (one lookup per request that reads
    /// the session, and one more when a request that opened its cookie earlier re-seals it:
    /// a write, a due touch, `cycle_id`, a login; the session may have been revoked in
    /// between), and records logouts, rotations and owner-wide revocations there.
    ///
    /// [`MemoryRevocations`](crate::sealed::MemoryRevocations) forgets everything on
    /// restart and is private to one process: use a shared, durable store
    /// (`satchel_redis::RedisRevocations`, `satchel_sql::SqlRevocations`) for a fleet or
    /// wherever a restart must not undo logouts (docs/sealed-revocation.md).
    pub fn revocations(mut self, revocations: impl Revocations) -> Self {
        self.revocations = Some(Arc::new(revocations));
        self
    }

    /// At most `chunks` cookies per session (clamped to 1…9). A record that needs more is
    /// refused with [`SessionErrorKind::TooLarge`], never sent as a cookie the browser
    /// would drop.
    pub fn max_chunks(mut self, chunks: u8) -> Self {
        self.max_chunks = chunks.clamp(1, cookie::MAX_CHUNKS);
        self
    }
}

impl Stateless {
    /// The chunk cap in effect: 1 for sealers with a companion cookie (foreign formats).
    pub(crate) fn chunk_cap(&self) -> u8 {
        if self.sealer.companion_suffix().is_some() {
            1
        } else {
            self.max_chunks
        }
    }
}

impl Engine {
    /// The stateless half, when this engine is one.
    pub(crate) fn stateless_parts(&self) -> Option<&Stateless> {
        match &self.0.store {
            crate::backend::Backend::Sealed(s) => Some(s),
            _ => None,
        }
    }

    /// Opens the sealed value `sealed` into the session's base. Tampered, foreign,
    /// expired and revoked cookies all become "no session" (logged by kind); only a
    /// revocation store failure is an error.
    pub(super) async fn open_sealed(
        &self,
        session: &Session,
        parts: &Stateless,
        sealed: Arc<SealedIn>,
    ) -> Result<(), SessionError> {
        let now = self.now();
        let opened = match self.unseal(parts, &sealed, now) {
            Ok(v) => v,
            Err(kind) => {
                tracing::warn!(target: "satchel::anomaly", kind, "sealed session cookie ignored");
                crate::observe::cookie_rejected(kind, None);
                return self.drop_sealed(session, &sealed);
            }
        };
        let (unsealed, stale_key) = opened;
        if let Some(rev) = &parts.revocations {
            let key = unsealed.id.store_key();
            let owner = unsealed.record.meta.owner.as_deref();
            match rev.is_revoked(&key, owner, unsealed.issued_at, now).await {
                Ok(false) => {}
                Ok(true) => {
                    tracing::info!(target: "satchel::anomaly", kind = "revoked", session = %key.short(), "revoked sealed session presented");
                    crate::observe::cookie_rejected("revoked", Some(&key));
                    return self.drop_sealed(session, &sealed);
                }
                Err(err) => return Err(fail(&mut session.lock(), SessionError::store(err))),
            }
        }
        let mut state = session.lock();
        if !matches!(&state.base, Base::Sealed(current) if Arc::ptr_eq(current, &sealed)) {
            return state.check(); // resolved by a concurrent call meanwhile
        }
        state.base = Base::Live(unsealed.id, unsealed.record);
        state.sealed_at = Some(unsealed.issued_at);
        state.resolve_login(self.0.config.login_data());
        state.reseal |= stale_key;
        Ok(())
    }

    /// Decrypts and parses `sealed`, rejecting expired records.
    fn unseal(
        &self,
        parts: &Stateless,
        sealed: &SealedIn,
        now: Timestamp,
    ) -> Result<(Unsealed, bool), &'static str> {
        let opened = parts
            .sealer
            .open_with_companion(
                &self.0.config.cookie_name,
                &sealed.value,
                sealed.companion.as_deref(),
            )
            .map_err(|e| e.as_str())?;
        let unsealed = sealed::unframe(&opened.plaintext).map_err(|_| "sealed_corrupt")?;
        if unsealed.record.meta.is_expired(now) {
            return Err("sealed_expired");
        }
        Ok((unsealed, opened.stale_key))
    }

    fn drop_sealed(&self, session: &Session, sealed: &Arc<SealedIn>) -> Result<(), SessionError> {
        let mut state = session.lock();
        if matches!(&state.base, Base::Sealed(current) if Arc::ptr_eq(current, sealed)) {
            state.base = Base::None;
            if state.cookie == CookieOut::Keep {
                state.cookie = CookieOut::Remove;
            }
        }
        Ok(())
    }

    /// The stateless counterpart of [`Engine::save`]: applies the changes to the opened
    /// record and seals it into new cookies.
    pub(super) async fn save_sealed(
        &self,
        session: &Session,
        parts: &Stateless,
        mode: SaveMode,
    ) -> Result<(), SessionError> {
        let now = self.now();
        // 1. A logout deny-lists the session it ended (when revocation is on), whatever
        //    else happened.
        let ended = session.lock().delete.take().map(|ended| *ended);
        if let (Some(Base::Live(id, _)), None) = (&ended, &parts.revocations) {
            crate::observe::logged_out(Some(&id.store_key()));
        } else if let (Some(_), None) = (&ended, &parts.revocations) {
            crate::observe::logged_out(None); // never opened: only its cookie goes
        }
        if let (Some(ended), Some(rev)) = (ended, &parts.revocations) {
            // Until the absolute deadline: other copies of the cookie may have been
            // re-sealed (touched) later than this one, and touches never pass it.
            let ended = match ended {
                Base::Live(id, record) => Some((id, record.meta.absolute_deadline)),
                Base::Sealed(sealed) => self
                    .unseal(parts, &sealed, now)
                    .ok()
                    .map(|(u, _)| (u.id, u.record.meta.absolute_deadline)),
                Base::None | Base::NotLoaded(_) => None,
            };
            if let Some((id, until)) = ended {
                if let Err(err) = rev.revoke_session(&id.store_key(), until, now).await {
                    return Err(fail(&mut session.lock(), SessionError::store(err)));
                }
                crate::observe::logged_out(Some(&id.store_key()));
            }
        }
        session.lock().check()?;
        if mode == SaveMode::FailedResponse {
            session.lock().changes = Default::default();
            return Ok(());
        }
        // 2. Changes need the whole record: open the cookie first (a blind write still
        //    costs no store call, only a decryption).
        let (touches, unopened) = {
            let state = session.lock();
            (
                state.changes.touches_record(),
                matches!(state.base, Base::Sealed(_)),
            )
        };
        if touches {
            self.ensure_loaded(session).await?;
        }
        // 3. A cookie opened earlier in the request may have been revoked since: a re-seal
        //    would mint a fresh, un-revoked cookie for it. (Opened just now, it was just
        //    checked.)
        let checked_just_now = touches && unopened;
        if let (false, Some(rev)) = (checked_just_now, &parts.revocations) {
            if !self.still_valid(session, &**rev, now).await? {
                return Ok(());
            }
        }
        let mut revoke_old = None;
        // What to report once the new cookie is out: a new session, a login, a rotation.
        let mut report: Option<(bool, Option<Rotated>)> = None;
        {
            let mut guard = session.lock();
            let state = &mut *guard;
            let mut changes = std::mem::take(&mut state.changes);
            match &mut state.base {
                Base::None => {
                    let Some(record) = self.fresh_record(&changes, now) else {
                        return Ok(()); // nothing worth a cookie (SEC-33)
                    };
                    if data_size(&record.data) > self.0.config.max_data_bytes {
                        return Err(fail(state, SessionError::new(SessionErrorKind::TooLarge)));
                    }
                    let login = record.meta.owner.is_some().then_some(Rotated::Login);
                    report = Some((true, login));
                    state.base = Base::Live(self.new_id(), record);
                }
                Base::Live(id, record) => {
                    if !changes.touches_record() {
                        let due = self.touch_due(&record.meta, now);
                        if !due && !state.reseal {
                            return Ok(());
                        }
                        if due {
                            record.meta.touch(now);
                        }
                    } else {
                        let patch = self.patch(&mut changes, Vec::new(), Some(&record.meta), now);
                        let after = projected_size_of(record, &patch);
                        // A record already over the limit may still shrink.
                        if after > self.0.config.max_data_bytes && after > data_size(&record.data) {
                            return Err(fail(state, SessionError::new(SessionErrorKind::TooLarge)));
                        }
                        // The latest deadline a copy of the old id can reach.
                        let old_deadline = record.meta.absolute_deadline;
                        patch.apply_into(record, now);
                        if let Some(rotation) = &changes.rotate {
                            report = Some((
                                false,
                                Some(match rotation {
                                    Rotation::Owner(_) => Rotated::Login,
                                    // A login waiting for its second factor binds no
                                    // owner yet: audited as an id change, as in `save`.
                                    Rotation::KeepOwner | Rotation::Pending(_) => Rotated::CycleId,
                                }),
                            ));
                            let old = std::mem::replace(id, self.new_id());
                            revoke_old = Some((old, old_deadline));
                        }
                    }
                }
                // No changes, never opened: nothing to send.
                Base::Sealed(_) | Base::NotLoaded(_) => return Ok(()),
            }
            state.reseal = false;
            let Base::Live(id, record) = &state.base else {
                return Ok(());
            };
            // Never before the floor `revoke_other_sessions` set: the kept cookie must be
            // sealed strictly after its own cut-off.
            let issued_at = now.max(state.seal_floor);
            match self.seal_cookies(parts, id, record, issued_at, state.chunks_in) {
                Ok(cookies) => {
                    state.cookie = CookieOut::Many(cookies);
                    state.sealed_at = Some(issued_at);
                }
                Err(err) => return Err(fail(state, err)),
            }
        }
        // 4. A rotated-away id must stop working too (a copy of the pre-login cookie).
        let old_key = revoke_old.as_ref().map(|(old, _)| old.store_key());
        if let (Some((_, until)), Some(rev), Some(old)) = (revoke_old, &parts.revocations, &old_key)
        {
            if let Err(err) = rev.revoke_session(old, until, now).await {
                let mut state = session.lock();
                state.cookie = CookieOut::Keep;
                return Err(fail(&mut state, SessionError::store(err)));
            }
        }
        if let Some((created, rotated)) = report {
            if created {
                crate::observe::created();
            }
            if let (Some(reason), Base::Live(id, _)) = (rotated, &session.lock().base) {
                crate::observe::rotated(reason, &id.store_key(), old_key.as_ref());
            }
        }
        Ok(())
    }

    /// Whether the opened session behind the request can still be re-sealed: `false` (and
    /// the session ended, the cookie removed) if it was revoked after it was opened. One
    /// revocation lookup, made only when the save would seal an opened cookie (a write, a
    /// due touch, a re-seal); a revoked session with pending changes fails the request with
    /// [`SessionErrorKind::Gone`], as a store session deleted mid-request does.
    async fn still_valid(
        &self,
        session: &Session,
        rev: &dyn Revocations,
        now: Timestamp,
    ) -> Result<bool, SessionError> {
        let (key, owner, issued_at) = {
            let state = session.lock();
            let (Base::Live(id, record), Some(issued_at)) = (&state.base, state.sealed_at) else {
                return Ok(true); // nothing opened: a brand-new session
            };
            let seals =
                state.changes.touches_record() || state.reseal || self.touch_due(&record.meta, now);
            if !seals {
                return Ok(true);
            }
            (id.store_key(), record.meta.owner.clone(), issued_at)
        };
        match rev.is_revoked(&key, owner.as_deref(), issued_at, now).await {
            Ok(false) => Ok(true),
            Ok(true) => {
                tracing::info!(target: "satchel::anomaly", kind = "revoked_during_request", session = %key.short(), "sealed session revoked during the request; not re-sealed");
                crate::observe::cookie_rejected("revoked_during_request", Some(&key));
                let mut state = session.lock();
                let changed = std::mem::take(&mut state.changes).touches_record();
                state.set_base(Base::None);
                state.sealed_at = None;
                state.reseal = false;
                state.cookie = CookieOut::Remove;
                if changed {
                    return Err(fail(&mut state, SessionError::new(SessionErrorKind::Gone)));
                }
                Ok(false)
            }
            Err(err) => Err(fail(&mut session.lock(), SessionError::store(err))),
        }
    }

    fn seal_cookies(
        &self,
        parts: &Stateless,
        id: &SessionId,
        record: &Record,
        issued_at: Timestamp,
        chunks_in: u8,
    ) -> Result<Vec<String>, SessionError> {
        let plaintext = sealed::frame(id, issued_at, record);
        let config = &self.0.config;
        let max_age = record.meta.persistent.then(|| {
            Duration::from_secs(
                record
                    .meta
                    .expires_at()
                    .saturating_since(issued_at)
                    .as_secs(),
            )
        });
        let Some(suffix) = parts.sealer.companion_suffix() else {
            // The usual case: the sealer appends its value straight to the first
            // `Set-Cookie` (base64 of the plaintext plus some overhead is the room given).
            let room = plaintext.len().div_ceil(3) * 4 + 64;
            let mut first = cookie::sealed_cookie_start(config, room);
            parts
                .sealer
                .seal_into(&config.cookie_name, &plaintext, &mut first)
                .map_err(SessionError::store)?;
            return cookie::sealed_cookies_from(
                config,
                first,
                max_age,
                parts.chunk_cap(),
                chunks_in,
            )
            .ok_or_else(|| SessionError::new(SessionErrorKind::TooLarge));
        };
        let sealed = parts
            .sealer
            .seal(&config.cookie_name, &plaintext)
            .map_err(SessionError::store)?;
        let companion = parts
            .sealer
            .companion(&config.cookie_name, &sealed)
            .unwrap_or_default();
        cookie::sealed_cookies(
            config,
            &sealed,
            max_age,
            parts.chunk_cap(),
            chunks_in,
            Some((suffix, companion)),
        )
        .ok_or_else(|| SessionError::new(SessionErrorKind::TooLarge))
    }

    /// "Log out everywhere" for sealed sessions: a not-before time for the owner. The
    /// calling session (if any) is re-sealed on this response so it survives.
    pub(crate) async fn revoke_owner_sealed(
        &self,
        parts: &Stateless,
        owner: &str,
        session: Option<&Session>,
    ) -> Result<u64, SessionError> {
        let Some(rev) = &parts.revocations else {
            return Err(SessionError::store(crate::StoreError::unsupported(
                "revoking sealed sessions needs a revocation store",
            )));
        };
        let now = self.now();
        // Every cookie sealed at or before `now` dies; none lives past the longest lifetime.
        let longest = self
            .0
            .config
            .absolute_timeout
            .max(crate::state::MAX_PERSISTENT);
        rev.revoke_owner(owner, now, now.saturating_add(longest))
            .await?;
        if let Some(session) = session {
            // The caller's cookie is re-sealed on this response, strictly after the cut-off
            // (a cookie sealed in its millisecond is revoked, so the same instant cannot
            // count as after), and its re-seal check treats it as sealed then too.
            let after = Timestamp::from_millis(now.as_millis().saturating_add(1));
            let mut state = session.lock();
            state.reseal = true;
            state.seal_floor = state.seal_floor.max(after);
            if let Some(at) = &mut state.sealed_at {
                *at = (*at).max(after);
            }
        }
        let kept = session.and_then(|s| match &s.lock().base {
            Base::Live(id, _) => Some(id.store_key()),
            _ => None,
        });
        crate::observe::revoked(None, kept.as_ref());
        Ok(0)
    }
}

/// The owner a pending login binds, if any.
pub(super) fn login_owner(rotate: Option<&Rotation>) -> Option<String> {
    match rotate {
        Some(Rotation::Owner(owner)) => Some(owner.clone()),
        _ => None,
    }
}
