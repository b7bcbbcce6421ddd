//! The devices page's view of the store: an owner's sessions through the store's owner
//! index (`sessions_of`), each record loaded for the [`Device`] it holds, and one device
//! revoked through the store's own delete. Server-side only: store keys never leave this
//! file; pages name devices by their [`Device::handle`].

use std::sync::Arc;

use satchel::store::BoxFuture;
use satchel::{Engine, SessionInfo, SessionStore, StoreError, Timestamp};

use super::device::{Device, DEVICE_KEY};

/// The most devices the page lists (and a revoke looks through): a bound on the loads one
/// page view makes, far above what one person has.
pub(super) const MAX_DEVICES: usize = 50;

/// One session of the owner, as the devices page shows it.
#[derive(Debug, Clone)]
pub(super) struct Listed {
    /// Deadlines from the owner index.
    pub(super) info: SessionInfo,
    /// The record's device entry; `None` if it has none (logged in before the demo kept
    /// one) or it could not be read.
    pub(super) device: Option<Device>,
}

/// What the demo can do with an owner's sessions.
#[derive(Clone)]
pub(super) enum Directory {
    /// The store has an owner index: devices can be listed and revoked one by one.
    Indexed(Arc<dyn OwnerIndex>),
    /// It has none; the page says why instead of pretending.
    Unlisted(&'static str),
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Directory::Indexed(_) => f.write_str("Directory::Indexed"),
            Directory::Unlisted(why) => write!(f, "Directory::Unlisted({why:?})"),
        }
    }
}

/// Why sealed cookies cannot be listed, for the page.
pub(super) const SEALED: &str = "Sessions here are sealed into each browser's cookie and \
    kept nowhere on the server, so this page cannot list your devices or sign out one of them. \"Log out \
    everywhere else\" still works: the revocation list then refuses every older cookie of \
    yours, and this browser gets a fresh one.";

/// Why a store without an owner index cannot be listed.
pub(super) const NO_INDEX: &str = "This session store keeps no index of a user's sessions, \
    so the demo cannot list your devices or sign out one of them.";

/// Why the `--compat` modes cannot list sessions, for the page.
pub(super) const COMPAT: &str = "In --compat mode sessions are kept in a Node app's format, \
    which has no index of a user's sessions: the demo cannot list your devices or sign out \
    one of them.";

impl Directory {
    /// The directory for `store` as the engine uses it (a clone shares its data).
    pub(super) fn of<S: SessionStore + Clone>(store: &S, engine: &Engine) -> Self {
        if store.capabilities().owner_index {
            Directory::Indexed(Arc::new(Store {
                store: store.clone(),
                engine: engine.clone(),
            }))
        } else {
            Directory::Unlisted(NO_INDEX)
        }
    }
}

/// An owner's sessions in one store.
pub(super) trait OwnerIndex: Send + Sync + 'static {
    /// Up to [`MAX_DEVICES`] live sessions of `owner`, oldest first, with their devices.
    fn devices<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<Vec<Listed>, StoreError>>;

    /// Deletes `owner`'s session whose device handle is `handle`; whether there was one.
    fn revoke<'a>(
        &'a self,
        owner: &'a str,
        handle: &'a str,
    ) -> BoxFuture<'a, Result<Option<Device>, StoreError>>;
}

struct Store<S> {
    store: S,
    /// For the clock, so the store sees the same `now` as the engine.
    engine: Engine,
}

impl<S: SessionStore> Store<S> {
    /// The owner's sessions with their store keys (which stay in here).
    async fn list(
        &self,
        owner: &str,
        now: Timestamp,
    ) -> Result<Vec<(Listed, satchel::StoreKey)>, StoreError> {
        let mut infos = self.store.sessions_of(owner, now).await?;
        infos.truncate(MAX_DEVICES);
        let mut out = Vec::with_capacity(infos.len());
        for info in infos {
            let device = match self.store.load(&info.key, now).await {
                // Expired or deleted between the index read and this load: not a device.
                Ok(None) => continue,
                Ok(Some(record)) => record
                    .data
                    .get(DEVICE_KEY)
                    .and_then(|v| v.deserialize::<Device>().ok()),
                // An unreadable record is still a session of theirs: listed, unnamed.
                Err(err) if err.kind() == satchel::StoreErrorKind::Corrupt => None,
                Err(err) => return Err(err),
            };
            let key = info.key;
            out.push((Listed { info, device }, key));
        }
        Ok(out)
    }
}

impl<S: SessionStore> OwnerIndex for Store<S> {
    fn devices<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<Vec<Listed>, StoreError>> {
        Box::pin(async move {
            let now = self.engine.now();
            Ok(self
                .list(owner, now)
                .await?
                .into_iter()
                .map(|(l, _)| l)
                .collect())
        })
    }

    fn revoke<'a>(
        &'a self,
        owner: &'a str,
        handle: &'a str,
    ) -> BoxFuture<'a, Result<Option<Device>, StoreError>> {
        Box::pin(async move {
            let now = self.engine.now();
            let found = self
                .list(owner, now)
                .await?
                .into_iter()
                .find(|(l, _)| l.device.as_ref().is_some_and(|d| d.handle == handle));
            let Some((listed, key)) = found else {
                return Ok(None);
            };
            // The store's delete keeps its owner index in step; a request of the revoked
            // device that is in flight cannot bring the record back (no resurrection).
            self.store.delete(&key).await?;
            tracing::info!(target: "satchel::demo", session = %key.short(), "device revoked by its owner");
            Ok(listed.device)
        })
    }
}
