//! The [`Session`] handle that request handlers use.

use std::fmt;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::auth::{PendingLogin, StoredAuth};
use crate::engine::Engine;
use crate::error::{SessionError, SessionErrorKind};
use crate::record::Value;
use crate::state::{Base, CookieOut, Expiry, KeyName, Rotation, State};
use crate::time::Timestamp;

/// The key under which flash messages are kept.
pub const FLASH_KEY: &str = "_flash";

/// A one-time message for the next page the user sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    /// A category chosen by the application ("info", "error", …).
    pub level: String,
    /// The text.
    pub message: String,
}

/// One session of the current owner, as [`Session::owner_sessions`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerSession {
    /// When the session was created.
    pub created_at: Timestamp,
    /// When it dies unless used.
    pub idle_deadline: Timestamp,
    /// When it dies regardless.
    pub absolute_deadline: Timestamp,
    /// Whether it is the session of this request.
    pub current: bool,
}

/// The session of one request. Cheap to clone; clones share the state.
///
/// Nothing touches the store until the handler reads: [`Session::get`] loads the record
/// once per request; writes are recorded and sent as one patch when the response goes out
/// (or at [`Session::save`]).
///
/// # Concurrency
/// A value read with `get` and then written with `insert` (or `remove`d) carries the value
/// read; if another request changed that key in between, the save fails with
/// [`SessionErrorKind::Conflict`] and none of this request's changes are stored. Keys
/// changed by other requests and not written here are kept. Call [`Session::save`] inside
/// the handler to see that error and retry; otherwise the integration answers 409.
#[derive(Clone)]
pub struct Session {
    pub(crate) engine: Engine,
    pub(crate) state: Arc<Mutex<State>>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        let base = match &state.base {
            Base::None => "none",
            Base::NotLoaded(_) | Base::Sealed(_) => "not loaded",
            Base::Live(..) => "live",
        };
        f.debug_struct("Session")
            .field("base", &base)
            .field("pending_writes", &state.changes.writes.len())
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// The value under `key`, deserialised as `T`; `None` if absent.
    ///
    /// # Errors
    /// [`SessionErrorKind::Store`] if the record cannot be loaded (the request then fails
    /// closed: its response becomes the error response), [`SessionErrorKind::Deserialize`] if
    /// the stored JSON does not fit `T`.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        // Deserialise straight from the loaded record, under the lock: no copy of the value.
        self.read(key, |value| match value {
            None => Ok(None),
            Some(json) => serde_json::from_str(json)
                .map(Some)
                .map_err(|e| SessionError::with_key(SessionErrorKind::Deserialize, key, e)),
        })
        .await?
    }

    /// The raw JSON value under `key`.
    ///
    /// # Errors
    /// As [`Session::get`], without the deserialisation.
    pub async fn get_value(&self, key: &str) -> Result<Option<Value>, SessionError> {
        self.read(key, |value| {
            // JSON this process wrote (a pending write or a loaded record).
            value.map(|json| Value::from_trusted_json(json.to_owned()))
        })
        .await
    }

    /// Loads if needed, records that `key` was read, and hands its current JSON text to `f`.
    async fn read<R>(
        &self,
        key: &str,
        f: impl FnOnce(Option<&str>) -> R,
    ) -> Result<R, SessionError> {
        self.engine.ensure_loaded(self).await?;
        let mut state = self.lock();
        state.check()?;
        state.accessed = true;
        let state = &mut *state;
        if let Some(pending) = state.changes.writes.get(key) {
            return Ok(f(pending.as_ref().map(Value::get)));
        }
        if state.changes.clear {
            return Ok(f(None));
        }
        match &state.base {
            Base::Live(..) => {
                // The value read is what the record holds until the next save, so only the
                // key is remembered; the save turns it into an expectation if it is written.
                if !state.changes.reads.iter().any(|k| k.as_str() == key) {
                    state.changes.reads.push(KeyName::new(key));
                }
                Ok(f(state.stored(key)))
            }
            Base::None | Base::NotLoaded(_) | Base::Sealed(_) => Ok(f(None)),
        }
    }

    /// Writes `value` under `key`. No store call happens now: the change is sent with the
    /// others when the response goes out.
    ///
    /// # Errors
    /// [`SessionErrorKind::Serialize`] if `value` cannot be serialised to JSON,
    /// [`SessionErrorKind::TooLarge`] if it alone exceeds the configured data limit, or the
    /// error that already failed this request.
    pub fn insert<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), SessionError> {
        let raw = Value::from_serialize(value)
            .map_err(|e| SessionError::with_key(SessionErrorKind::Serialize, key, e))?;
        if key.len() + raw.get().len() > self.engine.config().max_data_bytes {
            return Err(SessionError::new(SessionErrorKind::TooLarge));
        }
        self.insert_value(key, raw)
    }

    /// Writes a raw JSON value under `key`.
    ///
    /// # Errors
    /// The error that already failed this request, if any.
    pub fn insert_value(&self, key: &str, value: Value) -> Result<(), SessionError> {
        let mut state = self.lock();
        state.check()?;
        state.changes.writes.insert(key, Some(value));
        Ok(())
    }

    /// Removes `key`.
    ///
    /// # Errors
    /// The error that already failed this request, if any.
    pub fn remove(&self, key: &str) -> Result<(), SessionError> {
        let mut state = self.lock();
        state.check()?;
        state.changes.writes.insert(key, None);
        Ok(())
    }

    /// Removes every key (the session itself, its id and owner stay).
    ///
    /// # Errors
    /// The error that already failed this request, if any.
    pub fn clear(&self) -> Result<(), SessionError> {
        let mut state = self.lock();
        state.check()?;
        state.changes.clear = true;
        state.changes.writes.clear();
        Ok(())
    }

    /// Logs `owner` in: the session gets a new id (the old one stops working) and is bound
    /// to `owner` (see [`crate::Engine::sessions_of`]). Its data is kept when the session
    /// was anonymous or already `owner`'s, and cleared when it was bound to someone else
    /// (configurable: [`crate::LoginData`]); reads after this call see the data the new
    /// owner will have, and this request's own writes are kept in every case.
    ///
    /// # Errors
    /// The error that already failed this request, if any.
    ///
    /// This is a complete login: it records the time as the owner's last authentication
    /// (see [`crate::auth`]; for a login that still waits for a second factor use
    /// [`Session::login_pending`]).
    pub fn login(&self, owner: impl Into<String>) -> Result<(), SessionError> {
        let at = self.engine.now();
        let mut state = self.lock();
        state.check()?;
        state.changes.rotate = Some(Rotation::Owner(owner.into()));
        state.resolve_login(self.engine.config().login_data());
        write_auth(
            &mut state,
            &StoredAuth {
                at: at.as_millis(),
                pending: None,
            },
        );
        Ok(())
    }

    /// The first step of a multi-factor login: `owner` passed one factor and `factor` (a
    /// name of the application's choosing: "totp", "webauthn", …) is still to come. The id
    /// rotates and whoever was logged in is logged out, but **no owner is bound**: until
    /// [`Session::complete_login`] the session is anonymous to [`Session::owner`] and is
    /// refused by the `Authenticated` extractors ([`crate::auth::AuthState::Pending`]). The
    /// data policy is the one a login by `owner` applies ([`crate::LoginData`]).
    ///
    /// # Errors
    /// The error that already failed this request, if any.
    pub fn login_pending(
        &self,
        owner: impl Into<String>,
        factor: impl Into<String>,
    ) -> Result<(), SessionError> {
        let at = self.engine.now();
        let owner = owner.into();
        let mut state = self.lock();
        state.check()?;
        let stored = StoredAuth {
            at: at.as_millis(),
            pending: Some(PendingLogin {
                owner: owner.clone(),
                factor: factor.into(),
            }),
        };
        state.changes.rotate = Some(Rotation::Pending(owner));
        state.resolve_login(self.engine.config().login_data());
        write_auth(&mut state, &stored);
        Ok(())
    }

    /// Completes a login started with [`Session::login_pending`], once the application
    /// checked the pending factor: a [`Session::login`] of the pending owner (the id
    /// rotates again, the owner is bound, the time recorded). Returns that owner, or
    /// `None` (and changes nothing) when no login is pending.
    ///
    /// # Errors
    /// As [`Session::get`].
    pub async fn complete_login(&self) -> Result<Option<String>, SessionError> {
        match self.auth_state().await? {
            crate::auth::AuthState::Pending { owner, .. } => {
                self.login(owner.clone())?;
                Ok(Some(owner))
            }
            _ => Ok(None),
        }
    }

    /// Records that the logged-in owner just authenticated again (confirmed their password
    /// for a sensitive action): the time becomes their last authentication for
    /// [`crate::auth::Authenticated::requires_recent_auth`], and the id rotates, as on any
    /// privilege change. Call it only after checking the credential.
    ///
    /// # Errors
    /// The error that already failed this request, if any.
    pub fn reauthenticated(&self) -> Result<(), SessionError> {
        let at = self.engine.now();
        let mut state = self.lock();
        state.check()?;
        if state.changes.rotate.is_none() {
            state.changes.rotate = Some(Rotation::KeepOwner);
        }
        write_auth(
            &mut state,
            &StoredAuth {
                at: at.as_millis(),
                pending: None,
            },
        );
        Ok(())
    }

    /// Where this session stands with authentication (including a login or logout pending
    /// in this request): see [`crate::auth`].
    ///
    /// # Errors
    /// As [`Session::get`].
    pub async fn auth_state(&self) -> Result<crate::auth::AuthState, SessionError> {
        let owner = self.owner().await?;
        let stored = self.get_value(crate::auth::AUTH_KEY).await?;
        Ok(crate::auth::state_of(
            owner,
            stored.as_ref().map(Value::get),
        ))
    }

    /// Gives the session a new id, keeping data and owner: call it on any privilege change
    /// other than login (role change, password change, sudo mode).
    ///
    /// # Errors
    /// The error that already failed this request, if any.
    pub fn cycle_id(&self) -> Result<(), SessionError> {
        let mut state = self.lock();
        state.check()?;
        if state.changes.rotate.is_none() {
            state.changes.rotate = Some(Rotation::KeepOwner);
        }
        Ok(())
    }

    /// Ends the session: the record is deleted from the store when the response goes out
    /// and the browser is told to drop the cookie. Anything written after this call goes
    /// into a brand-new anonymous session (e.g. a "logged out" flash message).
    pub fn logout(&self) {
        let mut state = self.lock();
        let old = state.set_base(Base::None);
        if !matches!(old, Base::None) {
            state.delete = Some(Box::new(old));
        }
        state.changes = Default::default();
        if state.had_cookie || state.cookie != CookieOut::Keep {
            state.cookie = CookieOut::Remove;
        }
        state.accessed = true;
    }

    /// Changes how this session expires ("remember me", or back to a browser session).
    ///
    /// # Errors
    /// The error that already failed this request, if any.
    pub fn set_expiry(&self, expiry: Expiry) -> Result<(), SessionError> {
        let mut state = self.lock();
        state.check()?;
        state.changes.expiry = Some(expiry);
        Ok(())
    }

    /// The owner this session is bound to (including a login pending in this request).
    ///
    /// # Errors
    /// As [`Session::get`].
    pub async fn owner(&self) -> Result<Option<String>, SessionError> {
        self.engine.ensure_loaded(self).await?;
        let mut state = self.lock();
        state.check()?;
        state.accessed = true;
        match &state.changes.rotate {
            Some(Rotation::Owner(owner)) => return Ok(Some(owner.clone())),
            Some(Rotation::Pending(_)) => return Ok(None),
            Some(Rotation::KeepOwner) | None => {}
        }
        Ok(match &state.base {
            Base::Live(_, record) => record.meta.owner.clone(),
            _ => None,
        })
    }

    /// The stored metadata of this session's record (creation time, idle and absolute
    /// deadlines, whether it is persistent, owner), for pages that show "signed in since"
    /// or "expires at"; `None` without a live session. It is the record as loaded: a
    /// login, expiry change or touch of this request shows once it has been saved.
    ///
    /// # Errors
    /// As [`Session::get`].
    pub async fn meta(&self) -> Result<Option<crate::Meta>, SessionError> {
        self.engine.ensure_loaded(self).await?;
        let mut state = self.lock();
        state.check()?;
        state.accessed = true;
        Ok(match &state.base {
            Base::Live(_, record) => Some(record.meta.clone()),
            _ => None,
        })
    }

    /// Adds a flash message, shown once by a later [`Session::take_flashes`].
    ///
    /// # Errors
    /// As [`Session::get`] and [`Session::insert`].
    pub async fn flash(&self, level: &str, message: &str) -> Result<(), SessionError> {
        let mut list: Vec<Flash> = self.get(FLASH_KEY).await?.unwrap_or_default();
        list.push(Flash {
            level: level.to_owned(),
            message: message.to_owned(),
        });
        self.insert(FLASH_KEY, &list)
    }

    /// Returns and removes the pending flash messages.
    ///
    /// # Errors
    /// As [`Session::get`].
    pub async fn take_flashes(&self) -> Result<Vec<Flash>, SessionError> {
        let list: Vec<Flash> = self.get(FLASH_KEY).await?.unwrap_or_default();
        if !list.is_empty() {
            self.remove(FLASH_KEY)?;
        }
        Ok(list)
    }

    /// Stores this request's changes now instead of when the response goes out, so the
    /// handler can react to a conflict (for example by reading again and retrying).
    ///
    /// # Errors
    /// [`SessionErrorKind::Conflict`], [`SessionErrorKind::Gone`],
    /// [`SessionErrorKind::Store`] or [`SessionErrorKind::TooLarge`]; after an error the
    /// pending changes are dropped, except after a conflict, where the handler may read
    /// again (getting fresh values) and write again.
    pub async fn save(&self) -> Result<(), SessionError> {
        self.engine
            .save(self, crate::engine::SaveMode::Explicit)
            .await
    }

    /// The live sessions of this session's owner (none when not logged in).
    ///
    /// # Errors
    /// As [`Session::get`], and [`crate::StoreErrorKind::Unsupported`] store errors for
    /// stores without an owner index.
    pub async fn owner_sessions(&self) -> Result<Vec<OwnerSession>, SessionError> {
        let Some(owner) = self.owner().await? else {
            return Ok(Vec::new());
        };
        let current = self.current_key();
        let list = self.engine.sessions_of(&owner).await?;
        Ok(list
            .into_iter()
            .map(|info| OwnerSession {
                created_at: info.created_at,
                idle_deadline: info.idle_deadline,
                absolute_deadline: info.absolute_deadline,
                current: Some(info.key) == current,
            })
            .collect())
    }

    /// Ends every other session of this session's owner ("log out my other devices").
    /// Returns how many were ended (0 on a stateless engine, which cannot count cookies:
    /// there every cookie of the owner sealed before now stops working, and this one is
    /// re-sealed on the response).
    ///
    /// # Errors
    /// As [`Session::owner_sessions`].
    pub async fn revoke_other_sessions(&self) -> Result<u64, SessionError> {
        let Some(owner) = self.owner().await? else {
            return Ok(0);
        };
        if let Some(parts) = self.engine.stateless_parts() {
            return self
                .engine
                .revoke_owner_sealed(parts, &owner, Some(self))
                .await;
        }
        let current = self.current_key();
        self.engine.revoke_owner(&owner, current.as_ref()).await
    }

    fn current_key(&self) -> Option<crate::StoreKey> {
        match &self.lock().base {
            Base::Live(id, _) | Base::NotLoaded(id) => Some(id.store_key()),
            Base::None | Base::Sealed(_) => None,
        }
    }
}

/// Writes the authentication state into this request's changes (no store call now).
fn write_auth(state: &mut State, stored: &StoredAuth) {
    // A struct of a u64 and strings always serialises.
    if let Ok(value) = Value::from_serialize(stored) {
        state
            .changes
            .writes
            .insert(crate::auth::AUTH_KEY, Some(value));
    }
}
