//! `json::canonicalize` against Node itself: `data/js_json_golden.json` holds inputs and
//! what Node 20's `JSON.stringify(JSON.parse(input))` printed for them (regenerate with
//! `node data/gen_js_json_golden.mjs > data/js_json_golden.json`): thousands of doubles
//! spelled in several ways, integers past 2^53, exponents at the edges of the double
//! range, key-order and duplicate-key cases, and string escapes including lone surrogates.

#![allow(clippy::unwrap_used)]

use satchel_connect::json::canonicalize;

#[test]
fn matches_node_json_stringify() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/js_json_golden.json"
    ))
    .unwrap();
    let cases: Vec<(String, String)> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() > 2000, "golden file too small: {}", cases.len());
    let mut failures = Vec::new();
    for (input, want) in &cases {
        match canonicalize(input) {
            Ok(got) if &got == want => {}
            other => failures.push(format!("{input:?}: want {want:?}, got {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
