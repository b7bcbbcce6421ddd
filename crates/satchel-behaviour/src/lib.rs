//! # satchel-behaviour: one HTTP behaviour suite for every satchel integration
//!
//! Every behaviour test is written once, as a generic `async fn` over an [`Integration`],
//! and instantiated for each integration with [`behaviour_tests!`]. An integration's adapter
//! (in this crate's `tests/`) only serves the [routes](#routes) over real HTTP on
//! `127.0.0.1:0`; every request goes through the same [`Server`] client, so the suite sees
//! exactly what a browser would and nothing framework-specific can creep into a test.
//!
//! ```text
//! struct Axum;
//! impl satchel_behaviour::Integration for Axum {
//!     fn serve(spec: satchel_behaviour::Spec) -> satchel_behaviour::Served { /* … */ }
//! }
//! satchel_behaviour::behaviour_tests!(Axum);
//! ```
//!
//! # Routes
//! Every adapter serves these, with the session middleware of [`Spec::engine`] (or none):
//!
//! | route | handler |
//! |---|---|
//! | `GET /read` | reads `n` (default 0), answers `{"n":n}` |
//! | `POST /write` | reads `n`, sleeps [`Spec::pause`], writes `n + 1`, answers `{"n":n+1}` |
//! | `GET /plain` | never touches the session, answers `no session here` |
//! | `POST /write-then-fail` | writes `n = 1000`, answers `500` `handler failed` |
//! | `POST /write-big` | writes `big` = [`BIG_VALUE_LEN`] `x`s, answers `big` |
//! | `GET /vary` | reads `n`, answers `ok` with its own `Vary: Accept-Encoding` |
//! | `GET /vary-cookie` | reads `n`, answers `ok` with its own `Vary: Origin, cookie` |
//! | `POST /login` | logs `alice` in, answers `{"owner":"alice"}` |
//! | `POST /logout` | logs out, answers `bye` |
//! | `GET /whoami` | answers `{"owner":<owner or null>}` |
//! | `POST /login-as/{user}` | logs `user` in, then reads `n`, answers `{"owner":user,"n":n}` |
//! | `POST /login-pending/{user}` | `login_pending(user, "totp")`, answers `{"pending":user}` |
//! | `POST /second-factor` | `complete_login()`, answers `{"owner":<owner or null>}` |
//! | `GET /me` | the `Authenticated` extractor, answers `{"owner":owner}` |
//! | `POST /sensitive` | `Authenticated` + `requires_recent_auth(`[`RECENT_AUTH`]`)`: `done`, or the refusal's status with the body `confirm your password` |
//! | `POST /reauth` | `Authenticated`, then `reauthenticated()`, answers `ok` |
//!
//! Handlers return the integration's `Error` type through `?` on every session call.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use satchel::csrf::CsrfCheck;
use satchel::http_support::ErrorStatuses;
use satchel::{Engine, Instrumented, MemoryStore, SessionConfig, SessionId};
use serde_json::{json, Value};

/// The length of the value `POST /write-big` stores: enough to need two sealed-cookie
/// chunks.
pub const BIG_VALUE_LEN: usize = 5000;

/// How recent `POST /sensitive` wants the last authentication.
pub const RECENT_AUTH: Duration = Duration::from_secs(60);

/// What an adapter must serve.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The engine of the session middleware; `None`: serve the routes without it.
    pub engine: Option<Engine>,
    /// The statuses to configure on the middleware (through its own builder methods).
    pub statuses: ErrorStatuses,
    /// How long `POST /write` sleeps between its read and its write.
    pub pause: Duration,
    /// The cross-site request check to configure on the middleware; `None`: turned off.
    pub csrf: Option<CsrfCheck>,
}

impl Spec {
    /// `engine` with the default statuses and CSRF check, and no pause.
    pub fn new(engine: Option<Engine>) -> Self {
        Spec {
            engine,
            statuses: ErrorStatuses::default(),
            pause: Duration::ZERO,
            csrf: Some(CsrfCheck::default()),
        }
    }
}

/// A server an adapter started: its address, and whatever stops it when dropped.
#[allow(missing_debug_implementations)]
pub struct Served {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Dropped when the test's last [`Server`] goes: must stop the server.
    pub guard: Box<dyn Send + Sync>,
}

/// An integration under test: starts the [routes](crate#routes) for a [`Spec`].
pub trait Integration {
    /// Binds `127.0.0.1:0` and serves the routes (called inside a tokio runtime).
    fn serve(spec: Spec) -> Served;
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: String,
}

impl Reply {
    /// The whole `Set-Cookie` header, if exactly one was sent.
    pub fn set_cookie(&self) -> Option<&str> {
        let all = self.all("set-cookie");
        assert!(all.len() <= 1, "more than one Set-Cookie: {all:?}");
        all.first().copied()
    }

    /// The `name=value` part of the `Set-Cookie` header, if any.
    pub fn cookie(&self) -> Option<String> {
        self.set_cookie()
            .and_then(|v| v.split(';').next())
            .map(str::to_owned)
    }

    /// Whether the response tells the browser to drop the session cookie.
    pub fn removes_cookie(&self) -> bool {
        self.set_cookie()
            .is_some_and(|c| c.starts_with("id=;") && c.contains("Max-Age=0"))
    }

