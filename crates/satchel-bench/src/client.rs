//! The load generator: hyper 1 HTTP/1.1 client connections over tokio `TcpStream`s.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, COOKIE, HOST, SET_COOKIE};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;

use crate::variants::Route;
use crate::FastRng;

/// One keep-alive HTTP/1.1 connection. Its driver runs as a task on the current runtime.
#[derive(Debug)]
pub struct Conn {
    sender: SendRequest<Empty<Bytes>>,
    host: HeaderValue,
}

/// A response, fully read.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: StatusCode,
    /// The `name=value` parts of every `Set-Cookie`, joined with `; ` (a ready `Cookie` value).
    pub cookie: Option<String>,
    /// All response headers.
    pub headers: hyper::HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// The `n` field of a `{"n":...}` body.
    pub fn n(&self) -> Option<i64> {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()?
            .get("n")?
            .as_i64()
    }
}

impl Conn {
    /// Connect to `addr` (TCP_NODELAY on) and spawn the connection driver.
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect {addr}"))?;
        tcp.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            sender,
            host: HeaderValue::from_str(&addr.to_string())?,
        })
    }

    /// Send one request and return its status, without keeping the body.
    /// `Err` means a transport error (the connection is then unusable).
    pub async fn hit(
        &mut self,
        route: Route,
        cookie: Option<&HeaderValue>,
    ) -> anyhow::Result<StatusCode> {
        let res = self.send(route.method(), route.path(), cookie).await?;
        let status = res.status();
        // Drain the body so the connection can be reused.
        res.into_body().collect().await?;
        Ok(status)
    }

    /// Send one request and read the whole response.
    pub async fn request(
        &mut self,
        method: hyper::Method,
        path: &str,
        cookie: Option<&HeaderValue>,
    ) -> anyhow::Result<Reply> {
        let res = self.send(method, path, cookie).await?;
        let status = res.status();
        let parts: Vec<&str> = res
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim())
            .filter(|v| !v.is_empty())
            .collect();
        let cookie = (!parts.is_empty()).then(|| parts.join("; "));
        let headers = res.headers().clone();
        let body = res.into_body().collect().await?.to_bytes();
        Ok(Reply {
            status,
            cookie,
            headers,
            body,
        })
    }

    async fn send(
        &mut self,
        method: hyper::Method,
        path: &str,
        cookie: Option<&HeaderValue>,
    ) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
        self.sender.ready().await?;
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone());
        if let Some(c) = cookie {
            req = req.header(COOKIE, c.clone());
        }
        let req = req.body(Empty::new())?;
        Ok(self.sender.send_request(req).await?)
    }
}

/// Seed `count` sessions: `POST /seed` without a cookie, keep the `name=value` of the cookie
/// issued. Uses up to `connections` connections concurrently.
pub async fn seed(
    addr: SocketAddr,
    count: usize,
    connections: usize,
) -> anyhow::Result<Vec<HeaderValue>> {
    let connections = connections.clamp(1, count.max(1));
    let mut tasks = Vec::with_capacity(connections);
    for i in 0..connections {
        let share = count / connections + usize::from(i < count % connections);
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(addr).await?;
            let mut out = Vec::with_capacity(share);
            for _ in 0..share {
                let reply = conn.request(hyper::Method::POST, "/seed", None).await?;
                anyhow::ensure!(reply.status.is_success(), "/seed answered {}", reply.status);
                let cookie = reply.cookie.context("/seed issued no Set-Cookie")?;
                out.push(HeaderValue::from_str(&cookie)?);
            }
            anyhow::Ok(out)
        }));
    }
    let mut cookies = Vec::with_capacity(count);
    for t in tasks {
        cookies.extend(t.await??);
    }
    let distinct: std::collections::HashSet<&HeaderValue> = cookies.iter().collect();
    anyhow::ensure!(
        distinct.len() == cookies.len(),
        "/seed issued {} distinct cookies for {} calls",
        distinct.len(),
        cookies.len()
    );
    Ok(cookies)
}

/// `GET /read` once with every cookie in `cookies` (each answer must be 2xx), over up to
/// `connections` connections: e.g. to fill a near cache before measuring.
pub async fn read_each(
    addr: SocketAddr,
    cookies: &[HeaderValue],
    connections: usize,
) -> anyhow::Result<()> {
    let chunk = cookies.len().div_ceil(connections.max(1)).max(1);
    let mut tasks = Vec::new();
    for part in cookies.chunks(chunk) {
        let part = part.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(addr).await?;
            for cookie in &part {
                let status = conn.hit(Route::Read, Some(cookie)).await?;
                anyhow::ensure!(status.is_success(), "/read answered {status}");
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// Cookies for a variant without sessions: `id=<43 random base64url chars>`, the size of a
/// cookie carrying a 256-bit id, so the floor parses comparable request bytes.
pub fn synthetic_cookies(count: usize, seed: u64) -> Vec<HeaderValue> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = FastRng::new(seed);
    (0..count)
        .map(|_| {
            let mut v = b"id=".to_vec();
            v.extend((0..43).map(|_| ALPHABET[rng.below(64)]));
            HeaderValue::from_bytes(&v).expect("base64url is a valid header value")
        })
        .collect()
}

/// One load run: `connections` connections send `route` back to back, each request with a
/// cookie picked uniformly from `cookies`, for `warmup + measure`; only responses that complete
/// inside the measurement window count.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Route to hit.
    pub route: Route,
    /// Number of keep-alive connections.
    pub connections: usize,
    /// Warm-up time (not counted).
    pub warmup: Duration,
    /// Measurement time.
    pub measure: Duration,
    /// RNG seed for cookie choice.
    pub seed: u64,
}

/// What one load run saw.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadResult {
    /// 2xx responses completed inside the window.
    pub ok: u64,
    /// Non-2xx responses inside the window, other than `409 Conflict`.
    pub non_2xx: u64,
    /// `409 Conflict` responses inside the window: two in-flight requests changed the same
    /// session and the store refused the second write (satchel); not a failure of the setup.
    pub conflicts: u64,
    /// Transport errors (connect/send/receive) during the whole run, warm-up included.
    pub errors: u64,
    /// Length of the measurement window.
    pub window: Duration,
    /// Server thread CPU time during the window / window length (None if unknown).
    pub server_cpu: Option<f64>,
    /// Load-generator thread CPU time during the window / window length (None if unknown).
    pub client_cpu: Option<f64>,
    /// The Redis server's CPU time during the window / window length, for a Redis variant
    /// (None if not one, or unknown). The Redis is shared: anything else it serves in the
    /// window counts too.
    pub redis_cpu: Option<f64>,
    /// `(hits, misses)` of the cache in front of the variant's store during the window, when
    /// it has one (a near cache).
    pub cache_hits: Option<(u64, u64)>,
}

