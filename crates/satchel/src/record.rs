//! What a store keeps ([`Record`]) and what one request changed ([`Patch`]).
//!
//! Session values are kept as JSON text ([`Value`]): every store can hold it (a Redis hash
//! field, a JSONB column, bytes in memory), it is a data-only format (no polymorphic
//! deserialisation, SEC-31), and two values can be compared for the conflict check without
//! knowing their Rust type.

use std::time::Duration;

use serde_json::value::RawValue;

use crate::time::Timestamp;

/// One session value: a JSON document as text. Equality is textual (see
/// [`Patch::conflicts`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Value(String);

impl Value {
    /// Parses and keeps `text`, which must be exactly one JSON document.
    ///
    /// # Errors
    /// When `text` is not valid JSON.
    pub fn from_json(text: impl Into<String>) -> Result<Self, serde_json::Error> {
        let raw = RawValue::from_string(text.into())?;
        Ok(Value(String::from(Box::<str>::from(raw))))
    }

    /// Wraps JSON text this process wrote itself (e.g. read back from an in-process store)
    /// without parsing it again. Text from anywhere else goes through [`Value::from_json`].
    pub(crate) fn from_trusted_json(text: String) -> Self {
        Value(text)
    }

    /// Serialises `value` to compact JSON.
    ///
    /// # Errors
    /// When `value`'s `Serialize` implementation fails (e.g. a map with non-string keys).
    pub fn from_serialize<T: serde::Serialize + ?Sized>(
        value: &T,
    ) -> Result<Self, serde_json::Error> {
        // Kept as the String serde_json wrote (not shrunk into a Box<str>): values live for
        // one request, and the shrink would cost a reallocation on every write.
        Ok(Value(serde_json::to_string(value)?))
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.0
    }

    /// Deserialises the value.
    ///
    /// # Errors
    /// When the JSON does not fit `T`.
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0)
    }
}

impl std::fmt::Debug for Value {
    // Session values can be personal data: Debug shows their size, not their content.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Value({} bytes)", self.0.len())
    }
}

pub use crate::data::Data;

/// The deadlines and binding of a stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// When the session was first stored.
    pub created_at: Timestamp,
    /// How long the session may sit unused; each write or touch moves
    /// [`Meta::idle_deadline`] to `now + idle_timeout`, never past the absolute deadline.
    pub idle_timeout: Duration,
    /// The session is dead once this passes without activity.
    pub idle_deadline: Timestamp,
    /// The session is dead once this passes, however active it is.
    pub absolute_deadline: Timestamp,
    /// A persistent ("remember me") session gets a cookie with `Max-Age`; others get a
    /// browser-session cookie.
    pub persistent: bool,
    /// The user this session belongs to, once logged in.
    pub owner: Option<String>,
}

impl Meta {
    /// New metadata for a session created at `now`.
    pub fn new(now: Timestamp, idle_timeout: Duration, absolute_timeout: Duration) -> Self {
        let absolute_deadline = now.saturating_add(absolute_timeout);
        Meta {
            created_at: now,
            idle_timeout,
            idle_deadline: now.saturating_add(idle_timeout).min(absolute_deadline),
            absolute_deadline,
            persistent: false,
            owner: None,
        }
    }

    /// The earlier of the two deadlines: when the session dies if nothing happens.
    pub fn expires_at(&self) -> Timestamp {
        self.idle_deadline.min(self.absolute_deadline)
    }

    /// Whether the session is dead at `now`. A dead record must be treated as absent
    /// even if the store has not removed it yet.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at()
    }

    /// Moves the idle deadline to `now + idle_timeout`, capped by the absolute deadline.
    pub fn touch(&mut self, now: Timestamp) {
        self.idle_deadline = now
            .saturating_add(self.idle_timeout)
            .min(self.absolute_deadline);
    }

    /// The expiry facts the engine needs after a write.
    pub fn expires(&self) -> Expires {
        Expires {
            at: self.expires_at(),
            persistent: self.persistent,
        }
    }
}

/// When a session dies and whether its cookie is persistent: what a write reports back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expires {
    /// The earlier of the idle and absolute deadlines after the write.
    pub at: Timestamp,
    /// Whether the cookie carries `Max-Age`.
    pub persistent: bool,
}

