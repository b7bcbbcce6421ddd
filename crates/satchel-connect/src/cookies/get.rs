//! `cookies.get(name)` without signature: where the package finds a cookie's value.

/// The value of cookie `name` as the `cookies` package reads it: the first match of
/// `(?:^|;) *<name>=([^;]*)` (only spaces may follow a `;`; nothing is trimmed at the end),
/// and if the value starts with `"`, its first and last characters removed. No
/// percent-decoding.
pub fn get<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    let starts = std::iter::once(0).chain(header.match_indices(';').map(|(i, _)| i + 1));
    for start in starts {
        let rest = header.get(start..)?.trim_start_matches(' ');
        let Some(value) = rest.strip_prefix(name).and_then(|r| r.strip_prefix('=')) else {
            continue;
        };
        let value = value.split(';').next().unwrap_or("");
        return Some(unquote(value));
    }
    None
}

/// `value.slice(1, -1)` when the value starts with a quote (whether or not it ends with one).
fn unquote(value: &str) -> &str {
    let Some(inner) = value.strip_prefix('"') else {
        return value;
    };
    match inner.char_indices().next_back() {
        Some((last, _)) => &inner[..last],
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::get;

    #[test]
    fn matches_the_cookies_regexp() {
        let h = "session.sig=abc; session=eyJ9=; other=1";
        assert_eq!(get(h, "session"), Some("eyJ9="));
        assert_eq!(get(h, "session.sig"), Some("abc"));
        assert_eq!(get("xsession=1; session=2", "session"), Some("2"));
        assert_eq!(get("session=1; session=2", "session"), Some("1"));
        assert_eq!(get(";  session=a b ", "session"), Some("a b "));
        assert_eq!(get("\tsession=1", "session"), None);
        assert_eq!(get("session=\"q\"", "session"), Some("q"));
        assert_eq!(get("session=\"é", "session"), Some(""));
        assert_eq!(get("session=\"", "session"), Some(""));
        assert_eq!(get("session=", "session"), Some(""));
        assert_eq!(get("a=1", "session"), None);
    }
}
