//! The 159 vectors captured from the real npm packages (`data/vectors.json`, a copy of
//! `shared/interop/vectors.json`), reproduced with this crate's pure functions.
//!
//! Every test asserts how many vectors it checked, so a truncated or reshaped file fails
//! instead of passing on nothing.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod support;

use std::collections::BTreeMap;

use satchel_connect::connect_redis::RedisStoreOptions;
use satchel_connect::keygrip::{Algorithm, Keygrip};
use satchel_connect::uri::encode_uri_component;
use satchel_connect::{cookie_session, cookies, express, koa, OrderedData};
use support::{load, ordered, Coverage, Vector};

fn of<'a>(all: &'a [Vector], library: &str, kind: &str) -> Vec<&'a Vector> {
    all.iter()
        .filter(|v| v.library() == library && v.kind() == kind)
        .collect()
}

#[test]
fn the_file_has_every_vector() {
    let vectors = load();
    assert_eq!(vectors.all.len(), 159);
    let mut kinds = BTreeMap::new();
    for v in &vectors.all {
        *kinds.entry(v.kind().to_owned()).or_insert(0) += 1;
    }
    let want: BTreeMap<String, usize> = [
        ("encode", 3),
        ("http-exchange", 101),
        ("sign", 13),
        ("store-op", 24),
        ("verify", 18),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), n))
    .collect();
    assert_eq!(kinds, want);
}

#[test]
fn express_sign() {
    let vectors = load();
    let checked = of(&vectors.all, "express-session", "sign");
    for v in &checked {
        let (sid, secret) = (v.str("/inputs/session_id"), v.str("/inputs/secret"));
        let signed = express::sign(sid, secret);
        assert_eq!(signed, v.str("/outputs/signed_value"), "{}", v.case());
        assert_eq!(
            signed.rsplit_once('.').unwrap().1,
            v.str("/outputs/signature")
        );
        let value = express::cookie_value(sid, secret);
        assert_eq!(value, v.str("/outputs/cookie_value"));
        assert_eq!(
            encode_uri_component(&value),
            v.str("/outputs/cookie_value_url_encoded")
        );
        let pair = format!(
            "{}={}",
            v.str("/inputs/cookie_name"),
            encode_uri_component(&value)
        );
        assert_eq!(pair, v.str("/outputs/set_cookie_pair"));
        // And back: the header form decodes to the same id.
        assert_eq!(
            express::session_id_from_header(&pair, v.str("/inputs/cookie_name"), &[secret])
                .as_deref(),
            Some(sid)
        );
    }
    assert_eq!(checked.len(), 8);
}

#[test]
fn express_verify() {
    let vectors = load();
    let checked = of(&vectors.all, "express-session", "verify");
    for v in &checked {
        let value = v.str("/inputs/cookie_value");
        let secrets = v.strings("/inputs/secrets");
        let got = express::unsign_cookie_value(value, &secrets);
        let accepted = v.get("/outputs/accepted").unwrap().as_bool().unwrap();
        assert_eq!(got.is_some(), accepted, "{}", v.case());
        assert_eq!(got, v.opt_str("/outputs/session_id"), "{}", v.case());
        // The same through a Cookie header, percent-encoded as Express sends it.
        let header = format!("connect.sid={}", encode_uri_component(value));
        assert_eq!(
            express::session_id_from_header(&header, "connect.sid", &secrets).as_deref(),
            got,
            "{}",
            v.case()
        );
    }
    assert_eq!(checked.len(), 11);
}

fn keygrip_of(v: &Vector) -> Keygrip {
    let algorithm = match v.str("/inputs/algorithm") {
        "sha1" => Algorithm::Sha1,
        "sha256" => Algorithm::Sha256,
        other => panic!("algorithm {other}"),
    };
    Keygrip::with_algorithm(v.strings("/inputs/keys"), algorithm).unwrap()
}

