//! cookie-signature's `sign` / `unsign` and express-session's `s:` prefix.

use sha2::Sha256;

use super::SIGNED_PREFIX;
use crate::{b64, mac};

/// `signature.sign(sid, secret)`: `sid` + `.` + base64(HMAC-SHA256(secret, sid)) in the
/// standard alphabet with the `=` padding stripped (43 characters). Both `sid` and
/// `secret` are taken as UTF-8, as Node does with JavaScript strings.
pub fn sign(sid: &str, secret: impl AsRef<[u8]>) -> String {
    let tag = mac::sign::<Sha256>(secret.as_ref(), sid.as_bytes());
    format!("{sid}.{}", b64::standard_no_pad(&tag))
}

/// express-session's `unsigncookie`: the id inside `signed` (`sid.sig`, without the `s:`
/// prefix) if any of `secrets` signed it, tried in order. The id is everything before the
/// **last** `.`, so ids may contain dots. `None` for no `.`, an empty or padded signature,
/// the URL-safe alphabet, or no matching secret.
///
/// The comparison is constant-time (`hmac`'s `verify_slice` on the strictly decoded
/// signature), which accepts exactly the texts Node's string comparison accepts.
pub fn unsign<'a, S: AsRef<[u8]>>(signed: &'a str, secrets: &[S]) -> Option<&'a str> {
    let (sid, sig) = signed.rsplit_once('.')?;
    let tag = b64::decode_standard_no_pad(sig)?;
    secrets
        .iter()
        .any(|secret| mac::verify::<Sha256>(secret.as_ref(), sid.as_bytes(), &tag))
        .then_some(sid)
}

/// The cookie value before percent-encoding: `s:` + [`sign`]`(sid, secret)`.
pub fn cookie_value(sid: &str, secret: impl AsRef<[u8]>) -> String {
    format!("{SIGNED_PREFIX}{}", sign(sid, secret))
}

/// The id in a decoded cookie value (`s:sid.sig`): `None` without the `s:` prefix (Express
/// ignores such a cookie and starts a new session), or as [`unsign`].
pub fn unsign_cookie_value<'a, S: AsRef<[u8]>>(value: &'a str, secrets: &[S]) -> Option<&'a str> {
    unsign(value.strip_prefix(SIGNED_PREFIX)?, secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "fEq6LLq_w2X38Zw_ce5rrmmlv8HO8tz8";
    const SIG: &str = "O3URxphqXw8ZaSFuGyvtPZMQDL5x8usK4U0No22wDuw";

    #[test]
    fn sign_and_unsign() {
        let signed = sign(SID, "keyboard cat");
        assert_eq!(signed, format!("{SID}.{SIG}"));
        assert_eq!(unsign(&signed, &["nope", "keyboard cat"]), Some(SID));
        assert_eq!(unsign(&signed, &["nope"]), None);
        assert_eq!(unsign(&signed, &[] as &[&str]), None);
        assert_eq!(unsign(SID, &["keyboard cat"]), None);
        assert_eq!(
            unsign_cookie_value(&cookie_value(SID, "keyboard cat"), &["keyboard cat"]),
            Some(SID)
        );
        assert_eq!(unsign_cookie_value(&signed, &["keyboard cat"]), None);
        let dotted = sign("a.b.c", "k");
        assert_eq!(unsign(&dotted, &["k"]), Some("a.b.c"));
    }
}
