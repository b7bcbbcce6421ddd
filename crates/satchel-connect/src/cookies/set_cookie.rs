//! `cookies.set(name, value, opts)`: one `Set-Cookie` header (`Cookie.prototype.toHeader`).

use crate::attributes::{valid_domain, valid_path, Priority, SameSite, SetCookie};
use crate::js_date;

/// The cookie options the `cookies` package turns into attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieOptions {
    /// `path` (default `/`).
    pub path: Option<String>,
    /// `maxAge` in milliseconds: written as `expires = now + maxAge` (0 means none).
    pub max_age_ms: Option<i64>,
    /// `expires` as a millisecond Unix time, when no `max_age_ms` is given.
    pub expires_ms: Option<i64>,
    /// `domain`.
    pub domain: Option<String>,
    /// `priority`.
    pub priority: Option<Priority>,
    /// `sameSite`.
    pub same_site: Option<SameSite>,
    /// `secure` (only on HTTPS requests; see the [module docs](super)).
    pub secure: bool,
    /// `httpOnly` (default `true`).
    pub http_only: bool,
    /// `partitioned`.
    pub partitioned: bool,
}

impl Default for CookieOptions {
    fn default() -> Self {
        CookieOptions {
            path: Some("/".to_owned()),
            max_age_ms: None,
            expires_ms: None,
            domain: None,
            priority: None,
            same_site: None,
            secure: false,
            http_only: true,
            partitioned: false,
        }
    }
}

/// Where the `cookies` package throws instead of writing a cookie.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// The name is empty or has `;`, `=` or characters outside field content.
    #[error("invalid cookie name")]
    Name,
    /// The value has `;` or characters outside field content.
    #[error("invalid cookie value")]
    Value,
    /// The path has characters outside printable ASCII, or `;`.
    #[error("invalid cookie path")]
    Path,
    /// The domain is not a valid domain value.
    #[error("invalid cookie domain")]
    Domain,
    /// The expiry is outside JavaScript's date range.
    #[error("invalid cookie expiry")]
    Expires,
}

/// RFC 7230 field content as the package checks it (tab, visible ASCII, space, Latin-1).
fn field_content(s: &str) -> bool {
    s.chars()
        .all(|c| c == '\t' || (' '..='~').contains(&c) || ('\u{80}'..='\u{ff}').contains(&c))
}

/// The `Set-Cookie` header for `name=value` at `now_ms`, written by the `cookie` crate
/// (`attributes::SetCookie`; the package's lowercase names and order are not kept, see
/// `attributes.rs`). An empty value deletes the cookie: `expires`
/// becomes the epoch whatever the options say.
///
/// # Errors
/// Where the package throws (see [`CookieError`]).
pub fn set_cookie(
    name: &str,
    value: &str,
    opts: &CookieOptions,
    now_ms: i64,
) -> Result<String, CookieError> {
    if name.is_empty() || !field_content(name) || name.contains([';', '=']) {
        return Err(CookieError::Name);
    }
    if !field_content(value) || value.contains(';') {
        return Err(CookieError::Value);
    }
    let path = opts.path.as_deref().filter(|p| !p.is_empty());
    if path.is_some_and(|p| !valid_path(p)) {
        return Err(CookieError::Path);
    }
    let domain = opts.domain.as_deref().filter(|d| !d.is_empty());
    if domain.is_some_and(|d| !valid_domain(d)) {
        return Err(CookieError::Domain);
    }
    let expires_ms = if value.is_empty() {
        Some(0)
    } else {
        match opts.max_age_ms.filter(|&ms| ms != 0) {
            Some(ms) => Some(now_ms.saturating_add(ms)),
            None => opts.expires_ms,
        }
    };
    let expires = match expires_ms {
        Some(ms) => Some(js_date::instant(ms).ok_or(CookieError::Expires)?),
        None => None,
    };
    Ok(SetCookie {
        name,
        value,
        path,
        domain,
        expires,
        http_only: opts.http_only,
        secure: opts.secure,
        partitioned: opts.partitioned,
        priority: opts.priority,
        same_site: opts.same_site,
    }
    .header())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_123;

    #[test]
    fn every_attribute_and_deletion() {
        let opts = CookieOptions {
            max_age_ms: Some(3_600_000),
            same_site: Some(SameSite::Lax),
            secure: true,
            domain: Some("example.test".into()),
            priority: Some(Priority::High),
            partitioned: true,
            ..CookieOptions::default()
        };
        assert_eq!(
            set_cookie("session", "eyJ9+/=", &opts, NOW).as_deref(),
            Ok("session=eyJ9+/=; HttpOnly; SameSite=Lax; Secure; Path=/; Domain=example.test; Expires=Thu, 01 Jan 2026 01:00:00 GMT; Partitioned; Priority=high")
        );
        assert_eq!(
            set_cookie("session", "", &CookieOptions::default(), NOW).as_deref(),
            Ok("session=; HttpOnly; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
        );
    }

    #[test]
    fn refuses_what_the_package_refuses() {
        let d = CookieOptions::default();
        assert_eq!(set_cookie("a=b", "v", &d, NOW), Err(CookieError::Name));
        assert_eq!(set_cookie("a", "v;w", &d, NOW), Err(CookieError::Value));
        assert_eq!(set_cookie("a", "✓", &d, NOW), Err(CookieError::Value));
        let bad = |opts: CookieOptions| set_cookie("a", "v", &opts, NOW);
        let path = Some("/;".into());
        assert_eq!(
            bad(CookieOptions { path, ..d.clone() }),
            Err(CookieError::Path)
        );
        let domain = Some("a..b".into());
        assert_eq!(
            bad(CookieOptions {
                domain,
                ..d.clone()
            }),
            Err(CookieError::Domain)
        );
        let max_age_ms = Some(i64::MAX);
        assert_eq!(
            bad(CookieOptions { max_age_ms, ..d }),
            Err(CookieError::Expires)
        );
    }
}
