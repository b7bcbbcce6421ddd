//! `actix-session-cookie`: actix-web 4 + actix-session 0.11 over its `CookieSessionStore`
//! (the whole state in the cookie, encrypted: actix-session's default `Private` content
//! security). `routes` are the handlers every actix-session variant serves.

use actix_session::storage::CookieSessionStore;
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::Key;
use actix_web::{web, App};
use serde_json::{json, Value};

use super::bare_actix::spawn_actix;
use super::Variant;
use crate::server::{RunningServer, ServerOptions};

/// The variant entry.
pub const VARIANT: Variant = Variant {
    name: "actix-session-cookie",
    summary:
        "actix-web 4 + actix-session 0.11, its CookieSessionStore (encrypted cookie); Secure off",
    sessions: true,
    redis: None,
    spawn,
};

/// Start the server.
pub fn spawn(opts: &ServerOptions) -> anyhow::Result<RunningServer> {
    let key = Key::generate();
    spawn_actix(VARIANT.name, opts, move || {
        App::new()
            .wrap(
                SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
                    .cookie_secure(false)
                    .build(),
            )
            .configure(routes)
    })
}

/// `/seed`, `/write`, `/read` on actix-session sessions.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/seed", web::post().to(seed))
        .route("/write", web::post().to(write))
        .route("/read", web::get().to(read));
}

type Reply = Result<web::Json<Value>, actix_web::Error>;

async fn seed(session: Session) -> Reply {
    session.insert("n", 0_i64)?;
    Ok(web::Json(json!({ "n": 0 })))
}

async fn write(session: Session) -> Reply {
    let n: i64 = session.get("n")?.unwrap_or(0);
    session.insert("n", n + 1)?;
    Ok(web::Json(json!({ "n": n + 1 })))
}

async fn read(session: Session) -> Reply {
    let n: i64 = session.get("n")?.unwrap_or(0);
    Ok(web::Json(json!({ "n": n })))
}
