//! JSON text from Node (store records, cookie payloads) → satchel-connect's own JSON
//! reader (`json::canonicalize`, `OrderedData::from_json_object`), which keeps what
//! serde_json cannot: JavaScript's key order, `Number.prototype.toString` and lone
//! surrogates.
//!
//! Checked, beyond "no panic": canonical text is a fixed point (reading what it writes
//! gives the same bytes: "what parses re-encodes to the same bytes"); an object's members
//! re-serialise to the canonical text; and serde_json accepts all canonical text that has
//! no lone surrogate escape (so the reader never writes something other JSON readers
//! refuse), agreeing on strings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use satchel_connect::json::canonicalize;
use satchel_connect::OrderedData;

fuzz_target!(|value: &[u8]| {
    let Ok(text) = std::str::from_utf8(value) else { return };
    let Ok(canonical) = canonicalize(text) else { return };
    assert_eq!(canonicalize(&canonical).as_deref(), Ok(canonical.as_str()), "fixed point");
    if let Ok(Some(members)) = OrderedData::from_json_object(&canonical) {
        assert_eq!(members.to_json_object(), canonical, "members re-serialise");
    }
    let lone_surrogate = canonical.contains("\\ud") || canonical.contains("\\uD");
    if !lone_surrogate {
        // Accepted as JSON by serde_json's own grammar. Not through `serde_json::Value`:
        // with the `raw_value` feature its map visitor takes an object whose first key is
        // `$serde_json::private::RawValue` for a raw-value wrapper and refuses a non-string
        // member (a fuzz finding about serde_json's internals, not about this reader; kept
        // in fuzz/regressions/node_json).
        serde_json::from_str::<serde::de::IgnoredAny>(&canonical)
            .expect("serde_json reads canonical JSON");
        if canonical.starts_with('"') {
            let ours: String = serde_json::from_str(&canonical).expect("a string");
            let original: String = serde_json::from_str(text).expect("same input");
            assert_eq!(original, ours, "strings agree");
        }
    }
});
