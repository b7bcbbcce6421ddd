//! One fault, run under load: start the store, the app and the clients, inject the fault
//! `cycles` times (one at a time), wait for recovery, check the ledger, make the row.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use satchel_redis::{RedisConfig, RedisStore, WaitForReplicas};
use satchel_sql::{SqlOptions, SqlStore};

use super::load::{Load, LoadConfig};
use super::procs::cluster::ClusterSet;
use super::procs::redis::RedisNode;
use super::procs::sentinel::SentinelSet;
use super::procs::sql::{MariaServer, PgServer};
use super::procs::{self, Scratch};
use super::report::{self, Cycle, Row};

/// Every fault the harness injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `kill -9` of standalone Redis without persistence, restart on the same port.
    RedisKill,
    /// The same with `appendonly yes` + `appendfsync always`.
    RedisKillAof,
    /// SIGSTOP of standalone Redis for longer than the command timeout, then SIGCONT.
    RedisStop,
    /// `kill -9` of PostgreSQL (postmaster and backends), restart on the same port.
    PostgresKill,
    /// SIGSTOP of PostgreSQL (every process), then SIGCONT.
    PostgresStop,
    /// `kill -9` of MariaDB, restart on the same port.
    MariadbKill,
    /// SIGSTOP of MariaDB, then SIGCONT.
    MariadbStop,
    /// `SENTINEL FAILOVER`.
    SentinelFailover,
    /// The same with `RedisConfig::wait_for_replicas` (1 replica, 200 ms).
    SentinelFailoverWait,
    /// `SENTINEL FAILOVER` with the server-side guard [`GUARD`] on both data nodes.
    SentinelFailoverGuard,
    /// The guard and `RedisConfig::wait_for_replicas` (1 replica, 200 ms).
    SentinelFailoverGuardWait,
    /// `kill -9` of the Sentinel-managed primary (restarted afterwards as a replica).
    SentinelKillPrimary,
    /// The same with `RedisConfig::wait_for_replicas` (1 replica, 200 ms).
    SentinelKillPrimaryWait,
    /// The primary `kill -9` with [`GUARD`] and `wait_for_replicas` (1 replica, 200 ms).
    SentinelKillPrimaryGuardWait,
    /// `kill -9` of a Cluster primary; its replica is promoted.
    ClusterKillPrimary,
    /// `redis-cli --cluster reshard` of 2,000 slots under load.
    ClusterReshard,
}

impl Fault {
    /// Every fault, in campaign order.
    pub const ALL: [Fault; 16] = [
        Fault::RedisKill,
        Fault::RedisKillAof,
        Fault::RedisStop,
        Fault::PostgresKill,
        Fault::PostgresStop,
        Fault::MariadbKill,
        Fault::MariadbStop,
        Fault::SentinelFailover,
        Fault::SentinelFailoverWait,
        Fault::SentinelFailoverGuard,
        Fault::SentinelFailoverGuardWait,
        Fault::SentinelKillPrimary,
        Fault::SentinelKillPrimaryWait,
        Fault::SentinelKillPrimaryGuardWait,
        Fault::ClusterKillPrimary,
        Fault::ClusterReshard,
    ];

