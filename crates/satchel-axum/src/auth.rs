//! The `Authenticated` extractor: only a complete login gets through (SEC-20).

use std::ops::Deref;
use std::time::Duration;

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, VARY};
use http::request::Parts;
use http::StatusCode;
use satchel::auth::{AuthError, AuthRejection};
use satchel::http_support::{NO_STORE, VARY_COOKIE};
use satchel::SessionError;

use crate::extract::{Error, MissingLayer};

/// A request whose session is a complete login, as an axum extractor. Dereferences to
/// [`satchel::auth::Authenticated`] (and on to [`satchel::Session`]).
///
/// Refuses anonymous sessions and logins still waiting for a second factor with the
/// configured status ([`satchel::SessionConfigBuilder::auth_statuses`], default `401`).
#[derive(Debug, Clone)]
pub struct Authenticated(pub satchel::auth::Authenticated);

impl Deref for Authenticated {
    type Target = satchel::auth::Authenticated;

    fn deref(&self) -> &satchel::auth::Authenticated {
        &self.0
    }
}

impl Authenticated {
    /// `Ok` when the owner authenticated at most `max_age` ago; else a rejection whose
    /// response is the configured status (default `401`): return it with `?`, or match
    /// [`AuthRejected::Refused`] to show a "confirm your password" page.
    ///
    /// # Errors
    /// [`AuthRejected::Refused`] with [`satchel::auth::AuthRejectionKind::ReauthenticationRequired`].
    pub fn requires_recent_auth(&self, max_age: Duration) -> Result<(), AuthRejected> {
        self.0
            .requires_recent_auth(max_age)
            .map_err(AuthRejected::Refused)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = AuthRejected;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(session) = parts.extensions.get::<satchel::Session>().cloned() else {
            tracing::error!(target: "satchel", "Authenticated extractor used without SessionLayer");
            return Err(AuthRejected::MissingLayer);
        };
        match satchel::auth::Authenticated::from_session(&session).await {
            Ok(auth) => Ok(Authenticated(auth)),
            Err(AuthError::Rejected(r)) => Err(AuthRejected::Refused(r)),
            Err(AuthError::Session(e)) => Err(AuthRejected::Session(e)),
        }
    }
}

/// Why [`Authenticated`] refused a request.
#[derive(Debug)]
pub enum AuthRejected {
    /// Not logged in, a factor pending, or not recently enough: answered with the
    /// configured status.
    Refused(AuthRejection),
    /// The session could not be read: answered as any session error.
    Session(SessionError),
    /// [`crate::SessionLayer`] is not installed: `500`.
    MissingLayer,
}

impl From<AuthRejection> for AuthRejected {
    fn from(r: AuthRejection) -> Self {
        AuthRejected::Refused(r)
    }
}

impl std::fmt::Display for AuthRejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthRejected::Refused(r) => std::fmt::Display::fmt(r, f),
            AuthRejected::Session(e) => std::fmt::Display::fmt(e, f),
            AuthRejected::MissingLayer => f.write_str("Authenticated used without SessionLayer"),
        }
    }
}

impl std::error::Error for AuthRejected {}

impl IntoResponse for AuthRejected {
    fn into_response(self) -> Response {
        match self {
            AuthRejected::Refused(r) => {
                let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::UNAUTHORIZED);
                let body = status.canonical_reason().unwrap_or("Error");
                (
                    status,
                    [(CACHE_CONTROL, NO_STORE), (VARY, VARY_COOKIE)],
                    body,
                )
                    .into_response()
            }
            AuthRejected::Session(e) => Error(e).into_response(),
            AuthRejected::MissingLayer => MissingLayer.into_response(),
        }
    }
}
