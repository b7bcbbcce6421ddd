//! `tower-sessions-memory`: axum 0.8 + tower-sessions 0.15 over its `MemoryStore`
//! (`memory-store` feature), configured like the satchel variant: plain-http cookies
//! (`Secure` off) and a 30-minute expiry on inactivity.

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tower_sessions::cookie::time::Duration;
use tower_sessions::{Expiry, MemoryStore, Session, SessionManagerLayer};

use super::Variant;
use crate::server::{spawn_axum, RunningServer, ServerOptions};

/// The variant entry.
pub const VARIANT: Variant = Variant {
    name: "tower-sessions-memory",
    summary:
        "axum 0.8 + tower-sessions 0.15, its MemoryStore; Secure off, 30 min expiry on inactivity",
    sessions: true,
    redis: None,
    spawn,
};

/// Start the server.
pub fn spawn(opts: &ServerOptions) -> anyhow::Result<RunningServer> {
    spawn_axum(VARIANT.name, opts, router)
}

fn router() -> Router {
    let layer = SessionManagerLayer::new(MemoryStore::default())
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(Duration::minutes(30)));
    Router::new()
        .route("/seed", post(seed))
        .route("/write", post(write))
        .route("/read", get(read))
        .layer(layer)
}

type Reply = Result<Json<Value>, StatusCode>;

fn internal<E>(_: E) -> StatusCode {
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn seed(session: Session) -> Reply {
    session.insert("n", 0_i64).await.map_err(internal)?;
    Ok(Json(json!({ "n": 0 })))
}

async fn write(session: Session) -> Reply {
    let n: i64 = session.get("n").await.map_err(internal)?.unwrap_or(0);
    session.insert("n", n + 1).await.map_err(internal)?;
    Ok(Json(json!({ "n": n + 1 })))
}

async fn read(session: Session) -> Reply {
    let n: i64 = session.get("n").await.map_err(internal)?.unwrap_or(0);
    Ok(Json(json!({ "n": n })))
}
