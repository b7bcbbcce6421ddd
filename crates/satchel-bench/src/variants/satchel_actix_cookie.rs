//! `satchel-actix-cookie`: actix-web 4 + satchel-actix over a stateless engine whose
//! sessions are sealed into the cookie by satchel-cookie (AES-256-GCM-SIV), the
//! counterpart of `actix-session-cookie`. No revocation store, like actix-session's.

use actix_web::App;
use satchel::{Engine, SessionConfig, Stateless};
use satchel_actix::SessionMiddleware;
use satchel_cookie::Keyring;

use super::bare_actix::spawn_actix;
use super::satchel_actix_memory::routes;
use super::Variant;
use crate::server::{RunningServer, ServerOptions};

/// The variant entry.
pub const VARIANT: Variant = Variant {
    name: "satchel-actix-cookie",
    summary: "actix-web 4 + satchel-actix SessionMiddleware, satchel-cookie sealed cookies (AES-256-GCM-SIV, no revocation store); Secure off",
    sessions: true,
    redis: None,
    spawn,
};

/// Start the server.
pub fn spawn(opts: &ServerOptions) -> anyhow::Result<RunningServer> {
    let mut secret = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
    let keyring = Keyring::new(1, &secret).map_err(|e| anyhow::anyhow!("keyring: {e}"))?;
    let config = SessionConfig::builder()
        .dangerous_insecure_cookies()
        .build()
        .map_err(|e| anyhow::anyhow!("satchel config: {e:?}"))?;
    let sessions =
        SessionMiddleware::from_engine(Engine::stateless(Stateless::new(keyring), config));
    spawn_actix(VARIANT.name, opts, move || {
        App::new().wrap(sessions.clone()).configure(routes)
    })
}
