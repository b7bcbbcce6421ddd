//! [`KoaIds`]: koa-session's external-store cookie (`koa.sess` = the external key, a
//! UUID, signed in `koa.sess.sig`) as a satchel [`IdFormat`].

use rand::RngCore;
use satchel::{IdFormat, SessionId, StoreKey};

use crate::cookies::SIGNATURE_SUFFIX;
use crate::keygrip::Keygrip;
use crate::signed_ids::SignedCompanion;

/// Length of `crypto.randomUUID()`'s text: 8-4-4-4-12 hex digits.
pub const UUID_LEN: usize = 36;

/// koa-session's external-store id format: the cookie value is the external key, a
/// `crypto.randomUUID()` (version 4, 36 lower-case characters), and `<name>.sig` holds
/// its [`keygrip`](crate::keygrip) signature over `<name>=<uuid>` with Koa's `app.keys`.
///
/// - **generate**: a random version-4 UUID (122 bits from the OS-seeded CSPRNG), held in
///   the [`SessionId`] as its 16 bytes followed by 16 zero bytes.
/// - **decode**: only with the companion `.sig` cookie ([`IdFormat::decode_with_companion`]):
///   the signature must verify with one of the keys and the value must be a canonical
///   UUID (any version, lower-case hex, 8-4-4-4-12). Anything else is `None`, a new
///   session, as in Koa. A value signed with an **older key** is accepted; unlike Koa,
///   which re-signs on that very response, the `.sig` cookie is re-issued with the first
///   key only on the session's next write.
/// - **encode**: the canonical UUID text; the companion is its signature with the first
///   key.
/// - **store key**: the id's 32 raw bytes; `KoaRedisStore` (feature `redis`) turns it
///   back into the UUID, which koa-redis uses verbatim as the Redis key. As with
///   connect-redis, anyone who can read Redis keys can replay them as cookies (with the
///   keys to sign them).
///
/// Not supported: a custom `genid` or koa-session's `prefix` option (keys that are not a
/// bare UUID never decode: such users start a new session on the Rust side), and the
/// `externalKey` option (the key must travel in the cookie).
#[derive(Clone, Debug)]
pub struct KoaIds {
    sig: SignedCompanion,
}

impl KoaIds {
    /// A format signing with Koa's `app.keys` (the first signs, every key verifies).
    pub fn new(keys: Keygrip) -> Self {
        KoaIds {
            sig: SignedCompanion::new(keys),
        }
    }

    /// The external key (the UUID text) `id` stands for, when it is one this format holds.
    pub fn external_key(id: &SessionId) -> Option<String> {
        let bytes = id.as_bytes();
        let (uuid, rest) = bytes.split_at(16);
        rest.iter().all(|&b| b == 0).then(|| format_uuid(uuid))
    }
}

/// The canonical text of 16 UUID bytes.
pub(crate) fn format_uuid(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(UUID_LEN);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The 16 bytes of a canonical lower-case UUID text, or `None`.
pub fn parse_uuid(text: &[u8]) -> Option<[u8; 16]> {
    if text.len() != UUID_LEN {
        return None;
    }
    let mut out = [0u8; 16];
    let mut digits = Vec::with_capacity(32);
    for (i, &c) in text.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        digits.push(match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        });
    }
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (pair[0] << 4) | pair[1];
    }
    Some(out)
}

