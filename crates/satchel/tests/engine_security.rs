//! Security behaviour of the engine: strict mode, hostile cookie headers, store failures
//! and handler failures. (Logs and `Debug` output are in `engine_logging.rs`.)

mod common;

use std::time::Duration;

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use common::{cookie_value, j, unknown_id, Browser, Counts, Env, Op};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use satchel::{SessionErrorKind, StoreErrorKind, ENCODED_ID_LEN};

// ---------------------------------------------------------------------------------------
// Strict mode (SEC-2)
// ---------------------------------------------------------------------------------------

/// SEC-2: a well-formed id the server never issued is not adopted: a write gets a fresh id
/// and nothing is stored under the sent one.
#[tokio::test]
async fn unknown_id_with_write_gets_a_fresh_id() {
    let env = Env::new();
    let sent = unknown_id();
    let mut browser = Browser::with_cookie(format!("id={sent}"));

    let session = browser.begin(&env.engine);
    assert_eq!(session.get::<i64>("n").await.expect("get"), None);
    session.insert("n", &1).expect("insert");
    let done = browser.finish(&env.engine, &session, 200).await;

    assert!(done.error.is_none());
    let set = done.set_cookie.expect("a fresh session cookie");
    let issued = cookie_value(&set);
    assert_eq!(issued.len(), ENCODED_ID_LEN);
    assert_ne!(issued, sent);
    assert!(!env.has_record(&sent).await, "no record under the sent id");
    assert!(env.has_record(issued).await);
    assert_eq!(env.memory.len(), 1);
    let c = env.counts();
    assert_eq!((c.load, c.create, c.apply), (1, 1, 0), "{c:?}");
}

/// SEC-2: a blind write (no read) with an unknown id also gets a fresh id.
#[tokio::test]
async fn unknown_id_with_blind_write_gets_a_fresh_id() {
    let env = Env::new();
    let sent = unknown_id();
    let mut browser = Browser::with_cookie(format!("id={sent}"));

    let session = browser.begin(&env.engine);
    session.insert("n", &1).expect("insert");
    let done = browser.finish(&env.engine, &session, 200).await;

    assert!(done.error.is_none());
    let issued = cookie_value(done.set_cookie.as_deref().expect("Set-Cookie")).to_owned();
    assert_eq!(issued.len(), ENCODED_ID_LEN);
    assert_ne!(issued, sent);
    assert!(!env.has_record(&sent).await);
    assert_eq!(
        env.record(&issued).await.expect("record").data["n"].get(),
        "1"
    );
    assert_eq!(env.memory.len(), 1);
}

/// SEC-2 / SEC-5 (session fixation): an attacker-chosen id followed by a login never
/// becomes the authenticated id.
#[tokio::test]
async fn unknown_id_then_login_is_not_adopted() {
    let env = Env::new();
    let fixed = unknown_id();
    let mut browser = Browser::with_cookie(format!("id={fixed}"));

    let session = browser.begin(&env.engine);
    session.login("alice").expect("login");
    let done = browser.finish(&env.engine, &session, 200).await;

    assert!(done.error.is_none());
    let issued = browser.id().expect("cookie").to_owned();
    assert_ne!(issued, fixed);
    assert!(!env.has_record(&fixed).await);
    let record = env.record(&issued).await.expect("record");
    assert_eq!(record.meta.owner.as_deref(), Some("alice"));

    let attacker = Browser::with_cookie(format!("id={fixed}"));
    let session = attacker.begin(&env.engine);
    assert_eq!(session.owner().await.expect("owner"), None);
    env.engine.finish(&session, 200).await;
}

// ---------------------------------------------------------------------------------------
// Hostile cookie headers (SEC-4, SEC-13, SEC-47)
// ---------------------------------------------------------------------------------------

