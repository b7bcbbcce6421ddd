//! `satchel demo`: a small web app on the session layer, for people to try and for the
//! browser test to drive.

mod api;
mod compat;
mod device;
mod devices;
mod devices_page;
mod directory;
mod html;
mod metrics;
mod page;
mod sealed;

pub(crate) use compat::check_compat;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use satchel::{Engine, MemoryStore, SessionConfig, SessionStore};
use satchel_axum::SessionLayer;
use satchel_sql::{SqlOptions, SqlStore};

use crate::cli::{DemoArgs, SecureCookies};
use crate::store_url::StoreUrl;
use directory::Directory;

/// How often the demo sweeps expired sessions out of stores that need it.
const PURGE_EVERY: Duration = Duration::from_secs(60);

pub(crate) fn run(args: DemoArgs, store: StoreUrl) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args, store))
}

async fn serve(args: DemoArgs, store: StoreUrl) -> anyhow::Result<()> {
    let secure = match args.secure_cookies {
        SecureCookies::On => true,
        SecureCookies::Off => false,
        SecureCookies::Auto => !args.listen.ip().is_loopback(),
    };
    let mut config = SessionConfig::builder();
    if !secure {
        tracing::warn!(
            "session cookies without Secure: fine for plain-HTTP local development only"
        );
        config = config.dangerous_insecure_cookies();
    }
    if let Some(compat) = args.compat {
        let engine = compat::engine(compat, &args, &store, config).await?;
        return serve_engine(args, engine, Directory::Unlisted(directory::COMPAT)).await;
    }
    let config = config.build().context("session configuration")?;
    let (engine, directory) = match store {
        StoreUrl::Memory { max_sessions } => {
            let mut builder = MemoryStore::builder();
            if let Some(n) = max_sessions {
                builder = builder.max_sessions(n);
            }
            tracing::info!("sessions in memory: they do not survive a restart");
            let store = builder.build();
            let engine = engine_with_purge(store.clone(), config);
            let directory = Directory::of(&store, &engine);
            (engine, directory)
        }
        StoreUrl::Sql(url) => {
            let shown = StoreUrl::Sql(url.clone()).redacted();
            let store = SqlStore::connect(&url, SqlOptions::default())
                .await
                .with_context(|| format!("opening the session store {shown}"))?;
            store
                .migrate()
                .await
                .with_context(|| format!("creating the session table in {shown}"))?;
            tracing::info!(
                store = %shown,
                "sessions in {}: they survive a restart of the demo",
                store.backend()
            );
            // The SQL stores delete expired sessions themselves (a background task).
            let engine = Engine::new(store.clone(), config);
            let directory = Directory::of(&store, &engine);
            (engine, directory)
        }
        StoreUrl::Redis(url) => {
            let shown = StoreUrl::Redis(url.clone()).redacted();
            let store = satchel_redis::RedisStore::connect(&url, Default::default())
                .await
                .with_context(|| format!("connecting to the session store {shown}"))?;
            tracing::info!(store = %shown, "sessions in Redis: they survive a restart of the demo");
            // Redis expires sessions itself.
            let engine = Engine::new(store.clone(), config);
            let directory = Directory::of(&store, &engine);
            (engine, directory)
        }
        StoreUrl::Cookie => (
            sealed::engine(config).await?,
            Directory::Unlisted(directory::SEALED),
        ),
    };
    serve_engine(args, engine, directory).await
}

/// Serves the demo on `engine`; `directory` is how its devices page lists and revokes an
/// owner's sessions.
async fn serve_engine(args: DemoArgs, engine: Engine, directory: Directory) -> anyhow::Result<()> {
    // The layer's cross-site request check is on by default: a form post or API call from
    // another site is a 403 before any handler runs (login CSRF, issue 19).
    let app = api::router(directory)
        .layer(SessionLayer::from_engine(engine))
        .merge(metrics::router()?);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    tracing::info!("satchel demo on http://{addr}/");
    // With the peer address, which the devices page shows (no forwarding header is
    // trusted: the demo is reached directly).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("serving HTTP")
}

/// An engine over `store`, with a background task purging expired sessions.
fn engine_with_purge<S: SessionStore>(store: S, config: SessionConfig) -> Engine {
    let engine = Engine::new(store, config);
    if engine.capabilities().purge {
        let purger = engine.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PURGE_EVERY);
            loop {
                tick.tick().await;
                match purger.purge_expired(10_000).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(purged = n, "expired sessions purged"),
                    Err(err) => tracing::warn!(error = %err, "purging expired sessions failed"),
                }
            }
        });
    }
    engine
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
