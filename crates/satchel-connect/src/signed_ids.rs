//! The `<name>.sig` companion cookie both Koa id formats ([`KoaIds`], [`KoaGenericIds`])
//! carry: the `cookies` package's keygrip signature over `<name>=<value>` with Koa's
//! `app.keys`. Only the value itself (a UUID, a uid-safe sid) differs between them.
//!
//! [`KoaIds`]: crate::koa::KoaIds
//! [`KoaGenericIds`]: crate::koa_generic::KoaGenericIds

use satchel::SessionId;

use crate::cookies::{check_signature, signature, SignatureCheck};
use crate::keygrip::Keygrip;

/// The keys that sign and verify the companion.
#[derive(Clone)]
pub(crate) struct SignedCompanion {
    keys: Keygrip,
}

impl SignedCompanion {
    pub(crate) fn new(keys: Keygrip) -> Self {
        SignedCompanion { keys }
    }

    /// The id `parse` reads from `cookie_value`, when `companion` is its signature (with
    /// any of the keys, for this `cookie_name`). A missing, empty or non-UTF-8 companion
    /// is `None`: Koa starts a new session.
    pub(crate) fn decode(
        &self,
        cookie_name: &str,
        cookie_value: &[u8],
        companion: Option<&[u8]>,
        parse: impl FnOnce(&[u8]) -> Option<SessionId>,
    ) -> Option<SessionId> {
        let id = parse(cookie_value)?;
        let value = std::str::from_utf8(cookie_value).ok()?;
        let sig = std::str::from_utf8(companion?).ok()?;
        match check_signature(&self.keys, cookie_name, value, Some(sig)) {
            SignatureCheck::Valid { .. } => Some(id),
            SignatureCheck::Missing | SignatureCheck::Invalid => None,
        }
    }

    /// The companion's value for `encoded`: its signature with the first key.
    pub(crate) fn sign(&self, cookie_name: &str, encoded: &str) -> Option<String> {
        Some(signature(&self.keys, cookie_name, encoded))
    }
}

impl std::fmt::Debug for SignedCompanion {
    // Keys: how many, never what.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedCompanion")
            .field("keys", &self.keys.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_counts_keys_and_shows_none() {
        let sig = SignedCompanion::new(Keygrip::new(["secret-one", "secret-two"]).expect("keys"));
        let text = format!("{sig:?}");
        assert!(
            text.contains("keys: 2") && !text.contains("secret"),
            "{text}"
        );
    }
}
