//! What the engine does when a store holds a record it cannot decode
//! ([`StoreErrorKind::Corrupt`]), per [`CorruptRecords`].
//!
//! A retry never fixes such a record, so it is never answered like an unavailable store.
//! Under the default, [`CorruptRecords::TreatAsAbsent`], every operation that meets one
//! goes on as if the record did not exist (the table is in `docs/corrupt-records.md`), and
//! the record is deleted, best effort, at the end of the request: nothing reads it again
//! and nothing of it is ever merged into a new session.

use super::Engine;
use crate::config::CorruptRecords;
use crate::error::{cause_chain, StoreError, StoreErrorKind};
use crate::id::StoreKey;
use crate::session::Session;
use crate::state::State;

impl Engine {
    /// Whether `err` is an unreadable record the request goes on without.
    pub(super) fn absent_if_corrupt(&self, err: &StoreError) -> bool {
        err.kind() == StoreErrorKind::Corrupt
            && self.0.config.corrupt_records == CorruptRecords::TreatAsAbsent
    }

    /// Logs the unreadable record under `key` met by `op`, once per request and operation,
    /// and (when the request goes on without it) marks it for deletion at the end of the
    /// request.
    pub(super) fn note_corrupt(
        &self,
        state: &mut State,
        key: &StoreKey,
        err: &StoreError,
        op: &'static str,
    ) {
        let absent = self.absent_if_corrupt(err);
        tracing::warn!(
            target: "satchel::anomaly",
            kind = "corrupt_record",
            op,
            session = %key.short(),
            reason = %cause_chain(err),
            treated_as_absent = absent,
            "stored session record cannot be decoded"
        );
        crate::observe::anomaly("corrupt_record");
        if absent {
            state.discard = Some(Box::new(*key));
        }
    }

    /// Deletes the unreadable record this request met, if any. Best effort: the browser's
    /// cookie is already removed or replaced, so a failure only leaves the record to its
    /// expiry (and the next request that presents the old id treats it as absent again).
    pub(super) async fn discard_corrupt(&self, session: &Session) {
        let Some(key) = session.lock().discard.take() else {
            return;
        };
        if let Err(err) = self.0.store.delete(&key).await {
            tracing::warn!(
                target: "satchel::anomaly",
                kind = "corrupt_record_kept",
                session = %key.short(),
                reason = %cause_chain(&err),
                "could not delete an unreadable session record; it stays until it expires"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as StdError;

    use super::*;

    #[test]
    fn cause_chain_lists_every_cause() {
        let json = serde_json::from_str::<serde_json::Value>("[1,").expect_err("truncated");
        let err = StoreError::new(StoreErrorKind::Corrupt, json);
        let text = cause_chain(&err);
        assert!(text.starts_with("corrupt session record: "), "{text}");
        assert!(text.contains("EOF"), "{text}");
    }

    #[derive(Debug)]
    struct Wraps(serde_json::Error);

    impl std::fmt::Display for Wraps {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "not JSON: {}", self.0)
        }
    }

    impl StdError for Wraps {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn cause_chain_does_not_repeat_a_cause_already_printed() {
        let json = serde_json::from_str::<serde_json::Value>("[1,").expect_err("truncated");
        let said = json.to_string();
        let err = StoreError::new(StoreErrorKind::Corrupt, Wraps(json));
        let text = cause_chain(&err);
        assert_eq!(text.matches(&said).count(), 1, "{text}");
    }
}
