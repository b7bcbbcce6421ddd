//! Where a satchel session's [`Meta`] lives in an express-session record: the
//! "Records" tables in the docs of [`ConnectRedisStore`](crate::ConnectRedisStore) are
//! the specification of this module.

use std::time::Duration;

use satchel::{Meta, StoreError, Timestamp};

use crate::connect_redis::StoredSession;
use crate::redis_cas::extension::{js_ms, millis, owner_in, timestamp, Extension};

/// Our own writes round the TTL up to whole seconds (connect-redis's rule) and reach Redis
/// a little after `now`, so a key outlives its recorded deadline by up to ~1 s. Only a key
/// that outlives it by more was extended by someone else (Express's `EXPIRE`).
const TTL_SLACK: Duration = Duration::from_secs(2);

/// What the caller knows besides the record.
#[derive(Debug, Clone, Copy)]
pub(super) struct Context<'a> {
    /// When Redis drops the key, by Redis's clock (`None`: no TTL).
    pub(super) redis_deadline: Option<Timestamp>,
    pub(super) now: Timestamp,
    pub(super) default_ttl: Duration,
    pub(super) owner_key: Option<&'a str>,
}

/// The satchel metadata of `stored`.
///
/// # Errors
/// `Corrupt` when `cookie.satchel` is not what [`write`] writes.
pub(super) fn read(stored: &StoredSession, cx: Context<'_>) -> Result<Meta, StoreError> {
    let persistent = stored.cookie.expires.is_some();
    let mut meta = match stored.extension() {
        Some(text) => Extension::parse(text)?.into_meta(persistent),
        None => express_meta(stored, cx),
    };
    if let Some(redis) = cx.redis_deadline {
        if redis > meta.idle_deadline.saturating_add(TTL_SLACK) {
            meta.idle_deadline = redis;
        }
    }
    if let Some(key) = cx.owner_key {
        meta.owner = owner_in(&stored.data, key);
    }
    Ok(meta)
}

/// The metadata of a record Express wrote last (see the module table).
fn express_meta(stored: &StoredSession, cx: Context<'_>) -> Meta {
    let idle_timeout = stored
        .cookie
        .original_max_age
        .and_then(|ms| u64::try_from(ms).ok())
        .filter(|&ms| ms > 0)
        .map_or(cx.default_ttl, Duration::from_millis);
    let idle_deadline = match stored.cookie.expires {
        Some(ms) => timestamp(ms),
        None => cx
            .redis_deadline
            .unwrap_or_else(|| cx.now.saturating_add(cx.default_ttl)),
    };
    let created = idle_deadline
        .as_millis()
        .saturating_sub(u64::try_from(idle_timeout.as_millis()).unwrap_or(u64::MAX));
    Meta {
        created_at: Timestamp::from_millis(created),
        idle_timeout,
        idle_deadline,
        absolute_deadline: Timestamp::MAX,
        persistent: stored.cookie.expires.is_some(),
        owner: None,
    }
}

/// Writes `meta` into `stored`'s cookie object (see the module table).
pub(super) fn write(stored: &mut StoredSession, meta: &Meta, owner_key: Option<&str>) {
    if meta.persistent {
        stored.cookie.original_max_age = Some(millis(meta.idle_timeout));
        stored.cookie.expires = Some(js_ms(meta.expires_at()));
    } else {
        stored.cookie.original_max_age = None;
        stored.cookie.expires = None;
    }
    let ext = Extension::of(meta, false, owner_key);
    stored.set_extension(Some(ext.to_json()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::OrderedData;
    use crate::express::CookieInfo;

    const NOW: u64 = 1_767_225_600_123;

    fn cx(redis_deadline: Option<Timestamp>) -> Context<'static> {
        Context {
            redis_deadline,
            now: Timestamp::from_millis(NOW),
            default_ttl: Duration::from_secs(86_400),
            owner_key: Some("user"),
        }
    }

    fn express_record(max_age: Option<i64>) -> StoredSession {
        let mut data = OrderedData::new();
        data.insert("user", "\"alice\"").expect("json");
        #[allow(clippy::cast_possible_wrap)]
        StoredSession::new(CookieInfo::new(max_age, NOW as i64), data)
    }

    #[test]
    fn express_records_without_extension() {
        let m = read(&express_record(Some(3_600_000)), cx(None)).expect("meta");
        assert!(m.persistent);
        assert_eq!(m.idle_timeout, Duration::from_secs(3600));
        assert_eq!(m.idle_deadline.as_millis(), NOW + 3_600_000);
        assert_eq!(m.created_at.as_millis(), NOW);
        assert_eq!(m.absolute_deadline, Timestamp::MAX);
        assert_eq!(m.owner.as_deref(), Some("alice"));
        // A browser-session record lives as long as Redis keeps it.
        let redis = Timestamp::from_millis(NOW + 5_000_000);
        let m = read(&express_record(None), cx(Some(redis))).expect("meta");
        assert!(!m.persistent);
        assert_eq!(m.idle_deadline, redis);
        assert_eq!(m.idle_timeout, Duration::from_secs(86_400));
    }

    #[test]
    fn express_touches_extend_the_deadline() {
        let stale = express_record(Some(3_600_000));
        let touched = Timestamp::from_millis(NOW + 3_600_000 + 60_000);
        let m = read(&stale, cx(Some(touched))).expect("meta");
        assert_eq!(m.idle_deadline, touched);
        // Our own TTL rounding is not mistaken for a touch.
        let ours = Timestamp::from_millis(NOW + 3_600_000 + 999);
        let m = read(&stale, cx(Some(ours))).expect("meta");
        assert_eq!(m.idle_deadline.as_millis(), NOW + 3_600_000);
    }

    #[test]
    fn satchel_meta_round_trips() {
        let now = Timestamp::from_millis(NOW);
        let mut meta = Meta::new(
            now,
            Duration::from_secs(1800),
            Duration::from_secs(8 * 3600),
        );
        for (persistent, owner_key, owner) in [
            (false, None, Some("bob")),
            (true, None, None),
            (true, Some("user"), Some("alice")),
        ] {
            meta.persistent = persistent;
            meta.owner = owner.map(str::to_owned);
            let mut stored = express_record(None);
            write(&mut stored, &meta, owner_key);
            assert_eq!(stored.cookie.expires.is_some(), persistent);
            let text = stored.to_json().expect("json");
            let back = StoredSession::from_json(&text).expect("record");
            let cx = Context {
                owner_key,
                ..cx(None)
            };
            assert_eq!(read(&back, cx).expect("meta"), meta, "{text}");
        }
        meta.absolute_deadline = Timestamp::MAX;
        let mut stored = express_record(None);
        write(&mut stored, &meta, Some("user"));
        assert!(stored
            .extension()
            .is_some_and(|e| e.contains("\"absolute\":null")));
        assert_eq!(
            read(&stored, cx(None)).expect("meta").absolute_deadline,
            Timestamp::MAX
        );
    }

    #[test]
    fn malformed_extensions_are_corrupt() {
        for bad in [
            r#"{"created":1}"#,
            r#"{"created":-1,"idle":1,"deadline":1}"#,
            "[]",
        ] {
            let mut stored = express_record(None);
            stored.set_extension(Some(bad.to_owned()));
            assert!(read(&stored, cx(None)).is_err(), "{bad}");
        }
    }
}
