//! The `satchel::audit` events of sealed sessions (issue 14, item 4): a login, a rotation,
//! "log out everywhere else", a logout, then a tampered and a revoked cookie, each one
//! event with its fields, and no cookie value or owner in any of them.

mod common;

#[path = "../../satchel/tests/common/log_capture.rs"]
mod log_capture;

use common::{engine, Jar};
use log_capture::{logs, start_capture, SERIAL};

/// The audit lines logged since `from` (a length of [`logs`]).
fn audit_since(from: usize) -> Vec<String> {
    logs()[from..]
        .lines()
        .filter(|l| l.contains("satchel::audit"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn sealed_sessions_are_audited() {
    let _serial = SERIAL.lock().await;
    start_capture();
    let (engine, _clock) = engine();
    let mut jar = Jar::default();
    let mut seen = Vec::new();

    let from = logs().len();
    jar.request(&engine, |s| async move { s.login("alice").expect("login") })
        .await;
    seen.push(jar.header());
    let audit = audit_since(from);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(audit[0].contains("event=\"login\""), "{audit:?}");
    assert!(audit[0].contains("session="), "{audit:?}");

    let from = logs().len();
    jar.request(&engine, |s| async move {
        assert_eq!(s.owner().await.expect("owner").as_deref(), Some("alice"));
        s.cycle_id().expect("cycle");
    })
    .await;
    seen.push(jar.header());
    let audit = audit_since(from);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(audit[0].contains("event=\"rotation\""), "{audit:?}");

    let from = logs().len();
    jar.request(&engine, |s| async move {
        assert_eq!(s.revoke_other_sessions().await.expect("revoke"), 0);
    })
    .await;
    seen.push(jar.header());
    let audit = audit_since(from);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(audit[0].contains("event=\"revoke\""), "{audit:?}");

    // A tampered copy of the cookie: rejected as tampered.
    let header = jar.header();
    let mut bad = header.clone().into_bytes();
    let last = bad.len() - 2;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    let from = logs().len();
    let session = engine.begin([bad.as_slice()]);
    assert_eq!(session.get::<i64>("n").await.expect("no session"), None);
    engine.finish(&session, 200).await;
    let audit = audit_since(from);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(
        audit[0].contains("event=\"cookie_rejected\"") && audit[0].contains("reason=\"tampered\""),
        "{audit:?}"
    );

    // Logout deny-lists the session; the old cookie presented again is revoked.
    let from = logs().len();
    jar.request(&engine, |s| async move { s.logout() }).await;
    let audit = audit_since(from);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(
        audit[0].contains("event=\"logout\"") && audit[0].contains("session="),
        "{audit:?}"
    );
    let from = logs().len();
    let session = engine.begin([header.as_bytes()]);
    assert_eq!(session.get::<i64>("n").await.expect("no session"), None);
    engine.finish(&session, 200).await;
    let audit = audit_since(from);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(audit[0].contains("reason=\"revoked\""), "{audit:?}");

    for line in logs().lines().filter(|l| l.contains("satchel::audit")) {
        assert!(!line.contains("alice"), "{line}");
        for cookie in &seen {
            let value = cookie.split_once('=').map_or("", |(_, v)| v);
            assert!(!line.contains(&value[..40]), "{line}");
        }
    }
}
