//! `--store cookie:`: stateless sessions sealed into the cookie, with durable revocation.
//!
//! Logouts, revoked devices and pre-login ids are remembered in the store that
//! `SATCHEL_REVOCATIONS` names (default: the demo's SQLite file), so a restart with the same
//! `SATCHEL_SECRET` does not bring them back. `SATCHEL_REVOCATIONS=memory:` keeps them in
//! this process only, and says so loudly.

use anyhow::Context as _;
use rand::RngCore;
use satchel::sealed::MemoryRevocations;
use satchel::{CircuitBreaker, Engine, SessionConfig, Stateless};
use satchel_cookie::Keyring;
use satchel_redis::{RedisConfig, RedisRevocations};
use satchel_sql::{SqlOptions, SqlRevocations};

use crate::store_url::{StoreUrl, DEFAULT_STORE};

/// The environment variable holding the master secret (at least 32 bytes).
pub(crate) const SECRET_VAR: &str = "SATCHEL_SECRET";

/// The environment variable naming where revocations are kept: a store URL (`sqlite:`,
/// `postgres:`, `mysql:`, `redis:`…, or `memory:`).
pub(crate) const REVOCATIONS_VAR: &str = "SATCHEL_REVOCATIONS";

pub(crate) async fn engine(config: SessionConfig) -> anyhow::Result<Engine> {
    let secret = match std::env::var_os(SECRET_VAR) {
        // Length and guessability are the keyring's to judge (a refusal exits 2, with how
        // to make a good secret).
        Some(value) => value.into_encoded_bytes(),
        None => {
            let mut bytes = vec![0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            tracing::warn!(
                "{SECRET_VAR} is not set: sealing cookies with a random secret. EVERY SESSION \
                 WILL BE LOST WHEN THE DEMO RESTARTS, and other instances cannot open them. \
                 Set {SECRET_VAR} to 32+ random bytes to keep sessions across restarts."
            );
            bytes
        }
    };
    let keyring = Keyring::new(1, &secret).with_context(|| format!("{SECRET_VAR} refused"))?;
    let stateless = with_revocations(Stateless::new(keyring)).await?;
    tracing::info!(
        "sessions sealed in cookies (AES-256-GCM-SIV); \
         GET /api/sessions answers 501 (cookies cannot be listed)"
    );
    Ok(Engine::stateless(stateless, config))
}

/// Adds the revocation store `SATCHEL_REVOCATIONS` names (default: the demo's SQLite file).
async fn with_revocations(stateless: Stateless) -> anyhow::Result<Stateless> {
    let url = std::env::var(REVOCATIONS_VAR).unwrap_or_else(|_| DEFAULT_STORE.to_owned());
    let store = StoreUrl::parse(&url).with_context(|| format!("{REVOCATIONS_VAR}={url:?}"))?;
    let shown = store.redacted();
    Ok(match store {
        StoreUrl::Memory { .. } => {
            tracing::warn!(
                "revocations in memory: a RESTART FORGETS EVERY LOGOUT (a logged-out cookie, \
                 a revoked device and a pre-login cookie open again), and other instances \
                 never learn of them. Set {REVOCATIONS_VAR} to a sqlite:, postgres:, mysql: \
                 or redis: URL to keep them."
            );
            stateless.revocations(MemoryRevocations::new())
        }
        StoreUrl::Sql(url) => {
            let rev = SqlRevocations::connect(&url, SqlOptions::default())
                .await
                .with_context(|| format!("opening the revocation store {shown}"))?;
            rev.migrate()
                .await
                .with_context(|| format!("creating the revocation table in {shown}"))?;
            tracing::info!(store = %shown, "revocations in {}: logouts survive a restart", rev.table());
            // Checked on every request: fail fast (and closed) while the store is down.
            stateless.revocations(CircuitBreaker::new(rev))
        }
        StoreUrl::Redis(url) => {
            let rev = RedisRevocations::connect(&url, RedisConfig::default())
                .await
                .with_context(|| format!("connecting to the revocation store {shown}"))?;
            tracing::info!(store = %shown, "revocations in Redis: logouts survive a restart");
            stateless.revocations(CircuitBreaker::new(rev))
        }
        StoreUrl::Cookie => anyhow::bail!(
            "{REVOCATIONS_VAR} must name a store (sqlite:, postgres:, mysql:, redis:, memory:), not cookie:"
        ),
    })
}
