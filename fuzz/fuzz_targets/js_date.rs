//! JavaScript dates (`cookie.expires` in express-session records, koa-generic-session's
//! `cookie.expires`) → satchel-connect's reader of `Date.prototype.toJSON` text, and the
//! writer of `toISOString` and the `Set-Cookie` header with an `Expires` attribute.
//!
//! Checked, beyond "no panic": a date that parses prints (`toISOString`) to text that
//! parses to the same instant; any instant in JavaScript's range prints to ISO text that
//! parses back to it and has the fixed 24-character (or 27 for extended years) shape;
//! a `Set-Cookie` header with that expiry is written (no formatting error) exactly where
//! the ISO string exists.
#![no_main]

use libfuzzer_sys::fuzz_target;
use satchel_connect::fuzzing::{js_date_iso, js_date_parse, set_cookie_expiring};

fuzz_target!(|value: &[u8]| {
    if let Ok(text) = std::str::from_utf8(value) {
        if let Some(ms) = js_date_parse(text) {
            let iso = js_date_iso(ms).expect("a parsed date is in range");
            assert_eq!(js_date_parse(&iso), Some(ms), "{text} → {iso}");
        }
    }
    if value.len() >= 8 {
        let ms = i64::from_le_bytes(value[..8].try_into().unwrap()) % 8_640_000_000_000_001;
        let iso = js_date_iso(ms).expect("within ±8.64e15 ms");
        assert!(matches!(iso.len(), 24 | 27), "{iso}");
        assert_eq!(js_date_parse(&iso), Some(ms), "{iso}");
        assert!(set_cookie_expiring(ms).is_some());
        assert_eq!(js_date_iso(8_640_000_000_000_001), None);
    }
});
