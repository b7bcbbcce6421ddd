//! Bytes read back from Redis → satchel-redis's layout-v2 value decoder (what every load
//! parses: a store's contents are untrusted input, whoever else writes to that Redis), and
//! the renewal forward decoder (what `load_forward` parses) on the same bytes.
//!
//! Checked, beyond "no panic": anything the decoder accepts encodes back to a value that
//! decodes to the same record (so a rewrite never changes a session it could read), and
//! every value of an accepted record is syntactically valid JSON (serde_json's raw-value
//! check: numbers past f64's range are valid JSON, as `satchel::Value` keeps them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use satchel_redis::fuzzing::{decode_forward, decode_value, encode_forward, encode_value};

fuzz_target!(|value: &[u8]| {
    // A forward accepted as live holds bytes that encode back to the same value (only the
    // deadline's form can differ: it is parsed, then written as 13 digits again).
    if let Ok(Some(bytes)) = decode_forward(value, 0) {
        assert_eq!(&value[14..], &bytes[..], "the forward bytes are the value's tail");
        let again = encode_forward(&bytes, 1);
        assert_eq!(decode_forward(&again, 0).ok(), Some(Some(bytes)), "round trip");
    }
    let Ok(record) = decode_value(value) else {
        return;
    };
    for (key, v) in record.data.iter() {
        assert!(
            serde_json::from_str::<&serde_json::value::RawValue>(v.get()).is_ok(),
            "accepted a value that is not JSON under {key:?}"
        );
    }
    let again = decode_value(&encode_value(&record)).expect("our own encoding decodes");
    assert_eq!(again, record, "re-encoding changed the record");
});
