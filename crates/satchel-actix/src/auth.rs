//! The `Authenticated` extractor: only a complete login gets through (SEC-20).

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, HttpResponse, ResponseError};
use satchel::auth::{AuthError, AuthRejection};
use satchel::SessionError;

use crate::extract::generic;

/// A request whose session is a complete login, as an actix-web extractor. Dereferences
/// to [`satchel::auth::Authenticated`] (and on to [`satchel::Session`]).
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

impl FromRequest for Authenticated {
    type Error = AuthRejected;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AuthRejected>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let session = req.extensions().get::<satchel::Session>().cloned();
        Box::pin(async move {
            let Some(session) = session else {
                tracing::error!(target: "satchel", "Authenticated extractor used without SessionMiddleware");
                return Err(AuthRejected::MissingMiddleware);
            };
            match satchel::auth::Authenticated::from_session(&session).await {
                Ok(auth) => Ok(Authenticated(auth)),
                Err(AuthError::Rejected(r)) => Err(AuthRejected::Refused(r)),
                Err(AuthError::Session(e)) => Err(AuthRejected::Session(e)),
            }
        })
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
    /// [`crate::SessionMiddleware`] is not installed: `500`.
    MissingMiddleware,
}

impl From<AuthRejection> for AuthRejected {
    fn from(r: AuthRejection) -> Self {
        AuthRejected::Refused(r)
    }
}

impl fmt::Display for AuthRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthRejected::Refused(r) => fmt::Display::fmt(r, f),
            AuthRejected::Session(e) => fmt::Display::fmt(e, f),
            AuthRejected::MissingMiddleware => {
                f.write_str("Authenticated used without SessionMiddleware")
            }
        }
    }
}

impl ResponseError for AuthRejected {
    fn status_code(&self) -> StatusCode {
        match self {
            AuthRejected::Refused(r) => {
                StatusCode::from_u16(r.status()).unwrap_or(StatusCode::UNAUTHORIZED)
            }
            AuthRejected::Session(e) => StatusCode::from_u16(e.default_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            AuthRejected::MissingMiddleware => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        generic(self.status_code())
    }
}
