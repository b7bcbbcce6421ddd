//! A cookie-session / koa-session cookie payload (bytes from the network: base64 of JSON,
//! koa-session's with `_expire` / `_maxAge` / `_session`) → `cookie_session::decode`,
//! `koa::decode` at a fixed `now`, and the signed readers with keygrip keys.
//!
//! Checked, beyond "no panic": what decodes re-encodes to a payload that decodes to the
//! same data (and, for koa-session, the same `maxAge`), and a payload signed with the
//! first key always opens.
#![no_main]

use libfuzzer_sys::fuzz_target;
use satchel_connect::keygrip::Keygrip;
use satchel_connect::{cookie_session, cookies, koa, PayloadError};

const NOW: i64 = 1_767_225_600_123;

fuzz_target!(|value: &[u8]| {
    let Ok(text) = std::str::from_utf8(value) else { return };
    if let Ok(data) = cookie_session::decode(text) {
        let again = cookie_session::encode(&data).expect("what was read can be written");
        assert_eq!(cookie_session::decode(&again).expect("our own payload"), data);
    }
    if let Ok(p) = koa::decode(text, NOW) {
        if let Ok(again) = koa::encode(&p.data, p.max_age, NOW) {
            // A negative `_maxAge` is written as koa-session writes it (`_expire` = now +
            // maxAge): already expired when read back, in Node too.
            if matches!(p.max_age, Some(koa::MaxAge::Ms(ms)) if ms < 0) {
                assert_eq!(koa::decode(&again, NOW), Err(PayloadError::Expired));
            } else {
                let back = koa::decode(&again, NOW).expect("our own payload");
                assert_eq!(back.data, p.data);
                // A payload without `_maxAge`, or with `_maxAge: 0` (falsy in JavaScript),
                // gets koa-session's default day when written (`koa::encode_json`, as
                // `!maxAge` in koa-session); every other maxAge must come back as it was.
                if p.max_age.is_some() && p.max_age != Some(koa::MaxAge::Ms(0)) {
                    assert_eq!(back.max_age, p.max_age);
                }
            }
        }
    }
    let keys = Keygrip::new(["key1", "key2"]).unwrap();
    let sig = cookies::signature(&keys, "koa.sess", text);
    let signed = koa::decode_signed("koa.sess", text, Some(&sig), &keys, NOW);
    assert_eq!(signed.is_ok(), koa::decode(text, NOW).is_ok(), "the signature is no excuse");
    let _ = koa::decode_signed("koa.sess", text, Some(text), &keys, NOW);
});