/// Variants of `valid` that are not its canonical form.
fn malformed_variants(valid: &str) -> Vec<(String, Vec<u8>)> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = valid.chars().last().expect("non-empty");
    let idx = ALPHABET.find(last).expect("base64url char");
    // The last character carries 4 data bits and 2 zero bits: set one of the zero bits.
    let tweaked_last = ALPHABET.chars().nth(idx | 1).expect("in alphabet");
    let non_canonical = format!("{}{tweaked_last}", &valid[..42]);
    let mut nul = valid.as_bytes().to_vec();
    nul[20] = 0;
    let standard = STANDARD_NO_PAD.encode(URL_SAFE_NO_PAD.decode(valid).expect("valid decodes"));
    let mut out: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), b"id=".to_vec()),
        ("blank".into(), b"id=   ".to_vec()),
        ("short".into(), b"id=abc".to_vec()),
        (
            "truncated".into(),
            format!("id={}", &valid[..42]).into_bytes(),
        ),
        ("appended".into(), format!("id={valid}A").into_bytes()),
        ("padded".into(), format!("id={valid}=").into_bytes()),
        ("quoted".into(), format!("id=\"{valid}\"").into_bytes()),
        (
            "percent".into(),
            format!("id=%{:02X}{}", valid.as_bytes()[0], &valid[1..]).into_bytes(),
        ),
        ("nul".into(), [b"id=".as_slice(), &nul].concat()),
        (
            "non-utf8".into(),
            [b"id=".as_slice(), &valid.as_bytes()[..41], b"\xff\xfe"].concat(),
        ),
        (
            "unicode".into(),
            format!("id={}", "\u{e9}".repeat(21)).into_bytes(),
        ),
        (
            "inner-space".into(),
            format!("id={} {}", &valid[..21], &valid[21..]).into_bytes(),
        ),
        (
            "megabyte".into(),
            format!("id={}", "A".repeat(1 << 20)).into_bytes(),
        ),
    ];
    if non_canonical != valid {
        out.push((
            "non-canonical-tail".into(),
            format!("id={non_canonical}").into_bytes(),
        ));
    }
    if standard != valid {
        out.push((
            "standard-alphabet".into(),
            format!("id={standard}").into_bytes(),
        ));
    }
    out
}

/// SEC-4: malformed values, even variants of a live id, cause no store call and are not
/// adopted; a write then starts a fresh session.
#[tokio::test]
async fn malformed_cookie_values_never_reach_the_store() {
    let env = Env::new();
    let live = env.logged_in("alice", &[("secret", j(1))]).await;
    let live_id = live.id().expect("id").to_owned();

    for (name, header) in malformed_variants(&live_id) {
        env.store.reset();
        let session = env.engine.begin([header.as_slice()]);
        assert_eq!(
            session.get::<i64>("secret").await.expect("get"),
            None,
            "{name}"
        );
        assert_eq!(session.owner().await.expect("owner"), None, "{name}");
        let done = env.engine.finish(&session, 200).await;
        assert!(done.error.is_none(), "{name}");
        assert_eq!(done.set_cookie, None, "{name}");
        assert_eq!(env.counts(), Counts::default(), "{name}: store was called");

        let session = env.engine.begin([header.as_slice()]);
        session.insert("n", &1).expect("insert");
        let done = env.engine.finish(&session, 200).await;
        let issued = cookie_value(done.set_cookie.as_deref().expect("fresh cookie")).to_owned();
        assert_ne!(issued, live_id, "{name}");
        let c = env.counts();
        assert_eq!((c.load, c.apply, c.create), (0, 0, 1), "{name}: {c:?}");
    }
    assert!(
        env.has_record(&live_id).await,
        "the live session is untouched"
    );
}

