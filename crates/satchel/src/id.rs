//! Session ids (secrets held by the browser) and store keys (their hashes, held by stores).
//!
//! # Security
//! A [`SessionId`] is 256 bits from a cryptographically secure generator seeded by the OS
//! (`rand::rng()`, a ChaCha-based CSPRNG; the generator type is bound by `CryptoRng`). It is
//! written into the cookie as 43 characters of unpadded base64url, and parsing accepts only
//! that canonical form. Stores never see it: they are keyed by [`StoreKey`], the SHA-256 of
//! the id's bytes, so a leaked store dump or `KEYS *` cannot be replayed as cookies and a
//! store lookup is no timing oracle on live ids (CVE-2019-16782). Neither type prints its
//! bytes in `Debug`; a store key prints a short prefix for log correlation only.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

/// Length of an encoded session id in a cookie: 32 bytes of unpadded base64url.
pub const ENCODED_ID_LEN: usize = 43;

/// A session id: 32 random bytes. The secret that the cookie carries.
#[derive(Clone)]
pub struct SessionId {
    bytes: [u8; 32],
    /// The SHA-256, computed at most once per id (a request needs it for the load and
    /// again for the write).
    key: OnceLock<StoreKey>,
}

impl PartialEq for SessionId {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for SessionId {}

impl SessionId {
    /// A fresh id from the thread-local CSPRNG.
    pub fn generate() -> Self {
        Self::generate_with(&mut rand::rng())
    }

    /// A fresh id from `rng`, which must be a cryptographically secure generator.
    pub fn generate_with<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    /// Parses the cookie form: exactly 43 characters of canonical unpadded base64url.
    /// Anything else (empty, padded, wrong length, non-canonical trailing bits, other
    /// alphabets) is `None`, so a malformed value never reaches a store.
    pub fn parse(encoded: &str) -> Option<Self> {
        if encoded.len() != ENCODED_ID_LEN {
            return None;
        }
        let mut bytes = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(encoded.as_bytes(), &mut bytes) {
            Ok(32) => Some(Self::from_bytes(bytes)),
            _ => None,
        }
    }

    /// An id from its 32 raw bytes: for backends that keep the id somewhere other than
    /// the cookie's own encoding (inside a sealed cookie, an interop format). The bytes
    /// must come from a CSPRNG, as [`SessionId::generate`]'s do.
    pub fn from_raw(bytes: [u8; 32]) -> Self {
        Self::from_bytes(bytes)
    }

    /// This id with its store key fixed to `key` (an [`crate::IdFormat`] keys stores its
    /// own way).
    pub(crate) fn with_store_key(self, key: StoreKey) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(key);
        SessionId {
            bytes: self.bytes,
            key: cell,
        }
    }

    fn from_bytes(bytes: [u8; 32]) -> Self {
        SessionId {
            bytes,
            key: OnceLock::new(),
        }
    }

    /// The cookie form of this id. Handle the result as a secret.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.bytes)
    }

    /// The key stores use for this session: SHA-256 of the id's bytes.
    pub fn store_key(&self) -> StoreKey {
        *self
            .key
            .get_or_init(|| StoreKey(Sha256::digest(self.bytes).into()))
    }

    /// The raw bytes. Interop layers that must keep Node's own id format use this.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

/// What a store is keyed by: the SHA-256 of a [`SessionId`]. Not a secret by itself (it
/// cannot be turned back into a cookie), but not printed in full either.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoreKey([u8; 32]);

impl StoreKey {
    /// A store key from its 32 bytes, e.g. as read back from a store's own index.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        StoreKey(bytes)
    }

    /// The 32 bytes of the hash.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, 64 characters: the form text-keyed stores (Redis, SQL) use.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        self.push_hex(&mut out);
        out
    }

    /// Appends the [`StoreKey::to_hex`] form to `out`: a store building a longer name
    /// (prefix, key) in one presized string, without an intermediate allocation.
    pub fn push_hex(&self, out: &mut String) {
        out.reserve(64);
        for b in self.0 {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }

    /// Parses the 64-character lower-case hex form written by [`StoreKey::to_hex`].
    pub fn from_hex(hex: &str) -> Option<Self> {
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            out[i] = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        Some(StoreKey(out))
    }

    /// A short, stable prefix for logs: enough to correlate events, useless to an attacker.
    pub fn short(&self) -> String {
        self.to_hex()[..12].to_owned()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl Hash for StoreKey {
    // The key is already a uniformly random hash: eight of its bytes are a perfect hash
    // value, so in-memory maps can use an identity hasher instead of hashing it again.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreKey({}…)", self.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut seen = HashSet::new();
        for _ in 0..100_000 {
            let id = SessionId::generate();
            let enc = id.encode();
            assert_eq!(enc.len(), ENCODED_ID_LEN);
            assert_eq!(SessionId::parse(&enc), Some(id.clone()));
            assert!(seen.insert(enc), "duplicate id");
        }
    }

    #[test]
    fn ids_look_random() {
        // Monobit test over 10^4 ids (2.56M bits): the share of ones must be 0.5 ± 0.002
        // (≈ 6 standard deviations), so a constant or counter-based generator fails.
        let ones: u64 = (0..10_000)
            .map(|_| {
                SessionId::generate()
                    .as_bytes()
                    .iter()
                    .map(|b| u64::from(b.count_ones()))
                    .sum::<u64>()
            })
            .sum();
        let share = ones as f64 / (10_000.0 * 256.0);
        assert!((share - 0.5).abs() < 0.002, "share of one bits {share}");
    }

    #[test]
    fn parse_rejects_non_canonical_forms() {
        let good = SessionId::generate().encode();
        assert!(SessionId::parse("").is_none());
        assert!(SessionId::parse(&good[..42]).is_none());
        assert!(SessionId::parse(&format!("{good}=")).is_none());
        assert!(SessionId::parse(&format!("{good}A")).is_none());
        assert!(SessionId::parse(&good.replace('-', "+")).is_none() || !good.contains('-'));
        // The last character carries 2 unused bits; a non-zero tail is non-canonical.
        let mut bytes = good.clone().into_bytes();
        bytes[42] = if bytes[42] == b'B' { b'C' } else { b'B' };
        let tweaked = String::from_utf8(bytes).unwrap_or_default();
        let reparsed = SessionId::parse(&tweaked);
        if let Some(id) = reparsed {
            assert_eq!(id.encode(), tweaked, "only canonical encodings parse");
        }
        assert!(SessionId::parse(&"\u{e9}".repeat(21)).is_none());
        assert!(SessionId::parse(&"a".repeat(1 << 20)).is_none());
    }

    #[test]
    fn store_key_is_sha256_and_hex_round_trips() {
        let id = SessionId::from_bytes([0u8; 32]);
        assert_eq!(
            id.store_key().to_hex(),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
        let key = SessionId::generate().store_key();
        assert_eq!(StoreKey::from_hex(&key.to_hex()), Some(key));
        assert!(StoreKey::from_hex("zz").is_none());
        assert!(StoreKey::from_hex(&"G".repeat(64)).is_none());
    }

    #[test]
    fn debug_never_prints_the_id() {
        let id = SessionId::generate();
        let dbg = format!("{id:?} {:?}", id.store_key());
        assert!(!dbg.contains(&id.encode()));
        assert!(!dbg.contains(&id.store_key().to_hex()));
    }
}
