//! A tight loop over the engine's read-then-write path, for profilers
//! (`perf record cargo run --release --example profile_engine`).

use satchel::{Engine, MemoryStore, SessionConfig};

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let engine = Engine::new(MemoryStore::new(), SessionConfig::default());
    rt.block_on(async {
        let s = engine.begin(None);
        s.insert("user", "user-123456").expect("insert");
        s.insert("n", &0).expect("insert");
        let set = engine.finish(&s, 200).await.set_cookie.expect("cookie");
        let pair = set.split(';').next().expect("pair").to_owned();
        let header = format!("_ga=GA1.1.1.1; {pair}; theme=dark");
        let iters: u64 = std::env::args()
            .nth(1)
            .and_then(|a| a.parse().ok())
            .unwrap_or(2_000_000);
        let start = std::time::Instant::now();
        let read_only = std::env::args().nth(2).as_deref() == Some("read");
        for _ in 0..iters {
            let s = engine.begin([header.as_bytes()]);
            let n: i64 = s.get("n").await.expect("get").unwrap_or(0);
            if !read_only {
                s.insert("n", &(n + 1)).expect("insert");
            }
            let f = engine.finish(&s, 200).await;
            assert!(f.error.is_none());
        }
        eprintln!(
            "{:?} per request",
            start.elapsed() / u32::try_from(iters).unwrap_or(u32::MAX)
        );
    });
}
