//! The contract for records a store holds but cannot decode (see `docs/corrupt-records.md`).
//!
//! A store reports such a record as [`StoreErrorKind::Corrupt`] to every operation that
//! has to read it, never panics on it and never answers with part of it; `delete` removes
//! it like any record. On top of that, the engine (default
//! [`CorruptRecords::TreatAsAbsent`](crate::CorruptRecords)) goes on as if the record did
//! not exist and deletes it: checked here with an [`Engine`] over the store under test.

use super::{key, record, set, Harness};
use crate::config::SessionConfig;
use crate::engine::Engine;
use crate::error::StoreErrorKind;
use crate::id::{SessionId, StoreKey};
use crate::store::{SessionStore, WriteOutcome};
use crate::time::Timestamp;

/// A fresh record `{"a": 1}` garbled by the harness; its key.
async fn garbled<H: Harness>(h: &H, store: &H::Store, now: Timestamp) -> StoreKey {
    let k = key();
    store
        .create(&k, &record(now, &[("a", "1")]), now)
        .await
        .expect("create");
    h.corrupt(store, &k).await;
    k
}

/// Asserts that `k` still does not load as data: `Corrupt`.
async fn still_unreadable<S: SessionStore>(store: &S, k: &StoreKey, now: Timestamp, op: &str) {
    match store.load(k, now).await {
        Err(e) => assert_eq!(e.kind(), StoreErrorKind::Corrupt, "after {op}: {e}"),
        Ok(r) => panic!("after {op}, a garbled record loads as {r:?}"),
    }
}

/// Undecodable stored bytes are a `Corrupt` error for `load`, `apply`, `touch` and
/// `rotate`, never a panic and never data (a store that patches fields without decoding
/// the rest may report the write applied; the record must still not load); `delete`
/// removes them.
pub async fn corrupt_records_are_errors<H: Harness>(h: &H) {
    let store = h.store().await;
    let now = Timestamp::now();

    let k = garbled(h, &store, now).await;
    let err = store
        .load(&k, now)
        .await
        .expect_err("corrupt record must not load");
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{err}");
    match store.apply(&k, &set(&[("a", "2")]), now).await {
        Err(e) => assert_eq!(e.kind(), StoreErrorKind::Corrupt, "apply: {e}"),
        Ok(WriteOutcome::Applied(_)) => still_unreadable(&store, &k, now, "apply").await,
        Ok(other) => panic!("apply of a corrupt record: unexpected {other:?}"),
    }

    let k = garbled(h, &store, now).await;
    match store.touch(&k, now).await {
        Err(e) => assert_eq!(e.kind(), StoreErrorKind::Corrupt, "touch: {e}"),
        Ok(_) => still_unreadable(&store, &k, now, "touch").await,
    }

    let k = garbled(h, &store, now).await;
    let new = key();
    match store.rotate(&k, &new, &set(&[("b", "1")]), now).await {
        Err(e) => assert_eq!(e.kind(), StoreErrorKind::Corrupt, "rotate: {e}"),
        Ok(WriteOutcome::Applied(_)) => still_unreadable(&store, &new, now, "rotate").await,
        Ok(other) => panic!("rotate of a corrupt record: unexpected {other:?}"),
    }
    assert!(
        !matches!(store.load(&new, now).await, Ok(Some(_))),
        "rotate moved a corrupt record into readable data"
    );

    let k = garbled(h, &store, now).await;
    store.delete(&k).await.expect("delete a corrupt record");
    assert!(
        store
            .load(&k, now)
            .await
            .expect("load after delete")
            .is_none(),
        "a deleted corrupt record is still there"
    );
}

/// The cookie header naming a session `{"a": 1}` created through `engine`, garbled by the
/// harness; and its key.
async fn garbled_session<H: Harness>(
    h: &H,
    store: &H::Store,
    engine: &Engine,
) -> (String, StoreKey) {
    let session = engine.begin(None);
    session.insert("a", &1).expect("insert");
    let done = engine.finish(&session, 200).await;
    assert!(done.error.is_none(), "create: {:?}", done.error);
    let set_cookie = done.set_cookie.expect("a new session sets a cookie");
    let pair = set_cookie.split(';').next().unwrap_or_default().to_owned();
    let id = pair.split_once('=').map(|(_, v)| v).unwrap_or_default();
    let k = SessionId::parse(id).expect("a native id").store_key();
    h.corrupt(store, &k).await;
    (pair, k)
}

fn assert_absent(loaded: Result<Option<crate::Record>, crate::StoreError>, what: &str) {
    match loaded {
        Ok(None) => {}
        other => panic!("{what}: the corrupt record was not deleted: {other:?}"),
    }
}

/// Through the engine (default settings), a garbled record is no session: a read sees
/// nothing and removes the cookie, a write starts a new session under a fresh id that
/// holds only what the request wrote, a logout succeeds; no request fails, and the
/// garbled record is deleted.
pub async fn corrupt_records_are_no_session<H: Harness>(h: &H) {
    let store = h.store().await;
    let engine = Engine::new(store.clone(), SessionConfig::default());
    let now = || Timestamp::now();

    // A read.
    let (cookie, k) = garbled_session(h, &store, &engine).await;
    let session = engine.begin([cookie.as_bytes()]);
    let read = session.get::<i64>("a").await.expect("a read goes on");
    assert_eq!(read, None, "a corrupt record must read as no session");
    let done = engine.finish(&session, 200).await;
    assert!(done.error.is_none(), "read: {:?}", done.error);
    let removal = done.set_cookie.unwrap_or_default();
    assert!(removal.contains("Max-Age=0"), "read: cookie not removed");
    assert_absent(store.load(&k, now()).await, "read");

    // A read then a write, and a blind write: a fresh id, only the new key.
    for read_first in [true, false] {
        let (cookie, k) = garbled_session(h, &store, &engine).await;
        let session = engine.begin([cookie.as_bytes()]);
        if read_first {
            assert_eq!(session.get::<i64>("a").await.expect("read"), None);
        }
        session.insert("b", &2).expect("insert");
        let done = engine.finish(&session, 200).await;
        assert!(done.error.is_none(), "write: {:?}", done.error);
        let set_cookie = done.set_cookie.expect("a new session sets a cookie");
        let id = set_cookie
            .split(';')
            .next()
            .and_then(|p| p.split_once('='))
            .map(|(_, v)| v)
            .unwrap_or_default();
        let fresh = SessionId::parse(id).expect("a fresh id").store_key();
        assert_ne!(fresh, k, "a write must not reuse the corrupt record's id");
        let record = store
            .load(&fresh, now())
            .await
            .expect("load")
            .expect("the new session");
        assert_eq!(
            record.data.len(),
            1,
            "nothing of the corrupt record is kept"
        );
        assert_eq!(record.meta.owner, None);
        assert_absent(store.load(&k, now()).await, "write");
    }

    // A logout.
    let (cookie, k) = garbled_session(h, &store, &engine).await;
    let session = engine.begin([cookie.as_bytes()]);
    session.logout();
    let done = engine.finish(&session, 200).await;
    assert!(done.error.is_none(), "logout: {:?}", done.error);
    assert_absent(store.load(&k, now()).await, "logout");
}
