//! The migration path: a user logged in on Express (a connect-redis record written the
//! way express-session writes it) moves to a native satchel session on their next
//! request, staying logged in; driven through both engines' `begin` / `finish`.

#![allow(clippy::unwrap_used)]

mod redis_env;

use satchel::{Engine, IdFormat, MemoryStore, SessionConfig, SessionId};
use satchel_connect::connect_redis::StoredSession;
use satchel_connect::express::CookieInfo;
use satchel_connect::migrate::adopt;
use satchel_connect::{ExpressIds, OrderedData};

const SECRET: &str = "keyboard cat";

/// Seeds `sess:<sid>` as express-session + connect-redis would (maxAge one hour) and
/// returns the `Cookie` header Express gave the browser.
async fn express_session(env: &redis_env::Env, sid: &str, data: &str) -> String {
    let now = i64::try_from(satchel::Timestamp::now().as_millis()).unwrap();
    let data = OrderedData::from_json_object(data).unwrap().unwrap();
    let json = StoredSession::new(CookieInfo::new(Some(3_600_000), now), data)
        .to_json()
        .unwrap();
    env.set(&format!("{}{sid}", env.prefix), &json, 3600).await;
    let ids = ExpressIds::new(vec![SECRET.into()]).unwrap();
    let id = SessionId::from_raw(sid.as_bytes().try_into().unwrap());
    format!("connect.sid={}", ids.encode(&id))
}

