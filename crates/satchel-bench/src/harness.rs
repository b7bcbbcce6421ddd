//! The load benchmark: start every variant, seed sessions, run interleaved rounds.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use hyper::header::HeaderValue;

use crate::client::{self, Conn, LoadResult, LoadSpec};
use crate::redis_ref::{self, RedisReference};
use crate::server::{RunningServer, ServerOptions};
use crate::variants::{Route, Variant};

/// Parameters of one benchmark run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Variants to run, in table order.
    pub variants: Vec<Variant>,
    /// Interleaved rounds.
    pub rounds: usize,
    /// Warm-up before each measurement.
    pub warmup: Duration,
    /// Measurement window per (round, variant, route).
    pub duration: Duration,
    /// Keep-alive connections of the load generator.
    pub connections: usize,
    /// Sessions seeded per session variant (cookies picked uniformly from these).
    pub sessions: usize,
    /// CPU for the server threads (None: no pinning).
    pub server_core: Option<usize>,
    /// CPU for the load generator thread (None: no pinning).
    pub client_core: Option<usize>,
    /// Print progress to stderr.
    pub verbose: bool,
    /// Anything done to the process's scheduling (e.g. `--boost`), for the report.
    pub priority_note: Option<String>,
    /// Extra command-line arguments the run was started with, for the report.
    pub extra_args: Vec<String>,
    /// Requests per command for the `redis-benchmark` GET/SET reference, run once when a
    /// Redis variant is selected (0: do not run it).
    pub redis_benchmark_requests: u64,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            variants: crate::variants::all(),
            rounds: 5,
            warmup: Duration::from_millis(300),
            duration: Duration::from_secs(2),
            connections: 32,
            sessions: 10_000,
            server_core: Some(0),
            client_core: Some(1),
            verbose: true,
            priority_note: None,
            extra_args: Vec::new(),
            redis_benchmark_requests: crate::redis_ref::REQUESTS,
        }
    }
}

impl BenchConfig {
    /// The smoke-run settings: 1 round of 0.5 s.
    pub fn quick() -> Self {
        Self {
            rounds: 1,
            duration: Duration::from_millis(500),
            ..Self::default()
        }
    }
}

/// All measurements of one variant on one route, one entry per round.
#[derive(Debug, Clone)]
pub struct Series {
    /// Variant name.
    pub variant: &'static str,
    /// Route.
    pub route: Route,
    /// One result per round.
    pub rounds: Vec<LoadResult>,
}

/// Results of a whole run.
#[derive(Debug, Clone)]
pub struct BenchResults {
    /// The configuration used.
    pub config: BenchConfig,
    /// Whether the server threads and the generator were pinned as asked.
    pub pinned: bool,
    /// One series per (variant, route), variants in config order, routes in [`Route::ALL`] order.
    pub series: Vec<Series>,
    /// `redis-benchmark` on the Redis the Redis variants use, when any was selected.
    pub redis_reference: Option<RedisReference>,
}

/// Check that a freshly started variant behaves as the benchmark assumes: `/seed` answers 2xx
/// (and issues a cookie if the variant has sessions), `/write` and `/read` answer 2xx, and for
/// session variants two `/write`s give `n = 1` then `n = 2`, and `/read` then gives 2. Like a
/// browser, it sends the cookie the variant set last (stores that keep the state in the
/// cookie set a new one on every write). Returns a description of the first problem found.
pub async fn verify_setup(variant: &Variant, server: &RunningServer) -> anyhow::Result<()> {
    let name = variant.name;
    let mut conn = Conn::connect(server.addr()).await?;
    let seed = conn.request(hyper::Method::POST, "/seed", None).await?;
    anyhow::ensure!(
        seed.status.is_success(),
        "{name}: /seed answered {}",
        seed.status
    );
    let mut cookie = match (&seed.cookie, variant.sessions) {
        (Some(c), true) => HeaderValue::from_str(c)?,
        (None, true) => anyhow::bail!("{name}: /seed issued no session cookie"),
        (_, false) => client::synthetic_cookies(1, 7).remove(0),
    };
    let mut ns = Vec::new();
    for route in [Route::Write, Route::Write, Route::Read] {
        let r = conn
            .request(route.method(), route.path(), Some(&cookie))
            .await?;
        anyhow::ensure!(
            r.status.is_success(),
            "{name}: {} answered {}",
            route.label(),
            r.status
        );
        ns.push(
            r.n().with_context(|| {
                format!("{name}: {} body has no n: {:?}", route.label(), r.body)
            })?,
        );
        if let (Some(c), true) = (&r.cookie, variant.sessions) {
            cookie = HeaderValue::from_str(c)?;
        }
    }
    if variant.sessions {
        anyhow::ensure!(
            ns == [1, 2, 2],
            "{name}: write, write, read gave n = {ns:?}, expected [1, 2, 2]"
        );
    }
    Ok(())
}

/// One exchange for [`show_responses`]: what was sent and what came back.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// `POST /seed`, `POST /write`, ...
    pub request: String,
    /// The reply.
    pub reply: client::Reply,
}

