//! The conformance suite every [`SessionStore`] must pass.
//!
//! A store crate implements [`Harness`](crate::conformance::Harness) (how to get a fresh,
//! isolated store and how to plant corrupt bytes in it) and expands
//! [`conformance_tests!`](crate::conformance_tests) in a test file:
//!
//! ```
//! use satchel::conformance::Harness;
//! use satchel::{MemoryStore, StoreKey};
//!
//! struct Memory;
//!
//! impl Harness for Memory {
//!     type Store = MemoryStore;
//!     async fn store(&self) -> MemoryStore {
//!         MemoryStore::new() // a remote store would use a fresh key prefix or schema
//!     }
//!     async fn corrupt(&self, store: &MemoryStore, key: &StoreKey) {
//!         store.corrupt_for_tests(key, b"not a record");
//!     }
//! }
//!
//! satchel::conformance_tests!(Memory); // one #[tokio::test] per check
//! ```
//!
//! Each check is also a public `async fn` taking the harness, for stores that want to run
//! them their own way. Checks use real wall-clock timestamps as their base (remote stores
//! set TTLs from them) and move time by passing later `now` values, so no check sleeps.
//! Optional capabilities ([`Capabilities`]) are checked exactly when the store claims them:
//! the concurrent-apply checks need [`Capabilities::atomic_patch`], the concurrent-rotation
//! check [`Capabilities::atomic_rotate`], the renewal checks [`Capabilities::renewal`], and a check of a capability not claimed passes
//! without calling the store (it prints that it did not run).

mod corrupt;
mod renewal;

use std::future::Future;
use std::time::Duration;

pub use corrupt::{corrupt_records_are_errors, corrupt_records_are_no_session};
pub use renewal::{
    a_forward_is_never_a_session, concurrent_renewals_move_once,
    renew_leaves_a_forward_until_the_grace_deadline, revoke_owner_catches_renewals_in_flight,
};

use crate::error::StoreErrorKind;
use crate::id::{SessionId, StoreKey};
use crate::record::{ExpiryChange, Meta, Patch, Record, Value};
use crate::store::{Capabilities, SessionStore, WriteOutcome};
use crate::time::Timestamp;

/// How the suite gets stores to test.
pub trait Harness: Send + Sync {
    /// The store under test.
    type Store: SessionStore + Clone;

    /// A fresh store that shares no records with any other store this harness returned
    /// (a new key prefix, schema or database).
    fn store(&self) -> impl Future<Output = Self::Store> + Send;

    /// Replaces what the store holds under `key` (an existing record) with bytes it cannot
    /// decode as a record.
    fn corrupt(&self, store: &Self::Store, key: &StoreKey) -> impl Future<Output = ()> + Send;
}

/// Expands to one `#[tokio::test]` per conformance check, for the harness `$harness`
/// (an expression evaluated in each test). Needs `tokio` with `macros` and `rt-multi-thread`
/// among the test's dependencies.
///
/// For stores that need a service (a database, a Redis), `conformance_tests!(setup =
/// path::to::setup)` calls `setup(check_name).await` in each test, which returns
/// `Some(harness)` or `None` to skip that test (the setup says why; under CI it should fail
/// instead of skipping). The list of checks then stays here, in one place.
#[macro_export]
macro_rules! conformance_tests {
    // The one list of checks, handed to the arm `$($arm)*` names.
    (@checks $($arm:tt)*) => {
        $crate::conformance_tests!($($arm)*
            create_then_load_round_trips,
            create_never_overwrites,
            apply_merges_named_keys_only,
            apply_refuses_stale_reads,
            apply_enforces_the_size_limit,
            expired_records_are_absent,
            touch_extends_idle_only,
            no_resurrection_after_delete,
            concurrent_different_keys_all_survive,
            concurrent_increments_lose_nothing,
            rotate_moves_the_record,
            concurrent_rotations_are_atomic,
            renew_leaves_a_forward_until_the_grace_deadline,
            a_forward_is_never_a_session,
            concurrent_renewals_move_once,
            revoke_owner_catches_renewals_in_flight,
            owner_index_lists_and_revokes,
            purge_removes_only_expired,
            corrupt_records_are_errors,
            corrupt_records_are_no_session,
            awkward_keys_and_values_round_trip
        );
    };
    (setup = $setup:path) => {
        $crate::conformance_tests!(@checks @with $setup;);
    };
    (@with $setup:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(harness) = $setup(stringify!($name)).await else {
                    return;
                };
                $crate::conformance::$name(&harness).await;
            }
        )*
    };
    ($harness:expr) => {
        $crate::conformance_tests!(@checks @each $harness;);
    };
    (@each $harness:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $crate::conformance::$name(&$harness).await;
            }
        )*
    };
}

