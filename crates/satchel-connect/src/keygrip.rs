//! [`Keygrip`]: the npm `keygrip` package (1.1.0), which signs the `<name>.sig` cookies of
//! cookie-session, koa-session and every other user of the `cookies` package.
//!
//! A signature is `HMAC(key, data)` in URL-safe base64 without padding (27 characters for
//! the default SHA-1). The first key signs; every key verifies, so keys can be rotated by
//! putting a new key first and keeping the old ones for a while.

use crate::{b64, mac};

/// The digest a [`Keygrip`] uses. Keygrip's default, and the only one `cookies` users get
/// unless they build their own `Keygrip` instance, is SHA-1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC-SHA1: keygrip's default (`Keygrip(keys)`).
    #[default]
    Sha1,
    /// HMAC-SHA256 (`Keygrip(keys, "sha256")`).
    Sha256,
    /// HMAC-SHA512 (`Keygrip(keys, "sha512")`).
    Sha512,
}

/// An empty key list: keygrip throws `Keys must be provided.`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("keygrip needs at least one key")]
pub struct NoKeys;

/// A rotating list of signing keys (`new Keygrip(keys, algorithm)`).
#[derive(Clone)]
pub struct Keygrip {
    keys: Vec<Vec<u8>>,
    algorithm: Algorithm,
}

impl Keygrip {
    /// Keys in order of preference (the first signs), with HMAC-SHA1. Keys are the UTF-8
    /// bytes of the JavaScript strings.
    ///
    /// # Errors
    /// [`NoKeys`] when `keys` is empty.
    pub fn new<K: AsRef<[u8]>>(keys: impl IntoIterator<Item = K>) -> Result<Self, NoKeys> {
        Self::with_algorithm(keys, Algorithm::Sha1)
    }

    /// Like [`Keygrip::new`] with another digest.
    ///
    /// # Errors
    /// [`NoKeys`] when `keys` is empty.
    pub fn with_algorithm<K: AsRef<[u8]>>(
        keys: impl IntoIterator<Item = K>,
        algorithm: Algorithm,
    ) -> Result<Self, NoKeys> {
        let keys: Vec<Vec<u8>> = keys.into_iter().map(|k| k.as_ref().to_vec()).collect();
        if keys.is_empty() {
            return Err(NoKeys);
        }
        Ok(Keygrip { keys, algorithm })
    }

    /// The digest in use.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a `Keygrip` has at least one key.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// `keygrip.sign(data)`: the signature of `data` with the first key.
    pub fn sign(&self, data: &str) -> String {
        let first = self.keys.first().map_or(&[][..], Vec::as_slice);
        b64::url_safe_no_pad(&self.mac(first, data.as_bytes()))
    }

    /// `keygrip.verify(data, digest)`: whether any key signed `data` as `digest`.
    pub fn verify(&self, data: &str, digest: &str) -> bool {
        self.index(data, digest).is_some()
    }

    /// `keygrip.index(data, digest)`: the position of the first key whose signature of
    /// `data` is `digest` (`None` where keygrip returns -1). Any index above 0 means the
    /// signature should be re-issued with the first key.
    ///
    /// keygrip compares base64 texts in constant time; we compare the decoded MACs in
    /// constant time instead, which accepts exactly the same texts because the decoding is
    /// strict (only the canonical unpadded URL-safe spelling decodes).
    pub fn index(&self, data: &str, digest: &str) -> Option<usize> {
        let tag = b64::decode_url_safe_no_pad(digest)?;
        self.keys
            .iter()
            .position(|key| self.check(key, data.as_bytes(), &tag))
    }

    fn mac(&self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self.algorithm {
            Algorithm::Sha1 => mac::sign::<sha1::Sha1>(key, data),
            Algorithm::Sha256 => mac::sign::<sha2::Sha256>(key, data),
            Algorithm::Sha512 => mac::sign::<sha2::Sha512>(key, data),
        }
    }

    fn check(&self, key: &[u8], data: &[u8], tag: &[u8]) -> bool {
        match self.algorithm {
            Algorithm::Sha1 => mac::verify::<sha1::Sha1>(key, data, tag),
            Algorithm::Sha256 => mac::verify::<sha2::Sha256>(key, data, tag),
            Algorithm::Sha512 => mac::verify::<sha2::Sha512>(key, data, tag),
        }
    }
}

impl std::fmt::Debug for Keygrip {
    // Keys are secrets: show how many, never what.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keygrip")
            .field("keys", &self.keys.len())
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation() {
        let old = Keygrip::new(["key2"]).expect("keys");
        let grip = Keygrip::new(["key1", "key2"]).expect("keys");
        let sig = old.sign("session=abc");
        assert_eq!(grip.index("session=abc", &sig), Some(1));
        assert_eq!(
            grip.index("session=abc", &grip.sign("session=abc")),
            Some(0)
        );
        assert_eq!(grip.index("session=abd", &sig), None);
        assert_eq!(grip.index("session=abc", ""), None);
        assert_eq!(grip.index("session=abc", "!!"), None);
        assert!(Keygrip::new(Vec::<String>::new()).is_err());
        assert_eq!(grip.sign("session=abc").len(), 27);
        assert!(!format!("{grip:?}").contains("key1"));
    }
}
