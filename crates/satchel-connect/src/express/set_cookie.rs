//! The `Set-Cookie` header express-session sends (cookie 0.7.2's `serialize`), written by
//! the `cookie` crate (`attributes::SetCookie`): the same attributes and values, refused where the
//! package throws.

use super::cookie::CookieInfo;
use super::signature::cookie_value;
use crate::attributes::{valid_domain, valid_path, Priority, SetCookie};
use crate::js_date;
use crate::uri::encode_uri_component;

/// Why express-session could not write the cookie: the `cookie` package throws, and the
/// request fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetCookieError {
    /// The name has characters outside RFC 6265's token set.
    #[error("invalid cookie name")]
    Name,
    /// The `domain` is not a valid domain value.
    #[error("invalid cookie domain")]
    Domain,
    /// The `path` has characters outside printable ASCII, or `;`.
    #[error("invalid cookie path")]
    Path,
    /// The `expires` is outside JavaScript's date range.
    #[error("invalid cookie expiry")]
    Expires,
    /// The `priority` is not low, medium or high.
    #[error("invalid cookie priority")]
    Priority,
    /// The `sameSite` is not strict, lax, none or a boolean.
    #[error("invalid cookie sameSite")]
    SameSite,
}

/// `Set-Cookie` for session `sid` signed with `secret` (express-session's `setcookie` with
/// `secrets[0]`), with the attributes of `cookie` the package writes: `Domain`, `Path`,
/// `Expires` (to the second), `HttpOnly`, `Secure`, `Partitioned`, `Priority`, `SameSite`.
/// `Max-Age` is never written. The text is the `cookie` crate's (see
/// `attributes.rs`).
///
/// Call [`CookieInfo::touch`] first, as express-session does before every write.
///
/// # Errors
/// Where the `cookie` package throws (see [`SetCookieError`]).
pub fn set_cookie(
    name: &str,
    sid: &str,
    secret: impl AsRef<[u8]>,
    cookie: &CookieInfo,
) -> Result<String, SetCookieError> {
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(SetCookieError::Name);
    }
    let domain = cookie.domain.as_deref().filter(|d| !d.is_empty());
    if domain.is_some_and(|d| !valid_domain(d)) {
        return Err(SetCookieError::Domain);
    }
    if !valid_path(&cookie.path) {
        return Err(SetCookieError::Path);
    }
    let expires = match cookie.expires {
        Some(ms) => Some(js_date::instant(ms).ok_or(SetCookieError::Expires)?),
        None => None,
    };
    let priority = match cookie.priority.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => Some(Priority::parse(p).ok_or(SetCookieError::Priority)?),
        None => None,
    };
    let same_site = match &cookie.same_site {
        Some(value) => value.policy().ok_or(SetCookieError::SameSite)?,
        None => None,
    };
    // encodeURIComponent's output always satisfies the package's value check.
    let value = encode_uri_component(&cookie_value(sid, secret));
    Ok(SetCookie {
        name,
        value: &value,
        path: Some(cookie.path.as_str()).filter(|p| !p.is_empty()),
        domain,
        expires,
        http_only: cookie.http_only,
        secure: cookie.secure == Some(true),
        partitioned: cookie.partitioned == Some(true),
        priority,
        same_site,
    }
    .header())
}

/// RFC 7230 `tchar`, the cookie package's name check.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::express::SameSiteValue;

    const NOW: i64 = 1_767_225_600_123;

    #[test]
    fn every_attribute() {
        let mut c = CookieInfo::new(Some(600_000), NOW);
        c.domain = Some("example.test".into());
        c.secure = Some(true);
        c.partitioned = Some(true);
        c.priority = Some("high".into());
        c.same_site = Some(SameSiteValue::Text("strict".into()));
        assert_eq!(
            set_cookie("connect.sid", "fEq6LLq_w2X38Zw_ce5rrmmlv8HO8tz8", "keyboard cat", &c).as_deref(),
            Ok("connect.sid=s%3AfEq6LLq_w2X38Zw_ce5rrmmlv8HO8tz8.O3URxphqXw8ZaSFuGyvtPZMQDL5x8usK4U0No22wDuw; HttpOnly; SameSite=Strict; Secure; Path=/; Domain=example.test; Expires=Thu, 01 Jan 2026 00:10:00 GMT; Partitioned; Priority=high")
        );
    }

    #[test]
    fn invalid_attributes_are_errors() {
        let base = CookieInfo::new(None, NOW);
        assert_eq!(
            set_cookie("bad name", "s", "k", &base),
            Err(SetCookieError::Name)
        );
        let mut c = base.clone();
        c.domain = Some("bad domain".into());
        assert_eq!(set_cookie("n", "s", "k", &c), Err(SetCookieError::Domain));
        let mut c = base.clone();
        c.path = "/a;b".into();
        assert_eq!(set_cookie("n", "s", "k", &c), Err(SetCookieError::Path));
        let mut c = base.clone();
        c.expires = Some(i64::MAX);
        assert_eq!(set_cookie("n", "s", "k", &c), Err(SetCookieError::Expires));
        let mut c = base.clone();
        c.priority = Some("urgent".into());
        assert_eq!(set_cookie("n", "s", "k", &c), Err(SetCookieError::Priority));
        let mut c = base.clone();
        c.same_site = Some(SameSiteValue::Text("sometimes".into()));
        assert_eq!(set_cookie("n", "s", "k", &c), Err(SetCookieError::SameSite));
        let mut c = base;
        c.same_site = Some(SameSiteValue::Bool(false));
        c.http_only = false;
        assert_eq!(
            set_cookie("n", "s", "k", &c).map(|h| h.ends_with("; Path=/")),
            Ok(true)
        );
    }
}
