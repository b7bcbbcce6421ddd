//! # satchel: web sessions for Rust
//!
//! One framework-agnostic engine, pluggable stores, secure by default. Framework crates
//! (`satchel-axum`, …) are thin adapters over [`Engine`]; stores implement
//! [`SessionStore`]; [`MemoryStore`] is the embedded default.
//!
//! ```
//! use satchel::{Engine, MemoryStore, SessionConfig};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let engine = Engine::new(MemoryStore::new(), SessionConfig::default());
//!
//! // Request 1: no cookie; the handler writes; the response sets a cookie.
//! let session = engine.begin(None);
//! session.insert("n", &1)?;
//! let done = engine.finish(&session, 200).await;
//! let set_cookie = done.set_cookie.expect("a new session sets a cookie");
//! assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("Secure"));
//! assert!(done.no_store && done.vary_cookie);
//!
//! // Request 2: the browser sends the cookie back; the handler reads, nothing is written.
//! let cookie = set_cookie.split(';').next().unwrap();
//! let session = engine.begin([cookie.as_bytes()]);
//! assert_eq!(session.get::<i64>("n").await?, Some(1));
//! let done = engine.finish(&session, 200).await;
//! assert!(done.set_cookie.is_none() && done.error.is_none());
//! # Ok::<(), satchel::SessionError>(())
//! # }).unwrap();
//! ```
//!
//! ## Guarantees
//! - **Lazy and minimal**: no store call unless the handler reads; one `load` for a read;
//!   one patch (only the changed keys) for a write. Anonymous visitors who store nothing
//!   are never stored.
//! - **Concurrency**: writes to different keys of one session merge; a write based on a
//!   stale read of the same key is a [`SessionErrorKind::Conflict`], never a silent
//!   overwrite; a logged-out session is never brought back by a late write. See
//!   [`store`] for the exact contract and `conformance` (feature `conformance`) for the
//!   suite every store passes.
//! - **Security**: 256-bit CSPRNG ids, only their SHA-256 reaches stores; unknown ids are
//!   never adopted; idle and absolute timeouts are enforced from the record; `login`
//!   rotates the id (and drops another owner's data, [`LoginData`]); `logout` deletes
//!   server-side; secure cookie defaults validated at build time; cross-site unsafe
//!   requests are refused by the integrations ([`csrf`]); no id ever appears in `Debug`,
//!   logs or errors.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod auth;
mod backend;
mod breaker;
mod config;
mod cookie;
pub mod csrf;
mod data;
mod engine;
mod error;
pub mod http_support;
mod id;
mod id_format;
mod memory;
pub mod observe;
mod patch_source;
mod record;
mod renewal;
pub mod sealed;
mod session;
mod state;
pub mod store;
mod time;

#[cfg(feature = "conformance")]
#[doc = "The store conformance suite (feature `conformance`)."]
pub mod conformance;
#[cfg(feature = "conformance")]
mod instrumented;
#[cfg(feature = "conformance")]
#[doc = "The conformance checks for sealed-session revocation stores (feature `conformance`)."]
pub mod revocations_conformance;
#[cfg(feature = "conformance")]
pub use instrumented::{Calls, Instrumented};

pub use breaker::{BreakerPolicy, CircuitBreaker};
pub use config::{
    ConfigError, CorruptRecords, LoginData, Renewal, SameSite, SessionConfig, SessionConfigBuilder,
    MAX_RENEWAL_GRACE,
};
pub use engine::{Engine, Finish, Stateless};
pub use error::{SessionError, SessionErrorKind, StoreError, StoreErrorKind};
pub use id::{SessionId, StoreKey, ENCODED_ID_LEN};
pub use id_format::IdFormat;
pub use memory::{MemoryStore, MemoryStoreBuilder};
pub use record::{Data, Expires, ExpiryChange, Meta, Patch, Record, Value};
pub use renewal::ID_ISSUED_AT_KEY;
pub use session::{Flash, OwnerSession, Session, FLASH_KEY};
pub use state::Expiry;
pub use store::{Capabilities, SessionInfo, SessionStore, WriteOutcome};
pub use time::{Clock, SystemClock, TestClock, Timestamp};
