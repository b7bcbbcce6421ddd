//! What the engine tells operators (issue 14): the metrics it counts through the
//! `metrics` facade, read back from a real recorder after each step of a lifecycle, and
//! the `satchel::audit` events of the same steps, captured from `tracing`. Neither ever
//! carries an id, a store key or an owner; audit events name sessions by their store-key
//! reference only.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::log_capture::{logs, start_capture, SERIAL};
use common::{j, unknown_id, Browser, Env};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::MetricKind;
use satchel::{Engine, MemoryStore, SessionConfig, SessionErrorKind, SessionId};

/// What changed since the last call: `name{label=value,…}` → counter increment, or the
/// number of histogram samples.
fn delta(snapshotter: &Snapshotter) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let labels: Vec<String> = key
            .key()
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = format!("{}{{{}}}", key.key().name(), labels.join(","));
        let n = match (key.kind(), value) {
            (MetricKind::Counter, DebugValue::Counter(n)) => n,
            (MetricKind::Histogram, DebugValue::Histogram(samples)) => samples.len() as u64,
            _ => continue,
        };
        if n > 0 {
            out.insert(name, n);
        }
    }
    out
}

fn expect(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// The store-key reference an audit event names the session of cookie `pair` by.
fn reference(pair: &str) -> String {
    let value = pair.split_once('=').map_or(pair, |(_, v)| v);
    SessionId::parse(value)
        .expect("a native id")
        .store_key()
        .short()
}

/// The audit lines logged since `from` (a length of [`logs`]).
fn audit_since(from: usize) -> Vec<String> {
    logs()[from..]
        .lines()
        .filter(|l| l.contains("satchel::audit"))
        .map(str::to_owned)
        .collect()
}

/// Each step of a lifecycle on a (counted, so remote-like) store adds exactly the counts
/// it should, store latency included, and logs its audit event with the right session
/// references.
#[test]
fn each_step_counts_exactly_and_is_audited() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let _serial = SERIAL.lock().await;
            start_capture();
            lifecycle(&snapshotter).await;
        })
    });
}

