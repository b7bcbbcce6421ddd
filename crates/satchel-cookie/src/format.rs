//! The sealed value: what [`Keyring`] writes into the cookie.
//!
//! ```text
//! base64url-nopad( version=1 | key id | nonce (12 bytes) | ciphertext | tag (16 bytes) )
//! AAD = "satchel-cookie" 0x00 cookie-name 0x00 version key-id
//! ```
//!
//! Everything outside the ciphertext is authenticated through the AAD or the tag: changing
//! the version byte, the key id, the cookie name, any nonce or ciphertext bit, or the length
//! fails the tag check.

use aes_gcm_siv::aead::AeadInPlace;
use aes_gcm_siv::{Nonce, Tag};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use satchel::sealed::{CookieSealer, OpenError, Opened};
use satchel::{StoreError, StoreErrorKind};

use crate::keyring::Keyring;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 2 + NONCE_LEN;
/// Longer values are refused before decoding: the engine caps a session at nine 4 KB
/// chunks, so anything longer is not ours.
const MAX_SEALED_LEN: usize = 9 * 4096;

/// The length of the sealed value for `plaintext_len` bytes of plaintext.
fn sealed_len(plaintext_len: usize) -> usize {
    // base64 without padding: 4 characters per 3 bytes, 2 or 3 for a last partial group.
    (HEADER_LEN + plaintext_len + TAG_LEN)
        .saturating_mul(4)
        .div_ceil(3)
}

/// Appends base64url-nopad of `raw` to `out` through a small stack buffer (base64's own
/// `encode_string` zeroes a 1 KB buffer per call).
fn encode_onto(raw: &[u8], out: &mut String) {
    const IN: usize = 3 * 128;
    let mut buf = [0u8; IN / 3 * 4];
    // Every chunk but the last is a whole number of 3-byte groups, so the pieces
    // concatenate to the encoding of the whole.
    for chunk in raw.chunks(IN) {
        // Neither fails: `buf` holds the encoding of a whole chunk, and base64 is ASCII.
        let n = URL_SAFE_NO_PAD.encode_slice(chunk, &mut buf).unwrap_or(0);
        out.push_str(std::str::from_utf8(&buf[..n]).unwrap_or_default());
    }
}

/// Longest AAD built on the stack; longer cookie names (rare) use a heap buffer.
const AAD_STACK: usize = 80;

/// Calls `f` with the associated data for `cookie_name` and `key_id`, built on the stack
/// when it fits (it does for any usual cookie name): no allocation per seal or open.
fn with_aad<R>(cookie_name: &str, key_id: u8, f: impl FnOnce(&[u8]) -> R) -> R {
    const PREFIX: &[u8] = b"satchel-cookie\0";
    let len = PREFIX.len() + cookie_name.len() + 3;
    let suffix = [0, VERSION, key_id];
    if len <= AAD_STACK {
        let mut buf = [0u8; AAD_STACK];
        let (head, rest) = buf.split_at_mut(PREFIX.len());
        head.copy_from_slice(PREFIX);
        let (name, rest) = rest.split_at_mut(cookie_name.len());
        name.copy_from_slice(cookie_name.as_bytes());
        rest[..3].copy_from_slice(&suffix);
        f(&buf[..len])
    } else {
        let mut aad = Vec::with_capacity(len);
        aad.extend_from_slice(PREFIX);
        aad.extend_from_slice(cookie_name.as_bytes());
        aad.extend_from_slice(&suffix);
        f(&aad)
    }
}

impl Keyring {
    /// The sealed value before base64: header, ciphertext, tag.
    fn seal_raw(&self, cookie_name: &str, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let key = &self.active;
        let mut nonce = Nonce::default();
        rand::rng().fill_bytes(&mut nonce);
        // Encrypted in place behind its header: one buffer, no copy of the ciphertext.
        let mut raw = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        raw.extend_from_slice(&[VERSION, key.id]);
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(plaintext);
        let tag = with_aad(cookie_name, key.id, |aad| {
            key.cipher
                .encrypt_in_place_detached(&nonce, aad, &mut raw[HEADER_LEN..])
        })
        .map_err(|_| StoreError::msg(StoreErrorKind::Backend, "cookie encryption failed"))?;
        raw.extend_from_slice(&tag);
        Ok(raw)
    }
}

impl CookieSealer for Keyring {
    fn seal(&self, cookie_name: &str, plaintext: &[u8]) -> Result<String, StoreError> {
        Ok(URL_SAFE_NO_PAD.encode(self.seal_raw(cookie_name, plaintext)?))
    }

    fn seal_into(
        &self,
        cookie_name: &str,
        plaintext: &[u8],
        out: &mut String,
    ) -> Result<(), StoreError> {
        let raw = self.seal_raw(cookie_name, plaintext)?;
        // Encoded straight onto the caller's string (the engine's `Set-Cookie` value).
        out.reserve(sealed_len(plaintext.len()));
        encode_onto(&raw, out);
        Ok(())
    }

