//! [`SessionLayer`]: the tower layer that gives every request a session.

use std::sync::Arc;

use http::StatusCode;
use satchel::csrf::CsrfCheck;
use satchel::http_support::ErrorStatuses;
use satchel::{Engine, SessionConfig, SessionStore};
use tower_layer::Layer;

use crate::service::SessionService;

/// Adds sessions to a tower service (an axum `Router`, or any hyper service).
///
/// Each request gets a [`satchel::Session`] in its extensions (extract it with
/// [`crate::Session`]); when the inner service answers, the layer saves what the handler
/// changed and sets the cookie and cache headers. Store failures become `503` with
/// `Retry-After`, conflicts become `409`, and either way no `Set-Cookie` is sent and the
/// body says nothing internal.
///
/// Unsafe requests (`POST`, `PUT`, …) from other sites are refused with `403` before the
/// handler runs ([`CsrfCheck`], on by default): configure it with [`SessionLayer::csrf`],
/// turn it off with [`SessionLayer::without_csrf_check`].
#[derive(Debug, Clone)]
pub struct SessionLayer {
    pub(crate) engine: Engine,
    pub(crate) statuses: ErrorStatuses,
    pub(crate) csrf: Option<Arc<CsrfCheck>>,
}

impl SessionLayer {
    /// A layer over `store` with `config`.
    pub fn new<S: SessionStore>(store: S, config: SessionConfig) -> Self {
        Self::from_engine(Engine::new(store, config))
    }

    /// A layer over an existing engine (to share it, or to give it a test clock).
    pub fn from_engine(engine: Engine) -> Self {
        SessionLayer {
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

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            engine: self.engine.clone(),
            statuses: self.statuses,
            csrf: self.csrf.clone(),
        }
    }
}