async fn lifecycle(m: &Snapshotter) {
    let env = Env::new();
    let mut browser = Browser::new();
    let at = || logs().len();

    // A first write creates the session.
    let session = browser.begin(&env.engine);
    session.insert("n", &1).expect("insert");
    browser.finish(&env.engine, &session, 200).await;
    let first = browser.cookie().expect("cookie").to_owned();
    let d = delta(m);
    assert_eq!(d["satchel_sessions_created_total{}"], 1, "{d:?}");
    assert_eq!(d["satchel_store_writes_total{kind=create}"], 1, "{d:?}");
    assert_eq!(d["satchel_store_latency_seconds{op=create}"], 1, "{d:?}");
    assert_eq!(d["satchel_cookie_bytes{}"], 1, "{d:?}");

    // A read loads it.
    let session = browser.begin(&env.engine);
    assert_eq!(session.get::<i64>("n").await.expect("get"), Some(1));
    browser.finish(&env.engine, &session, 200).await;
    assert_eq!(
        delta(m),
        expect(&[
            ("satchel_store_loads_total{result=found}", 1),
            ("satchel_store_latency_seconds{op=load}", 1),
        ])
    );

    // Login: one rotation, audited with the new and the previous reference.
    let from = at();
    let session = browser.begin(&env.engine);
    session.login("alice").expect("login");
    browser.finish(&env.engine, &session, 200).await;
    let second = browser.cookie().expect("cookie").to_owned();
    let d = delta(m);
    assert_eq!(d["satchel_rotations_total{reason=login}"], 1, "{d:?}");
    assert_eq!(d["satchel_store_writes_total{kind=rotate}"], 1, "{d:?}");
    let audit = audit_since(from);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(audit[0].contains("event=\"login\""), "{audit:?}");
    assert!(
        audit[0].contains(&format!("session={}", reference(&second))),
        "{audit:?}"
    );
    assert!(audit[0].contains(&reference(&first)), "{audit:?}");

    // cycle_id: a rotation of the other reason.
    let from = at();
    let session = browser.begin(&env.engine);
    session.cycle_id().expect("cycle");
    browser.finish(&env.engine, &session, 200).await;
    let third = browser.cookie().expect("cookie").to_owned();
    let d = delta(m);
    assert_eq!(d["satchel_rotations_total{reason=cycle_id}"], 1, "{d:?}");
    let audit = audit_since(from);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(audit[0].contains("event=\"rotation\""), "{audit:?}");
    assert!(audit[0].contains(&reference(&third)), "{audit:?}");

    // Two requests read and write the same key: one conflict.
    let a = browser.begin(&env.engine);
    let b = browser.begin(&env.engine);
    let na: i64 = a.get("n").await.expect("get").expect("n");
    let nb: i64 = b.get("n").await.expect("get").expect("n");
    a.insert("n", &(na + 1)).expect("insert");
    b.insert("n", &(nb + 1)).expect("insert");
    assert!(env.engine.finish(&a, 200).await.error.is_none());
    let err = env.engine.finish(&b, 200).await.error.expect("conflict");
    assert_eq!(err.kind(), SessionErrorKind::Conflict);
    let d = delta(m);
    assert_eq!(d["satchel_conflicts_total{}"], 1, "{d:?}");
    assert_eq!(d["satchel_store_loads_total{result=found}"], 2, "{d:?}");
    assert_eq!(d["satchel_store_writes_total{kind=patch}"], 2, "{d:?}");

    // Revoke the owner's other sessions (a second device first).
    let other = env.logged_in("alice", &[]).await;
    delta(m);
    let from = at();
    let session = browser.begin(&env.engine);
    assert_eq!(session.revoke_other_sessions().await.expect("revoke"), 1);
    browser.finish(&env.engine, &session, 200).await;
    let audit = audit_since(from);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(audit[0].contains("event=\"revoke\""), "{audit:?}");
    assert!(audit[0].contains("revoked=1"), "{audit:?}");
    assert!(audit[0].contains(&reference(&third)), "kept: {audit:?}");
    // The revoked device's cookie now names nothing: an unknown id, audited as such.
    let from = at();
    let session = other.begin(&env.engine);
    assert_eq!(session.get::<i64>("n").await.expect("get"), None);
    env.engine.finish(&session, 200).await;
    let d = delta(m);
    assert_eq!(
        d["satchel_cookie_anomalies_total{class=unknown_id}"], 1,
        "{d:?}"
    );
    assert_eq!(d["satchel_store_loads_total{result=absent}"], 1, "{d:?}");
    let audit = audit_since(from);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(
        audit[0].contains("event=\"cookie_rejected\"") && audit[0].contains("reason=\"unknown\""),
        "{audit:?}"
    );
    assert!(
        audit[0].contains(&reference(other.cookie().expect("cookie"))),
        "{audit:?}"
    );

    // A malformed cookie is never looked up.
    let from = at();
    let session = env.engine.begin([b"id=nope".as_slice()]);
    assert_eq!(session.get::<i64>("n").await.expect("get"), None);
    env.engine.finish(&session, 200).await;
    assert_eq!(
        delta(m),
        expect(&[("satchel_cookie_anomalies_total{class=malformed_cookie}", 1)])
    );
    let audit = audit_since(from);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(audit[0].contains("reason=\"malformed\""), "{audit:?}");

    // Logout, then a late write of a request that read before it: refused.
    let late = browser.begin(&env.engine);
    let _ = late.get::<i64>("n").await.expect("get");
    delta(m);
    let from = at();
    let session = browser.begin(&env.engine);
    session.logout();
    browser.finish(&env.engine, &session, 200).await;
    late.insert("n", &99).expect("insert");
    let err = env.engine.finish(&late, 200).await.error.expect("gone");
    assert_eq!(err.kind(), SessionErrorKind::Gone);
    let d = delta(m);
    assert_eq!(d["satchel_logouts_total{}"], 1, "{d:?}");
    assert_eq!(d["satchel_store_writes_total{kind=delete}"], 1, "{d:?}");
    assert_eq!(d["satchel_resurrections_refused_total{}"], 1, "{d:?}");
    let audit = audit_since(from);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(audit[0].contains("event=\"logout\""), "{audit:?}");
    assert!(audit[0].contains(&reference(&third)), "{audit:?}");

    // The store goes down: errors by kind, the breaker's outage start and end audited.
    let mut bob = env.logged_in("bob", &[("n", j(1))]).await;
    delta(m);
    let from = at();
    env.store.fail_loads(true);
    let session = bob.begin(&env.engine);
    assert!(session.get::<i64>("n").await.is_err());
    let done = bob.finish(&env.engine, &session, 200).await;
    assert!(done.error.is_some());
    let d = delta(m);
    assert_eq!(
        d["satchel_store_errors_total{kind=unavailable}"], 1,
        "{d:?}"
    );
    assert_eq!(d["satchel_store_loads_total{result=failed}"], 1, "{d:?}");
    assert_eq!(d["satchel_store_outages_total{}"], 1, "{d:?}");
    // The request's one failure report carries the store's cause, though the handler saw
    // the error first and the engine reports its copy (issue 14, item 1).
    let reports: Vec<String> = logs()[from..]
        .lines()
        .filter(|l| l.contains("session store failure; answering with an error"))
        .map(str::to_owned)
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(
        reports[0].contains("session store unavailable: injected failure (CountingStore)"),
        "{reports:?}"
    );
    env.store.fail_loads(false);
    env.clock.advance(Duration::from_secs(5)); // past any backoff: the next call probes
    let session = bob.begin(&env.engine);
    assert_eq!(session.get::<i64>("n").await.expect("back"), Some(1));
    bob.finish(&env.engine, &session, 200).await;
    let audit = audit_since(from);
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert!(
        audit[0].contains("event=\"store_outage_start\"")
            && audit[0].contains("injected failure (CountingStore)"),
        "the start names the cause: {audit:?}"
    );
    assert!(audit[1].contains("event=\"store_outage_end\""), "{audit:?}");

    // No owner, id or store key in any audit line.
    let all = logs();
    for line in all.lines().filter(|l| l.contains("satchel::audit")) {
        assert!(!line.contains("alice") && !line.contains("bob"), "{line}");
        for pair in [&first, &second, &third] {
            let id = pair.split_once('=').map_or(pair.as_str(), |(_, v)| v);
            assert!(!line.contains(id), "{line}");
            let key = SessionId::parse(id).expect("id").store_key();
            assert!(!line.contains(&format!("{key:?}")), "{line}");
        }
    }
}

