//! Signed cookies: the `<name>.sig` companion cookie, `keygrip.sign(name + "=" + value)`.

use super::get::get;
use super::set_cookie::{set_cookie, CookieError, CookieOptions};
use crate::keygrip::Keygrip;

/// What the `cookies` package appends to a cookie's name for its signature cookie.
pub const SIGNATURE_SUFFIX: &str = ".sig";

/// `name` + `.sig`.
pub fn signature_name(name: &str) -> String {
    format!("{name}{SIGNATURE_SUFFIX}")
}

/// The signature cookie's value for `name=value`: the first key's signature of the exact
/// string `name=value`, so renaming a cookie breaks its signature.
pub fn signature(keys: &Keygrip, name: &str, value: &str) -> String {
    keys.sign(&format!("{name}={value}"))
}

/// How a signed cookie's signature checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Signed by key `key_index`. Above 0, the package re-issues the `.sig` cookie with the
    /// first key ([`reissue_signature`]) on this response.
    Valid {
        /// The position of the matching key.
        key_index: usize,
    },
    /// No (or an empty) `.sig` cookie: the value is ignored silently.
    Missing,
    /// No key matches: the value is ignored and the `.sig` cookie cleared
    /// ([`clear_signature`]).
    Invalid,
}

/// Checks `sig` (the `.sig` cookie's value, if any) against `name=value`.
pub fn check_signature(
    keys: &Keygrip,
    name: &str,
    value: &str,
    sig: Option<&str>,
) -> SignatureCheck {
    match sig.filter(|s| !s.is_empty()) {
        None => SignatureCheck::Missing,
        Some(sig) => match keys.index(&format!("{name}={value}"), sig) {
            Some(key_index) => SignatureCheck::Valid { key_index },
            None => SignatureCheck::Invalid,
        },
    }
}

/// `cookies.get(name, { signed: true })` on `header`: the raw value and how its signature
/// checked out, or `None` when there is no `name` cookie at all.
pub fn read_signed<'a>(
    header: &'a str,
    name: &str,
    keys: &Keygrip,
) -> Option<(&'a str, SignatureCheck)> {
    let value = get(header, name)?;
    let sig = get(header, &signature_name(name));
    Some((value, check_signature(keys, name, value, sig)))
}

/// Both headers of `cookies.set(name, value, { ...opts, signed: true })`: the value cookie,
/// then `<name>.sig` with the same attributes. An empty value deletes both (the signature,
/// of `name=`, is still sent, with the epoch expiry).
///
/// # Errors
/// Where the package throws (see [`CookieError`]).
pub fn set_signed_pair(
    keys: &Keygrip,
    name: &str,
    value: &str,
    opts: &CookieOptions,
    now_ms: i64,
) -> Result<[String; 2], CookieError> {
    let value_header = set_cookie(name, value, opts, now_ms)?;
    // The package signs by renaming the same cookie object, so a deletion's epoch expiry
    // carries over to the signature (which itself is not empty).
    let sig_opts = if value.is_empty() {
        CookieOptions {
            max_age_ms: None,
            expires_ms: Some(0),
            ..opts.clone()
        }
    } else {
        opts.clone()
    };
    let sig = signature(keys, name, value);
    let sig_header = set_cookie(&signature_name(name), &sig, &sig_opts, now_ms)?;
    Ok([value_header, sig_header])
}

/// The header that clears `<name>.sig` after a bad signature: default attributes only
/// (`path=/`, `httponly`, plus `secure` on HTTPS requests) and the epoch expiry.
///
/// # Errors
/// For a name the package refuses.
pub fn clear_signature(name: &str, https: bool) -> Result<String, CookieError> {
    set_cookie(&signature_name(name), "", &default_options(https), 0)
}

/// The header that re-signs `name=value` with the first key after an older key matched.
/// Like Node, it carries default attributes only, never the session's `expires` or
/// `samesite`: the signature becomes a browser-session cookie.
///
/// # Errors
/// For a name the package refuses.
pub fn reissue_signature(
    keys: &Keygrip,
    name: &str,
    value: &str,
    https: bool,
) -> Result<String, CookieError> {
    let sig = signature(keys, name, value);
    set_cookie(&signature_name(name), &sig, &default_options(https), 0)
}

/// What `cookies.get` passes when it re-signs or clears: the defaults, `secure` on HTTPS.
fn default_options(secure: bool) -> CookieOptions {
    CookieOptions {
        secure,
        ..CookieOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_rotate_and_clear() {
        let keys = Keygrip::new(["key1", "key2"]).expect("keys");
        let old = Keygrip::new(["key2"]).expect("keys");
        let header = format!(
            "session=abc; session.sig={}",
            signature(&old, "session", "abc")
        );
        assert_eq!(
            read_signed(&header, "session", &keys),
            Some(("abc", SignatureCheck::Valid { key_index: 1 }))
        );
        assert_eq!(
            read_signed("session=abc", "session", &keys),
            Some(("abc", SignatureCheck::Missing))
        );
        assert_eq!(
            read_signed("session=abc; session.sig=", "session", &keys),
            Some(("abc", SignatureCheck::Missing))
        );
        assert_eq!(
            read_signed("session=abd; session.sig=xyz", "session", &keys),
            Some(("abd", SignatureCheck::Invalid))
        );
        assert_eq!(read_signed("other=1", "session", &keys), None);
        let epoch = "; HttpOnly; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT";
        assert_eq!(
            clear_signature("session", false),
            Ok(format!("session.sig={epoch}"))
        );
        assert!(reissue_signature(&keys, "session", "abc", true)
            .is_ok_and(|h| h.ends_with("; HttpOnly; Secure; Path=/")));
        assert_eq!(clear_signature("a=b", false), Err(CookieError::Name));
        let [value, sig] =
            set_signed_pair(&keys, "session", "", &CookieOptions::default(), 0).expect("headers");
        assert_eq!(value, format!("session={epoch}"));
        assert_eq!(
            sig,
            format!("session.sig=k_Qx6rvjGyv5_AfzAcBl-b8UDHw{epoch}")
        );
    }
}
