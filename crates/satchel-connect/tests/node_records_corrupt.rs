//! Node-format records satchel cannot read, planted in a real Redis under the stores' own
//! key names (issue 20): connect-redis records (truncated JSON, a top-level array, no
//! `cookie` object, an unparsable `cookie.expires`, a malformed `cookie.satchel`) and
//! koa-redis records (truncated JSON, an array, a string, a number). Through the engine each
//! is no session: a read is anonymous, a write starts a fresh id holding only its own data,
//! no request fails, and the record is gone afterwards.

mod redis_env;

use satchel::{Engine, SessionConfig, SessionId, SessionStore, StoreKey};
use satchel_connect::koa::{KoaRedisOptions, KoaRedisStore};
use satchel_connect::{ConnectRedisOptions, ConnectRedisStore};

const EXPIRES: &str = r#""originalMaxAge":86400000,"httpOnly":true,"path":"/""#;

fn connect_shapes() -> Vec<(&'static str, String)> {
    vec![
        (
            "truncated JSON",
            format!(r#"{{"cookie":{{{EXPIRES},"expires":"2099-01-01T00:00:00.000Z"}},"n":"#),
        ),
        ("a top-level array", "[1,2,3]".to_owned()),
        ("no cookie object", r#"{"n":1}"#.to_owned()),
        (
            "a cookie that is a string",
            r#"{"cookie":"x","n":1}"#.to_owned(),
        ),
        (
            "unparsable cookie.expires",
            format!(r#"{{"cookie":{{{EXPIRES},"expires":"not a date"}},"n":1}}"#),
        ),
        (
            "malformed cookie.satchel",
            format!(
                r#"{{"cookie":{{{EXPIRES},"expires":"2099-01-01T00:00:00.000Z","satchel":"x"}},"n":1}}"#
            ),
        ),
    ]
}

fn koa_shapes() -> Vec<(&'static str, String)> {
    vec![
        ("truncated JSON", r#"{"n":1,"_expire":"#.to_owned()),
        ("a top-level array", "[1,2,3]".to_owned()),
        ("a JSON string", r#""x""#.to_owned()),
        ("a number", "42".to_owned()),
    ]
}

fn key_of(set_cookie: &str) -> StoreKey {
    let id = set_cookie
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .map(|(_, v)| v)
        .unwrap_or_default();
    SessionId::parse(id).expect("a native id").store_key()
}

/// Plants each shape under a live session's Redis key (`redis_key`) and checks the engine's
/// answer to a read and to a write.
async fn check_shapes<S: SessionStore + Clone>(
    env: &redis_env::Env,
    store: S,
    redis_key: impl Fn(&StoreKey) -> String,
    shapes: &[(&'static str, String)],
) {
    let engine = Engine::new(store.clone(), SessionConfig::default());
    for (shape, value) in shapes {
        for write in [false, true] {
            let session = engine.begin(None);
            session.insert("n", &1).expect("insert");
            let done = engine.finish(&session, 200).await;
            let set_cookie = done.set_cookie.expect("a new session");
            let cookie = set_cookie.split(';').next().unwrap_or_default().to_owned();
            let key = key_of(&set_cookie);
            env.set(&redis_key(&key), value, 3600).await;
            let planted = store.load(&key, engine.now()).await;
            assert!(planted.is_err(), "{shape}: the store reads it: {planted:?}");

            for attempt in 0..2 {
                let what = format!("{shape}, write {write}, attempt {attempt}");
                let session = engine.begin([cookie.as_bytes()]);
                let n = session.get::<i64>("n").await.expect(&what);
                assert_eq!(n, None, "{what}: must read as no session");
                if write {
                    session.insert("m", &2).expect("insert");
                }
                let done = engine.finish(&session, 200).await;
                assert!(done.error.is_none(), "{what}: {:?}", done.error);
                if write {
                    let fresh = key_of(&done.set_cookie.expect("a fresh session"));
                    assert_ne!(fresh, key, "{what}");
                    let record = store
                        .load(&fresh, engine.now())
                        .await
                        .expect("load")
                        .expect("the fresh session");
                    assert_eq!(record.data.len(), 1, "{what}: nothing of the old record");
                }
            }
            let left = env.get(&redis_key(&key)).await;
            assert_eq!(left, None, "{shape}: not deleted");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_connect_redis_records_are_no_session() {
    let Some(env) = redis_env::Env::new("connect-corrupt").await else {
        return;
    };
    let store = ConnectRedisStore::connect(
        &env.url,
        ConnectRedisOptions {
            prefix: env.prefix.clone(),
            owner_key: None,
            ..ConnectRedisOptions::default()
        },
    )
    .await
    .expect("connect");
    let named = store.clone();
    check_shapes(&env, store, |k| named.redis_key(k), &connect_shapes()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_koa_redis_records_are_no_session() {
    let Some(env) = redis_env::Env::new("koa-corrupt").await else {
        return;
    };
    let store = KoaRedisStore::connect(
        &env.url,
        KoaRedisOptions {
            prefix: env.prefix.clone(),
            owner_key: None,
            ..KoaRedisOptions::default()
        },
    )
    .await
    .expect("connect");
    let named = store.clone();
    check_shapes(&env, store, |k| named.redis_key(k), &koa_shapes()).await;
}