const IDLE: Duration = Duration::from_secs(30 * 60);
const ABSOLUTE: Duration = Duration::from_secs(8 * 3600);

fn key() -> StoreKey {
    SessionId::generate().store_key()
}

fn json(text: &str) -> Value {
    Value::from_json(text).expect("valid JSON in a conformance check")
}

fn record(now: Timestamp, pairs: &[(&str, &str)]) -> Record {
    Record {
        data: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json(v)))
            .collect(),
        meta: Meta::new(now, IDLE, ABSOLUTE),
    }
}

fn set(pairs: &[(&str, &str)]) -> Patch {
    Patch {
        set: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json(v)))
            .collect(),
        ..Patch::default()
    }
}

fn get<'r>(record: &'r Record, k: &str) -> Option<&'r str> {
    record.data.get(k).map(Value::get)
}

async fn must_load<S: SessionStore>(store: &S, key: &StoreKey, now: Timestamp) -> Record {
    store
        .load(key, now)
        .await
        .expect("load failed")
        .expect("record missing")
}

fn applied(outcome: WriteOutcome, what: &str) {
    assert!(
        matches!(outcome, WriteOutcome::Applied(_)),
        "{what}: expected Applied, got {outcome:?}"
    );
}

/// A created record loads back with the same data, owner and deadlines.
pub async fn create_then_load_round_trips<H: Harness>(h: &H) {
    let store = h.store().await;
    let now = Timestamp::now();
    let k = key();
    let mut r = record(
        now,
        &[
            ("user", "\"alice\""),
            ("n", "42"),
            ("cart", "[1,2,{\"x\":null}]"),
        ],
    );
    r.meta.owner = Some("alice".into());
    r.meta.persistent = true;
    applied(store.create(&k, &r, now).await.expect("create"), "create");
    let back = must_load(&store, &k, now).await;
    assert_eq!(back.data.len(), 3);
    assert_eq!(get(&back, "user"), Some("\"alice\""));
    assert_eq!(get(&back, "n"), Some("42"));
    let cart: serde_json::Value = back.data["cart"].deserialize().expect("cart");
    assert_eq!(cart, serde_json::json!([1, 2, {"x": null}]));
    assert_eq!(back.meta.owner.as_deref(), Some("alice"));
    assert!(back.meta.persistent);
    assert_eq!(back.meta.idle_timeout, IDLE);
    assert_eq!(back.meta.created_at, r.meta.created_at);
    assert_eq!(back.meta.idle_deadline, r.meta.idle_deadline);
    assert_eq!(back.meta.absolute_deadline, r.meta.absolute_deadline);
    assert!(
        store.load(&key(), now).await.expect("load").is_none(),
        "unknown key loads"
    );
}

/// `create` on a live key changes nothing (SEC-6).
pub async fn create_never_overwrites<H: Harness>(h: &H) {
    let store = h.store().await;
    let now = Timestamp::now();
    let k = key();
    applied(
        store
            .create(&k, &record(now, &[("a", "1")]), now)
            .await
            .expect("create"),
        "create",
    );
    let second = store
        .create(&k, &record(now, &[("a", "2")]), now)
        .await
        .expect("create");
    assert_eq!(second, WriteOutcome::KeyTaken);
    assert_eq!(get(&must_load(&store, &k, now).await, "a"), Some("1"));
}