    /// Its command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Fault::RedisKill => "redis-kill",
            Fault::RedisKillAof => "redis-kill-aof",
            Fault::RedisStop => "redis-stop",
            Fault::PostgresKill => "postgres-kill",
            Fault::PostgresStop => "postgres-stop",
            Fault::MariadbKill => "mariadb-kill",
            Fault::MariadbStop => "mariadb-stop",
            Fault::SentinelFailover => "sentinel-failover",
            Fault::SentinelFailoverWait => "sentinel-failover-wait",
            Fault::SentinelFailoverGuard => "sentinel-failover-guard",
            Fault::SentinelFailoverGuardWait => "sentinel-failover-guard-wait",
            Fault::SentinelKillPrimary => "sentinel-kill-primary",
            Fault::SentinelKillPrimaryWait => "sentinel-kill-primary-wait",
            Fault::SentinelKillPrimaryGuardWait => "sentinel-kill-primary-guard-wait",
            Fault::ClusterKillPrimary => "cluster-kill-primary",
            Fault::ClusterReshard => "cluster-reshard",
        }
    }

    /// The fault named `name`.
    pub fn parse(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == name)
    }

    /// What the row calls the fault.
    fn describe(self, p: &Params) -> String {
        let hold = p.hold.as_secs_f64();
        match self {
            Fault::RedisKill | Fault::RedisKillAof => {
                format!("Redis `kill -9`, restarted after {hold:.0} s")
            }
            Fault::RedisStop => format!("Redis SIGSTOP {hold:.0} s, SIGCONT"),
            Fault::PostgresKill => {
                format!("PostgreSQL `kill -9` (all processes), restarted after {hold:.0} s")
            }
            Fault::PostgresStop => {
                format!("PostgreSQL SIGSTOP {hold:.0} s (all processes), SIGCONT")
            }
            Fault::MariadbKill => format!("MariaDB `kill -9`, restarted after {hold:.0} s"),
            Fault::MariadbStop => format!("MariaDB SIGSTOP {hold:.0} s, SIGCONT"),
            Fault::SentinelFailover
            | Fault::SentinelFailoverWait
            | Fault::SentinelFailoverGuard
            | Fault::SentinelFailoverGuardWait => "`SENTINEL FAILOVER`".to_owned(),
            Fault::SentinelKillPrimary
            | Fault::SentinelKillPrimaryWait
            | Fault::SentinelKillPrimaryGuardWait => {
                "Sentinel primary `kill -9` (replica promoted)".to_owned()
            }
            Fault::ClusterKillPrimary => "Cluster primary `kill -9` (replica promoted)".to_owned(),
            Fault::ClusterReshard => {
                "Cluster `redis-cli --cluster reshard` of 2,000 slots".to_owned()
            }
        }
    }

    /// What the row calls the store configuration.
    fn config(self, p: &Params) -> String {
        let t = p.timeout.as_millis();
        match self {
            Fault::RedisKill => format!("standalone, no persistence; command timeout {t} ms"),
            Fault::RedisKillAof => format!("standalone, `appendonly yes`, `appendfsync always`; command timeout {t} ms"),
            Fault::RedisStop => format!("standalone; command timeout {t} ms"),
            Fault::PostgresKill | Fault::PostgresStop => format!("PostgreSQL, fsync on, synchronous_commit on; pool 10, acquire and statement timeout {t} ms"),
            Fault::MariadbKill | Fault::MariadbStop => format!("MariaDB, innodb_flush_log_at_trx_commit=1; pool 10, acquire and statement timeout {t} ms"),
            Fault::SentinelFailover | Fault::SentinelKillPrimary => format!("primary + 1 replica, 3 sentinels, down-after 1 s; no `wait_for_replicas`; command timeout {t} ms"),
            Fault::SentinelFailoverWait | Fault::SentinelKillPrimaryWait => format!("primary + 1 replica, 3 sentinels, down-after 1 s; `wait_for_replicas` 1 replica / 200 ms; command timeout {t} ms"),
            Fault::SentinelFailoverGuard => format!("primary + 1 replica, 3 sentinels, down-after 1 s; `min-replicas-to-write 1`, `min-replicas-max-lag 2`; no `wait_for_replicas`; command timeout {t} ms"),
            Fault::SentinelFailoverGuardWait | Fault::SentinelKillPrimaryGuardWait => format!("primary + 1 replica, 3 sentinels, down-after 1 s; `min-replicas-to-write 1`, `min-replicas-max-lag 2`; `wait_for_replicas` 1 replica / 200 ms; command timeout {t} ms"),
            Fault::ClusterKillPrimary | Fault::ClusterReshard => format!("3 primaries + 1 replica each, node timeout 2 s; command timeout {t} ms"),
        }
    }
}