    /// The single value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(all.len() <= 1, "more than one {name}: {all:?}");
        all.first().copied()
    }

    /// Every value of header `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().expect("ASCII header"))
            .collect()
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// `n` of a `{"n":…}` body.
    pub fn n(&self) -> i64 {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.body);
        self.json()["n"].as_i64().expect("n")
    }
}

/// A keep-alive HTTP/1.1 client of one served integration. Clones share connections;
/// the server stops when the last clone is dropped.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Server {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    _guard: Arc<Box<dyn Send + Sync>>,
}

impl Server {
    /// Serves `spec` with integration `I`.
    pub fn start<I: Integration>(spec: Spec) -> Self {
        let served = I::serve(spec);
        Server {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{}", served.addr),
            _guard: Arc::new(served.guard),
        }
    }

    /// Sends a request with an optional `Cookie` header and reads the whole response.
    pub async fn send(&self, method: Method, path: &str, cookie: Option<&str>) -> Reply {
        self.send_with(method, path, cookie, &[]).await
    }

    /// [`Server::send`] with further request headers (`Origin`, `Sec-Fetch-Site`, …).
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.body(Full::new(Bytes::new())).expect("request");
        let res = self.client.request(req).await.expect("request failed");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// The server's own origin, as a browser on one of its pages sends it
    /// (`http://127.0.0.1:PORT`).
    pub fn origin(&self) -> &str {
        &self.base
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        self.send(Method::GET, path, cookie).await
    }

    /// `POST path`.
    pub async fn post(&self, path: &str, cookie: Option<&str>) -> Reply {
        self.send(Method::POST, path, cookie).await
    }

    /// `POST /write` without a cookie: a new session with `n = 1`; returns its cookie.
    pub async fn new_session(&self) -> String {
        let r = self.post("/write", None).await;
        assert_eq!(r.n(), 1);
        r.cookie().expect("a new session sets a cookie")
    }
}

/// Plain-HTTP cookies (no `Secure`): the suite's default configuration.
pub fn insecure_config() -> SessionConfig {
    SessionConfig::builder()
        .dangerous_insecure_cookies()
        .build()
        .expect("config")
}

/// A counted, failable memory store and a server with default statuses and no pause.
pub fn setup<I: Integration>() -> (Server, Instrumented<MemoryStore>) {
    setup_with::<I>(insecure_config(), ErrorStatuses::default(), Duration::ZERO)
}

/// [`setup`] with a given configuration, statuses and `/write` pause.
pub fn setup_with<I: Integration>(
    config: SessionConfig,
    statuses: ErrorStatuses,
    pause: Duration,
) -> (Server, Instrumented<MemoryStore>) {
    let store = Instrumented::new(MemoryStore::new());
    let server = Server::start::<I>(Spec {
        statuses,
        pause,
        ..Spec::new(Some(Engine::new(store.clone(), config)))
    });
    (server, store)
}

// --- the behaviour, written once ---------------------------------------------------------

