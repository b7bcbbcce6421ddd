//! The soak: load on a `MemoryStore` app for a long time with sessions constantly created,
//! written and left to expire (short idle timeout), sampling the process's RSS each
//! second. A leak shows as a slope; bounded structures as a flat line after warm-up.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::header::HeaderValue;
use hyper::Method;
use satchel::MemoryStore;

use crate::client::Conn;

/// What the soak measured.
#[derive(Debug, Clone)]
pub struct SoakResult {
    /// How long it ran.
    pub duration: Duration,
    /// Clients.
    pub clients: usize,
    /// Idle timeout of the sessions.
    pub idle: Duration,
    /// Requests answered 2xx.
    pub ok: u64,
    /// Other answers or transport errors.
    pub errors: u64,
    /// Sessions created (first write of a new visitor).
    pub created: u64,
    /// `(seconds since start, RSS bytes, live sessions)` once a second.
    pub samples: Vec<(f64, u64, usize)>,
    /// Least-squares slope of RSS over the part after warm-up (the first fifth), MiB/min.
    pub slope_mib_per_min: f64,
    /// Highest RSS seen.
    pub peak: u64,
    /// RSS at the end of warm-up.
    pub after_warmup: u64,
    /// Most sessions the store held at once.
    pub peak_sessions: usize,
}

/// Least-squares slope of `y` over `x`.
fn slope(points: &[(f64, f64)]) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx
    }
}

/// Runs the soak for `duration` with `clients` clients and idle timeout `idle`.
pub fn run(duration: Duration, clients: usize, idle: Duration) -> anyhow::Result<SoakResult> {
    let store = MemoryStore::new();
    let held = store.clone();
    let app = super::app::spawn(move || async move { Ok(store) }, Some(idle))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let created = Arc::new(AtomicU64::new(0));
    let addr = app.addr();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (stop, ok, errors, created) =
                (stop.clone(), ok.clone(), errors.clone(), created.clone());
            rt.spawn(async move {
                let mut conn: Option<Conn> = None;
                while !stop.load(Ordering::Relaxed) {
                    // A new visitor: six writes, then it leaves and its session expires.
                    let mut cookie: Option<HeaderValue> = None;
                    for _ in 0..6 {
                        if conn.is_none() {
                            conn = Conn::connect(addr).await.ok();
                        }
                        let Some(c) = conn.as_mut() else {
                            errors.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        };
                        match c.request(Method::POST, "/anon", cookie.as_ref()).await {
                            Ok(r) if r.status.is_success() => {
                                ok.fetch_add(1, Ordering::Relaxed);
                                if let Some(v) = r.cookie.as_deref() {
                                    if cookie.is_none() {
                                        created.fetch_add(1, Ordering::Relaxed);
                                    }
                                    cookie = HeaderValue::from_str(v).ok();
                                }
                            }
                            Ok(_) => {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(_) => {
                                errors.fetch_add(1, Ordering::Relaxed);
                                conn = None;
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
            })
        })
        .collect();
    let start = Instant::now();
    let mut samples = Vec::new();
    while start.elapsed() < duration {
        std::thread::sleep(Duration::from_secs(1));
        let rss = crate::sys::rss_bytes().unwrap_or(0);
        samples.push((start.elapsed().as_secs_f64(), rss, held.len()));
    }
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for t in tasks {
            let _ = t.await;
        }
    });
    drop(app);
    let warm = samples.len() / 5;
    #[allow(clippy::cast_precision_loss)]
    let points: Vec<(f64, f64)> = samples[warm..]
        .iter()
        .map(|&(t, rss, _)| (t / 60.0, rss as f64 / (1024.0 * 1024.0)))
        .collect();
    Ok(SoakResult {
        duration,
        clients,
        idle,
        ok: ok.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        created: created.load(Ordering::Relaxed),
        slope_mib_per_min: slope(&points),
        peak: samples.iter().map(|s| s.1).max().unwrap_or(0),
        after_warmup: samples.get(warm).map_or(0, |s| s.1),
        peak_sessions: samples.iter().map(|s| s.2).max().unwrap_or(0),
        samples,
    })
}

impl SoakResult {
    /// A Markdown paragraph and table for the report.
    pub fn markdown(&self) -> String {
        let mib = |b: u64| {
            #[allow(clippy::cast_precision_loss)]
            let m = b as f64 / (1024.0 * 1024.0);
            format!("{m:.1} MiB")
        };
        format!(
            "| duration | clients | idle timeout | requests ok / errors | sessions created | most live at once | RSS after warm-up | RSS peak | RSS slope after warm-up |\n\
             |---:|---:|---:|---:|---:|---:|---:|---:|---:|\n\
             | {:.0} s | {} | {:.0} s | {} / {} | {} | {} | {} | {} | {:+.2} MiB/min |\n",
            self.duration.as_secs_f64(),
            self.clients,
            self.idle.as_secs_f64(),
            self.ok,
            self.errors,
            self.created,
            self.peak_sessions,
            mib(self.after_warmup),
            mib(self.peak),
            self.slope_mib_per_min,
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slope_of_a_line() {
        let pts: Vec<(f64, f64)> = (0..10)
            .map(|i| (f64::from(i), 3.0 + 2.0 * f64::from(i)))
            .collect();
        assert!((super::slope(&pts) - 2.0).abs() < 1e-9);
        assert_eq!(super::slope(&[(1.0, 1.0)]), 0.0);
    }
}
