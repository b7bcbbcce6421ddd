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

fn aad(cookie_name: &str, key_id: u8) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + cookie_name.len() + 2);
    aad.extend_from_slice(b"satchel-cookie\0");
    aad.extend_from_slice(cookie_name.as_bytes());
    aad.extend_from_slice(&[0, VERSION, key_id]);
    aad
}

impl CookieSealer for Keyring {
    fn seal(&self, cookie_name: &str, plaintext: &[u8]) -> Result<String, StoreError> {
        let key = &self.active;
        let mut nonce = Nonce::default();
        rand::rng().fill_bytes(&mut nonce);
        // Encrypted in place behind its header: one buffer, no copy of the ciphertext.
        let mut raw = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        raw.extend_from_slice(&[VERSION, key.id]);
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(plaintext);
        let tag = key
            .cipher
            .encrypt_in_place_detached(&nonce, &aad(cookie_name, key.id), &mut raw[HEADER_LEN..])
            .map_err(|_| StoreError::msg(StoreErrorKind::Backend, "cookie encryption failed"))?;
        raw.extend_from_slice(&tag);
        Ok(URL_SAFE_NO_PAD.encode(raw))
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
        key.cipher
            .decrypt_in_place_detached(
                Nonce::from_slice(&header[2..]),
                &aad(cookie_name, key_id),
                body,
                Tag::from_slice(tag),
            )
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

    fn ring(id: u8, byte: u8) -> Keyring {
        Keyring::new(id, &[byte; 32]).expect("valid secret")
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
        let rotated = ring(2, 2).with_fallback(1, &[1; 32]).expect("valid");
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
    fn garbage_is_malformed() {
        let r = ring(1, 1);
        for bad in ["", "!!!", "AAAA", &"A".repeat(MAX_SEALED_LEN + 1)] {
            assert_eq!(r.open("id", bad).err(), Some(OpenError::Malformed));
        }
    }
}
