//! JSON text exactly as JavaScript writes it: `JSON.stringify(JSON.parse(text))`.
//!
//! Node stores sessions as `JSON.stringify` output, and two of its formats depend on that
//! text byte for byte (koa-session signs the base64 of it; express-session and koa-session
//! hash it to decide whether anything changed). So values are kept here as JSON *text* in
//! the form JavaScript would produce, never as parsed Rust maps.
//!
//! This reader is kept only for the three things serde_json cannot do, each proven by a
//! capture from Node (serde_json still reads everything else: owners, vectors, Rust
//! values going in):
//! - key order: every koa-session and cookie-session vector in `tests/data/vectors.json`
//!   signs the base64 of `{"user":"alice","n":3,…}` in insertion order, which a sorted
//!   map would reorder, breaking the signature;
//! - `Number.prototype.toString` and lone surrogates: `tests/data/js_json_golden.json`
//!   (what Node 20's `JSON.stringify(JSON.parse(input))` printed for thousands of inputs,
//!   checked by `tests/js_json.rs`).
//!
//! Why a small parser of our own instead of `serde_json::Value`:
//! - **Key order.** JavaScript objects list integer-like keys (`"0"`, `"42"`) first in
//!   ascending order, then the other keys in insertion order; a repeated key keeps its
//!   first position and its last value. serde_json's `Map` is sorted unless the
//!   `preserve_order` feature is on, and that feature would unify into the whole workspace
//!   and change how the core crate serialises `serde_json::Value` (its stored values are
//!   compared as text). Neither order is JavaScript's anyway.
//! - **Numbers.** JavaScript reads every number as a double and writes it with
//!   `Number.prototype.toString` (`1.0` → `1`, `1e21` → `1e+21`, `-0` → `0`). serde_json's
//!   default float parsing is not always correctly rounded, and its writer differs.
//! - **Lone surrogates.** `JSON.parse("\"\\ud800\"")` is a valid JavaScript string, which
//!   `JSON.stringify` writes back as `"\ud800"`. A Rust `String` cannot hold it, but text can.

mod number;
mod parse;
mod string;

pub(crate) use number::write_number;
pub use parse::JsonError;
pub(crate) use string::write_str;

/// Rewrites one JSON document as `JSON.stringify(JSON.parse(text))` does in Node: no
/// whitespace, JavaScript key order, JavaScript number formatting, non-ASCII and `/`
/// written raw.
///
/// # Errors
/// When `text` is not exactly one JSON document, or nests deeper than 256 levels.
pub fn canonicalize(text: &str) -> Result<String, JsonError> {
    let mut out = String::with_capacity(text.len());
    parse::Parser::new(text).document(&mut out)?;
    Ok(out)
}

/// The members of a JSON object, in JavaScript enumeration order, each value rewritten as by
/// [`canonicalize`]. `Ok(None)` when `text` is valid JSON but not an object.
///
/// # Errors
/// As [`canonicalize`]; also when a key holds a lone UTF-16 surrogate (a Rust `String`
/// cannot hold it).
pub(crate) fn object_members(text: &str) -> Result<Option<Vec<(String, String)>>, JsonError> {
    parse::Parser::new(text).top_level_members()
}

/// Whether `key` is what JavaScript calls an array index (`"0"`, `"7"`, `"4294967294"`, not
/// `"01"` or `"-1"`): such keys are listed before all others, in numeric order.
pub(crate) fn array_index(key: &str) -> Option<u32> {
    let bytes = key.as_bytes();
    let canonical = match bytes {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if !canonical || bytes.len() > 10 {
        return None;
    }
    // 2^32 - 1 is not an array index (it is the maximum array length).
    key.parse::<u32>().ok().filter(|&n| n != u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_indices() {
        for (key, want) in [
            ("0", Some(0)),
            ("42", Some(42)),
            ("4294967294", Some(4_294_967_294)),
            ("4294967295", None),
            ("99999999999", None),
            ("01", None),
            ("-1", None),
            ("1.5", None),
            ("", None),
            ("a1", None),
        ] {
            assert_eq!(array_index(key), want, "{key}");
        }
    }

    #[test]
    fn canonical_forms() {
        for (input, want) in [
            (
                " { \"b\" : 1 , \"a\" : [ 1.0 , -0 , 1e21 ] } ",
                r#"{"b":1,"a":[1,0,1e+21]}"#,
            ),
            (
                r#"{"b":1,"10":2,"2":3,"a":4}"#,
                r#"{"2":3,"10":2,"b":1,"a":4}"#,
            ),
            (r#"{"a":1,"b":2,"a":3}"#, r#"{"a":3,"b":2}"#),
            (r#""\u00e9\/\u2028\ud83d\ude00""#, "\"é/\u{2028}😀\""),
            (r#""\ud800x\udc00""#, r#""\ud800x\udc00""#),
            (r#""\u0001\b\f\n\r\t\"\\""#, r#""\u0001\b\f\n\r\t\"\\""#),
            ("1e400", "null"),
            ("[]", "[]"),
            ("{}", "{}"),
            ("true", "true"),
            ("null", "null"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1e-7"),
            ("123456789012345678901234", "1.2345678901234569e+23"),
            ("12345678901234567890", "12345678901234567000"),
        ] {
            assert_eq!(canonicalize(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn rejects_what_json_parse_rejects() {
        for input in [
            "",
            " ",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            ".5",
            "+1",
            "-",
            "1e",
            "\"\t\"",
            "'a'",
            "{a:1}",
            "nul",
            "truex",
            "1 2",
            "\u{feff}1",
            "\"\\x\"",
            "\"\\u12\"",
            "NaN",
        ] {
            assert!(canonicalize(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(canonicalize(&deep).is_err());
        let ok = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(canonicalize(&ok).as_deref(), Ok(ok.as_str()));
    }

    #[test]
    fn top_level_members() {
        let got = object_members(r#"{"x":{"b":1,"1":2},"0":true}"#);
        assert_eq!(
            got,
            Ok(Some(vec![
                ("0".to_owned(), "true".to_owned()),
                ("x".to_owned(), r#"{"1":2,"b":1}"#.to_owned()),
            ]))
        );
        assert_eq!(object_members("[1]"), Ok(None));
        assert!(object_members(r#"{"\ud800":1}"#).is_err());
    }
}
