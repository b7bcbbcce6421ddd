//! MemoryStore's eviction at its cap (issue 21): end to end through the engine, a flood of
//! anonymous sessions must not log out the users who are logged in; through the store API,
//! the order in which records are evicted and the cap as a hard bound.

mod common;

use std::time::Duration;

use common::Browser;
use satchel::{
    Data, Engine, MemoryStore, Meta, Patch, Record, Session, SessionConfig, SessionId,
    SessionStore, StoreKey, TestClock, Timestamp, Value, WriteOutcome,
};

/// The demo's `POST /api/counter`: read `n`, write `n + 1`, save.
async fn increment(session: &Session) {
    let n: i64 = session.get("n").await.expect("get").unwrap_or(0);
    session.insert("n", &(n + 1)).expect("insert");
    session.save().await.expect("save");
}

/// `satchel demo --store 'memory:?max_sessions=200'`: 20 users log in, then 2,000
/// cookie-less counter requests each create an anonymous session. Every user is still
/// logged in afterwards, and the store stayed within its cap.
#[tokio::test]
async fn logged_in_users_survive_a_flood_of_anonymous_sessions_at_the_cap() {
    let memory = MemoryStore::builder().max_sessions(200).build();
    let clock = TestClock::default();
    let engine = Engine::with_clock(memory.clone(), SessionConfig::default(), clock.clone());

    let mut users = Vec::new();
    for i in 0..20 {
        let mut browser = Browser::new();
        let session = browser.begin(&engine);
        session.login(format!("user{i}")).expect("login");
        let done = browser.finish(&engine, &session, 200).await;
        assert!(done.error.is_none(), "{:?}", done.error);
        users.push((format!("user{i}"), browser));
    }
    // The users logged in a while ago: their sessions now expire before the flood's.
    clock.advance(Duration::from_secs(60));

    for _ in 0..2_000 {
        let mut attacker = Browser::new();
        let session = attacker.begin(&engine);
        increment(&session).await;
        let done = attacker.finish(&engine, &session, 200).await;
        assert!(done.error.is_none(), "{:?}", done.error);
        assert!(attacker.cookie().is_some(), "each request made a session");
        clock.advance(Duration::from_millis(10));
    }
    assert!(memory.len() <= 200, "{} records held", memory.len());

    let mut logged_out = Vec::new();
    for (user, browser) in &users {
        let session = browser.begin(&engine);
        if session.owner().await.expect("owner").as_deref() != Some(user.as_str()) {
            logged_out.push(user.clone());
        }
    }
    assert!(
        logged_out.is_empty(),
        "{} of 20 users logged out by anonymous traffic: {logged_out:?}",
        logged_out.len()
    );
}

// ---------------------------------------------------------------------------------------
// Eviction order, through the store API
// ---------------------------------------------------------------------------------------

const T0: Timestamp = Timestamp::from_millis(1_000_000_000);

fn at(secs: u64) -> Timestamp {
    T0.saturating_add(Duration::from_secs(secs))
}

/// A one-key record created at `now`, idle for `idle_secs` at most, owned by `owner`.
fn record(now: Timestamp, idle_secs: u64, owner: Option<&str>) -> Record {
    let mut meta = Meta::new(
        now,
        Duration::from_secs(idle_secs),
        Duration::from_secs(30 * 24 * 3600),
    );
    meta.owner = owner.map(str::to_owned);
    let mut data = Data::new();
    data.insert("n".to_owned(), Value::from_json("1").expect("json"));
    Record { data, meta }
}

async fn create(
    store: &MemoryStore,
    now: Timestamp,
    idle_secs: u64,
    owner: Option<&str>,
) -> StoreKey {
    let key = SessionId::generate().store_key();
    let outcome = store
        .create(&key, &record(now, idle_secs, owner), now)
        .await
        .expect("create");
    assert!(matches!(outcome, WriteOutcome::Applied(_)), "{outcome:?}");
    key
}

async fn held(store: &MemoryStore, key: &StoreKey, now: Timestamp) -> bool {
    store.load(key, now).await.expect("load").is_some()
}

/// One shard of `n` records.
fn store_of(n: usize) -> MemoryStore {
    MemoryStore::builder().max_sessions(n).shards(1).build()
}

/// An anonymous record goes before any owned one, even one expiring much later than they.
#[tokio::test]
async fn an_anonymous_record_is_evicted_before_owned_ones() {
    let store = store_of(8);
    let mut owned = Vec::new();
    for i in 0..7 {
        owned.push(create(&store, at(0), 60, Some(&format!("user{i}"))).await);
    }
    let anonymous = create(&store, at(0), 3600, None).await;
    let newcomer = create(&store, at(1), 3600, None).await;
    assert!(
        !held(&store, &anonymous, at(1)).await,
        "the anonymous record went"
    );
    for key in owned.iter().chain([&newcomer]) {
        assert!(held(&store, key, at(1)).await);
    }
    assert_eq!(store.len(), 8);
}

