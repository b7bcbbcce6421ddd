//! Reading the session cookie from a `Cookie` header as express-session does.

use super::signature::unsign_cookie_value;
use crate::uri::decode_uri_component;

/// `cookie.parse(header)[name]` (cookie 0.7.2): pairs split on `;`, names and values
/// trimmed of spaces and tabs, one pair of surrounding double quotes removed, and the value
/// passed through `decodeURIComponent` **only if it contains `%`** (kept raw if that
/// fails). The first pair with the name wins. `None` when the name is absent.
///
/// Several `Cookie` header lines must be joined with `"; "` first, as Node does.
pub fn read_cookie(header: &str, name: &str) -> Option<String> {
    let bytes = header.as_bytes();
    let len = bytes.len();
    // "a cookie name consists of one char minimum, plus '='"
    if len < 2 {
        return None;
    }
    let find = |byte: u8, from: usize| {
        bytes
            .get(from..)?
            .iter()
            .position(|&b| b == byte)
            .map(|i| i + from)
    };
    let mut index = 0;
    while index < len {
        let Some(eq) = find(b'=', index) else { break };
        let end = find(b';', index).unwrap_or(len);
        if eq > end {
            // A segment without '=': resume at the segment holding this '='.
            index = bytes[..eq]
                .iter()
                .rposition(|&b| b == b';')
                .map_or(0, |i| i + 1);
            continue;
        }
        let key = trim(header.get(index..eq)?);
        if key == name {
            return Some(decode_cookie_value(header.get(eq + 1..end)?));
        }
        index = end + 1;
    }
    None
}

/// One cookie value as cookie 0.7.2's `parse` hands it to express-session: spaces and
/// tabs trimmed, one pair of surrounding double quotes removed, then `decodeURIComponent`
/// **only if it contains `%`** (the raw text is kept when that fails).
pub fn decode_cookie_value(raw: &str) -> String {
    let value = unquote(trim(raw));
    if value.contains('%') {
        return decode_uri_component(value).unwrap_or_else(|| value.to_owned());
    }
    value.to_owned()
}

/// express-session's `getcookie`: the session id of a valid signed cookie `name` in
/// `header`, or `None` (absent, empty, without the `s:` prefix, or not signed by any of
/// `secrets`), in which case Express silently starts a new session. An empty id counts as
/// none, as in Express.
pub fn session_id_from_header<S: AsRef<[u8]>>(
    header: &str,
    name: &str,
    secrets: &[S],
) -> Option<String> {
    let raw = read_cookie(header, name)?;
    unsign_cookie_value(&raw, secrets)
        .filter(|sid| !sid.is_empty())
        .map(str::to_owned)
}

/// Trims spaces and tabs only (not other whitespace), as cookie 0.7.2 does.
fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Removes one pair of surrounding double quotes; a lone `"` becomes empty, as in cookie.
fn unquote(value: &str) -> &str {
    if value.starts_with('"') && value.ends_with('"') {
        value.get(1..value.len().saturating_sub(1)).unwrap_or("")
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_like_cookie_0_7() {
        let h = "a=1; connect.sid=s%3Aabc; connect.sid=second";
        assert_eq!(read_cookie(h, "connect.sid").as_deref(), Some("s:abc"));
        assert_eq!(read_cookie("x=\"q\"", "x").as_deref(), Some("q"));
        assert_eq!(read_cookie("x=\"", "x").as_deref(), Some(""));
        assert_eq!(read_cookie(" \tx = v \t;y=2", "x").as_deref(), Some("v"));
        assert_eq!(read_cookie("x=%zz%41", "x").as_deref(), Some("%zz%41"));
        assert_eq!(read_cookie("x=s:raw", "x").as_deref(), Some("s:raw"));
        assert_eq!(read_cookie("junk; x=1", "x").as_deref(), Some("1"));
        assert_eq!(read_cookie("a;b;x=1", "x").as_deref(), Some("1"));
        assert_eq!(read_cookie("xx=1", "x"), None);
        assert_eq!(read_cookie("", "x"), None);
        assert_eq!(read_cookie("x", "x"), None);
        assert_eq!(read_cookie("x=", "x").as_deref(), Some(""));
        assert_eq!(read_cookie("é=1; x=é", "x").as_deref(), Some("é"));
    }

    #[test]
    fn values_decode_like_cookie_0_7() {
        assert_eq!(decode_cookie_value(" \"s%3Aa\" "), "s:a");
        assert_eq!(decode_cookie_value("s:a"), "s:a");
        assert_eq!(decode_cookie_value("s%3Aa%zz"), "s%3Aa%zz");
    }
}
