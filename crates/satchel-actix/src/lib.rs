//! # satchel-actix: sessions for actix-web
//!
//! A thin adapter over [`satchel::Engine`], the twin of `satchel-axum`: [`SessionMiddleware`]
//! reads the cookie, hands each request a [`Session`], and after the handler saves the
//! changes and writes `Set-Cookie`, `Cache-Control: no-store` and `Vary: Cookie` as needed.
//! Every decision is the engine's (and `satchel::http_support`'s); this crate only
//! translates types. It works with any [`satchel::SessionStore`].
//!
//! ```
//! use actix_web::{test, web, App};
//! use satchel::{MemoryStore, SessionConfig};
//! use satchel_actix::{Session, SessionMiddleware};
//!
//! async fn count(session: Session) -> Result<String, satchel_actix::Error> {
//!     let n: u64 = session.get("n").await?.unwrap_or(0);
//!     session.insert("n", &(n + 1))?;
//!     Ok((n + 1).to_string())
//! }
//!
//! # actix_web::rt::System::new().block_on(async {
//! let sessions = SessionMiddleware::new(MemoryStore::new(), SessionConfig::default());
//! let app = test::init_service(
//!     App::new().wrap(sessions).route("/count", web::post().to(count)),
//! )
//! .await;
//!
//! let res = test::call_service(&app, test::TestRequest::post().uri("/count").to_request()).await;
//! assert_eq!(res.status(), 200);
//! let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap();
//! assert!(cookie.starts_with("id=") && cookie.contains("HttpOnly"));
//! assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
//! # });
//! ```
//!
//! actix-web handlers and middleware futures are `!Send`; the session and the engine are
//! `Send + Sync`, so one [`SessionMiddleware`] (one engine, one store) serves every worker.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod auth;
mod extract;
mod middleware;

pub use auth::{AuthRejected, Authenticated};
pub use extract::{Error, MissingMiddleware, Session};
pub use middleware::{ResponseFuture, SessionMiddleware, SessionService};
