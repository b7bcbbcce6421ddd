//! JavaScript's `encodeURIComponent` and `decodeURIComponent`.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What `encodeURIComponent` escapes: every byte of the UTF-8 form except
/// `A–Z a–z 0–9 - _ . ! ~ * ' ( )`.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// `encodeURIComponent(s)`, with uppercase hex as JavaScript writes it. (JavaScript throws
/// only on lone surrogates, which a Rust `str` cannot hold.)
pub fn encode_uri_component(s: &str) -> String {
    utf8_percent_encode(s, URI_COMPONENT).to_string()
}

/// `decodeURIComponent(s)`, or `None` where JavaScript throws a `URIError`: a `%` not
/// followed by two hex digits, or escapes that do not spell valid UTF-8. All or nothing:
/// unlike lenient decoders, one bad escape fails the whole string.
pub fn decode_uri_component(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    // Rust's UTF-8 check refuses overlong forms and encoded surrogates, as JavaScript does.
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_javascript() {
        assert_eq!(
            encode_uri_component("s:a+b/c=d e-_.!~*'()é✓"),
            "s%3Aa%2Bb%2Fc%3Dd%20e-_.!~*'()%C3%A9%E2%9C%93"
        );
    }

    #[test]
    fn decodes_like_javascript() {
        assert_eq!(decode_uri_component("s%3Aa%2bb").as_deref(), Some("s:a+b"));
        assert_eq!(decode_uri_component("%C3%A9").as_deref(), Some("é"));
        assert_eq!(decode_uri_component("plain").as_deref(), Some("plain"));
        for bad in [
            "%",
            "%4",
            "%zz",
            "%41%zz",
            "%C3",
            "%C0%AF",
            "%ED%A0%80",
            "%+1",
        ] {
            assert_eq!(decode_uri_component(bad), None, "{bad}");
        }
    }
}
