//! Keys: HKDF-derived AES-256-GCM-SIV keys under one-byte ids, one active.

use aes_gcm_siv::{AesGcmSiv, KeyInit};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

/// The shortest master secret accepted: 256 bits.
pub const MIN_SECRET_LEN: usize = 32;

/// Domain separation for the key derivation: a key derived here is never the key of any
/// other protocol that happens to share the master secret.
const HKDF_SALT: &[u8] = b"satchel-cookie";
const HKDF_INFO: &[u8] = b"satchel-cookie v1 aes-256-gcm-siv key";

/// Why a keyring could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The master secret is shorter than [`MIN_SECRET_LEN`] bytes.
    SecretTooShort {
        /// The key id it was given for.
        key_id: u8,
        /// Its length.
        len: usize,
    },
    /// Two keys share an id: cookies could not say which one sealed them.
    DuplicateKeyId(u8),
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::SecretTooShort { key_id, len } => write!(
                f,
                "master secret for key {key_id} is {len} bytes; at least {MIN_SECRET_LEN} are required"
            ),
            KeyError::DuplicateKeyId(id) => write!(f, "key id {id} is used twice"),
        }
    }
}

impl std::error::Error for KeyError {}

/// AES-256-GCM-SIV over the encryption-only AES-256 block cipher. The same cipher and the
/// same output as `aes_gcm_siv::Aes256GcmSiv` (RFC 8452 only ever runs AES forwards: key
/// derivation, tag and CTR keystream), minus the unused decryption key schedule that
/// `aes::Aes256` would also expand for the per-nonce key of every seal and open.
pub(crate) type Cipher = AesGcmSiv<aes::Aes256Enc>;

/// One derived key.
pub(crate) struct Key {
    pub(crate) id: u8,
    pub(crate) cipher: Cipher,
}

/// The keys a deployment seals and opens cookies with: one active key and any number of
/// fallback keys kept only to open cookies sealed before a rotation.
///
/// Rotate by deploying the new secret as active with the old one as fallback; once every
/// cookie has been re-sealed or has expired (the absolute timeout), drop the fallback.
pub struct Keyring {
    pub(crate) active: Key,
    pub(crate) fallbacks: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    // Key material never appears in Debug output; the ids are enough to diagnose rotation.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active.id)
            .field(
                "fallbacks",
                &self.fallbacks.iter().map(|k| k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Keyring {
    /// A keyring whose active key, id `key_id`, is derived from `master_secret`.
    ///
    /// # Errors
    /// [`KeyError::SecretTooShort`] if `master_secret` has fewer than 32 bytes.
    pub fn new(key_id: u8, master_secret: &[u8]) -> Result<Self, KeyError> {
        Ok(Keyring {
            active: derive(key_id, master_secret)?,
            fallbacks: Vec::new(),
        })
    }

    /// Adds a fallback key: cookies sealed with it still open (and are re-sealed with the
    /// active key), new cookies are never sealed with it.
    ///
    /// # Errors
    /// [`KeyError::SecretTooShort`], or [`KeyError::DuplicateKeyId`] if `key_id` is taken.
    pub fn with_fallback(mut self, key_id: u8, master_secret: &[u8]) -> Result<Self, KeyError> {
        if self.key(key_id).is_some() {
            return Err(KeyError::DuplicateKeyId(key_id));
        }
        self.fallbacks.push(derive(key_id, master_secret)?);
        Ok(self)
    }

    /// The id of the key new cookies are sealed with.
    pub fn active_id(&self) -> u8 {
        self.active.id
    }

    pub(crate) fn key(&self, id: u8) -> Option<&Key> {
        std::iter::once(&self.active)
            .chain(&self.fallbacks)
            .find(|k| k.id == id)
    }
}

fn derive(key_id: u8, master_secret: &[u8]) -> Result<Key, KeyError> {
    if master_secret.len() < MIN_SECRET_LEN {
        return Err(KeyError::SecretTooShort {
            key_id,
            len: master_secret.len(),
        });
    }
    let mut okm = Zeroizing::new([0u8; 32]);
    let mut info = HKDF_INFO.to_vec();
    info.push(key_id);
    Hkdf::<Sha256>::new(Some(HKDF_SALT), master_secret)
        .expand(&info, okm.as_mut())
        .map_err(|_| KeyError::SecretTooShort { key_id, len: 0 })?; // 32 bytes is always a valid HKDF output length
    Ok(Key {
        id: key_id,
        cipher: Cipher::new(okm.as_ref().into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_and_duplicate_ids_are_refused() {
        assert_eq!(
            Keyring::new(1, &[0; 31]).err(),
            Some(KeyError::SecretTooShort { key_id: 1, len: 31 })
        );
        let ring = Keyring::new(1, &[1; 32]).expect("32 bytes is enough");
        assert_eq!(
            ring.with_fallback(1, &[2; 32]).err(),
            Some(KeyError::DuplicateKeyId(1))
        );
    }

    #[test]
    fn key_schedules_are_wiped_on_drop() {
        // Holds only because the `zeroize` feature of `aes` is on (see Cargo.toml).
        fn wiped<T: zeroize::ZeroizeOnDrop>() {}
        wiped::<aes::Aes256Enc>();
        wiped::<aes::Aes256Dec>();
    }

    #[test]
    fn debug_shows_ids_only() {
        let ring = Keyring::new(3, &[9; 40])
            .and_then(|r| r.with_fallback(2, &[8; 40]))
            .expect("valid");
        assert_eq!(format!("{ring:?}"), "Keyring { active: 3, fallbacks: [2] }");
    }
}
