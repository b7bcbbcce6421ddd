//! # satchel-axum: sessions for axum and any tower service
//!
//! A thin adapter over [`satchel::Engine`]: [`SessionLayer`] reads the cookie, hands each
//! request a [`Session`], and after the handler saves the changes and writes
//! `Set-Cookie`, `Cache-Control: no-store` and `Vary: Cookie` as needed.
//!
//! ```
//! use axum::{routing::post, Router};
//! use satchel::{MemoryStore, SessionConfig};
//! use satchel_axum::{Session, SessionLayer};
//! use tower::ServiceExt;
//!
//! async fn count(session: Session) -> Result<String, satchel_axum::Error> {
//!     let n: u64 = session.get("n").await?.unwrap_or(0);
//!     session.insert("n", &(n + 1))?;
//!     Ok((n + 1).to_string())
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app = Router::new()
//!     .route("/count", post(count))
//!     .layer(SessionLayer::new(MemoryStore::new(), SessionConfig::default()));
//!
//! let req = http::Request::post("/count").body(axum::body::Body::empty()).unwrap();
//! let res = app.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), 200);
//! let cookie = res.headers()["set-cookie"].to_str().unwrap();
//! assert!(cookie.starts_with("id=") && cookie.contains("HttpOnly"));
//! assert_eq!(res.headers()["cache-control"], "no-store");
//! # });
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod auth;
mod extract;
mod layer;
mod service;

pub use auth::{AuthRejected, Authenticated};
pub use extract::{Error, MissingLayer, Session};
pub use layer::SessionLayer;
pub use service::{ResponseFuture, SessionService};
