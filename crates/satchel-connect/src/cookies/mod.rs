//! The npm `cookies` package (0.9), which cookie-session and Koa use to read and write
//! cookies, including the `<name>.sig` companion cookie signed with [`Keygrip`].
//!
//! Unlike express-session's `cookie` package, it never percent-encodes or decodes values:
//! base64 payloads travel with raw `+`, `/` and `=`. `Max-Age` is never written (a `maxAge`
//! becomes `expires`). The package writes lowercase attribute names in its own order; the
//! headers here are the `cookie` crate's text with the same values (see
//! `attributes.rs` for why that is enough).
//!
//! Not decided here: the package refuses (throws) to write a `secure` cookie on a plain
//! HTTP request, so that cookie-session sends nothing and Koa answers 500; callers must not
//! ask for `secure` cookies on such requests.
//!
//! [`Keygrip`]: crate::keygrip::Keygrip

mod get;
mod set_cookie;
mod signed;

pub use get::get;
pub use set_cookie::{set_cookie, CookieError, CookieOptions};
pub use signed::{
    check_signature, clear_signature, read_signed, reissue_signature, set_signed_pair, signature,
    signature_name, SignatureCheck, SIGNATURE_SUFFIX,
};
