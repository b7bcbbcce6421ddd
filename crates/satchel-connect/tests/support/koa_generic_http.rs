//! koa-generic-session + koa-redis http-exchange vectors, reproduced step by step with
//! the pure functions of `satchel_connect::koa_generic`, following `lib/session.js`:
//! read the signed cookie, `GET` the record, run the handler (its outcome is the session
//! the vector says it saw), then `refreshSession`.

use satchel_connect::cookies::{self, clear_signature, reissue_signature, SignatureCheck};
use satchel_connect::keygrip::Keygrip;
use satchel_connect::koa_generic::{self, StoredSession};
use satchel_connect::{is_express_id, OrderedData};
use serde_json::Value;

use super::{ordered, parsed_set_cookies, set_cookie_pair, Coverage, Vector};

/// `cookies.set` with `overwrite: true` first drops the headers already set for `name`.
fn push_overwriting(headers: &mut Vec<String>, name: &str, new: Vec<String>) {
    let sig = cookies::signature_name(name);
    headers.retain(|h| {
        let n = set_cookie_pair(h).0;
        n != name && n != sig
    });
    headers.extend(new);
}

pub(crate) fn check(v: &Vector, fixture_session: &OrderedData, fixture_ids: &[String]) -> Coverage {
    let case = v.case();
    let now = v.i64("/inputs/now_ms");
    let name = v
        .opt_str("/inputs/session_options/key")
        .unwrap_or(koa_generic::DEFAULT_KEY);
    let prefix = v
        .opt_str("/inputs/session_options/prefix")
        .unwrap_or(koa_generic::DEFAULT_PREFIX);
    let rolling = v
        .get("/inputs/session_options/rolling")
        .and_then(Value::as_bool)
        == Some(true);
    let configured = v
        .json_at(&["inputs", "session_options", "cookie"])
        .map_or_else(OrderedData::new, |t| ordered(&t));
    let fresh = StoredSession::fresh(&configured);
    let keys = Keygrip::new(v.strings("/inputs/app_keys")).expect("app keys");
    let path = v.str("/inputs/request/path");

    // The id the fixed generator hands out next: the one the response uses.
    let want_headers = v.strings("/outputs/set_cookie");
    let generated = want_headers
        .iter()
        .map(|h| set_cookie_pair(h))
        .find(|(n, value)| *n == name && !value.is_empty())
        .map(|(_, value)| value.to_owned());
    if let Some(sid) = &generated {
        assert!(
            is_express_id(sid.as_bytes()),
            "{case}: uid-safe(24) id {sid}"
        );
        if case != "koa-generic-session/default-gensid" {
            assert!(
                fixture_ids.contains(sid)
                    || v.opt_str("/inputs/request/headers/cookie")
                        .is_some_and(|h| h.contains(sid.as_str())),
                "{case}"
            );
        }
    }

    let mut headers: Vec<String> = Vec::new();
    let mut commands: Vec<Vec<String>> = Vec::new();
    let reset = |headers: &mut Vec<String>| {
        headers.extend(koa_generic::reset_cookie_headers(&keys, name).expect("reset"));
    };

    // getSession: the signed cookie (cookies.get re-signs or clears `.sig` as it reads).
    let header = v.opt_str("/inputs/request/headers/cookie");
    let sid = match header.and_then(|h| cookies::read_signed(h, name, &keys)) {
        Some((value, SignatureCheck::Valid { key_index })) => {
            if key_index > 0 {
                headers.push(reissue_signature(&keys, name, value, false).expect("header"));
            }
            Some(value.to_owned())
        }
        Some((_, SignatureCheck::Invalid)) => {
            headers.push(clear_signature(name, false).expect("header"));
            None
        }
        _ => None,
    };
    let loaded = sid.as_deref().and_then(|sid| {
        commands.push(koa_generic::get_command(prefix, sid));
        let key = koa_generic::key(prefix, sid);
        let record = v.redis_before().into_iter().find(|(k, _)| *k == key)?.1;
        StoredSession::from_json(&record).expect("a record koa-redis reads")
    });
    let (mut current_sid, mut is_new, original) = match (&sid, &loaded) {
        (Some(sid), Some(s)) => (sid.clone(), false, Some(s.to_json())),
        (Some(_), None) => {
            reset(&mut headers); // a valid cookie, but its record is gone
            (generated.clone().unwrap_or_default(), true, None)
        }
        _ => (generated.clone().unwrap_or_default(), true, None),
    };
    let before = loaded.clone().unwrap_or_else(|| fresh.clone());
    if path == "/read" {
        let saw = v
            .json_at(&["outputs", "handler_saw", "session"])
            .expect("session");
        assert_eq!(before.to_json(), saw, "{case}: what the handler saw");
    }

    // The handler.
    if path.starts_with("/regenerate-generic") {
        if !is_new {
            commands.push(koa_generic::destroy_command(prefix, &current_sid));
        }
        current_sid = generated.clone().unwrap_or_default();
        reset(&mut headers);
        is_new = true; // originalHash stays the old session's: the same-content quirk
    }
    let after = if path == "/null" {
        None
    } else {
        Some(match v.json_at(&["outputs", "handler_saw", "session"]) {
            Some(text) => StoredSession::from_json(&text)
                .expect("json")
                .expect("object"),
            None => StoredSession {
                data: fixture_session.clone(),
                ..fresh.clone()
            },
        })
    };

    // refreshSession.
    match after {
        None if !is_new => {
            reset(&mut headers);
            commands.push(koa_generic::destroy_command(prefix, &current_sid));
        }
        None => {}
        Some(session) => {
            let json = session.to_json();
            if koa_generic::should_save(
                is_new,
                original.as_deref(),
                &json,
                &fresh.to_json(),
                rolling,
                false,
            ) {
                commands.push(koa_generic::set_command(
                    prefix,
                    &current_sid,
                    &session,
                    None,
                    now,
                ));
                let set = koa_generic::set_cookie_headers(&keys, name, &current_sid, &session, now)
                    .expect("cookie");
                if session.cookie.get("overwrite") == Some("true") {
                    push_overwriting(&mut headers, name, set);
                } else {
                    headers.extend(set);
                }
            }
        }
    }
    assert_eq!(
        commands,
        v.commands("/outputs/redis_commands"),
        "{case}: commands"
    );
    assert_eq!(
        parsed_set_cookies(&headers),
        parsed_set_cookies(&want_headers),
        "{case}: Set-Cookie"
    );
    Coverage::Full
}