/// New sessions get the cookie with `Cache-Control: no-store` and `Vary: Cookie`; reads vary
/// on the cookie without setting it; an existing `Vary` is extended, not replaced.
pub async fn new_sessions_get_cookie_and_cache_headers<I: Integration>() {
    let (server, _) = setup::<I>();
    let r = server.post("/write", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let set_cookie = r.set_cookie().expect("Set-Cookie");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"));
    assert!(!set_cookie.contains("Secure"), "configured off");
    assert_eq!(r.header("cache-control"), Some("no-store")); // SEC-38
    assert_eq!(r.all("vary"), ["Cookie"]);
    let cookie = r.cookie().expect("cookie");
    let r = server.get("/read", Some(&cookie)).await;
    assert_eq!(r.n(), 1);
    assert_eq!(r.set_cookie(), None);
    assert_eq!(r.header("cache-control"), None);
    assert_eq!(r.all("vary"), ["Cookie"]);
    let r = server.get("/vary", Some(&cookie)).await;
    assert_eq!(r.all("vary"), ["Accept-Encoding", "Cookie"]);
    let r = server.get("/vary-cookie", Some(&cookie)).await;
    assert_eq!(
        r.all("vary"),
        ["Origin, cookie"],
        "already varies on the cookie"
    );
}

/// The default configuration's cookie: a 43-character id, `HttpOnly; SameSite=Lax; Secure;
/// Path=/`, no `Max-Age`, `Expires` or `Domain` (a browser-session cookie).
pub async fn secure_cookie_attributes<I: Integration>() {
    let config = SessionConfig::default();
    let (server, _) = setup_with::<I>(config, ErrorStatuses::default(), Duration::ZERO);
    let r = server.post("/write", None).await;
    let set_cookie = r.set_cookie().expect("Set-Cookie");
    let mut parts: Vec<&str> = set_cookie.split("; ").collect();
    let pair = parts.remove(0);
    let id = pair.strip_prefix("id=").expect("cookie name id");
    assert_eq!(id.len(), satchel::ENCODED_ID_LEN);
    parts.sort_unstable();
    assert_eq!(parts, ["HttpOnly", "Path=/", "SameSite=Lax", "Secure"]);
}

/// Lazy loading and patches: a route that ignores the session costs nothing, a read one
/// `load`, a read-then-write one `load` and one `apply` (a patch, never a `create`), and an
/// anonymous visitor who stores nothing is never stored.
pub async fn store_calls_are_minimal<I: Integration>() {
    let (server, store) = setup::<I>();
    let r = server.get("/read", None).await;
    assert_eq!(r.n(), 0);
    assert_eq!(r.set_cookie(), None, "nothing stored, nothing set");
    assert_eq!(store.calls().total(), 0, "an anonymous read costs nothing");
    let cookie = server.new_session().await;
    assert_eq!((store.calls().create, store.calls().total()), (1, 1));

    let before = store.calls();
    let r = server.get("/plain", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, "no session here");
    assert!(r.headers.get("vary").is_none() && r.headers.get("set-cookie").is_none());
    assert_eq!(store.calls(), before, "no store call for /plain");

    assert_eq!(server.get("/read", Some(&cookie)).await.n(), 1);
    let after_read = store.calls();
    assert_eq!(after_read.load, before.load + 1);
    assert_eq!(
        after_read.writes(),
        before.writes(),
        "a read writes nothing"
    );

    assert_eq!(server.post("/write", Some(&cookie)).await.n(), 2);
    let after_write = store.calls();
    assert_eq!(after_write.load, after_read.load + 1);
    assert_eq!(after_write.apply, after_read.apply + 1);
    assert_eq!(
        after_write.create, after_read.create,
        "a patch, not a new record"
    );
    assert_eq!(after_write.total(), after_read.total() + 2);
}

/// Strict mode: a well-formed but unknown id is never adopted. A read clears the cookie; a
/// write starts a brand-new session under a fresh id.
pub async fn unknown_ids_are_not_adopted<I: Integration>() {
    let (server, _) = setup::<I>();
    let unknown = format!("id={}", SessionId::generate().encode());
    let r = server.get("/read", Some(&unknown)).await;
    assert_eq!(r.n(), 0);
    assert!(r.removes_cookie(), "{:?}", r.set_cookie());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let r = server.post("/write", Some(&unknown)).await;
    assert_eq!(r.n(), 1);
    let fresh = r.cookie().expect("a new session");
    assert_ne!(fresh, unknown, "the unknown id was adopted");
    assert_eq!(server.get("/read", Some(&unknown)).await.n(), 0);
    assert_eq!(server.get("/read", Some(&fresh)).await.n(), 1);
}

/// A store outage answers 503 with `Retry-After`, `Cache-Control: no-store`, no cookie and an
/// empty body, on the routes that use the session only; after it, the session is intact.
pub async fn store_outage_fails_closed_with_503<I: Integration>() {
    let (server, store) = setup::<I>();
    let cookie = server.new_session().await;
    store.fail_reads(true);
    let r = server.get("/read", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.set_cookie(), None);
    assert_eq!(
        r.body, "",
        "no internal detail, not even the handler's error body"
    );
    assert_eq!(
        server.get("/plain", Some(&cookie)).await.status,
        StatusCode::OK
    );
    store.fail_reads(false);

    store.fail_writes(true);
    let r = server.post("/write", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        r.set_cookie(),
        None,
        "no cookie for a session that was not saved"
    );
    let r = server.post("/write", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.body, "");
    let r = server.post("/login", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.set_cookie(), None, "no new id when the rotation failed");
    store.fail_writes(false);

    // The engine's circuit breaker answers 503 at once until its next probe (~100 ms).
    let r = until_the_store_answers(&server, &cookie).await;
    assert_eq!(r.n(), 1, "recovered, with what was saved before the outage");
}

/// `GET /read` until the store answers again (the circuit breaker's probe gets through),
/// within a few seconds; the last reply.
async fn until_the_store_answers(server: &Server, cookie: &str) -> Reply {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = server.get("/read", Some(cookie)).await;
        if r.status == StatusCode::OK || std::time::Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The middleware's status settings: a store failure answered with a configured 500 has no
/// `Retry-After`; a write racing a logout gets the configured conflict status, no cookie, and
/// never brings the session back.
pub async fn configured_error_statuses<I: Integration>() {
    let statuses = ErrorStatuses {
        store: 500,
        conflict: 412,
    };
    let pause = Duration::from_secs(1);
    let (server, store) = setup_with::<I>(insecure_config(), statuses, pause);
    let cookie = server
        .post("/login", None)
        .await
        .cookie()
        .expect("a session");
    store.fail_reads(true);
    let r = server.get("/read", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.header("retry-after"), None);
    assert_eq!(r.set_cookie(), None);
    store.fail_reads(false);
    assert_eq!(
        until_the_store_answers(&server, &cookie).await.status,
        StatusCode::OK
    );

    // The write loads the session, then sleeps; the logout deletes it meanwhile.
    let loads = store.calls().load;
    let slow = {
        let server = server.clone();
        let cookie = cookie.clone();
        tokio::spawn(async move { server.post("/write", Some(&cookie)).await })
    };
    while store.calls().load == loads {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let logout = server.post("/logout", Some(&cookie)).await;
    assert_eq!(logout.status, StatusCode::OK);
    let r = slow.await.expect("write");
    assert_eq!(r.status.as_u16(), 412, "{}", r.body);
    assert_eq!(r.set_cookie(), None);
    assert_eq!(r.body, "");
    let r = server.get("/read", Some(&cookie)).await;
    assert_eq!(r.n(), 0, "the late write did not resurrect the session");
}

/// Malformed, quoted, percent-encoded, duplicated and oversized cookies are ignored without
/// a single store call.
pub async fn hostile_cookies_never_reach_the_store<I: Integration>() {
    let (server, store) = setup::<I>();
    let a = SessionId::generate().encode();
    let b = SessionId::generate().encode();
    let long = "x".repeat(17 * 1024);
    let cases = [
        "id=".to_owned(),
        "id=short".to_owned(),
        format!("id={a}="),
        format!("id=\"{a}\""),
        format!("id={a}; id={b}"),
        format!("id={b}; id={a}"),
        format!("junk={long}; id={a}"),
        format!("id={}", a.replace(|c: char| c.is_ascii_alphabetic(), "%")),
    ];
    for cookie in &cases {
        let r = server.get("/read", Some(cookie)).await;
        assert_eq!(r.status, StatusCode::OK, "{cookie:.40}");
        assert_eq!(r.n(), 0);
    }
    assert_eq!(
        store.calls().total(),
        0,
        "SEC-4/SEC-13: no store call for bad cookies"
    );
}

/// A handler that writes and then answers 5xx saves nothing, and its own response goes out.
pub async fn handler_errors_save_nothing<I: Integration>() {
    let (server, store) = setup::<I>();
    let cookie = server.new_session().await;
    let writes = store.calls().writes();
    let r = server.post("/write-then-fail", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.body, "handler failed");
    assert_eq!(r.set_cookie(), None);
    assert_eq!(
        store.calls().writes(),
        writes,
        "SEC-39: a 5xx handler writes nothing"
    );
    let r = server.post("/write-then-fail", None).await;
    assert_eq!(
        r.set_cookie(),
        None,
        "no session created for a failed request"
    );
    assert_eq!(store.calls().writes(), writes);
    assert_eq!(server.get("/read", Some(&cookie)).await.n(), 1);
}

/// Login rotates the id in one store write (after one `load`: the route never read the
/// session, and the default `LoginData` policy needs the previous owner), keeps the
/// anonymous visitor's data, binds the owner; the old cookie is anonymous from then on.
pub async fn login_rotates_the_id<I: Integration>() {
    let (server, store) = setup::<I>();
    let old = server.new_session().await;
    let before = store.calls();
    let r = server.post("/login", Some(&old)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["owner"], "alice");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let new = r.cookie().expect("a new id");
    assert_ne!(new, old);
    let after = store.calls();
    assert_eq!(
        (after.load, after.rotate, after.total()),
        (before.load + 1, before.rotate + 1, before.total() + 2)
    );

    assert_eq!(
        server.get("/whoami", Some(&new)).await.json()["owner"],
        "alice"
    );
    assert_eq!(server.get("/read", Some(&new)).await.n(), 1, "data kept");
    assert_eq!(
        server.get("/whoami", Some(&old)).await.json()["owner"],
        Value::Null
    );
    let r = server.get("/read", Some(&old)).await;
    assert_eq!(r.n(), 0);
    assert!(r.removes_cookie(), "the stale cookie is cleared");

    // Logging in without a session creates one, bound to the owner.
    let r = server.post("/login", None).await;
    let fresh = r.cookie().expect("a session for the login");
    assert_eq!(
        server.get("/whoami", Some(&fresh)).await.json(),
        json!({"owner": "alice"})
    );
}

/// Logout deletes the session server-side and clears the cookie; replaying the old cookie
/// finds nothing.
pub async fn logout_clears_the_session<I: Integration>() {
    let (server, store) = setup::<I>();
    let cookie = server.new_session().await;
    let r = server.post("/login", Some(&cookie)).await;
    let cookie = r.cookie().expect("logged in");
    let before = store.calls();
    let r = server.post("/logout", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, "bye");
    assert!(r.removes_cookie(), "{:?}", r.set_cookie());
    let removal = r.set_cookie().expect("removal");
    assert!(
        removal.contains("Path=/") && removal.contains("HttpOnly"),
        "{removal}"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.all("vary"), ["Cookie"]);
    let after = store.calls();
    assert_eq!(
        (after.delete, after.total()),
        (before.delete + 1, before.total() + 1)
    );

    assert_eq!(
        server.get("/whoami", Some(&cookie)).await.json()["owner"],
        Value::Null
    );
    assert_eq!(server.get("/read", Some(&cookie)).await.n(), 0);
    // Logging out without a session sets nothing.
    let r = server.post("/logout", None).await;
    assert_eq!((r.status, r.set_cookie()), (StatusCode::OK, None));
}

/// The same flow on a plain MemoryStore engine, whose saves the integrations run on the
/// spot (`Engine::finish_now`) rather than through a future: writes, reads, headers, login
/// and logout behave as on any other store.
pub async fn in_process_store_round_trip<I: Integration>() {
    let server = Server::start::<I>(Spec::new(Some(Engine::new(
        MemoryStore::new(),
        insecure_config(),
    ))));
    let cookie = server.new_session().await; // n = 1
    for n in 2..=3 {
        let r = server.post("/write", Some(&cookie)).await;
        assert_eq!((r.status, r.n()), (StatusCode::OK, n));
        assert_eq!(r.set_cookie(), None, "an update keeps the cookie");
        assert_eq!(r.all("vary"), ["Cookie"]);
    }
    assert_eq!(server.get("/read", Some(&cookie)).await.n(), 3);
    let r = server.post("/login", Some(&cookie)).await;
    let new = r.cookie().expect("a new id");
    assert_ne!(new, cookie);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(server.get("/read", Some(&new)).await.n(), 3, "data kept");
    let r = server.post("/logout", Some(&new)).await;
    assert!(r.removes_cookie());
    assert_eq!(server.get("/read", Some(&new)).await.n(), 0);
    assert_eq!(
        server.get("/whoami", Some(&new)).await.json()["owner"],
        Value::Null
    );
}

/// Issue 19 item 8: a login keeps an anonymous visitor's data (a cart survives) and a
/// re-login's, but a login as a different owner starts from empty data: bob's `n` never
/// becomes carol's, whether the login route read the session first (`/login-as`) or not
/// (`/login`). On a server-side store and on sealed cookies alike.
pub async fn login_as_another_owner_clears_the_data<I: Integration>() {
    let (server, _) = setup::<I>();
    login_data_flow(&server, |r: &Reply| r.cookie().expect("a cookie")).await;
    let keyring =
        satchel_cookie::Keyring::new(1, b"Tz7uQ2m9Xc4VbL8pR1sK6dF3gH0jNwYe").expect("key");
    let sealed = Server::start::<I>(Spec::new(Some(Engine::stateless(
        satchel::Stateless::new(keyring),
        insecure_config(),
    ))));
    login_data_flow(&sealed, cookie_jar).await;
}

async fn login_data_flow(server: &Server, jar: impl Fn(&Reply) -> String) {
    let anonymous = jar(&server.post("/write", None).await); // n = 1
    let r = server.post("/login-as/bob", Some(&anonymous)).await;
    assert_eq!(
        r.json(),
        json!({"owner": "bob", "n": 1}),
        "the cart survives"
    );
    let bob = jar(&r);
    let r = server.post("/write", Some(&bob)).await;
    assert_eq!(r.n(), 2);
    // A sealed cookie carries the data: a write sends a new one.
    let bob = if r.all("set-cookie").is_empty() {
        bob
    } else {
        jar(&r)
    };
    let r = server.post("/login-as/bob", Some(&bob)).await;
    assert_eq!(
        r.json(),
        json!({"owner": "bob", "n": 2}),
        "a re-login keeps it"
    );
    let bob = jar(&r);
    let r = server.post("/login-as/carol", Some(&bob)).await;
    assert_eq!(
        r.json(),
        json!({"owner": "carol", "n": 0}),
        "bob's n became carol's n"
    );
    let carol = jar(&r);
    assert_eq!(server.get("/read", Some(&carol)).await.n(), 0);
    let r = server.post("/write", Some(&carol)).await;
    assert_eq!(r.n(), 1);
    let carol = if r.all("set-cookie").is_empty() {
        carol
    } else {
        jar(&r)
    };
    // A blind login (the route never reads): the engine learns the owner itself.
    let alice = jar(&server.post("/login", Some(&carol)).await);
    assert_eq!(
        server.get("/whoami", Some(&alice)).await.json()["owner"],
        "alice"
    );
    assert_eq!(server.get("/read", Some(&alice)).await.n(), 0, "carol's n");
}

/// Issue 19 item 9: every error response carries `Cache-Control: no-store` and
/// `Vary: Cookie`, as the response it replaces would have: a session too large to save
/// (found at save time, or by the handler's `insert`), a store outage on a login that never
/// read the session, and a handler's own 5xx after it wrote to the session.
pub async fn error_responses_carry_the_cache_headers<I: Integration>() {
    let assert_error_headers = |r: &Reply, status: u16, what: &str| {
        assert_eq!(r.status.as_u16(), status, "{what}: {}", r.body);
        assert_eq!(r.set_cookie(), None, "{what}");
        assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
        assert_eq!(r.all("vary"), ["Cookie"], "{what}");
    };
    // `big` alone fits in 5005 bytes (3 + 5002), not next to `n`.
    let limit = |bytes| {
        SessionConfig::builder()
            .dangerous_insecure_cookies()
            .max_data_bytes(bytes)
            .build()
            .expect("config")
    };
    let (server, store) = setup_with::<I>(limit(5005), ErrorStatuses::default(), Duration::ZERO);
    let cookie = server.new_session().await;
    let r = server.post("/write-big", Some(&cookie)).await;
    assert_error_headers(&r, 500, "too large at save");
    let r = server.post("/write-then-fail", Some(&cookie)).await;
    assert_error_headers(&r, 500, "the handler's own 500");
    store.fail_writes(true);
    let r = server.post("/login", Some(&cookie)).await;
    assert_error_headers(&r, 503, "store outage");
    store.fail_writes(false);
    let (server, _) = setup_with::<I>(limit(5004), ErrorStatuses::default(), Duration::ZERO);
    let r = server.post("/write-big", None).await;
    assert_error_headers(&r, 500, "too large for insert");
    assert_eq!(r.body, "Internal Server Error");
}

/// Issue 19 item 5: an unsafe request from another site is refused with 403 before the
/// handler runs: no store call, no cookie, the error headers. Cross-site logins (login
/// CSRF) and writes with a victim's cookie change nothing; the same requests from the
/// site's own pages, safe methods from anywhere and clients that send neither `Origin` nor
/// `Sec-Fetch-Site` go through.
pub async fn cross_site_unsafe_requests_are_refused<I: Integration>() {
    let (server, store) = setup::<I>();
    let evil = [
        vec![("origin", "https://evil.example")],
        vec![
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![("origin", "null")],
    ];
    for headers in &evil {
        let r = server
            .send_with(Method::POST, "/login", None, headers)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{headers:?}: {}", r.body);
        assert_eq!(r.set_cookie(), None, "{headers:?}");
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.all("vary"), ["Cookie"]);
        assert_eq!(r.body, "");
    }
    assert_eq!(store.calls().total(), 0, "refused before the session layer");

    let cookie = server.new_session().await; // n = 1
    let before = store.calls();
    let r = server
        .send_with(Method::POST, "/write", Some(&cookie), &evil[1])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = server
        .send_with(Method::POST, "/logout", Some(&cookie), &evil[0])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(store.calls(), before, "no handler ran, no store call");
    assert_eq!(server.get("/read", Some(&cookie)).await.n(), 1);

    let origin = server.origin().to_owned();
    let own = [
        vec![("origin", origin.as_str())],
        vec![
            ("origin", origin.as_str()),
            ("sec-fetch-site", "same-origin"),
        ],
        vec![("sec-fetch-site", "same-origin")],
        vec![("sec-fetch-site", "none")],
        vec![],
    ];
    for headers in &own {
        let r = server
            .send_with(Method::POST, "/login", None, headers)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{headers:?}: {}", r.body);
        assert!(r.cookie().is_some(), "{headers:?}: logged in");
    }
    let r = server
        .send_with(Method::GET, "/read", Some(&cookie), &evil[1])
        .await;
    assert_eq!(r.n(), 1, "safe methods pass from anywhere");
}

/// The CSRF check's settings through the middleware: a trusted origin and same-site
/// requests when allowed pass; strict mode refuses clients without browser headers; a
/// middleware with the check off lets a cross-site login through (the old behaviour).
pub async fn csrf_check_settings<I: Integration>() {
    let engine = || Some(Engine::new(MemoryStore::new(), insecure_config()));
    let check = CsrfCheck::default()
        .trusted_origin("https://admin.example")
        .allow_same_site(true)
        .require_browser_headers(true);
    let server = Server::start::<I>(Spec {
        csrf: Some(check),
        ..Spec::new(engine())
    });
    let post = |headers: &'static [(&'static str, &'static str)]| {
        let server = server.clone();
        async move {
            server
                .send_with(Method::POST, "/login", None, headers)
                .await
                .status
        }
    };
    assert_eq!(
        post(&[
            ("origin", "https://admin.example"),
            ("sec-fetch-site", "cross-site")
        ])
        .await,
        StatusCode::OK
    );
    assert_eq!(
        post(&[("sec-fetch-site", "same-site")]).await,
        StatusCode::OK
    );
    assert_eq!(
        post(&[("origin", "https://evil.example")]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(post(&[]).await, StatusCode::FORBIDDEN, "strict mode");

    let off = Server::start::<I>(Spec {
        csrf: None,
        ..Spec::new(engine())
    });
    let r = off
        .send_with(
            Method::POST,
            "/login",
            None,
            &[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.cookie().is_some());
}

/// The extractor without the middleware is a 500 with a generic body, not a panic.
pub async fn missing_middleware_is_a_500<I: Integration>() {
    let server = Server::start::<I>(Spec::new(None));
    let r = server.get("/read", None).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.body, "Internal Server Error");
    assert_eq!(server.get("/plain", None).await.status, StatusCode::OK);
}

/// The `name=value` pairs of every non-removal `Set-Cookie`, joined into a `Cookie` header
/// (what a browser would send back after this response, given nothing else).
pub fn cookie_jar(reply: &Reply) -> String {
    reply
        .all("set-cookie")
        .into_iter()
        .filter(|c| !c.contains("Max-Age=0"))
        .filter_map(|c| c.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Stateless sessions sealed into cookies (satchel-cookie) through the same middleware:
/// writes re-seal, reads send nothing, login rotates, a record too big for one cookie is
/// split across two `Set-Cookie` headers, logout removes both chunks and a replay of the
/// old cookies is rejected (in-memory revocation), a failed handler sets nothing.
pub async fn sealed_cookie_sessions<I: Integration>() {
    use satchel::sealed::MemoryRevocations;
    let keyring =
        satchel_cookie::Keyring::new(1, b"q3N1c0y4dWq0zZ8mJb5mF+X9vW1dQyQK").expect("key");
    let engine = Engine::stateless(
        satchel::Stateless::new(keyring).revocations(MemoryRevocations::new()),
        insecure_config(),
    );
    let server = Server::start::<I>(Spec::new(Some(engine)));
    let r = server.post("/write", None).await;
    assert_eq!((r.status, r.n()), (StatusCode::OK, 1));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let cookie = cookie_jar(&r);
    let r = server.get("/read", Some(&cookie)).await;
    assert_eq!(
        (r.n(), r.all("set-cookie").len()),
        (1, 0),
        "reads send nothing"
    );
    let r = server.post("/login", Some(&cookie)).await;
    let cookie = cookie_jar(&r);
    assert_eq!(
        server.get("/whoami", Some(&cookie)).await.json()["owner"],
        "alice"
    );

    let r = server.post("/write-big", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.all("set-cookie").len(), 2, "two chunks");
    let big = cookie_jar(&r);
    assert!(big.contains("id.1="), "{}", &big[..20]);
    assert_eq!(server.get("/read", Some(&big)).await.n(), 1);

    let r = server.post("/write-then-fail", Some(&big)).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.all("set-cookie").is_empty());

    let r = server.post("/logout", Some(&big)).await;
    let removals = r.all("set-cookie");
    assert_eq!(removals.len(), 2, "both chunks removed");
    assert!(removals.iter().all(|c| c.contains("Max-Age=0")));
    let r = server.get("/whoami", Some(&big)).await;
    assert_eq!(
        r.json()["owner"],
        Value::Null,
        "replayed cookies after logout"
    );
}

/// Ten clients share one cookie and race 100 increments: every increment answered 200 is
/// counted exactly once, the others get a 409 without a cookie.
/// (Measured on peers: tower-sessions on Redis ended at n = 80, actix-session at 59,
/// express-session at 23–28, all requests answered 200.)
pub async fn shared_cookie_increments_are_never_lost<I: Integration>() {
    let engine = Engine::new(MemoryStore::new(), insecure_config());
    shared_cookie_race::<I>(engine).await;
}

/// The shared-cookie race of [`shared_cookie_increments_are_never_lost`] over `engine`, so
/// every store can be put through it: 10 clients × 10 increments, final `n` equal to the
/// number of `200`s, the rest `409` without a cookie.
pub async fn shared_cookie_race<I: Integration>(engine: Engine) {
    // A pause between read and write makes the race window real, as a slow handler would.
    let server = Server::start::<I>(Spec {
        pause: Duration::from_millis(3),
        ..Spec::new(Some(engine))
    });
    let cookie = server.new_session().await;
    let clients: Vec<_> = (0..10)
        .map(|_| {
            let server = server.clone();
            let cookie = cookie.clone();
            tokio::spawn(async move {
                let (mut ok, mut conflict) = (0u64, 0u64);
                for _ in 0..10 {
                    let r = server.post("/write", Some(&cookie)).await;
                    match r.status {
                        StatusCode::OK => ok += 1,
                        StatusCode::CONFLICT => {
                            assert_eq!(r.set_cookie(), None, "no Set-Cookie on a conflict");
                            conflict += 1;
                        }
                        other => panic!("unexpected status {other}: {}", r.body),
                    }
                }
                (ok, conflict)
            })
        })
        .collect();
    let (mut ok, mut conflicts) = (0, 0);
    for c in clients {
        let (o, k) = c.await.expect("client");
        ok += o;
        conflicts += k;
    }
    assert_eq!(ok + conflicts, 100);
    let n = server.get("/read", Some(&cookie)).await.n();
    // +1 for the request that created the session.
    assert_eq!(
        n,
        i64::try_from(ok).expect("small") + 1,
        "{ok} ok, {conflicts} conflicts"
    );
    assert!(
        conflicts > 0,
        "the race never happened; the test proved nothing"
    );
}

/// A server over a memory store whose engine reads `clock`, with `config`.
fn setup_clocked<I: Integration>(config: SessionConfig, clock: &satchel::TestClock) -> Server {
    let engine = Engine::with_clock(MemoryStore::new(), config, clock.clone());
    Server::start::<I>(Spec::new(Some(engine)))
}

/// SEC-20: a login records when the owner authenticated; `requires_recent_auth` refuses a
/// sensitive action once that is older than allowed, with a typed refusal the handler turns
/// into its own page (default status 401, configurable); `reauthenticated()` makes it
/// recent again and rotates the id.
pub async fn step_up_authentication<I: Integration>() {
    let clock = satchel::TestClock::new(satchel::Timestamp::from_millis(1_000_000));
    let server = setup_clocked::<I>(insecure_config(), &clock);

    let r = server.get("/me", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "anonymous: {}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(server.post("/sensitive", None).await.status, 401);

    let login = server
        .post("/login", None)
        .await
        .cookie()
        .expect("login cookie");
    assert_eq!(
        server.get("/me", Some(&login)).await.json()["owner"],
        "alice"
    );
    clock.advance(RECENT_AUTH);
    let r = server.post("/sensitive", Some(&login)).await;
    assert_eq!(
        (r.status.as_u16(), r.body.as_str()),
        (200, "done"),
        "at the limit"
    );

    clock.advance(Duration::from_millis(1));
    let r = server.post("/sensitive", Some(&login)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body, "confirm your password");
    // Still logged in: only the step-up is refused.
    assert_eq!(
        server.get("/me", Some(&login)).await.json()["owner"],
        "alice"
    );

    let r = server.post("/reauth", Some(&login)).await;
    assert_eq!(r.status, StatusCode::OK);
    let fresh = r.cookie().expect("reauthentication rotates the id");
    assert_ne!(fresh, login);
    assert_eq!(server.post("/sensitive", Some(&fresh)).await.body, "done");
    assert_eq!(
        server.get("/me", Some(&login)).await.status,
        StatusCode::UNAUTHORIZED,
        "the id before the reauthentication is dead"
    );

    // The statuses are configurable.
    let config = SessionConfig::builder()
        .dangerous_insecure_cookies()
        .auth_statuses(satchel::auth::AuthStatuses {
            unauthenticated: 403,
            reauthenticate: 428,
        })
        .build()
        .expect("config");
    let server = setup_clocked::<I>(config, &clock);
    assert_eq!(server.get("/me", None).await.status.as_u16(), 403);
    let login = server
        .post("/login", None)
        .await
        .cookie()
        .expect("login cookie");
    clock.advance(RECENT_AUTH * 2);
    let r = server.post("/sensitive", Some(&login)).await;
    assert_eq!(
        (r.status.as_u16(), r.body.as_str()),
        (428, "confirm your password")
    );
}

/// SEC-20: a login waiting for its second factor is nobody's: not logged in for `owner()`,
/// refused by `Authenticated`, even when it started from a logged-in session (whose owner
/// it unbinds). Completing it rotates the id again and binds the owner; the pending id is
/// dead afterwards; the previous owner's data is not handed to the new one.
pub async fn pending_logins_are_never_logged_in<I: Integration>() {
    let clock = satchel::TestClock::new(satchel::Timestamp::from_millis(1_000_000));
    let server = setup_clocked::<I>(insecure_config(), &clock);

    let alice = server.post("/login", None).await.cookie().expect("alice");
    let r = server.post("/write", Some(&alice)).await;
    assert_eq!(r.n(), 1);
    let alice = r.cookie().unwrap_or(alice);

    let r = server.post("/login-pending/bob", Some(&alice)).await;
    assert_eq!(r.status, StatusCode::OK);
    let pending = r.cookie().expect("a pending login rotates the id");
    assert_ne!(pending, alice);
    assert_eq!(
        server.get("/whoami", Some(&pending)).await.json()["owner"],
        Value::Null
    );
    let r = server.get("/me", Some(&pending)).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "pending is not logged in"
    );
    assert_eq!(server.post("/sensitive", Some(&pending)).await.status, 401);
    assert_eq!(server.post("/reauth", Some(&pending)).await.status, 401);
    assert_eq!(
        server.get("/me", Some(&alice)).await.status,
        StatusCode::UNAUTHORIZED,
        "alice's id rotated away"
    );

    let r = server.post("/second-factor", Some(&pending)).await;
    assert_eq!(r.json()["owner"], "bob");
    let bob = r.cookie().expect("completing rotates the id");
    assert_ne!(bob, pending);
    assert_eq!(server.get("/me", Some(&bob)).await.json()["owner"], "bob");
    assert_eq!(server.post("/sensitive", Some(&bob)).await.body, "done");
    assert_eq!(
        server.get("/read", Some(&bob)).await.n(),
        0,
        "alice's data is not bob's"
    );
    assert_eq!(
        server.get("/me", Some(&pending)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Nothing pending: completing changes nothing.
    let r = server.post("/second-factor", Some(&bob)).await;
    assert_eq!(r.json()["owner"], Value::Null);
    assert_eq!(r.cookie(), None);
    assert_eq!(server.get("/me", Some(&bob)).await.json()["owner"], "bob");
}

/// Instantiates every behaviour test for one [`Integration`], as `#[tokio::test]`s named
/// after the functions of this crate.
#[macro_export]
macro_rules! behaviour_tests {
    ($integration:ty) => {
        $crate::behaviour_tests!(@each $integration;
            new_sessions_get_cookie_and_cache_headers,
            secure_cookie_attributes,
            store_calls_are_minimal,
            unknown_ids_are_not_adopted,
            store_outage_fails_closed_with_503,
            configured_error_statuses,
            hostile_cookies_never_reach_the_store,
            handler_errors_save_nothing,
            login_rotates_the_id,
            logout_clears_the_session,
            missing_middleware_is_a_500,
            shared_cookie_increments_are_never_lost,
            sealed_cookie_sessions,
            in_process_store_round_trip,
            login_as_another_owner_clears_the_data,
            error_responses_carry_the_cache_headers,
            cross_site_unsafe_requests_are_refused,
            csrf_check_settings,
            step_up_authentication,
            pending_logins_are_never_logged_in,
        );
    };
    (@each $integration:ty; $($name:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::$name::<$integration>().await;
            }
        )*
    };
}
