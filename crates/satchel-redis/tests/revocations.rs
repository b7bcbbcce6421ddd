//! `RedisRevocations`: the revocation conformance checks on standalone Redis, a Cluster
//! and through Sentinel, a logout that survives rebuilding the engine (a restart), and a
//! hostile value under an entry key.

mod common;

use satchel::sealed::{CookieSealer, OpenError, Opened, Revocations};
use satchel::{Engine, SessionConfig, SessionId, Stateless, StoreError, StoreErrorKind};
use satchel_redis::{RedisConfig, RedisRevocations};

async fn revocations(var: &str, prefix: &str) -> Option<RedisRevocations> {
    let url = common::url(var)?;
    Some(
        RedisRevocations::connect(&url, RedisConfig::with_prefix(prefix))
            .await
            .expect("connect to Redis"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_passes_the_revocation_conformance_checks() {
    let Some(rev) = revocations("SATCHEL_REDIS_URL", &common::prefix()).await else {
        return;
    };
    satchel::revocations_conformance::run(&rev).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_passes_the_revocation_conformance_checks() {
    let Some(rev) = revocations("SATCHEL_REDIS_CLUSTER_URL", &common::prefix()).await else {
        return;
    };
    satchel::revocations_conformance::run(&rev).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_passes_the_revocation_conformance_checks() {
    let Some(rev) = revocations("SATCHEL_REDIS_SENTINEL_URL", &common::prefix()).await else {
        return;
    };
    satchel::revocations_conformance::run(&rev).await;
}

/// A stand-in sealer (no cryptography: these tests are about revocation, not sealing):
/// the plaintext, hex-encoded.
struct Hex;

impl CookieSealer for Hex {
    fn seal(&self, _name: &str, plaintext: &[u8]) -> Result<String, StoreError> {
        Ok(plaintext.iter().map(|b| format!("{b:02x}")).collect())
    }

    fn open(&self, _name: &str, sealed: &str) -> Result<Opened, OpenError> {
        let bytes = sealed.as_bytes();
        if !bytes.len().is_multiple_of(2) {
            return Err(OpenError::Malformed);
        }
        let plaintext = bytes
            .chunks(2)
            .map(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|s| u8::from_str_radix(s, 16).ok())
                    .ok_or(OpenError::Malformed)
            })
            .collect::<Result<Vec<u8>, _>>()?;
        Ok(Opened {
            plaintext,
            stale_key: false,
        })
    }
}

fn engine(rev: RedisRevocations) -> Engine {
    Engine::stateless(
        Stateless::new(Hex).revocations(rev),
        SessionConfig::default(),
    )
}

/// The cookie a response set, as a `Cookie` header value.
fn cookie_of(finish: &satchel::Finish) -> String {
    let line = finish.set_cookie.as_deref().expect("a cookie");
    line.split(';').next().expect("pair").to_owned()
}

async fn logged_in(engine: &Engine, cookie: &str) -> Option<String> {
    let s = engine.begin([cookie.as_bytes()]);
    let owner = s.owner().await.expect("read");
    engine.finish(&s, 200).await;
    owner
}

/// Issue 19 item 3 on Redis: log out, "restart" (a new engine and a new connection on the
/// same prefix), the old cookie is refused; so is a revoked device.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_and_a_revoked_device_stay_revoked_across_a_restart() {
    let prefix = common::prefix();
    let Some(rev) = revocations("SATCHEL_REDIS_URL", &prefix).await else {
        return;
    };
    let before = engine(rev);
    let login = |owner: &'static str| {
        let before = before.clone();
        async move {
            let s = before.begin(None);
            s.login(owner).expect("login");
            cookie_of(&before.finish(&s, 200).await)
        }
    };
    let gone = login("lin").await;
    let phone = login("mo").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let laptop = login("mo").await;
    let s = before.begin([gone.as_bytes()]);
    s.logout();
    before.finish(&s, 200).await;
    let s = before.begin([laptop.as_bytes()]);
    s.revoke_other_sessions().await.expect("revoke");
    let laptop = cookie_of(&before.finish(&s, 200).await);
    drop(before);

    let after = engine(
        revocations("SATCHEL_REDIS_URL", &prefix)
            .await
            .expect("url"),
    );
    assert_eq!(logged_in(&after, &gone).await, None, "logged-out cookie");
    assert_eq!(logged_in(&after, &phone).await, None, "revoked device");
    assert_eq!(logged_in(&after, &laptop).await.as_deref(), Some("mo"));
}

/// Something else under an entry key is a `Corrupt` error (the request fails closed),
/// never a panic and never "not revoked".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_value_under_an_entry_key_is_an_error() {
    let Some(url) = common::url("SATCHEL_REDIS_URL") else {
        return;
    };
    let rev = revocations("SATCHEL_REDIS_URL", &common::prefix())
        .await
        .expect("url");
    let key = SessionId::generate().store_key();
    let client = redis::Client::open(url).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let _: () = redis::cmd("SET")
        .arg(rev.session_entry_key(&key))
        .arg("not an entry")
        .arg("PX")
        .arg(60_000)
        .query_async(&mut conn)
        .await
        .expect("set");
    let now = satchel::Timestamp::now();
    let err = rev
        .is_revoked(&key, None, now, now)
        .await
        .expect_err("corrupt");
    assert_eq!(err.kind(), StoreErrorKind::Corrupt);
    // A revoke over it replaces the foreign value with a real entry.
    rev.revoke_session(
        &key,
        now.saturating_add(std::time::Duration::from_secs(60)),
        now,
    )
    .await
    .expect("revoke");
    assert!(rev.is_revoked(&key, None, now, now).await.expect("lookup"));
}
