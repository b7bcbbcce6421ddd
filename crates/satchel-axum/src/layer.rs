//! [`SessionLayer`]: the tower layer that gives every request a session.

use http::StatusCode;
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
#[derive(Debug, Clone)]
pub struct SessionLayer {
    pub(crate) engine: Engine,
    pub(crate) statuses: ErrorStatuses,
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
        }
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
        }
    }
}
