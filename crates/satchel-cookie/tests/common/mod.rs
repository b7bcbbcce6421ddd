//! A tiny cookie jar and engine setup shared by the sealed-session tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::time::Duration;

use satchel::sealed::MemoryRevocations;
use satchel::{Engine, Finish, Session, SessionConfig, Stateless, TestClock};
use satchel_cookie::Keyring;

/// A generated secret (`openssl rand -hex 16`): weak ones are refused.
pub const SECRET: [u8; 32] = *b"9f86d081884c7d659a2feaa0c55ad015";
/// Another one, for rotation tests.
pub const OTHER_SECRET: [u8; 32] = *b"60303ae22b998861bce3b28f33eec1be";

pub fn keyring() -> Keyring {
    Keyring::new(1, &SECRET).expect("valid secret")
}

pub fn config() -> SessionConfig {
    SessionConfig::builder()
        .idle_timeout(Duration::from_secs(600))
        .absolute_timeout(Duration::from_secs(3600))
        .build()
        .expect("valid config")
}

/// A stateless engine with in-memory revocation and a test clock.
pub fn engine() -> (Engine, TestClock) {
    engine_with(Stateless::new(keyring()).revocations(MemoryRevocations::new()))
}

pub fn engine_with(stateless: Stateless) -> (Engine, TestClock) {
    let clock = TestClock::default();
    (
        Engine::stateless_with_clock(stateless, config(), clock.clone()),
        clock,
    )
}

/// What a browser keeps: name → value, updated from `Set-Cookie` lines.
#[derive(Debug, Default, Clone)]
pub struct Jar(pub BTreeMap<String, String>);

impl Jar {
    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn update(&mut self, finish: &Finish) {
        for line in finish.set_cookies() {
            assert!(
                line.split(';').next().map_or(0, str::len) <= 4096,
                "a browser would drop this cookie"
            );
            let pair = line.split(';').next().expect("pair");
            let (name, value) = pair.split_once('=').expect("name=value");
            if line.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    /// Runs one request: `handler` gets the session, the jar takes the response cookies.
    pub async fn request<F, Fut>(&mut self, engine: &Engine, handler: F) -> Finish
    where
        F: FnOnce(Session) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let header = self.header();
        let session = engine.begin([header.as_bytes()]);
        handler(session.clone()).await;
        let finish = engine.finish(&session, 200).await;
        self.update(&finish);
        finish
    }

    /// The value of `n` as this jar's session sees it.
    pub async fn n(&mut self, engine: &Engine) -> Option<i64> {
        let mut out = None;
        let header = self.header();
        let session = engine.begin([header.as_bytes()]);
        out = session.get::<i64>("n").await.expect("read").or(out);
        let finish = engine.finish(&session, 200).await;
        self.update(&finish);
        out
    }
}

pub async fn set_n(jar: &mut Jar, engine: &Engine, n: i64) -> Finish {
    jar.request(
        engine,
        |s| async move { s.insert("n", &n).expect("insert") },
    )
    .await
}
