//! Secrets kept out of logs and `Debug` output (SEC-36) and anomaly events (SEC-13,
//! SEC-35), checked under a subscriber that captures every event at TRACE.

mod common;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use common::log_capture::{logs, start_capture, SERIAL};
use common::{j, unknown_id, Browser, Env};
use satchel::{SessionErrorKind, SessionId};

// ---------------------------------------------------------------------------------------
// No secrets in logs or Debug (SEC-36), anomaly events (SEC-13, SEC-35)
// ---------------------------------------------------------------------------------------

/// Every textual form of an id's secret: the cookie form, hex and standard base64.
fn secret_forms(id: &str) -> Vec<String> {
    let Some(parsed) = SessionId::parse(id) else {
        return vec![id.to_owned()];
    };
    let bytes = parsed.as_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    vec![id.to_owned(), hex, STANDARD_NO_PAD.encode(bytes)]
}

fn assert_no_secret(haystack: &str, ids: &[String], what: &str) {
    for id in ids {
        for form in secret_forms(id) {
            assert!(
                !haystack.contains(&form),
                "{what} contains a session id: {haystack}"
            );
        }
    }
}

/// SEC-36: a whole lifecycle (malformed, unknown, duplicate and valid cookies, login,
/// logout, a conflict, a resurrection attempt, store failures) run under a TRACE capture
/// logs no id, and no `Debug` of sessions, errors or the engine shows one.
#[tokio::test]
async fn ids_never_appear_in_logs_or_debug() {
    let _serial = SERIAL.lock().await;
    start_capture();
    let env = Env::new();
    let mut ids: Vec<String> = Vec::new();
    let mut debug = Vec::new();

    // Malformed, unknown and duplicate cookies.
    let unknown = unknown_id();
    ids.push(unknown.clone());
    for header in [
        format!("id={}", &unknown[..40]),
        format!("id={unknown}"),
        format!("id={unknown}; id={}", unknown_id()),
    ] {
        let session = env.engine.begin([header.as_bytes()]);
        let _ = session.get::<i64>("n").await.expect("get");
        debug.push(format!("{session:?}"));
        let done = env.engine.finish(&session, 200).await;
        debug.push(format!("{:?}", done.error));
    }

    // A session created, read, written, logged in, cycled, conflicted, logged out.
    let mut browser = Browser::new();
    let session = browser.begin(&env.engine);
    session.insert("n", &0).expect("insert");
    browser.finish(&env.engine, &session, 200).await;
    ids.push(browser.id().expect("id").to_owned());

    let session = browser.begin(&env.engine);
    let _ = session.get::<i64>("n").await.expect("get");
    debug.push(format!("{session:?}"));
    session.login("alice").expect("login");
    debug.push(format!("{session:?}"));
    browser.finish(&env.engine, &session, 200).await;
    debug.push(format!("{session:?}"));
    ids.push(browser.id().expect("id").to_owned());

    let session = browser.begin(&env.engine);
    session.cycle_id().expect("cycle");
    browser.finish(&env.engine, &session, 200).await;
    ids.push(browser.id().expect("id").to_owned());

    let a = browser.begin(&env.engine);
    let b = browser.begin(&env.engine);
    let na: i64 = a.get("n").await.expect("get").expect("n");
    let nb: i64 = b.get("n").await.expect("get").expect("n");
    a.insert("n", &(na + 1)).expect("insert");
    b.insert("n", &(nb + 1)).expect("insert");
    assert!(env.engine.finish(&a, 200).await.error.is_none());
    let conflict = env.engine.finish(&b, 200).await.error.expect("conflict");
    assert_eq!(conflict.kind(), SessionErrorKind::Conflict);
    debug.push(format!("{conflict:?} {conflict}"));

    let late = browser.begin(&env.engine);
    let _ = late.get::<i64>("n").await.expect("get");
    let session = browser.begin(&env.engine);
    session.logout();
    browser.finish(&env.engine, &session, 200).await;
    late.insert("n", &99).expect("insert");
    let gone = env.engine.finish(&late, 200).await.error.expect("gone");
    assert_eq!(gone.kind(), SessionErrorKind::Gone);
    debug.push(format!("{gone:?} {gone}"));

    // Store failures.
    let mut browser = env.logged_in("bob", &[("n", j(1))]).await;
    ids.push(browser.id().expect("id").to_owned());
    env.store.fail_loads(true);
    let session = browser.begin(&env.engine);
    let err = session.get::<i64>("n").await.expect_err("load fails");
    debug.push(format!("{err:?} {err} {session:?}"));
    let done = browser.finish(&env.engine, &session, 200).await;
    debug.push(format!("{:?}", done.error));
    env.store.fail_loads(false);
    env.store.fail_writes(true);
    let session = browser.begin(&env.engine);
    session.insert("n", &2).expect("insert");
    let done = browser.finish(&env.engine, &session, 200).await;
    debug.push(format!("{:?}", done.error));
    env.store.fail_writes(false);
    debug.push(format!("{:?} {:?}", env.engine, env.engine.config()));

    let logs = logs();
    // The capture works and saw the events the lifecycle must produce.
    for needle in [
        "malformed_cookie",
        "unknown_id",
        "duplicate_cookie",
        "session store failure",
        "session not saved",
    ] {
        assert!(
            logs.contains(needle),
            "no {needle:?} event captured:\n{logs}"
        );
    }
    assert_eq!(ids.len(), 5, "unknown, created, logged in, cycled, bob");
    assert_no_secret(&logs, &ids, "logs");
    for d in &debug {
        assert_no_secret(d, &ids, "Debug/Display output");
    }
}

