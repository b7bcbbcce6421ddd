//! `--store cookie:`: stateless sessions sealed into the cookie, with in-memory revocation.

use anyhow::Context as _;
use rand::RngCore;
use satchel::sealed::MemoryRevocations;
use satchel::{Engine, SessionConfig, Stateless};
use satchel_cookie::{Keyring, MIN_SECRET_LEN};

/// The environment variable holding the master secret (at least 32 bytes).
pub(crate) const SECRET_VAR: &str = "SATCHEL_SECRET";

pub(crate) fn engine(config: SessionConfig) -> anyhow::Result<Engine> {
    let secret = match std::env::var_os(SECRET_VAR) {
        Some(value) => {
            let bytes = value.into_encoded_bytes();
            if bytes.len() < MIN_SECRET_LEN {
                anyhow::bail!(
                    "{SECRET_VAR} is {} bytes; cookie sessions need at least {MIN_SECRET_LEN} (e.g. `openssl rand -base64 48`)",
                    bytes.len()
                );
            }
            bytes
        }
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
    let keyring = Keyring::new(1, &secret).context("building the cookie keyring")?;
    tracing::info!(
        "sessions sealed in cookies (AES-256-GCM-SIV); logouts revoked in memory; \
         GET /api/sessions answers 501 (cookies cannot be listed)"
    );
    Ok(Engine::stateless(
        Stateless::new(keyring).revocations(MemoryRevocations::new()),
        config,
    ))
}
