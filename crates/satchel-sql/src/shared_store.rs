//! The `SessionStore` implementation shared by the PostgreSQL and SQLite stores, and the
//! parts of it the MySQL/MariaDB store shares too.
//!
//! Both backends keep the statements that differ in their own `sql.rs` and their own
//! `run_apply`; the calls around them (bind order, row decoding, timeouts, error mapping)
//! are the same text for both, written once here. The macro expands inside each backend's
//! module, so the names it uses (`Inner`, `decode_row`, `bounded`, …) are that module's.

/// Implements `PurgeBatch` for the backend's `Inner` and `SessionStore` for `$store`
/// (PostgreSQL and SQLite; MySQL uses only the parts below).
#[cfg(any(feature = "postgres", feature = "sqlite"))]
macro_rules! shared_session_store {
    ($store:ty) => {
        $crate::shared_store::shared_purge_batch!();

        impl SessionStore for $store {
            async fn load(
                &self,
                key: &StoreKey,
                now: Timestamp,
            ) -> Result<Option<Record>, StoreError> {
                bounded(self.inner.options.operation_timeout(), async {
                    let row = sqlx::query(&self.inner.sql.load)
                        .bind(key_bytes(key))
                        .bind(ms(now))
                        .fetch_optional(&self.inner.pool)
                        .await
                        .map_err(store_error)?;
                    match row {
                        None => Ok(None),
                        Some(row) => decode_row(&row)
                            .map_err(store_error)?
                            .into_record()
                            .map(Some),
                    }
                })
                .await
            }

            async fn create(
                &self,
                key: &StoreKey,
                record: &Record,
                now: Timestamp,
            ) -> Result<WriteOutcome, StoreError> {
                bounded(self.inner.options.operation_timeout(), async {
                    let meta = &record.meta;
                    let row = sqlx::query(&self.inner.sql.create)
                        .bind(key_bytes(key))
                        .bind(ms(now))
                        .bind(codec::encode_data(&record.data))
                        .bind(ms(meta.created_at))
                        .bind(dur_ms(meta.idle_timeout))
                        .bind(ms(meta.idle_deadline))
                        .bind(ms(meta.absolute_deadline))
                        .bind(codec::expiry_bucket(meta))
                        .bind(meta.persistent)
                        .bind(meta.owner.as_deref())
                        .fetch_optional(&self.inner.pool)
                        .await
                        .map_err(store_error)?;
                    Ok(match row {
                        Some(_) => WriteOutcome::Applied(meta.expires()),
                        None => WriteOutcome::KeyTaken,
                    })
                })
                .await
            }

            $crate::shared_store::shared_write_methods!();

            async fn touch(
                &self,
                key: &StoreKey,
                now: Timestamp,
            ) -> Result<Option<Expires>, StoreError> {
                bounded(self.inner.options.operation_timeout(), async {
                    let row = sqlx::query(&self.inner.sql.touch)
                        .bind(key_bytes(key))
                        .bind(ms(now))
                        .fetch_optional(&self.inner.pool)
                        .await
                        .map_err(store_error)?;
                    row.map(|row| {
                        Ok(Expires {
                            at: codec::ts(row.try_get(0)?),
                            persistent: row.try_get(1)?,
                        })
                    })
                    .transpose()
                    .map_err(store_error)
                })
                .await
            }

            async fn sessions_of(
                &self,
                owner: &str,
                now: Timestamp,
            ) -> Result<Vec<SessionInfo>, StoreError> {
                bounded(self.inner.options.operation_timeout(), async {
                    let rows = sqlx::query(&self.inner.sql.sessions_of)
                        .bind(owner)
                        .bind(ms(now))
                        .fetch_all(&self.inner.pool)
                        .await
                        .map_err(store_error)?;
                    rows.iter()
                        .map(|row| {
                            let key: Vec<u8> = row.try_get(0).map_err(store_error)?;
                            Ok(SessionInfo {
                                key: codec::key_from(&key)?,
                                created_at: codec::ts(row.try_get(1).map_err(store_error)?),
                                idle_deadline: codec::ts(row.try_get(2).map_err(store_error)?),
                                absolute_deadline: codec::ts(row.try_get(3).map_err(store_error)?),
                            })
                        })
                        .collect()
                })
                .await
            }

            async fn revoke_owner(
                &self,
                owner: &str,
                keep: Option<&StoreKey>,
            ) -> Result<u64, StoreError> {
                bounded(self.inner.options.operation_timeout(), async {
                    let done = sqlx::query(&self.inner.sql.revoke)
                        .bind(owner)
                        .bind(keep.map(key_bytes))
                        .execute(&self.inner.pool)
                        .await
                        .map_err(store_error)?;
                    Ok(done.rows_affected())
                })
                .await
            }
        }
    };
}