/// SEC-36: `Finish` is what integrations handle and log; its `Debug` must not print the
/// `Set-Cookie` value's id (tower-sessions' `Id` deriving `Debug` is the cautionary tale).
#[tokio::test]
async fn finish_debug_does_not_print_the_id() {
    let _serial = SERIAL.lock().await; // shares the process with the capture tests
    let env = Env::new();
    let mut browser = Browser::new();
    let session = browser.begin(&env.engine);
    session.insert("n", &1).expect("insert");
    let done = browser.finish(&env.engine, &session, 200).await;
    let id = browser.id().expect("id").to_owned();
    assert!(done.set_cookie.is_some());
    assert_no_secret(&format!("{done:?}"), &[id], "Debug of Finish");
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// SEC-13 / SEC-35: each injected anomaly gives exactly one event of its kind.
#[tokio::test]
async fn each_cookie_anomaly_emits_exactly_one_event() {
    let _serial = SERIAL.lock().await;
    start_capture();
    let env = Env::new();
    let cases = [
        ("malformed_cookie", "id=nope".to_owned()),
        (
            "duplicate_cookie",
            format!("id={}; id={}", unknown_id(), unknown_id()),
        ),
        (
            "oversized_cookie_header",
            format!("id={}; p={}", unknown_id(), "x".repeat(20_000)),
        ),
        ("unknown_id", format!("id={}", unknown_id())),
    ];
    for (kind, header) in &cases {
        let before = logs();
        let session = env.engine.begin([header.as_bytes()]);
        let _ = session.get::<i64>("n").await.expect("get");
        let _ = session.get::<i64>("m").await.expect("get");
        let done = env.engine.finish(&session, 200).await;
        assert!(done.error.is_none());
        let after = logs();
        let new = &after[before.len()..];
        assert_eq!(count(new, kind), 1, "{kind}: {new}");
        for (other, _) in &cases {
            if other != kind {
                assert_eq!(count(new, other), 0, "{kind} also logged {other}: {new}");
            }
        }
    }
}

/// SEC-36: a CSRF token (issued, verified, refused) appears in no log line and no `Debug`;
/// a request the cross-site check refuses is one `satchel::anomaly` event with its kind,
/// without the attacker-chosen header value (issue 19, item 5).
#[tokio::test]
async fn csrf_tokens_and_refusals_log_no_secret() {
    use satchel::csrf::{CsrfCheck, CsrfRequest};
    let _serial = SERIAL.lock().await;
    start_capture();
    let env = Env::new();
    let mut browser = env.browser_with(&[("n", j(1))]).await;
    let session = browser.begin(&env.engine);
    let token = session.csrf_token().await.expect("token");
    assert_eq!(token.len(), 43);
    assert!(session.verify_csrf_token(&token).await.expect("verify"));
    assert!(!session
        .verify_csrf_token(&token[1..])
        .await
        .expect("verify"));
    let debug = format!("{session:?}");
    let done = browser.finish(&env.engine, &session, 200).await;
    assert!(done.error.is_none());
    let session = browser.begin(&env.engine);
    assert_eq!(
        session.csrf_token().await.expect("token"),
        token,
        "one per session"
    );
    browser.finish(&env.engine, &session, 200).await;
    let refused = CsrfRequest {
        method: "POST",
        origin: Some(b"https://evil.example"),
        ..CsrfRequest::default()
    };
    assert!(!CsrfCheck::default().allows(&refused));
    let logs = logs();
    assert!(
        logs.contains("satchel::anomaly") && logs.contains("csrf_foreign_origin"),
        "{logs}"
    );
    assert!(!logs.contains("evil.example"), "{logs}");
    assert_no_secret(&logs, std::slice::from_ref(&token), "logs");
    assert_no_secret(&debug, &[token], "Debug");
}