/// Label values come from fixed lists: a hundred distinct owners and ids leave the set
/// of metric keys as small as one does, and none of them appears in a key.
#[test]
fn labels_never_carry_ids_keys_or_owners() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let keys = metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let env = Env::new();
            for i in 0..100 {
                let mut browser = env.logged_in(&format!("user-{i}"), &[]).await;
                let session = browser.begin(&env.engine);
                session.insert("n", &i).expect("insert");
                browser.finish(&env.engine, &session, 200).await;
                let session = env
                    .engine
                    .begin([format!("id={}", unknown_id()).as_bytes()]);
                let _ = session.get::<i64>("n").await.expect("get");
                env.engine.finish(&session, 200).await;
            }
            delta(&snapshotter)
        })
    });
    assert!(keys.len() < 15, "{keys:?}");
    for key in keys.keys() {
        assert!(!key.contains("user-"), "{key}");
        assert!(
            key.chars()
                .all(|c| c.is_ascii_lowercase() || "_{}=,".contains(c)),
            "only fixed words in metric keys: {key}"
        );
    }
}

/// A full MemoryStore evicts to make room, counted by table; its sweeps count purged
/// records.
#[test]
fn memory_store_evictions_and_purges_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let clock = satchel::TestClock::default();
            let store = MemoryStore::builder().max_sessions(64).shards(1).build();
            let engine = Engine::with_clock(store, SessionConfig::default(), clock.clone());
            for i in 0..74 {
                let session = engine.begin(None);
                session.insert("n", &i).expect("insert");
                assert!(engine.finish(&session, 200).await.error.is_none());
            }
            let d = delta(&snapshotter);
            assert_eq!(
                d["satchel_memory_evictions_total{table=anonymous}"], 10,
                "{d:?}"
            );
            assert_eq!(d["satchel_sessions_created_total{}"], 74, "{d:?}");
            assert!(
                !d.contains_key("satchel_store_latency_seconds{op=create}"),
                "the in-process store is not timed: {d:?}"
            );
            clock.advance(Duration::from_secs(3 * 24 * 3600));
            assert_eq!(engine.purge_expired(1000).await.expect("purge"), 64);
            let d = delta(&snapshotter);
            assert_eq!(d["satchel_purged_records_total{}"], 64, "{d:?}");
        })
    });
}

