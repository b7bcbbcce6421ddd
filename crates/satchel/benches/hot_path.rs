//! Micro-benchmarks of the per-request hot path: ids, cookie parsing, the engine's
//! decisions, and MemoryStore under contention. `cargo bench -p satchel`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use satchel::{
    Engine, MemoryStore, Meta, Patch, Record, SessionConfig, SessionId, SessionStore, Timestamp,
    Value,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn ids(c: &mut Criterion) {
    let mut g = c.benchmark_group("id");
    g.bench_function("generate+encode", |b| {
        b.iter(|| black_box(SessionId::generate().encode()))
    });
    let enc = SessionId::generate().encode();
    g.bench_function("parse+hash", |b| {
        b.iter(|| SessionId::parse(black_box(&enc)).map(|id| id.store_key()))
    });
    g.finish();
}

/// A browser-like Cookie header: analytics cookies around the session cookie.
fn cookie_header(id: &str) -> String {
    format!("_ga=GA1.1.123456789.1700000000; theme=dark; id={id}; _gid=GA1.1.987654321.1700000000")
}

fn engine_paths(c: &mut Criterion) {
    let rt = runtime();
    let engine = Engine::new(MemoryStore::new(), SessionConfig::default());
    // One live session with {"user", "n"}.
    let cookie = rt.block_on(async {
        let s = engine.begin(None);
        s.insert("user", "user-123456").expect("insert");
        s.insert("n", &0).expect("insert");
        let f = engine.finish(&s, 200).await;
        let set = f.set_cookie.expect("cookie");
        set.split(';')
            .next()
            .expect("pair")
            .trim_start_matches("id=")
            .to_owned()
    });
    let header = cookie_header(&cookie);
    let mut g = c.benchmark_group("engine");
    g.bench_function("untouched request", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let s = engine.begin([header.as_bytes()]);
                    black_box(engine.finish(&s, 200).await);
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("read request", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let s = engine.begin([header.as_bytes()]);
                    let n: Option<i64> = s.get("n").await.expect("get");
                    black_box(n);
                    black_box(engine.finish(&s, 200).await);
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("read-then-write request", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let s = engine.begin([header.as_bytes()]);
                    let n: i64 = s.get("n").await.expect("get").unwrap_or(0);
                    s.insert("n", &(n + 1)).expect("insert");
                    let f = engine.finish(&s, 200).await;
                    assert!(f.error.is_none());
                    black_box(f);
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("new session (create + Set-Cookie)", |b| {
        let small = Engine::new(
            MemoryStore::builder().max_sessions(100_000).build(),
            SessionConfig::default(),
        );
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let s = small.begin(None);
                    s.insert("n", &1).expect("insert");
                    black_box(small.finish(&s, 200).await.set_cookie);
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

fn memory_contention(c: &mut Criterion) {
    let store = MemoryStore::new();
    let now = Timestamp::now();
    let keys: Arc<Vec<_>> = Arc::new(
        (0..10_000)
            .map(|_| SessionId::generate().store_key())
            .collect(),
    );
    let rt = runtime();
    rt.block_on(async {
        for k in keys.iter() {
            let record = Record {
                data: [("n".to_owned(), Value::from_json("0").expect("json"))].into(),
                meta: Meta::new(now, Duration::from_secs(1800), Duration::from_secs(36000)),
            };
            store.create(k, &record, now).await.expect("create");
        }
    });
    let patch = Patch {
        set: vec![("n".into(), Value::from_json("1").expect("json"))],
        ..Patch::default()
    };
    let mut g = c.benchmark_group("memory_store");
    // Two threads (the machine's cores) each doing load + apply on random sessions.
    g.bench_function("load+apply, 2 threads", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            std::thread::scope(|scope| {
                for t in 0..2u64 {
                    let (store, keys, patch) = (store.clone(), keys.clone(), patch.clone());
                    scope.spawn(move || {
                        let rt = runtime();
                        let mut x = 0x9e37_79b9_7f4a_7c15_u64 ^ t;
                        rt.block_on(async {
                            for _ in 0..iters {
                                x ^= x << 13;
                                x ^= x >> 7;
                                x ^= x << 17;
                                let k = &keys[usize::try_from(x).unwrap_or(0) % keys.len()];
                                black_box(store.load(k, now).await.expect("load"));
                                black_box(store.apply(k, &patch, now).await.expect("apply"));
                            }
                        });
                    });
                }
            });
            // Per operation pair on one thread, with the other thread contending.
            start.elapsed()
        })
    });
    g.finish();
}

criterion_group!(benches, ids, engine_paths, memory_contention);
criterion_main!(benches);
