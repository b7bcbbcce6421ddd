//! The load benchmark: start every variant, seed sessions, run interleaved rounds.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use hyper::header::HeaderValue;

use crate::client::{self, Conn, LoadResult, LoadSpec};
use crate::redis_ref::{self, RedisReference};
use crate::redis_server::RedisServer;
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
    /// The nice value to give the Redis server (its threads and autogroup) for the run when a
    /// Redis variant is selected, restored afterwards: the measured threads' under `--boost`,
    /// so Redis is not starved by them. None: leave Redis's priority alone.
    pub redis_priority: Option<i32>,
    /// Delete each Redis variant's keys (its own prefix or database only) before seeding it.
    pub redis_cleanup: bool,
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
            redis_priority: None,
            redis_cleanup: true,
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
    /// Whether the variant is a Redis variant (its rounds carry Redis's CPU).
    pub redis: bool,
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
    /// What was measured on the Redis itself, when a Redis variant was selected.
    pub redis: Option<RedisRun>,
}

/// The Redis side of a run: how its CPU was read, what was done to its priority, and each
/// Redis variant's memory.
#[derive(Debug, Clone)]
pub struct RedisRun {
    /// Where the Redis server's CPU time came from, for the method list.
    pub cpu_source: String,
    /// What was done to the Redis server's priority, for the scheduling line.
    pub priority: String,
    /// One entry per Redis variant, in table order.
    pub variants: Vec<RedisUse>,
}

/// Redis memory used by one variant's seeded sessions.
#[derive(Debug, Clone)]
pub struct RedisUse {
    /// Variant name.
    pub variant: &'static str,
    /// Keys of this variant left by earlier runs and deleted before seeding (None: no cleanup).
    pub deleted: Option<u64>,
    /// Sessions seeded.
    pub sessions: usize,
    /// `used_memory` just before seeding (after the cleanup and the setup check).
    pub memory_before: u64,
    /// `used_memory` just after seeding.
    pub memory_after: u64,
}

impl RedisUse {
    /// `used_memory` growth per seeded session, in bytes (negative if something else freed
    /// memory meanwhile: the Redis is shared).
    #[allow(clippy::cast_precision_loss)] // byte counts far below 2^52
    pub fn bytes_per_session(&self) -> f64 {
        (self.memory_after as f64 - self.memory_before as f64) / self.sessions.max(1) as f64
    }
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
    let redis_url = crate::variants::actix_session_redis::redis_url();
    let mut redis_server = config
        .variants
        .iter()
        .any(crate::variants::uses_redis)
        .then(|| RedisServer::connect(&redis_url))
        .transpose()
        .context("the Redis variants need the Redis at $SATCHEL_REDIS_URL")?;
    // Held until the run ends: the Redis server at the measured threads' priority.
    let (_priority_guard, priority) = match (&redis_server, config.redis_priority) {
        (None, _) => (None, String::new()),
        (Some(_), None) => (None, "the Redis server at its own priority".to_owned()),
        (Some(r), Some(nice)) => match r.pid() {
            Some(pid) => match crate::redis_priority::raise(pid, nice) {
                Ok(g) => {
                    let note = g.note().to_owned();
                    (Some(g), note)
                }
                Err(e) => {
                    eprintln!("warning: Redis's priority not changed: {e}");
                    (
                        None,
                        format!("the Redis server at its own priority (could not change it: {e})"),
                    )
                }
            },
            None => (
                None,
                format!(
                    "the Redis server at its own priority (not a local process: {})",
                    r.not_local().unwrap_or("unknown")
                ),
            ),
        },
    };
    let cpu_source = redis_server.as_ref().map(RedisServer::describe_cpu);
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
    let ((series, redis_uses), client_pinned) = std::thread::Builder::new()
        .name("loadgen".into())
        .spawn(move || -> anyhow::Result<_> {
            let pinned = config2
                .client_core
                .is_some_and(crate::sys::pin_current_thread);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let measured = rt.block_on(drive(&config2, &servers, redis_server.as_mut()))?;
            drop(servers);
            Ok((measured, pinned))
        })?
        .join()
        .map_err(|_| anyhow::anyhow!("load generator thread panicked"))??;
    let asked = config.server_core.is_some() || config.client_core.is_some();
    Ok(BenchResults {
        config: config.clone(),
        pinned: asked && servers_pinned && (config.client_core.is_none() || client_pinned),
        series,
        redis_reference,
        redis: cpu_source.map(|cpu_source| RedisRun {
            cpu_source,
            priority,
            variants: redis_uses,
        }),
    })
}

