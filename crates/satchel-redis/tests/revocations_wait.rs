//! `RedisRevocations` with `RedisConfig::wait_for_replicas` (SEC-43): a revocation is
//! acknowledged only once a replica has it, so a failover cannot undo it. Against
//! `redis-server` children of the test's own (a primary, and a replica of it).

mod common;

use std::time::{Duration, Instant};

use satchel::sealed::Revocations;
use satchel::{SessionId, StoreErrorKind, Timestamp};
use satchel_redis::{RedisConfig, RedisRevocations, WaitForReplicas};

fn config() -> RedisConfig {
    RedisConfig {
        wait_for_replicas: Some(WaitForReplicas::new(1, Duration::from_millis(200))),
        ..RedisConfig::with_prefix(common::prefix())
    }
}

fn conn(url: &str) -> redis::Connection {
    redis::Client::open(url)
        .expect("url")
        .get_connection()
        .expect("connect")
}

fn get(url: &str, key: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut conn(url))
        .expect("GET")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_revocation_is_on_the_replica() {
    let Some(primary) = common::RedisChild::start() else {
        return;
    };
    let Some(replica) = common::RedisChild::start_with(&[
        "--replicaof".to_owned(),
        "127.0.0.1".to_owned(),
        primary.port.to_string(),
    ]) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query(&mut conn(&primary.url()))
            .expect("INFO");
        if info.contains("state=online") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replica did not sync: {info}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let rev = RedisRevocations::connect(&primary.url(), config())
        .await
        .expect("connect");
    let now = Timestamp::now();
    let until = now.saturating_add(Duration::from_secs(600));

    let session = SessionId::generate().store_key();
    rev.revoke_session(&session, until, now)
        .await
        .expect("acknowledged with the replica up");
    // Read straight from the replica right after the acknowledgement: WAIT returned
    // only once the replica had applied the entry.
    assert!(
        get(&replica.url(), &rev.session_entry_key(&session)).is_some(),
        "an acknowledged session revocation is missing on the replica"
    );

    rev.revoke_owner("alice", now, until)
        .await
        .expect("acknowledged with the replica up");
    assert!(
        get(&replica.url(), &rev.owner_entry_key("alice")).is_some(),
        "an acknowledged owner revocation is missing on the replica"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_replica_a_revocation_is_not_acknowledged() {
    let Some(primary) = common::RedisChild::start() else {
        return;
    };
    let rev = RedisRevocations::connect(&primary.url(), config())
        .await
        .expect("connect");
    let now = Timestamp::now();
    let until = now.saturating_add(Duration::from_secs(600));

    let session = SessionId::generate().store_key();
    let e = rev
        .revoke_session(&session, until, now)
        .await
        .expect_err("no replica confirmed it");
    // Backend, not Unavailable: the primary answered (see durability.rs).
    assert_eq!(e.kind(), StoreErrorKind::Backend, "{e}");
    let e = rev
        .revoke_owner("bob", now, until)
        .await
        .expect_err("no replica confirmed it");
    assert_eq!(e.kind(), StoreErrorKind::Backend, "{e}");

    // The entry is written on the primary all the same (only the acknowledgement is
    // withheld): lookups there deny the session.
    assert!(rev
        .is_revoked(&session, None, now, now)
        .await
        .expect("lookup"));

    // Without the option, the same revoke is acknowledged at once.
    let plain =
        RedisRevocations::connect(&primary.url(), RedisConfig::with_prefix(common::prefix()))
            .await
            .expect("connect");
    plain
        .revoke_session(&SessionId::generate().store_key(), until, now)
        .await
        .expect("no WAIT without wait_for_replicas");
}
