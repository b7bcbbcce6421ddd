//! Applying a satchel [`Patch`] to a Node session's properties, in Rust, between the
//! read and the compare-and-set (shared by the connect-redis and koa-redis layouts).
//!
//! The record is changed in place with JavaScript's semantics ([`OrderedData`]): keys the
//! patch does not name keep their value and position byte for byte (including properties
//! only Express knows about), a new key goes last as a JavaScript assignment would put
//! it, and every value is stored in `JSON.stringify`'s form.

use satchel::{Meta, Patch, StoreError, Timestamp};

use super::extension::owner_in;
use super::unreadable;
use crate::data::OrderedData;
use crate::json;

/// What applying a patch gave, before anything is written.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Applied {
    /// `data` and `meta` now hold the new record (the caller writes `meta` into the
    /// layout's fields).
    Changed,
    /// These keys no longer hold what the request read: nothing changed.
    Conflict(Vec<String>),
    /// The data would exceed the patch's limit: nothing changed.
    TooLarge,
}

/// Applies `patch` (see [`Patch`] for the order of its steps) to `stored` and `meta` at
/// `now`. With an owner property (`owner_key`), the owner and that property are one:
/// `patch.owner` sets or removes it, a `set`/`remove` of it changes the owner, and
/// `patch.clear` keeps it unless the owner changes too (clearing data is not logging out,
/// as in satchel).
///
/// # Errors
/// `Backend` when a value nests deeper than this crate's JSON reader allows.
pub(crate) fn apply(
    stored: &mut OrderedData,
    meta: &mut Meta,
    patch: &Patch,
    owner_key: Option<&str>,
    now: Timestamp,
) -> Result<Applied, StoreError> {
    let conflicts = conflicts(stored, patch);
    if !conflicts.is_empty() {
        return Ok(Applied::Conflict(conflicts));
    }
    let mut data = stored.clone();
    if patch.clear {
        let keep_owner = patch.owner.is_none();
        data.retain(|k| keep_owner && Some(k) == owner_key);
    }
    for key in &patch.remove {
        data.remove(key);
    }
    for (key, value) in &patch.set {
        data.insert(key.clone(), value.get()).map_err(unreadable)?;
    }
    if let Some(owner) = &patch.owner {
        meta.owner.clone_from(owner);
        if let Some(key) = owner_key {
            match owner {
                Some(name) => {
                    data.insert_serialize(key, name)
                        .map_err(|e| StoreError::new(satchel::StoreErrorKind::Backend, e))?;
                }
                None => {
                    data.remove(key);
                }
            }
        }
    }
    if let Some(key) = owner_key {
        meta.owner = owner_in(&data, key);
    }
    if patch
        .max_data_bytes
        .is_some_and(|limit| data_size(&data) > limit)
    {
        return Ok(Applied::TooLarge);
    }
    if let Some(expiry) = patch.expiry {
        meta.idle_timeout = expiry.idle_timeout;
        meta.absolute_deadline = expiry.absolute_deadline;
        meta.persistent = expiry.persistent;
    }
    meta.touch(now);
    *stored = data;
    Ok(Applied::Changed)
}

/// The keys of `patch.expect` whose current value differs from what the request read.
/// Both sides are compared as canonical JSON text (`JSON.stringify`'s form): stored values
/// are kept canonical, and what the request read is canonicalised here, so `1.0` read
/// through serde_json and `1` written by Node are the same value.
fn conflicts(data: &OrderedData, patch: &Patch) -> Vec<String> {
    patch
        .expect
        .iter()
        .filter(|(key, seen)| {
            let seen = seen.as_ref().map(|v| json::canonicalize(v.get()));
            match (data.get(key), seen) {
                (None, None) => false,
                (Some(now), Some(Ok(read))) => now != read,
                // Present vs absent, or a read value this reader cannot even parse.
                _ => true,
            }
        })
        .map(|(key, _)| key.clone())
        .collect()
}

