//! Resident memory per session in satchel's `MemoryStore` and tower-sessions' `MemoryStore`.
//!
//! Each measurement runs in a fresh child process (this binary re-executed with `--child`),
//! so memory freed by one store cannot be reused by the next and skew its number. The child
//! reads RSS (`/proc/self/statm`) after building an empty store, then creates sessions holding
//! `{"user": "user<i>", "n": <i>}` directly through the store API and reads RSS again at each
//! checkpoint. Bytes/session = RSS growth / sessions. `satchel-owned` holds the same
//! sessions logged in: `user<i>` is the session's owner (kept in the per-owner index that
//! also protects it from eviction) and the data is `{"n": <i>}`.
//!
//! `cargo run -p satchel-bench --release --bin memsize [-- --sessions 1000000]`

use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Memory per session of in-memory session stores")]
struct Args {
    /// Sessions to create in satchel's MemoryStore (also reported at 100,000 if larger).
    #[arg(long, default_value_t = 1_000_000)]
    sessions: usize,
    /// Sessions to create in tower-sessions' MemoryStore.
    #[arg(long, default_value_t = 100_000)]
    tower_sessions: usize,
    /// Internal: run one measurement in this process (`satchel` or `tower-sessions`).
    #[arg(long, hide = true)]
    child: Option<String>,
    /// Internal: checkpoints for --child, comma-separated.
    #[arg(long, hide = true)]
    checkpoints: Option<String>,
}

/// One checkpoint measured in a child.
#[derive(Debug, Clone)]
struct Point {
    sessions: usize,
    rss_growth: u64,
    secs: f64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(store) = &args.child {
        let checkpoints: Vec<usize> = args
            .checkpoints
            .as_deref()
            .context("--checkpoints required with --child")?
            .split(',')
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        return child(store, &checkpoints);
    }

    let page = satchel_bench::sys::page_size();
    let mut rows: Vec<(&str, Point)> = Vec::new();
    let mut satchel_points = vec![args.sessions];
    if args.sessions > 100_000 {
        satchel_points.insert(0, 100_000);
    }
    for (store, points) in [
        ("satchel", satchel_points.clone()),
        ("satchel-owned", satchel_points),
        ("tower-sessions", vec![args.tower_sessions]),
    ] {
        eprintln!("measuring {store} MemoryStore at {points:?} sessions ...");
        for p in run_child(store, &points)? {
            rows.push((store, p));
        }
    }
    let data_bytes = avg_json_len(args.sessions);
    println!("\n# MemoryStore memory per session\n");
    println!(
        "Each session holds `{{\"user\": \"user<i>\", \"n\": <i>}}` (about {data_bytes:.0} bytes as JSON), created \
         through the store API in a fresh process; RSS from /proc/self/statm (page size {page} B), \
         {} logical CPUs, {}.\n",
        satchel_bench::sys::nproc(),
        satchel_bench::sys::cpu_model()
    );
    println!("| store | sessions | RSS growth | bytes/session | × JSON size | create time |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (store, p) in &rows {
        let per = p.rss_growth as f64 / p.sessions as f64;
        println!(
            "| {store} MemoryStore | {} | {:.1} MiB | {per:.0} | {:.1}× | {:.2} s |",
            satchel_bench::report::thousands(p.sessions as f64),
            p.rss_growth as f64 / (1024.0 * 1024.0),
            per / data_bytes,
            p.secs
        );
    }
    Ok(())
}

/// Average length of the stored data as compact JSON over the first `n` sessions.
fn avg_json_len(n: usize) -> f64 {
    let n = n.clamp(1, 100_000);
    let total: usize = (0..n)
        .map(|i| {
            serde_json::json!({"user": format!("user{i}"), "n": i})
                .to_string()
                .len()
        })
        .sum();
    total as f64 / n as f64
}

fn run_child(store: &str, points: &[usize]) -> anyhow::Result<Vec<Point>> {
    let exe = std::env::current_exe()?;
    let list: Vec<String> = points.iter().map(ToString::to_string).collect();
    let out = Command::new(exe)
        .args(["--child", store, "--checkpoints", &list.join(",")])
        .output()
        .context("run child")?;
    anyhow::ensure!(
        out.status.success(),
        "child for {store} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)?
        .lines()
        .filter_map(|l| l.strip_prefix("POINT "))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            anyhow::ensure!(f.len() == 3, "bad child line {l:?}");
            Ok(Point {
                sessions: f[0].parse()?,
                rss_growth: f[1].parse()?,
                secs: f[2].parse()?,
            })
        })
        .collect()
}

