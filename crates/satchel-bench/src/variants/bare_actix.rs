//! `bare-actix`: actix-web 4 with no session middleware, the actix floor. Handlers return a
//! body of the same shape as the session variants (`{"n":1}`) without any session work.
//!
//! Also `spawn_actix`, how every actix-web variant is served: `HttpServer` with one worker,
//! started from a thread pinned to the server core, so that thread, the accept thread and
//! the worker thread it creates all inherit the pinning (the worker pins itself as well, and
//! is the thread whose CPU time is measured).

use std::net::TcpListener;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App, HttpServer};
use anyhow::Context as _;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::Variant;
use crate::server::{RunningServer, ServerOptions};

/// The variant entry.
pub const VARIANT: Variant = Variant {
    name: "bare-actix",
    summary: "actix-web 4, no session middleware; handlers return a constant `{\"n\":1}` (the actix floor)",
    sessions: false,
    redis: None,
    spawn,
};

/// Start the server.
pub fn spawn(opts: &ServerOptions) -> anyhow::Result<RunningServer> {
    spawn_actix(VARIANT.name, opts, || App::new().configure(routes))
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/seed", web::post().to(seed))
        .route("/write", web::post().to(write))
        .route("/read", web::get().to(read));
}

async fn seed() -> web::Json<Value> {
    web::Json(json!({ "n": 0 }))
}

async fn write() -> web::Json<Value> {
    web::Json(json!({ "n": 1 }))
}

async fn read() -> web::Json<Value> {
    web::Json(json!({ "n": 1 }))
}

/// Bind 127.0.0.1:0 and serve the app built by `make_app` with actix-web's `HttpServer` and
/// one worker, started on a fresh OS thread running an actix system, pinned as `opts` says.
/// `make_app` runs on the worker thread, inside its runtime.
pub(crate) fn spawn_actix<F, T, B>(
    name: &str,
    opts: &ServerOptions,
    make_app: F,
) -> anyhow::Result<RunningServer>
where
    F: Fn() -> App<T> + Send + Clone + 'static,
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<(Option<u32>, bool)>>();
    let core = opts.core;
    let thread = std::thread::Builder::new()
        .name(format!("srv-{name}"))
        .spawn(move || {
            // Threads inherit the affinity of the thread that creates them.
            let system_pinned = core.is_some_and(crate::sys::pin_current_thread);
            let worker_ready = ready_tx.clone();
            let factory = move || {
                let pinned = core.is_some_and(crate::sys::pin_current_thread);
                let _ = worker_ready.send(Ok((crate::sys::current_tid(), pinned && system_pinned)));
                make_app()
            };
            let served = actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(factory)
                    .workers(1)
                    .disable_signals()
                    .tcp_nodelay(true)
                    .listen(listener)?
                    .run();
                let handle = server.handle();
                actix_web::rt::spawn(async move {
                    let _ = shutdown_rx.await;
                    handle.stop(false).await;
                });
                server.await
            });
            if let Err(e) = served {
                let _ = ready_tx.send(Err(e.into()));
            }
        })
        .context("spawn server thread")?;
    let (tid, pinned) = ready_rx
        .recv()
        .context("server thread died during start-up")??;
    Ok(RunningServer::new(addr, tid, pinned, shutdown_tx, thread))
}