/// `apply` changes exactly the named keys; `clear` empties first; a missing key is `Gone`.
pub async fn apply_merges_named_keys_only<H: Harness>(h: &H) {
    let store = h.store().await;
    let now = Timestamp::now();
    let k = key();
    store
        .create(&k, &record(now, &[("a", "1"), ("b", "2"), ("c", "3")]), now)
        .await
        .expect("create");
    let mut patch = set(&[("b", "20"), ("d", "\"new\"")]);
    patch.remove.push("c".into());
    patch.remove.push("never-there".into());
    applied(store.apply(&k, &patch, now).await.expect("apply"), "apply");
    let r = must_load(&store, &k, now).await;
    assert_eq!(get(&r, "a"), Some("1"));
    assert_eq!(get(&r, "b"), Some("20"));
    assert_eq!(get(&r, "c"), None);
    assert_eq!(get(&r, "d"), Some("\"new\""));
    let mut clear = set(&[("z", "true")]);
    clear.clear = true;
    clear.owner = Some(Some("bob".into()));
    applied(store.apply(&k, &clear, now).await.expect("apply"), "clear");
    let r = must_load(&store, &k, now).await;
    assert_eq!(r.data.len(), 1);
    assert_eq!(get(&r, "z"), Some("true"));
    assert_eq!(r.meta.owner.as_deref(), Some("bob"));
    let gone = store
        .apply(&key(), &set(&[("a", "1")]), now)
        .await
        .expect("apply");
    assert_eq!(gone, WriteOutcome::Gone);
}

/// A patch whose read expectation is stale is refused whole (SEC-45).
pub async fn apply_refuses_stale_reads<H: Harness>(h: &H) {
    let store = h.store().await;
    let now = Timestamp::now();
    let k = key();
    store
        .create(&k, &record(now, &[("n", "1"), ("x", "0")]), now)
        .await
        .expect("create");
    // Another request moved n from 1 to 2.
    store
        .apply(&k, &set(&[("n", "2")]), now)
        .await
        .expect("apply");
    let mut stale = set(&[("n", "2"), ("x", "1")]);
    stale.expect.push(("n".into(), Some(json("1"))));
    let outcome = store.apply(&k, &stale, now).await.expect("apply");
    assert_eq!(outcome, WriteOutcome::Conflict(vec!["n".into()]));
    let r = must_load(&store, &k, now).await;
    assert_eq!(
        get(&r, "x"),
        Some("0"),
        "a refused patch must change nothing"
    );
    // Expecting absence works too.
    let mut absent = set(&[("fresh", "1")]);
    absent.expect.push(("fresh".into(), None));
    applied(
        store.apply(&k, &absent, now).await.expect("apply"),
        "expect absent",
    );
    let again = store.apply(&k, &absent, now).await.expect("apply");
    assert_eq!(again, WriteOutcome::Conflict(vec!["fresh".into()]));
    // A fresh expectation succeeds.
    let mut fresh = set(&[("n", "3")]);
    fresh.expect.push(("n".into(), Some(json("2"))));
    applied(
        store.apply(&k, &fresh, now).await.expect("apply"),
        "fresh expectation",
    );
}

/// A patch that would leave more than `max_data_bytes` is refused whole.
pub async fn apply_enforces_the_size_limit<H: Harness>(h: &H) {
    let store = h.store().await;
    let now = Timestamp::now();
    let k = key();
    // "a" + "1" = 2 bytes stored.
    store
        .create(&k, &record(now, &[("a", "1")]), now)
        .await
        .expect("create");
    let mut patch = set(&[("b", "\"12345678\"")]); // 1 + 10 bytes
    patch.max_data_bytes = Some(12);
    assert_eq!(
        store.apply(&k, &patch, now).await.expect("apply"),
        WriteOutcome::TooLarge
    );
    assert_eq!(
        must_load(&store, &k, now).await.data.len(),
        1,
        "nothing written"
    );
    patch.max_data_bytes = Some(13);
    applied(
        store.apply(&k, &patch, now).await.expect("apply"),
        "exactly at the limit",
    );
    // Replacing or removing a key frees its bytes.
    let mut replace = set(&[("b", "1")]);
    replace.remove.push("a".into());
    replace.max_data_bytes = Some(2);
    applied(
        store.apply(&k, &replace, now).await.expect("apply"),
        "shrinking",
    );
}

