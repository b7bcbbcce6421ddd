//! Load benchmark: satchel vs. peer session libraries over HTTP/1.1 on loopback.
//!
//! `cargo run -p satchel-bench --release --bin loadbench` runs every variant and writes
//! `docs/benchmarks.md`; `--quick` is a smoke run that writes nothing unless `--out` is given.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use satchel_bench::{harness, report, variants, BenchConfig};

#[derive(Debug, Parser)]
#[command(about = "HTTP/1.1 load benchmark of session layers (satchel vs. peers)")]
struct Args {
    /// Interleaved rounds.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Seconds measured per (round, variant, route).
    #[arg(long, default_value_t = 2.0)]
    duration: f64,
    /// Seconds of warm-up before each measurement.
    #[arg(long, default_value_t = 0.3)]
    warmup: f64,
    /// Keep-alive connections of the load generator.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Sessions seeded per session variant.
    #[arg(long, default_value_t = 10_000)]
    sessions: usize,
    /// Comma-separated subset of variants (default: all); `redis` selects every Redis variant.
    #[arg(long)]
    variants: Option<String>,
    /// Smoke run: 1 round of 0.5 s (overrides --rounds/--duration); writes no report unless --out.
    #[arg(long)]
    quick: bool,
    /// CPU for the server threads.
    #[arg(long, default_value_t = 0)]
    server_core: usize,
    /// CPU for the load generator.
    #[arg(long, default_value_t = 1)]
    client_core: usize,
    /// Do not pin threads to CPUs.
    #[arg(long)]
    no_pin: bool,
    /// Where to write the report (default: docs/benchmarks.md at the workspace root).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print only; do not write the report.
    #[arg(long)]
    no_write: bool,
    /// Requests per command for the `redis-benchmark` GET/SET reference, run once on the
    /// Redis at $SATCHEL_REDIS_URL (database 15) when a Redis variant is selected; 0: skip it.
    #[arg(long, default_value_t = satchel_bench::redis_ref::REQUESTS)]
    redis_benchmark_requests: u64,
    /// List the variants and exit.
    #[arg(long)]
    list: bool,
    /// Print one seed/write/read exchange per variant (status, headers, body) and exit.
    #[arg(long)]
    show_responses: bool,
    /// Less noise on a shared machine: re-run in a new session (so a new scheduler
    /// autogroup) at nice -10 and raise that autogroup to -10, so concurrent builds in other
    /// sessions take less CPU from the measured threads. Needs root; recorded in the report.
    #[arg(long)]
    boost: bool,
    /// With --boost, leave the Redis server at its own priority. By default a boosted run gives
    /// the Redis server (every thread, and its autogroup) the measured threads' nice -10 for
    /// the run and restores it afterwards, so Redis work is not turned into queueing for the
    /// Redis variants only. Recorded in the report either way.
    #[arg(long)]
    redis_nice_unchanged: bool,
}

fn show_responses(args: &Args) -> anyhow::Result<()> {
    let selected = match &args.variants {
        Some(names) => variants::select(names)?,
        None => variants::all(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for v in selected {
        let server = v.start(&satchel_bench::server::ServerOptions::default())?;
        println!("## {}", v.name);
        for ex in rt.block_on(harness::show_responses(&v, &server))? {
            println!("> {}\n< {}", ex.request, ex.reply.status);
            for (name, value) in &ex.reply.headers {
                println!("< {name}: {}", String::from_utf8_lossy(value.as_bytes()));
            }
            println!("< {}\n", String::from_utf8_lossy(&ex.reply.body));
        }
    }
    Ok(())
}

const BOOST_ENV: &str = "SATCHEL_LOADBENCH_BOOSTED";
const BOOST_NICE: i32 = -10;

/// With `--boost`, run this same command again under `setsid -w nice -n -10` and exit with
/// its status. Returns `Ok(None)` when this process is the one that should run the benchmark.
fn reexec_boosted() -> anyhow::Result<Option<i32>> {
    let exe = std::env::current_exe()?;
    let status = std::process::Command::new("setsid")
        .arg("-w")
        .arg("nice")
        .arg("-n")
        .arg(BOOST_NICE.to_string())
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(BOOST_ENV, "1")
        .status()
        .map_err(|e| {
            anyhow::anyhow!("--boost needs `setsid` and `nice` (util-linux, coreutils): {e}")
        })?;
    Ok(Some(status.code().unwrap_or(1)))
}

/// In the boosted child: raise this session's autogroup weight. Returns a note for the report.
fn boost_autogroup() -> String {
    let thread_nice = format!("threads at nice {BOOST_NICE}");
    match std::fs::write("/proc/self/autogroup", BOOST_NICE.to_string()) {
        Ok(()) => {
            format!("priority boost: own scheduler autogroup at nice {BOOST_NICE}, {thread_nice}")
        }
        Err(e) => {
            eprintln!("warning: could not set /proc/self/autogroup ({e}); only {thread_nice}");
            format!("priority boost: {thread_nice} (autogroup not changed)")
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let boosted = args.boost && std::env::var_os(BOOST_ENV).is_some();
    if args.boost && !boosted && !args.list {
        if let Some(code) = reexec_boosted()? {
            std::process::exit(code);
        }
    }
    if args.show_responses {
        return show_responses(&args);
    }
    if args.list {
        for v in variants::all() {
            println!("{:<24} {}", v.name, v.summary);
        }
        return Ok(());
    }
    anyhow::ensure!(
        args.duration > 0.0 && args.warmup >= 0.0,
        "durations must be positive"
    );
    anyhow::ensure!(
        args.rounds > 0 && args.connections > 0 && args.sessions > 0,
        "counts must be positive"
    );
    let mut config = if args.quick {
        BenchConfig::quick()
    } else {
        BenchConfig {
            rounds: args.rounds,
            duration: Duration::from_secs_f64(args.duration),
            ..BenchConfig::default()
        }
    };
    config.warmup = Duration::from_secs_f64(args.warmup);
    config.connections = args.connections;
    config.sessions = args.sessions;
    config.redis_benchmark_requests = args.redis_benchmark_requests;
    if let Some(names) = &args.variants {
        config.variants = variants::select(names)?;
        anyhow::ensure!(!config.variants.is_empty(), "--variants selected nothing");
    }
    if args.no_pin {
        config.server_core = None;
        config.client_core = None;
    } else {
        config.server_core = Some(args.server_core);
        config.client_core = Some(args.client_core);
    }

    config.extra_args = std::env::args().skip(1).collect();
    if boosted {
        config.priority_note = Some(boost_autogroup());
        if !args.redis_nice_unchanged {
            config.redis_priority = Some(BOOST_NICE);
        }
    }

    let results = harness::run(&config)?;
    if !results.pinned && !args.no_pin {
        eprintln!(
            "warning: could not pin threads to CPUs {} / {}",
            args.server_core, args.client_core
        );
    }
    let doc = report::document(&results);
    println!("\n{doc}");
    let out = match (&args.out, args.quick || args.no_write) {
        (Some(p), _) if !args.no_write => Some(p.clone()),
        (None, false) => Some(report::default_output_path()),
        _ => None,
    };
    if let Some(path) = out {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, doc)?;
        eprintln!("wrote {}", path.display());
    }
    let bad: u64 = results
        .series
        .iter()
        .flat_map(|s| &s.rounds)
        .map(|r| r.non_2xx + r.errors)
        .sum();
    if bad > 0 {
        eprintln!(
            "warning: {bad} non-2xx responses (other than 409) or transport errors (see table)"
        );
    }
    Ok(())
}
