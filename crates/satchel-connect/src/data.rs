//! [`OrderedData`]: session properties as a JavaScript object holds them.

use crate::json::{self, JsonError};

/// The properties of a Node session object: key → JSON value text, in the order JavaScript
/// enumerates them (array-index keys such as `"0"` first, ascending; then the others in
/// insertion order). Every value is kept in the exact form `JSON.stringify` writes, so a
/// session read from Node and written back is byte-for-byte what Node would write, unknown
/// keys and all.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OrderedData(Vec<(String, String)>);

impl OrderedData {
    /// No properties.
    pub const fn new() -> Self {
        OrderedData(Vec::new())
    }

    /// The members of the JSON object `text`, or `Ok(None)` when `text` is valid JSON but
    /// not an object.
    ///
    /// # Errors
    /// When `text` is not JSON (see [`JsonError`]).
    pub fn from_json_object(text: &str) -> Result<Option<Self>, JsonError> {
        Ok(json::object_members(text)?.map(OrderedData))
    }

    /// Builds from members that are already canonical and in JavaScript order.
    pub(crate) fn from_canonical(members: Vec<(String, String)>) -> Self {
        OrderedData(members)
    }

    /// The JSON text of `key`'s value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key` to the JSON document `json` (rewritten as JavaScript would write it), as
    /// a JavaScript assignment does: an existing key keeps its position, a new one goes
    /// last (or among the array-index keys, in numeric order). Returns the previous value.
    ///
    /// # Errors
    /// When `json` is not one JSON document; nothing changes then.
    pub fn insert(
        &mut self,
        key: impl Into<String>,
        json: &str,
    ) -> Result<Option<String>, JsonError> {
        let value = json::canonicalize(json)?;
        Ok(self.insert_canonical(key.into(), value))
    }

    /// Sets `key` to `value` serialised to JSON, like [`OrderedData::insert`].
    ///
    /// # Errors
    /// When `value` cannot be serialised (e.g. a map with non-string keys).
    pub fn insert_serialize<T: serde::Serialize + ?Sized>(
        &mut self,
        key: impl Into<String>,
        value: &T,
    ) -> Result<Option<String>, serde_json::Error> {
        let text = serde_json::to_string(value)?;
        // serde_json's own output is always one valid document.
        let value = json::canonicalize(&text).map_err(serde::ser::Error::custom)?;
        Ok(self.insert_canonical(key.into(), value))
    }

    pub(crate) fn insert_canonical(&mut self, key: String, value: String) -> Option<String> {
        if let Some(slot) = self.0.iter_mut().find(|(k, _)| *k == key) {
            return Some(std::mem::replace(&mut slot.1, value));
        }
        let at = match json::array_index(&key) {
            // After every smaller index key (index keys form a sorted prefix).
            Some(i) => self
                .0
                .iter()
                .position(|(k, _)| json::array_index(k).is_none_or(|j| j > i))
                .unwrap_or(self.0.len()),
            None => self.0.len(),
        };
        self.0.insert(at, (key, value));
        None
    }

    /// Removes `key` (a later insert puts it last again, as after JavaScript's `delete`).
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let at = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(at).1)
    }

    /// Keeps only the properties for which `keep(key)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.0.retain(|(k, _)| keep(k));
    }

    /// The properties in JavaScript enumeration order: (key, JSON value text).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// How many properties.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no property.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `JSON.stringify` of the object: `{"k":v,…}`.
    pub fn to_json_object(&self) -> String {
        let mut out = ObjectWriter::new();
        for (k, v) in self.iter() {
            out.member(k, v);
        }
        out.finish()
    }
}

impl std::fmt::Debug for OrderedData {
    // Session values can be personal data: Debug names the keys, not the values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderedData")
            .field("keys", &self.0.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .finish()
    }
}

/// Writes a JSON object member by member, values given as canonical JSON text.
pub(crate) struct ObjectWriter {
    out: String,
    first: bool,
}

impl ObjectWriter {
    pub(crate) fn new() -> Self {
        ObjectWriter {
            out: String::from("{"),
            first: true,
        }
    }

    /// Appends `"key":value`; `value` must already be canonical JSON text.
    pub(crate) fn member(&mut self, key: &str, value: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        json::write_str(key, &mut self.out);
        self.out.push(':');
        self.out.push_str(value);
    }

    /// Appends a string member.
    pub(crate) fn string(&mut self, key: &str, value: &str) {
        let mut text = String::with_capacity(value.len() + 2);
        json::write_str(value, &mut text);
        self.member(key, &text);
    }

    /// Appends an integer member, written as JavaScript writes that number.
    pub(crate) fn integer(&mut self, key: &str, value: i64) {
        let mut text = String::new();
        // i64 → f64 is what JavaScript holds; exact below 2^53, as every timestamp is.
        #[allow(clippy::cast_precision_loss)]
        json::write_number(value as f64, &mut text);
        self.member(key, &text);
    }

    pub(crate) fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn javascript_assignment_order() {
        let mut d = OrderedData::new();
        for (k, v) in [("b", "1"), ("10", "2"), ("a", "3"), ("2", "4"), ("b", "5")] {
            d.insert(k, v).expect("json");
        }
        assert_eq!(d.to_json_object(), r#"{"2":4,"10":2,"b":5,"a":3}"#);
        d.remove("b");
        d.insert("b", "6").expect("json");
        assert_eq!(d.to_json_object(), r#"{"2":4,"10":2,"a":3,"b":6}"#);
    }

    #[test]
    fn values_are_canonical() {
        let mut d = OrderedData::new();
        d.insert("x", " { \"z\" : 1.50 , \"1\" : [ ] } ")
            .expect("json");
        d.insert_serialize("f", &2.0_f64).expect("serialise");
        assert_eq!(d.get("x"), Some(r#"{"1":[],"z":1.5}"#));
        assert_eq!(d.get("f"), Some("2"));
        assert!(d.insert("bad", "{").is_err());
        assert!(!d.contains_key("bad"));
    }

    #[test]
    fn debug_hides_values() {
        let mut d = OrderedData::new();
        d.insert("user", "\"alice\"").expect("json");
        let shown = format!("{d:?}");
        assert!(shown.contains("user") && !shown.contains("alice"));
    }
}