/// Past either deadline a record is absent for every operation, evicted or not (SEC-14,
/// SEC-15, SEC-34); its key can be created again.
pub async fn expired_records_are_absent<H: Harness>(h: &H) {
    let store = h.store().await;
    let now = Timestamp::now();
    let k = key();
    store
        .create(&k, &record(now, &[("a", "1")]), now)
        .await
        .expect("create");
    let idle_end = now.saturating_add(IDLE);
    let just_before = Timestamp::from_millis(idle_end.as_millis() - 1);
    assert!(store.load(&k, just_before).await.expect("load").is_some());
    assert!(
        store.load(&k, idle_end).await.expect("load").is_none(),
        "idle deadline"
    );
    assert_eq!(
        store
            .apply(&k, &set(&[("a", "2")]), idle_end)
            .await
            .expect("apply"),
        WriteOutcome::Gone
    );
    assert!(store.touch(&k, idle_end).await.expect("touch").is_none());

    // Absolute deadline: kept alive by touches, it still ends.
    let k2 = key();
    store
        .create(&k2, &record(now, &[]), now)
        .await
        .expect("create");
    let mut t = now;
    while t < now.saturating_add(ABSOLUTE) {
        t = t.saturating_add(IDLE / 2);
        let alive = store.touch(&k2, t).await.expect("touch").is_some();
        assert_eq!(
            alive,
            t < now.saturating_add(ABSOLUTE),
            "touch at +{:?}",
            t.saturating_since(now)
        );
    }
    assert!(store
        .load(&k2, now.saturating_add(ABSOLUTE))
        .await
        .expect("load")
        .is_none());

    // A record created already expired, and an expired key created again.
    let k3 = key();
    let mut dead = record(now, &[("a", "1")]);
    dead.meta.idle_deadline = Timestamp::from_millis(now.as_millis() - 1000);
    let _ = store.create(&k3, &dead, now).await.expect("create expired");
    assert!(store.load(&k3, now).await.expect("load").is_none());
    let later = idle_end.saturating_add(Duration::from_secs(1));
    applied(
        store
            .create(&k, &record(later, &[("b", "1")]), later)
            .await
            .expect("create"),
        "create over expired",
    );
    let r = must_load(&store, &k, later).await;
    assert_eq!(get(&r, "a"), None, "the expired data must not come back");
}

/// `touch` moves the idle deadline (capped by the absolute one) and nothing else; it
/// never creates.
pub async fn touch_extends_idle_only<H: Harness>(h: &H) {
    let store = h.store().await;
    let now = Timestamp::now();
    let k = key();
    store
        .create(&k, &record(now, &[("a", "1")]), now)
        .await
        .expect("create");
    let t = now.saturating_add(Duration::from_secs(600));
    let expires = store.touch(&k, t).await.expect("touch").expect("live");
    assert_eq!(expires.at, t.saturating_add(IDLE));
    assert!(!expires.persistent);
    let r = must_load(&store, &k, t).await;
    assert_eq!(r.meta.idle_deadline, t.saturating_add(IDLE));
    assert_eq!(get(&r, "a"), Some("1"));
    // Touching near the absolute deadline cannot pass it.
    let short = key();
    let mut r = record(now, &[]);
    r.meta.absolute_deadline = now.saturating_add(Duration::from_secs(600));
    r.meta.idle_deadline = r.meta.absolute_deadline;
    store.create(&short, &r, now).await.expect("create");
    let near_end = now.saturating_add(Duration::from_secs(300));
    let capped = store
        .touch(&short, near_end)
        .await
        .expect("touch")
        .expect("live");
    assert_eq!(capped.at, r.meta.absolute_deadline);
    let missing = key();
    assert!(store.touch(&missing, now).await.expect("touch").is_none());
    assert!(
        store.load(&missing, now).await.expect("load").is_none(),
        "touch must not create"
    );
    // Expiry changes ("remember me") stick and report persistence.
    let remember = Patch {
        expiry: Some(ExpiryChange {
            idle_timeout: Duration::from_secs(7 * 24 * 3600),
            absolute_deadline: now.saturating_add(Duration::from_secs(30 * 24 * 3600)),
            persistent: true,
        }),
        ..Patch::default()
    };
    let WriteOutcome::Applied(e) = store.apply(&k, &remember, t).await.expect("apply") else {
        panic!("expiry change not applied");
    };
    assert!(e.persistent);
    assert_eq!(e.at, t.saturating_add(Duration::from_secs(7 * 24 * 3600)));
    let r = must_load(&store, &k, t).await;
    assert!(r.meta.persistent);
    assert_eq!(r.meta.idle_timeout, Duration::from_secs(7 * 24 * 3600));
}