/// Runs in the child: build an empty store, then create sessions up to each checkpoint and
/// print `POINT <sessions> <rss growth bytes> <seconds>`.
fn child(store: &str, checkpoints: &[usize]) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match store {
            "satchel" => measure(checkpoints, satchel_store::Filler::new(false)).await,
            "satchel-owned" => measure(checkpoints, satchel_store::Filler::new(true)).await,
            "tower-sessions" => measure(checkpoints, tower_store::Filler::new()).await,
            other => anyhow::bail!("unknown store {other:?}"),
        }
    })
}

/// A store being filled, one session at a time.
trait Fill {
    /// Create session number `i` holding `{"user": "user<i>", "n": i}`.
    async fn create(&mut self, i: usize) -> anyhow::Result<()>;
}

async fn measure(checkpoints: &[usize], mut filler: impl Fill) -> anyhow::Result<()> {
    // Warm up the code paths (and the allocator) with one session that stays, then take the
    // baseline; the error of one session is negligible.
    filler.create(usize::MAX).await?;
    let rss0 = satchel_bench::sys::rss_bytes().context("read /proc/self/statm")?;
    let start = Instant::now();
    let mut done = 0;
    for &cp in checkpoints {
        while done < cp {
            filler.create(done).await?;
            done += 1;
        }
        let rss = satchel_bench::sys::rss_bytes().context("read /proc/self/statm")?;
        println!(
            "POINT {cp} {} {:.3}",
            rss.saturating_sub(rss0),
            start.elapsed().as_secs_f64()
        );
    }
    // Keep the store alive until every checkpoint is measured.
    drop(filler);
    Ok(())
}

mod tower_store {
    use std::collections::HashMap;

    use tower_sessions::cookie::time::{Duration, OffsetDateTime};
    use tower_sessions::session::{Id, Record};
    use tower_sessions::session_store::SessionStore as _;
    use tower_sessions::MemoryStore;

    pub(crate) struct Filler {
        store: MemoryStore,
        expiry: OffsetDateTime,
    }

    impl Filler {
        pub(crate) fn new() -> Self {
            Self {
                store: MemoryStore::default(),
                expiry: OffsetDateTime::now_utc() + Duration::minutes(30),
            }
        }
    }

    impl super::Fill for Filler {
        async fn create(&mut self, i: usize) -> anyhow::Result<()> {
            let mut data = HashMap::with_capacity(2);
            data.insert("user".to_owned(), serde_json::json!(format!("user{i}")));
            data.insert("n".to_owned(), serde_json::json!(i));
            let mut record = Record {
                id: Id::default(),
                data,
                expiry_date: self.expiry,
            };
            self.store
                .create(&mut record)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(())
        }
    }
}

mod satchel_store {
    use std::time::Duration;

    use satchel::{
        Data, MemoryStore, Meta, Record, SessionId, SessionStore as _, Timestamp, Value,
        WriteOutcome,
    };

    pub(crate) struct Filler {
        store: MemoryStore,
        now: Timestamp,
        /// Whether `user<i>` is the owner rather than a data key.
        owned: bool,
    }

    impl Filler {
        pub(crate) fn new(owned: bool) -> Self {
            // Room for the largest run; the store must not evict while we count.
            Self {
                store: MemoryStore::builder().max_sessions(usize::MAX / 2).build(),
                now: Timestamp::now(),
                owned,
            }
        }
    }

    impl super::Fill for Filler {
        async fn create(&mut self, i: usize) -> anyhow::Result<()> {
            let key = SessionId::generate().store_key();
            let mut data = Data::new();
            if !self.owned {
                data.insert(
                    "user".to_owned(),
                    Value::from_serialize(&format!("user{i}"))?,
                );
            }
            data.insert("n".to_owned(), Value::from_serialize(&i)?);
            let mut meta = Meta::new(
                self.now,
                Duration::from_secs(30 * 60),
                Duration::from_secs(24 * 3600),
            );
            if self.owned {
                meta.owner = Some(format!("user{i}"));
            }
            let record = Record { data, meta };
            match self.store.create(&key, &record, self.now).await? {
                WriteOutcome::Applied(_) => Ok(()),
                other => anyhow::bail!("create returned {other:?}"),
            }
        }
    }
}
