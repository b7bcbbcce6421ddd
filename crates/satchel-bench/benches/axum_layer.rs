//! What the session layer adds to an axum request, in process (no sockets, no hyper):
//! the routers of the loadbench's `bare-axum` and `satchel-memory` variants, each request
//! carrying one of 10,000 live session cookies picked at random (so the store's memory is
//! touched the way real traffic touches it). The difference between the two is the
//! layer's CPU cost per request, without the kernel's share and the noise of sockets.
//! `cargo bench -p satchel-bench --bench axum_layer`; `LAYER_SESSIONS=1` serves one
//! session only, so its memory stays in cache: the difference to the default run is what
//! cache misses on the store cost.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use axum::body::Body;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use http::{header, Request};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use satchel_bench::variants::{bare_axum, satchel_memory};
use tower::{Service, ServiceExt};

/// Live sessions the requests pick from, unless `LAYER_SESSIONS` says otherwise.
const SESSIONS: usize = 10_000;

fn sessions() -> usize {
    std::env::var("LAYER_SESSIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SESSIONS)
}

fn satchel_router() -> Router {
    let config = satchel_memory::config().expect("config");
    // Resolve the routes once, as `axum::serve` does per connection; an unresolved
    // `Router` would rebuild each handler's route on every request.
    satchel_memory::router(satchel_memory::store(), config).with_state(())
}

fn bare_router() -> Router {
    bare_axum::router().with_state(())
}

fn request(method: &str, path: &str, cookie: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .expect("request")
}

/// [`sessions()`] cookies (`id=…`) of live sessions on `router`.
fn seed_sessions(rt: &tokio::runtime::Runtime, router: &Router) -> Vec<String> {
    rt.block_on(async {
        let mut cookies = Vec::with_capacity(sessions());
        for _ in 0..sessions() {
            let req = Request::post("/seed").body(Body::empty()).expect("request");
            let res = router.clone().oneshot(req).await.expect("infallible");
            let set = res.headers()[header::SET_COOKIE].to_str().expect("ascii");
            cookies.push(set.split(';').next().expect("pair").to_owned());
        }
        cookies
    })
}

fn layer(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let satchel = satchel_router();
    let cookies = seed_sessions(&rt, &satchel);
    // The bare router gets cookies of the same shape, as the loadbench sends it.
    let bare = bare_router();
    let mut g = c.benchmark_group("axum_request");
    for (name, router) in [("bare", &bare), ("satchel", &satchel)] {
        for (method, path) in [("POST", "/write"), ("GET", "/read")] {
            g.bench_function(format!("{name} {method} {path}"), |b| {
                let mut rng = StdRng::seed_from_u64(7);
                b.iter_custom(|iters| {
                    // Requests are built outside the timed loop.
                    let reqs: Vec<_> = (0..iters)
                        .map(|_| {
                            request(method, path, &cookies[rng.random_range(0..cookies.len())])
                        })
                        .collect();
                    rt.block_on(async {
                        let start = Instant::now();
                        for req in reqs {
                            let mut svc = router.clone();
                            let res = svc.call(req).await.expect("infallible");
                            assert!(res.status().is_success(), "{}", res.status());
                            black_box(res);
                        }
                        start.elapsed()
                    })
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, layer);
criterion_main!(benches);
