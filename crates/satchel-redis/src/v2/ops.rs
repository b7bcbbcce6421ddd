//! The store operations in layout v2, as `SessionStore` calls them.

use redis::Value as RValue;
use satchel::{
    Expires, Patch, Record, SessionInfo, StoreError, StoreErrorKind, StoreKey, Timestamp,
    WriteOutcome,
};

use super::{format, forward, pxat, unexpected, IndexChange, Loaded, Move, Token, MAX_ATTEMPTS};
use crate::{codec, RedisStore};

impl RedisStore {
    /// `SessionStore::load`: also keeps the version as the base of the next write.
    pub(crate) async fn load_v2(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<Record>, StoreError> {
        match self.load_versioned(key, now).await? {
            // The record goes to the caller and the bytes to the bases: no copy.
            Some(Loaded {
                token: Token::V2 { value, .. },
                record,
            }) => {
                self.inner.bases.put_stored(key, value);
                Ok(Some(record))
            }
            Some(loaded) => {
                let record = loaded.record.clone();
                self.inner.bases.put(key, loaded);
                Ok(Some(record))
            }
            None => {
                self.inner.bases.forget(key);
                Ok(None)
            }
        }
    }

    /// `SessionStore::apply`: in `key`'s lane, on the base this store knows.
    pub(crate) async fn apply_v2(
        &self,
        key: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let _lane = self.inner.bases.lane(key).await;
        let base = self.inner.bases.take(key);
        let (outcome, stored) = self.apply_on(key, base.map(Into::into), patch, now).await?;
        if let Some(stored) = stored {
            self.inner.bases.put(key, stored);
        }
        Ok(outcome)
    }

    /// `SessionStore::rotate` on one server: one script.
    pub(crate) async fn rotate_v2(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        self.move_v2(old, Move { new, forward: None }, patch, now)
            .await
    }

    /// Rotation and renewal: the record moves from `old` to `mv.new` in `old`'s lane, on
    /// the base this store knows; the version written becomes the base of its new key
    /// (or, when refused, what was found stays the base of the old one).
    async fn move_v2(
        &self,
        old: &StoreKey,
        mv: Move<'_>,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let new = mv.new;
        let _lane = self.inner.bases.lane(old).await;
        let base = self.inner.bases.take(old);
        let (outcome, stored) = self
            .write_loop(old, Some(mv), base.map(Into::into), patch, now)
            .await?;
        match (&outcome, stored) {
            (WriteOutcome::Applied(_), Some(stored)) => self.inner.bases.put(new, stored),
            (_, Some(stored)) => self.inner.bases.put(old, stored),
            _ => {}
        }
        Ok(outcome)
    }

    /// `SessionStore::renew` on one server (standalone, Sentinel): one script, the
    /// rotation's move plus the forward `SET` under `old`'s forward key with
    /// `PXAT grace_until` (`forward.rs`). Version-checked on `old`'s base exactly like a
    /// rotation (same retries, same per-key conflicts, same owner index change).
    pub(crate) async fn renew_v2(
        &self,
        old: &StoreKey,
        new: &StoreKey,
        patch: &Patch,
        bytes: &[u8],
        grace_until: Timestamp,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let value = forward::encode(bytes, grace_until);
        let mv = Move {
            new,
            forward: Some((&value, grace_until)),
        };
        self.move_v2(old, mv, patch, now).await
    }

    /// `SessionStore::load_forward` on one server: one `GET` of the forward key.
    pub(crate) async fn load_forward_v2(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let fk = self.forward_key(key);
        match self.send(redis::cmd("GET").arg(&fk)).await {
            Ok(RValue::Nil) => Ok(None),
            Ok(RValue::BulkString(value)) => forward::decode(&value, now),
            Ok(_) => Err(unexpected()),
            // Not a string (nothing satchel writes there): unreadable, as a forward.
            Err(e) if super::is_wrongtype(&e) => Err(StoreError::msg(
                StoreErrorKind::Corrupt,
                "a renewal forward key holds another type",
            )),
            Err(e) => Err(e),
        }
    }

    /// `SessionStore::create`.
    pub(crate) async fn create_v2(
        &self,
        key: &StoreKey,
        record: &Record,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let k = self.session_key(key);
        let member = key.to_hex();
        let expires = record.meta.expires_at();
        let mut args = vec![
            format::digits(now.as_millis()).to_vec(),
            format::encode(record, format::first_token()),
            pxat(expires),
            format::digits(expires.as_millis()).to_vec(),
        ];
        let mut keys = vec![k];
        if !self.inner.cluster {
            // A live renewal forward holds the key (`scripts::create`).
            keys.push(self.forward_key(key));
        }
        let add = record.meta.owner.as_ref().map(|owner| IndexChange {
            remove: None,
            add: Some((
                owner.clone(),
                member.clone(),
                record.meta.absolute_deadline.as_millis().to_string(),
            )),
        });
        match (&add, self.inner.cluster) {
            (Some(change), false) => self.push_index_args(&mut keys, &mut args, change, now),
            // Cluster: index first, so that dying between the two steps leaves at worst an
            // index entry without a session (never listed, pruned), never a session that
            // revoke_owner cannot find.
            (Some(change), true) => self.index_change_across_slots(change, now).await?,
            (None, _) => {}
        }
        self.inner.bases.forget(key);
        match self.eval_owned(&self.inner.v2.create, &keys, &args).await? {
            RValue::Int(1) => Ok(WriteOutcome::Applied(record.meta.expires())),
            RValue::Int(2) => Ok(WriteOutcome::KeyTaken),
            _ => Err(unexpected()),
        }
    }

    /// `SessionStore::touch`: only the expiry, with `SETRANGE`, computed from the base
    /// (the engine touches only sessions it loaded, so there is one; else a `GET` first).
    /// Records the script cannot touch (layout v1, times beyond 13 digits) take a
    /// version-checked write instead.
    pub(crate) async fn touch_v2(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<Expires>, StoreError> {
        let _lane = self.inner.bases.lane(key).await;
        let base = match self.inner.bases.take(key) {
            Some(b) => Some(b),
            None => self.load_versioned(key, now).await?,
        };
        let Some(mut base) = base else {
            return Ok(None);
        };
        let k = self.session_key(key);
        for _ in 0..MAX_ATTEMPTS {
            if base.record.meta.is_expired(now) {
                return Ok(None);
            }
            let (prefix, mut stored) = match &base.token {
                Token::V2 { prefix, value } if format::touchable(&base.record.meta) => {
                    (*prefix, value.clone())
                }
                _ => {
                    let (outcome, stored) = self
                        .apply_on(key, Some(base.into()), &Patch::default(), now)
                        .await?;
                    if let Some(stored) = stored {
                        self.inner.bases.put(key, stored);
                    }
                    return Ok(match outcome {
                        WriteOutcome::Applied(expires) => Some(expires),
                        _ => None,
                    });
                }
            };
            let mut touched = base.record.clone();
            touched.meta.touch(now);
            let at = touched.meta.expires_at();
            let e = format::digits(at.as_millis());
            let args = [
                prefix.to_vec(),
                format::digits(now.as_millis()).to_vec(),
                e.to_vec(),
                at.as_millis().to_string().into_bytes(),
            ];
            match self.eval(&self.inner.v2.touch, &[&k], &args).await? {
                RValue::Int(1) => {
                    let expires = touched.meta.expires();
                    // What the script left: the same bytes with the new `e`.
                    let mut prefix = prefix;
                    prefix[format::E_AT..].copy_from_slice(&e);
                    if let Some(slot) = stored.get_mut(format::E_AT..format::CAS_LEN) {
                        slot.copy_from_slice(&e);
                    }
                    self.inner.bases.put(
                        key,
                        Loaded {
                            token: Token::V2 {
                                prefix,
                                value: stored,
                            },
                            record: touched,
                        },
                    );
                    return Ok(Some(expires));
                }
                RValue::Int(0) => return Ok(None),
                RValue::Int(-1) => match self.load_versioned(key, now).await? {
                    Some(b) => base = b,
                    None => return Ok(None),
                },
                RValue::BulkString(current) => {
                    let (prefix, record) = format::decode(&current)?;
                    base = Loaded {
                        token: Token::V2 {
                            prefix,
                            value: current,
                        },
                        record,
                    };
                }
                _ => return Err(unexpected()),
            }
        }
        Err(StoreError::msg(
            StoreErrorKind::Unavailable,
            "the session changed under every attempt to touch it; try again",
        ))
    }

    /// `SessionStore::delete`: deletes whatever is there, then its owner index entry.
    pub(crate) async fn delete_v2(&self, key: &StoreKey) -> Result<(), StoreError> {
        let k = self.session_key(key);
        self.inner.bases.forget(key);
        let reply = if self.inner.cluster {
            self.eval(&self.inner.v2.delete, &[&k], &[]).await?
        } else {
            // A renewal's forward under this key goes too.
            let fk = self.forward_key(key);
            self.eval(&self.inner.v2.delete, &[&k, &fk], &[]).await?
        };
        let RValue::Array(items) = reply else {
            return Err(unexpected());
        };
        let owner = match items.as_slice() {
            [RValue::BulkString(kind), RValue::BulkString(v)] if kind == b"2" => {
                // Only the owner matters here: a value that does not decode has none.
                format::decode(v).ok().and_then(|(_, r)| r.meta.owner)
            }
            [RValue::BulkString(kind), RValue::BulkString(o)] if kind == b"1" => {
                String::from_utf8(o.clone()).ok()
            }
            _ => None,
        };
        if let Some(owner) = owner {
            let idx = self.index_key(&owner);
            self.send(redis::cmd("ZREM").arg(&idx).arg(key.to_hex()))
                .await?;
        }
        Ok(())
    }

    /// `SessionStore::sessions_of`: the index, then each listed session, dropping dead
    /// entries.
    pub(crate) async fn sessions_of_v2(
        &self,
        owner: &str,
        now: Timestamp,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let idx = self.index_key(owner);
        let now_ms = now.as_millis().to_string();
        self.send(
            redis::cmd("ZREMRANGEBYSCORE")
                .arg(&idx)
                .arg("-inf")
                .arg(&now_ms),
        )
        .await?;
        let members = codec::strings(
            &self
                .send(redis::cmd("ZRANGE").arg(&idx).arg(0).arg(-1))
                .await?,
        )?;
        let mut out = Vec::new();
        for member in members {
            let Some(key) = StoreKey::from_hex(&member) else {
                self.send(redis::cmd("ZREM").arg(&idx).arg(&member)).await?;
                continue;
            };
            match self.load_versioned(&key, now).await {
                Ok(Some(l)) if l.record.meta.owner.as_deref() == Some(owner) => {
                    let m = l.record.meta;
                    out.push(SessionInfo {
                        key,
                        created_at: m.created_at,
                        idle_deadline: m.idle_deadline,
                        absolute_deadline: m.absolute_deadline,
                    });
                }
                Ok(_) => {
                    self.send(redis::cmd("ZREM").arg(&idx).arg(&member)).await?;
                }
                Err(e) if e.kind() == StoreErrorKind::Corrupt => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(|s| s.created_at);
        Ok(out)
    }

    /// `SessionStore::revoke_owner`: the index, then each listed session still bound to
    /// `owner` deleted by a version-checked delete (a session rebound meanwhile stays).
    ///
    /// Then the index again, until it lists no member this call has not handled: a
    /// session renewed or rotated while the revocation ran moved its member to its new key
    /// in the same script (standalone, Sentinel), before the delete of its old key found
    /// nothing, so the next read of the index lists it (without this a renewal racing the
    /// revocation survived it, and the old id's forward led to it). At most
    /// [`MAX_ATTEMPTS`] reads of the index, then `Unavailable` (sessions moving faster
    /// than they are revoked: not something periodic renewal does).
    pub(crate) async fn revoke_v2(
        &self,
        owner: &str,
        keep: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        let idx = self.index_key(owner);
        let keep = keep.map(StoreKey::to_hex);
        let mut seen = std::collections::HashSet::new();
        let mut n = 0;
        for _ in 0..MAX_ATTEMPTS {
            let members = codec::strings(
                &self
                    .send(redis::cmd("ZRANGE").arg(&idx).arg(0).arg(-1))
                    .await?,
            )?;
            let mut fresh = false;
            for member in members {
                if keep.as_deref() == Some(member.as_str()) || !seen.insert(member.clone()) {
                    continue;
                }
                fresh = true;
                if let Some(key) = StoreKey::from_hex(&member) {
                    n += self.revoke_one(&key, owner).await?;
                }
                self.send(redis::cmd("ZREM").arg(&idx).arg(&member)).await?;
            }
            if !fresh {
                return Ok(n);
            }
        }
        Err(StoreError::msg(
            StoreErrorKind::Unavailable,
            "the owner's sessions moved under every attempt to revoke them; try again",
        ))
    }

    /// Deletes `key` if it is still bound to `owner` (expired records too, as the
    /// contract's count allows): 1 if it deleted it.
    async fn revoke_one(&self, key: &StoreKey, owner: &str) -> Result<u64, StoreError> {
        let k = self.session_key(key);
        self.inner.bases.forget(key);
        for _ in 0..MAX_ATTEMPTS {
            let loaded = match self.load_versioned(key, Timestamp::EPOCH).await {
                Ok(Some(l)) => l,
                Ok(None) => return Ok(0),
                Err(e) if e.kind() == StoreErrorKind::Corrupt => return Ok(0),
                Err(e) => return Err(e),
            };
            if loaded.record.meta.owner.as_deref() != Some(owner) {
                return Ok(0);
            }
            match loaded.token {
                Token::V2 { prefix, .. } => {
                    let args = [prefix.to_vec()];
                    match self.eval(&self.inner.v2.delete_if, &[&k], &args).await? {
                        RValue::Int(1) => return Ok(1),
                        RValue::Int(0 | -1) => {}
                        _ => return Err(unexpected()),
                    }
                }
                Token::V1(_) => {
                    // The v1 script deletes only a hash still bound to `owner`.
                    let args = vec![
                        b"0".to_vec(),
                        key.to_hex().into_bytes(),
                        owner.as_bytes().to_vec(),
                    ];
                    let reply = self.eval(&self.inner.scripts.delete, &[&k], &args).await?;
                    return Ok(codec::deleted_count(&reply));
                }
            }
        }
        Err(StoreError::msg(
            StoreErrorKind::Unavailable,
            "the session changed under every attempt to revoke it; try again",
        ))
    }
}
