//! express-session 1.19 (with its nested cookie-signature 1.0.7 and cookie 0.7.2): the
//! `connect.sid` cookie and the `cookie` object it keeps inside every stored session.
//!
//! - The cookie value is `s:` + id + `.` + base64(HMAC-SHA256(secret, id)) without `=`
//!   padding, percent-encoded with `encodeURIComponent` in `Set-Cookie`
//!   ([`cookie_value`], [`set_cookie`]). The first secret signs; every secret verifies
//!   ([`unsign`]), so secrets rotate by putting the new one first.
//! - Reading follows cookie 0.7.2's `parse` and express-session's `getcookie`
//!   ([`session_id_from_header`]): first occurrence wins, percent-decoding only when the
//!   value contains `%`, any failure means "no session" (a new one), never an error.
//! - [`CookieInfo`] is the stored `cookie` object (`originalMaxAge`, `expires`, `httpOnly`,
//!   …) that Express requires in every record, with its `touch` rule.
//!
//! What this module does not decide: when a cookie is sent or a record saved (the
//! `resave` / `saveUninitialized` / `rolling` rules) and whether the request is HTTPS
//! (express-session never sends a `secure` cookie over plain HTTP). Those belong to the
//! engine that uses these functions.

mod cookie;
mod cookie_header;
mod set_cookie;
mod signature;

pub use cookie::{CookieError, CookieInfo, SameSiteValue};
pub use cookie_header::{decode_cookie_value, read_cookie, session_id_from_header};
pub use set_cookie::{set_cookie, SetCookieError};
pub use signature::{cookie_value, sign, unsign, unsign_cookie_value};

/// express-session's default cookie name (options `name`, or the older `key`).
pub const DEFAULT_COOKIE_NAME: &str = "connect.sid";

/// The prefix that marks a signed express-session cookie value.
pub const SIGNED_PREFIX: &str = "s:";

/// Properties express-session never restores from a stored record: `new Session(req, data)`
/// skips every key that already exists on a session object (`prop in this`). A record
/// holding one of these loses it on the next load in Node, so writers refuse them.
pub const RESERVED_KEYS: &[&str] = &[
    "req",
    "id",
    "cookie",
    "constructor",
    "touch",
    "resetMaxAge",
    "save",
    "reload",
    "destroy",
    "regenerate",
    "__defineGetter__",
    "__defineSetter__",
    "hasOwnProperty",
    "__lookupGetter__",
    "__lookupSetter__",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toString",
    "valueOf",
    "__proto__",
    "toLocaleString",
];

/// Whether `key` cannot be a session property Express code sees (see [`RESERVED_KEYS`];
/// `cookie` is the session's own cookie object).
pub fn is_reserved_key(key: &str) -> bool {
    RESERVED_KEYS.contains(&key)
}
