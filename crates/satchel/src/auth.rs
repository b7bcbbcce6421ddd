//! Typed authentication state (SEC-20): who is logged in, whether the login is complete,
//! and when the owner last proved who they are.
//!
//! # Model
//! - [`Session::login`] is a *complete* login: it binds the owner and records the time
//!   ([`AuthState::Complete`] with `authenticated_at`).
//! - [`Session::login_pending`] is the first step of a multi-factor login (password done,
//!   second factor to come). It rotates the id but binds **no owner**: the session stays
//!   anonymous for everything that asks who is logged in ([`Session::owner`],
//!   [`Session::owner_sessions`], [`Authenticated`]), so a partial login can never pass
//!   for a logged-in one, whatever code forgets to check. [`Session::complete_login`]
//!   then binds the owner (another rotation).
//! - [`Session::reauthenticated`] records that the owner just proved who they are again
//!   ("confirm your password") and rotates the id, as any privilege change does.
//! - [`Authenticated::requires_recent_auth`] refuses sensitive actions when that proof is
//!   older than a given age, with a typed [`AuthRejection`] an application can turn into a
//!   "confirm your password" page. Its status is configurable
//!   ([`crate::SessionConfigBuilder::auth_statuses`], default `401`).
//!
//! The state is kept in the session data under [`AUTH_KEY`] (reserved, like
//! [`crate::FLASH_KEY`]), so every store and the sealed cookies carry it with no format
//! change, and a login writes it in the same store write that rotates the id and binds the
//! owner. A logged-in session without it (one logged in before this existed, or whose data
//! an application `clear()`ed) is complete with an unknown time: never recent.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::SessionError;
use crate::session::Session;
use crate::time::Timestamp;

/// The session key the authentication state lives under. Reserved: write it only through
/// the methods on [`Session`] named in the [module docs](self).
pub const AUTH_KEY: &str = "_auth";

/// What [`AUTH_KEY`] holds, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredAuth {
    /// When the owner (or the pending owner) last authenticated, in Unix milliseconds.
    pub(crate) at: u64,
    /// A login still waiting for a factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pending: Option<PendingLogin>,
}

/// A login waiting for another factor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingLogin {
    pub(crate) owner: String,
    pub(crate) factor: String,
}

/// Where a session stands with authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthState {
    /// Nobody is logged in.
    Anonymous,
    /// A login waiting for a second factor: **not** logged in (no owner is bound).
    Pending {
        /// Who is logging in.
        owner: String,
        /// The factor still to come, as the application named it ("totp", "webauthn", …).
        factor: String,
        /// When the first factor was passed.
        since: Timestamp,
    },
    /// A complete login.
    Complete {
        /// The owner.
        owner: String,
        /// When the owner last authenticated (login or [`Session::reauthenticated`]);
        /// `None` when unknown (such a session is never "recent").
        authenticated_at: Option<Timestamp>,
    },
}

impl AuthState {
    /// Whether this is a complete login.
    pub fn is_complete(&self) -> bool {
        matches!(self, AuthState::Complete { .. })
    }
}

/// The statuses an integration answers an [`AuthRejection`] with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthStatuses {
    /// Not logged in, or a login still pending: default `401`.
    pub unauthenticated: u16,
    /// Logged in, but not recently enough for this action: default `401`.
    pub reauthenticate: u16,
}

impl Default for AuthStatuses {
    fn default() -> Self {
        AuthStatuses {
            unauthenticated: 401,
            reauthenticate: 401,
        }
    }
}

/// Why a request was refused as not (recently enough) authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthRejectionKind {
    /// Nobody is logged in.
    NotLoggedIn,
    /// A login is waiting for a second factor.
    FactorPending,
    /// Logged in, but the last authentication is older than the action allows: ask the
    /// owner to confirm their password ([`Session::reauthenticated`] once they did).
    ReauthenticationRequired,
}

/// A refusal from [`Authenticated`]: its kind and the status to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthRejection {
    kind: AuthRejectionKind,
    status: u16,
}

impl AuthRejection {
    fn new(kind: AuthRejectionKind, statuses: AuthStatuses) -> Self {
        let status = match kind {
            AuthRejectionKind::NotLoggedIn | AuthRejectionKind::FactorPending => {
                statuses.unauthenticated
            }
            AuthRejectionKind::ReauthenticationRequired => statuses.reauthenticate,
        };
        AuthRejection { kind, status }
    }

    /// Why.
    pub fn kind(&self) -> AuthRejectionKind {
        self.kind
    }

    /// The configured HTTP status for this refusal.
    pub fn status(&self) -> u16 {
        self.status
    }
}

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            AuthRejectionKind::NotLoggedIn => "not logged in",
            AuthRejectionKind::FactorPending => "login not complete: a factor is pending",
            AuthRejectionKind::ReauthenticationRequired => {
                "this action needs a recent authentication"
            }
        })
    }
}

impl std::error::Error for AuthRejection {}

/// Why [`Authenticated::from_session`] did not produce a login.
#[derive(Debug)]
pub enum AuthError {
    /// Not (completely) logged in.
    Rejected(AuthRejection),
    /// The session could not be read (the request fails closed as for any session error).
    Session(SessionError),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Rejected(r) => fmt::Display::fmt(r, f),
            AuthError::Session(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for AuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AuthError::Rejected(r) => Some(r),
            AuthError::Session(e) => Some(e),
        }
    }
}

