//! An express-session record as the JSON text to store.

use satchel::{StoreError, StoreErrorKind};

use crate::connect_redis::{RecordError, StoredSession};

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
