//! # satchel-cookie: stateless sessions in sealed cookies
//!
//! The whole session record travels in the cookie, encrypted and authenticated, so any
//! server instance can serve any request with no session store at all:
//!
//! ```
//! use satchel::sealed::MemoryRevocations;
//! use satchel::{Engine, SessionConfig, Stateless};
//! use satchel_cookie::Keyring;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In production: 32+ random bytes from a secret manager (`openssl rand -base64 48`).
//! // Short, repeated or placeholder secrets (`password…`, 32 × `a`) are refused.
//! let secret = b"q3N1c0y4dWq0zZ8mJb5mF+X9vW1dQyQK3o2Xo4hC7yH2m1pY6nR0tE5sU8wA9bLk";
//! let keyring = Keyring::new(1, secret)?;
//! let engine = Engine::stateless(
//!     Stateless::new(keyring).revocations(MemoryRevocations::new()),
//!     SessionConfig::default(),
//! );
//! # let _ = engine; Ok(()) }
//! ```
//!
//! - **Sealing**: AES-256-GCM-SIV (RFC 8452) with a fresh random 96-bit nonce per cookie;
//!   keys derived with HKDF-SHA256 from master secrets of at least 32 bytes. Chosen over
//!   XChaCha20-Poly1305 and AES-256-GCM by measurement and by misuse resistance: with
//!   AES-NI it seals a 100-byte record about 4× faster than XChaCha20-Poly1305
//!   (`benches/aead_choice.rs`), and unlike AES-GCM a repeated random nonce does not leak
//!   the authentication key, so no per-key message budget needs tracking. The cookie name,
//!   the format version and the key id are bound as associated data, so a value moved to
//!   another cookie name, or relabelled with another key id, does not open.
//! - **Rotation**: a [`Keyring`] has one active key (seals) and any number of fallback
//!   keys (only open). A cookie opened with a fallback key is re-sealed with the active key
//!   on that response; a cookie sealed with a key that was removed is rejected.
//! - **Deadlines** (idle and absolute) live inside the ciphertext; the engine enforces them
//!   on every request, so an old cookie cannot be replayed past them.
//! - **Size**: the engine splits a long cookie across `id`, `id.1`, … (at most
//!   [`satchel::Stateless::max_chunks`]) and clears chunks a shorter value leaves behind;
//!   past the cap the request fails with `TooLarge` rather than send a cookie a browser
//!   would drop.
//! - **Not compressed**: compressing attacker-influenced data next to secrets leaks them
//!   through the ciphertext length (CRIME/BREACH), and typical session records (ids, flags,
//!   a few short strings) do not shrink enough to pay for that risk.
//!
//! - **Revocation**: `MemoryRevocations` (above) is for one process: a restart forgets
//!   every logout, and other instances never learn of them. A fleet, or any deployment
//!   where a restart must not bring logged-out cookies back, uses a shared, durable store:
//!   `satchel_redis::RedisRevocations` or `satchel_sql::SqlRevocations`
//!   (docs/sealed-revocation.md).
//!
//! See `satchel::sealed` for revocation and for the one guarantee a stateless session
//! cannot give (concurrent-write conflict detection).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod format;
mod keyring;
mod weak_secret;

pub use keyring::{KeyError, Keyring, MIN_SECRET_LEN};
pub use weak_secret::{weakness as secret_weakness, GENERATE_HINT};
