//! Entry points for the cargo-fuzz targets in `fuzz/` (not part of the API): the readers
//! of Node-format input that are not public, each with what a rewrite of what it read
//! gives, so a target can check that reading is stable.

use satchel::Timestamp;

/// `new Date(text).getTime()` for the ISO forms Node writes (`Date.prototype.toJSON`).
pub fn js_date_parse(text: &str) -> Option<i64> {
    crate::js_date::parse_iso(text)
}

/// `new Date(ms).toISOString()`, `None` outside JavaScript's date range.
pub fn js_date_iso(ms: i64) -> Option<String> {
    crate::js_date::to_iso_string(ms)
}

/// The `Set-Cookie` header of a cookie expiring at `ms` (what both Node writers send with
/// an expiry), `None` outside JavaScript's date range.
pub fn set_cookie_expiring(ms: i64) -> Option<String> {
    let expires_ms = Some(ms);
    let opts = crate::cookies::CookieOptions {
        expires_ms,
        ..Default::default()
    };
    crate::cookies::set_cookie("n", "v", &opts, 0).ok()
}

/// A Redis value read by one of the live stores' layouts at `now`, and what the store
/// writes back for it unchanged: `Ok(None)` for what the Node library treats as no
/// session.
#[cfg(feature = "redis")]
pub type LayoutRead = Result<Option<(satchel::Meta, String)>, satchel::StoreError>;

/// `layout`'s parse, metadata and unchanged rewrite of `text`.
#[cfg(feature = "redis")]
pub(crate) fn read_layout<L: crate::redis_cas::Layout>(
    layout: &L,
    text: &str,
    now: Timestamp,
) -> LayoutRead {
    let Some(doc) = layout.parse(text, now)? else {
        return Ok(None);
    };
    let meta = layout.meta(&doc, None, now)?;
    Ok(Some((meta, layout.to_json(&doc)?)))
}

/// [`ConnectRedisStore`](crate::ConnectRedisStore)'s reading of a `sess:<id>` value.
#[cfg(feature = "redis")]
pub fn connect_redis_layout(text: &str, now: Timestamp) -> LayoutRead {
    crate::redis_store::fuzzing_read(text, now)
}

/// [`KoaRedisStore`](crate::koa::KoaRedisStore)'s reading of a koa-redis value.
#[cfg(feature = "redis")]
pub fn koa_redis_layout(text: &str, now: Timestamp) -> LayoutRead {
    crate::koa::fuzzing_read(text, now)
}

/// [`KoaGenericRedisStore`](crate::koa_generic::KoaGenericRedisStore)'s reading of a
/// `koa:sess:<sid>` value.
#[cfg(feature = "redis")]
pub fn koa_generic_layout(text: &str, now: Timestamp) -> LayoutRead {
    crate::koa_generic::fuzzing_read(text, now)
}