/// After `delete`, no late write brings the session back (SEC-16, SEC-17).
pub async fn no_resurrection_after_delete<H: Harness>(h: &H) {
    let store = h.store().await;
    let now = Timestamp::now();
    let k = key();
    store
        .create(&k, &record(now, &[("user", "\"alice\"")]), now)
        .await
        .expect("create");
    let _loaded_before_logout = must_load(&store, &k, now).await;
    store.delete(&k).await.expect("delete");
    store.delete(&k).await.expect("deleting twice is fine");
    assert_eq!(
        store
            .apply(&k, &set(&[("n", "1")]), now)
            .await
            .expect("apply"),
        WriteOutcome::Gone
    );
    assert!(store.touch(&k, now).await.expect("touch").is_none());
    assert_eq!(
        store
            .rotate(&k, &key(), &Patch::default(), now)
            .await
            .expect("rotate"),
        WriteOutcome::Gone
    );
    assert!(store.load(&k, now).await.expect("load").is_none());
}

/// Parallel patches to different keys of one session all survive (SEC-45).
pub async fn concurrent_different_keys_all_survive<H: Harness>(h: &H) {
    let store = h.store().await;
    if !claimed(store.capabilities().atomic_patch, "atomic_patch") {
        return;
    }
    let now = Timestamp::now();
    let k = key();
    store
        .create(&k, &record(now, &[("base", "0")]), now)
        .await
        .expect("create");
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let patch = set(&[(&format!("k{i}"), &i.to_string())]);
                store.apply(&k, &patch, now).await.expect("apply")
            })
        })
        .collect();
    for t in tasks {
        applied(t.await.expect("task"), "parallel apply");
    }
    let r = must_load(&store, &k, now).await;
    assert_eq!(r.data.len(), 65, "every parallel write must survive");
    for i in 0..64 {
        assert_eq!(get(&r, &format!("k{i}")), Some(i.to_string().as_str()));
    }
}

