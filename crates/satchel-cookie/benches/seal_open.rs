//! Seal + open cost per record size (issue 5: 100 B, 1 KB, 3 KB of session data).
//!
//! Measures the crypto alone (`Keyring` as a `CookieSealer`) and the whole stateless
//! request through the engine (open the cookie, change one key, seal it again).
// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use satchel::sealed::CookieSealer;
use satchel::{Engine, SessionConfig, Stateless};
use satchel_cookie::Keyring;

const SIZES: [usize; 3] = [100, 1024, 3 * 1024];

fn keyring() -> Keyring {
    Keyring::new(1, b"q3N1c0y4dWq0zZ8mJb5mF+X9vW1dQyQK").expect("valid secret")
}

fn seal_open(c: &mut Criterion) {
    let ring = keyring();
    let mut group = c.benchmark_group("sealer");
    for size in SIZES {
        let plaintext = vec![b'x'; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("seal", size), &plaintext, |b, p| {
            b.iter(|| ring.seal("id", black_box(p)).expect("seals"))
        });
        // What the engine calls: the value appended to the start of its `Set-Cookie`.
        group.bench_with_input(BenchmarkId::new("seal_into", size), &plaintext, |b, p| {
            b.iter(|| {
                let mut out = String::with_capacity(size * 4 / 3 + 128);
                out.push_str("id=");
                ring.seal_into("id", black_box(p), &mut out).expect("seals");
                out
            })
        });
        let sealed = ring.seal("id", &plaintext).expect("seals");
        group.bench_with_input(BenchmarkId::new("open", size), &sealed, |b, s| {
            b.iter(|| ring.open("id", black_box(s)).expect("opens"))
        });
    }
    group.finish();
}

fn engine_round_trip(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let engine = Engine::stateless(Stateless::new(keyring()), SessionConfig::default());
    let mut group = c.benchmark_group("stateless_request");
    for size in SIZES {
        // A record of about `size` bytes of data, then a request that reads and writes.
        let cookie = rt.block_on(async {
            let s = engine.begin(None);
            s.insert("blob", &"y".repeat(size.saturating_sub(20)))
                .expect("insert");
            s.insert("n", &0).expect("insert");
            let done = engine.finish(&s, 200).await;
            // A 3 KB record may span two chunks: send back every one of them.
            done.set_cookies()
                .filter_map(|c| c.split(';').next())
                .collect::<Vec<_>>()
                .join("; ")
        });
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(
            BenchmarkId::new("read_write", size),
            &cookie,
            |b, cookie| {
                b.iter(|| {
                    rt.block_on(async {
                        let s = engine.begin([cookie.as_bytes()]);
                        let n: i64 = s.get("n").await.expect("get").expect("the cookie opened");
                        s.insert("n", &(n + 1)).expect("insert");
                        let done = engine.finish(&s, 200).await;
                        black_box(done.set_cookie)
                    })
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, seal_open, engine_round_trip);
criterion_main!(benches);
