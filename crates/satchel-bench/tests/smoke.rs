//! Correctness of the benchmark setup (not timing): every variant answers 2xx on both routes,
//! `/write` really increments per cookie, and a short quick-mode run completes with only 2xx.

use std::time::Duration;

use satchel_bench::harness::{self, verify_setup, BenchConfig};
use satchel_bench::server::ServerOptions;
use satchel_bench::variants;

/// Both tests start every variant, and the PostgreSQL variants drop and recreate their
/// schemas at start: one test at a time, also across processes (nextest runs each test in
/// its own), or one drops the schema under the other's server.
fn one_at_a_time() -> std::fs::File {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("satchel-bench-smoke.lock");
    let file = std::fs::File::create(&path).expect("lock file");
    file.lock().expect("lock");
    file
}

#[test]
fn every_variant_increments_per_cookie() {
    let _one = one_at_a_time();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for v in variants::all() {
        let server = v.start(&ServerOptions::default()).expect("start server");
        rt.block_on(verify_setup(&v, &server))
            .unwrap_or_else(|e| panic!("{e:#}"));
        if v.sessions {
            // Two different sessions do not share a counter.
            rt.block_on(verify_setup(&v, &server))
                .unwrap_or_else(|e| panic!("{e:#}"));
        }
    }
}

#[test]
fn quick_run_counts_only_2xx_and_no_errors() {
    let _one = one_at_a_time();
    let config = BenchConfig {
        sessions: 50,
        connections: 4,
        warmup: Duration::from_millis(50),
        duration: Duration::from_millis(150),
        server_core: None,
        client_core: None,
        verbose: false,
        // Enough to exercise the reference path, not to measure anything.
        redis_benchmark_requests: 2_000,
        // Other runs of this test may share the Redis: do not delete their sessions.
        redis_cleanup: false,
        ..BenchConfig::quick()
    };
    assert_eq!(config.rounds, 1);
    let results = harness::run(&config).expect("benchmark run");
    assert_eq!(
        results.series.len(),
        config.variants.len() * variants::Route::ALL.len()
    );
    for s in &results.series {
        assert_eq!(s.rounds.len(), 1);
        let r = &s.rounds[0];
        assert!(
            r.ok > 0,
            "{} {}: no successful request",
            s.variant,
            s.route.label()
        );
        // 409s are allowed: with remote stores two in-flight requests can pick the same
        // session, and satchel refuses the stale write instead of losing it.
        assert_eq!(
            r.non_2xx,
            0,
            "{} {}: non-2xx responses other than 409",
            s.variant,
            s.route.label()
        );
        assert_eq!(
            r.errors,
            0,
            "{} {}: transport errors",
            s.variant,
            s.route.label()
        );
    }
    // Every Redis variant's rounds carry Redis's CPU, and its seeding Redis's memory.
    let redis = results
        .redis
        .as_ref()
        .expect("Redis variants were selected");
    for s in results.series.iter().filter(|s| s.redis) {
        assert!(
            s.rounds[0].redis_cpu.is_some(),
            "{} {}: no Redis CPU",
            s.variant,
            s.route.label()
        );
    }
    let redis_names: Vec<&str> = config
        .variants
        .iter()
        .filter(|v| variants::uses_redis(v))
        .map(|v| v.name)
        .collect();
    let measured: Vec<&str> = redis.variants.iter().map(|u| u.variant).collect();
    assert_eq!(measured, redis_names);
    assert!(redis.variants.iter().all(|u| u.sessions == 50));
    let doc = satchel_bench::report::document(&results);
    assert!(doc.contains("Redis CPU µs/req"), "{doc}");
    assert!(doc.contains("**Redis's own work per variant**"), "{doc}");
    for name in &redis_names {
        assert!(doc.contains(&format!("| `{name}` | ")), "{doc}");
    }
    for v in &config.variants {
        assert!(
            doc.contains(&format!("| `{}` | `POST /write` |", v.name)),
            "{doc}"
        );
    }
    // With a Redis variant selected, the report has the redis-benchmark reference, measured
    // or with the reason it is not.
    assert!(
        doc.contains("**Redis's own ceiling on this machine**"),
        "{doc}"
    );
}