/// Parallel read-increment-write loops with retry on conflict: the final count equals the
/// number of successful writes (SEC-45).
pub async fn concurrent_increments_lose_nothing<H: Harness>(h: &H) {
    let store = h.store().await;
    if !claimed(store.capabilities().atomic_patch, "atomic_patch") {
        return;
    }
    let now = Timestamp::now();
    let k = key();
    store
        .create(&k, &record(now, &[("n", "0")]), now)
        .await
        .expect("create");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let (mut ok, mut conflicts) = (0u64, 0u64);
                while ok < 10 {
                    let r = must_load(&store, &k, now).await;
                    let n: u64 = r.data["n"].deserialize().expect("n");
                    let mut patch = set(&[("n", &(n + 1).to_string())]);
                    patch.expect.push(("n".into(), Some(r.data["n"].clone())));
                    match store.apply(&k, &patch, now).await.expect("apply") {
                        WriteOutcome::Applied(_) => ok += 1,
                        WriteOutcome::Conflict(keys) => {
                            assert_eq!(keys, ["n"]);
                            conflicts += 1;
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
                (ok, conflicts)
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("task").0;
    }
    let r = must_load(&store, &k, now).await;
    let n: u64 = r.data["n"].deserialize().expect("n");
    assert_eq!(
        n, total,
        "every successful increment must be counted, none twice"
    );
}

/// `rotate` moves the record and applies the patch; the old key is dead; a taken new key
/// or a missing old key changes nothing (SEC-5, SEC-6).
pub async fn rotate_moves_the_record<H: Harness>(h: &H) {
    let store = h.store().await;
    let now = Timestamp::now();
    let (old, new) = (key(), key());
    store
        .create(&old, &record(now, &[("cart", "[1]")]), now)
        .await
        .expect("create");
    let patch = Patch {
        owner: Some(Some("alice".into())),
        ..set(&[("user", "\"alice\"")])
    };
    applied(
        store.rotate(&old, &new, &patch, now).await.expect("rotate"),
        "rotate",
    );
    assert!(
        store.load(&old, now).await.expect("load").is_none(),
        "old id must die"
    );
    let r = must_load(&store, &new, now).await;
    assert_eq!(get(&r, "cart"), Some("[1]"));
    assert_eq!(get(&r, "user"), Some("\"alice\""));
    assert_eq!(r.meta.owner.as_deref(), Some("alice"));
    assert_eq!(r.meta.created_at, now, "rotation keeps the creation time");

    let taken = key();
    store
        .create(&taken, &record(now, &[("other", "1")]), now)
        .await
        .expect("create");
    let outcome = store
        .rotate(&new, &taken, &Patch::default(), now)
        .await
        .expect("rotate");
    assert_eq!(outcome, WriteOutcome::KeyTaken);
    assert_eq!(
        get(&must_load(&store, &new, now).await, "cart"),
        Some("[1]")
    );
    assert_eq!(
        get(&must_load(&store, &taken, now).await, "other"),
        Some("1")
    );

    let mut stale = Patch::default();
    stale.expect.push(("cart".into(), Some(json("[2]"))));
    let outcome = store
        .rotate(&new, &key(), &stale, now)
        .await
        .expect("rotate");
    assert_eq!(outcome, WriteOutcome::Conflict(vec!["cart".into()]));
    assert!(store.load(&new, now).await.expect("load").is_some());
}

/// Concurrent rotations of one session and patches to it, for stores that claim
/// [`Capabilities::atomic_rotate`] (SEC-5, SEC-46): at most one rotation of the old key
/// succeeds, the others see it gone; the old key is dead and exactly one new key is live
/// afterwards; every patch reported applied to the old key is in the moved record.
pub async fn concurrent_rotations_are_atomic<H: Harness>(h: &H) {
    let store = h.store().await;
    if !claimed(store.capabilities().atomic_rotate, "atomic_rotate") {
        return;
    }
    for round in 0..8 {
        let now = Timestamp::now();
        let old = key();
        store
            .create(&old, &record(now, &[("base", "0")]), now)
            .await
            .expect("create");
        let news: Vec<StoreKey> = (0..4).map(|_| key()).collect();
        let mut rotations = Vec::new();
        for new in &news {
            let (store, old, new) = (store.clone(), old, *new);
            rotations.push(tokio::spawn(async move {
                store
                    .rotate(&old, &new, &set(&[("rotated", "true")]), now)
                    .await
                    .expect("rotate")
            }));
        }
        let mut patches = Vec::new();
        for i in 0..16 {
            let (store, old) = (store.clone(), old);
            patches.push(tokio::spawn(async move {
                let key = format!("k{i}");
                let outcome = store
                    .apply(&old, &set(&[(&key, "1")]), now)
                    .await
                    .expect("apply");
                (key, outcome)
            }));
        }
        let mut moved = Vec::new();
        for (new, task) in news.iter().zip(rotations) {
            match task.await.expect("task") {
                WriteOutcome::Applied(_) => moved.push(*new),
                WriteOutcome::Gone => {}
                other => panic!("round {round}: unexpected rotation outcome {other:?}"),
            }
        }
        assert_eq!(moved.len(), 1, "round {round}: exactly one rotation wins");
        assert!(
            store.load(&old, now).await.expect("load").is_none(),
            "round {round}: the old key is dead"
        );
        for new in &news {
            let live = store.load(new, now).await.expect("load").is_some();
            assert_eq!(
                live,
                *new == moved[0],
                "round {round}: only the winner is live"
            );
        }
        let r = must_load(&store, &moved[0], now).await;
        assert_eq!(get(&r, "rotated"), Some("true"));
        for task in patches {
            let (key, outcome) = task.await.expect("task");
            match outcome {
                WriteOutcome::Applied(_) => assert_eq!(
                    get(&r, &key),
                    Some("1"),
                    "round {round}: a patch reported applied was lost in the move"
                ),
                WriteOutcome::Gone => {}
                other => panic!("round {round}: unexpected patch outcome {other:?}"),
            }
        }
    }
}

/// Whether the store claims a capability; prints that the check did not run otherwise.
fn claimed(claim: bool, what: &str) -> bool {
    if !claim {
        eprintln!("conformance: the store does not claim {what}; check not run");
    }
    claim
}

/// Owner listing and revocation, for stores that claim an owner index (SEC-19).
pub async fn owner_index_lists_and_revokes<H: Harness>(h: &H) {
    let store = h.store().await;
    if !store.capabilities().owner_index {
        let err = store
            .sessions_of("u", Timestamp::now())
            .await
            .expect_err("unsupported");
        assert_eq!(err.kind(), StoreErrorKind::Unsupported);
        return;
    }
    let now = Timestamp::now();
    let owner = format!("user-{}", key().short());
    let other = format!("other-{}", key().short());
    let mut keys = Vec::new();
    for i in 0..3u64 {
        let k = key();
        let t = now.saturating_add(Duration::from_secs(i));
        let mut r = record(t, &[]);
        r.meta.owner = Some(owner.clone());
        store.create(&k, &r, t).await.expect("create");
        keys.push(k);
    }
    let mut expired = record(now, &[]);
    expired.meta.owner = Some(owner.clone());
    expired.meta.idle_deadline = Timestamp::from_millis(now.as_millis() - 1);
    let _ = store.create(&key(), &expired, now).await.expect("create");
    let ok = key();
    let mut r = record(now, &[]);
    r.meta.owner = Some(other.clone());
    store.create(&ok, &r, now).await.expect("create");

    let t = now.saturating_add(Duration::from_secs(5));
    let listed = store.sessions_of(&owner, t).await.expect("list");
    assert_eq!(
        listed.iter().map(|s| s.key).collect::<Vec<_>>(),
        keys,
        "live sessions, oldest first"
    );
    // A rotation moves the index entry with the record.
    let rotated = key();
    applied(
        store
            .rotate(&keys[2], &rotated, &Patch::default(), t)
            .await
            .expect("rotate"),
        "rotate",
    );
    let listed = store.sessions_of(&owner, t).await.expect("list");
    assert!(listed.iter().any(|s| s.key == rotated) && listed.iter().all(|s| s.key != keys[2]));
    // The count may include expired records not purged yet.
    let n = store
        .revoke_owner(&owner, Some(&keys[0]))
        .await
        .expect("revoke");
    assert!((2..=3).contains(&n), "revoked {n}");
    assert!(
        store.load(&keys[0], t).await.expect("load").is_some(),
        "the kept session lives"
    );
    assert!(store.load(&keys[1], t).await.expect("load").is_none());
    assert!(store.load(&rotated, t).await.expect("load").is_none());
    assert!(
        store.load(&ok, t).await.expect("load").is_some(),
        "other owners untouched"
    );
    assert_eq!(store.sessions_of(&owner, t).await.expect("list").len(), 1);
    store.delete(&keys[0]).await.expect("delete");
    assert!(store.sessions_of(&owner, t).await.expect("list").is_empty());
}

/// Purging removes expired records only, for stores that claim it.
pub async fn purge_removes_only_expired<H: Harness>(h: &H) {
    let store = h.store().await;
    let now = Timestamp::now();
    if !store.capabilities().purge {
        return;
    }
    let live = key();
    store
        .create(&live, &record(now, &[("a", "1")]), now)
        .await
        .expect("create");
    let mut dying = Vec::new();
    for _ in 0..10 {
        let k = key();
        let mut r = record(now, &[]);
        r.meta.idle_deadline = now.saturating_add(Duration::from_secs(1));
        store.create(&k, &r, now).await.expect("create");
        dying.push(k);
    }
    let later = now.saturating_add(Duration::from_secs(2));
    let purged = store.purge_expired(later, usize::MAX).await.expect("purge");
    assert!(purged >= 10, "purged {purged}");
    assert!(store.load(&live, later).await.expect("load").is_some());
}

/// Keys and values that stress escaping: quotes, unicode, empty strings, big documents.
pub async fn awkward_keys_and_values_round_trip<H: Harness>(h: &H) {
    let store = h.store().await;
    let now = Timestamp::now();
    let k = key();
    let big = format!("\"{}\"", "x".repeat(16 * 1024));
    let pairs: Vec<(&str, &str)> = vec![
        ("", "\"empty key\""),
        ("quote\"key", "\"va\\\"lue\""),
        ("ключ-🔑", "\"значение ✓\""),
        ("nested", "{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}"),
        ("big", &big),
        ("float", "1.5"),
        ("bool", "false"),
        ("null", "null"),
    ];
    store
        .create(&k, &record(now, &pairs), now)
        .await
        .expect("create");
    let r = must_load(&store, &k, now).await;
    for (key_name, value) in &pairs {
        let got: serde_json::Value = r
            .data
            .get(*key_name)
            .unwrap_or_else(|| panic!("{key_name:?} missing"))
            .deserialize()
            .expect("json");
        let want: serde_json::Value = serde_json::from_str(value).expect("json");
        assert_eq!(got, want, "key {key_name:?}");
    }
    let mut patch = set(&[("ключ-🔑", "\"новое\"")]);
    patch.remove.push("quote\"key".into());
    applied(store.apply(&k, &patch, now).await.expect("apply"), "apply");
    let r = must_load(&store, &k, now).await;
    assert!(!r.data.contains_key("quote\"key"));
    assert_eq!(
        r.data["ключ-🔑"].deserialize::<String>().expect("str"),
        "новое"
    );
}

/// Whether a store claims every optional capability (for a store crate's own assertions).
pub fn claims_everything<S: SessionStore>(store: &S) -> bool {
    store.capabilities() == Capabilities::ALL
}