impl From<SessionError> for AuthError {
    fn from(err: SessionError) -> Self {
        AuthError::Session(err)
    }
}

impl From<AuthRejection> for AuthError {
    fn from(rejection: AuthRejection) -> Self {
        AuthError::Rejected(rejection)
    }
}

/// A request whose session is a complete login: what the integrations' `Authenticated`
/// extractors hand to handlers.
#[derive(Debug, Clone)]
pub struct Authenticated {
    session: Session,
    owner: String,
    authenticated_at: Option<Timestamp>,
}

impl Authenticated {
    /// The complete login behind `session`, or why there is none. A pending login is
    /// refused ([`AuthRejectionKind::FactorPending`]).
    ///
    /// # Errors
    /// [`AuthError::Rejected`] when not completely logged in, [`AuthError::Session`] when
    /// the session cannot be loaded.
    pub async fn from_session(session: &Session) -> Result<Self, AuthError> {
        let statuses = session.engine.config().auth_statuses;
        match session.auth_state().await? {
            AuthState::Complete {
                owner,
                authenticated_at,
            } => Ok(Authenticated {
                session: session.clone(),
                owner,
                authenticated_at,
            }),
            AuthState::Pending { .. } => {
                Err(AuthRejection::new(AuthRejectionKind::FactorPending, statuses).into())
            }
            AuthState::Anonymous => {
                Err(AuthRejection::new(AuthRejectionKind::NotLoggedIn, statuses).into())
            }
        }
    }

    /// The logged-in owner.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// When the owner last authenticated; `None` when unknown.
    pub fn authenticated_at(&self) -> Option<Timestamp> {
        self.authenticated_at
    }

    /// The session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// `Ok` when the owner authenticated at most `max_age` ago (by the engine's clock),
    /// else a [`AuthRejectionKind::ReauthenticationRequired`] refusal: call it before a
    /// sensitive action ("log out everywhere else", changing the password or e-mail).
    ///
    /// # Errors
    /// The refusal, with the configured status (default `401`).
    pub fn requires_recent_auth(&self, max_age: Duration) -> Result<(), AuthRejection> {
        let now = self.session.engine.now();
        let recent = self
            .authenticated_at
            .is_some_and(|at| at <= now && now.saturating_since(at) <= max_age);
        if recent {
            Ok(())
        } else {
            Err(AuthRejection::new(
                AuthRejectionKind::ReauthenticationRequired,
                self.session.engine.config().auth_statuses,
            ))
        }
    }
}

impl std::ops::Deref for Authenticated {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}

/// Turns the stored [`AUTH_KEY`] value and the bound owner into the typed state.
pub(crate) fn state_of(owner: Option<String>, stored: Option<&str>) -> AuthState {
    // An undecodable value is treated as absent: with an owner bound that means a complete
    // login of unknown age (never recent); without one, nobody is logged in.
    let stored: Option<StoredAuth> = stored.and_then(|json| serde_json::from_str(json).ok());
    match (owner, stored) {
        (Some(owner), Some(StoredAuth { pending: None, at })) => AuthState::Complete {
            owner,
            authenticated_at: Some(Timestamp::from_millis(at)),
        },
        (Some(owner), None) => AuthState::Complete {
            owner,
            authenticated_at: None,
        },
        // Only an application writing the reserved key by hand gets here: a pending
        // marker always wins, so it fails closed.
        (
            _,
            Some(StoredAuth {
                pending: Some(p),
                at,
            }),
        ) => AuthState::Pending {
            owner: p.owner,
            factor: p.factor,
            since: Timestamp::from_millis(at),
        },
        (None, _) => AuthState::Anonymous,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_from_stored_values() {
        let alice = || Some("alice".to_owned());
        assert_eq!(state_of(None, None), AuthState::Anonymous);
        assert_eq!(state_of(None, Some(r#"{"at":5}"#)), AuthState::Anonymous);
        assert_eq!(
            state_of(alice(), Some(r#"{"at":5}"#)),
            AuthState::Complete {
                owner: "alice".into(),
                authenticated_at: Some(Timestamp::from_millis(5))
            }
        );
        assert_eq!(
            state_of(alice(), Some("garbage")),
            AuthState::Complete {
                owner: "alice".into(),
                authenticated_at: None
            }
        );
        let pending = r#"{"at":7,"pending":{"owner":"bob","factor":"totp"}}"#;
        let want = AuthState::Pending {
            owner: "bob".into(),
            factor: "totp".into(),
            since: Timestamp::from_millis(7),
        };
        assert_eq!(state_of(None, Some(pending)), want);
        // A pending marker next to a bound owner is still not a complete login.
        assert_eq!(state_of(alice(), Some(pending)), want);
        assert!(!want.is_complete());
    }

    #[test]
    fn rejections_carry_the_configured_status() {
        let custom = AuthStatuses {
            unauthenticated: 403,
            reauthenticate: 428,
        };
        let r = AuthRejection::new(AuthRejectionKind::ReauthenticationRequired, custom);
        assert_eq!(r.status(), 428);
        assert_eq!(
            AuthRejection::new(AuthRejectionKind::FactorPending, custom).status(),
            403
        );
        assert_eq!(
            AuthRejection::new(AuthRejectionKind::NotLoggedIn, AuthStatuses::default()).status(),
            401
        );
    }
}
