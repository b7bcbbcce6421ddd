//! # satchel-actix-demo: sessions in an actix-web app
//!
//! ```sh
//! cargo run -p satchel-actix-demo                  # http://127.0.0.1:8081
//! cargo run -p satchel-actix-demo -- 0.0.0.0:9000  # another address (Secure cookies: HTTPS only)
//! ```
//!
//! Then, with curl keeping the cookie in a jar:
//!
//! ```sh
//! curl -c jar -b jar -X POST localhost:8081/count                 # {"count":1,"owner":null}
//! curl -c jar -b jar -X POST localhost:8081/login -d user=alice   # {"count":1,"owner":"alice"} (new id)
//! curl -c jar -b jar localhost:8081/                              # {"count":1,"owner":"alice"}
//! curl -c jar -b jar -X POST localhost:8081/logout                # cookie removed, session deleted
//! ```
//!
//! Sessions live in satchel's `MemoryStore`; any other `SessionStore` plugs in the same way.
//! On a loopback address the cookie is sent without `Secure` (plain-HTTP development only);
//! anywhere else it keeps satchel's secure defaults.

use std::net::SocketAddr;

use actix_web::{web, App, HttpResponse, HttpServer};
use satchel::{MemoryStore, SessionConfig, SessionErrorKind};
use satchel_actix::{Error, Session, SessionMiddleware};
use serde::Deserialize;
use serde_json::json;

/// Where the demo listens unless told otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:8081";

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let listen: SocketAddr = std::env::args()
        .nth(1)
        .as_deref()
        .unwrap_or(DEFAULT_LISTEN)
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut config = SessionConfig::builder();
    if listen.ip().is_loopback() {
        config = config.dangerous_insecure_cookies();
    }
    let config = config
        .build()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // One middleware (one engine, one store) shared by every worker.
    let sessions = SessionMiddleware::new(MemoryStore::new(), config);
    println!("satchel actix demo on http://{listen}/");
    HttpServer::new(move || {
        App::new()
            .wrap(sessions.clone())
            .route("/", web::get().to(show))
            .route("/count", web::post().to(count))
            .route("/login", web::post().to(login))
            .route("/logout", web::post().to(logout))
    })
    .bind(listen)?
    .run()
    .await
}

/// The visit counter and who is logged in.
async fn show(session: Session) -> Result<HttpResponse, Error> {
    let count: u64 = session.get("count").await?.unwrap_or(0);
    Ok(HttpResponse::Ok().json(json!({ "count": count, "owner": session.owner().await? })))
}

/// Adds one to the counter. Two tabs counting at once never lose a count: a save based on a
/// stale read is a conflict, so read again and retry (a few times, then answer 409).
async fn count(session: Session) -> Result<HttpResponse, Error> {
    for _ in 0..3 {
        let count: u64 = session.get("count").await?.unwrap_or(0);
        session.insert("count", &(count + 1))?;
        match session.save().await {
            Ok(()) => return show(session).await,
            Err(e) if e.kind() == SessionErrorKind::Conflict => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(HttpResponse::Conflict().body("too many concurrent updates, try again"))
}

#[derive(Deserialize)]
struct Login {
    user: String,
}

/// Logs `user` in: a new session id, the data kept, the session bound to the user. (A real
/// app checks a password first.)
async fn login(session: Session, form: web::Form<Login>) -> Result<HttpResponse, Error> {
    let user = form.into_inner().user;
    if user.is_empty() || user.len() > 64 {
        return Ok(HttpResponse::BadRequest().body("user: 1 to 64 characters"));
    }
    session.login(user)?;
    show(session).await
}

/// Ends the session: deleted from the store, the cookie removed.
async fn logout(session: Session) -> HttpResponse {
    session.logout();
    HttpResponse::Ok().json(json!({ "count": 0, "owner": null }))
}
