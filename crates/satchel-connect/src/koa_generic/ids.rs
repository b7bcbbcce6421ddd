//! [`KoaGenericIds`]: koa-generic-session's cookie (`koa.sid` = the session id, signed in
//! `koa.sid.sig`) as a satchel [`IdFormat`].

use satchel::{IdFormat, SessionId, StoreKey};

use crate::cookies::SIGNATURE_SUFFIX;
use crate::express_ids::{is_express_id, uid_safe_id};
use crate::keygrip::Keygrip;
use crate::signed_ids::SignedCompanion;
use crate::ExpressIds;

/// koa-generic-session's id format: the cookie value is the session id, `uid-safe(24)`
/// (32 characters `[A-Za-z0-9_-]`, the same ids as express-session's), and `<name>.sig`
/// holds its [`keygrip`](crate::keygrip) signature over `<name>=<sid>` with Koa's
/// `app.keys`.
///
/// - **generate**: 24 bytes from the OS-seeded CSPRNG as 32 base64url characters (what
///   `uid-safe` makes), held in the [`SessionId`] as those 32 ASCII bytes.
/// - **decode**: only with the companion `.sig` cookie
///   ([`IdFormat::decode_with_companion`]): the signature must verify with one of the
///   keys and the value must be 32 base64url characters. Anything else is `None`, a new
///   session, as in Koa. A value signed with an **older key** is accepted; unlike Koa,
///   which re-signs on that very response, the `.sig` cookie is re-issued with the first
///   key only on the session's next write.
/// - **encode**: the sid; the companion is its signature with the first key.
/// - **store key**: the sid's 32 bytes; `KoaGenericRedisStore` (feature `redis`) keys
///   the record `koa:sess:<sid>` as koa-generic-session does. As with connect-redis,
///   anyone who can read Redis keys can replay them as cookies (with the keys to sign
///   them).
///
/// Not supported: a custom `genSid` (ids that are not 32 base64url characters never
/// decode: such users start a new session on the Rust side), a custom `sessionIdStore`,
/// and unsigned cookies (`cookie.signed: false`).
#[derive(Clone, Debug)]
pub struct KoaGenericIds {
    sig: SignedCompanion,
}

impl KoaGenericIds {
    /// A format signing with Koa's `app.keys` (the first signs, every key verifies).
    pub fn new(keys: Keygrip) -> Self {
        KoaGenericIds {
            sig: SignedCompanion::new(keys),
        }
    }

    /// The koa-generic-session sid (`ctx.sessionId`) `id` stands for, when it is one.
    pub fn sid(id: &SessionId) -> Option<&str> {
        ExpressIds::sid(id)
    }
}

impl IdFormat for KoaGenericIds {
    fn generate(&self) -> SessionId {
        uid_safe_id()
    }

    /// Always `None`: the sid counts only with its signature.
    fn decode(&self, _cookie_value: &[u8]) -> Option<SessionId> {
        None
    }

    fn encode(&self, id: &SessionId) -> String {
        String::from_utf8_lossy(id.as_bytes()).into_owned()
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
                let bytes: [u8; 32] = value.try_into().ok()?;
                is_express_id(&bytes).then(|| SessionId::from_raw(bytes))
            })
    }

    fn companion(&self, cookie_name: &str, encoded: &str) -> Option<String> {
        self.sig.sign(cookie_name, encoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(keys: &[&str]) -> KoaGenericIds {
        KoaGenericIds::new(Keygrip::new(keys.iter().copied()).expect("keys"))
    }

    fn decode(f: &KoaGenericIds, value: &str, sig: Option<&str>) -> Option<SessionId> {
        f.decode_with_companion("koa.sid", value.as_bytes(), sig.map(str::as_bytes))
    }

    #[test]
    fn the_captured_signatures_and_rotation() {
        let f = ids(&["key1", "key2"]);
        let sid = "R7imzwX_SWcfKAh1BM1kVvwI_rPOGeS8";
        // vectors.json koa-generic-session/default/step1-create and step4.
        assert_eq!(
            f.companion("koa.sid", sid).as_deref(),
            Some("QHq5vNStLThPPsNijqeAh6kfTOM")
        );
        let id = decode(&f, sid, Some("QHq5vNStLThPPsNijqeAh6kfTOM")).expect("valid");
        assert_eq!(KoaGenericIds::sid(&id), Some(sid));
        assert_eq!(f.encode(&id), sid);
        assert!(
            decode(&f, sid, Some("3TOY404FYhN3QGhrp-G7JHpqOYg")).is_some(),
            "key2"
        );
        assert_eq!(decode(&f, sid, Some("-iTgglkT9SmVJEwuZIDKFQvAfi0")), None);
        assert_eq!(decode(&f, sid, None), None);
        assert_eq!(f.decode(sid.as_bytes()), None, "never without a signature");
        assert_eq!(
            f.decode_with_companion(
                "app.sid",
                sid.as_bytes(),
                Some(b"QHq5vNStLThPPsNijqeAh6kfTOM")
            ),
            None,
            "signed for another name"
        );
    }

    #[test]
    fn generated_ids_round_trip_and_odd_values_never_decode() {
        let f = ids(&["k"]);
        let id = f.generate();
        let sid = f.encode(&id);
        assert_eq!(sid.len(), 32);
        let sig = f.companion("koa.sid", &sid).expect("sig");
        assert_eq!(decode(&f, &sid, Some(&sig)), Some(id.clone()));
        assert_ne!(f.generate(), id);
        for bad in [
            "short",
            "R7imzwX_SWcfKAh1BM1kVvwI_rPOGeS8x",
            "R7imzwX_SWcfKAh1BM1kVvwI_rPOGe+8",
        ] {
            let sig = f.companion("koa.sid", bad).expect("sig");
            assert_eq!(decode(&f, bad, Some(&sig)), None, "{bad}");
        }
        assert_eq!(
            f.decode_with_companion("koa.sid", &[0xff; 32], Some(b"x")),
            None
        );
    }
}
