//! Cookie payloads of cookie-session and koa-session: `base64(JSON.stringify(object))`,
//! standard alphabet with padding, never percent-encoded.

use satchel::sealed::OpenError;
use satchel::{Data, Value};

use crate::b64;
use crate::cookies::{check_signature, SignatureCheck};
use crate::json::{self, JsonError};
use crate::keygrip::Keygrip;
use crate::OrderedData;

/// Why a payload cookie does not give a session. In every case Node starts a new, empty
/// session instead (it never answers with an error), and for a bad signature it also
/// clears the `.sig` cookie.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Signed cookies are expected but there is no (or an empty) `.sig` cookie.
    #[error("the signature cookie is missing")]
    MissingSignature,
    /// No key signed this value.
    #[error("the signature does not match")]
    BadSignature,
    /// Characters outside both base64 alphabets.
    #[error("the payload is not base64")]
    BadBase64,
    /// The decoded bytes are not UTF-8 (Node would substitute U+FFFD and usually fail to
    /// parse; we refuse outright).
    #[error("the payload is not UTF-8")]
    BadUtf8,
    /// The decoded text is not JSON.
    #[error("the payload is not JSON: {0}")]
    BadJson(#[from] JsonError),
    /// JSON, but not an object.
    #[error("the payload is not a JSON object")]
    NotAnObject,
    /// koa-session: `_expire` has passed.
    #[error("the session has expired")]
    Expired,
    /// A key the Node library cannot hold on its session object (refused on write, since
    /// Node would lose it; readers drop such keys, as Node does).
    #[error("`{0}` cannot be a session property here")]
    ReservedKey(String),
}

impl PayloadError {
    /// How a signed payload cookie that did not decode is reported to the engine: a
    /// missing or wrong signature is tampering, anything else is malformed.
    pub(crate) fn open_error(&self) -> satchel::sealed::OpenError {
        match self {
            PayloadError::MissingSignature | PayloadError::BadSignature => {
                satchel::sealed::OpenError::Tampered
            }
            _ => satchel::sealed::OpenError::Malformed,
        }
    }
}

/// The cookie value for a payload: standard base64 of the UTF-8 JSON, padded.
pub(crate) fn encode(json: &str) -> String {
    b64::standard(json.as_bytes())
}

/// A cookie value's object members in JavaScript order (values canonical). Reads base64
/// as leniently as Node (either alphabet, padding optional).
pub(crate) fn decode(value: &str) -> Result<Vec<(String, String)>, PayloadError> {
    let bytes = b64::decode_lenient(value).ok_or(PayloadError::BadBase64)?;
    let text = String::from_utf8(bytes).map_err(|_| PayloadError::BadUtf8)?;
    members(&text)
}

/// A JSON text's object members (koa-session's external-store records).
pub(crate) fn members(text: &str) -> Result<Vec<(String, String)>, PayloadError> {
    json::object_members(text)?.ok_or(PayloadError::NotAnObject)
}

/// Accepts a signed value only with a matching `.sig`; returns the matching key's index.
pub(crate) fn verify(
    keys: &Keygrip,
    name: &str,
    value: &str,
    sig: Option<&str>,
) -> Result<usize, PayloadError> {
    match check_signature(keys, name, value, sig) {
        SignatureCheck::Valid { key_index } => Ok(key_index),
        SignatureCheck::Missing => Err(PayloadError::MissingSignature),
        SignatureCheck::Invalid => Err(PayloadError::BadSignature),
    }
}

/// The satchel data and owner of an opened cookie-session or koa-session payload: the
/// first `owner_key` property holding a string is the owner (it is not data: the sealers
/// write it back from the owner). Any other value under that name, such as the object
/// many apps keep as `user`, stays data, so re-sealing never drops it.
///
/// # Errors
/// `Malformed` for a value that is not JSON satchel holds.
pub(crate) fn split_owner(
    payload: &OrderedData,
    owner_key: Option<&str>,
) -> Result<(Data, Option<String>), OpenError> {
    let mut data = Data::with_capacity(payload.len());
    let mut owner = None;
    for (key, value) in payload.iter() {
        if owner.is_none() && owner_key == Some(key) {
            if let Ok(name) = serde_json::from_str::<String>(value) {
                owner = Some(name);
                continue;
            }
        }
        let value = Value::from_json(value).map_err(|_| OpenError::Malformed)?;
        data.insert(key.to_owned(), value);
    }
    Ok((data, owner))
}
