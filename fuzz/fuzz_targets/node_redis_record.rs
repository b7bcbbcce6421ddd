//! A Redis value (store contents are untrusted input, whoever else writes to that Redis)
//! → the three Node-format readers and the live stores' layouts: connect-redis
//! (`sess:<id>`), koa-redis for koa-session (the payload under the UUID) and koa-redis
//! for koa-generic-session (`koa:sess:<sid>`). The first input byte picks the library.
//!
//! Checked, beyond "no panic": a record a reader accepts writes back to text the reader
//! reads to the same record, and writing that again gives the same bytes; a layout's
//! unchanged rewrite of a record it read reads back with the same metadata.
#![no_main]

use libfuzzer_sys::fuzz_target;
use satchel::Timestamp;
use satchel_connect::connect_redis::RedisStoreOptions;
use satchel_connect::fuzzing::{connect_redis_layout, koa_generic_layout, koa_redis_layout, LayoutRead};
use satchel_connect::{koa, koa_generic};

const NOW_MS: i64 = 1_767_225_600_123;

/// A negative `_maxAge` is written as koa-session writes it, `_expire` = now + maxAge: a
/// session that has already expired when read back (Node does the same).
fn written_expired(max_age: Option<koa::MaxAge>) -> bool {
    matches!(max_age, Some(koa::MaxAge::Ms(ms)) if ms < 0)
}

fn layout_is_stable(read: fn(&str, Timestamp) -> LayoutRead, text: &str) {
    let now = Timestamp::from_millis(NOW_MS as u64);
    if let Ok(Some((meta, json))) = read(text, now) {
        let (again, json2) = read(&json, now)
            .expect("our own rewrite reads")
            .expect("and is a session");
        assert_eq!(json2, json, "the rewrite is a fixed point");
        assert_eq!(again.owner, meta.owner);
        assert_eq!(again.idle_timeout, meta.idle_timeout);
    }
}

fuzz_target!(|value: &[u8]| {
    let Some((&which, rest)) = value.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    match which % 3 {
        0 => {
            if let Ok(Some(s)) = RedisStoreOptions::parse_get_reply(Some(text)) {
                if let Ok(json) = s.to_json() {
                    let back = RedisStoreOptions::parse_get_reply(Some(&json))
                        .expect("our own record reads")
                        .expect("and is a session");
                    assert_eq!(back.to_json().as_deref(), Ok(json.as_str()));
                }
            }
            layout_is_stable(connect_redis_layout, text);
        }
        1 => {
            if let Ok(Some(p)) = koa::parse_get_reply(Some(text), NOW_MS) {
                if let Ok(json) = koa::encode_json(&p.data, p.max_age, NOW_MS) {
                    let back = koa::parse_get_reply(Some(&json), NOW_MS);
                    if written_expired(p.max_age) {
                        assert_eq!(back, Err(satchel_connect::PayloadError::Expired));
                    } else {
                        let back = back.expect("our own record reads").expect("and is live");
                        assert_eq!(back.data, p.data);
                    }
                }
            }
            layout_is_stable(koa_redis_layout, text);
        }
        _ => {
            if let Ok(Some(s)) = koa_generic::StoredSession::from_json(text) {
                let json = s.to_json();
                let back = koa_generic::StoredSession::from_json(&json)
                    .expect("our own record reads")
                    .expect("and is a session");
                assert_eq!(back.to_json(), json);
                let _ = koa_generic::set_command("koa:sess:", "sid", &s, None, NOW_MS);
                let _ = s.cookie_header_options();
            }
            layout_is_stable(koa_generic_layout, text);
        }
    }
});