/// How long and how hard.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// The clients.
    pub load: LoadConfig,
    /// Faults injected, one after the other.
    pub cycles: usize,
    /// Load before the first fault.
    pub warmup: Duration,
    /// How long a killed store stays down, or a stopped one stopped.
    pub hold: Duration,
    /// Load after recovery, before the next cycle or the end.
    pub settle: Duration,
    /// Store command/statement timeout.
    pub timeout: Duration,
    /// How long after the store is back the harness waits for the app to recover.
    pub recover_within: Duration,
}

impl Params {
    /// The quick version (CI): one cycle, 8 clients.
    pub fn quick() -> Self {
        Self {
            load: LoadConfig {
                clients: 8,
                think: Duration::from_millis(10),
                logout_every: 25,
            },
            cycles: 1,
            warmup: Duration::from_secs(1),
            hold: Duration::from_secs(2),
            settle: Duration::from_secs(1),
            timeout: Duration::from_millis(500),
            recover_within: Duration::from_secs(60),
        }
    }

    /// The full campaign: three cycles, 32 clients.
    pub fn full() -> Self {
        Self {
            load: LoadConfig {
                clients: 32,
                think: Duration::from_millis(10),
                logout_every: 40,
            },
            cycles: 3,
            warmup: Duration::from_secs(3),
            hold: Duration::from_secs(3),
            settle: Duration::from_secs(3),
            timeout: Duration::from_millis(500),
            recover_within: Duration::from_secs(60),
        }
    }

    /// Requests slower than this hung: a request makes at most two store calls (load,
    /// then write), each bounded by the timeout, plus one second of slack for a busy
    /// machine.
    pub fn hang_limit(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(1)
    }
}

/// The server-side guard of the `*-guard*` faults, on both data nodes: a primary refuses
/// writes (`NOREPLICAS`) while fewer than one replica has acknowledged within 2 s, so the
/// old primary of a failover stops taking writes as soon as its replica is promoted
/// (the replica drops the link). Lag 2 s, not 1: replicas acknowledge once a second, and
/// on a loaded machine 1 s would refuse writes with the replica healthy.
pub const GUARD: [&str; 4] = [
    "--min-replicas-to-write",
    "1",
    "--min-replicas-max-lag",
    "2",
];

static PANICS: AtomicU64 = AtomicU64::new(0);
static HOOK: std::sync::Once = std::sync::Once::new();

/// Counts panics anywhere in the process (the app runs in it), keeping the default
/// report.
fn install_panic_counter() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::Relaxed);
            previous(info);
        }));
    });
}

/// The stores a fault needs, kept alive for the run.
enum Stores {
    Redis(RedisNode),
    Postgres(PgServer),
    Mariadb(MariaServer),
    Sentinel(SentinelSet),
    Cluster(ClusterSet),
}

fn redis_config(p: &Params, prefix: &str, wait: Option<WaitForReplicas>) -> RedisConfig {
    RedisConfig {
        connect_timeout: p.timeout,
        command_timeout: p.timeout,
        wait_for_replicas: wait,
        ..RedisConfig::with_prefix(prefix)
    }
}

fn sql_options(p: &Params) -> SqlOptions {
    SqlOptions::default()
        .with_max_connections(10)
        .with_acquire_timeout(p.timeout)
        .with_statement_timeout(p.timeout)
}

