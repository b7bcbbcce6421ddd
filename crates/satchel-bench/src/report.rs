//! Turning results into the markdown report (`docs/benchmarks.md`).

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::harness::{pct, BenchResults, RedisRun, Series};
use crate::redis_ref::RedisReference;
use crate::variants::{Route, BASELINE};

/// Median of a non-empty slice (mean of the two middle values for even lengths).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Summary of one series.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Median req/s over rounds.
    pub median: f64,
    /// Lowest round.
    pub min: f64,
    /// Highest round.
    pub max: f64,
    /// Median server-thread CPU use during the windows.
    pub server_cpu: Option<f64>,
    /// Median load-generator CPU use during the windows.
    pub client_cpu: Option<f64>,
    /// Median over rounds of server-thread CPU time per successful request, in µs. Unlike
    /// req/s this does not depend on which side (server or generator) was the bottleneck.
    pub server_us_per_req: Option<f64>,
    /// Median share of one CPU the Redis server used during the windows (Redis variants).
    pub redis_cpu: Option<f64>,
    /// Median over rounds of the Redis server's CPU time per successful request, in µs
    /// (Redis variants): the store's own cost, whoever won the scheduler.
    pub redis_us_per_req: Option<f64>,
    /// Share of loads answered by the cache in front of the store (a near cache) over all
    /// rounds' windows, when it has one.
    pub cache_hit_ratio: Option<f64>,
    /// Non-2xx responses over all rounds, `409`s excluded.
    pub non_2xx: u64,
    /// `409 Conflict` answers over all rounds (concurrent writes to one session refused).
    pub conflicts: u64,
    /// Transport errors over all rounds.
    pub errors: u64,
}

impl Summary {
    /// Summarise a series.
    pub fn of(s: &Series) -> Self {
        let rps: Vec<f64> = s.rounds.iter().map(|r| r.rps()).collect();
        let opt_median = |xs: Vec<Option<f64>>| -> Option<f64> {
            let xs: Option<Vec<f64>> = xs.into_iter().collect();
            xs.filter(|v| !v.is_empty()).map(|v| median(&v))
        };
        let per_req = |cpu: fn(&crate::client::LoadResult) -> Option<f64>| {
            opt_median(
                s.rounds
                    .iter()
                    .map(|r| cpu(r).filter(|_| r.ok > 0).map(|c| c * 1e6 / r.rps()))
                    .collect(),
            )
        };
        Self {
            median: median(&rps),
            min: rps.iter().copied().fold(f64::INFINITY, f64::min),
            max: rps.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            server_cpu: opt_median(s.rounds.iter().map(|r| r.server_cpu).collect()),
            client_cpu: opt_median(s.rounds.iter().map(|r| r.client_cpu).collect()),
            server_us_per_req: per_req(|r| r.server_cpu),
            redis_cpu: opt_median(s.rounds.iter().map(|r| r.redis_cpu).collect()),
            redis_us_per_req: per_req(|r| r.redis_cpu),
            cache_hit_ratio: hit_ratio(&s.rounds),
            non_2xx: s.rounds.iter().map(|r| r.non_2xx).sum(),
            conflicts: s.rounds.iter().map(|r| r.conflicts).sum(),
            errors: s.rounds.iter().map(|r| r.errors).sum(),
        }
    }
}

/// Hits over hits + misses of the cache in front of the store, over every round's window.
#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn hit_ratio(rounds: &[crate::client::LoadResult]) -> Option<f64> {
    rounds
        .iter()
        .try_fold((0_u64, 0_u64), |(h, m), r| {
            r.cache_hits.map(|(rh, rm)| (h + rh, m + rm))
        })
        .filter(|(h, m)| h + m > 0)
        .map(|(h, m)| h as f64 / (h + m) as f64)
}

/// The columns of the results table, in order. Each turns one row into a cell.
struct Column {
    title: &'static str,
    right: bool,
    cell: fn(&Row<'_>) -> String,
}

struct Row<'a> {
    series: &'a Series,
    summary: Summary,
    baseline: Option<Summary>,
}

