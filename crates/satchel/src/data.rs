//! [`Data`]: the keys and values of one session.
//!
//! Sessions hold a handful of keys, so a sorted vector beats a `BTreeMap` here: one small
//! allocation instead of a ~500-byte tree node per record loaded, and binary search over a
//! few entries is as fast as a tree walk. The API mirrors the map methods callers need and
//! iterates in key order, like the map it replaced.

use std::borrow::Borrow;
use std::ops::Index;

use crate::record::Value;

/// The keys and values of one session, ordered by key.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Data(Vec<(String, Value)>);

impl Data {
    /// No keys.
    pub const fn new() -> Self {
        Data(Vec::new())
    }

    /// Room for `n` keys without reallocating.
    pub fn with_capacity(n: usize) -> Self {
        Data(Vec::with_capacity(n))
    }

    fn position<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        String: Borrow<Q>,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value under `key`.
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&Value>
    where
        String: Borrow<Q>,
    {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    /// Whether `key` is present.
    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        String: Borrow<Q>,
    {
        self.position(key).is_ok()
    }

    /// Sets `key` to `value`, returning the previous value.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        match self.position(key.as_str()) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<Value>
    where
        String: Borrow<Q>,
    {
        self.position(key).ok().map(|i| self.0.remove(i).1)
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no key.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&String, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    /// The values in key order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> {
        self.0.iter().map(|(_, v)| v)
    }
}

impl std::fmt::Debug for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<Q: Ord + ?Sized> Index<&Q> for Data
where
    String: Borrow<Q>,
{
    type Output = Value;

    /// # Panics
    /// If `key` is absent, like a map's index.
    fn index(&self, key: &Q) -> &Value {
        #[allow(clippy::expect_used)]
        self.get(key).expect("no such key in session data")
    }
}

impl FromIterator<(String, Value)> for Data {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        let mut data = Data::new();
        data.extend(iter);
        data
    }
}

impl Extend<(String, Value)> for Data {
    fn extend<I: IntoIterator<Item = (String, Value)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<const N: usize> From<[(String, Value); N]> for Data {
    fn from(pairs: [(String, Value); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl IntoIterator for Data {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Data {
    type Item = (&'a String, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, Value)>,
        fn(&'a (String, Value)) -> (&'a String, &'a Value),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Value {
        Value::from_json(s).expect("json")
    }

    #[test]
    fn behaves_like_a_sorted_map() {
        let mut d: Data = [("b".to_owned(), v("2")), ("a".to_owned(), v("1"))].into();
        assert_eq!(d.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(d.insert("a".into(), v("3")), Some(v("1")));
        assert_eq!(d.insert("c".into(), v("4")), None);
        assert_eq!(d["a"], v("3"));
        assert!(d.contains_key("c") && !d.contains_key("z"));
        assert_eq!(d.remove("b"), Some(v("2")));
        assert_eq!(d.len(), 2);
        let pairs: Vec<_> = (&d).into_iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(pairs, ["a", "c"]);
        d.clear();
        assert!(d.is_empty());
    }
}