#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) use shared_session_store;

/// Implements `PurgeBatch` for the backend's `Inner`: one bounded `DELETE … LIMIT` on the
/// expiry index, the same statement shape on every backend; when it comes back short, a
/// second one on the forwards table's `grace_until` index takes the rest of the batch, so
/// a batch never deletes more than `limit` rows and a short batch means both are drained.
macro_rules! shared_purge_batch {
    () => {
        impl PurgeBatch for Inner {
            async fn purge_batch(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
                bounded(self.options.operation_timeout(), async {
                    let sessions = sqlx::query(&self.sql.purge)
                        .bind(codec::purge_bound(now))
                        .bind(ms(now))
                        .bind(codec::limit(limit))
                        .execute(&self.pool)
                        .await
                        .map_err(store_error)?
                        .rows_affected();
                    let rest = u64::try_from(limit)
                        .unwrap_or(u64::MAX)
                        .saturating_sub(sessions);
                    if rest == 0 {
                        return Ok(sessions);
                    }
                    let forwards = sqlx::query(&self.sql.purge_forwards)
                        .bind(ms(now))
                        .bind(i64::try_from(rest).unwrap_or(i64::MAX))
                        .execute(&self.pool)
                        .await
                        .map_err(store_error)?
                        .rows_affected();
                    Ok(sessions + forwards)
                })
                .await
            }
        }
    };
}

pub(crate) use shared_purge_batch;

/// The `SessionStore` methods whose calls are the same on every backend (`apply` and
/// `rotate` go through the backend's own `run_apply`), expanded inside each backend's
/// `impl SessionStore`.
macro_rules! shared_write_methods {
    () => {
        async fn apply(
            &self,
            key: &StoreKey,
            patch: &Patch,
            now: Timestamp,
        ) -> Result<WriteOutcome, StoreError> {
            bounded(
                self.inner.options.operation_timeout(),
                self.run_apply(key, None, patch, None, now),
            )
            .await
        }

        async fn rotate(
            &self,
            old: &StoreKey,
            new: &StoreKey,
            patch: &Patch,
            now: Timestamp,
        ) -> Result<WriteOutcome, StoreError> {
            bounded(
                self.inner.options.operation_timeout(),
                self.run_apply(old, Some(new), patch, None, now),
            )
            .await
        }

        async fn renew(
            &self,
            old: &StoreKey,
            new: &StoreKey,
            patch: &Patch,
            forward: &[u8],
            grace_until: Timestamp,
            now: Timestamp,
        ) -> Result<WriteOutcome, StoreError> {
            bounded(
                self.inner.options.operation_timeout(),
                self.run_apply(old, Some(new), patch, Some((forward, ms(grace_until))), now),
            )
            .await
        }

        async fn load_forward(
            &self,
            key: &StoreKey,
            now: Timestamp,
        ) -> Result<Option<Vec<u8>>, StoreError> {
            bounded(self.inner.options.operation_timeout(), async {
                let row = sqlx::query(&self.inner.sql.load_forward)
                    .bind(key_bytes(key))
                    .bind(ms(now))
                    .fetch_optional(&self.inner.pool)
                    .await
                    .map_err(store_error)?;
                row.map(|row| row.try_get::<Vec<u8>, _>(0))
                    .transpose()
                    .map_err(store_error)
            })
            .await
        }

        async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
            bounded(self.inner.options.operation_timeout(), async {
                sqlx::query(&self.inner.sql.delete)
                    .bind(key_bytes(key))
                    .execute(&self.inner.pool)
                    .await
                    .map_err(store_error)?;
                // Where the backend cannot delete both in one statement: the forward, if
                // any (the key holds a session or a forward, and each delete stands alone).
                if let Some(delete_forward) = &self.inner.sql.delete_forward {
                    sqlx::query(delete_forward)
                        .bind(key_bytes(key))
                        .execute(&self.inner.pool)
                        .await
                        .map_err(store_error)?;
                }
                Ok(())
            })
            .await
        }

        fn capabilities(&self) -> Capabilities {
            // Including `renewal` (SEC-49): `renew` moves the row and writes the forward in
            // one statement (PostgreSQL) or one transaction (SQLite, MySQL/MariaDB).
            Capabilities::ALL
        }

        async fn purge_expired(&self, now: Timestamp, limit: usize) -> Result<u64, StoreError> {
            self.inner.purge_batch(now, limit).await
        }
    };
}

pub(crate) use shared_write_methods;
