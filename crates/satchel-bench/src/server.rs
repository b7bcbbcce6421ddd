//! Running a variant's server on its own OS thread with a tokio current_thread runtime.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context as _;
use tokio::sync::oneshot;

/// How a variant's server should be started.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Pin the server thread to this logical CPU (None: do not pin).
    pub core: Option<usize>,
}

/// Reads the hit and miss counters of a cache in front of a variant's store (e.g. a near
/// cache), so the benchmark can report the hit ratio it measured.
#[derive(Clone)]
pub struct CacheCounts(Arc<dyn Fn() -> Option<(u64, u64)> + Send + Sync>);

impl CacheCounts {
    /// From a function returning `(hits, misses)` so far (None while it cannot tell).
    pub fn new(f: impl Fn() -> Option<(u64, u64)> + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// `(hits, misses)` so far.
    pub fn read(&self) -> Option<(u64, u64)> {
        (self.0)()
    }
}

impl std::fmt::Debug for CacheCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheCounts")
    }
}

/// A server running on its own thread. Dropping it shuts the server down and joins the thread.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    tid: Option<u32>,
    pinned: bool,
    cache: Option<CacheCounts>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// Assemble a handle; for variants that start their server some other way than
    /// [`spawn_axum`] (e.g. actix-web's own runtime).
    pub fn new(
        addr: SocketAddr,
        tid: Option<u32>,
        pinned: bool,
        shutdown: oneshot::Sender<()>,
        thread: JoinHandle<()>,
    ) -> Self {
        Self {
            addr,
            tid,
            pinned,
            cache: None,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Kernel thread id of the server thread (for CPU accounting), if known.
    pub fn tid(&self) -> Option<u32> {
        self.tid
    }

    /// Whether the server thread was pinned as asked.
    pub fn pinned(&self) -> bool {
        self.pinned
    }

    /// This server with a cache in front of its store whose counters the benchmark reads.
    pub fn with_cache_counts(mut self, counts: CacheCounts) -> Self {
        self.cache = Some(counts);
        self
    }

    /// `(hits, misses)` of the cache in front of the store so far, if it has one.
    pub fn cache_counts(&self) -> Option<(u64, u64)> {
        self.cache.as_ref().and_then(CacheCounts::read)
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Bind 127.0.0.1:0 and serve the router built by `make_router` on a fresh OS thread running
/// a current_thread tokio runtime, pinned as `opts` says. The router is built on that thread.
pub fn spawn_axum<F>(
    name: &str,
    opts: &ServerOptions,
    make_router: F,
) -> anyhow::Result<RunningServer>
where
    F: FnOnce() -> axum::Router + Send + 'static,
{
    spawn_axum_async(name, opts, move || async move { Ok(make_router()) })
}

/// Like [`spawn_axum`], for routers whose setup must await on the server's own runtime
/// (e.g. a store whose connection task must be driven by the measured thread, as peers'
/// stores are). A setup error is reported to the caller.
pub fn spawn_axum_async<F, Fut>(
    name: &str,
    opts: &ServerOptions,
    make_router: F,
) -> anyhow::Result<RunningServer>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<axum::Router>>,
{
    let std_listener = TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<(Option<u32>, bool)>>();
    let core = opts.core;
    let thread = std::thread::Builder::new()
        .name(format!("srv-{name}"))
        .spawn(move || {
            let pinned = core.is_some_and(crate::sys::pin_current_thread);
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.into()));
                    return;
                }
            };
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(std_listener) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                let router = match make_router().await {
                    Ok(router) => router,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok((crate::sys::current_tid(), pinned)));
                let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                let _ = axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = shutdown_rx.await;
                    })
                    .await;
            });
        })
        .context("spawn server thread")?;
    let (tid, pinned) = ready_rx
        .recv()
        .context("server thread died during start-up")??;
    Ok(RunningServer::new(addr, tid, pinned, shutdown_tx, thread))
}
