//! SEC-47: lifetimes past every integer type and dates at the end of the calendar, in
//! every reader of a cookie's lifetime (express-session's `cookie` in a connect-redis
//! record, koa-session's `_maxAge` / `_expire`, cookie-session payloads, `Cookie`
//! headers): an answer or an error, never a panic or a wrapped (negative) time.

#![allow(clippy::unwrap_used)]

use satchel_connect::connect_redis::StoredSession;
use satchel_connect::{cookie_session, cookies, express, koa};

/// One past `u64::MAX`: no integer type holds it.
const HUGE: &str = "18446744073709551616";
/// The last millisecond of year 9999 (what `Date` prints as `9999-12-31T23:59:59.999Z`).
const YEAR_9999_MS: i64 = 253_402_300_799_999;
const YEAR_9999_ISO: &str = "9999-12-31T23:59:59.999Z";
const YEAR_9999_HTTP: &str = "Fri, 31 Dec 9999 23:59:59 GMT";

#[test]
fn express_cookie_info_with_a_huge_max_age_and_a_year_9999_expiry() {
    let json = format!(
        r#"{{"originalMaxAge":{HUGE},"expires":"{YEAR_9999_ISO}","httpOnly":true,"path":"/"}}"#
    );
    if let Ok(info) = express::CookieInfo::from_json(&json) {
        assert!(info.original_max_age.is_none_or(|ms| ms >= 0), "{info:?}");
        assert!(info.expires.is_none_or(|ms| ms >= 0), "{info:?}");
    }
    let json = format!(r#"{{"originalMaxAge":1000,"expires":"{YEAR_9999_ISO}","path":"/"}}"#);
    let info = express::CookieInfo::from_json(&json).unwrap();
    assert_eq!(
        info.expires,
        Some(YEAR_9999_MS),
        "year 9999 is a valid JS date"
    );

    let record = format!(
        r#"{{"cookie":{{"originalMaxAge":{HUGE},"expires":"{YEAR_9999_ISO}","path":"/"}},"n":1}}"#
    );
    let _ = StoredSession::from_json(&record);
}

#[test]
fn koa_payloads_with_a_huge_max_age_and_a_year_9999_expiry() {
    for now in [0, YEAR_9999_MS, i64::MAX] {
        for text in [
            format!(r#"{{"n":1,"_maxAge":{HUGE},"_expire":{YEAR_9999_MS}}}"#),
            format!(r#"{{"n":1,"_maxAge":86400000,"_expire":{HUGE}}}"#),
            format!(r#"{{"n":1,"_maxAge":{},"_expire":{}}}"#, i64::MAX, i64::MAX),
        ] {
            if let Ok(p) = koa::decode_json(&text, now) {
                assert!(p.expire_ms.is_none_or(|ms| ms >= 0), "{p:?}");
            }
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode(&text);
            let _ = koa::decode(&b64, now);
            let _ = cookie_session::decode(&b64);
        }
    }
}

#[test]
fn cookie_headers_carrying_set_cookie_attributes_are_just_cookies() {
    let header =
        format!("koa.sess=x; Max-Age={HUGE}; Expires={YEAR_9999_HTTP}; connect.sid=s%3Aabc");
    assert_eq!(cookies::get(&header, "Max-Age"), Some(HUGE));
    assert_eq!(cookies::get(&header, "koa.sess"), Some("x"));
    assert_eq!(
        express::read_cookie(&header, "Expires").as_deref(),
        Some(YEAR_9999_HTTP)
    );
}
