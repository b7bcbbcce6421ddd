//! The background cleanup task: deletes expired rows in bounded batches, on a timer, until
//! the store is gone or told to stop.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use satchel::{StoreError, Timestamp};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::config::CleanupOptions;

/// What a store gives the cleanup task: one bounded batch at a time.
pub(crate) trait PurgeBatch: Send + Sync + 'static {
    /// Deletes up to `limit` rows expired at `now`; returns how many.
    fn purge_batch(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// What the cleanup task has done so far (see [`CleanupHandle::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CleanupStats {
    /// Completed runs (each drains batches until one comes back short).
    pub runs: u64,
    /// Delete statements issued.
    pub batches: u64,
    /// Rows deleted.
    pub purged: u64,
    /// The most rows one statement deleted: never above the configured batch size.
    pub largest_batch: u64,
    /// Runs that stopped on a store error (logged; the next run tries again).
    pub failures: u64,
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    wake: Notify,
    runs: AtomicU64,
    batches: AtomicU64,
    purged: AtomicU64,
    largest_batch: AtomicU64,
    failures: AtomicU64,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// Controls a store's background cleanup task. Clones control the same task.
#[derive(Debug, Clone)]
pub struct CleanupHandle(Arc<Shared>);

impl CleanupHandle {
    /// What the task has done so far.
    pub fn stats(&self) -> CleanupStats {
        let s = &self.0;
        CleanupStats {
            runs: s.runs.load(Ordering::Relaxed),
            batches: s.batches.load(Ordering::Relaxed),
            purged: s.purged.load(Ordering::Relaxed),
            largest_batch: s.largest_batch.load(Ordering::Relaxed),
            failures: s.failures.load(Ordering::Relaxed),
        }
    }

    /// Stops the task (after the batch in progress, if any) and waits until it has ended.
    /// The task also stops by itself once every clone of its store has been dropped.
    pub async fn shutdown(&self) {
        self.signal_stop();
        let task = self.0.task.lock().map(|mut t| t.take()).unwrap_or(None);
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Whether the task has ended.
    pub fn is_finished(&self) -> bool {
        self.0
            .task
            .lock()
            .map(|t| t.as_ref().is_none_or(JoinHandle::is_finished))
            .unwrap_or(true)
    }

    fn signal_stop(&self) {
        self.0.stop.store(true, Ordering::SeqCst);
        // notify_one keeps a permit if the task is not waiting right now.
        self.0.wake.notify_one();
    }
}

/// Held by the store's shared state: when the last store clone goes, the task stops.
#[derive(Debug)]
pub(crate) struct CleanupGuard(pub(crate) CleanupHandle);

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        self.0.signal_stop();
    }
}

/// Starts the cleanup task for `store` (held weakly: the task never keeps a store alive).
pub(crate) fn spawn<P: PurgeBatch>(store: Weak<P>, options: CleanupOptions) -> CleanupGuard {
    let shared = Arc::new(Shared::default());
    let task = tokio::spawn(run(store, options, Arc::clone(&shared)));
    if let Ok(mut slot) = shared.task.lock() {
        *slot = Some(task);
    }
    CleanupGuard(CleanupHandle(shared))
}

async fn run<P: PurgeBatch>(store: Weak<P>, options: CleanupOptions, shared: Arc<Shared>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(options.interval) => {}
            () = shared.wake.notified() => {}
        }
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(store) = store.upgrade() else { return };
        drain(&*store, &options, &shared).await;
        shared.runs.fetch_add(1, Ordering::Relaxed);
    }
}

/// One run: batches until one comes back short, pausing between them.
async fn drain<P: PurgeBatch>(store: &P, options: &CleanupOptions, shared: &Shared) {
    let batch = u64::try_from(options.batch_size).unwrap_or(u64::MAX);
    loop {
        match store
            .purge_batch(Timestamp::now(), options.batch_size)
            .await
        {
            Ok(n) => {
                shared.batches.fetch_add(1, Ordering::Relaxed);
                shared.purged.fetch_add(n, Ordering::Relaxed);
                shared.largest_batch.fetch_max(n, Ordering::Relaxed);
                satchel::observe::record_purged(n);
                if n > 0 {
                    tracing::debug!(target: "satchel_sql", purged = n, "expired sessions deleted");
                }
                if n < batch {
                    return;
                }
            }
            Err(err) => {
                shared.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(target: "satchel_sql", error = %err, "deleting expired sessions failed");
                return;
            }
        }
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        tokio::time::sleep(options.pause).await;
    }
}
