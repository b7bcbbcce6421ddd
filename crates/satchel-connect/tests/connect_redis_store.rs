//! `ConnectRedisStore` on records written the way express-session + connect-redis write
//! them (seeded straight into Redis), and what it writes back for Node to read: byte-exact
//! properties, connect-redis TTLs, merges with concurrent Express writes, conflicts, no
//! resurrection, the owner property, and foreign values.

#![allow(clippy::unwrap_used)]

mod redis_env;

use std::time::Duration;

use satchel::{
    Expiry, IdFormat, Meta, Patch, Record, SessionStore, StoreErrorKind, StoreKey, Timestamp,
    Value, WriteOutcome,
};
use satchel_connect::connect_redis::StoredSession;
use satchel_connect::express::{self, CookieInfo};
use satchel_connect::{ConnectRedisOptions, ExpressIds, OrderedData};

const SID: &str = "fEq6LLq_w2X38Zw_ce5rrmmlv8HO8tz8";
const DATA: &str = r#"{"user":"alice","n":3,"nested":{"a":[1,2]},"unicode":"héllo ✓"}"#;

fn key(sid: &str) -> StoreKey {
    StoreKey::from_bytes(sid.as_bytes().try_into().unwrap())
}

fn v(text: &str) -> Value {
    Value::from_json(text).unwrap()
}

fn now_ms(now: Timestamp) -> i64 {
    i64::try_from(now.as_millis()).unwrap()
}

/// The JSON express-session gives connect-redis for `data` with `maxAge` at `now`.
fn express_json(data: &str, max_age_ms: Option<i64>, now: Timestamp) -> String {
    let data = OrderedData::from_json_object(data).unwrap().unwrap();
    StoredSession::new(CookieInfo::new(max_age_ms, now_ms(now)), data)
        .to_json()
        .unwrap()
}

fn properties(json: &str) -> String {
    StoredSession::from_json(json)
        .unwrap()
        .data
        .to_json_object()
}

/// `env`'s store, the time, and the Redis key of [`SID`], seeded with an express-session
/// record of [`DATA`] for an hour (what a login on Express leaves).
async fn seeded(env: &redis_env::Env) -> (satchel_connect::ConnectRedisStore, Timestamp, String) {
    let store = env.store(env.options()).await;
    let now = Timestamp::now();
    let rkey = format!("{}{SID}", env.prefix);
    env.set(&rkey, &express_json(DATA, Some(3_600_000), now), 3600)
        .await;
    (store, now, rkey)
}