/// SEC-13 (cookie tossing): `id=A; id=B` and `id=B; id=A` give the same outcome: neither
/// is looked up or adopted.
#[tokio::test]
async fn duplicate_session_cookies_are_ignored_in_any_order() {
    let env = Env::new();
    let victim = env.logged_in("alice", &[("who", j("alice"))]).await;
    let attacker = env.logged_in("mallory", &[("who", j("mallory"))]).await;
    let a = victim.cookie().expect("a").to_owned();
    let b = attacker.cookie().expect("b").to_owned();

    let headers: Vec<Vec<Vec<u8>>> = vec![
        vec![format!("{a}; {b}").into_bytes()],
        vec![format!("{b}; {a}").into_bytes()],
        vec![format!("x=1; {a};y=2;{b}").into_bytes()],
        vec![a.clone().into_bytes(), b.clone().into_bytes()],
        vec![b.clone().into_bytes(), a.clone().into_bytes()],
        vec![format!("{a}; {a}").into_bytes()],
        vec![format!("{a}; id=junk").into_bytes()],
    ];
    let mut outcomes = Vec::new();
    for h in &headers {
        env.store.reset();
        let session = env.engine.begin(h.iter().map(Vec::as_slice));
        let who: Option<String> = session.get("who").await.expect("get");
        let owner = session.owner().await.expect("owner");
        let done = env.engine.finish(&session, 200).await;
        assert_eq!(env.counts(), Counts::default(), "{h:?}");
        outcomes.push((
            who,
            owner,
            done.set_cookie,
            done.error.is_some(),
            done.no_store,
            done.vary_cookie,
        ));
    }
    assert_eq!(outcomes[0], (None, None, None, false, false, true));
    assert!(outcomes.iter().all(|o| *o == outcomes[0]), "{outcomes:?}");

    // A write starts a fresh session and leaves both tossed sessions as they were.
    let session = env.engine.begin([format!("{b}; {a}").as_bytes()]);
    session.insert("who", &"nobody").expect("insert");
    let done = env.engine.finish(&session, 200).await;
    let issued = cookie_value(done.set_cookie.as_deref().expect("cookie")).to_owned();
    assert_ne!(issued, victim.id().expect("id"));
    assert_ne!(issued, attacker.id().expect("id"));
    for (br, who) in [(&victim, "\"alice\""), (&attacker, "\"mallory\"")] {
        let r = env.record(br.id().expect("id")).await.expect("record");
        assert_eq!(r.data["who"].get(), who);
    }
}

/// SEC-4: `Cookie` headers above the size limit carry no session, even a live one.
#[tokio::test]
async fn oversized_cookie_headers_carry_no_session() {
    let env = Env::new();
    let live = env.logged_in("alice", &[]).await;
    let pair = live.cookie().expect("cookie").to_owned();

    let one = format!("{pair}; pad={}", "x".repeat(17 * 1024));
    let pad = format!("pad={}", "y".repeat(6 * 1024));
    let cases: Vec<Vec<&[u8]>> = vec![
        vec![one.as_bytes()],
        vec![
            pair.as_bytes(),
            pad.as_bytes(),
            pad.as_bytes(),
            pad.as_bytes(),
        ],
    ];
    for headers in cases {
        let session = env.engine.begin(headers.iter().copied());
        assert_eq!(session.owner().await.expect("owner"), None);
        let done = env.engine.finish(&session, 200).await;
        assert_eq!(done.set_cookie, None);
    }
    assert_eq!(env.counts(), Counts::default());

    // Within the limit the same cookie works (the limit is what made the difference).
    let session = env.engine.begin([pair.as_bytes(), pad.as_bytes()]);
    assert_eq!(
        session.owner().await.expect("owner").as_deref(),
        Some("alice")
    );
    env.engine.finish(&session, 200).await;
}

