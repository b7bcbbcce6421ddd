//! The [`SessionStore`](satchel::SessionStore) implementation every Node-format Redis store
//! shares: each operation is the [`Cas`](super::Cas) operation on the Redis key its
//! [`Layout`](super::Layout) names.

/// `impl SessionStore for $store`, where `$store::cas(&self)` gives its
/// `&Cas<impl Layout>`: `load` = read; `create` = `SET NX`; `apply`, `rotate` and `touch`
/// (an empty patch, so a touch racing a logout never brings the record back) =
/// read → patch → compare-and-set; `delete` = `DEL`.
macro_rules! session_store_over_cas {
    ($store:ty) => {
        impl satchel::SessionStore for $store {
            async fn load(
                &self,
                key: &satchel::StoreKey,
                now: satchel::Timestamp,
            ) -> Result<Option<satchel::Record>, satchel::StoreError> {
                let cas = self.cas();
                cas.load(&cas.key(key), now).await
            }

            async fn create(
                &self,
                key: &satchel::StoreKey,
                record: &satchel::Record,
                now: satchel::Timestamp,
            ) -> Result<satchel::WriteOutcome, satchel::StoreError> {
                let cas = self.cas();
                cas.create(&cas.key(key), record, now).await
            }

            async fn apply(
                &self,
                key: &satchel::StoreKey,
                patch: &satchel::Patch,
                now: satchel::Timestamp,
            ) -> Result<satchel::WriteOutcome, satchel::StoreError> {
                let cas = self.cas();
                cas.write(&cas.key(key), None, patch, now).await
            }

            async fn rotate(
                &self,
                old: &satchel::StoreKey,
                new: &satchel::StoreKey,
                patch: &satchel::Patch,
                now: satchel::Timestamp,
            ) -> Result<satchel::WriteOutcome, satchel::StoreError> {
                let cas = self.cas();
                let new = cas.key(new);
                cas.write(&cas.key(old), Some(&new), patch, now).await
            }

            async fn delete(&self, key: &satchel::StoreKey) -> Result<(), satchel::StoreError> {
                let cas = self.cas();
                cas.delete(&cas.key(key)).await
            }

            async fn touch(
                &self,
                key: &satchel::StoreKey,
                now: satchel::Timestamp,
            ) -> Result<Option<satchel::Expires>, satchel::StoreError> {
                match self.apply(key, &satchel::Patch::default(), now).await? {
                    satchel::WriteOutcome::Applied(expires) => Ok(Some(expires)),
                    _ => Ok(None),
                }
            }

            fn capabilities(&self) -> satchel::Capabilities {
                let mut caps = satchel::Capabilities::NONE;
                caps.atomic_patch = true;
                caps
            }
        }
    };
}

pub(crate) use session_store_over_cas;