/// Keys plus JSON values, in bytes: what `Patch::max_data_bytes` bounds.
fn data_size(data: &OrderedData) -> usize {
    data.iter().map(|(k, v)| k.len() + v.len()).sum()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use satchel::Value;

    use super::*;
    use crate::connect_redis::StoredSession;

    /// The patch applied to a record's properties.
    fn apply(
        s: &mut StoredSession,
        m: &mut Meta,
        p: &Patch,
        owner_key: Option<&str>,
        now: Timestamp,
    ) -> Result<Applied, StoreError> {
        super::apply(&mut s.data, m, p, owner_key, now)
    }

    const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_123);

    fn v(text: &str) -> Value {
        Value::from_json(text).expect("json")
    }

    fn express(text: &str) -> (StoredSession, Meta) {
        let stored = StoredSession::from_json(text).expect("record");
        let meta = Meta::new(NOW, Duration::from_secs(60), Duration::from_secs(600));
        (stored, meta)
    }

    const RECORD: &str = r#"{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"user":"alice","n":1,"nodeOnly":{"x":[1.5]}}"#;

    #[test]
    fn keeps_unknown_properties_and_order() {
        let (mut s, mut m) = express(RECORD);
        let patch = Patch {
            set: vec![("n".into(), v("2.0")), ("new".into(), v("true"))],
            expect: vec![("n".into(), Some(v("1.0")))],
            ..Patch::default()
        };
        assert_eq!(
            apply(&mut s, &mut m, &patch, Some("user"), NOW).expect("apply"),
            Applied::Changed
        );
        assert_eq!(
            s.data.to_json_object(),
            r#"{"user":"alice","n":2,"nodeOnly":{"x":[1.5]},"new":true}"#
        );
        assert_eq!(m.owner.as_deref(), Some("alice"));
    }

    #[test]
    fn stale_reads_conflict_and_change_nothing() {
        let (mut s, mut m) = express(RECORD);
        let before = s.clone();
        let patch = Patch {
            set: vec![("n".into(), v("5"))],
            expect: vec![("n".into(), Some(v("0"))), ("user".into(), None)],
            ..Patch::default()
        };
        assert_eq!(
            apply(&mut s, &mut m, &patch, Some("user"), NOW).expect("apply"),
            Applied::Conflict(vec!["n".into(), "user".into()])
        );
        assert_eq!(s, before);
    }

    #[test]
    fn owner_property_is_the_owner() {
        let (mut s, mut m) = express(RECORD);
        let login = Patch {
            owner: Some(Some("bob".into())),
            clear: true,
            ..Patch::default()
        };
        apply(&mut s, &mut m, &login, Some("user"), NOW).expect("apply");
        assert_eq!(s.data.to_json_object(), r#"{"user":"bob"}"#);
        assert_eq!(m.owner.as_deref(), Some("bob"));
        // Clearing data keeps the login.
        let clear = Patch {
            clear: true,
            ..Patch::default()
        };
        apply(&mut s, &mut m, &clear, Some("user"), NOW).expect("apply");
        assert_eq!(m.owner.as_deref(), Some("bob"));
        // Removing the property is a logout, as in Express.
        let remove = Patch {
            remove: vec!["user".into()],
            ..Patch::default()
        };
        apply(&mut s, &mut m, &remove, Some("user"), NOW).expect("apply");
        assert_eq!(m.owner, None);
        // Without an owner property, data and owner are separate.
        let (mut s, mut m) = express(RECORD);
        apply(&mut s, &mut m, &login, None, NOW).expect("apply");
        assert_eq!(s.data.to_json_object(), "{}");
        assert_eq!(m.owner.as_deref(), Some("bob"));
    }

    #[test]
    fn size_limit_counts_canonical_text() {
        let (mut s, mut m) = express(RECORD);
        let size = data_size(&s.data);
        let patch = Patch {
            set: vec![("k".into(), v("1.0"))],
            max_data_bytes: Some(size + 1),
            ..Patch::default()
        };
        assert_eq!(
            apply(&mut s.clone(), &mut m.clone(), &patch, None, NOW).expect("apply"),
            Applied::TooLarge
        );
        let fits = Patch {
            max_data_bytes: Some(size + 2),
            ..patch
        };
        assert_eq!(
            apply(&mut s, &mut m, &fits, None, NOW).expect("apply"),
            Applied::Changed
        );
    }

    #[test]
    fn deadlines_move() {
        let (mut s, mut m) = express(RECORD);
        m.persistent = true;
        let later = NOW.saturating_add(Duration::from_secs(30));
        apply(&mut s, &mut m, &Patch::default(), None, later).expect("apply");
        assert_eq!(
            m.idle_deadline,
            later.saturating_add(Duration::from_secs(60))
        );
    }
}