#[tokio::test]
async fn express_records_read_and_patch_byte_for_byte() {
    let Some(env) = redis_env::Env::new("byte_for_byte").await else {
        return;
    };
    let (store, now, rkey) = seeded(&env).await;
    assert_eq!(store.redis_key(&key(SID)), rkey);

    let r = store.load(&key(SID), now).await.unwrap().expect("live");
    assert_eq!(r.data.get("user").map(Value::get), Some("\"alice\""));
    assert_eq!(r.data.get("unicode").map(Value::get), Some("\"héllo ✓\""));
    assert_eq!(r.meta.owner.as_deref(), Some("alice"));
    assert!(r.meta.persistent);
    assert_eq!(r.meta.idle_timeout, Duration::from_secs(3600));
    assert_eq!(r.meta.absolute_deadline, Timestamp::MAX);

    let patch = Patch {
        set: vec![("n".into(), v("4"))],
        expect: vec![("n".into(), Some(v("3")))],
        ..Patch::default()
    };
    let WriteOutcome::Applied(e) = store.apply(&key(SID), &patch, now).await.unwrap() else {
        panic!("not applied");
    };
    assert!(e.persistent);
    let stored = env.get(&rkey).await.unwrap();
    assert_eq!(
        properties(&stored),
        r#"{"user":"alice","n":4,"nested":{"a":[1,2]},"unicode":"héllo ✓"}"#
    );
    assert!(
        stored.starts_with(r#"{"cookie":{"originalMaxAge":3600000,"expires":""#),
        "{stored}"
    );
    assert!(
        stored.contains(r#""httpOnly":true,"path":"/","satchel":{"created":"#),
        "{stored}"
    );
    assert!((3599..=3600).contains(&env.ttl(&rkey).await));
}

#[tokio::test]
async fn rust_writes_merge_with_express_writes_and_stale_reads_conflict() {
    let Some(env) = redis_env::Env::new("merge").await else {
        return;
    };
    let (store, now, rkey) = seeded(&env).await;
    let _read = store.load(&key(SID), now).await.unwrap().expect("live");

    // Meanwhile Express sets another key (a whole-record SET, as connect-redis does).
    let other = r#"{"user":"alice","n":3,"nested":{"a":[1,2]},"unicode":"héllo ✓","cart":[7]}"#;
    env.set(&rkey, &express_json(other, Some(3_600_000), now), 3600)
        .await;
    let patch = Patch {
        set: vec![("n".into(), v("4"))],
        expect: vec![("n".into(), Some(v("3")))],
        ..Patch::default()
    };
    let outcome = store.apply(&key(SID), &patch, now).await.unwrap();
    assert!(matches!(outcome, WriteOutcome::Applied(_)), "{outcome:?}");
    let merged = properties(&env.get(&rkey).await.unwrap());
    assert!(
        merged.contains(r#""n":4"#) && merged.contains(r#""cart":[7]"#),
        "{merged}"
    );

    // Express changes n after Rust read it: Rust's write of n is refused whole.
    let changed = r#"{"user":"alice","n":10,"cart":[7]}"#;
    env.set(&rkey, &express_json(changed, Some(3_600_000), now), 3600)
        .await;
    let stale = Patch {
        set: vec![("n".into(), v("5")), ("x".into(), v("1"))],
        expect: vec![("n".into(), Some(v("4")))],
        ..Patch::default()
    };
    let outcome = store.apply(&key(SID), &stale, now).await.unwrap();
    assert_eq!(outcome, WriteOutcome::Conflict(vec!["n".into()]));
    assert_eq!(properties(&env.get(&rkey).await.unwrap()), changed);
}

#[tokio::test]
async fn a_session_express_destroyed_is_never_revived() {
    let Some(env) = redis_env::Env::new("no_revival").await else {
        return;
    };
    let (store, now, rkey) = seeded(&env).await;
    let _read = store.load(&key(SID), now).await.unwrap().expect("live");
    let () = redis::cmd("DEL")
        .arg(&rkey)
        .query_async(&mut env.raw().await)
        .await
        .unwrap();

    let blind = Patch {
        set: vec![("n".into(), v("9"))],
        ..Patch::default()
    };
    assert_eq!(
        store.apply(&key(SID), &blind, now).await.unwrap(),
        WriteOutcome::Gone
    );
    assert_eq!(store.touch(&key(SID), now).await.unwrap(), None);
    let fresh = key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(
        store.rotate(&key(SID), &fresh, &blind, now).await.unwrap(),
        WriteOutcome::Gone
    );
    assert_eq!(env.get(&rkey).await, None);
    assert!(
        env.keys().is_empty(),
        "nothing was written: {:?}",
        env.keys()
    );
}

#[tokio::test]
async fn express_touches_keep_the_session_alive_for_rust() {
    let Some(env) = redis_env::Env::new("touch").await else {
        return;
    };
    let store = env.store(env.options()).await;
    let now = Timestamp::now();
    // Stored `expires` is one second away, but Express's touch (EXPIRE) gave the key an
    // hour: Express still accepts the session, so the Rust side must too.
    let touched = format!("{}{SID}", env.prefix);
    env.set(&touched, &express_json(DATA, Some(1000), now), 3600)
        .await;
    let later = now.saturating_add(Duration::from_secs(10));
    let r = store
        .load(&key(SID), later)
        .await
        .unwrap()
        .expect("alive as Express sees it");
    assert!(r.meta.idle_deadline > later.saturating_add(Duration::from_secs(3000)));
    // Without the touch it is over.
    let other = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
    env.set(
        &format!("{}{other}", env.prefix),
        &express_json(DATA, Some(1000), now),
        1,
    )
    .await;
    assert!(store.load(&key(other), later).await.unwrap().is_none());
}

#[tokio::test]
async fn ttls_follow_connect_redis_rules() {
    let Some(env) = redis_env::Env::new("ttl").await else {
        return;
    };
    let store = env.store(env.options()).await;
    let now = Timestamp::now();
    let mut record = Record {
        data: [("n".to_owned(), v("1"))].into(),
        meta: Meta::new(
            now,
            Duration::from_secs(1800),
            Duration::from_secs(8 * 3600),
        ),
    };
    // A browser-session satchel session: Express sees no maxAge, Redis drops it when
    // satchel's idle deadline passes.
    let browser = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC";
    store.create(&key(browser), &record, now).await.unwrap();
    let text = env.get(&format!("{}{browser}", env.prefix)).await.unwrap();
    assert!(
        text.starts_with(
            r#"{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/""#
        ),
        "{text}"
    );
    assert!((1799..=1800).contains(&env.ttl(&format!("{}{browser}", env.prefix)).await));
    // A persistent one: maxAge and expires as Express writes them.
    record.meta.persistent = true;
    let persistent = "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD";
    store.create(&key(persistent), &record, now).await.unwrap();
    let text = env
        .get(&format!("{}{persistent}", env.prefix))
        .await
        .unwrap();
    let cookie = StoredSession::from_json(&text).unwrap().cookie;
    assert_eq!(cookie.original_max_age, Some(1_800_000));
    assert_eq!(cookie.expires, Some(now_ms(now) + 1_800_000));
    // A browser-session record Express wrote: Rust's writes keep connect-redis's default TTL.
    let node = format!("{}{SID}", env.prefix);
    env.set(&node, &express_json(DATA, None, now), 86_400).await;
    let blind = Patch {
        set: vec![("k".into(), v("true"))],
        ..Patch::default()
    };
    store.apply(&key(SID), &blind, now).await.unwrap();
    assert!((86_390..=86_400).contains(&env.ttl(&node).await));
    let text = env.get(&node).await.unwrap();
    assert!(
        text.starts_with(r#"{"cookie":{"originalMaxAge":null,"expires":null,"#),
        "{text}"
    );
}

#[tokio::test]
async fn login_is_req_session_user_and_back() {
    let Some(env) = redis_env::Env::new("owner").await else {
        return;
    };
    let secrets = vec!["keyboard cat".to_owned()];
    let (engine, _) = env.express_engine(&secrets).await;

    let s = engine.begin(None);
    s.insert("n", &1).unwrap();
    s.login("alice").unwrap();
    let set = engine.finish(&s, 200).await.set_cookie.expect("cookie");
    let pair = set.split(';').next().unwrap().to_owned();
    assert!(pair.starts_with("connect.sid=s%3A"), "{pair}");
    let sid = express::session_id_from_header(&pair, "connect.sid", &secrets)
        .expect("Express accepts it");
    let rkey = format!("{}{sid}", env.prefix);
    let text = env.get(&rkey).await.expect("stored under sess:<id>");
    // The login's authentication state (SEC-20, `satchel::auth`) travels as the reserved
    // `_auth` property; Express code sees it and may ignore it.
    let props: serde_json::Value = serde_json::from_str(&properties(&text)).unwrap();
    assert_eq!(
        (&props["n"], &props["user"]),
        (&serde_json::json!(1), &serde_json::json!("alice"))
    );
    assert!(props["_auth"]["at"].is_u64(), "{props}");
    assert_eq!(props.as_object().unwrap().len(), 3, "{props}");

    // Express code sets req.session.user: satchel sees that owner.
    let express_login = r#"{"n":1,"user":"bob"}"#;
    env.set(
        &rkey,
        &express_json(express_login, None, Timestamp::now()),
        600,
    )
    .await;
    let s = engine.begin([pair.as_bytes()]);
    assert_eq!(s.owner().await.unwrap().as_deref(), Some("bob"));
    s.logout();
    let done = engine.finish(&s, 200).await;
    assert!(done.set_cookie.is_some_and(|c| c.contains("Max-Age=0")));
    assert_eq!(env.get(&rkey).await, None, "logout deletes sess:<id>");
}

#[tokio::test]
async fn foreign_values_are_errors_or_absent_never_panics() {
    let Some(env) = redis_env::Env::new("foreign").await else {
        return;
    };
    let store = env.store(env.options()).await;
    let now = Timestamp::now();
    let rkey = format!("{}{SID}", env.prefix);
    for (value, absent) in [
        ("not json", false),
        ("[1]", false),
        (r#"{"user":"x"}"#, false),
        (r#"{"cookie":{"path":1}}"#, false),
        (
            r#"{"cookie":{"path":"/","satchel":{"created":"x"}}}"#,
            false,
        ),
        ("null", true),
        ("0", true),
    ] {
        env.set(&rkey, value, 60).await;
        match store.load(&key(SID), now).await {
            Ok(None) if absent => {}
            Err(e) if !absent => assert_eq!(e.kind(), StoreErrorKind::Corrupt, "{value}"),
            other => panic!("{value}: {other:?}"),
        }
        let blind = Patch {
            set: vec![("n".into(), v("1"))],
            ..Patch::default()
        };
        let outcome = store.apply(&key(SID), &blind, now).await;
        assert!(
            absent == matches!(outcome, Ok(WriteOutcome::Gone)),
            "{value}: {outcome:?}"
        );
        assert_eq!(
            env.get(&rkey).await.as_deref(),
            Some(value),
            "never overwritten"
        );
    }
    let () = redis::cmd("DEL")
        .arg(&rkey)
        .query_async(&mut env.raw().await)
        .await
        .unwrap();
    let _: i64 = redis::cmd("HSET")
        .arg(&rkey)
        .arg("f")
        .arg("v")
        .query_async(&mut env.raw().await)
        .await
        .unwrap();
    let err = store.load(&key(SID), now).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Corrupt);
}

#[tokio::test]
async fn properties_express_cannot_keep_are_refused() {
    let Some(env) = redis_env::Env::new("reserved").await else {
        return;
    };
    let store = env.store(env.options()).await;
    let now = Timestamp::now();
    let rkey = format!("{}{SID}", env.prefix);
    let original = express_json(DATA, Some(3_600_000), now);
    env.set(&rkey, &original, 3600).await;
    for reserved in ["cookie", "id", "save", "__proto__"] {
        let patch = Patch {
            set: vec![(reserved.into(), v("1"))],
            ..Patch::default()
        };
        let err = store.apply(&key(SID), &patch, now).await.unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Backend, "{reserved}");
    }
    assert_eq!(env.get(&rkey).await.as_deref(), Some(original.as_str()));
    let bad = ConnectRedisOptions {
        owner_key: Some("id".into()),
        ..env.options()
    };
    assert!(satchel_connect::ConnectRedisStore::connect(&env.url, bad)
        .await
        .is_err());
}

#[tokio::test]
async fn remember_me_from_rust_becomes_an_express_max_age() {
    let Some(env) = redis_env::Env::new("remember").await else {
        return;
    };
    let (engine, ids) = env.express_engine(&["s".to_owned()]).await;
    let s = engine.begin(None);
    s.login("alice").unwrap();
    let week = Duration::from_secs(7 * 24 * 3600);
    s.set_expiry(Expiry::Persistent {
        idle: week,
        absolute: week * 4,
    })
    .unwrap();
    let set = engine.finish(&s, 200).await.set_cookie.expect("cookie");
    assert!(set.contains("Max-Age="), "{set}");
    let value = set
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("connect.sid=");
    let id = ids.decode(value.as_bytes()).unwrap();
    let rkey = format!("{}{}", env.prefix, ExpressIds::sid(&id).unwrap());
    let cookie = StoredSession::from_json(&env.get(&rkey).await.unwrap())
        .unwrap()
        .cookie;
    assert_eq!(cookie.original_max_age, Some(7 * 24 * 3_600_000));
    assert!(cookie.expires.is_some());
    assert!(env.ttl(&rkey).await > 7 * 24 * 3600 - 10);
}
