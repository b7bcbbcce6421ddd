//! The load: N clients, each with its own session counting its own increments, logging
//! out and in now and then, and a recorder of every request (when, how long, what status).
//!
//! The ledger each client keeps: `acked`, the count of the last 2xx `/inc` answer of its
//! current session. An answer with a count below `acked + 1`, a 401 (the session is gone)
//! while `acked > 0`, or a final `GET /n` below `acked` means acknowledged increments were
//! lost. A 503'd increment may or may not have been applied, so a count above `acked + 1`
//! is fine. Old cookies of sessions it logged out of are tried again at the end: one that
//! still reads as its owner's session is a resurrection. An answer naming another user
//! would be someone else's session.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};
use std::sync::Mutex;

use crate::client::{Conn, Reply};

/// How long the client waits for one answer before it gives up on it (counted as hung).
pub const CLIENT_CAP: Duration = Duration::from_secs(15);

/// One request as the client saw it.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// When it was sent, since the run started.
    pub at: Duration,
    /// How long until the whole answer was read (or the transport failed).
    pub latency: Duration,
    /// The status, or 0 for a transport error or the client's cap.
    pub status: u16,
}

/// Every client's samples.
#[derive(Debug, Default)]
pub struct Recorder {
    samples: Mutex<Vec<Sample>>,
}

impl Recorder {
    fn push(&self, s: Sample) {
        if let Ok(mut v) = self.samples.lock() {
            v.push(s);
        }
    }

    /// All samples so far, in no particular order.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// What one client's ledger found.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ledger {
    /// Increments answered 2xx and later missing.
    pub lost_increments: u64,
    /// Sessions found gone (401) while the client was logged in: logged out by the store.
    pub sessions_lost: u64,
    /// Logged-out cookies that worked again.
    pub resurrected: u64,
    /// Answers naming another user.
    pub foreign: u64,
    /// Increments answered 2xx.
    pub acked: u64,
    /// Logouts answered 2xx.
    pub logouts: u64,
    /// Final checks that could not be made (the store never answered at the end).
    pub unverified: u64,
}

impl Ledger {
    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &Ledger) {
        self.lost_increments += o.lost_increments;
        self.sessions_lost += o.sessions_lost;
        self.resurrected += o.resurrected;
        self.foreign += o.foreign;
        self.acked += o.acked;
        self.logouts += o.logouts;
        self.unverified += o.unverified;
    }
}

/// How the clients behave.
#[derive(Debug, Clone, Copy)]
pub struct LoadConfig {
    /// Concurrent clients.
    pub clients: usize,
    /// Pause between two requests of one client (keeps a shared machine usable).
    pub think: Duration,
    /// Log out and in again after this many increments.
    pub logout_every: u64,
}

struct Client {
    id: usize,
    user: String,
    addr: SocketAddr,
    conn: Option<Conn>,
    cookie: Option<HeaderValue>,
    acked: u64,
    /// A logout failed (503 or no answer): it may still have been applied, so finding the
    /// session gone next is no loss.
    logout_unsure: bool,
    revoked: Vec<HeaderValue>,
    ledger: Ledger,
    rec: Arc<Recorder>,
    start: Instant,
}

/// The value of the session cookie in `reply`'s `Set-Cookie`, `Some(None)` when it removes
/// the cookie, `None` when it does not set it.
fn new_cookie(reply: &Reply) -> Option<Option<HeaderValue>> {
    let c = reply.cookie.as_deref()?;
    let value = c.split_once('=').map_or("", |(_, v)| v);
    if value.is_empty() {
        Some(None)
    } else {
        Some(HeaderValue::from_str(c).ok())
    }
}

