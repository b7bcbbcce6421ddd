//! Operator access to a store: list every live session, resolve a short reference to a
//! store key, purge what the store does not expire by itself.
//!
//! This is for administration tools (the `satchel sessions` / `satchel stats` /
//! `satchel purge` commands), **never for a request path**: listing may walk the whole
//! store (Redis: `SCAN`; SQL: a table scan). Revocation is not here on purpose: tools
//! revoke through the store's own [`SessionStore::delete`] and
//! [`SessionStore::revoke_owner`], so that owner indexes stay consistent.
//!
//! # References
//! A *reference* is a prefix of the lower-case hex store key ([`StoreKey::to_hex`]): the
//! SHA-256 of the session id, which stores key by. It names a session for an operator
//! without being replayable (a store key cannot be turned back into a cookie), and 12
//! characters ([`StoreKey::short`], the form `satchel::anomaly` logs use) are plenty to be
//! unique.

use std::future::Future;

use crate::error::StoreError;
use crate::id::StoreKey;
use crate::store::SessionStore;
use crate::time::Timestamp;

/// One live session as an operator sees it: who, when, until when. Never the id, never
/// the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// The store key (print [`StoreKey::short`] or a prefix of [`StoreKey::to_hex`]).
    pub key: StoreKey,
    /// The logged-in user, if any.
    pub owner: Option<String>,
    /// When the session was created.
    pub created_at: Timestamp,
    /// When it dies without activity.
    pub idle_deadline: Timestamp,
    /// When it dies regardless.
    pub absolute_deadline: Timestamp,
    /// Whether its cookie outlives the browser ("remember me").
    pub persistent: bool,
}

impl SessionSummary {
    /// The earlier deadline: when the session dies if nothing happens.
    pub fn expires_at(&self) -> Timestamp {
        self.idle_deadline.min(self.absolute_deadline)
    }
}

/// What a purge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Expired session records deleted.
    pub sessions: u64,
    /// Stale owner index entries removed (stores that keep a separate index).
    pub index_entries: u64,
}

/// Called with how many more items a long scan or purge has worked through (for a
/// progress display); may be called often.
pub type Progress<'a> = &'a (dyn Fn(u64) + Send + Sync);

/// Administration of a store's whole contents (see the module docs).
pub trait SessionAdmin: SessionStore {
    /// Every live session at `now` (in no particular order), or only `owner`'s. Reports
    /// progress per session read.
    ///
    /// # Errors
    /// A store error; a record that does not decode is skipped, not an error.
    fn list(
        &self,
        owner: Option<&str>,
        now: Timestamp,
        progress: Progress<'_>,
    ) -> impl Future<Output = Result<Vec<SessionSummary>, StoreError>> + Send;

    /// The keys of the live sessions whose hex store key starts with `prefix` (lower-case
    /// hex, 1 to 64 characters), at most `limit` of them: more than one means the
    /// reference is ambiguous.
    ///
    /// # Errors
    /// A store error.
    fn resolve(
        &self,
        prefix: &str,
        now: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoreKey>, StoreError>> + Send;

    /// Deletes what has expired at `now` and the store does not remove by itself, about
    /// `batch` records per statement where the store works in batches. Reports progress
    /// per record (or index) removed or checked.
    ///
    /// # Errors
    /// A store error (what was deleted before it stays deleted).
    fn purge(
        &self,
        now: Timestamp,
        batch: usize,
        progress: Progress<'_>,
    ) -> impl Future<Output = Result<PurgeReport, StoreError>> + Send;
}

/// Whether `prefix` is a valid reference: 1 to 64 lower-case hex digits.
pub fn is_reference(prefix: &str) -> bool {
    (1..=64).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The smallest and largest store keys starting with the hex `prefix` (for a range scan
/// over a key column); `None` if `prefix` is not a reference.
pub fn reference_range(prefix: &str) -> Option<(StoreKey, StoreKey)> {
    if !is_reference(prefix) {
        return None;
    }
    let low = format!("{prefix:0<64}");
    let high = format!("{prefix:f<64}");
    Some((StoreKey::from_hex(&low)?, StoreKey::from_hex(&high)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_lower_case_hex_prefixes() {
        assert!(is_reference("a"));
        assert!(is_reference(&"f".repeat(64)));
        assert!(!is_reference(""));
        assert!(!is_reference("A1"));
        assert!(!is_reference("xyz"));
        assert!(!is_reference(&"0".repeat(65)));
    }

    #[test]
    fn ranges_cover_exactly_the_prefix() {
        let (low, high) = reference_range("ab1").expect("range");
        assert!(low.to_hex().starts_with("ab1") && low.to_hex().ends_with('0'));
        assert!(high.to_hex().starts_with("ab1") && high.to_hex().ends_with('f'));
        let key = StoreKey::from_hex(&format!("ab1{}", "7".repeat(61))).expect("key");
        assert!(low <= key && key <= high);
        let other = StoreKey::from_hex(&format!("ab2{}", "0".repeat(61))).expect("key");
        assert!(other > high);
        assert!(reference_range("G").is_none());
    }
}