impl LoadResult {
    /// Successful requests per second.
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64()
    }
}

#[derive(Debug, Default)]
struct Counts {
    ok: u64,
    non_2xx: u64,
    conflicts: u64,
    errors: u64,
}

/// Run one load measurement against `addr`. Must be called inside a tokio runtime whose
/// other tasks are idle (the generator assumes it owns its thread). `server_tid` enables
/// server CPU accounting; `redis_clock` (the Redis server's CPU time so far) is read at the
/// same two instants, for Redis CPU accounting, and so is `cache_counts` (the `(hits, misses)`
/// of a cache in front of the store, if any).
pub async fn run_load(
    addr: SocketAddr,
    cookies: Arc<[HeaderValue]>,
    spec: &LoadSpec,
    server_tid: Option<u32>,
    mut redis_clock: Option<&mut dyn FnMut() -> Option<Duration>>,
    cache_counts: &dyn Fn() -> Option<(u64, u64)>,
) -> anyhow::Result<LoadResult> {
    anyhow::ensure!(!cookies.is_empty(), "no cookies to send");
    let mut conns = Vec::with_capacity(spec.connections);
    for _ in 0..spec.connections {
        conns.push(Conn::connect(addr).await?);
    }
    let start = Instant::now();
    let measure_start = start + spec.warmup;
    let end = measure_start + spec.measure;
    let mut tasks = Vec::with_capacity(conns.len());
    for (i, mut conn) in conns.into_iter().enumerate() {
        let cookies = Arc::clone(&cookies);
        let route = spec.route;
        let mut rng = FastRng::new(spec.seed ^ (i as u64).wrapping_mul(0xA076_1D64_78BD_642F));
        tasks.push(tokio::spawn(async move {
            let mut c = Counts::default();
            loop {
                if Instant::now() >= end {
                    break;
                }
                let cookie = &cookies[rng.below(cookies.len())];
                let res = conn.hit(route, Some(cookie)).await;
                let done = Instant::now();
                let in_window = done >= measure_start && done < end;
                match res {
                    Ok(status) if in_window && status.is_success() => c.ok += 1,
                    Ok(status) if in_window && status.as_u16() == 409 => c.conflicts += 1,
                    Ok(_) if in_window => c.non_2xx += 1,
                    Ok(_) => {}
                    Err(_) => {
                        c.errors += 1;
                        // Reconnect; back off a little if the server is not accepting.
                        match Conn::connect(addr).await {
                            Ok(new) => conn = new,
                            Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
                        }
                    }
                }
            }
            c
        }));
    }
    let client_tid = crate::sys::current_tid();
    let cpu = |tid: Option<u32>| tid.and_then(crate::sys::thread_cpu_time);
    tokio::time::sleep_until(measure_start.into()).await;
    let mut redis_cpu = || redis_clock.as_mut().and_then(|clock| clock());
    let t0 = Instant::now();
    let (s0, c0, r0, h0) = (
        cpu(server_tid),
        cpu(client_tid),
        redis_cpu(),
        cache_counts(),
    );
    tokio::time::sleep_until(end.into()).await;
    let t1 = Instant::now();
    let (s1, c1, r1, h1) = (
        cpu(server_tid),
        cpu(client_tid),
        redis_cpu(),
        cache_counts(),
    );
    let wall = (t1 - t0).as_secs_f64();
    let frac = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) if wall > 0.0 => Some((b.saturating_sub(a)).as_secs_f64() / wall),
        _ => None,
    };
    let mut total = Counts::default();
    for t in tasks {
        let c = t.await?;
        total.ok += c.ok;
        total.non_2xx += c.non_2xx;
        total.conflicts += c.conflicts;
        total.errors += c.errors;
    }
    Ok(LoadResult {
        ok: total.ok,
        non_2xx: total.non_2xx,
        conflicts: total.conflicts,
        errors: total.errors,
        window: spec.measure,
        server_cpu: frac(s0, s1),
        client_cpu: frac(c0, c1),
        redis_cpu: frac(r0, r1),
        cache_hits: h0
            .zip(h1)
            .map(|((h0, m0), (h1, m1))| (h1.saturating_sub(h0), m1.saturating_sub(m0))),
    })
}