/// A periodic id renewal (SEC-49) is reported like the other rotations: one `renew`
/// store write (timed, as the shim's calls are), `satchel_rotations_total{reason=renewal}`
/// and one `renewal` audit event naming the new and the previous reference; an old id
/// that only follows the forward afterwards is no second renewal.
#[test]
fn renewal_is_counted_and_audited_as_a_rotation() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let _serial = SERIAL.lock().await;
            start_capture();
            let m = &snapshotter;
            let hour = Duration::from_secs(3600);
            let env = Env::with_config(
                SessionConfig::builder()
                    .idle_timeout(3 * hour)
                    .renew_id_after(hour)
                    .build()
                    .expect("config"),
            );
            let mut browser = env.browser_with(&[("n", j(1))]).await;
            let old = browser.cookie().expect("cookie").to_owned();
            let mut stale = browser.clone();
            env.clock.advance(hour);
            let _ = delta(m);
            let from = logs().len();
            let session = browser.begin(&env.engine);
            assert_eq!(session.get::<i64>("n").await.expect("get"), Some(1));
            browser.finish(&env.engine, &session, 200).await;
            let new = browser.cookie().expect("cookie").to_owned();
            assert_ne!(new, old);
            let d = delta(m);
            assert_eq!(d["satchel_rotations_total{reason=renewal}"], 1, "{d:?}");
            assert_eq!(d["satchel_store_writes_total{kind=renew}"], 1, "{d:?}");
            assert_eq!(d["satchel_store_latency_seconds{op=renew}"], 1, "{d:?}");
            assert!(
                !d.contains_key("satchel_store_writes_total{kind=touch}"),
                "{d:?}"
            );
            let renewals = |from: usize| -> Vec<String> {
                audit_since(from)
                    .into_iter()
                    .filter(|l| l.contains("event=\"renewal\""))
                    .collect()
            };
            let audit = renewals(from);
            assert_eq!(audit.len(), 1, "{audit:?}");
            assert!(
                audit[0].contains(&format!("session={}", reference(&new)))
                    && audit[0].contains(&format!("previous=\"{}\"", reference(&old))),
                "{audit:?}"
            );

            // The old id inside the grace window: a forward followed, no renewal.
            let from = logs().len();
            let session = stale.begin(&env.engine);
            assert_eq!(session.get::<i64>("n").await.expect("get"), Some(1));
            stale.finish(&env.engine, &session, 200).await;
            assert_eq!(stale.cookie(), Some(new.as_str()));
            let d = delta(m);
            assert_eq!(
                d["satchel_store_latency_seconds{op=load_forward}"], 1,
                "{d:?}"
            );
            assert!(
                !d.contains_key("satchel_rotations_total{reason=renewal}"),
                "{d:?}"
            );
            assert!(renewals(from).is_empty());
        })
    });
}
