//! `ExpressIds` as a satchel `IdFormat`: the express-session sign and verify vectors
//! captured from Node, reproduced through `encode` / `decode`, and malformed values
//! refused.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashSet;

use satchel::{IdFormat, SessionId, StoreKey};
use satchel_connect::{is_express_id, ExpressIds};
use support::{load, Vector};

fn express<'a>(all: &'a [Vector], kind: &str) -> Vec<&'a Vector> {
    all.iter()
        .filter(|v| v.library() == "express-session" && v.kind() == kind)
        .collect()
}

fn id(sid: &str) -> SessionId {
    SessionId::from_raw(sid.as_bytes().try_into().unwrap())
}

#[test]
fn sign_vectors_through_the_format() {
    let vectors = load();
    let cases = express(&vectors.all, "sign");
    assert_eq!(cases.len(), 8);
    let mut adopted = 0;
    for v in &cases {
        let ids = ExpressIds::new(vec![v.str("/inputs/secret").to_owned()]).unwrap();
        let sid = v.str("/inputs/session_id");
        let encoded = v.str("/outputs/cookie_value_url_encoded");
        let raw = v.str("/outputs/cookie_value");
        if is_express_id(sid.as_bytes()) {
            let id = id(sid);
            assert_eq!(ids.encode(&id), encoded, "{}", v.case());
            assert_eq!(
                ids.decode(encoded.as_bytes()),
                Some(id.clone()),
                "{}",
                v.case()
            );
            // Express also reads a value that was never percent-encoded.
            assert_eq!(ids.decode(raw.as_bytes()), Some(id.clone()), "{}", v.case());
            assert_eq!(ids.store_key(&id), StoreKey::from_bytes(*id.as_bytes()));
            assert_eq!(ExpressIds::sid(&id), Some(sid));
            adopted += 1;
        } else {
            // Ids from a custom genid are valid for Node but not adopted here.
            assert_eq!(ids.decode(encoded.as_bytes()), None, "{}", v.case());
        }
    }
    assert_eq!(adopted, 6, "every default-format id is adopted");
}

#[test]
fn verify_vectors_through_the_format() {
    let vectors = load();
    let cases = express(&vectors.all, "verify");
    assert_eq!(cases.len(), 11);
    for v in &cases {
        let ids = ExpressIds::new(v.strings("/inputs/secrets")).unwrap();
        let value = v.str("/inputs/cookie_value");
        let want = v.opt_str("/outputs/session_id").map(id);
        let accepted = v
            .get("/outputs/accepted")
            .and_then(serde_json::Value::as_bool);
        assert_eq!(accepted, Some(want.is_some()), "{}", v.case());
        assert_eq!(ids.decode(value.as_bytes()), want, "{}", v.case());
        let encoded = satchel_connect::uri::encode_uri_component(value);
        assert_eq!(
            ids.decode(encoded.as_bytes()),
            want,
            "{} (encoded)",
            v.case()
        );
    }
}

#[test]
fn secrets_rotate_as_in_express() {
    let sid = "Do-fVPsqrQct9Puz1QRVKDp9kr-xy-gx";
    let old = ExpressIds::new(vec!["old keyboard cat".into()]).unwrap();
    let both = ExpressIds::new(vec!["keyboard cat".into(), "old keyboard cat".into()]).unwrap();
    let signed_old = old.encode(&id(sid));
    assert_eq!(both.decode(signed_old.as_bytes()), Some(id(sid)));
    // What the Rust side sends is signed with the first secret.
    let signed_new = both.encode(&id(sid));
    assert_ne!(signed_new, signed_old);
    assert_eq!(old.decode(signed_new.as_bytes()), None);
    assert_eq!(both.secret_count(), 2);
}

#[test]
fn malformed_values_are_none() {
    let ids = ExpressIds::new(vec!["keyboard cat".into()]).unwrap();
    let good = ids.encode(&id("fEq6LLq_w2X38Zw_ce5rrmmlv8HO8tz8"));
    let decoded = good.replace("%3A", ":");
    let quoted = format!("\"{good}\"");
    assert!(
        ids.decode(quoted.as_bytes()).is_some(),
        "cookie 0.7 removes quotes"
    );
    let short = satchel_connect::uri::encode_uri_component(
        &satchel_connect::express::cookie_value("fEq6LLq_w2X38Zw_ce5rrmmlv8HO8tz", "keyboard cat"),
    );
    let long = satchel_connect::uri::encode_uri_component(&satchel_connect::express::cookie_value(
        "fEq6LLq_w2X38Zw_ce5rrmmlv8HO8tz8A",
        "keyboard cat",
    ));
    let dotted = satchel_connect::uri::encode_uri_component(
        &satchel_connect::express::cookie_value("fEq6LLq_w2X38Zw.ce5rrmmlv8HO8tz8", "keyboard cat"),
    );
    let native = SessionId::generate().encode();
    let mut bad: Vec<Vec<u8>> = [
        "",
        "s:",
        "s%3A",
        "%",
        "s%3A%",
        ".",
        "s:.",
        short.as_str(),
        long.as_str(),
        dotted.as_str(),
        native.as_str(),
        &decoded[2..],
        &good[..good.len() - 1],
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    bad.push(format!("{good}%zz").into_bytes());
    bad.push(format!("{good}{}", "A".repeat(100)).into_bytes());
    bad.push(vec![0xff, 0xfe, b's', b':']);
    bad.push("s:é".repeat(40).into_bytes());
    for value in &bad {
        assert_eq!(
            ids.decode(value),
            None,
            "{:?}",
            String::from_utf8_lossy(value)
        );
    }
}

#[test]
fn generated_ids_are_fresh_uid_safe_ids() {
    let ids = ExpressIds::new(vec!["k".into()]).unwrap();
    let mut seen = HashSet::new();
    for _ in 0..10_000 {
        let id = ids.generate();
        assert!(is_express_id(id.as_bytes()));
        let cookie = ids.encode(&id);
        assert_eq!(ids.decode(cookie.as_bytes()), Some(id.clone()));
        assert!(seen.insert(*id.as_bytes()), "duplicate id");
    }
}

/// Signatures full of `+` and `/` percent-encode to the longest cookie values; an early
/// length limit refused those (about one session in 100,000 was logged out).
#[test]
fn ids_whose_signatures_encode_longest_still_decode() {
    let ids = ExpressIds::new(vec!["k".into()]).unwrap();
    let mut checked = 0;
    for i in 0..400_000u32 {
        let sid = format!("{i:0>32}");
        let sig = satchel_connect::express::sign(&sid, "k");
        let heavy = sig.bytes().filter(|b| matches!(b, b'+' | b'/')).count();
        if heavy < 9 {
            continue;
        }
        let id = satchel::SessionId::from_raw(sid.as_bytes().try_into().unwrap());
        let cookie = ids.encode(&id);
        assert!(cookie.len() > 96, "{cookie}");
        assert_eq!(ids.decode(cookie.as_bytes()), Some(id), "{cookie}");
        checked += 1;
        if checked == 1 {
            break;
        }
    }
    assert!(checked > 0, "no heavy signature found to check");
}
