//! express-session + connect-redis http-exchange vectors: read the request's cookie and
//! record, and rebuild every Set-Cookie header and Redis command from the session the
//! handler ended with.

use satchel_connect::connect_redis::{RedisStoreOptions, StoredSession, Ttl};
use satchel_connect::express::{self, CookieInfo, SameSiteValue};
use satchel_connect::OrderedData;
use serde_json::Value;

use super::{parsed_set_cookies, Coverage, Vector};

pub(crate) fn store_options(options: Option<&Value>) -> RedisStoreOptions {
    let mut opts = RedisStoreOptions::default();
    let Some(o) = options else { return opts };
    if let Some(prefix) = o.get("prefix").and_then(Value::as_str) {
        opts.prefix = prefix.to_owned();
    }
    match o.get("ttl") {
        Some(Value::Number(n)) => opts.ttl = Ttl::Seconds(n.as_i64().expect("integer ttl")),
        // The vectors describe a function as its source, e.g. "(sess) => 42".
        Some(Value::String(src)) => {
            let n: i64 = src
                .rsplit("=>")
                .next()
                .expect("arrow")
                .trim()
                .parse()
                .expect("constant");
            opts.ttl = Ttl::Function(std::sync::Arc::new(move |_| n));
        }
        _ => {}
    }
    opts.disable_ttl = o
        .get("disableTTL")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    opts.disable_touch = o
        .get("disableTouch")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let Some(n) = o.get("scanCount").and_then(Value::as_u64) {
        opts.scan_count = u32::try_from(n).expect("scan count");
    }
    opts
}

/// A new session as express-session builds it from the middleware's cookie options.
fn new_session(v: &Vector, now: i64, data: OrderedData) -> StoredSession {
    let c = v.get("/inputs/middleware_options/cookie");
    let field = |k: &str| c.and_then(|c| c.get(k));
    let mut cookie = CookieInfo::new(field("maxAge").and_then(Value::as_i64), now);
    cookie.domain = field("domain").and_then(Value::as_str).map(str::to_owned);
    cookie.secure = field("secure").and_then(Value::as_bool);
    cookie.partitioned = field("partitioned").and_then(Value::as_bool);
    cookie.priority = field("priority").and_then(Value::as_str).map(str::to_owned);
    cookie.same_site = field("sameSite")
        .and_then(Value::as_str)
        .map(|s| SameSiteValue::Text(s.to_owned()));
    StoredSession::new(cookie, data)
}

pub(crate) fn check(v: &Vector, fixture_session: &OrderedData) -> Coverage {
    let case = v.case();
    let now = v.i64("/inputs/now_ms");
    let secrets = v.strings("/inputs/middleware_options/secret");
    let name = v
        .opt_str("/inputs/middleware_options/name")
        .unwrap_or(express::DEFAULT_COOKIE_NAME);
    let store = store_options(v.get("/inputs/store/options"));
    let path = v.str("/inputs/request/path");
    let status = v.i64("/outputs/status");

    // Read: the request's cookie, then the record it points to.
    let cookie_sid = v
        .opt_str("/inputs/request/headers/cookie")
        .and_then(|h| express::session_id_from_header(h, name, &secrets));
    let stored = cookie_sid.as_ref().and_then(|sid| {
        let key = store.key(sid);
        v.redis_before()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, value)| value)
    });
    if status == 500 {
        // Foreign records Express cannot load: we refuse them too (typed error, no panic).
        let stored = stored.unwrap_or_else(|| panic!("{case}: a 500 without a record"));
        assert!(
            RedisStoreOptions::parse_get_reply(Some(&stored)).is_err(),
            "{case}"
        );
    } else if let Some(stored) = &stored {
        let loaded = RedisStoreOptions::parse_get_reply(Some(stored))
            .unwrap_or_else(|e| panic!("{case}: {e}"))
            .unwrap_or_else(|| panic!("{case}: no session"));
        assert_eq!(
            loaded.to_json().as_deref(),
            Ok(stored.as_str()),
            "{case}: byte-exact round trip"
        );
        if path != "/regenerate" {
            assert_eq!(
                Some(v.str("/outputs/handler_saw/sessionID")),
                cookie_sid.as_deref(),
                "{case}"
            );
        }
        if matches!(path, "/read" | "/null") {
            let saw = v
                .json_at(&["outputs", "handler_saw", "session"])
                .expect("handler_saw.session");
            assert_eq!(
                loaded.to_json().expect("json"),
                saw,
                "{case}: what the handler saw"
            );
        }
    } else if v.opt_str("/inputs/request/headers/cookie").is_some() && status == 200 {
        // Rejected or missing: Express started a new, empty session.
        let saw = v
            .json_at(&["outputs", "handler_saw", "session"])
            .expect("handler_saw.session");
        let saw = StoredSession::from_json(&saw).expect("new session");
        assert!(saw.data.is_empty(), "{case}: expected a fresh session");
    }

    // Write: the session as the handler left it, touched as express-session does.
    let final_sid = v
        .opt_str("/outputs/handler_saw/sessionID")
        .map(str::to_owned);
    let mut session = match v.json_at(&["outputs", "handler_saw", "session"]) {
        Some(text) => StoredSession::from_json(&text).unwrap_or_else(|e| panic!("{case}: {e}")),
        // Only the random-id vector omits it: a new session with the fixture data.
        None => new_session(v, now, fixture_session.clone()),
    };
    session.cookie.touch(now);
    for cmd in v.commands("/outputs/redis_commands") {
        let want = match cmd[0].as_str() {
            "GET" => store.get_command(cookie_sid.as_deref().expect("GET needs a cookie id")),
            "DEL" => store.destroy_command(cookie_sid.as_deref().expect("DEL needs a cookie id")),
            "SET" => store
                .set_command(final_sid.as_deref().expect("id"), &session, now)
                .unwrap_or_else(|e| panic!("{case}: {e}")),
            "EXPIRE" => store
                .touch_command(final_sid.as_deref().expect("id"), &session, now)
                .unwrap_or_else(|| panic!("{case}: touch sends nothing")),
            other => panic!("{case}: unexpected command {other}"),
        };
        assert_eq!(cmd, want, "{case}");
    }
    for header in v.strings("/outputs/set_cookie") {
        let sid = final_sid.as_deref().expect("id");
        let want = express::set_cookie(name, sid, &secrets[0], &session.cookie)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(
            parsed_set_cookies(&[&header]),
            parsed_set_cookies(&[want]),
            "{case}"
        );
        // And the header reads back as that session.
        let pair = header.split(';').next().expect("pair");
        assert_eq!(
            express::session_id_from_header(pair, name, &secrets).as_deref(),
            Some(sid)
        );
    }
    Coverage::Full
}
