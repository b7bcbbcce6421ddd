//! The app under test: axum + satchel's `SessionLayer`, four routes that make every
//! session a ledger a client can check.
//!
//! - `POST /login?u=NAME`: logs `NAME` in (new id) with `n = 0`.
//! - `POST /inc`: `n += 1` for the logged-in owner: `{"n":N,"u":"NAME"}`; 401 when the
//!   session is anonymous (the store lost it, or it expired or was evicted), and then
//!   nothing is written.
//! - `GET /n`: `{"n":N,"u":"NAME"}` or 401, without writing.
//! - `POST /logout`: deletes the session.
//! - `POST /anon`: an anonymous visitor's write (`hits += 1`), for the soak.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use satchel::{SessionConfig, SessionStore};
use satchel_axum::{Error, Session, SessionLayer};
use serde_json::json;

use crate::server::{spawn_axum_async, RunningServer, ServerOptions};

#[derive(serde::Deserialize)]
struct Login {
    u: String,
}

async fn login(session: Session, Query(q): Query<Login>) -> Result<Response, Error> {
    session.login(q.u.clone())?;
    session.insert("n", &0u64)?;
    Ok(Json(json!({"n": 0, "u": q.u})).into_response())
}

async fn inc(session: Session) -> Result<Response, Error> {
    let Some(owner) = session.owner().await? else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    let n: u64 = session.get("n").await?.unwrap_or(0);
    session.insert("n", &(n + 1))?;
    Ok(Json(json!({"n": n + 1, "u": owner})).into_response())
}

async fn read(session: Session) -> Result<Response, Error> {
    let Some(owner) = session.owner().await? else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    let n: u64 = session.get("n").await?.unwrap_or(0);
    Ok(Json(json!({"n": n, "u": owner})).into_response())
}

async fn logout(session: Session) -> StatusCode {
    session.logout();
    StatusCode::OK
}

async fn anon(session: Session) -> Result<Response, Error> {
    let hits: u64 = session.get("hits").await?.unwrap_or(0);
    session.insert("hits", &(hits + 1))?;
    Ok(Json(json!({"n": hits + 1})).into_response())
}

/// The routes on `store`.
pub fn router<S: SessionStore>(store: S, config: SessionConfig) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/inc", post(inc))
        .route("/n", get(read))
        .route("/logout", post(logout))
        .route("/anon", post(anon))
        .layer(SessionLayer::new(store, config))
}

/// The session policy: plain-HTTP cookies (loopback), the rest default, idle timeout as
/// given.
pub fn config(idle: Option<std::time::Duration>) -> anyhow::Result<SessionConfig> {
    let mut b = SessionConfig::builder().dangerous_insecure_cookies();
    if let Some(idle) = idle {
        b = b.idle_timeout(idle);
    }
    b.build()
        .map_err(|e| anyhow::anyhow!("session config: {e:?}"))
}

/// Runs the app on its own thread; `connect` makes the store on the app's runtime (so its
/// connection tasks live there).
pub fn spawn<S, F, Fut>(
    connect: F,
    idle: Option<std::time::Duration>,
) -> anyhow::Result<RunningServer>
where
    S: SessionStore,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<S>>,
{
    let config = config(idle)?;
    spawn_axum_async(
        "faults-app",
        &ServerOptions::default(),
        move || async move {
            let store = connect().await?;
            Ok(router(store, config))
        },
    )
}
