//! Periodic id renewal (SEC-49, `docs/id-renewal.md`): when a loaded session's id is due,
//! the save renews it (`SessionStore::renew`), leaving a forward record at the old key for
//! the grace window; a request that arrives with the old id (its load finds nothing, or
//! its write finds the old record gone) follows the forward to the new id, once, and
//! answers with the new id's cookie. A forward never renews and never forks a session.

use super::{Engine, Write, CREATE_ATTEMPTS};
use crate::config::{ConfigError, SessionConfig};
use crate::error::StoreError;
use crate::id::{SessionId, StoreKey};
use crate::memory::codec::Packed;
use crate::record::{Meta, Patch, Record, Value};
use crate::renewal::{self, ID_ISSUED_AT_KEY};
use crate::state::State;
use crate::store::{Capabilities, WriteOutcome};
use crate::time::Timestamp;

/// What a load found once forwards are followed: the id the request goes on with and the
/// record under it.
pub(super) type Followed = (SessionId, Option<(Record, Option<Packed>)>);

/// Refuses a renewal interval the engine cannot honour: over a store that does not claim
/// [`Capabilities::renewal`], or with an interop id format (forward records carry
/// satchel's own 32-byte ids). Never a silent downgrade to no renewal.
pub(super) fn check(
    config: &SessionConfig,
    capabilities: Capabilities,
    interop_ids: bool,
) -> Result<(), ConfigError> {
    if config.renewal.is_some() && (!capabilities.renewal || interop_ids) {
        return Err(ConfigError::RenewalUnsupported);
    }
    Ok(())
}

impl Engine {
    /// Whether the loaded session's id (issued at its `_id_at`, else at its creation) is
    /// at least the renewal interval old at `now`.
    pub(super) fn renewal_due(&self, state: &State, meta: &Meta, now: Timestamp) -> bool {
        let Some(r) = self.0.config.renewal else {
            return false;
        };
        let issued = state
            .stored(ID_ISSUED_AT_KEY)
            .and_then(|text| text.parse::<u64>().ok())
            .map_or(meta.created_at, Timestamp::from_millis);
        now.saturating_since(issued) >= r.interval
    }

    /// The value a rotation or renewal stores under `_id_at`.
    pub(super) fn id_issued_at(now: Timestamp) -> (String, Value) {
        (
            ID_ISSUED_AT_KEY.to_owned(),
            Value::from_trusted_json(now.as_millis().to_string()),
        )
    }

    /// The new id a forward found under `old`'s key leads to. A forward that does not
    /// open (tampered, garbled) counts as absent, with one anomaly event.
    pub(super) fn open_forward(
        &self,
        old: &SessionId,
        key: &StoreKey,
        forward: Option<Vec<u8>>,
    ) -> Option<SessionId> {
        let forward = forward?;
        let new = renewal::open(old, &forward);
        if new.is_none() {
            tracing::warn!(target: "satchel::anomaly", kind = "bad_forward", session = %key.short(), "a renewal's forward record does not open; treated as absent");
        }
        new
    }

    /// After `load(old)` found nothing: follows a live forward to the renewed session
    /// (one more round trip, only for unknown ids and only with renewal configured).
    /// `None`: no forward, or it leads to a session that has ended since.
    pub(super) async fn follow_load(
        &self,
        old: &SessionId,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<Followed>, StoreError> {
        let forward = self.0.store.load_forward(key, now).await?;
        let Some(new) = self.open_forward(old, key, forward) else {
            return Ok(None);
        };
        let loaded = self.0.store.load_packed(&new.store_key(), now).await?;
        Ok(loaded.is_some().then_some((new, loaded)))
    }

    /// Makes a followed forward the request's base: the renewed session, and its cookie
    /// in the response (the browser still holds the old id).
    pub(super) fn adopt_followed(
        &self,
        state: &mut State,
        (new, loaded): Followed,
        now: Timestamp,
    ) -> Result<(), crate::SessionError> {
        let key = new.store_key();
        let expires = loaded.as_ref().map(|(record, _)| record.meta.expires());
        self.loaded(state, new.clone(), &key, Ok(loaded))?;
        if let Some(expires) = expires {
            tracing::debug!(target: "satchel", session = %key.short(), "old id inside the renewal grace window; answered with the renewed session");
            state.cookie = self.cookie_for(&new, expires, now);
        }
        Ok(())
    }

    /// Renews the id of the loaded session under `key`: a fresh id, the forward to it
    /// at `key` until `now` plus the grace window. Returns the outcome and the fresh id.
    pub(super) async fn renew_write(
        &self,
        key: &StoreKey,
        old: [u8; 32],
        patch: &Patch,
        now: Timestamp,
    ) -> (Result<WriteOutcome, StoreError>, Option<SessionId>) {
        let grace = self.0.config.renewal.map(|r| r.grace).unwrap_or_default();
        let old = SessionId::from_raw(old);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let fresh = self.new_id();
            let forward = renewal::seal(&old, &fresh);
            let outcome = self
                .0
                .store
                .renew(
                    key,
                    &fresh.store_key(),
                    patch,
                    &forward,
                    now.saturating_add(grace),
                    now,
                )
                .await;
            match &outcome {
                Ok(WriteOutcome::KeyTaken) if attempts < CREATE_ATTEMPTS => continue,
                _ => return (outcome, Some(fresh)),
            }
        }
    }

    /// A write to the old id found it gone: if a renewal forwarded it, the same write
    /// (same expectations) is replayed once against the renewed id. A renewal of its own
    /// becomes a plain patch there (the id was renewed already: never twice); a login or
    /// `cycle_id` rotates the renewed id. `None`: no forward, the write stays `Gone`.
    pub(super) async fn follow_write(
        &self,
        write: &mut Write,
        now: Timestamp,
    ) -> Option<(Result<WriteOutcome, StoreError>, Option<SessionId>)> {
        let old = SessionId::from_raw(write.id);
        let forward = match self.0.store.load_forward(&write.key, now).await {
            Ok(forward) => forward,
            Err(err) => return Some((Err(err), None)),
        };
        let new = self.open_forward(&old, &write.key, forward)?;
        write.forwarded = true;
        if write.rotate {
            return Some(self.rotate_write(&new.store_key(), &write.patch, now).await);
        }
        if write.renew {
            write.renew = false;
            write.patch.set.retain(|(k, _)| k != ID_ISSUED_AT_KEY);
        }
        let outcome = self
            .0
            .store
            .apply(&new.store_key(), &write.patch, now)
            .await;
        Some((outcome, Some(new)))
    }
}
