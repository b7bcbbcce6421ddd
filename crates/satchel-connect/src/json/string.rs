//! String literals as `JSON.stringify` writes them (ECMA-262 `QuoteJSONString`).

/// Appends `s` as a JSON string literal the way JavaScript writes it: `"` and `\` escaped,
/// `\b \f \n \r \t` by name, other control characters as lowercase `\u00XX`, everything
/// else (non-ASCII, `/`, U+2028) raw.
pub(crate) fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        push_char(c, out);
    }
    out.push('"');
}

/// Appends one character of a string literal's content, escaped as JavaScript would.
pub(super) fn push_char(c: char, out: &mut String) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if u32::from(c) < 0x20 => push_unicode_escape(u32::from(c), out),
        c => out.push(c),
    }
}

/// `\uXXXX` in lowercase hex, as JavaScript writes control characters and lone surrogates.
pub(super) fn push_unicode_escape(unit: u32, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(char::from(HEX[((unit >> shift) & 0xf) as usize]));
    }
}

#[cfg(test)]
mod tests {
    use super::write_str;

    #[test]
    fn escapes_like_javascript() {
        let mut out = String::new();
        write_str("a\"b\\c/d\u{1}\u{1f}\u{7f}é✓\u{2028}\n", &mut out);
        assert_eq!(out, "\"a\\\"b\\\\c/d\\u0001\\u001f\u{7f}é✓\u{2028}\\n\"");
    }
}
