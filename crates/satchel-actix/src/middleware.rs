//! [`SessionMiddleware`]: the actix-web middleware that gives every request a session, a
//! translation between actix-web types and the satchel engine.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{
    HeaderValue, CACHE_CONTROL, COOKIE, HOST, ORIGIN, RETRY_AFTER, SET_COOKIE, VARY,
};
use actix_web::http::StatusCode;
use actix_web::{HttpMessage as _, HttpResponse};
use satchel::csrf::{CsrfCheck, CsrfRequest, REFUSED_STATUS};
use satchel::http_support::{varies_on_cookie, ErrorStatuses, NO_STORE, VARY_COOKIE};
use satchel::{Engine, SessionConfig, SessionStore};

/// Adds sessions to an actix-web `App` or `Scope` (`.wrap(SessionMiddleware::new(..))`).
///
/// Each request gets a [`satchel::Session`] in its extensions (extract it with
/// [`crate::Session`]); when the inner service answers, the middleware saves what the
/// handler changed and sets the cookie and cache headers. Store failures become `503` with
/// `Retry-After`, conflicts become `409`, and either way no `Set-Cookie` is sent and the
/// body says nothing internal. Handler errors are responses like any other; an `Err` from an
/// inner middleware passes through untouched and nothing is saved (as in `satchel-axum`).
///
/// Unsafe requests (`POST`, `PUT`, …) from other sites are refused with `403` before the
/// handler runs ([`CsrfCheck`], on by default): configure it with
/// [`SessionMiddleware::csrf`], turn it off with [`SessionMiddleware::without_csrf_check`].
#[derive(Debug, Clone)]
pub struct SessionMiddleware {
    engine: Engine,
    statuses: ErrorStatuses,
    csrf: Option<Arc<CsrfCheck>>,
}

impl SessionMiddleware {
    /// A middleware over `store` with `config`.
    pub fn new<S: SessionStore>(store: S, config: SessionConfig) -> Self {
        Self::from_engine(Engine::new(store, config))
    }

    /// A middleware over an existing engine (to share it, or to give it a test clock).
    pub fn from_engine(engine: Engine) -> Self {
        SessionMiddleware {
            engine,
            statuses: ErrorStatuses::default(),
            csrf: Some(Arc::new(CsrfCheck::default())),
        }
    }

    /// The cross-site request check run before every handler (default
    /// [`CsrfCheck::default`]: cross-site unsafe requests are refused with `403`, nothing
    /// stored, no cookie set). Give trusted origins here if a front end on another origin
    /// posts to this app on purpose.
    pub fn csrf(mut self, check: CsrfCheck) -> Self {
        self.csrf = Some(Arc::new(check));
        self
    }

    /// Turns the cross-site request check off, for an app that does its own (or serves no
    /// browsers). Cross-site form posts then reach the handlers, with the visitor's cookie
    /// where `SameSite` lets it through, and can log visitors in (login CSRF).
    pub fn without_csrf_check(mut self) -> Self {
        self.csrf = None;
        self
    }

    /// The status answered when the store fails (default `503 Service Unavailable`).
    pub fn store_error_status(mut self, status: StatusCode) -> Self {
        self.statuses.store = status.as_u16();
        self
    }

    /// The status answered when a session changed under a request, or ended during it
    /// (default `409 Conflict`).
    pub fn conflict_status(mut self, status: StatusCode) -> Self {
        self.statuses.conflict = status.as_u16();
        self
    }

    /// The engine, e.g. for admin calls (`sessions_of`, `revoke_owner`, `purge_expired`).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionService {
            inner: service,
            engine: self.engine.clone(),
            statuses: self.statuses,
            csrf: self.csrf.clone(),
        }))
    }
}

/// The service [`SessionMiddleware`] wraps around an inner service.
#[derive(Debug)]
pub struct SessionService<S> {
    inner: S,
    engine: Engine,
    statuses: ErrorStatuses,
    csrf: Option<Arc<CsrfCheck>>,
}

/// Whether the request passes `check` (the method and the three headers it looks at).
fn csrf_allows(check: &CsrfCheck, req: &ServiceRequest) -> bool {
    let headers = req.headers();
    let host = headers
        .get(HOST)
        .map(HeaderValue::as_bytes)
        .or_else(|| req.uri().authority().map(|a| a.as_str().as_bytes()));
    check.allows(&CsrfRequest {
        method: req.method().as_str(),
        host,
        origin: headers.get(ORIGIN).map(HeaderValue::as_bytes),
        sec_fetch_site: headers.get("sec-fetch-site").map(HeaderValue::as_bytes),
    })
}

/// The future of [`SessionService`] (actix-web futures need not be `Send`).
pub type ResponseFuture<R> = Pin<Box<dyn Future<Output = Result<R, actix_web::Error>>>>;

impl<S, B> Service<ServiceRequest> for SessionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = ResponseFuture<Self::Response>;

    forward_ready!(inner);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        if let Some(check) = &self.csrf {
            if !csrf_allows(check, &req) {
                // No handler, no session, no store call, no cookie.
                let status = StatusCode::from_u16(REFUSED_STATUS).unwrap_or(StatusCode::FORBIDDEN);
                let refused = HttpResponse::build(status)
                    .insert_header((CACHE_CONTROL, NO_STORE))
                    .insert_header((VARY, VARY_COOKIE))
                    .finish()
                    .map_into_right_body();
                return Box::pin(ready(Ok(req.into_response(refused))));
            }
        }
        let session = self
            .engine
            .begin(req.headers().get_all(COOKIE).map(HeaderValue::as_bytes));
        req.extensions_mut().insert(session.clone());
        let response = self.inner.call(req);
        let engine = self.engine.clone();
        let statuses = self.statuses;
        Box::pin(async move {
            let mut res = response.await?.map_into_left_body();
            let status = res.status().as_u16();
            // An in-process store saves on the spot; any other is awaited.
            let mut finish = match engine.finish_now(&session, status) {
                Some(finish) => finish,
                None => engine.finish(&session, status).await,
            };
            if let Some(err) = &finish.error {
                // Fail closed: the handler's response never goes out, and nothing
                // internal does either.
                let reply = statuses.reply(err);
                let status =
                    StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut error = HttpResponse::build(status);
                if let Some(secs) = reply.retry_after {
                    error.insert_header((RETRY_AFTER, secs));
                }
                error.insert_header((CACHE_CONTROL, NO_STORE));
                res = res.into_response(error.finish().map_into_right_body());
            }
            let headers = res.headers_mut();
            let extra = std::mem::take(&mut finish.extra_set_cookies);
            for cookie in finish.set_cookie.take().into_iter().chain(extra) {
                match HeaderValue::try_from(cookie) {
                    Ok(value) => headers.append(SET_COOKIE, value),
                    // Unreachable with a validated config; never send a broken header.
                    Err(_) => {
                        tracing::error!(target: "satchel", "invalid Set-Cookie value dropped")
                    }
                }
            }
            if finish.no_store {
                headers.insert(CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
            }
            if finish.vary_cookie && !varies_on_cookie(headers.get_all(VARY).map(|v| v.as_bytes()))
            {
                headers.append(VARY, HeaderValue::from_static(VARY_COOKIE));
            }
            Ok(res)
        })
    }
}