/// A stored session: its data and its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The session's keys and values.
    pub data: Data,
    /// Deadlines and owner.
    pub meta: Meta,
}

/// A change of a session's expiry policy ("remember me", or back to a browser session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryChange {
    /// The new idle timeout.
    pub idle_timeout: Duration,
    /// The new absolute deadline.
    pub absolute_deadline: Timestamp,
    /// Whether the cookie becomes persistent.
    pub persistent: bool,
}

/// What one request changed in one session: applied by a store atomically, or not at all.
///
/// # Semantics, in order
/// 1. If any key in [`Patch::expect`] no longer holds the value this request read, the
///    whole patch is refused with [`crate::WriteOutcome::Conflict`] and nothing changes.
///    If the data would end up larger than [`Patch::max_data_bytes`], it is refused with
///    [`crate::WriteOutcome::TooLarge`] and nothing changes.
/// 2. If [`Patch::clear`], every key is removed.
/// 3. Each key in [`Patch::remove`] is removed; each pair in [`Patch::set`] is written.
///    Keys the patch does not name keep whatever value they hold now, so two requests that
///    change different keys both survive.
/// 4. [`Patch::expiry`] and [`Patch::owner`], when present, replace the stored ones.
/// 5. The idle deadline moves to `now + idle_timeout`, capped by the absolute deadline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patch {
    /// Remove every key before applying `remove` and `set`.
    pub clear: bool,
    /// Keys to write, with their new values.
    pub set: Vec<(String, Value)>,
    /// Keys to remove.
    pub remove: Vec<String>,
    /// Keys this request read and then changed, with the value it read (`None`: absent).
    pub expect: Vec<(String, Option<Value>)>,
    /// A new expiry policy.
    pub expiry: Option<ExpiryChange>,
    /// A new owner (`Some(None)` unbinds). The engine only changes owners while rotating
    /// the id, but stores apply it wherever it appears.
    pub owner: Option<Option<String>>,
    /// Refuse the patch with [`crate::WriteOutcome::TooLarge`] if the data would exceed
    /// this many bytes (keys plus JSON values) afterwards. The engine checks loaded
    /// records itself; this bounds writes that did not read first.
    pub max_data_bytes: Option<usize>,
}

impl Patch {
    /// Whether the patch changes nothing but the idle deadline.
    pub fn is_empty(&self) -> bool {
        !self.clear
            && self.set.is_empty()
            && self.remove.is_empty()
            && self.expiry.is_none()
            && self.owner.is_none()
    }