/// The shard's only anonymous record is found wherever it sits, not just in a sample.
#[tokio::test]
async fn the_last_anonymous_record_is_found_among_many_owned_ones() {
    let store = store_of(64);
    let mut owned = Vec::new();
    for i in 0..63 {
        owned.push(create(&store, at(0), 60, Some(&format!("user{i}"))).await);
    }
    let anonymous = create(&store, at(0), 3600, None).await;
    for round in 0..200 {
        // Each newcomer pushes out the anonymous record before it, never a user.
        create(&store, at(1), 3600, None).await;
        assert_eq!(store.len(), 64, "round {round}");
    }
    assert!(!held(&store, &anonymous, at(1)).await);
    for key in &owned {
        assert!(held(&store, key, at(1)).await, "a user was evicted");
    }
}

/// Among owned records, the least recently active goes first, not the soonest to expire:
/// here the idle one has a long idle timeout and would outlive the active ones.
#[tokio::test]
async fn among_owned_records_the_least_recently_active_goes_first() {
    let store = store_of(8);
    let idle = create(&store, at(0), 24 * 3600, Some("idle")).await;
    let mut active = Vec::new();
    for i in 0..7 {
        active.push(create(&store, at(0), 60, Some(&format!("user{i}"))).await);
    }
    for key in &active {
        store
            .touch(key, at(30))
            .await
            .expect("touch")
            .expect("live");
    }
    let newcomer = create(&store, at(31), 60, Some("late")).await;
    assert!(!held(&store, &idle, at(31)).await, "the idle user went");
    for key in active.iter().chain([&newcomer]) {
        assert!(held(&store, key, at(31)).await);
    }
}

/// A write that sets or clears the owner moves the record between the classes: logged in
/// in place it is protected, logged out it is anonymous again.
#[tokio::test]
async fn a_change_of_owner_changes_the_class() {
    let store = store_of(8);
    let user = create(&store, at(0), 3600, None).await;
    let login = Patch {
        owner: Some(Some("alice".to_owned())),
        ..Patch::default()
    };
    let outcome = store.apply(&user, &login, at(0)).await.expect("apply");
    assert!(matches!(outcome, WriteOutcome::Applied(_)), "{outcome:?}");
    for _ in 0..100 {
        create(&store, at(1), 3600, None).await;
    }
    assert!(
        held(&store, &user, at(1)).await,
        "logged in, the record stays"
    );
    let sessions = store
        .sessions_of("alice", at(1))
        .await
        .expect("sessions_of");
    assert_eq!(sessions.len(), 1);

    let logout = Patch {
        owner: Some(None),
        ..Patch::default()
    };
    store.apply(&user, &logout, at(1)).await.expect("apply");
    for _ in 0..100 {
        create(&store, at(2), 3600, None).await;
    }
    assert!(
        !held(&store, &user, at(2)).await,
        "logged out, it is anonymous again"
    );
    assert!(store
        .sessions_of("alice", at(2))
        .await
        .expect("sessions_of")
        .is_empty());
}

/// With no anonymous record left, an anonymous newcomer takes an owned record's place (a
/// new session must be stored); the next newcomer then pushes out that anonymous one.
#[tokio::test]
async fn a_shard_full_of_users_loses_one_to_a_flood() {
    let store = store_of(8);
    let mut owned = Vec::new();
    for i in 0..8 {
        owned.push(create(&store, at(i), 3600, Some(&format!("user{i}"))).await);
    }
    for _ in 0..100 {
        create(&store, at(10), 3600, None).await;
    }
    assert!(
        !held(&store, &owned[0], at(10)).await,
        "the least recently active went"
    );
    for key in &owned[1..] {
        assert!(held(&store, key, at(10)).await);
    }
}

/// `max_sessions` is a hard bound on the records held, whatever the shard count.
#[tokio::test]
async fn max_sessions_is_exact() {
    for (max, shards) in [(200, 64), (1_000, 64), (1_001, 8), (64, 4), (1, 64)] {
        let store = MemoryStore::builder()
            .max_sessions(max)
            .shards(shards)
            .build();
        for _ in 0..(3 * max) {
            create(&store, at(0), 3600, None).await;
        }
        assert!(
            store.len() <= max,
            "{} of {max} over {shards} shards",
            store.len()
        );
    }
}

/// One owner with more sessions than the store holds: the owner index follows every
/// eviction exactly (it is bounded by the store, not by the owner).
#[tokio::test]
async fn the_owner_index_follows_evictions_of_one_owners_many_sessions() {
    let store = store_of(64);
    let mut keys = Vec::new();
    for i in 0..300 {
        keys.push(create(&store, at(i), 3600, Some("mallory")).await);
    }
    let listed = store
        .sessions_of("mallory", at(300))
        .await
        .expect("sessions_of");
    assert_eq!(listed.len(), 64);
    for info in &listed {
        assert!(held(&store, &info.key, at(300)).await);
    }
    assert!(held(&store, &keys[299], at(300)).await, "the newest stays");
    assert_eq!(
        store.revoke_owner("mallory", None).await.expect("revoke"),
        64
    );
    assert!(store.is_empty());
    assert!(store
        .sessions_of("mallory", at(300))
        .await
        .expect("sessions_of")
        .is_empty());
}