impl Client {
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        cookie: Option<HeaderValue>,
    ) -> Option<Reply> {
        let at = self.start.elapsed();
        let t0 = Instant::now();
        let result = tokio::time::timeout(CLIENT_CAP, async {
            if self.conn.is_none() {
                self.conn = Some(Conn::connect(self.addr).await?);
            }
            let conn = self
                .conn
                .as_mut()
                .ok_or_else(|| anyhow::anyhow!("no connection"))?;
            conn.request(method, path, cookie.as_ref()).await
        })
        .await;
        let latency = t0.elapsed();
        let reply = match result {
            Ok(Ok(r)) => Some(r),
            _ => {
                self.conn = None;
                None
            }
        };
        self.rec.push(Sample {
            at,
            latency,
            status: reply.as_ref().map_or(0, |r| r.status.as_u16()),
        });
        reply
    }

    fn user_of(reply: &Reply) -> Option<String> {
        serde_json::from_slice::<serde_json::Value>(&reply.body)
            .ok()?
            .get("u")?
            .as_str()
            .map(str::to_owned)
    }

    /// Logs in until it works (or `stop`).
    async fn login(&mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let path = format!("/login?u={}", self.user);
            if let Some(r) = self.send(Method::POST, &path, self.cookie.clone()).await {
                if r.status.is_success() {
                    if let Some(c) = new_cookie(&r) {
                        self.cookie = c;
                    }
                    self.acked = 0;
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn inc(&mut self) -> bool {
        let Some(r) = self.send(Method::POST, "/inc", self.cookie.clone()).await else {
            return true;
        };
        if r.status == StatusCode::UNAUTHORIZED {
            if self.acked > 0 {
                self.ledger.sessions_lost += 1;
                self.ledger.lost_increments += self.acked;
            }
            self.cookie = None;
            return false;
        }
        if r.status.is_success() {
            if Self::user_of(&r).as_deref() != Some(self.user.as_str()) {
                self.ledger.foreign += 1;
            }
            let n = u64::try_from(r.n().unwrap_or(0)).unwrap_or(0);
            if n < self.acked + 1 {
                self.ledger.lost_increments += self.acked + 1 - n;
            }
            self.acked = n;
            self.ledger.acked += 1;
            if let Some(Some(c)) = new_cookie(&r) {
                self.cookie = Some(c);
            }
        }
        true
    }

    /// Reads the current session back (`GET /n`) and settles the ledger against it:
    /// `Some(true)` it is there (a count below `acked` is counted lost), `Some(false)` it
    /// is gone (counted as a lost session), `None` the store did not answer.
    async fn check(&mut self) -> Option<bool> {
        let r = self.send(Method::GET, "/n", self.cookie.clone()).await?;
        if r.status.is_success() {
            if Self::user_of(&r).as_deref() != Some(self.user.as_str()) {
                self.ledger.foreign += 1;
            }
            let n = u64::try_from(r.n().unwrap_or(0)).unwrap_or(0);
            self.ledger.lost_increments += self.acked.saturating_sub(n);
            self.acked = self.acked.max(n);
            Some(true)
        } else if r.status == StatusCode::UNAUTHORIZED {
            if self.acked > 0 && !self.logout_unsure {
                self.ledger.sessions_lost += 1;
                self.ledger.lost_increments += self.acked;
            }
            self.acked = 0;
            self.cookie = None;
            self.logout_unsure = false;
            Some(false)
        } else {
            None
        }
    }

    /// Logs out; whether that was acknowledged.
    async fn logout(&mut self) -> bool {
        let old = self.cookie.clone();
        let r = self.send(Method::POST, "/logout", old.clone()).await;
        if !r.as_ref().is_some_and(|r| r.status.is_success()) {
            self.logout_unsure = true;
            return false;
        }
        self.logout_unsure = false;
        self.ledger.logouts += 1;
        if let Some(old) = old {
            self.revoked.push(old);
        }
        self.cookie = None;
        self.acked = 0;
        true
    }

    /// The final check of the current session and of every logged-out cookie, retried
    /// until the store answers (at most `within`).
    async fn verify(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        if self.cookie.is_some() {
            while self.check().await.is_none() {
                if Instant::now() > deadline {
                    self.ledger.unverified += 1;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        for old in std::mem::take(&mut self.revoked) {
            loop {
                match self.send(Method::GET, "/n", Some(old.clone())).await {
                    Some(r) if r.status.is_success() => {
                        self.ledger.resurrected += 1;
                        break;
                    }
                    Some(r) if r.status == StatusCode::UNAUTHORIZED => break,
                    _ if Instant::now() > deadline => {
                        self.ledger.unverified += 1;
                        break;
                    }
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }
    }
}

/// A running load.
#[derive(Debug)]
pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Ledger>>,
    /// The samples.
    pub rec: Arc<Recorder>,
    /// When the load started (sample times count from here).
    pub start: Instant,
}

impl Load {
    /// Starts `cfg.clients` clients against `addr`; users are named `{tag}-{i}`.
    pub fn start(addr: SocketAddr, cfg: LoadConfig, tag: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let rec = Arc::new(Recorder::default());
        let start = Instant::now();
        let tasks = (0..cfg.clients)
            .map(|i| {
                let stop = stop.clone();
                let mut c = Client {
                    id: i,
                    user: format!("{tag}-{i}"),
                    addr,
                    conn: None,
                    cookie: None,
                    acked: 0,
                    logout_unsure: false,
                    revoked: Vec::new(),
                    ledger: Ledger::default(),
                    rec: rec.clone(),
                    start,
                };
                tokio::spawn(async move {
                    // Spread the clients' logouts over time.
                    let mut since_login = (c.id as u64 * 7) % cfg.logout_every.max(1);
                    c.login(&stop).await;
                    while !stop.load(Ordering::Relaxed) {
                        if since_login >= cfg.logout_every {
                            // Settle the ledger first (a login would start a new one),
                            // and log in again only once the logout was acknowledged.
                            let renew = match c.check().await {
                                Some(true) => c.logout().await,
                                Some(false) => true,
                                None => false,
                            };
                            if renew {
                                c.login(&stop).await;
                                since_login = 0;
                            }
                        } else if c.inc().await {
                            since_login += 1;
                        } else {
                            c.login(&stop).await;
                            since_login = 0;
                        }
                        tokio::time::sleep(cfg.think).await;
                    }
                    c.verify(Duration::from_secs(30)).await;
                    c.ledger
                })
            })
            .collect();
        Self {
            stop,
            tasks,
            rec,
            start,
        }
    }

    /// Stops the clients, runs their final checks and sums their ledgers.
    pub async fn finish(self) -> Ledger {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = Ledger::default();
        for t in self.tasks {
            if let Ok(l) = t.await {
                total.add(&l);
            }
        }
        total
    }
}
