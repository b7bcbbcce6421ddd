//! Records the native Redis store cannot decode (issue 20), planted with plain Redis
//! commands under the store's own key names, on standalone Redis and on a Cluster: each
//! shape is no session for the engine (never a 503), logged once as a `satchel::anomaly`
//! with the store-key reference, and deleted, so the next request is an ordinary one.

mod common;

use std::io;
use std::sync::{Mutex, Once};

use satchel::http_support::ErrorStatuses;
use satchel::{Engine, SessionConfig, SessionId, SessionStore, StoreKey};
use satchel_redis::{RedisConfig, RedisStore};

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// The tests of this file run one at a time: they share the log buffer.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct CaptureWriter;

impl io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        LOGS.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A global capturing subscriber (thread-local ones miss events of other threads).
fn start_capture() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_target(true)
            .with_writer(|| CaptureWriter)
            .try_init()
            .expect("no other global subscriber");
    });
    LOGS.lock().expect("log buffer").clear();
}

fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().expect("log buffer")).into_owned()
}

/// How a shape garbles the session under the key.
enum Garble {
    /// Redis commands (after the key); `DEL` first for the type changes.
    Commands(&'static [&'static [&'static str]]),
    /// A rewrite of the stored layout-v2 value (read with `GET`, written back with `SET`).
    Value(fn(Vec<u8>) -> Vec<u8>),
}

/// Replaces the first `from` in `value` by `to` (same length: the framing stays valid).
fn replace(mut value: Vec<u8>, from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = value
        .windows(from.len())
        .position(|w| w == from)
        .expect("the planted value holds it");
    value[at..at + from.len()].copy_from_slice(to);
    value
}

/// The malformed shapes. The layout-v2 ones follow `src/v2/format.rs`: byte 0 the format
/// version, 5..18 the deadline digits, 18 the flags, then the packed record.
const SHAPES: &[(&str, Garble)] = &[
    (
        "a string that is not a session",
        Garble::Commands(&[&["DEL"], &["SET", "garbage"]]),
    ),
    (
        "a list",
        Garble::Commands(&[&["DEL"], &["RPUSH", "a", "b"]]),
    ),
    (
        "a hash that is no v1 record",
        Garble::Commands(&[&["DEL"], &["HSET", "x", "1"]]),
    ),
    (
        "unknown format version",
        Garble::Value(|mut v| {
            v[0] = b'9';
            v
        }),
    ),
    (
        "unparsable deadline",
        Garble::Value(|mut v| {
            v[5..18].copy_from_slice(b"soon000000000");
            v
        }),
    ),
    ("the header alone", Garble::Value(|v| v[..18].to_vec())),
    (
        "a truncated record",
        Garble::Value(|v| v[..v.len() - 3].to_vec()),
    ),
    (
        "trailing bytes",
        Garble::Value(|mut v| {
            v.push(0x05);
            v
        }),
    ),
    (
        "a value that is not JSON",
        Garble::Value(|v| replace(v, b"\"keep-out\"", b"undefined!")),
    ),
];

/// Garbles the session's Redis key (the one place that knows the layout; on a Cluster, on
/// the node that owns the key's slot).
async fn plant(url: &str, store: &RedisStore, key: &StoreKey, garble: &Garble) {
    let k = store.session_key(key);
    if let Some(nodes) = url.strip_prefix("redis+cluster://") {
        let nodes: Vec<String> = nodes.split(',').map(|n| format!("redis://{n}")).collect();
        let client = redis::cluster::ClusterClient::new(nodes).expect("nodes");
        let mut conn = client.get_async_connection().await.expect("connect");
        run(&mut conn, &k, garble).await;
        return;
    }
    let client = redis::Client::open(url).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    run(&mut conn, &k, garble).await;
}

async fn run(conn: &mut impl redis::aio::ConnectionLike, k: &str, garble: &Garble) {
    match garble {
        Garble::Commands(commands) => {
            for c in *commands {
                let mut cmd = redis::cmd(c[0]);
                cmd.arg(k);
                for a in &c[1..] {
                    cmd.arg(*a);
                }
                let _: redis::Value = cmd.query_async(conn).await.expect("plant");
            }
        }
        Garble::Value(rewrite) => {
            let value: Vec<u8> = redis::cmd("GET")
                .arg(k)
                .query_async(conn)
                .await
                .expect("a v2 value");
            let _: redis::Value = redis::cmd("SET")
                .arg(k)
                .arg(rewrite(value))
                .arg("KEEPTTL")
                .query_async(conn)
                .await
                .expect("plant");
        }
    }
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

fn key_of(pair: &str) -> StoreKey {
    let id = pair.split_once('=').map(|(_, v)| v).unwrap_or_default();
    SessionId::parse(id).expect("a native id").store_key()
}

async fn every_shape_is_no_session(var: &str) {
    let Some(url) = common::url(var) else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let store = RedisStore::connect(&url, RedisConfig::with_prefix(common::prefix()))
        .await
        .expect("connect to Redis");
    let engine = Engine::new(store.clone(), SessionConfig::default());
    for (shape, garble) in SHAPES {
        for write in [false, true] {
            start_capture();
            let session = engine.begin(None);
            session.insert("n", &1).expect("insert");
            session.insert("secret", "keep-out").expect("insert");
            let done = engine.finish(&session, 200).await;
            let cookie = cookie_pair(&done.set_cookie.expect("a new session"));
            let key = key_of(&cookie);
            plant(&url, &store, &key, garble).await;
            assert!(
                store.load(&key, engine.now()).await.is_err(),
                "{shape}: planted"
            );

            // The request carrying the cookie: a read, and (`write`) a counter increment.
            let session = engine.begin([cookie.as_bytes()]);
            let n: Option<i64> = session.get("n").await.expect(shape);
            assert_eq!(n, None, "{shape}: must read as no session");
            if write {
                session.insert("n", &(n.unwrap_or(0) + 1)).expect("insert");
            }
            let done = engine.finish(&session, 200).await;
            if let Some(err) = &done.error {
                let reply = ErrorStatuses::default().reply(err);
                panic!("{shape}: answered {} ({err})", reply.status);
            }
            let set_cookie = done.set_cookie.expect("the cookie changes");
            if write {
                let fresh = key_of(&cookie_pair(&set_cookie));
                assert_ne!(fresh, key, "{shape}: the id must change");
                let record = store
                    .load(&fresh, engine.now())
                    .await
                    .expect("load")
                    .expect("the new session");
                assert_eq!(record.data.len(), 1, "{shape}: nothing of the old record");
            } else {
                assert!(set_cookie.contains("Max-Age=0"), "{shape}: cookie kept");
            }
            assert!(
                matches!(store.load(&key, engine.now()).await, Ok(None)),
                "{shape}: the garbled record was not deleted"
            );

            // The browser's retry with the old cookie is an ordinary unknown id.
            let session = engine.begin([cookie.as_bytes()]);
            assert_eq!(session.get::<i64>("n").await.expect(shape), None);
            assert!(
                engine.finish(&session, 200).await.error.is_none(),
                "{shape}"
            );

            let logs = logs();
            let events: Vec<&str> = logs
                .lines()
                .filter(|l| l.contains("kind=\"corrupt_record\""))
                .collect();
            assert_eq!(events.len(), 1, "{shape}: {logs}");
            assert!(events[0].contains("satchel::anomaly"), "{shape}: {logs}");
            assert!(events[0].contains(&key.short()), "{shape}: {logs}");
            assert!(!logs.contains(&key.to_hex()), "{shape}: full key logged");
            assert!(!logs.contains(&cookie[3..]), "{shape}: id logged");
            assert!(!logs.contains("keep-out"), "{shape}: content logged");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_corrupt_records_are_no_session() {
    every_shape_is_no_session("SATCHEL_REDIS_URL").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_corrupt_records_are_no_session() {
    every_shape_is_no_session("SATCHEL_REDIS_CLUSTER_URL").await;
}