    /// The keys whose current value differs from what this request read, in `expect` order.
    /// Values are compared as JSON text, which is exact for stores that keep the text they
    /// were given (stores that normalise JSON compare semantically instead).
    pub fn conflicts(&self, data: &Data) -> Vec<String> {
        self.expect
            .iter()
            .filter(|(key, seen)| data.get(key).map(|v| v.get()) != seen.as_ref().map(|v| v.get()))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Whether `data` after this patch would exceed [`Patch::max_data_bytes`].
    pub fn too_large(&self, data: &Data) -> bool {
        let Some(limit) = self.max_data_bytes else {
            return false;
        };
        let mut size: usize = if self.clear {
            0
        } else {
            data.iter()
                .filter(|(k, _)| !self.remove.contains(k) && !self.set.iter().any(|(s, _)| s == *k))
                .map(|(k, v)| k.len() + v.get().len())
                .sum()
        };
        size += self
            .set
            .iter()
            .map(|(k, v)| k.len() + v.get().len())
            .sum::<usize>();
        size > limit
    }

    /// Applies steps 2–5 of the semantics to `record` (the caller has done step 1).
    pub fn apply_to(&self, record: &mut Record, now: Timestamp) {
        let set = self.set.iter().map(|(k, v)| (k.clone(), v.clone()));
        apply_parts(
            record,
            now,
            self.clear,
            &self.remove,
            set,
            self.expiry,
            self.owner.clone(),
        );
    }

    /// [`Patch::apply_to`], moving the patch's keys and values into the record instead of
    /// cloning them, for a patch built for this one record.
    pub(crate) fn apply_into(self, record: &mut Record, now: Timestamp) {
        let Patch {
            clear,
            set,
            remove,
            expiry,
            owner,
            ..
        } = self;
        apply_parts(record, now, clear, &remove, set, expiry, owner);
    }
}

/// Steps 2–5 of the [`Patch`] semantics, from the patch's parts.
fn apply_parts(
    record: &mut Record,
    now: Timestamp,
    clear: bool,
    remove: &[String],
    set: impl IntoIterator<Item = (String, Value)>,
    expiry: Option<ExpiryChange>,
    owner: Option<Option<String>>,
) {
    if clear {
        record.data.clear();
    }
    for key in remove {
        record.data.remove(key);
    }
    for (key, value) in set {
        record.data.insert(key, value);
    }
    if let Some(expiry) = expiry {
        record.meta.idle_timeout = expiry.idle_timeout;
        record.meta.absolute_deadline = expiry.absolute_deadline;
        record.meta.persistent = expiry.persistent;
    }
    if let Some(owner) = owner {
        record.meta.owner = owner;
    }
    record.meta.touch(now);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Value {
        Value::from_json(s).expect("valid json")
    }

    /// `serde_json::Value` reads an object whose first key is serde_json's raw-value token
    /// as its own wrapper (a fuzz finding, `fuzz/regressions/node_json`); a session value
    /// is kept as text and must take it like any other object.
    #[test]
    fn serde_jsons_raw_value_token_is_an_ordinary_key() {
        let text = r#"{"$serde_json::private::RawValue":2}"#;
        assert_eq!(v(text).get(), text);
    }

    fn record(now: Timestamp) -> Record {
        Record {
            data: Data::from([("a".into(), v("1")), ("b".into(), v("\"x\""))]),
            meta: Meta::new(now, Duration::from_secs(60), Duration::from_secs(600)),
        }
    }

    #[test]
    fn patch_merges_only_named_keys() {
        let now = Timestamp::from_millis(1_000);
        let mut r = record(now);
        let patch = Patch {
            set: vec![("c".into(), v("true"))],
            remove: vec!["a".into()],
            ..Patch::default()
        };
        patch.apply_to(&mut r, now.saturating_add(Duration::from_secs(10)));
        assert_eq!(r.data.keys().collect::<Vec<_>>(), ["b", "c"]);
        assert_eq!(r.meta.idle_deadline.as_millis(), 71_000);
    }

    #[test]
    fn idle_deadline_never_passes_absolute() {
        let now = Timestamp::from_millis(0);
        let mut r = record(now);
        Patch::default().apply_to(&mut r, Timestamp::from_millis(590_000));
        assert_eq!(r.meta.idle_deadline, r.meta.absolute_deadline);
        assert!(r.meta.is_expired(Timestamp::from_millis(600_000)));
    }

    #[test]
    fn conflicts_compare_what_was_read() {
        let r = record(Timestamp::EPOCH);
        let patch = Patch {
            expect: vec![
                ("a".into(), Some(v("1"))),
                ("b".into(), Some(v("\"y\""))),
                ("z".into(), None),
            ],
            ..Patch::default()
        };
        assert_eq!(patch.conflicts(&r.data), ["b"]);
    }

    #[test]
    fn apply_into_matches_apply_to() {
        let t = Timestamp::from_millis;
        let v = |s: &str| Value::from_json(s).expect("json");
        let record = Record {
            data: Data::from([
                ("a".into(), v("1")),
                ("b".into(), v("2")),
                ("c".into(), v("3")),
            ]),
            meta: Meta::new(t(1_000), Duration::from_secs(60), Duration::from_secs(600)),
        };
        let patches = [
            Patch {
                set: vec![("b".into(), v("20")), ("d".into(), v("\"x\""))],
                remove: vec!["a".into(), "b".into()],
                ..Patch::default()
            },
            Patch {
                clear: true,
                set: vec![("z".into(), v("null"))],
                expiry: Some(ExpiryChange {
                    idle_timeout: Duration::from_secs(5),
                    absolute_deadline: t(90_000),
                    persistent: true,
                }),
                owner: Some(Some("alice".into())),
                ..Patch::default()
            },
            Patch {
                owner: Some(None),
                ..Patch::default()
            },
        ];
        for patch in patches {
            let (mut cloned, mut moved) = (record.clone(), record.clone());
            patch.apply_to(&mut cloned, t(2_000));
            patch.apply_into(&mut moved, t(2_000));
            assert_eq!(cloned, moved);
        }
    }
}
