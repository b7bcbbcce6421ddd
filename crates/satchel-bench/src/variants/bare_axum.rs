//! `bare-axum`: axum 0.8 with no session layer, the cost floor. Handlers return a body of the
//! same shape as the session variants (`{"n":1}`) without any session work.

use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::Variant;
use crate::server::{spawn_axum, RunningServer, ServerOptions};

/// The variant entry.
pub const VARIANT: Variant = Variant {
    name: "bare-axum",
    summary: "axum 0.8, no session layer; handlers return a constant `{\"n\":1}` (the floor)",
    sessions: false,
    redis: None,
    spawn,
};

/// Start the server.
pub fn spawn(opts: &ServerOptions) -> anyhow::Result<RunningServer> {
    spawn_axum(VARIANT.name, opts, router)
}

/// The benchmark routes without sessions.
pub fn router() -> Router {
    Router::new()
        .route("/seed", post(seed))
        .route("/write", post(write))
        .route("/read", get(read))
}

async fn seed() -> Json<Value> {
    Json(json!({ "n": 0 }))
}

async fn write() -> Json<Value> {
    Json(json!({ "n": 1 }))
}

async fn read() -> Json<Value> {
    Json(json!({ "n": 1 }))
}
