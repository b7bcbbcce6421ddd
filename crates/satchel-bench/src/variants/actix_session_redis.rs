//! `actix-session-redis`: actix-web 4 + actix-session 0.11 over its `RedisSessionStore`
//! (redis-rs `ConnectionManager`, one multiplexed connection) on the Redis at
//! `$SATCHEL_REDIS_URL` (default `redis://127.0.0.1:6379`), keys under
//! `satchel-bench:actix-session:`. Browser-session cookies with a 30-minute state TTL,
//! extended on state changes (actix-session's default policy: reads do not write).
//!
//! The store is built on the worker's runtime when the worker creates its services, so its
//! connection is driven by the measured thread, as the store of a real deployment would be.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_session::config::BrowserSession;
use actix_session::storage::RedisSessionStore;
use actix_session::SessionMiddleware;
use actix_web::cookie::{time, Key};
use actix_web::dev::{ServiceRequest, Transform};
use actix_web::App;
use anyhow::Context as _;

use super::actix_session_cookie::routes;
use super::bare_actix::spawn_actix;
use super::Variant;
use crate::redis_keys::RedisKeys;
use crate::server::{RunningServer, ServerOptions};

/// The variant entry.
pub const VARIANT: Variant = Variant {
    name: "actix-session-redis",
    summary: "actix-web 4 + actix-session 0.11, its RedisSessionStore on local Redis ($SATCHEL_REDIS_URL); Secure off, 30 min state TTL",
    sessions: true,
    redis: Some(RedisKeys {
        db: None,
        prefix: KEY_PREFIX,
        read_before_measuring: false,
    }),
    spawn,
};

/// Where the Redis store keeps its keys.
const KEY_PREFIX: &str = "satchel-bench:actix-session:";

/// Start the server.
pub fn spawn(opts: &ServerOptions) -> anyhow::Result<RunningServer> {
    let url = redis_url();
    check_redis(&url)?;
    let key = Key::generate();
    spawn_actix(VARIANT.name, opts, move || {
        let (url, key) = (url.clone(), key.clone());
        App::new()
            .wrap(OnWorker(move || {
                let (url, key) = (url.clone(), key.clone());
                async move {
                    let store = build_store(&url)
                        .await
                        .unwrap_or_else(|e| panic!("actix-session-redis: {e:#}"));
                    SessionMiddleware::builder(store, key)
                        .cookie_secure(false)
                        .session_lifecycle(
                            BrowserSession::default().state_ttl(time::Duration::minutes(30)),
                        )
                        .build()
                }
            }))
            .configure(routes)
    })
}

/// `$SATCHEL_REDIS_URL`, or the standard local Redis.
pub(crate) fn redis_url() -> String {
    std::env::var("SATCHEL_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

async fn build_store(url: &str) -> anyhow::Result<RedisSessionStore> {
    RedisSessionStore::builder(url)
        .cache_keygen(|key| format!("{KEY_PREFIX}{key}"))
        .build()
        .await
}

/// Fail at start-up, with a clear message, when Redis is not there.
fn check_redis(url: &str) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), build_store(url))
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r.map(drop))
    })
    .with_context(|| format!("actix-session-redis needs Redis at {url} ($SATCHEL_REDIS_URL)"))
}

/// A middleware built asynchronously when the worker creates its services, on its runtime.
#[derive(Clone)]
pub(crate) struct OnWorker<F>(pub(crate) F);

impl<S, F, Fut, M> Transform<S, ServiceRequest> for OnWorker<F>
where
    F: Fn() -> Fut,
    Fut: Future<Output = M> + 'static,
    M: Transform<S, ServiceRequest, InitError = ()> + 'static,
    S: 'static,
{
    type Response = M::Response;
    type Error = M::Error;
    type Transform = M::Transform;
    type InitError = ();
    type Future = Pin<Box<dyn Future<Output = Result<M::Transform, ()>>>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let middleware = (self.0)();
        Box::pin(async move { middleware.await.new_transform(service).await })
    }
}