async fn engines(env: &redis_env::Env) -> (Engine, Engine) {
    let (legacy, _) = env.express_engine(&[SECRET.into()]).await;
    let native = Engine::new(MemoryStore::new(), SessionConfig::default());
    (legacy, native)
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_logged_in_express_user_moves_to_native_and_stays_logged_in() {
    let Some(env) = redis_env::Env::new("migrate").await else {
        return;
    };
    let (legacy, native) = engines(&env).await;
    let sid = "fEq6LLq_w2X38Zw_ce5rrmmlv8HO8tz8";
    let key = format!("{}{sid}", env.prefix);
    let cookie = express_session(
        &env,
        sid,
        r#"{"user":"alice","n":3,"cart":[1,2],"nodeOnly":"left behind"}"#,
    )
    .await;

    // First request after the switch: adopt, then finish both.
    let old = legacy.begin([cookie.as_bytes()]);
    let new = native.begin([cookie.as_bytes()]);
    assert!(adopt(&old, &new, &["n", "cart", "absent"]).await.unwrap());
    let old_done = legacy.finish(&old, 200).await;
    let new_done = native.finish(&new, 200).await;
    assert!(old_done.error.is_none() && new_done.error.is_none());
    let cleared = old_done.set_cookie.expect("connect.sid cleared");
    assert!(
        cleared.starts_with("connect.sid=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(env.get(&key).await, None, "the Express record is gone");
    let native_cookie = pair(&new_done.set_cookie.expect("a native cookie"));
    assert!(native_cookie.starts_with("id=") && native_cookie.len() == 3 + 43);

    // Next request: native session only, logged in, with the carried data.
    let old = legacy.begin([cookie.as_bytes()]);
    let new = native.begin([native_cookie.as_bytes()]);
    assert!(
        !adopt(&old, &new, &["n", "cart"]).await.unwrap(),
        "nothing left to adopt"
    );
    assert_eq!(new.owner().await.unwrap().as_deref(), Some("alice"));
    assert_eq!(new.get::<i64>("n").await.unwrap(), Some(3));
    assert_eq!(new.get::<Vec<i64>>("cart").await.unwrap(), Some(vec![1, 2]));
    assert_eq!(new.get::<String>("nodeOnly").await.unwrap(), None);
    assert_eq!(
        old.owner().await.unwrap(),
        None,
        "the old cookie leads nowhere"
    );
    let _ = legacy.finish(&old, 200).await;
    assert!(native.finish(&new, 200).await.error.is_none());
    assert_eq!(
        env.get(&key).await,
        None,
        "nothing revived the Express record"
    );
}

#[tokio::test]
async fn anonymous_or_already_native_users_are_left_alone() {
    let Some(env) = redis_env::Env::new("migrate_noop").await else {
        return;
    };
    let (legacy, native) = engines(&env).await;

    // Not logged in on Express: nothing to adopt, the Express session stays.
    let anon = "AnonAnonAnonAnonAnonAnonAnonAnon";
    let cookie = express_session(&env, anon, r#"{"n":1}"#).await;
    let old = legacy.begin([cookie.as_bytes()]);
    let new = native.begin([cookie.as_bytes()]);
    assert!(!adopt(&old, &new, &["n"]).await.unwrap());
    let old_done = legacy.finish(&old, 200).await;
    let new_done = native.finish(&new, 200).await;
    assert!(old_done.set_cookie.is_none() && new_done.set_cookie.is_none());
    assert!(env.get(&format!("{}{anon}", env.prefix)).await.is_some());

    // Already logged in natively (as someone else): the Express login is not merged in.
    let s = native.begin(None);
    s.login("bob").unwrap();
    let native_cookie = pair(&native.finish(&s, 200).await.set_cookie.unwrap());
    let alice = "AliceAliceAliceAliceAliceAlice00";
    let cookie = express_session(&env, alice, r#"{"user":"alice"}"#).await;
    let header = format!("{native_cookie}; {cookie}");
    let old = legacy.begin([header.as_bytes()]);
    let new = native.begin([header.as_bytes()]);
    assert!(!adopt(&old, &new, &[]).await.unwrap());
    assert_eq!(new.owner().await.unwrap().as_deref(), Some("bob"));
    let _ = legacy.finish(&old, 200).await;
    let _ = native.finish(&new, 200).await;
    assert!(env.get(&format!("{}{alice}", env.prefix)).await.is_some());
}

/// A koa-generic-session user (a record as koa-generic-session writes it under a unique
/// prefix, cookie `koa.sid` + `koa.sid.sig`) moves to native on the next request.
#[tokio::test]
async fn a_logged_in_koa_generic_user_moves_to_native_and_stays_logged_in() {
    use satchel_connect::keygrip::Keygrip;
    use satchel_connect::koa_generic::{
        KoaGenericIds, KoaGenericRedisOptions, KoaGenericRedisStore,
    };

    let Some(env) = redis_env::Env::new("migrate_koa_generic").await else {
        return;
    };
    let store = KoaGenericRedisStore::connect(
        &env.url,
        KoaGenericRedisOptions::with_prefix(env.prefix.clone()),
    )
    .await
    .unwrap();
    let keys = Keygrip::new(["key1", "key2"]).unwrap();
    let config = SessionConfig::builder()
        .cookie_name("koa.sid")
        .build()
        .unwrap();
    let legacy = Engine::with_id_format(store, config, KoaGenericIds::new(keys.clone()));
    let native = Engine::new(MemoryStore::new(), SessionConfig::default());

    let sid = "R7imzwX_SWcfKAh1BM1kVvwI_rPOGeS8";
    let key = format!("{}{sid}", env.prefix);
    env.set(
        &key,
        r#"{"cookie":{"httpOnly":true,"path":"/","overwrite":true,"signed":true,"maxAge":86400000},"user":"alice","n":3,"cart":[1,2]}"#,
        86_400,
    )
    .await;
    let sig = satchel_connect::cookies::signature(&keys, "koa.sid", sid);
    let cookie = format!("koa.sid={sid}; koa.sid.sig={sig}");

    let old = legacy.begin([cookie.as_bytes()]);
    let new = native.begin([cookie.as_bytes()]);
    assert!(adopt(&old, &new, &["n", "cart"]).await.unwrap());
    let old_done = legacy.finish(&old, 200).await;
    let new_done = native.finish(&new, 200).await;
    assert!(old_done.error.is_none() && new_done.error.is_none());
    assert!(old_done
        .set_cookie
        .expect("koa.sid cleared")
        .starts_with("koa.sid=;"));
    assert_eq!(env.get(&key).await, None, "the Koa record is gone");
    let native_cookie = pair(&new_done.set_cookie.expect("a native cookie"));

    let new = native.begin([native_cookie.as_bytes()]);
    assert_eq!(new.owner().await.unwrap().as_deref(), Some("alice"));
    assert_eq!(new.get::<i64>("n").await.unwrap(), Some(3));
    assert_eq!(new.get::<Vec<i64>>("cart").await.unwrap(), Some(vec![1, 2]));
    let old = legacy.begin([cookie.as_bytes()]);
    assert_eq!(
        old.owner().await.unwrap(),
        None,
        "the old cookie leads nowhere"
    );
    let _ = legacy.finish(&old, 200).await;
    assert!(native.finish(&new, 200).await.error.is_none());
    assert_eq!(env.get(&key).await, None, "nothing revived the Koa record");
}
