//! The actix-web extractor and the handler error type.

use std::fmt;
use std::future::{ready, Ready};
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::header::{ContentType, CACHE_CONTROL, VARY};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, HttpResponse, ResponseError};
use satchel::http_support::{NO_STORE, VARY_COOKIE};
use satchel::SessionError;

/// The request's session, as an actix-web extractor. Dereferences to [`satchel::Session`].
///
/// Fails with `500` if [`crate::SessionMiddleware`] is not installed (a wiring mistake,
/// logged).
#[derive(Debug, Clone)]
pub struct Session(pub satchel::Session);

impl Deref for Session {
    type Target = satchel::Session;

    fn deref(&self) -> &satchel::Session {
        &self.0
    }
}

impl FromRequest for Session {
    type Error = MissingMiddleware;
    type Future = Ready<Result<Self, MissingMiddleware>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let session = req.extensions().get::<satchel::Session>().cloned();
        ready(session.map(Session).ok_or_else(|| {
            tracing::error!(target: "satchel", "Session extractor used without SessionMiddleware");
            MissingMiddleware
        }))
    }
}

/// The error when [`Session`] is extracted without [`crate::SessionMiddleware`].
#[derive(Debug, Clone, Copy)]
pub struct MissingMiddleware;

impl fmt::Display for MissingMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Session extractor used without SessionMiddleware")
    }
}

impl ResponseError for MissingMiddleware {
    fn error_response(&self) -> HttpResponse {
        generic(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// A session error returned from a handler (`?` converts [`SessionError`]).
///
/// Its response carries the error's default status, a generic body and
/// `Cache-Control: no-store` and `Vary: Cookie`. Whatever the
/// handler returns, [`crate::SessionMiddleware`] also replaces the response of a request
/// whose session failed, so ignoring an error never leaks a half-saved state.
#[derive(Debug)]
pub struct Error(pub SessionError);

impl From<SessionError> for Error {
    fn from(err: SessionError) -> Self {
        Error(err)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.default_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        generic(self.status_code())
    }
}

/// A response with `status` and its reason phrase as the whole body, which no cache may
/// keep (the headers of the middleware's own error responses).
pub(crate) fn generic(status: StatusCode) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(ContentType::plaintext())
        .insert_header((CACHE_CONTROL, NO_STORE))
        .insert_header((VARY, VARY_COOKIE))
        .body(status.canonical_reason().unwrap_or("Error"))
}
