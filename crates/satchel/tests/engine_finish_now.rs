//! `Engine::finish_now`: the save without a future for in-process stores. On a MemoryStore
//! engine it must do exactly what `finish` does (create, patch, conflict, logout); on any
//! other store it must decline without touching anything.

mod common;

use common::{cookie_value, CountingStore, Counts};
use satchel::{Engine, Finish, MemoryStore, Session, SessionConfig, SessionErrorKind};

fn memory_engine() -> Engine {
    Engine::new(MemoryStore::new(), SessionConfig::default())
}

fn begin(engine: &Engine, cookie: Option<&str>) -> Session {
    let header = cookie.map(|c| format!("id={c}"));
    engine.begin(header.as_deref().map(str::as_bytes))
}

fn finish_now(engine: &Engine, session: &Session) -> Finish {
    engine
        .finish_now(session, 200)
        .expect("a MemoryStore engine finishes in process")
}

/// A new session, a read-then-write, a stale write and a logout, all through `finish_now`.
#[tokio::test]
async fn memory_engine_saves_in_process_as_finish_does() {
    let engine = memory_engine();

    let s = begin(&engine, None);
    s.insert("n", &1).expect("insert");
    let done = finish_now(&engine, &s);
    assert!(done.error.is_none());
    let set = done.set_cookie.expect("a new session sets its cookie");
    let id = cookie_value(&set).to_owned();
    assert!(done.no_store && done.vary_cookie);

    // Two requests read n = 1; the first write lands, the second is a conflict.
    let first = begin(&engine, Some(&id));
    let second = begin(&engine, Some(&id));
    for s in [&first, &second] {
        let n: i64 = s.get("n").await.expect("get").expect("n");
        s.insert("n", &(n + 1)).expect("insert");
    }
    let done = finish_now(&engine, &first);
    assert!(done.error.is_none() && done.set_cookie.is_none());
    let done = finish_now(&engine, &second);
    let err = done.error.expect("the stale write is refused");
    assert_eq!(err.kind(), SessionErrorKind::Conflict);
    assert_eq!(done.set_cookie, None);

    let read = begin(&engine, Some(&id));
    assert_eq!(read.get::<i64>("n").await.expect("get"), Some(2));
    finish_now(&engine, &read);

    let out = begin(&engine, Some(&id));
    out.logout();
    let done = finish_now(&engine, &out);
    assert!(done.error.is_none());
    assert!(done.set_cookie.expect("removal").contains("Max-Age=0"));
    let after = begin(&engine, Some(&id));
    assert_eq!(after.get::<i64>("n").await.expect("get"), None);
}

/// A failed response (5xx) drops the handler's changes through `finish_now` too.
#[tokio::test]
async fn memory_engine_drops_changes_of_a_failed_response() {
    let engine = memory_engine();
    let s = begin(&engine, None);
    s.insert("n", &1).expect("insert");
    let id = cookie_value(&finish_now(&engine, &s).set_cookie.expect("cookie")).to_owned();

    let failing = begin(&engine, Some(&id));
    failing.insert("n", &99).expect("insert");
    let done = engine.finish_now(&failing, 500).expect("in process");
    assert!(done.error.is_none());

    let read = begin(&engine, Some(&id));
    assert_eq!(read.get::<i64>("n").await.expect("get"), Some(1));
}

/// Any other store (here a wrapper around a MemoryStore) declines, and the pending save is
/// still there for `finish`.
#[tokio::test]
async fn other_stores_decline_without_touching_the_store() {
    let store = CountingStore::new(MemoryStore::new());
    let engine = Engine::new(store.clone(), SessionConfig::default());

    let s = begin(&engine, None);
    s.insert("n", &1).expect("insert");
    assert!(engine.finish_now(&s, 200).is_none());
    assert_eq!(store.counts(), Counts::default());

    let done = engine.finish(&s, 200).await;
    assert!(done.error.is_none());
    assert!(done.set_cookie.is_some());
    assert_eq!(store.counts().create, 1);
}
