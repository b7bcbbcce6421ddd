//! koa-session http-exchange vectors, cookie mode and koa-redis store mode.

use satchel_connect::cookies::{
    self, clear_signature, reissue_signature, set_signed_pair, CookieOptions,
};
use satchel_connect::keygrip::Keygrip;
use satchel_connect::koa::{self, MaxAge, Payload};
use satchel_connect::{OrderedData, PayloadError};
use serde_json::Value;

use super::{ordered, parsed_set_cookies, set_cookie_pair, Coverage, Vector};

fn option_max_age(v: &Vector) -> Option<MaxAge> {
    match v.get("/inputs/session_options/maxAge") {
        Some(Value::Number(n)) => Some(MaxAge::Ms(n.as_i64().expect("integer maxAge"))),
        Some(Value::String(s)) if s == "session" => Some(MaxAge::Session),
        _ => None,
    }
}

/// The session data the handler ended with (the fixture data where the vector omits it).
fn final_data(v: &Vector, fixture_session: &OrderedData) -> OrderedData {
    v.json_at(&["outputs", "handler_saw", "session"])
        .map_or_else(|| fixture_session.clone(), |t| ordered(&t))
}

pub(crate) fn check(v: &Vector, fixture_session: &OrderedData) -> Coverage {
    let case = v.case();
    let store_mode = v.library() == "koa-session+koa-redis";
    let now = v.i64("/inputs/now_ms");
    let name = v
        .opt_str("/inputs/session_options/key")
        .unwrap_or(koa::DEFAULT_KEY);
    let signed = v
        .get("/inputs/session_options/signed")
        .and_then(Value::as_bool)
        != Some(false);
    let keys = Keygrip::new(v.strings("/inputs/app_keys")).expect("app keys");
    let path = v.str("/inputs/request/path");
    let header = v.opt_str("/inputs/request/headers/cookie");

    // Read the cookie (the payload itself, or the external key), then the record.
    let value = header
        .and_then(|h| cookies::get(h, name))
        .filter(|s| !s.is_empty());
    let sig = header.and_then(|h| cookies::get(h, &cookies::signature_name(name)));
    let verified: Option<Result<usize, PayloadError>> = value.map(|value| {
        if !signed {
            return Ok(0);
        }
        match cookies::check_signature(&keys, name, value, sig) {
            cookies::SignatureCheck::Valid { key_index } => Ok(key_index),
            cookies::SignatureCheck::Missing => Err(PayloadError::MissingSignature),
            cookies::SignatureCheck::Invalid => Err(PayloadError::BadSignature),
        }
    });
    let payload: Option<Result<Payload, PayloadError>> = match (&verified, value) {
        (Some(Ok(_)), Some(value)) if store_mode => {
            let record = v
                .redis_before()
                .into_iter()
                .find(|(k, _)| k == value)
                .map(|(_, r)| r);
            koa::parse_get_reply(record.as_deref(), now).transpose()
        }
        (Some(Ok(_)), Some(value)) => Some(koa::decode(value, now)),
        (Some(Err(e)), _) => Some(Err(e.clone())),
        _ => None,
    };
    if matches!(path, "/read" | "/null") {
        let saw = v
            .json_at(&["outputs", "handler_saw", "session"])
            .expect("session");
        let got = match &payload {
            Some(Ok(p)) => p.data.to_json_object(),
            _ => "{}".to_owned(),
        };
        assert_eq!(got, saw, "{case}: what the handler saw");
    }
    if let (Some(Ok(idx)), Some(Ok(_))) = (&verified, &payload) {
        // An old-key signature is re-issued only when no full write follows.
        assert!(*idx < keys.len());
    }

    // Write. The session keeps the lifetime its payload carried, else the option.
    let max_age = match &payload {
        Some(Ok(p)) if p.max_age.is_some() => p.max_age,
        _ => option_max_age(v),
    };
    let opts = CookieOptions {
        expires_ms: koa::cookie_expires(max_age, now),
        ..CookieOptions::default()
    };
    let pair = |value: &str| -> Vec<String> {
        if signed {
            set_signed_pair(&keys, name, value, &opts, now)
                .expect("headers")
                .to_vec()
        } else {
            vec![cookies::set_cookie(name, value, &opts, now).expect("header")]
        }
    };
    let data = final_data(v, fixture_session);
    let mut coverage = Coverage::Full;
    let commands = v.commands("/outputs/redis_commands");
    let mut new_key = None;
    for cmd in &commands {
        let want = match cmd[0].as_str() {
            "GET" => koa::get_command(value.expect("GET needs a key")),
            "DEL" => koa::destroy_command(value.expect("DEL needs a key")),
            "SETEX" => {
                new_key = Some(cmd[1].clone());
                let json = koa::encode_json(&data, max_age, now).expect("payload");
                if max_age == Some(MaxAge::Session) {
                    // Node sends `SETEX key session …` and fails; we use one day instead.
                    assert_eq!(
                        (cmd[2].as_str(), cmd[3].as_str()),
                        ("session", json.as_str()),
                        "{case}"
                    );
                    coverage = Coverage::IntentionalDifference;
                    continue;
                }
                koa::set_command(&cmd[1], &json, max_age)
            }
            other => panic!("{case}: unexpected command {other}"),
        };
        assert_eq!(*cmd, want, "{case}");
    }
    let headers = v.strings("/outputs/set_cookie");
    let writes_value = headers
        .first()
        .is_some_and(|h| set_cookie_pair(h).0 == name);
    let want = if path == "/null" {
        pair("")
    } else if writes_value {
        let cookie_value = match &new_key {
            Some(key) => key.clone(),
            None if store_mode => value.expect("key").to_owned(),
            None => koa::encode(&data, max_age, now).expect("payload"),
        };
        pair(&cookie_value)
    } else {
        match verified {
            Some(Ok(i)) if i > 0 => {
                vec![reissue_signature(&keys, name, value.expect("value"), false).expect("header")]
            }
            Some(Err(PayloadError::BadSignature)) => {
                vec![clear_signature(name, false).expect("header")]
            }
            _ => Vec::new(),
        }
    };
    if coverage == Coverage::Full || !headers.is_empty() {
        assert_eq!(
            parsed_set_cookies(&headers),
            parsed_set_cookies(&want),
            "{case}"
        );
    }
    coverage
}
