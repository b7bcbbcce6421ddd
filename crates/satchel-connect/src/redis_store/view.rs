//! An express-session record as a satchel [`Record`], and a satchel record as a new
//! express-session record.

use satchel::{Data, Meta, Record, StoreError, StoreErrorKind, Value};

use super::meta;
use super::options::CookieTemplate;
use crate::connect_redis::{RecordError, StoredSession};
use crate::data::OrderedData;

/// The session properties as satchel data: every property except `cookie`, each value the
/// JSON text `JSON.stringify` writes. The owner property stays among the data too, so
/// Rust code reads `session.get("user")` as Express code reads `req.session.user`.
///
/// # Errors
/// `Corrupt` for a value satchel cannot hold (JSON that serde_json refuses, such as a
/// string with a lone UTF-16 surrogate, which JavaScript allows).
pub(super) fn data_of(stored: &StoredSession) -> Result<Data, StoreError> {
    let mut data = Data::with_capacity(stored.data.len());
    for (key, value) in stored.data.iter() {
        let value =
            Value::from_json(value).map_err(|e| StoreError::new(StoreErrorKind::Corrupt, e))?;
        data.insert(key.to_owned(), value);
    }
    Ok(data)
}

/// `stored` with `meta` as a satchel record.
pub(super) fn record_of(stored: &StoredSession, meta: Meta) -> Result<Record, StoreError> {
    Ok(Record {
        data: data_of(stored)?,
        meta,
    })
}

/// The express-session record for a satchel record the Rust side creates: the template's
/// cookie, then the data (in satchel's key order) with the owner property set to the
/// owner, as `Session::login` means.
pub(super) fn new_stored(
    record: &Record,
    template: &CookieTemplate,
    owner_key: Option<&str>,
) -> Result<StoredSession, StoreError> {
    let mut data = OrderedData::new();
    for (key, value) in record.data.iter() {
        data.insert(key.clone(), value.get()).map_err(unreadable)?;
    }
    if let (Some(key), Some(owner)) = (owner_key, &record.meta.owner) {
        data.insert_serialize(key, owner)
            .map_err(|e| StoreError::new(StoreErrorKind::Backend, e))?;
    }
    let mut stored = StoredSession::new(template.cookie(), data);
    meta::write(&mut stored, &record.meta, owner_key);
    Ok(stored)
}

/// The JSON text to store.
///
/// # Errors
/// `Backend` when the data holds a property express-session cannot restore (`id`,
/// `cookie`, `save`, … see [`crate::express::RESERVED_KEYS`]): writing it would lose it
/// on Express's next load, so it is refused instead.
pub(super) fn to_json(stored: &StoredSession) -> Result<String, StoreError> {
    stored.to_json().map_err(|e| match e {
        RecordError::ReservedKey(_) => StoreError::new(StoreErrorKind::Backend, e),
        other => StoreError::new(StoreErrorKind::Corrupt, other),
    })
}

/// A value the JSON reader refuses (deeper than its nesting limit).
pub(super) fn unreadable(e: crate::json::JsonError) -> StoreError {
    StoreError::new(StoreErrorKind::Backend, e)
}