/// Runs `fault` with `p` and returns its row. Every process it starts is gone when it
/// returns.
pub fn run(fault: Fault, p: &Params) -> anyhow::Result<Row> {
    install_panic_counter();
    let scratch = Scratch::new(fault.name())?;
    let dir = scratch.path().to_path_buf();
    let mut stores = match fault {
        Fault::RedisKill | Fault::RedisStop => Stores::Redis(RedisNode::start(
            procs::free_port()?,
            dir.join("redis"),
            &[],
        )?),
        Fault::RedisKillAof => Stores::Redis(RedisNode::start(
            procs::free_port()?,
            dir.join("redis"),
            &["--appendonly", "yes", "--appendfsync", "always"],
        )?),
        Fault::PostgresKill | Fault::PostgresStop => {
            Stores::Postgres(PgServer::start(dir.join("pg"))?)
        }
        Fault::MariadbKill | Fault::MariadbStop => {
            Stores::Mariadb(MariaServer::start(dir.join("mariadb"))?)
        }
        Fault::SentinelFailover
        | Fault::SentinelFailoverWait
        | Fault::SentinelKillPrimary
        | Fault::SentinelKillPrimaryWait => Stores::Sentinel(SentinelSet::start(&dir)?),
        Fault::SentinelFailoverGuard
        | Fault::SentinelFailoverGuardWait
        | Fault::SentinelKillPrimaryGuardWait => {
            Stores::Sentinel(SentinelSet::start_with(&dir, &GUARD)?)
        }
        Fault::ClusterKillPrimary | Fault::ClusterReshard => {
            Stores::Cluster(ClusterSet::start(&dir)?)
        }
    };
    let url = match &stores {
        Stores::Redis(n) => n.url(),
        Stores::Postgres(s) => s.url(),
        Stores::Mariadb(s) => s.url(),
        Stores::Sentinel(s) => s.url(),
        Stores::Cluster(s) => s.url(),
    };
    let prefix = format!("faults:{}:", fault.name());
    let wait = matches!(
        fault,
        Fault::SentinelKillPrimaryWait
            | Fault::SentinelFailoverWait
            | Fault::SentinelFailoverGuardWait
            | Fault::SentinelKillPrimaryGuardWait
    )
    .then(|| WaitForReplicas::new(1, Duration::from_millis(200)));
    let params = *p;
    let app = match &stores {
        Stores::Postgres(_) | Stores::Mariadb(_) => {
            let url = url.clone();
            super::app::spawn(
                move || async move {
                    let store = SqlStore::connect(&url, sql_options(&params)).await?;
                    store.migrate().await?;
                    Ok(store)
                },
                None,
            )?
        }
        _ => {
            let url = url.clone();
            super::app::spawn(
                move || async move {
                    RedisStore::connect(&url, redis_config(&params, &prefix, wait))
                        .await
                        .with_context(|| format!("connect to {url}"))
                },
                None,
            )?
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let panics_before = PANICS.load(Ordering::Relaxed);
    let load = {
        let _enter = rt.enter();
        Load::start(app.addr(), p.load, fault.name())
    };
    std::thread::sleep(p.warmup);
    let mut cycles = Vec::new();
    let mut recovered = true;
    for _ in 0..p.cycles {
        let inject = load.start.elapsed();
        inject_fault(fault, &mut stores, p)?;
        let back = load.start.elapsed();
        cycles.push(Cycle { inject, back });
        restart_killed(fault, &mut stores)?;
        recovered &= wait_recovered(&load, back, p.recover_within);
        std::thread::sleep(p.settle);
        wait_full_strength(fault, &stores)?;
    }
    let end = load.start.elapsed();
    let samples = load.rec.clone();
    let ledger = rt.block_on(load.finish());
    let samples = samples.samples();
    let panics = PANICS.load(Ordering::Relaxed) - panics_before;
    drop(app);
    drop(rt);
    drop(stores);
    Ok(report::row(
        &fault.describe(p),
        &fault.config(p),
        p.load.clients,
        &samples,
        &cycles,
        end,
        recovered,
        p.hang_limit(),
        panics,
        ledger,
    ))
}

/// Injects one fault and returns when the store is back (restarted and answering,
/// continued, failed over, resharded).
fn inject_fault(fault: Fault, stores: &mut Stores, p: &Params) -> anyhow::Result<()> {
    match (fault, stores) {
        (Fault::RedisKill | Fault::RedisKillAof, Stores::Redis(n)) => {
            n.kill9()?;
            std::thread::sleep(p.hold);
            n.restart()?;
        }
        (Fault::RedisStop, Stores::Redis(n)) => {
            n.stop()?;
            std::thread::sleep(p.hold);
            n.cont()?;
        }
        (Fault::PostgresKill, Stores::Postgres(s)) => {
            s.kill9()?;
            std::thread::sleep(p.hold);
            s.restart()?;
        }
        (Fault::PostgresStop, Stores::Postgres(s)) => {
            let pids = s.stop()?;
            std::thread::sleep(p.hold);
            for pid in pids {
                let _ = procs::cont(pid);
            }
        }
        (Fault::MariadbKill, Stores::Mariadb(s)) => {
            s.kill9()?;
            std::thread::sleep(p.hold);
            s.restart()?;
        }
        (Fault::MariadbStop, Stores::Mariadb(s)) => {
            let pids = s.stop()?;
            std::thread::sleep(p.hold);
            for pid in pids {
                procs::cont(pid)?;
            }
        }
        (
            Fault::SentinelFailover
            | Fault::SentinelFailoverWait
            | Fault::SentinelFailoverGuard
            | Fault::SentinelFailoverGuardWait,
            Stores::Sentinel(s),
        ) => {
            s.failover(Duration::from_secs(30))?;
        }
        (
            Fault::SentinelKillPrimary
            | Fault::SentinelKillPrimaryWait
            | Fault::SentinelKillPrimaryGuardWait,
            Stores::Sentinel(s),
        ) => {
            let old = s.primary_port().context("no primary")?;
            s.node_mut(old)?.kill9()?;
            s.wait_new_primary(old, Duration::from_secs(30))?;
        }
        (Fault::ClusterKillPrimary, Stores::Cluster(c)) => {
            let victim = c.primaries().into_iter().next().context("no primary")?;
            c.node_mut(victim.port)?.kill9()?;
            anyhow::ensure!(
                procs::wait_until(Duration::from_secs(30), || c.promoted(&victim.id)),
                "no replica took over the killed primary's slots"
            );
        }
        (Fault::ClusterReshard, Stores::Cluster(c)) => {
            // From the primary with the most slots to the one with the fewest, so that
            // every cycle has 2,000 slots to move and no primary is left empty.
            let mut primaries = c.primaries();
            anyhow::ensure!(primaries.len() >= 2, "fewer than two primaries");
            primaries.sort_by_key(|p| p.slots);
            let (to, from) = (&primaries[0], &primaries[primaries.len() - 1]);
            c.reshard(&from.id, &to.id, 2000)?;
        }
        _ => anyhow::bail!("fault {fault:?} does not match its stores"),
    }
    Ok(())
}

/// Right after the store is back: restart a node the fault killed (it rejoins as a
/// replica), as an operator or a supervisor would.
fn restart_killed(fault: Fault, stores: &mut Stores) -> anyhow::Result<()> {
    let nodes = match (fault, stores) {
        (
            Fault::SentinelKillPrimary
            | Fault::SentinelKillPrimaryWait
            | Fault::SentinelKillPrimaryGuardWait,
            Stores::Sentinel(s),
        ) => &mut s.data,
        (Fault::ClusterKillPrimary, Stores::Cluster(c)) => &mut c.nodes,
        _ => return Ok(()),
    };
    for n in nodes.iter_mut().filter(|n| n.pid().is_none()) {
        n.restart()?;
    }
    Ok(())
}

/// Before the next cycle: wait until the topology is back to full strength (replicas in
/// sync, the sentinels agreed, every slot covered).
fn wait_full_strength(fault: Fault, stores: &Stores) -> anyhow::Result<()> {
    match (fault, stores) {
        (_, Stores::Sentinel(s)) => s.wait_healthy(Duration::from_secs(60)),
        (_, Stores::Cluster(c)) => c.wait_healthy(Duration::from_secs(60)),
        _ => Ok(()),
    }
}

/// Waits until no request has failed for 2 s after `back` and one has succeeded since.
fn wait_recovered(load: &Load, back: Duration, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        let now = load.start.elapsed();
        let samples = load.rec.samples();
        let last_fail = report::failure_span(&samples, back.saturating_sub(within), now)
            .map_or(back, |(_, last)| last.max(back));
        let ok_after = samples
            .iter()
            .any(|s| s.at > last_fail && (200..300).contains(&s.status));
        if ok_after && now.saturating_sub(last_fail) >= Duration::from_secs(2) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