#[test]
fn keygrip_sign_and_verify() {
    let vectors = load();
    let signs = of(&vectors.all, "keygrip", "sign");
    for v in &signs {
        let sig = keygrip_of(v).sign(v.str("/inputs/signed_string"));
        assert_eq!(sig, v.str("/outputs/signature"), "{}", v.case());
        if let Some(hex) = v.opt_str("/outputs/signature_hex") {
            let bytes: String = base64_url_to_hex(&sig);
            assert_eq!(bytes, hex);
        }
    }
    let verifies = of(&vectors.all, "keygrip", "verify");
    for v in &verifies {
        let grip = keygrip_of(v);
        let (data, sig) = (v.str("/inputs/signed_string"), v.str("/inputs/signature"));
        let want = v.i64("/outputs/key_index");
        assert_eq!(
            grip.index(data, sig)
                .map_or(-1, |i| i64::try_from(i).unwrap()),
            want,
            "{}",
            v.case()
        );
        assert_eq!(
            grip.verify(data, sig),
            v.get("/outputs/accepted").unwrap().as_bool().unwrap()
        );
    }
    assert_eq!((signs.len(), verifies.len()), (5, 7));
}

fn base64_url_to_hex(sig: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn payload_encode() {
    let vectors = load();
    let keys = Keygrip::new(
        vectors.fixtures["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap()),
    )
    .unwrap();
    let cs = of(&vectors.all, "cookie-session", "encode");
    for v in &cs {
        let data = ordered(&v.json_at(&["inputs", "session"]).unwrap());
        assert_eq!(
            cookie_session::encode_json(&data).unwrap(),
            v.str("/outputs/json"),
            "{}",
            v.case()
        );
        let value = cookie_session::encode(&data).unwrap();
        assert_eq!(value, v.str("/outputs/cookie_value"), "{}", v.case());
        assert_eq!(cookie_session::decode(&value).unwrap(), data);
    }
    let ks = of(&vectors.all, "koa-session", "encode");
    for v in &ks {
        let data = ordered(&v.json_at(&["inputs", "session"]).unwrap());
        let now = v.i64("/inputs/now_ms");
        let max_age = Some(koa::MaxAge::Ms(v.i64("/inputs/max_age_ms")));
        assert_eq!(
            koa::encode_json(&data, max_age, now).unwrap(),
            v.str("/outputs/json")
        );
        let value = koa::encode(&data, max_age, now).unwrap();
        assert_eq!(value, v.str("/outputs/cookie_value"));
        assert_eq!(format!("koa.sess={value}"), v.str("/outputs/signed_string"));
        let sig = cookies::signature(&keys, "koa.sess", &value);
        assert_eq!(sig, v.str("/outputs/signature"));
        let (payload, key_index) =
            koa::decode_signed("koa.sess", &value, Some(&sig), &keys, now).unwrap();
        assert_eq!((payload.data, key_index), (data, 0));
        assert_eq!(payload.max_age, max_age);
    }
    assert_eq!((cs.len(), ks.len()), (2, 1));
}

#[test]
fn connect_redis_store_ops() {
    let vectors = load();
    let checked = of(&vectors.all, "connect-redis", "store-op");
    let mut by_op = BTreeMap::new();
    for v in &checked {
        let case = v.case();
        let opts = support::express_http::store_options(v.get("/inputs/store_options"));
        let op = case.split('/').next().unwrap();
        *by_op.entry(op.to_owned()).or_insert(0) += 1;
        let sid = v.opt_str("/inputs/sid");
        let now = v
            .get("/inputs/now_ms")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0);
        let session = v
            .json_at(&["inputs", "session"])
            .map(|text| satchel_connect::connect_redis::StoredSession::from_json(&text).unwrap());
        let got: Vec<Vec<String>> = match op {
            "set" => vec![opts
                .set_command(sid.unwrap(), session.as_ref().unwrap(), now)
                .unwrap()],
            "touch" => opts
                .touch_command(sid.unwrap(), session.as_ref().unwrap(), now)
                .into_iter()
                .collect(),
            "destroy" => vec![opts.destroy_command(sid.unwrap())],
            "get" => {
                let key = opts.key(sid.unwrap());
                let stored = v
                    .redis_before()
                    .into_iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, value)| value);
                let loaded = RedisStoreOptions::parse_get_reply(stored.as_deref()).unwrap();
                let want = v.json_at(&["outputs", "result"]);
                assert_eq!(loaded.map(|s| s.to_json().unwrap()), want, "{case}: result");
                vec![opts.get_command(sid.unwrap())]
            }
            "scan" => {
                // A fake keyspace: the seeded records; the vector lists keys sorted.
                let mut keys: Vec<String> = v.redis_before().into_iter().map(|(k, _)| k).collect();
                keys.sort();
                let mut cmds = vec![opts.scan_command("0")];
                let result = v.get("/outputs/result");
                match case {
                    "scan/length" => assert_eq!(result.unwrap().as_u64(), Some(keys.len() as u64)),
                    "scan/ids" => {
                        let ids: Vec<&str> =
                            keys.iter().map(|k| opts.id_of_key(k).unwrap()).collect();
                        assert_eq!(v.strings("/outputs/result"), ids);
                    }
                    "scan/all" => {
                        cmds.extend(opts.mget_command(&keys));
                        let want = v.json_at(&["outputs", "result"]).unwrap();
                        let want: Vec<&serde_json::value::RawValue> =
                            serde_json::from_str(&want).unwrap();
                        assert_eq!(want.len(), keys.len());
                        for (i, (key, value)) in v.redis_before().iter().enumerate() {
                            // all() parses each value and adds its id as a last property.
                            let mut entry = OrderedData::from_json_object(value).unwrap().unwrap();
                            let id = serde_json::to_string(opts.id_of_key(key).unwrap()).unwrap();
                            entry.insert("id", &id).unwrap();
                            assert_eq!(entry.to_json_object(), want[i].get(), "{case}");
                        }
                    }
                    "scan/clear" => cmds.extend(opts.clear_command(&keys)),
                    other => panic!("{other}"),
                }
                cmds
            }
            other => panic!("unknown store op {other}"),
        };
        let pointer = if v.get("/outputs/redis_commands").is_some() {
            "/outputs/redis_commands"
        } else {
            "/outputs/redis_commands_v10"
        };
        assert_eq!(got, v.commands(pointer), "{case}");
        if let Some(v9) = v.get("/outputs/redis_commands_v9") {
            assert_eq!(&serde_json::to_value(&got).unwrap(), v9, "{case}: 9.x");
        }
    }
    let by_op: Vec<(&str, i32)> = by_op.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(
        by_op,
        [
            ("destroy", 1),
            ("get", 2),
            ("scan", 4),
            ("set", 13),
            ("touch", 4)
        ]
    );
    assert_eq!(checked.len(), 24);
}

