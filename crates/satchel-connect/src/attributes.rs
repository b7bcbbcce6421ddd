//! Cookie attribute values both cookie writers (the `cookie` package under express-session
//! and the `cookies` package under cookie-session and Koa) understand.

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

    /// Capitalised, as the `cookie` package writes it (`SameSite=Lax`).
    pub(crate) fn as_title(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
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

    /// Capitalised, as the `cookie` package writes it (`Priority=High`).
    pub(crate) fn as_title(self) -> &'static str {
        match self {
            Priority::Low => "Low",
            Priority::Medium => "Medium",
            Priority::High => "High",
        }
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