/// `/seed` without a cookie, then `/write` and `/read` with the issued cookie (a synthetic
/// one for variants without sessions): to see exactly what each variant answers.
pub async fn show_responses(
    variant: &Variant,
    server: &RunningServer,
) -> anyhow::Result<Vec<Exchange>> {
    let mut conn = Conn::connect(server.addr()).await?;
    let seed = conn.request(hyper::Method::POST, "/seed", None).await?;
    let cookie = match &seed.cookie {
        Some(c) if variant.sessions => HeaderValue::from_str(c)?,
        _ => client::synthetic_cookies(1, 7).remove(0),
    };
    let mut out = vec![Exchange {
        request: "POST /seed (no cookie)".to_owned(),
        reply: seed,
    }];
    for route in Route::ALL {
        let reply = conn
            .request(route.method(), route.path(), Some(&cookie))
            .await?;
        out.push(Exchange {
            request: format!("{} (cookie)", route.label()),
            reply,
        });
    }
    Ok(out)
}

/// Run the whole benchmark. Blocks; servers run on their own threads, the load generator on a
/// dedicated thread with a current_thread runtime.
pub fn run(config: &BenchConfig) -> anyhow::Result<BenchResults> {
    let server_opts = ServerOptions {
        core: config.server_core,
    };
    // Redis's own ceiling, measured before any server starts (so nothing else of ours runs).
    let redis_reference = (config.redis_benchmark_requests > 0
        && config.variants.iter().any(crate::variants::uses_redis))
    .then(|| {
        let url = crate::variants::actix_session_redis::redis_url();
        let r = redis_ref::run(
            &url,
            config.redis_benchmark_requests,
            config.connections,
            config.client_core,
        );
        if config.verbose {
            match &r.outcome {
                Ok(gs) => eprintln!(
                    "{}: GET {:.0} req/s, SET {:.0} req/s",
                    r.command, gs.get, gs.set
                ),
                Err(e) => eprintln!("warning: no Redis reference: {e}"),
            }
        }
        r
    });
    let mut servers = Vec::with_capacity(config.variants.len());
    for v in &config.variants {
        let s = v
            .start(&server_opts)
            .with_context(|| format!("start {}", v.name))?;
        servers.push(s);
    }
    let servers_pinned = servers.iter().all(RunningServer::pinned);
    let config2 = config.clone();
    let (series, client_pinned) = std::thread::Builder::new()
        .name("loadgen".into())
        .spawn(move || -> anyhow::Result<_> {
            let pinned = config2
                .client_core
                .is_some_and(crate::sys::pin_current_thread);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let series = rt.block_on(drive(&config2, &servers))?;
            drop(servers);
            Ok((series, pinned))
        })?
        .join()
        .map_err(|_| anyhow::anyhow!("load generator thread panicked"))??;
    let asked = config.server_core.is_some() || config.client_core.is_some();
    Ok(BenchResults {
        config: config.clone(),
        pinned: asked && servers_pinned && (config.client_core.is_none() || client_pinned),
        series,
        redis_reference,
    })
}

async fn drive(config: &BenchConfig, servers: &[RunningServer]) -> anyhow::Result<Vec<Series>> {
    let log = |msg: String| {
        if config.verbose {
            eprintln!("{msg}");
        }
    };
    // Verify and seed every variant before measuring anything.
    let mut cookie_sets: Vec<Arc<[HeaderValue]>> = Vec::with_capacity(servers.len());
    for (v, s) in config.variants.iter().zip(servers) {
        verify_setup(v, s).await?;
        let cookies = if v.sessions {
            let t = std::time::Instant::now();
            let c = client::seed(s.addr(), config.sessions, config.connections).await?;
            log(format!(
                "seeded {} sessions on {} in {:.2?}",
                c.len(),
                v.name,
                t.elapsed()
            ));
            c
        } else {
            client::synthetic_cookies(config.sessions, 0x5EED)
        };
        cookie_sets.push(cookies.into());
    }
    let mut series: Vec<Series> = config
        .variants
        .iter()
        .flat_map(|v| {
            Route::ALL.map(|route| Series {
                variant: v.name,
                route,
                rounds: Vec::new(),
            })
        })
        .collect();
    for round in 1..=config.rounds {
        for (vi, (v, s)) in config.variants.iter().zip(servers).enumerate() {
            for (ri, route) in Route::ALL.into_iter().enumerate() {
                let spec = LoadSpec {
                    route,
                    connections: config.connections,
                    warmup: config.warmup,
                    measure: config.duration,
                    seed: (round as u64) << 32 | (vi as u64) << 8 | ri as u64,
                };
                let r = client::run_load(s.addr(), Arc::clone(&cookie_sets[vi]), &spec, s.tid())
                    .await?;
                log(format!(
                    "round {round}/{} {:<24} {:<12} {:>9.0} req/s  409 {}  non-2xx {}  errors {}  cpu srv {} gen {}",
                    config.rounds,
                    v.name,
                    route.label(),
                    r.rps(),
                    r.conflicts,
                    r.non_2xx,
                    r.errors,
                    pct(r.server_cpu),
                    pct(r.client_cpu),
                ));
                series[vi * Route::ALL.len() + ri].rounds.push(r);
            }
        }
    }
    Ok(series)
}

/// `87%` or `?`.
pub fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "?".to_owned(), |x| format!("{:.0}%", x * 100.0))
}
