//! [`IdFormat`]: how session ids look in the cookie and which store key they map to.
//!
//! satchel's own format (the default, used when an engine has no `IdFormat`) is 43
//! characters of base64url for 32 random bytes, and stores are keyed by the SHA-256 of
//! those bytes. An interop layer that must share sessions with another framework (e.g.
//! express-session's signed `s:<sid>.<signature>` cookies over connect-redis records keyed
//! by the raw id) plugs its own format in with [`crate::Engine::with_id_format`]; the
//! engine, the stores and every guarantee stay the same.
//!
//! # Contract
//! - [`IdFormat::generate`] draws from a CSPRNG (at least 128 bits of entropy).
//! - [`IdFormat::decode`] accepts only values [`IdFormat::encode`] could have produced
//!   (and, for signed formats, only with a valid signature), never panics, and is the only
//!   way a client's value becomes an id.
//! - [`IdFormat::store_key`] is a pure function of the id.

use crate::id::{SessionId, StoreKey};

/// A session id format, plugged into an engine with [`crate::Engine::with_id_format`].
///
/// Contract: [`IdFormat::generate`] draws at least 128 bits from a CSPRNG;
/// [`IdFormat::decode`] accepts only values [`IdFormat::encode`] could have produced (for
/// signed formats: only with a valid signature), never panics, and is the only way a
/// client's value becomes an id; [`IdFormat::store_key`] is a pure function of the id.
pub trait IdFormat: Send + Sync + 'static {
    /// A fresh id for a new or rotated session.
    fn generate(&self) -> SessionId;

    /// The id carried by a cookie value (its bytes exactly as the browser sent them), or
    /// `None` for anything malformed, unsigned or badly signed.
    fn decode(&self, cookie_value: &[u8]) -> Option<SessionId>;

    /// The cookie value that carries `id`. Must be a valid cookie value (no spaces,
    /// quotes, commas, semicolons or backslashes).
    fn encode(&self, id: &SessionId) -> String;

    /// The key stores keep the session under.
    fn store_key(&self, id: &SessionId) -> StoreKey;

    /// For formats that sign the id in a separate cookie (koa-session's `<name>.sig`):
    /// that cookie's name suffix. `None` (the default) for self-contained values.
    fn companion_suffix(&self) -> Option<&str> {
        None
    }

    /// Decodes a cookie value given the companion cookie's value (if the browser sent
    /// one) and the cookie's name. The default ignores both and calls
    /// [`IdFormat::decode`].
    fn decode_with_companion(
        &self,
        cookie_name: &str,
        cookie_value: &[u8],
        companion: Option<&[u8]>,
    ) -> Option<SessionId> {
        let _ = (cookie_name, companion);
        self.decode(cookie_value)
    }

    /// The companion cookie's value for the encoded value `encoded` of cookie
    /// `cookie_name` (only called when [`IdFormat::companion_suffix`] is `Some`).
    fn companion(&self, cookie_name: &str, encoded: &str) -> Option<String> {
        let _ = (cookie_name, encoded);
        None
    }
}

/// Builds the id the engine hands around for `bytes` under `format`, with the store key
/// computed once, so every later `store_key()` call returns the format's key.
pub(crate) fn with_format_key(format: &dyn IdFormat, id: SessionId) -> SessionId {
    let key = format.store_key(&id);
    id.with_store_key(key)
}
