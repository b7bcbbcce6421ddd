//! [`PatchSource`]: what applying a patch reads from it, so the in-process MemoryStore can
//! apply the engine's pending changes where they lie ([`PendingPatch`]) as well as a
//! [`Patch`].
//!
//! A `Patch` owns every key and value: building one for a write costs an allocation per
//! key, per value read back as an expectation, and per list. Other stores need that (the
//! patch crosses an `.await` and often a network); MemoryStore applies the write
//! synchronously while the engine still holds the request's state, so it can borrow.

use crate::record::{ExpiryChange, Patch};
use crate::state::Writes;

/// A patch, as [`crate::memory`] and the engine's size check read it. Both implementations
/// describe the same semantics (see [`Patch`]).
pub(crate) trait PatchSource {
    /// Remove every key first.
    fn clear(&self) -> bool;
    /// Keys to write with their JSON text.
    fn set(&self) -> impl Iterator<Item = (&str, &str)> + '_;
    /// Keys to remove.
    fn remove(&self) -> impl Iterator<Item = &str> + '_;
    /// Keys read and changed, with the JSON text read (`None`: absent).
    fn expect(&self) -> impl Iterator<Item = (&str, Option<&str>)> + '_;
    /// A new expiry policy.
    fn expiry(&self) -> Option<ExpiryChange>;
    /// A new owner (`Some(None)` unbinds).
    fn owner(&self) -> Option<Option<&str>>;
    /// The data size limit after the patch.
    fn max_data_bytes(&self) -> Option<usize>;
}

impl PatchSource for Patch {
    fn clear(&self) -> bool {
        self.clear
    }

    fn set(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.set.iter().map(|(k, v)| (k.as_str(), v.get()))
    }

    fn remove(&self) -> impl Iterator<Item = &str> + '_ {
        self.remove.iter().map(String::as_str)
    }

    fn expect(&self) -> impl Iterator<Item = (&str, Option<&str>)> + '_ {
        self.expect
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_ref().map(|v| v.get())))
    }

    fn expiry(&self) -> Option<ExpiryChange> {
        self.expiry
    }

    fn owner(&self) -> Option<Option<&str>> {
        self.owner.as_ref().map(Option::as_deref)
    }

    fn max_data_bytes(&self) -> Option<usize> {
        self.max_data_bytes
    }
}

/// A request's pending changes, borrowed: the patch the engine would build from them,
/// without building it. Never changes the owner (rotations take the `Patch` path).
pub(crate) struct PendingPatch<'a> {
    pub(crate) clear: bool,
    pub(crate) writes: &'a Writes,
    /// `(key, JSON text read)` for every key read and then changed.
    pub(crate) expect: smallvec::SmallVec<[(&'a str, Option<&'a str>); 2]>,
    pub(crate) expiry: Option<ExpiryChange>,
    pub(crate) max_data_bytes: usize,
}

impl PatchSource for PendingPatch<'_> {
    fn clear(&self) -> bool {
        self.clear
    }

    fn set(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.writes
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v.get())))
    }

    fn remove(&self) -> impl Iterator<Item = &str> + '_ {
        self.writes
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k)
    }

    fn expect(&self) -> impl Iterator<Item = (&str, Option<&str>)> + '_ {
        self.expect.iter().copied()
    }

    fn expiry(&self) -> Option<ExpiryChange> {
        self.expiry
    }

    fn owner(&self) -> Option<Option<&str>> {
        None
    }

    fn max_data_bytes(&self) -> Option<usize> {
        Some(self.max_data_bytes)
    }
}