impl IdFormat for KoaIds {
    fn generate(&self) -> SessionId {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes[..16]);
        bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
        bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
        SessionId::from_raw(bytes)
    }

    /// Always `None`: the external key counts only with its signature.
    fn decode(&self, _cookie_value: &[u8]) -> Option<SessionId> {
        None
    }

    fn encode(&self, id: &SessionId) -> String {
        format_uuid(&id.as_bytes()[..16])
    }

    fn store_key(&self, id: &SessionId) -> StoreKey {
        StoreKey::from_bytes(*id.as_bytes())
    }

    fn companion_suffix(&self) -> Option<&str> {
        Some(SIGNATURE_SUFFIX)
    }

    fn decode_with_companion(
        &self,
        cookie_name: &str,
        cookie_value: &[u8],
        companion: Option<&[u8]>,
    ) -> Option<SessionId> {
        self.sig
            .decode(cookie_name, cookie_value, companion, |value| {
                let mut bytes = [0u8; 32];
                bytes[..16].copy_from_slice(&parse_uuid(value)?);
                Some(SessionId::from_raw(bytes))
            })
    }

    fn companion(&self, cookie_name: &str, encoded: &str) -> Option<String> {
        self.sig.sign(cookie_name, encoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(keys: &[&str]) -> KoaIds {
        KoaIds::new(Keygrip::new(keys.iter().copied()).expect("keys"))
    }

    fn decode(f: &KoaIds, value: &str, sig: Option<&str>) -> Option<SessionId> {
        f.decode_with_companion("koa.sess", value.as_bytes(), sig.map(str::as_bytes))
    }

    #[test]
    fn generated_ids_are_v4_uuids_that_round_trip() {
        let f = ids(&["key1", "key2"]);
        let id = f.generate();
        let uuid = f.encode(&id);
        let b = uuid.as_bytes();
        assert_eq!((b.len(), b[14], b[8], b[13]), (36, b'4', b'-', b'-'));
        assert!(matches!(b[19], b'8' | b'9' | b'a' | b'b'), "{uuid}");
        assert_eq!(KoaIds::external_key(&id).as_deref(), Some(uuid.as_str()));
        assert_eq!(f.store_key(&id).as_bytes(), id.as_bytes());
        assert_eq!(f.decode(uuid.as_bytes()), None, "never without a signature");
        let sig = f.companion("koa.sess", &uuid).expect("sig");
        assert_eq!(decode(&f, &uuid, Some(&sig)), Some(id.clone()));
        assert_ne!(f.generate(), id);
    }

    #[test]
    fn tampered_wrong_key_and_old_key() {
        let f = ids(&["key1", "key2"]);
        let uuid = "3b241101-e2bb-4255-8caf-4136c566a962";
        let sig = f.companion("koa.sess", uuid).expect("sig");
        let tampered = "3b241101-e2bb-4255-8caf-4136c566a963";
        assert_eq!(decode(&f, tampered, Some(&sig)), None);
        assert_eq!(decode(&f, uuid, None), None);
        assert_eq!(decode(&f, uuid, Some("")), None);
        // Signed for another cookie name.
        assert_eq!(
            f.decode_with_companion("other", uuid.as_bytes(), Some(sig.as_bytes())),
            None
        );
        let stranger = ids(&["key3"]);
        let foreign = stranger.companion("koa.sess", uuid).expect("sig");
        assert_eq!(decode(&f, uuid, Some(&foreign)), None);
        // Signed with the older key2: accepted.
        let old = ids(&["key2"]).companion("koa.sess", uuid).expect("sig");
        assert!(decode(&f, uuid, Some(&old)).is_some());
    }

    #[test]
    fn only_canonical_uuids_decode() {
        let f = ids(&["k"]);
        for bad in [
            "3B241101-E2BB-4255-8CAF-4136C566A962",
            "3b241101e2bb42558caf4136c566a962",
            "{3b241101-e2bb-4255-8caf-4136c566a962}",
            "3b241101-e2bb-4255-8caf-4136c566a96",
            "3b241101-e2bb-4255-8caf+4136c566a962",
            "3b24110g-e2bb-4255-8caf-4136c566a962",
            "prefix:3b241101-e2bb-4255-8caf-4136c566a962",
            "",
            "é",
        ] {
            let sig = f.companion("koa.sess", bad).expect("sig");
            assert_eq!(decode(&f, bad, Some(&sig)), None, "{bad}");
        }
        // Any version is accepted (a v7 from another generator).
        let v7 = "01890a5d-ac96-774b-bcce-b302099a8057";
        let sig = f.companion("koa.sess", v7).expect("sig");
        assert!(decode(&f, v7, Some(&sig)).is_some());
        // Non-UTF-8 never panics.
        assert_eq!(
            f.decode_with_companion("koa.sess", &[0xff; 36], Some(b"x")),
            None
        );
    }
}
