//! How many SQL statements each kind of request costs, counted from sqlx's own per-statement
//! events (target `sqlx::query`) while the engine serves requests against PostgreSQL and
//! SQLite. Printed as a table (`--nocapture`) and asserted, so a regression shows up here.
//! One test in this binary: the counter is process-wide.
#![cfg(all(feature = "postgres", feature = "sqlite"))]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use satchel::{Engine, SessionConfig, SessionStore, TestClock, Timestamp};
use satchel_sql::{PostgresStore, SqlOptions, SqliteStore};

static STATEMENTS: AtomicU64 = AtomicU64::new(0);

/// Counts `sqlx::query` events; ignores everything else.
struct Counter;

impl tracing::Subscriber for Counter {
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        meta.target() == "sqlx::query"
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == "sqlx::query" {
            STATEMENTS.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// One simulated request: the cookie it sends, what the handler does; returns the cookie
/// to send next (a new one if the response set one) and the statements it cost.
async fn request<F, Fut>(
    engine: &Engine,
    cookie: &Option<String>,
    handler: F,
) -> (Option<String>, u64)
where
    F: FnOnce(satchel::Session) -> Fut,
    Fut: std::future::Future<Output = satchel::Session>,
{
    let before = STATEMENTS.load(Ordering::SeqCst);
    let session = engine.begin(cookie.as_deref().map(str::as_bytes));
    let session = handler(session).await;
    let done = engine.finish(&session, 200).await;
    assert!(done.error.is_none(), "{:?}", done.error);
    let cost = STATEMENTS.load(Ordering::SeqCst) - before;
    let next = match done.set_cookie {
        Some(c) if c.contains("Max-Age=0") => None,
        Some(c) => Some(c.split(';').next().unwrap_or("").to_owned()),
        None => cookie.clone(),
    };
    (next, cost)
}

/// The request types and their statement counts on `store`.
async fn costs<S: SessionStore>(store: S) -> Vec<(&'static str, u64)> {
    let clock = TestClock::new(Timestamp::now());
    let config = SessionConfig::builder()
        .dangerous_insecure_cookies()
        .build()
        .expect("config");
    let engine = Engine::with_clock(store, config, clock.clone());
    let mut out = Vec::new();
    let none = None;
    let (_, c) = request(&engine, &none, |s| async move { s }).await;
    out.push(("no session use", c));
    let (_, c) = request(&engine, &none, |s| async move {
        let _ = s.get::<i64>("n").await.expect("get");
        s
    })
    .await;
    out.push(("anonymous read, nothing stored", c));
    let (cookie, c) = request(&engine, &none, |s| async move {
        s.insert("n", &0).expect("insert");
        s
    })
    .await;
    out.push(("first write (create)", c));
    let (cookie, c) = request(&engine, &cookie, |s| async move {
        let _ = s.get::<i64>("n").await.expect("get");
        s
    })
    .await;
    out.push(("read (like GET /read)", c));
    let (cookie, c) = request(&engine, &cookie, |s| async move {
        let n: i64 = s.get("n").await.expect("get").unwrap_or(0);
        s.insert("n", &(n + 1)).expect("insert");
        s
    })
    .await;
    out.push(("read then write (like POST /write)", c));
    let (cookie, c) = request(&engine, &cookie, |s| async move {
        s.insert("blind", &true).expect("insert");
        s
    })
    .await;
    out.push(("blind write", c));
    clock.advance(Duration::from_secs(600));
    let (cookie, c) = request(&engine, &cookie, |s| async move {
        let _ = s.get::<i64>("n").await.expect("get");
        s
    })
    .await;
    out.push(("read after 10 min (read + touch)", c));
    let (cookie, c) = request(&engine, &cookie, |s| async move {
        s.login("alice").expect("login");
        s
    })
    .await;
    // A login that did not read first loads once: the default `LoginData` policy needs to
    // know who was logged in before (another owner's data is cleared).
    out.push(("blind login (load + rotate)", c));
    let (cookie, c) = request(&engine, &cookie, |s| async move {
        let _ = s.owner_sessions().await.expect("list");
        s
    })
    .await;
    out.push(("list my sessions (read + owner index)", c));
    let (_, c) = request(&engine, &cookie, |s| async move {
        s.logout();
        s
    })
    .await;
    out.push(("logout (delete)", c));
    out
}

/// The renewal request types (SEC-49) and their statement counts on `store`.
async fn renewal_costs<S: SessionStore>(store: S) -> Vec<(&'static str, u64)> {
    let clock = TestClock::new(Timestamp::now());
    let config = SessionConfig::builder()
        .dangerous_insecure_cookies()
        .idle_timeout(Duration::from_secs(3 * 3600))
        .renew_id_after(Duration::from_secs(3600))
        .build()
        .expect("config");
    let engine = Engine::with_clock(store, config, clock.clone());
    let mut out = Vec::new();
    let read = |s: satchel::Session| async move {
        let _ = s.get::<i64>("n").await.expect("get");
        s
    };
    let (old, _) = request(&engine, &None, |s| async move {
        s.insert("n", &0).expect("insert");
        s
    })
    .await;
    clock.advance(Duration::from_secs(3600));
    let (new, c) = request(&engine, &old, read).await;
    assert_ne!(new, old, "renewed");
    out.push(("read, renewal due (load + renew)", c));
    let (via_old, c) = request(&engine, &old, read).await;
    assert_eq!(via_old, new, "followed the forward");
    out.push((
        "old id inside the grace window (load + load_forward + load)",
        c,
    ));
    clock.advance(Duration::from_secs(31));
    let (gone, c) = request(&engine, &old, read).await;
    assert_eq!(gone, None, "dead after the window");
    out.push(("old id after the window (load + load_forward)", c));
    out
}

const EXPECTED: [(&str, u64); 10] = [
    ("no session use", 0),
    ("anonymous read, nothing stored", 0),
    ("first write (create)", 1),
    ("read (like GET /read)", 1),
    ("read then write (like POST /write)", 2),
    ("blind write", 1),
    ("read after 10 min (read + touch)", 2),
    ("blind login (load + rotate)", 2),
    ("list my sessions (read + owner index)", 2),
    ("logout (delete)", 1),
];

/// What [`renewal_costs`] must find, with `renew` statements for the renewing read's load
/// plus renewal.
fn expected_renewal(renew: u64) -> Vec<(&'static str, u64)> {
    vec![
        ("read, renewal due (load + renew)", renew),
        (
            "old id inside the grace window (load + load_forward + load)",
            3,
        ),
        ("old id after the window (load + load_forward)", 2),
    ]
}

#[tokio::test]
async fn statements_per_request_type() {
    tracing::subscriber::set_global_default(Counter).expect("subscriber");
    let options = SqlOptions::default().with_cleanup(None);

    let lite = SqliteStore::connect_with("sqlite::memory:", options.clone())
        .await
        .expect("sqlite");
    lite.migrate().await.expect("migrate");
    let sqlite = costs(lite.clone()).await;
    let sqlite_renewal = renewal_costs(lite).await;
    print("sqlite, renewal", &sqlite_renewal);
    // SQLite renews in a transaction: the guarded UPDATE, then the forward INSERT (BEGIN
    // and COMMIT are not statement events).
    assert_eq!(sqlite_renewal, expected_renewal(3));
    print("sqlite", &sqlite);
    // SQLite has no multi-table DELETE: logout deletes the session, then the renewal
    // forward that may sit under the key (in-process statements, no round trip).
    let mut expected_sqlite = EXPECTED;
    expected_sqlite[9].1 = 2;
    assert_eq!(sqlite, expected_sqlite);

    let Some(url) = common::service_url("SATCHEL_POSTGRES_URL") else {
        return;
    };
    let schema = common::unique_name();
    let pg = PostgresStore::connect_with(&url, options.with_schema(&schema).expect("schema"))
        .await
        .expect("postgres");
    pg.migrate().await.expect("migrate");
    let pool = pg.pool().clone();
    let postgres = costs(pg.clone()).await;
    let postgres_renewal = renewal_costs(pg).await;
    print("postgres, renewal", &postgres_renewal);
    // PostgreSQL renews in one statement (UPDATE and forward INSERT as CTEs).
    assert_eq!(postgres_renewal, expected_renewal(2));
    let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
    sqlx::Executor::execute(&pool, drop.as_str())
        .await
        .expect("drop schema");
    print("postgres", &postgres);
    assert_eq!(postgres, EXPECTED);
}

fn print(backend: &str, costs: &[(&str, u64)]) {
    eprintln!("\nSQL statements per request, {backend}:");
    for (what, n) in costs {
        eprintln!("  {n}  {what}");
    }
}
