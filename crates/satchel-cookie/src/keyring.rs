//! Keys: HKDF-derived AES-256-GCM-SIV keys under one-byte ids, one active.

use aes_gcm_siv::{AesGcmSiv, KeyInit};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::weak_secret::{weakness, GENERATE_HINT};

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
    /// The master secret is long enough but guessable (SEC-27): a byte or short pattern
    /// repeated, a run like `abcdef…`, placeholder words such as `password`, or too few
    /// distinct bytes. Nothing a random generator produces is refused.
    WeakSecret {
        /// The key id it was given for.
        key_id: u8,
        /// What is wrong with it, e.g. "it is a short pattern repeated".
        reason: &'static str,
    },
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::SecretTooShort { key_id, len } => write!(
                f,
                "master secret for key {key_id} is {len} bytes; at least {MIN_SECRET_LEN} are required: {GENERATE_HINT}"
            ),
            KeyError::DuplicateKeyId(id) => write!(f, "key id {id} is used twice"),
            KeyError::WeakSecret { key_id, reason } => write!(
                f,
                "master secret for key {key_id} is too easy to guess ({reason}); {GENERATE_HINT}"
            ),
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
    /// [`KeyError::SecretTooShort`] if `master_secret` has fewer than 32 bytes,
    /// [`KeyError::WeakSecret`] if it is guessable (see the variant).
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
    /// [`KeyError::SecretTooShort`], [`KeyError::WeakSecret`] (a weak fallback would let
    /// anyone who guesses it forge cookies), or [`KeyError::DuplicateKeyId`] if `key_id`
    /// is taken.
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
    if let Some(reason) = weakness(master_secret) {
        return Err(KeyError::WeakSecret { key_id, reason });
    }
    derive_unchecked(key_id, master_secret)
}

/// The key for `master_secret`, whatever its strength: only for [`derive`] and for
/// opening test vectors sealed before weak secrets were refused.
pub(crate) fn derive_unchecked(key_id: u8, master_secret: &[u8]) -> Result<Key, KeyError> {
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

    /// Two different generated secrets (`openssl rand -hex 16`).
    const A: &[u8] = b"9f86d081884c7d659a2feaa0c55ad015";
    const B: &[u8] = b"60303ae22b998861bce3b28f33eec1be";

    #[test]
    fn short_secrets_and_duplicate_ids_are_refused() {
        assert_eq!(
            Keyring::new(1, &A[..31]).err(),
            Some(KeyError::SecretTooShort { key_id: 1, len: 31 })
        );
        let ring = Keyring::new(1, A).expect("32 random bytes is enough");
        assert_eq!(
            ring.with_fallback(1, B).err(),
            Some(KeyError::DuplicateKeyId(1))
        );
    }

    /// Issue 19 item 6 / SEC-27: long enough is not enough.
    #[test]
    fn weak_secrets_are_refused_with_a_way_to_make_a_good_one() {
        for weak in [&[b'a'; 32][..], b"passwordpasswordpasswordpassword"] {
            let err = Keyring::new(1, weak).expect_err("weak secret accepted");
            assert!(
                matches!(err, KeyError::WeakSecret { key_id: 1, .. }),
                "{err:?}"
            );
            let text = err.to_string();
            assert!(text.contains("openssl rand -base64 48"), "{text}");
        }
        let ring = Keyring::new(1, A).expect("strong");
        assert!(matches!(
            ring.with_fallback(2, b"changemechangemechangemechangeme"),
            Err(KeyError::WeakSecret { key_id: 2, .. })
        ));
        let short = Keyring::new(1, b"short").expect_err("short").to_string();
        assert!(short.contains("openssl rand"), "{short}");
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
        let ring = Keyring::new(3, A)
            .and_then(|r| r.with_fallback(2, B))
            .expect("valid");
        assert_eq!(format!("{ring:?}"), "Keyring { active: 3, fallbacks: [2] }");
    }
}
