//! `tower-sessions-postgres`: axum 0.8 + tower-sessions 0.14 over tower-sessions-sqlx-store
//! 0.15's `PostgresStore` (its latest release, which implements tower-sessions-core 0.14's
//! store trait, hence 0.14 here rather than the memory variant's 0.15), on the same PostgreSQL as `satchel-postgres`, in its own schema
//! `tower_sessions_bench` (emptied at start), same pool size, configured like the memory
//! variant: `Secure` off, 30-minute expiry on inactivity.

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use tower_sessions_014::cookie::time::Duration as CookieDuration;
use tower_sessions_014::{Expiry, Session, SessionManagerLayer, SessionStore};
use tower_sessions_sqlx_store::PostgresStore;

use super::satchel_postgres::{empty_schema, postgres_url, prepare, POOL};
use super::Variant;
use crate::server::{spawn_axum, RunningServer, ServerOptions};

/// The variant entry.
pub const VARIANT: Variant = Variant {
    name: "tower-sessions-postgres",
    summary: "axum 0.8 + tower-sessions 0.14, tower-sessions-sqlx-store 0.15 PostgresStore on the same PostgreSQL, pool of 10; Secure off, 30 min expiry on inactivity",
    sessions: true,
    redis: None,
    spawn,
};

const SCHEMA: &str = "tower_sessions_bench";

fn store(pool: sqlx::PgPool) -> anyhow::Result<PostgresStore> {
    PostgresStore::new(pool)
        .with_schema_name(SCHEMA)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Start the server.
pub fn spawn(opts: &ServerOptions) -> anyhow::Result<RunningServer> {
    let url = postgres_url();
    prepare(&url, |pool| async move {
        empty_schema(&pool, SCHEMA).await?;
        store(pool)?.migrate().await?;
        Ok(())
    })?;
    let connect: sqlx::postgres::PgConnectOptions = url.parse()?;
    spawn_axum(VARIANT.name, opts, move || {
        // Built on the server's runtime, like the satchel variant's pool.
        let pool = PgPoolOptions::new()
            .max_connections(POOL)
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy_with(connect);
        let store = PostgresStore::new(pool).with_schema_name(SCHEMA);
        router(store.expect("a valid schema name"))
    })
}

/// The benchmark routes on tower-sessions 0.14 over `store`: the routes of both 0.14-based
/// variants (this one and `tower-sessions-redis`).
pub(crate) fn router<S: SessionStore + Clone>(store: S) -> Router {
    let layer = SessionManagerLayer::new(store)
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(CookieDuration::minutes(30)));
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