/// Only the configured cookie name, matched exactly, carries the id.
#[tokio::test]
async fn other_cookie_names_carry_no_session() {
    let env = Env::new();
    let live = env.logged_in("alice", &[]).await;
    let id = live.id().expect("id").to_owned();
    for header in [
        format!("ID={id}"),
        format!("xid={id}"),
        format!("id_={id}"),
        format!("session={id}"),
        format!("__Host-id={id}"),
    ] {
        let session = env.engine.begin([header.as_bytes()]);
        assert_eq!(session.owner().await.expect("owner"), None, "{header}");
        env.engine.finish(&session, 200).await;
    }
    assert_eq!(env.counts(), Counts::default());
    // And the same id under the right name is found (spaces around it are fine).
    let session = env
        .engine
        .begin([format!("a=b;  id={id} ; c=d").as_bytes()]);
    assert_eq!(
        session.owner().await.expect("owner").as_deref(),
        Some("alice")
    );
    env.engine.finish(&session, 200).await;
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Whether `header` carries exactly one `id` cookie whose value is a canonical 43-char
/// base64url id (the only case allowed to reach the store). Checked with the base64 crate,
/// independently of `SessionId::parse`.
fn carries_canonical_id(header: &[u8]) -> bool {
    if header.len() > 16 * 1024 {
        return false;
    }
    let values: Vec<&[u8]> = header
        .split(|&b| b == b';')
        .filter_map(|pair| {
            let pair = trim(pair);
            let eq = pair.iter().position(|&b| b == b'=')?;
            (trim(&pair[..eq]) == b"id").then(|| trim(&pair[eq + 1..]))
        })
        .collect();
    let [value] = values.as_slice() else {
        return false;
    };
    value.len() == ENCODED_ID_LEN
        && URL_SAFE_NO_PAD.decode(value).is_ok_and(|bytes| {
            bytes.len() == 32 && URL_SAFE_NO_PAD.encode(&bytes).as_bytes() == *value
        })
}

fn cookie_header_strategy() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        Just(Vec::new()),
        "[A-Za-z0-9_-]{43}".prop_map(String::into_bytes),
        "[A-Za-z0-9_=+/%-]{0,50}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..60),
        Just(()).prop_map(|()| unknown_id().into_bytes()),
    ];
    let name = prop_oneof![
        Just(b"id".to_vec()),
        Just(b" id ".to_vec()),
        Just(b"\tid".to_vec()),
        Just(b"ID".to_vec()),
        Just(b"idx".to_vec()),
        "[a-z]{1,4}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    let pair = (
        name,
        prop_oneof![Just(b"=".to_vec()), Just(b" = ".to_vec()), Just(Vec::new())],
        value,
    )
        .prop_map(|(n, eq, v)| [n, eq, v].concat());
    let sep = prop_oneof![
        Just(b"; ".to_vec()),
        Just(b";".to_vec()),
        Just(b",".to_vec()),
        Just(b" ;\t".to_vec())
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        proptest::collection::vec((pair, sep), 0..5).prop_map(|parts| {
            parts
                .into_iter()
                .flat_map(|(p, s)| [p, s].concat())
                .collect()
        }),
    ]
}

/// SEC-4 / SEC-47: random `Cookie` header bytes never panic and never reach the store
/// unless they carry exactly one canonical id (which is then loaded once and, being
/// unknown, not adopted).
#[test]
fn random_cookie_headers_never_panic_or_reach_the_store() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let env = Env::new();
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 3000,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let canonical = std::cell::Cell::new(0u32);
    runner
        .run(&cookie_header_strategy(), |header| {
            env.store.reset();
            let expect_load = carries_canonical_id(&header);
            rt.block_on(async {
                let session = env.engine.begin([header.as_slice()]);
                let got = session.get::<serde_json::Value>("k").await;
                prop_assert!(got.is_ok(), "get failed: {:?}", got);
                prop_assert_eq!(got.ok().flatten(), None);
                let done = env.engine.finish(&session, 200).await;
                prop_assert!(done.error.is_none());
                if let Some(set) = &done.set_cookie {
                    prop_assert_eq!(cookie_value(set), "", "only a removal may be sent");
                }
                Ok::<(), TestCaseError>(())
            })?;
            let c = env.counts();
            prop_assert_eq!(
                c.load,
                usize::from(expect_load),
                "header {:?}",
                String::from_utf8_lossy(&header)
            );
            prop_assert_eq!(c.writes(), 0);
            if expect_load {
                canonical.set(canonical.get() + 1);
            }
            Ok(())
        })
        .expect("property holds");
    let canonical = canonical.get();
    assert!(
        canonical > 50,
        "the strategy produced only {canonical} canonical ids"
    );
    assert_eq!(env.memory.len(), 0);
}

// ---------------------------------------------------------------------------------------
// Store failures (SEC-39, SEC-40)
// ---------------------------------------------------------------------------------------

