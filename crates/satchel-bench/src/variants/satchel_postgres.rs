//! `satchel-postgres`: axum 0.8 + satchel's `SessionLayer` over satchel-sql's
//! `PostgresStore`, on the PostgreSQL in `$SATCHEL_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), in its own schema `satchel_bench`, emptied at
//! start. Same pool size as `tower-sessions-postgres`; satchel's default cleanup task on.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use satchel::SessionConfig;
use satchel_sql::{PostgresStore, SqlOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::Variant;
use crate::server::{spawn_axum, RunningServer, ServerOptions};

/// The variant entry.
pub const VARIANT: Variant = Variant {
    name: "satchel-postgres",
    summary: "axum 0.8 + satchel-axum SessionLayer, satchel-sql PostgresStore on local PostgreSQL ($SATCHEL_POSTGRES_URL), pool of 10; Secure off, default 30 min idle timeout",
    sessions: true,
    redis: None,
    spawn,
};

/// Connections per pool, the same for every PostgreSQL variant (sqlx's default).
pub(crate) const POOL: u32 = 10;

const SCHEMA: &str = "satchel_bench";

/// `$SATCHEL_POSTGRES_URL`, or the standard local server.
pub(crate) fn postgres_url() -> String {
    std::env::var("SATCHEL_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Runs `setup` on a runtime of its own thread (variants may be started from inside
/// another runtime), with a small pool that is closed afterwards.
pub(crate) fn prepare<F, Fut>(url: &str, setup: F) -> anyhow::Result<()>
where
    F: FnOnce(sqlx::PgPool) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let url = url.to_owned();
    std::thread::spawn(move || -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(5))
                .connect(&url)
                .await
                .with_context(|| {
                    format!(
                        "the PostgreSQL variants need PostgreSQL at {url} ($SATCHEL_POSTGRES_URL)"
                    )
                })?;
            let result = setup(pool.clone()).await;
            pool.close().await;
            result
        })
    })
    .join()
    .map_err(|_| anyhow::anyhow!("PostgreSQL setup thread panicked"))?
}

/// Drops and recreates nothing but `schema` (ours), so each run starts empty.
pub(crate) async fn empty_schema(pool: &sqlx::PgPool, schema: &str) -> anyhow::Result<()> {
    let drop = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    sqlx::Executor::execute(pool, drop.as_str()).await?;
    Ok(())
}

fn options() -> anyhow::Result<SqlOptions> {
    Ok(SqlOptions::default()
        .with_schema(SCHEMA)?
        .with_max_connections(POOL))
}

/// Start the server.
pub fn spawn(opts: &ServerOptions) -> anyhow::Result<RunningServer> {
    let config = SessionConfig::builder()
        .dangerous_insecure_cookies()
        .build()
        .map_err(|e| anyhow::anyhow!("satchel config: {e:?}"))?;
    let url = postgres_url();
    prepare(&url, |pool| async move {
        empty_schema(&pool, SCHEMA).await?;
        let store = PostgresStore::from_pool(pool, options()?.with_cleanup(None));
        store.migrate().await?;
        Ok(())
    })?;
    let options = options()?;
    // Fails here, not in the factory below, if the URL is malformed.
    PgConnectOptions::from_str(&url)?;
    spawn_axum(VARIANT.name, opts, move || {
        // Built on the server's runtime: the pool's connections and the cleanup task live
        // there. The store's own pool settings (size from `options`), as an application
        // using `PostgresStore::connect_with` gets them.
        let store = PostgresStore::connect_lazy_with(&url, options).expect("the URL parsed above");
        super::satchel_memory::router(store, config)
    })
}