#[test]
fn http_exchanges() {
    let vectors = load();
    let mut coverage: BTreeMap<(String, Coverage), usize> = BTreeMap::new();
    let mut cases: BTreeMap<Coverage, Vec<String>> = BTreeMap::new();
    for v in vectors.all.iter().filter(|v| v.kind() == "http-exchange") {
        let c = match v.library() {
            "express-session+connect-redis" => {
                support::express_http::check(v, &vectors.fixture_session)
            }
            "cookie-session" => support::cookie_session_http::check(v),
            "koa-session" | "koa-session+koa-redis" => {
                support::koa_http::check(v, &vectors.fixture_session)
            }
            "koa-generic-session+koa-redis" => support::koa_generic_http::check(
                v,
                &vectors.fixture_session,
                &vectors.fixtures["koa_generic_session_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_owned())
                    .collect::<Vec<_>>(),
            ),
            other => panic!("unknown library {other}"),
        };
        *coverage.entry((v.library().to_owned(), c)).or_insert(0) += 1;
        cases.entry(c).or_default().push(v.case().to_owned());
    }
    for (c, list) in &cases {
        if *c != Coverage::Full {
            println!("{c:?}: {}", list.join(", "));
        }
    }
    let got: Vec<(&str, Coverage, usize)> = coverage
        .iter()
        .map(|((l, c), n)| (l.as_str(), *c, *n))
        .collect();
    println!("{got:#?}");
    assert_eq!(
        got,
        [
            ("cookie-session", Coverage::Full, 17),
            ("express-session+connect-redis", Coverage::Full, 41),
            ("koa-generic-session+koa-redis", Coverage::Full, 13),
            ("koa-session", Coverage::Full, 19),
            ("koa-session+koa-redis", Coverage::Full, 10),
            ("koa-session+koa-redis", Coverage::IntentionalDifference, 1),
        ]
    );
}