const COLUMNS: &[Column] = &[
    Column {
        title: "variant",
        right: false,
        cell: |r| format!("`{}`", r.series.variant),
    },
    Column {
        title: "route",
        right: false,
        cell: |r| format!("`{}`", r.series.route.label()),
    },
    Column {
        title: "req/s (median)",
        right: true,
        cell: |r| thousands(r.summary.median),
    },
    Column {
        title: "min – max",
        right: true,
        cell: |r| {
            format!(
                "{} – {}",
                thousands(r.summary.min),
                thousands(r.summary.max)
            )
        },
    },
    Column {
        title: "spread",
        right: true,
        cell: |r| {
            format!(
                "±{:.1}%",
                (r.summary.max - r.summary.min) / 2.0 / r.summary.median * 100.0
            )
        },
    },
    Column {
        title: "vs bare-axum",
        right: true,
        cell: |r| {
            r.baseline.map_or_else(
                || "–".to_owned(),
                |b| format!("{:.2}×", r.summary.median / b.median),
            )
        },
    },
    Column {
        title: "server CPU µs/req",
        right: true,
        cell: |r| {
            r.summary
                .server_us_per_req
                .map_or_else(|| "?".to_owned(), |x| format!("{x:.1}"))
        },
    },
    Column {
        title: "Δ vs bare",
        right: true,
        cell: |r| match (
            r.summary.server_us_per_req,
            r.baseline.and_then(|b| b.server_us_per_req),
        ) {
            (Some(x), Some(b)) => format!("{:+.1}", x - b),
            _ => "–".to_owned(),
        },
    },
    Column {
        title: "Redis CPU µs/req",
        right: true,
        cell: |r| redis_cell(r, r.summary.redis_us_per_req.map(|x| format!("{x:.1}"))),
    },
    Column {
        title: "server CPU",
        right: true,
        cell: |r| pct(r.summary.server_cpu),
    },
    Column {
        title: "Redis CPU",
        right: true,
        cell: |r| redis_cell(r, r.summary.redis_cpu.map(|x| pct(Some(x)))),
    },
    Column {
        title: "loadgen CPU",
        right: true,
        cell: |r| pct(r.summary.client_cpu),
    },
    Column {
        title: "409",
        right: true,
        cell: |r| r.summary.conflicts.to_string(),
    },
    Column {
        title: "other non-2xx",
        right: true,
        cell: |r| r.summary.non_2xx.to_string(),
    },
    Column {
        title: "errors",
        right: true,
        cell: |r| r.summary.errors.to_string(),
    },
];

/// A Redis figure: `–` for a variant without Redis, `?` when it could not be read.
fn redis_cell(r: &Row<'_>, x: Option<String>) -> String {
    match (r.series.redis, x) {
        (false, _) => "–".to_owned(),
        (true, None) => "?".to_owned(),
        (true, Some(x)) => x,
    }
}

/// `12,345`.
pub fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return "–".to_owned();
    }
    let s = format!("{:.0}", x.round());
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{sign}{out}")
}

