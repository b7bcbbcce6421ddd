//! `satchel-actix-memory`: actix-web 4 + satchel-actix's `SessionMiddleware` over satchel's
//! `MemoryStore`. `routes` are the handlers every satchel-on-actix variant serves, whatever
//! the store.

use actix_web::{web, App};
use satchel::{MemoryStore, SessionConfig, SessionStore};
use satchel_actix::{Error, Session, SessionMiddleware};
use serde_json::{json, Value};

use super::bare_actix::spawn_actix;
use super::Variant;
use crate::server::{RunningServer, ServerOptions};

/// The variant entry.
pub const VARIANT: Variant = Variant {
    name: "satchel-actix-memory",
    summary: "actix-web 4 + satchel-actix SessionMiddleware, satchel MemoryStore; Secure off (`dangerous_insecure_cookies`), default 30 min idle timeout",
    sessions: true,
    redis: None,
    spawn,
};

/// Start the server.
pub fn spawn(opts: &ServerOptions) -> anyhow::Result<RunningServer> {
    let store = MemoryStore::builder().max_sessions(1_000_000).build();
    spawn_satchel_actix(VARIANT.name, opts, store)
}

/// Serve [`routes`] behind satchel-actix over `store` (one engine shared by the worker).
pub(crate) fn spawn_satchel_actix<S: SessionStore>(
    name: &str,
    opts: &ServerOptions,
    store: S,
) -> anyhow::Result<RunningServer> {
    let config = SessionConfig::builder()
        .dangerous_insecure_cookies()
        .build()
        .map_err(|e| anyhow::anyhow!("satchel config: {e:?}"))?;
    let sessions = SessionMiddleware::new(store, config);
    spawn_actix(name, opts, move || {
        App::new().wrap(sessions.clone()).configure(routes)
    })
}

/// `/seed`, `/write`, `/read` on satchel-actix sessions.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/seed", web::post().to(seed))
        .route("/write", web::post().to(write))
        .route("/read", web::get().to(read));
}

type Reply = Result<web::Json<Value>, Error>;

async fn seed(session: Session) -> Reply {
    session.insert("n", &0_i64)?;
    Ok(web::Json(json!({ "n": 0 })))
}

async fn write(session: Session) -> Reply {
    let n: i64 = session.get("n").await?.unwrap_or(0);
    session.insert("n", &(n + 1))?;
    Ok(web::Json(json!({ "n": n + 1 })))
}

async fn read(session: Session) -> Reply {
    let n: i64 = session.get("n").await?.unwrap_or(0);
    Ok(web::Json(json!({ "n": n })))
}
