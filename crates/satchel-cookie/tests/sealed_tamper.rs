//! Every way a client can tamper with sealed cookies is rejected without a panic, and
//! key rotation and size limits behave as documented.

mod common;

use common::{config, engine, engine_with, set_n, Jar, OTHER_SECRET, SECRET};
use proptest::prelude::*;
use satchel::{Engine, SessionConfig, SessionErrorKind, Stateless, TestClock};
use satchel_cookie::Keyring;

/// Whether the engine sees a live session with `n` in this raw `Cookie` header.
async fn opens(engine: &Engine, header: &[u8]) -> bool {
    let session = engine.begin([header]);
    let n = session
        .get::<i64>("n")
        .await
        .expect("a bad cookie is no session, not an error");
    let _ = engine.finish(&session, 200).await;
    n.is_some()
}

#[tokio::test]
async fn every_bit_flip_truncation_and_extension_is_rejected() {
    let (engine, _) = engine();
    let mut jar = Jar::default();
    set_n(&mut jar, &engine, 1).await;
    let header = jar.header();
    assert!(opens(&engine, header.as_bytes()).await);
    let value_start = header.find('=').expect("pair") + 1;
    let bytes = header.as_bytes();
    let mut rejected = 0;
    for i in value_start..bytes.len() {
        for bit in 0..8 {
            let mut bad = bytes.to_vec();
            bad[i] ^= 1 << bit;
            assert!(!opens(&engine, &bad).await, "flip {i}:{bit} accepted");
            rejected += 1;
        }
    }
    for cut in value_start..bytes.len() {
        assert!(
            !opens(&engine, &bytes[..cut]).await,
            "truncation at {cut} accepted"
        );
    }
    for extra in ["A", "AA", "AAAA", "-_-_", "="] {
        let longer = format!("{header}{extra}");
        assert!(
            !opens(&engine, longer.as_bytes()).await,
            "extension {extra} accepted"
        );
    }
    assert!(rejected > 500);
}

#[tokio::test]
async fn chunks_reordered_dropped_or_added_are_rejected() {
    let (engine, _) = engine();
    let mut jar = Jar::default();
    jar.request(&engine, |s| async move {
        s.insert("n", &1).expect("insert");
        s.insert("big", &"q".repeat(9000)).expect("insert");
    })
    .await;
    assert_eq!(jar.0.len(), 3, "three chunks: {:?}", jar.0.keys());
    assert!(opens(&engine, jar.header().as_bytes()).await);
    let chunk = |jar: &Jar, name: &str| jar.0.get(name).cloned().expect("chunk present");
    let (c0, c1, c2) = (chunk(&jar, "id"), chunk(&jar, "id.1"), chunk(&jar, "id.2"));
    let cases = [
        format!("id={c0}; id.1={c2}; id.2={c1}"),
        format!("id={c1}; id.1={c0}; id.2={c2}"),
        format!("id={c0}; id.1={c1}"),
        format!("id={c0}; id.2={c2}"),
        format!("id.1={c1}; id.2={c2}"),
        format!("id={c0}; id.1={c1}; id.2={c2}; id.3={c2}"),
        format!("id={c0}; id.1={c1}; id.2={c2}; id.1={c1}"),
    ];
    for (i, case) in cases.iter().enumerate() {
        assert!(!opens(&engine, case.as_bytes()).await, "case {i} accepted");
    }
    // Re-joining the chunks into one cookie presents the very same authentic value, so it
    // opens (no browser would send a cookie that long; nothing is gained by it).
    assert!(opens(&engine, format!("id={c0}{c1}{c2}").as_bytes()).await);
}

#[tokio::test]
async fn a_value_moved_to_another_cookie_name_does_not_open() {
    let (engine, _) = engine();
    let mut jar = Jar::default();
    set_n(&mut jar, &engine, 1).await;
    let value = jar.0.get("id").cloned().expect("cookie");
    let other = Engine::stateless(
        Stateless::new(common::keyring()),
        SessionConfig::builder()
            .cookie_name("sid")
            .build()
            .expect("config"),
    );
    assert!(!opens(&other, format!("sid={value}").as_bytes()).await);
}

#[tokio::test]
async fn fallback_keys_open_and_reseal_removed_keys_do_not() {
    let clock = TestClock::default();
    let old = Engine::stateless_with_clock(
        Stateless::new(Keyring::new(1, &SECRET).expect("key")),
        config(),
        clock.clone(),
    );
    let mut jar = Jar::default();
    set_n(&mut jar, &old, 4).await;
    let sealed_with_old = jar.clone();

    let rotated_ring = Keyring::new(2, &OTHER_SECRET)
        .and_then(|r| r.with_fallback(1, &SECRET))
        .expect("keys");
    let rotated =
        Engine::stateless_with_clock(Stateless::new(rotated_ring), config(), clock.clone());
    // A read-only request: the fallback-key cookie is re-sealed anyway.
    let f = jar
        .request(&rotated, |s| async move {
            assert_eq!(s.get::<i64>("n").await.expect("read"), Some(4));
        })
        .await;
    assert!(f.set_cookie.is_some(), "re-sealed with the active key");
    let only_new = Engine::stateless_with_clock(
        Stateless::new(Keyring::new(2, &OTHER_SECRET).expect("key")),
        config(),
        clock,
    );
    assert!(
        opens(&only_new, jar.header().as_bytes()).await,
        "re-sealed cookie uses key 2"
    );
    assert!(
        !opens(&only_new, sealed_with_old.header().as_bytes()).await,
        "key 1 was removed"
    );
}

#[tokio::test]
async fn oversized_records_fail_instead_of_making_cookies_a_browser_drops() {
    let (engine, _) = engine_with(Stateless::new(common::keyring()).max_chunks(2));
    let mut jar = Jar::default();
    jar.request(&engine, |s| async move {
        s.insert("n", &1).expect("insert");
        s.insert("big", &"w".repeat(6000)).expect("insert");
    })
    .await;
    assert_eq!(jar.0.len(), 2);
    // Past the cap: a typed error, no cookie at all (the jar keeps its old cookies).
    let header = jar.header();
    let session = engine.begin([header.as_bytes()]);
    session.insert("big", &"w".repeat(9000)).expect("insert");
    let err = session.save().await.expect_err("too large");
    assert_eq!(err.kind(), SessionErrorKind::TooLarge);
    let f = engine.finish(&session, 200).await;
    assert!(f.error.is_some() && f.set_cookie.is_none() && f.extra_set_cookies.is_empty());
    assert!(opens(&engine, header.as_bytes()).await, "nothing was lost");
    // Shrinking clears the chunk that is no longer needed.
    let f = jar
        .request(&engine, |s| async move { s.remove("big").expect("remove") })
        .await;
    assert_eq!(f.set_cookies().count(), 2);
    assert!(f.extra_set_cookies[0].starts_with("id.1=;"));
    assert_eq!(jar.0.len(), 1);
    assert_eq!(jar.n(&engine).await, Some(1));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn arbitrary_cookie_headers_never_panic(header in proptest::collection::vec(any::<u8>(), 0..600),
                                            prefix in prop_oneof![Just("id="), Just("id.1="), Just("id.2="), Just("")]) {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let (engine, _) = engine();
        let mut full = prefix.as_bytes().to_vec();
        full.extend_from_slice(&header);
        prop_assert!(!rt.block_on(opens(&engine, &full)));
    }
}
