//! Which Redis key a satchel [`StoreKey`] names.

use satchel::StoreKey;

use crate::express_ids::is_express_id;

/// `prefix` + the key's 32 bytes as text when they are an express-session id (what
/// [`ExpressIds`](crate::ExpressIds) hands out: connect-redis's `sess:<id>`), else
/// `prefix` + 64 lower-case hex digits (a satchel-native SHA-256 key, e.g. from the
/// conformance suite or a native engine sharing the store).
///
/// The two never collide: hex keys are 64 characters, ids 32. A SHA-256 whose 32 bytes
/// all happen to be base64url characters (probability 2⁻⁶⁴) would be stored as text,
/// which is still one key per store key.
pub(crate) fn redis_key(prefix: &str, key: &StoreKey) -> String {
    let bytes = key.as_bytes();
    match std::str::from_utf8(bytes) {
        Ok(id) if is_express_id(bytes) => format!("{prefix}{id}"),
        _ => format!("{prefix}{}", key.to_hex()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn express_ids_raw_hashes_hex() {
        let id = *b"fEq6LLq_w2X38Zw_ce5rrmmlv8HO8tz8";
        assert_eq!(
            redis_key("sess:", &StoreKey::from_bytes(id)),
            "sess:fEq6LLq_w2X38Zw_ce5rrmmlv8HO8tz8"
        );
        let hash = StoreKey::from_bytes([0xab; 32]);
        assert_eq!(redis_key("p:", &hash), format!("p:{}", "ab".repeat(32)));
        let mut almost = id;
        almost[0] = b'.';
        assert_eq!(redis_key("", &StoreKey::from_bytes(almost)).len(), 64);
    }
}