/// How long Redis is left alone after the cleanup, before the first seeding: several runs of
/// its cron (10 per second by default), which resizes dicts and rehashes them step by step.
const REDIS_SETTLE: Duration = Duration::from_secs(1);

/// Verify, clean up, seed and measure every variant; returns the series and, for the Redis
/// variants, their Redis memory.
async fn drive(
    config: &BenchConfig,
    servers: &[RunningServer],
    mut redis: Option<&mut RedisServer>,
) -> anyhow::Result<(Vec<Series>, Vec<RedisUse>)> {
    let log = |msg: String| {
        if config.verbose {
            eprintln!("{msg}");
        }
    };
    // Verify and seed every variant before measuring anything.
    let redis_url = crate::variants::actix_session_redis::redis_url();
    let mut cookie_sets: Vec<Arc<[HeaderValue]>> = Vec::with_capacity(servers.len());
    let mut redis_uses = Vec::new();
    // Every Redis variant's old keys first, then a pause: Redis's cron shrinks and rehashes
    // the dicts the deletes emptied, which would otherwise free memory in the middle of a
    // variant's seeding and understate its memory per session.
    let mut deleted = Vec::with_capacity(config.variants.len());
    for v in &config.variants {
        deleted.push(match v.redis {
            Some(keys) if config.redis_cleanup => Some(
                crate::redis_keys::delete_all(&redis_url, &keys)
                    .with_context(|| format!("{}: delete its old keys", v.name))?,
            ),
            _ => None,
        });
    }
    if deleted.iter().flatten().any(|&n| n > 0) {
        tokio::time::sleep(REDIS_SETTLE).await;
    }
    for ((v, s), deleted) in config.variants.iter().zip(servers).zip(deleted) {
        verify_setup(v, s).await?;
        let mut used_memory = || -> anyhow::Result<Option<u64>> {
            match (v.redis, redis.as_deref_mut()) {
                (Some(_), Some(r)) => Ok(Some(r.used_memory()?)),
                _ => Ok(None),
            }
        };
        let memory_before = used_memory()?;
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
        if let (Some(before), Some(after)) = (memory_before, used_memory()?) {
            redis_uses.push(RedisUse {
                variant: v.name,
                deleted,
                sessions: cookies.len(),
                memory_before: before,
                memory_after: after,
            });
        }
        if v.redis.is_some_and(|k| k.read_before_measuring) {
            client::read_each(s.addr(), &cookies, config.connections).await?;
            log(format!("read every session once on {}", v.name));
        }
        cookie_sets.push(cookies.into());
    }
    let mut series: Vec<Series> = config
        .variants
        .iter()
        .flat_map(|v| {
            Route::ALL.map(|route| Series {
                variant: v.name,
                route,
                redis: crate::variants::uses_redis(v),
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
                let mut redis_clock = redis
                    .as_deref_mut()
                    .filter(|_| crate::variants::uses_redis(v))
                    .map(|r| move || r.cpu_time());
                let r = client::run_load(
                    s.addr(),
                    Arc::clone(&cookie_sets[vi]),
                    &spec,
                    s.tid(),
                    redis_clock
                        .as_mut()
                        .map(|c| c as &mut dyn FnMut() -> Option<Duration>),
                    &|| s.cache_counts(),
                )
                .await?;
                log(format!(
                    "round {round}/{} {:<24} {:<12} {:>9.0} req/s  409 {}  non-2xx {}  errors {}  cpu srv {} gen {} redis {}",
                    config.rounds,
                    v.name,
                    route.label(),
                    r.rps(),
                    r.conflicts,
                    r.non_2xx,
                    r.errors,
                    pct(r.server_cpu),
                    pct(r.client_cpu),
                    pct(r.redis_cpu),
                ));
                series[vi * Route::ALL.len() + ri].rounds.push(r);
            }
        }
    }
    Ok((series, redis_uses))
}

/// `87%` or `?`.
pub fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "?".to_owned(), |x| format!("{:.0}%", x * 100.0))
}
