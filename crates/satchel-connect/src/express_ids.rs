//! [`ExpressIds`]: express-session's `connect.sid` cookie as a satchel [`IdFormat`], so a
//! satchel engine reads and writes the very cookies an Express app does.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use satchel::{IdFormat, SessionId, StoreKey};

use crate::express::{cookie_value, decode_cookie_value, unsign_cookie_value};
use crate::uri::encode_uri_component;

/// Length of an id made by express-session's default `genid` (`uid-safe`, 24 random
/// bytes as unpadded base64url).
pub const EXPRESS_ID_LEN: usize = 32;

/// The random bytes behind one express-session id.
const ID_RANDOM_BYTES: usize = 24;

/// The longest cookie value worth checking: `s%3A` (4) + 32-character id + `.` + a
/// 43-character signature whose standard-base64 `+` and `/` each percent-encode to three
/// bytes (at most 129), plus two quotes: 168 bytes. (An earlier limit of 96 refused about
/// one real signature in 100,000: those with nine or more `+`/`/`.) Longer values cannot
/// carry an id we adopt, so they are refused before any HMAC is computed.
const MAX_VALUE_LEN: usize = 4 + 32 + 1 + 43 * 3 + 2;

/// `ExpressIds::new` was given no usable secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("express-session needs at least one non-empty secret")]
pub struct NoSecrets;

/// express-session's id format: `s:` + id + `.` + base64(HMAC-SHA256(secret, id)),
/// percent-encoded (`s%3A…`), with ids as express-session's default generator makes them
/// (32 characters of base64url).
///
/// - **generate**: 24 bytes from the OS-seeded CSPRNG as 32 base64url characters, what
///   `uid-safe` (express-session's default `genid`) produces. The [`SessionId`] holds
///   those 32 ASCII characters as its bytes.
/// - **decode**: the cookie value as express-session reads it (quotes removed,
///   `decodeURIComponent` only when it holds `%`), the `s:` prefix, a signature from any
///   of the secrets (in order, compared in constant time), then an id of exactly 32
///   base64url characters. Anything else is `None`: a new session, as Express starts one.
///   **Ids from a custom `genid`** (other lengths or characters) are not adopted even when
///   their signature is valid; such users simply start a new session on the Rust side.
/// - **encode**: signed with the first secret and percent-encoded, byte for byte what
///   express-session sends.
/// - **store key**: the 32 id characters themselves, as connect-redis keys records
///   (`sess:<id>`). This is a deliberate, Node-compatible weakening of satchel's default
///   (stores only ever see the SHA-256 of an id): in this mode anyone who can read Redis
///   keys can replay them as cookies, exactly as with connect-redis. See
///   `docs/coming-from-express.md`.
///
/// Secrets rotate as in express-session: put the new secret first; cookies signed with
/// any listed secret keep working, and every cookie the Rust side sends is signed with
/// the first.
#[derive(Clone)]
pub struct ExpressIds {
    secrets: Vec<String>,
}

impl ExpressIds {
    /// A format signing with `secrets[0]` and verifying with every secret, as
    /// express-session's `secret` option (a string or a non-empty array).
    ///
    /// # Errors
    /// [`NoSecrets`] when the list is empty or holds an empty string (express-session
    /// refuses both).
    pub fn new(secrets: Vec<String>) -> Result<Self, NoSecrets> {
        if secrets.is_empty() || secrets.iter().any(String::is_empty) {
            return Err(NoSecrets);
        }
        Ok(ExpressIds { secrets })
    }

    /// How many secrets verify cookies.
    pub fn secret_count(&self) -> usize {
        self.secrets.len()
    }

    /// The express-session id (`req.sessionID`) that `id` stands for, when it is one: the
    /// 32 characters this format holds as the id's bytes.
    pub fn sid(id: &SessionId) -> Option<&str> {
        let bytes = id.as_bytes();
        is_express_id(bytes)
            .then(|| std::str::from_utf8(bytes).ok())
            .flatten()
    }
}

impl std::fmt::Debug for ExpressIds {
    // Secrets: how many, never what.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExpressIds")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

/// Whether `bytes` is an id express-session's default generator could have made: exactly
/// 32 characters of the base64url alphabet.
pub fn is_express_id(bytes: &[u8]) -> bool {
    bytes.len() == EXPRESS_ID_LEN && bytes.iter().copied().all(is_base64url)
}

/// `A–Z a–z 0–9 - _`.
pub(crate) fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A fresh id as `uid-safe(24)` makes them (express-session's and koa-generic-session's
/// default generator): 24 bytes from the OS-seeded CSPRNG as 32 base64url characters, held
/// as the id's bytes.
pub(crate) fn uid_safe_id() -> SessionId {
    let mut random = [0u8; ID_RANDOM_BYTES];
    rand::rng().fill_bytes(&mut random);
    let mut id = [0u8; EXPRESS_ID_LEN];
    // 24 bytes are exactly 32 base64 characters, so this never fails; the fallback
    // (an id that decodes nowhere) only keeps the function total.
    if URL_SAFE_NO_PAD.encode_slice(random, &mut id).is_err() {
        id = [b'A'; EXPRESS_ID_LEN];
    }
    SessionId::from_raw(id)
}

impl IdFormat for ExpressIds {
    fn generate(&self) -> SessionId {
        uid_safe_id()
    }

    fn decode(&self, cookie_value: &[u8]) -> Option<SessionId> {
        if cookie_value.len() > MAX_VALUE_LEN {
            return None;
        }
        let raw = std::str::from_utf8(cookie_value).ok()?;
        let value = decode_cookie_value(raw);
        let sid = unsign_cookie_value(&value, &self.secrets)?;
        let bytes: [u8; EXPRESS_ID_LEN] = sid.as_bytes().try_into().ok()?;
        is_express_id(&bytes).then(|| SessionId::from_raw(bytes))
    }

    fn encode(&self, id: &SessionId) -> String {
        // Every id this format hands out is 32 ASCII characters; anything else is written
        // as its lossy text (still a valid, signed cookie value, which `decode` refuses).
        let sid = String::from_utf8_lossy(id.as_bytes());
        let secret = self.secrets.first().map_or("", String::as_str);
        encode_uri_component(&cookie_value(&sid, secret))
    }

    fn store_key(&self, id: &SessionId) -> StoreKey {
        StoreKey::from_bytes(*id.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_look_like_uid_safe() {
        let ids = ExpressIds::new(vec!["k".into()]).expect("secret");
        let a = ids.generate();
        let b = ids.generate();
        assert_ne!(a, b);
        let sid = ExpressIds::sid(&a).expect("express id");
        assert_eq!(sid.len(), 32);
        assert_eq!(ids.store_key(&a).as_bytes(), a.as_bytes());
        let cookie = ids.encode(&a);
        assert!(cookie.starts_with("s%3A") && cookie.contains(sid));
        assert_eq!(ids.decode(cookie.as_bytes()), Some(a));
    }

    #[test]
    fn secrets_are_required_and_hidden() {
        assert_eq!(ExpressIds::new(vec![]).err(), Some(NoSecrets));
        assert_eq!(ExpressIds::new(vec![String::new()]).err(), Some(NoSecrets));
        let ids = ExpressIds::new(vec!["hunter2".into()]).expect("secret");
        assert!(!format!("{ids:?}").contains("hunter2"));
    }
}
