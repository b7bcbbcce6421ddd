//! Text → `SessionId::parse` (the cookie value) and `StoreKey::from_hex` (the key form that
//! text-keyed stores read back from their own index).
//!
//! Checked, beyond "no panic":
//! - `parse` accepts exactly the canonical 43-character base64url spellings (compared with
//!   an independent checker), and an accepted id encodes back to exactly the input, so no
//!   two cookie values ever name the same session;
//! - `from_hex` accepts exactly 64 lower-case hex digits and round-trips them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use satchel::{SessionId, StoreKey};
use satchel_fuzz::{is_canonical_id, is_lower_hex_64};

fuzz_target!(|data: &[u8]| {
    // Non-UTF-8 cookie bytes never reach `parse` (the cookie_header target covers them).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    let id = SessionId::parse(text);
    assert_eq!(
        id.is_some(),
        is_canonical_id(data),
        "parse disagrees with the canonical-form check"
    );
    if let Some(id) = id {
        assert_eq!(id.encode(), text, "a parsed id must encode to its input");
        let _ = id.store_key();
    }

    let key = StoreKey::from_hex(text);
    assert_eq!(key.is_some(), is_lower_hex_64(text), "from_hex acceptance");
    if let Some(key) = key {
        assert_eq!(key.to_hex(), text, "from_hex must round-trip");
    }
});