/// The results table in markdown.
pub fn table(results: &BenchResults) -> String {
    let rows: Vec<Row<'_>> = results
        .series
        .iter()
        .map(|s| Row {
            series: s,
            summary: Summary::of(s),
            baseline: results
                .series
                .iter()
                .find(|b| b.variant == BASELINE && b.route == s.route)
                .map(Summary::of),
        })
        .collect();
    let mut out = String::new();
    let titles: Vec<&str> = COLUMNS.iter().map(|c| c.title).collect();
    let _ = writeln!(out, "| {} |", titles.join(" | "));
    let rules: Vec<&str> = COLUMNS
        .iter()
        .map(|c| if c.right { "---:" } else { "---" })
        .collect();
    let _ = writeln!(out, "|{}|", rules.join("|"));
    for row in &rows {
        let cells: Vec<String> = COLUMNS.iter().map(|c| (c.cell)(row)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// The full document: header (date, machine, parameters, method) and the table.
pub fn document(results: &BenchResults) -> String {
    let c = &results.config;
    let mut out = String::new();
    let _ = writeln!(out, "# Load benchmark: satchel vs. peers\n");
    let _ = writeln!(
        out,
        "Generated by `cargo run -p satchel-bench --release --bin loadbench{}` on {}; do not edit by hand.\n",
        c.extra_args.iter().fold(
            if c.extra_args.is_empty() { String::new() } else { " --".to_owned() },
            |acc, a| acc + " " + a
        ),
        crate::sys::today_utc()
    );
    let _ = writeln!(
        out,
        "- **Machine:** {} logical CPUs, {}, Linux {}{}.",
        crate::sys::nproc(),
        crate::sys::cpu_model(),
        crate::sys::kernel(),
        if results.pinned {
            ""
        } else {
            " (**pinning not in effect**)"
        }
    );
    let _ = writeln!(
        out,
        "- **Parameters:** {} round(s) × {} s measured (after {} s warm-up) per variant and route, {} keep-alive connections, {} seeded sessions per variant.",
        c.rounds,
        c.duration.as_secs_f64(),
        c.warmup.as_secs_f64(),
        c.connections,
        thousands(c.sessions as f64)
    );
    let redis_priority = results
        .redis
        .as_ref()
        .map_or_else(String::new, |r| format!("; {}", r.priority));
    let _ = writeln!(
        out,
        "- **Scheduling:** {}{redis_priority}; other processes on the machine were not stopped (it is shared).",
        c.priority_note.as_deref().unwrap_or("default priority")
    );
    let _ = writeln!(out, "\n**Method**\n");
    let _ = writeln!(out, "1. Each server runs on its own OS thread with a tokio current_thread runtime pinned to CPU {}; the load generator (hyper 1 `client::conn::http1` over tokio `TcpStream`, TCP_NODELAY) runs on one current_thread runtime pinned to CPU {}; all traffic is HTTP/1.1 over 127.0.0.1.", core(c.server_core), core(c.client_core));
    let _ = writeln!(out, "2. Before measuring, each session variant gets {} sessions via `POST /seed` without a cookie; the `name=value` of each `Set-Cookie` is kept. `bare-axum` has no sessions and is sent synthetic cookies of the same size (`id=` + 43 chars).", thousands(c.sessions as f64));
    let _ = writeln!(out, "3. The generator keeps {} keep-alive connections, each sending requests back to back; every request carries a cookie picked uniformly at random (SplitMix64) from that variant's set. Routes: `POST /write` reads `n` (default 0) and writes `n+1`; `GET /read` reads `n`; both answer `{{\"n\":…}}`.", c.connections);
    let _ = writeln!(out, "4. Rounds are interleaved: for each round, for each variant, for each route: {} s warm-up, then {} s counted. Only 2xx responses completed inside the window count; `409 Conflict` answers (two in-flight requests wrote the same session and satchel refused the stale write rather than lose it; peers overwrite silently), other non-2xx and transport errors are reported separately (the last two should be 0).", c.warmup.as_secs_f64(), c.duration.as_secs_f64());
    let _ = writeln!(out, "5. Reported: median req/s over rounds, min–max and half-range as ±% of the median, ratio to `bare-axum`'s median on the same route, the median share of one CPU used by the server and generator threads during the window (below ~100% a thread was waiting on the other side or preempted by other processes), and the server thread's CPU time per successful request, kernel TCP work included, with its difference to `bare-axum`: the cost a session layer adds, much less sensitive than req/s to which side was the bottleneck and to other load on the machine.");
    if let Some(r) = &results.redis {
        let _ = writeln!(out, "6. Redis variants: the Redis server's CPU time per successful request, from {}, read at the same two instants as the server thread's and divided the same way (commands from anything else in the window count too); and Redis memory per session: the growth of `INFO memory` `used_memory` over the variant's own seeding, divided by the sessions seeded (key, value, expiry entry and dict overhead; a dict resize during seeding adds to it), taken after deleting the keys earlier runs left under each Redis variant's own prefix, or in its own database (`SCAN MATCH` + `DEL`, never a flush), and a 1 s pause for Redis to resize its dicts{}. The Redis is shared, so both figures are only as good as it is quiet.", r.cpu_source, if c.redis_cleanup { "" } else { " (**cleanup skipped in this run**)" });
    }
    let _ = writeln!(out, "\n**Variants**\n");
    for v in &c.variants {
        let _ = writeln!(out, "- `{}`: {}", v.name, v.summary);
    }
    let _ = writeln!(out, "\n**Results**\n");
    out.push_str(&table(results));
    if let Some(r) = &results.redis {
        out.push_str(&redis_section(results, r));
    }
    if let Some(r) = &results.redis_reference {
        out.push_str(&redis_reference(results, r));
    }
    out
}

/// The `redis-benchmark` reference and, beside it, the Redis variants' medians.
pub fn redis_reference(results: &BenchResults, r: &RedisReference) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n**Redis's own ceiling on this machine**\n");
    let pin = match r.pinned {
        Some(c) => format!("pinned to CPU {c}, the load generator's"),
        None => "not pinned".to_owned(),
    };
    let gs = match &r.outcome {
        Ok(gs) => *gs,
        Err(e) => {
            let _ = writeln!(out, "Not measured: {e}. (`{}`)", r.command);
            return out;
        }
    };
    let _ = writeln!(
        out,
        "`{}`, run once before the HTTP rounds, {pin} (the Redis server is not started or pinned by the benchmark): Redis alone, one command per request, no HTTP and no session layer, {} connections, no pipelining, on the Redis the Redis variants use, in database {}, which none of them uses. Beside it, the Redis variants' medians from the table above, a `POST /write` compared with SET and a `GET /read` with GET.\n",
        r.command,
        results.config.connections,
        crate::redis_ref::DB,
    );
    let _ = writeln!(
        out,
        "| variant | command / route | req/s (median) | vs Redis's ceiling |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|");
    for (cmd, x) in [("GET", gs.get), ("SET", gs.set)] {
        let _ = writeln!(
            out,
            "| `redis-benchmark` | `{cmd}` | {} | 1.00× |",
            thousands(x)
        );
    }
    for s in &results.series {
        if !s.redis {
            continue;
        }
        let (cmd, ceiling) = match s.route {
            Route::Write => ("SET", gs.set),
            Route::Read => ("GET", gs.get),
        };
        let m = Summary::of(s).median;
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {} | {:.2}× of {cmd} |",
            s.variant,
            s.route.label(),
            thousands(m),
            m / ceiling
        );
    }
    out
}

/// The Redis variants' memory per session and Redis CPU per request, one row per variant.
pub fn redis_section(results: &BenchResults, r: &RedisRun) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n**Redis's own work per variant**\n");
    let _ = writeln!(
        out,
        "| variant | Redis B/session | `used_memory` Δ | sessions seeded | old keys deleted | Redis CPU µs/req `POST /write` | `GET /read` | near-cache hits `POST /write` | `GET /read` |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let us = |variant: &str, route: Route| {
        results
            .series
            .iter()
            .find(|s| s.variant == variant && s.route == route)
            .and_then(|s| Summary::of(s).redis_us_per_req)
            .map_or_else(|| "?".to_owned(), |x| format!("{x:.1}"))
    };
    let hits = |variant: &str, route: Route| {
        results
            .series
            .iter()
            .find(|s| s.variant == variant && s.route == route)
            .and_then(|s| Summary::of(s).cache_hit_ratio)
            .map_or_else(|| "–".to_owned(), |x| format!("{:.1}%", x * 100.0))
    };
    for u in &r.variants {
        #[allow(clippy::cast_precision_loss)] // byte counts far below 2^52
        let delta = u.memory_after as f64 - u.memory_before as f64;
        let _ = writeln!(
            out,
            "| `{}` | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
            u.variant,
            u.bytes_per_session(),
            thousands(delta),
            thousands(u.sessions as f64),
            u.deleted.map_or_else(|| "–".to_owned(), |d| d.to_string()),
            us(u.variant, Route::Write),
            us(u.variant, Route::Read),
            hits(u.variant, Route::Write),
            hits(u.variant, Route::Read),
        );
    }
    out
}

fn core(c: Option<usize>) -> String {
    c.map_or_else(|| "(none)".to_owned(), |c| c.to_string())
}

/// `docs/benchmarks.md` at the workspace root (two levels above this crate's manifest).
pub fn default_output_path() -> PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest
        .parent()
        .and_then(std::path::Path::parent)
        .unwrap_or(manifest);
    root.join("docs").join("benchmarks.md")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn thousands_sep() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(-1000.0), "-1,000");
    }
}
