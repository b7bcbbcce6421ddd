//! The axum extractor and the handler error type.

use std::ops::Deref;

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, VARY};
use http::request::Parts;
use http::StatusCode;
use satchel::http_support::{NO_STORE, VARY_COOKIE};
use satchel::SessionError;

/// The request's session, as an axum extractor. Dereferences to [`satchel::Session`].
///
/// Rejects with `500` if [`crate::SessionLayer`] is not installed (a wiring mistake, logged).
#[derive(Debug, Clone)]
pub struct Session(pub satchel::Session);

impl Deref for Session {
    type Target = satchel::Session;

    fn deref(&self) -> &satchel::Session {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = MissingLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<satchel::Session>() {
            Some(session) => Ok(Session(session.clone())),
            None => {
                tracing::error!(target: "satchel", "Session extractor used without SessionLayer");
                Err(MissingLayer)
            }
        }
    }
}

/// The rejection when [`Session`] is extracted without [`crate::SessionLayer`].
#[derive(Debug, Clone, Copy)]
pub struct MissingLayer;

impl IntoResponse for MissingLayer {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
    }
}

/// A session error returned from a handler (`?` converts [`SessionError`]).
///
/// Its response carries the error's default status, a generic body and
/// `Cache-Control: no-store` and `Vary: Cookie`. Whatever the
/// handler returns, [`crate::SessionLayer`] also replaces the response of a request whose
/// session failed, so ignoring an error never leaks a half-saved state.
#[derive(Debug)]
pub struct Error(pub SessionError);

impl From<SessionError> for Error {
    fn from(err: SessionError) -> Self {
        Error(err)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.default_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = status.canonical_reason().unwrap_or("Error");
        // The headers the layer's own error responses carry: no cache may keep it, and it
        // stands in for a response that depended on the cookie.
        (
            status,
            [(CACHE_CONTROL, NO_STORE), (VARY, VARY_COOKIE)],
            body,
        )
            .into_response()
    }
}
