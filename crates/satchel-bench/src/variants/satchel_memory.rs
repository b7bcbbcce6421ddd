//! `satchel-memory`: axum 0.8 + satchel's `SessionLayer` over satchel's `MemoryStore`.

use axum::routing::{get, post};
use axum::{Json, Router};
use satchel::{MemoryStore, SessionConfig, SessionStore};
use satchel_axum::{Session, SessionLayer};
use serde_json::{json, Value};

use super::Variant;
use crate::server::{spawn_axum, RunningServer, ServerOptions};

/// The variant entry.
pub const VARIANT: Variant = Variant {
    name: "satchel-memory",
    summary: "axum 0.8 + satchel-axum SessionLayer, satchel MemoryStore; Secure off (`dangerous_insecure_cookies`), default 30 min idle timeout",
    sessions: true,
    redis: None,
    spawn,
};

/// Start the server.
pub fn spawn(opts: &ServerOptions) -> anyhow::Result<RunningServer> {
    // Build the config here so a config error is reported to the caller, not the thread.
    let config = config()?;
    spawn_axum(VARIANT.name, opts, move || router(store(), config))
}

/// The variant's configuration: plain-HTTP cookies, defaults otherwise.
pub fn config() -> anyhow::Result<SessionConfig> {
    SessionConfig::builder()
        .dangerous_insecure_cookies()
        .build()
        .map_err(|e| anyhow::anyhow!("satchel config: {e:?}"))
}

/// The variant's store: a MemoryStore with room for every benchmark session.
pub fn store() -> MemoryStore {
    MemoryStore::builder().max_sessions(1_000_000).build()
}

/// The benchmark routes on satchel + axum over `store`; every satchel axum variant serves
/// exactly these, so only the store differs between them.
pub fn router<S: SessionStore>(store: S, config: SessionConfig) -> Router {
    Router::new()
        .route("/seed", post(seed))
        .route("/write", post(write))
        .route("/read", get(read))
        .layer(SessionLayer::new(store, config))
}

type Reply = Result<Json<Value>, satchel_axum::Error>;

async fn seed(session: Session) -> Reply {
    session.insert("n", &0_i64)?;
    Ok(Json(json!({ "n": 0 })))
}

async fn write(session: Session) -> Reply {
    let n: i64 = session.get("n").await?.unwrap_or(0);
    session.insert("n", &(n + 1))?;
    Ok(Json(json!({ "n": n + 1 })))
}

async fn read(session: Session) -> Reply {
    let n: i64 = session.get("n").await?.unwrap_or(0);
    Ok(Json(json!({ "n": n })))
}