/// SEC-40: a failing load fails the request closed: `get` errors, later calls error, the
/// `Finish` carries a 503 store error and no cookie, nothing is written.
#[tokio::test]
async fn failing_load_fails_closed_with_503_and_no_cookie() {
    let env = Env::new();
    let mut browser = env.logged_in("alice", &[("n", j(1))]).await;
    let id = browser.id().expect("id").to_owned();
    env.store.fail_loads(true);

    let session = browser.begin(&env.engine);
    let err = session.get::<i64>("n").await.expect_err("load fails");
    assert_eq!(err.kind(), SessionErrorKind::Store);
    assert_eq!(err.store_kind(), Some(StoreErrorKind::Unavailable));
    assert_eq!(err.default_status(), 503);
    assert_eq!(
        session.owner().await.map_err(|e| e.kind()),
        Err(SessionErrorKind::Store)
    );
    assert_eq!(
        session.insert("n", &2).map_err(|e| e.kind()),
        Err(SessionErrorKind::Store),
        "the failed request stays failed"
    );
    let done = browser.finish(&env.engine, &session, 200).await;

    let err = done.error.expect("the response must become an error");
    assert_eq!(err.kind(), SessionErrorKind::Store);
    assert_eq!(err.default_status(), 503);
    assert_eq!(done.set_cookie, None);
    let c = env.counts();
    assert_eq!((c.load, c.writes()), (1, 0), "{c:?}");

    // The outage ends: the session is intact.
    env.store.fail_loads(false);
    assert_eq!(env.record(&id).await.expect("record").data["n"].get(), "1");
    assert_eq!(browser.id(), Some(id.as_str()));
}

/// SEC-39: a failing save of a new session sets no cookie pointing at nothing.
#[tokio::test]
async fn failing_create_sets_no_cookie() {
    let env = Env::new();
    env.store.fail_writes(true);
    let mut browser = Browser::new();

    let session = browser.begin(&env.engine);
    session.insert("cart", &[1, 2]).expect("insert");
    let done = browser.finish(&env.engine, &session, 200).await;

    let err = done.error.expect("store error");
    assert_eq!(err.kind(), SessionErrorKind::Store);
    assert_eq!(err.default_status(), 503);
    assert_eq!(done.set_cookie, None);
    assert_eq!(browser.cookie(), None);
    assert_eq!(env.counts().create, 1);
    assert_eq!(env.memory.len(), 0);
}

/// SEC-39: a failing patch reports a store error, sets nothing and changes nothing.
#[tokio::test]
async fn failing_apply_reports_store_error_and_changes_nothing() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("n", j(1))]).await;
    let id = browser.id().expect("id").to_owned();
    env.store.fail_writes(true);

    let session = browser.begin(&env.engine);
    let n: i64 = session.get("n").await.expect("get").expect("n");
    session.insert("n", &(n + 1)).expect("insert");
    let done = browser.finish(&env.engine, &session, 200).await;

    assert_eq!(
        done.error.as_ref().map(|e| e.kind()),
        Some(SessionErrorKind::Store)
    );
    assert_eq!(done.error.as_ref().map(|e| e.default_status()), Some(503));
    assert_eq!(done.set_cookie, None);
    assert_eq!(env.record(&id).await.expect("record").data["n"].get(), "1");
}

/// SEC-39 / SEC-46: a failing rotation (login) keeps the old id valid and issues no new one.
#[tokio::test]
async fn failing_login_rotation_keeps_the_old_session() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("cart", j(3))]).await;
    let id = browser.id().expect("id").to_owned();
    env.store.set_fail(Op::Rotate, true);

    let session = browser.begin(&env.engine);
    session.login("alice").expect("login");
    let done = browser.finish(&env.engine, &session, 200).await;

    assert_eq!(done.error.map(|e| e.kind()), Some(SessionErrorKind::Store));
    assert_eq!(done.set_cookie, None);
    assert_eq!(browser.id(), Some(id.as_str()));
    let record = env.record(&id).await.expect("old record still valid");
    assert_eq!(record.meta.owner, None, "not logged in");
    assert_eq!(env.memory.len(), 1);
}

