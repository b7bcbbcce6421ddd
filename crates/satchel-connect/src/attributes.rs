//! Cookie attribute values both cookie writers (the `cookie` package under express-session
//! and the `cookies` package under cookie-session and Koa) understand, and the one
//! `Set-Cookie` writer both build on (the `cookie` crate's).
//!
//! The header's text is the `cookie` crate's, not Node's: attribute names and order, and
//! the spelling of keyword values, differ from both packages. Neither Node (it never reads
//! `Set-Cookie`) nor a browser (names and keywords are case-insensitive, order is free)
//! depends on them, so only the values Node computes are kept: the expiry instant, to the
//! second, the same name, value, path, domain and flags.

use time::OffsetDateTime;

/// The `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Strict` (also what JavaScript's `sameSite: true` means).
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None`.
    None,
}

impl SameSite {
    /// Reads `strict`, `lax` or `none` in any letter case, as both packages do.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "strict" => Some(SameSite::Strict),
            "lax" => Some(SameSite::Lax),
            "none" => Some(SameSite::None),
            _ => None,
        }
    }

    /// Lowercase, as the `cookies` package writes it and express-session stores it.
    pub fn as_lowercase(self) -> &'static str {
        match self {
            SameSite::Strict => "strict",
            SameSite::Lax => "lax",
            SameSite::None => "none",
        }
    }
}

impl From<SameSite> for cookie::SameSite {
    fn from(policy: SameSite) -> Self {
        match policy {
            SameSite::Strict => cookie::SameSite::Strict,
            SameSite::Lax => cookie::SameSite::Lax,
            SameSite::None => cookie::SameSite::None,
        }
    }
}

/// The (Chromium) `Priority` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// `Priority=Low`.
    Low,
    /// `Priority=Medium`.
    Medium,
    /// `Priority=High`.
    High,
}

impl Priority {
    /// Reads `low`, `medium` or `high` in any letter case.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "low" => Some(Priority::Low),
            "medium" => Some(Priority::Medium),
            "high" => Some(Priority::High),
            _ => None,
        }
    }

    /// Lowercase, as the `cookies` package writes it and express-session stores it.
    pub fn as_lowercase(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }
}

/// What both packages can put in one `Set-Cookie` header (each checks its own inputs first).
#[derive(Debug, Default)]
pub(crate) struct SetCookie<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: &'a str,
    pub(crate) path: Option<&'a str>,
    pub(crate) domain: Option<&'a str>,
    /// The expiry instant, as JavaScript's `Date` holds it (milliseconds; the header has
    /// seconds).
    pub(crate) expires: Option<OffsetDateTime>,
    pub(crate) http_only: bool,
    pub(crate) secure: bool,
    pub(crate) partitioned: bool,
    pub(crate) priority: Option<Priority>,
    pub(crate) same_site: Option<SameSite>,
}

impl SetCookie<'_> {
    /// The header, written by the `cookie` crate. Two attributes are appended by hand:
    /// `Priority`, which the crate does not know, and `Partitioned`, which the crate always
    /// pairs with `Secure` where Node writes it alone (and the browser then drops the
    /// cookie: sending `Secure` would make it accept one Node's app never gets).
    pub(crate) fn header(&self) -> String {
        let mut c = cookie::Cookie::build((self.name, self.value))
            .http_only(self.http_only)
            // Always explicit: unset, the crate adds `Secure` to `SameSite=None`.
            .secure(self.secure);
        if let Some(path) = self.path {
            c = c.path(path);
        }
        if let Some(domain) = self.domain {
            c = c.domain(domain);
        }
        if let Some(at) = self.expires {
            c = c.expires(at);
        }
        if let Some(policy) = self.same_site {
            c = c.same_site(policy.into());
        }
        let mut out = c.build().to_string();
        if self.partitioned {
            out.push_str("; Partitioned");
        }
        if let Some(priority) = self.priority {
            out.push_str("; Priority=");
            out.push_str(priority.as_lowercase());
        }
        out
    }
}

/// RFC 6265 `domain-value` as both packages check it (a leading dot allowed).
pub(crate) fn valid_domain(domain: &str) -> bool {
    let body = domain.strip_prefix('.').unwrap_or(domain);
    !body.is_empty()
        && body.split('.').all(|label| {
            let bytes = label.as_bytes();
            (1..=63).contains(&bytes.len())
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && bytes.first() != Some(&b'-')
                && bytes.last() != Some(&b'-')
        })
}

/// `path-value` as both packages check it (`/^[ -:=-~]*$/`): printable ASCII except `;`
/// and, by the packages' own range, `<`.
pub(crate) fn valid_path(path: &str) -> bool {
    path.bytes()
        .all(|b| (0x20..=0x7e).contains(&b) && b != b';' && b != b'<')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_keeps_node_flags() {
        let none_alone = SetCookie {
            name: "n",
            value: "v",
            same_site: Some(SameSite::None),
            partitioned: true,
            ..SetCookie::default()
        };
        // Node writes neither `Secure` nor `HttpOnly` here: nor do we.
        assert_eq!(none_alone.header(), "n=v; SameSite=None; Partitioned");
    }

    #[test]
    fn domains() {
        for ok in ["example.test", ".example.test", "a", "a-b.c0", "old.test"] {
            assert!(valid_domain(ok), "{ok}");
        }
        for bad in [
            "", ".", "-a.test", "a-.test", "a..b", "a_b.test", "exa mple", "é.test",
        ] {
            assert!(!valid_domain(bad), "{bad}");
        }
    }

    #[test]
    fn paths_and_keywords() {
        assert!(valid_path("/app/x y"));
        assert!(!valid_path("/a;b") && !valid_path("/é") && !valid_path("/<"));
        assert_eq!(SameSite::parse("LAX"), Some(SameSite::Lax));
        assert_eq!(Priority::parse("High"), Some(Priority::High));
        assert_eq!(SameSite::parse("strictly"), None);
    }
}
