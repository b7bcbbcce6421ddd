//! The Redis side of the benchmark against the shared Redis at `$SATCHEL_REDIS_URL`: the
//! server's CPU clock and memory, and a per-variant cleanup that deletes only its own keys.
//! Keys live under a prefix unique to each test run.

use satchel_bench::redis_keys::{self, RedisKeys};
use satchel_bench::redis_server::{self, CpuSource, RedisServer};

fn url() -> String {
    std::env::var("SATCHEL_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn unique(tag: &str) -> String {
    format!(
        "satchel-bench-test:{tag}:{}:{:016x}:",
        std::process::id(),
        rand::random::<u64>()
    )
}

#[test]
fn cleanup_deletes_its_prefix_and_nothing_else() {
    let prefix: &'static str = Box::leak(unique("cleanup").into_boxed_str());
    let mut conn = redis_server::connect(&url(), None).expect("Redis at $SATCHEL_REDIS_URL");
    // Ours (more than one SCAN batch), a glob-looking one, and two neighbours that are not.
    let mut ours: Vec<String> = (0..1500).map(|i| format!("{prefix}s:{i}")).collect();
    ours.push(format!("{prefix}*"));
    let neighbours = [
        prefix.trim_end_matches(':').to_owned() + "-other:1",
        prefix.trim_end_matches(':').to_owned(),
    ];
    for k in ours.iter().chain(&neighbours) {
        let () = redis::cmd("SET")
            .arg(k)
            .arg("v")
            .arg("EX")
            .arg(600)
            .query(&mut conn)
            .expect("SET");
    }
    let keys = RedisKeys {
        db: None,
        prefix,
        read_before_measuring: false,
    };
    let deleted = redis_keys::delete_all(&url(), &keys).expect("cleanup");
    assert_eq!(deleted, ours.len() as u64);
    let left: u64 = redis::cmd("EXISTS")
        .arg(&ours)
        .query(&mut conn)
        .expect("EXISTS");
    assert_eq!(left, 0);
    let kept: u64 = redis::cmd("EXISTS")
        .arg(&neighbours)
        .query(&mut conn)
        .expect("EXISTS");
    assert_eq!(kept, 2, "the cleanup deleted keys outside its prefix");
    let _: u64 = redis::cmd("DEL")
        .arg(&neighbours)
        .query(&mut conn)
        .expect("DEL");
    // Nothing left: a second cleanup deletes nothing.
    assert_eq!(redis_keys::delete_all(&url(), &keys).expect("cleanup"), 0);
}

#[test]
fn the_local_server_is_found_and_its_cpu_and_memory_read() {
    let mut server = RedisServer::connect(&url()).expect("Redis at $SATCHEL_REDIS_URL");
    // The test Redis is a local process here; elsewhere the INFO clock is the fallback.
    if url().contains("127.0.0.1") {
        assert!(
            matches!(server.cpu_source(), CpuSource::Proc { .. }),
            "{server:?}"
        );
    }
    let before = server.cpu_time().expect("CPU time");
    let mut conn = redis_server::connect(&url(), None).expect("connect");
    let key = unique("cpu") + "k";
    for _ in 0..2000 {
        let () = redis::cmd("SET")
            .arg(&key)
            .arg("v")
            .arg("EX")
            .arg(60)
            .query(&mut conn)
            .expect("SET");
    }
    let _: u64 = redis::cmd("DEL").arg(&key).query(&mut conn).expect("DEL");
    let after = server.cpu_time().expect("CPU time");
    assert!(after > before, "{before:?} -> {after:?}");
    assert!(server.used_memory().expect("used_memory") > 0);
    assert!(server.describe_cpu().contains("CPU"));
}
