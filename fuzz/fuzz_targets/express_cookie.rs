//! A `connect.sid` cookie value (bytes from the network) → express-session's reader:
//! `decode_cookie_value` (quotes, `decodeURIComponent` only with `%`), `unsign_cookie_value`
//! (the `s:` prefix, HMAC-SHA256 with any secret) and `ExpressIds::decode`.
//!
//! Checked, beyond "no panic": whatever unsigns re-signs to a value that unsigns to the
//! same id; an id `ExpressIds` accepts encodes to a cookie it decodes to the same id; and
//! a signature made with the first secret always verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use satchel::IdFormat;
use satchel_connect::express::{cookie_value, decode_cookie_value, unsign_cookie_value};
use satchel_connect::ExpressIds;

const SECRETS: [&str; 2] = ["keyboard cat", "old keyboard cat"];

fuzz_target!(|value: &[u8]| {
    let ids = ExpressIds::new(SECRETS.iter().map(|s| (*s).to_owned()).collect()).unwrap();
    if let Some(id) = ids.decode(value) {
        let again = ids.encode(&id);
        assert_eq!(ids.decode(again.as_bytes()), Some(id), "encode/decode round trip");
    }
    let Ok(text) = std::str::from_utf8(value) else { return };
    let decoded = decode_cookie_value(text);
    if let Some(sid) = unsign_cookie_value(&decoded, &SECRETS) {
        let resigned = cookie_value(&sid, SECRETS[0]);
        assert_eq!(unsign_cookie_value(&resigned, &SECRETS).as_deref(), Some(&*sid));
    }
    // Any text, signed, verifies (ids are arbitrary strings in express-session).
    let signed = cookie_value(text, SECRETS[1]);
    assert_eq!(unsign_cookie_value(&signed, &SECRETS).as_deref(), Some(text));
});
