//! Every reader gets arbitrary input (what a client or a shared Redis can send) and must
//! answer with a value or an error, never a panic; and the JSON writer is stable.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use satchel::{IdFormat, SessionId};
use satchel_connect::connect_redis::{RedisStoreOptions, StoredSession};
use satchel_connect::keygrip::Keygrip;
use satchel_connect::{
    cookie_session, cookies, express, is_express_id, json, koa, uri, ExpressIds, OrderedData,
};

/// Strings biased towards the characters these formats care about.
fn wire_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::string::string_regex(r#"[ \t;=%"sS:.a-z0-9+/_\-{}\[\],\\u]{0,64}"#).unwrap(),
        proptest::string::string_regex(r#"[{}\[\]",:0-9.eE+\-a-z\\ ]{0,64}"#).unwrap(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn readers_never_panic(text in wire_text(), name in "[a-z.]{1,8}") {
        let _ = json::canonicalize(&text);
        let _ = OrderedData::from_json_object(&text);
        let _ = StoredSession::from_json(&text);
        let _ = RedisStoreOptions::parse_get_reply(Some(&text));
        let _ = express::read_cookie(&text, &name);
        let _ = express::session_id_from_header(&text, &name, &["k"]);
        let _ = express::unsign(&text, &["k"]);
        let _ = express::CookieInfo::from_json(&text);
        let _ = uri::decode_uri_component(&text);
        let keys = Keygrip::new(["k"]).unwrap();
        let _ = keys.index(&text, &text);
        let _ = cookies::get(&text, &name);
        let _ = cookies::read_signed(&text, &name, &keys);
        let _ = cookie_session::decode(&text);
        let _ = koa::decode(&text, 0);
        let _ = koa::decode_json(&text, 0);
        let _ = koa::parse_get_reply(Some(&text), 0);
        let _ = express::decode_cookie_value(&text);
        let ids = ExpressIds::new(vec!["k".into()]).unwrap();
        if let Some(id) = ids.decode(text.as_bytes()) {
            prop_assert!(is_express_id(id.as_bytes()));
        }
    }

    #[test]
    fn express_ids_decode_exactly_their_own_signatures(bytes in any::<[u8; 24]>(), other in any::<Vec<u8>>()) {
        // Any 24 random bytes give an id that signs and reads back; arbitrary bytes never
        // panic the reader.
        use base64::Engine as _;
        let sid = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let ids = ExpressIds::new(vec!["k".into()]).unwrap();
        let id = SessionId::from_raw(sid.as_bytes().try_into().unwrap());
        prop_assert_eq!(ids.decode(ids.encode(&id).as_bytes()), Some(id));
        let _ = ids.decode(&other);
    }

    #[test]
    fn canonical_json_is_a_fixed_point(text in wire_text()) {
        if let Ok(once) = json::canonicalize(&text) {
            prop_assert_eq!(json::canonicalize(&once), Ok(once.clone()));
            // And serde_json agrees it is JSON (it may refuse the lone surrogates that
            // JavaScript strings can hold, written as \udXXX escapes).
            if !once.contains("\\ud") {
                prop_assert!(serde_json::from_str::<serde::de::IgnoredAny>(&once).is_ok());
            }
        }
    }

    #[test]
    fn uri_component_round_trip(text in any::<String>()) {
        prop_assert_eq!(uri::decode_uri_component(&uri::encode_uri_component(&text)), Some(text));
    }

    #[test]
    fn express_signature_round_trip(sid in any::<String>(), secret in any::<String>()) {
        let value = express::cookie_value(&sid, &secret);
        prop_assert_eq!(express::unsign_cookie_value(&value, &[&secret]), Some(sid.as_str()));
        let header = format!("connect.sid={}", uri::encode_uri_component(&value));
        let expected = (!sid.is_empty()).then(|| sid.clone());
        prop_assert_eq!(express::session_id_from_header(&header, "connect.sid", &[&secret]), expected);
    }

    #[test]
    fn payload_round_trip(entries in proptest::collection::vec(("[a-zA-Z$][a-z0-9]{0,6}", any::<i32>(), any::<String>()), 0..6)) {
        let mut data = OrderedData::new();
        let reserved = |k: &str| {
            cookie_session::RESERVED_KEYS.contains(&k) || koa::RESERVED_KEYS.contains(&k)
        };
        for (key, n, s) in entries.iter().filter(|(k, _, _)| !reserved(k)) {
            data.insert_serialize(key.clone(), &(n, s)).unwrap();
        }
        let value = cookie_session::encode(&data).unwrap();
        prop_assert_eq!(cookie_session::decode(&value), Ok(data.clone()));
        let (payload, _) = {
            let keys = Keygrip::new(["key1"]).unwrap();
            let v = koa::encode(&data, None, 1_000).unwrap();
            let sig = cookies::signature(&keys, "koa.sess", &v);
            koa::decode_signed("koa.sess", &v, Some(&sig), &keys, 1_000).unwrap()
        };
        prop_assert_eq!(payload.data, data);
    }
}
