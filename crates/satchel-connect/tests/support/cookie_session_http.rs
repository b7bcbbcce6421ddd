//! cookie-session http-exchange vectors: read the request's cookies as cookie-session
//! does, and rebuild every Set-Cookie header.

use satchel_connect::cookie_session;
use satchel_connect::cookies::{
    self, clear_signature, reissue_signature, set_signed_pair, CookieOptions,
};
use satchel_connect::keygrip::Keygrip;
use satchel_connect::{OrderedData, PayloadError, SameSite};
use serde_json::Value;

use super::{ordered, parsed_set_cookies, set_cookie_pair, Coverage, Vector};

pub(crate) fn check(v: &Vector) -> Coverage {
    let case = v.case();
    let now = v.i64("/inputs/now_ms");
    let name = v
        .opt_str("/inputs/middleware_options/name")
        .unwrap_or(cookie_session::DEFAULT_NAME);
    let signed = v
        .get("/inputs/middleware_options/signed")
        .and_then(Value::as_bool)
        != Some(false);
    let keys = Keygrip::new(v.strings("/inputs/middleware_options/keys")).ok();
    let https = v.opt_str("/inputs/request/headers/x-forwarded-proto") == Some("https");
    let path = v.str("/inputs/request/path");
    let header = v.opt_str("/inputs/request/headers/cookie");

    // Read, as tryGetSession: no (or an empty) cookie means a new session.
    let value = header
        .and_then(|h| cookies::get(h, name))
        .filter(|s| !s.is_empty());
    let read: Option<Result<(OrderedData, usize), PayloadError>> = value.map(|value| {
        if signed {
            let sig = header.and_then(|h| cookies::get(h, &cookies::signature_name(name)));
            cookie_session::decode_signed(name, value, sig, keys.as_ref().expect("keys"))
        } else {
            cookie_session::decode(value).map(|d| (d, 0))
        }
    });
    let is_new = v
        .get("/outputs/handler_saw/isNew")
        .and_then(Value::as_bool)
        .expect("isNew");
    assert_eq!(
        is_new,
        !matches!(read, Some(Ok(_))),
        "{case}: accepted or not"
    );
    if let (Some(Ok((data, _))), "/read" | "/null") = (&read, path) {
        let saw = v
            .json_at(&["outputs", "handler_saw", "session"])
            .expect("session");
        assert_eq!(data.to_json_object(), saw, "{case}: what the handler saw");
    }

    // Write.
    let opt = |k: &str| v.get(&format!("/inputs/middleware_options/{k}"));
    let opts = CookieOptions {
        max_age_ms: opt("maxAge").and_then(Value::as_i64),
        same_site: opt("sameSite")
            .and_then(Value::as_str)
            .and_then(SameSite::parse),
        secure: opt("secure").and_then(Value::as_bool).unwrap_or(https),
        http_only: opt("httpOnly").and_then(Value::as_bool).unwrap_or(true),
        ..CookieOptions::default()
    };
    let headers = v.strings("/outputs/set_cookie");
    let writes_value = headers
        .first()
        .is_some_and(|h| set_cookie_pair(h).0 == name);
    let pair = |value: &str| -> Vec<String> {
        if signed {
            set_signed_pair(keys.as_ref().expect("keys"), name, value, &opts, now)
                .expect("headers")
                .to_vec()
        } else {
            vec![cookies::set_cookie(name, value, &opts, now).expect("header")]
        }
    };
    let want = if path == "/null" {
        pair("")
    } else if writes_value {
        let saw = v
            .json_at(&["outputs", "handler_saw", "session"])
            .expect("session");
        pair(&cookie_session::encode(&ordered(&saw)).expect("encode"))
    } else {
        match read {
            Some(Ok((_, i))) if i > 0 => {
                vec![reissue_signature(
                    keys.as_ref().expect("keys"),
                    name,
                    value.expect("value"),
                    https,
                )
                .expect("header")]
            }
            Some(Err(PayloadError::BadSignature)) => {
                vec![clear_signature(name, https).expect("header")]
            }
            _ => Vec::new(),
        }
    };
    assert_eq!(
        parsed_set_cookies(&headers),
        parsed_set_cookies(&want),
        "{case}"
    );
    Coverage::Full
}