/// SEC-40: a failing touch on a read-only request fails closed too.
#[tokio::test]
async fn failing_touch_fails_closed() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("n", j(1))]).await;
    env.store.set_fail(Op::Touch, true);
    env.clock.advance(Duration::from_secs(10 * 60));

    let session = browser.begin(&env.engine);
    assert_eq!(session.get::<i64>("n").await.expect("get"), Some(1));
    let done = browser.finish(&env.engine, &session, 200).await;

    assert_eq!(env.counts().touch, 1);
    assert_eq!(done.error.map(|e| e.default_status()), Some(503));
    assert_eq!(done.set_cookie, None);
}

/// SEC-39: a 5xx handler response writes nothing: no create, no apply, no rotate.
#[tokio::test]
async fn handler_5xx_writes_nothing() {
    let env = Env::new();

    // New session.
    let mut fresh = Browser::new();
    let session = fresh.begin(&env.engine);
    session.insert("n", &1).expect("insert");
    let done = fresh.finish(&env.engine, &session, 500).await;
    assert_eq!(done.set_cookie, None);
    assert!(done.error.is_none());
    assert_eq!(env.memory.len(), 0);

    // Existing session: read-then-write, and a login.
    let mut browser = env.browser_with(&[("n", j(1))]).await;
    let id = browser.id().expect("id").to_owned();
    let session = browser.begin(&env.engine);
    let n: i64 = session.get("n").await.expect("get").expect("n");
    session.insert("n", &(n + 1)).expect("insert");
    session.login("alice").expect("login");
    let done = browser.finish(&env.engine, &session, 503).await;
    assert_eq!(done.set_cookie, None);
    assert!(done.error.is_none());

    let c = env.counts();
    assert_eq!(
        (c.load, c.create, c.apply, c.rotate, c.delete),
        (1, 0, 0, 0, 0),
        "{c:?}"
    );
    let record = env.record(&id).await.expect("record");
    assert_eq!(record.data["n"].get(), "1");
    assert_eq!(record.meta.owner, None);
    assert_eq!(browser.id(), Some(id.as_str()));
}

/// SEC-39 / SEC-16: a logout still happens on a 5xx response.
#[tokio::test]
async fn handler_5xx_still_logs_out() {
    let env = Env::new();
    let mut browser = env.logged_in("alice", &[]).await;
    let id = browser.id().expect("id").to_owned();

    let session = browser.begin(&env.engine);
    session.logout();
    session.flash("info", "bye").await.expect("flash");
    let done = browser.finish(&env.engine, &session, 500).await;

    let c = env.counts();
    assert_eq!((c.delete, c.create, c.apply), (1, 0, 0), "{c:?}");
    assert!(!env.has_record(&id).await);
    assert_eq!(
        env.memory.len(),
        0,
        "the flash after logout is not saved on a 5xx"
    );
    assert_eq!(
        done.set_cookie.as_deref().map(cookie_value),
        Some(""),
        "removal cookie"
    );
    assert_eq!(browser.cookie(), None);
}

/// SEC-39 / SEC-46: once a login has been committed by an explicit `save()`, the old id is
/// dead; a later 5xx must still hand the browser the new id (the state *was* saved), or
/// the user is silently logged out and holds only a dead cookie.
#[tokio::test]
async fn handler_5xx_after_explicit_save_keeps_the_committed_cookie() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("cart", j(3))]).await;
    let old = browser.id().expect("id").to_owned();

    let session = browser.begin(&env.engine);
    session.login("alice").expect("login");
    session.save().await.expect("explicit save");
    let done = browser.finish(&env.engine, &session, 500).await;

    assert!(!env.has_record(&old).await, "the rotation was committed");
    assert_eq!(env.memory.len(), 1);
    let set = done
        .set_cookie
        .expect("the committed new id must reach the browser");
    assert_ne!(cookie_value(&set), old);
    assert!(env.has_record(cookie_value(&set)).await);
}