    fn open(&self, cookie_name: &str, sealed: &str) -> Result<Opened, OpenError> {
        if sealed.len() > MAX_SEALED_LEN {
            return Err(OpenError::Malformed);
        }
        let mut raw = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| OpenError::Malformed)?;
        if raw.len() < HEADER_LEN + TAG_LEN {
            return Err(OpenError::Malformed);
        }
        let (version, key_id) = (raw[0], raw[1]);
        if version != VERSION {
            return Err(OpenError::Malformed);
        }
        let key = self.key(key_id).ok_or(OpenError::UnknownKey)?;
        let (header, rest) = raw.split_at_mut(HEADER_LEN);
        let (body, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
        with_aad(cookie_name, key_id, |aad| {
            key.cipher.decrypt_in_place_detached(
                Nonce::from_slice(&header[2..]),
                aad,
                body,
                Tag::from_slice(tag),
            )
        })
        .map_err(|_| OpenError::Tampered)?;
        let end = raw.len() - TAG_LEN;
        raw.truncate(end);
        raw.drain(..HEADER_LEN);
        Ok(Opened {
            plaintext: raw,
            stale_key: key_id != self.active.id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random-looking (so not weak) secret, a different one for each `byte`.
    fn secret(byte: u8) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest([byte; 32]).into()
    }

    fn ring(id: u8, byte: u8) -> Keyring {
        Keyring::new(id, &secret(byte)).expect("valid secret")
    }

    #[test]
    fn round_trip_and_binding() {
        let r = ring(1, 1);
        let sealed = r.seal("id", b"hello").expect("seals");
        assert!(sealed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let opened = r.open("id", &sealed).expect("opens");
        assert_eq!(opened.plaintext, b"hello");
        assert!(!opened.stale_key);
        assert_eq!(r.open("other", &sealed).err(), Some(OpenError::Tampered));
        // Two seals of one plaintext differ (random nonces).
        assert_ne!(sealed, r.seal("id", b"hello").expect("seals"));
    }

    #[test]
    fn every_bit_flip_is_rejected() {
        let r = ring(1, 1);
        let raw = URL_SAFE_NO_PAD
            .decode(r.seal("id", b"some session bytes").expect("seals"))
            .expect("base64");
        for byte in 0..raw.len() {
            for bit in 0..8 {
                let mut bad = raw.clone();
                bad[byte] ^= 1 << bit;
                let bad = URL_SAFE_NO_PAD.encode(&bad);
                assert!(r.open("id", &bad).is_err(), "flip {byte}:{bit} accepted");
            }
        }
    }

    #[test]
    fn key_rotation() {
        let old = ring(1, 1);
        let sealed = old.seal("id", b"x").expect("seals");
        let rotated = ring(2, 2).with_fallback(1, &secret(1)).expect("valid");
        let opened = rotated.open("id", &sealed).expect("fallback opens");
        assert!(opened.stale_key);
        let removed = ring(2, 2);
        assert_eq!(
            removed.open("id", &sealed).err(),
            Some(OpenError::UnknownKey)
        );
        // Same id, different secret: not an unknown key, a failed tag.
        assert_eq!(
            ring(1, 9).open("id", &sealed).err(),
            Some(OpenError::Tampered)
        );
    }

    #[test]
    fn values_sealed_by_earlier_releases_still_open() {
        // Sealed before the allocation-free rewrite of seal/open: the wire format and the
        // AAD are unchanged. Their fixture secret (32 × 0x5a) is one `Keyring::new` now
        // refuses as weak, so the key is derived without the check.
        let r = Keyring {
            active: crate::keyring::derive_unchecked(7, &[0x5a; 32]).expect("derives"),
            fallbacks: Vec::new(),
        };
        let opened = r
            .open(
                "id",
                "AQc666t6fJ4E6QLd-1GaCllMqX0d6C9JVCA0ZQYoyDtgKpeR4WuW5IEm39_r81DOBZ8zDLKyGUMArmlEbeztuw",
            )
            .expect("opens");
        assert_eq!(opened.plaintext, b"satchel golden plaintext: {\"n\":41}");
        let empty = r
            .open("__Host-sid", "AQcrVtprTqzD4Xu0OgP5IOQlgTB5uZJj04JT2CNS")
            .expect("opens");
        assert!(empty.plaintext.is_empty());
    }

    #[test]
    fn seal_into_appends_the_same_format() {
        let r = ring(1, 1);
        for len in [0, 1, 2, 3, 100, 383, 384, 385, 1000, 5000] {
            let plaintext = vec![b'p'; len];
            let mut out = String::from("id=");
            r.seal_into("id", &plaintext, &mut out).expect("seals");
            let sealed = out.strip_prefix("id=").expect("prefix kept");
            assert_eq!(sealed.len(), sealed_len(len));
            assert_eq!(sealed.len(), r.seal("id", &plaintext).expect("seals").len());
            assert_eq!(r.open("id", sealed).expect("opens").plaintext, plaintext);
        }
    }

    #[test]
    fn long_cookie_names_are_bound_too() {
        let r = ring(1, 1);
        let long = "n".repeat(AAD_STACK * 2);
        let sealed = r.seal(&long, b"x").expect("seals");
        assert_eq!(r.open(&long, &sealed).expect("opens").plaintext, b"x");
        let other = "m".repeat(AAD_STACK * 2);
        assert_eq!(r.open(&other, &sealed).err(), Some(OpenError::Tampered));
    }

    #[test]
    fn garbage_is_malformed() {
        let r = ring(1, 1);
        for bad in ["", "!!!", "AAAA", &"A".repeat(MAX_SEALED_LEN + 1)] {
            assert_eq!(r.open("id", bad).err(), Some(OpenError::Malformed));
        }
    }
}
