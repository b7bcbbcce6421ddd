//! What satchel tells operators: metrics through the [`metrics`](https://docs.rs/metrics)
//! facade (feature `metrics`, on by default) and audit events as `tracing` events under
//! [`AUDIT_TARGET`]. Names, labels and fields are listed in `docs/observability.md`.
//!
//! Every metric name and label value is a literal, so each call site's key is a `static`
//! and a call with no recorder installed is a thread-local check, an atomic load and a
//! call into the no-op recorder: no allocation, no lock, no clock. No label ever carries a
//! session id, a store key or an owner; audit events name a session only by its
//! store-key reference ([`crate::StoreKey::short`]: 48 bits of the SHA-256 of the id,
//! which cannot be turned back into a cookie).
//!
//! Install any `metrics` recorder (for Prometheus: `metrics-exporter-prometheus`, as
//! `satchel demo` does for its `/metrics` route) and call [`describe`] once to attach the
//! help texts.

use std::time::Duration;

use crate::error::StoreErrorKind;
use crate::id::StoreKey;

/// The `tracing` target of every audit event. Stable: route it to an audit sink with a
/// target filter (`satchel::audit=info`).
pub const AUDIT_TARGET: &str = "satchel::audit";

/// A store operation, the `op` label of `satchel_store_latency_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Load,
    Create,
    Patch,
    Rotate,
    /// A periodic id renewal (`renew`).
    Renew,
    /// The read of a renewal's forward record after a load found nothing.
    LoadForward,
    Delete,
    Touch,
    SessionsOf,
    RevokeOwner,
    Purge,
}

/// How a load ended, the `result` label of `satchel_store_loads_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loaded {
    Found,
    Absent,
    Failed,
}

/// Why an id rotated, the `reason` label of `satchel_rotations_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rotated {
    Login,
    CycleId,
    /// A periodic id renewal (SEC-49).
    Renewal,
}

/// Registers the help text and unit of every satchel metric with the installed recorder
/// (a no-op without one, or without the `metrics` feature). Call it once after installing
/// the recorder.
pub fn describe() {
    #[cfg(feature = "metrics")]
    imp::describe();
}

/// Counts `n` expired records a store removed on its own (a store's background cleanup,
/// outside [`crate::Engine::purge_expired`], which counts its own): adds to
/// `satchel_purged_records_total`.
pub fn record_purged(n: u64) {
    #[cfg(feature = "metrics")]
    if n > 0 {
        metrics::counter!("satchel_purged_records_total").increment(n);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = n;
}

/// A session of a store engine was stored for the first time.
#[inline]
pub(crate) fn created() {
    #[cfg(feature = "metrics")]
    metrics::counter!("satchel_sessions_created_total").increment(1);
}

#[inline]
pub(crate) fn loaded(result: Loaded) {
    #[cfg(feature = "metrics")]
    match result {
        Loaded::Found => metrics::counter!("satchel_store_loads_total", "result" => "found"),
        Loaded::Absent => metrics::counter!("satchel_store_loads_total", "result" => "absent"),
        Loaded::Failed => metrics::counter!("satchel_store_loads_total", "result" => "failed"),
    }
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = result;
}

/// A store write call was made (`op`: one of the write operations).
#[inline]
pub(crate) fn write(op: Op) {
    #[cfg(feature = "metrics")]
    {
        let counter = match op {
            Op::Create => metrics::counter!("satchel_store_writes_total", "kind" => "create"),
            Op::Patch => metrics::counter!("satchel_store_writes_total", "kind" => "patch"),
            Op::Rotate => metrics::counter!("satchel_store_writes_total", "kind" => "rotate"),
            Op::Renew => metrics::counter!("satchel_store_writes_total", "kind" => "renew"),
            Op::Delete => metrics::counter!("satchel_store_writes_total", "kind" => "delete"),
            Op::Touch => metrics::counter!("satchel_store_writes_total", "kind" => "touch"),
            Op::Load | Op::LoadForward | Op::SessionsOf | Op::RevokeOwner | Op::Purge => return,
        };
        counter.increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = op;
}

/// A store call failed with `kind`.
#[inline]
pub(crate) fn store_error(kind: StoreErrorKind) {
    #[cfg(feature = "metrics")]
    match kind {
        StoreErrorKind::Unavailable => {
            metrics::counter!("satchel_store_errors_total", "kind" => "unavailable")
        }
        StoreErrorKind::Timeout => {
            metrics::counter!("satchel_store_errors_total", "kind" => "timeout")
        }
        StoreErrorKind::Corrupt => {
            metrics::counter!("satchel_store_errors_total", "kind" => "corrupt")
        }
        StoreErrorKind::Unsupported => {
            metrics::counter!("satchel_store_errors_total", "kind" => "unsupported")
        }
        StoreErrorKind::Backend => {
            metrics::counter!("satchel_store_errors_total", "kind" => "backend")
        }
    }
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = kind;
}

/// How long a call to a remote store took. Not recorded for the in-process MemoryStore,
/// whose calls take well under a microsecond: timing them would cost more than they do.
#[inline]
pub(crate) fn latency(op: Op, took: Duration) {
    #[cfg(feature = "metrics")]
    {
        let secs = took.as_secs_f64();
        match op {
            Op::Load => metrics::histogram!("satchel_store_latency_seconds", "op" => "load"),
            Op::Create => metrics::histogram!("satchel_store_latency_seconds", "op" => "create"),
            Op::Patch => metrics::histogram!("satchel_store_latency_seconds", "op" => "patch"),
            Op::Rotate => metrics::histogram!("satchel_store_latency_seconds", "op" => "rotate"),
            Op::Renew => metrics::histogram!("satchel_store_latency_seconds", "op" => "renew"),
            Op::LoadForward => {
                metrics::histogram!("satchel_store_latency_seconds", "op" => "load_forward")
            }
            Op::Delete => metrics::histogram!("satchel_store_latency_seconds", "op" => "delete"),
            Op::Touch => metrics::histogram!("satchel_store_latency_seconds", "op" => "touch"),
            Op::SessionsOf => {
                metrics::histogram!("satchel_store_latency_seconds", "op" => "sessions_of")
            }
            Op::RevokeOwner => {
                metrics::histogram!("satchel_store_latency_seconds", "op" => "revoke_owner")
            }
            Op::Purge => metrics::histogram!("satchel_store_latency_seconds", "op" => "purge"),
        }
        .record(secs);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (op, took);
}

/// Whether store latency is worth measuring (a recorder may want it): `false` without the
/// `metrics` feature, so the clock is not even read.
#[inline]
pub(crate) const fn times_stores() -> bool {
    cfg!(feature = "metrics")
}

/// A session id rotated (the store or the sealer accepted the new id).
#[inline]
pub(crate) fn rotated(reason: Rotated, new: &StoreKey, old: Option<&StoreKey>) {
    #[cfg(feature = "metrics")]
    match reason {
        Rotated::Login => metrics::counter!("satchel_rotations_total", "reason" => "login"),
        Rotated::CycleId => metrics::counter!("satchel_rotations_total", "reason" => "cycle_id"),
        Rotated::Renewal => metrics::counter!("satchel_rotations_total", "reason" => "renewal"),
    }
    .increment(1);
    let previous = old.map(StoreKey::short);
    let previous = previous.as_deref().unwrap_or("");
    match reason {
        Rotated::Login => tracing::info!(
            target: AUDIT_TARGET,
            event = "login",
            session = %new.short(),
            previous,
            "session logged in under a fresh id"
        ),
        Rotated::CycleId => tracing::info!(
            target: AUDIT_TARGET,
            event = "rotation",
            session = %new.short(),
            previous,
            "session id rotated"
        ),
        Rotated::Renewal => tracing::info!(
            target: AUDIT_TARGET,
            event = "renewal",
            session = %new.short(),
            previous,
            "session id renewed after the renewal interval"
        ),
    }
}

/// A logout ended the session under `key` (deleted from the store, or deny-listed;
/// `None`: a sealed cookie dropped without a revocation store, never opened).
pub(crate) fn logged_out(key: Option<&StoreKey>) {
    #[cfg(feature = "metrics")]
    metrics::counter!("satchel_logouts_total").increment(1);
    match key {
        Some(key) => tracing::info!(
            target: AUDIT_TARGET,
            event = "logout",
            session = %key.short(),
            "session logged out"
        ),
        None => tracing::info!(target: AUDIT_TARGET, event = "logout", "session logged out"),
    }
}

/// "Log out everywhere (else)": `revoked` sessions of one owner ended (`None`: sealed
/// sessions, which cannot be counted), `kept` the caller's.
pub(crate) fn revoked(revoked: Option<u64>, kept: Option<&StoreKey>) {
    let kept = kept.map(StoreKey::short);
    let kept = kept.as_deref().unwrap_or("");
    match revoked {
        Some(n) => tracing::info!(
            target: AUDIT_TARGET,
            event = "revoke",
            revoked = n,
            kept,
            "sessions of one owner revoked"
        ),
        None => tracing::info!(
            target: AUDIT_TARGET,
            event = "revoke",
            kept,
            "sealed sessions of one owner revoked (every cookie sealed before now)"
        ),
    }
}

/// A write met a conflict (another request changed a key this one read and wrote).
#[inline]
pub(crate) fn conflict() {
    #[cfg(feature = "metrics")]
    metrics::counter!("satchel_conflicts_total").increment(1);
}

/// A write to a session that ended meanwhile (or was never alive) was refused: it did not
/// bring the session back.
#[inline]
pub(crate) fn resurrection_refused() {
    #[cfg(feature = "metrics")]
    metrics::counter!("satchel_resurrections_refused_total").increment(1);
}

/// A cookie the engine would not use: `kind` is the `kind` of the matching
/// `satchel::anomaly` event (the metric's `class`); the audit event names only its coarse
/// `reason` (`malformed`, `tampered`, `unknown`, `expired`, `revoked`) and the store-key
/// reference when the cookie named a session.
pub(crate) fn cookie_rejected(kind: &'static str, session: Option<&StoreKey>) {
    anomaly(kind);
    let reason = match kind {
        "unknown_id" => "unknown",
        "sealed_tampered" | "sealed_unknown_key" => "tampered",
        "sealed_expired" => "expired",
        "revoked" | "revoked_during_request" => "revoked",
        _ => "malformed",
    };
    match session {
        Some(key) => tracing::info!(
            target: AUDIT_TARGET,
            event = "cookie_rejected",
            reason,
            session = %key.short(),
            "session cookie rejected"
        ),
        None => tracing::info!(
            target: AUDIT_TARGET,
            event = "cookie_rejected",
            reason,
            "session cookie rejected"
        ),
    }
}

/// Counts one `satchel::anomaly` of `kind` (an unreadable record has no audit event: it
/// is the store's content, not the visitor's cookie, that is wrong).
#[inline]
pub(crate) fn anomaly(kind: &'static str) {
    #[cfg(feature = "metrics")]
    anomaly_counter(kind).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = kind;
}

/// The counter for one anomaly class: literal labels only (an unlisted class counts as
/// `other`, so a new class can never turn into an unbounded label).
#[cfg(feature = "metrics")]
fn anomaly_counter(class: &'static str) -> metrics::Counter {
    macro_rules! by_class {
        ($($name:literal),*) => {
            match class {
                $($name => metrics::counter!("satchel_cookie_anomalies_total", "class" => $name),)*
                _ => metrics::counter!("satchel_cookie_anomalies_total", "class" => "other"),
            }
        };
    }
    by_class!(
        "malformed_cookie",
        "duplicate_cookie",
        "oversized_cookie_header",
        "unknown_id",
        "corrupt_record",
        "sealed_malformed",
        "sealed_unknown_key",
        "sealed_tampered",
        "sealed_corrupt",
        "sealed_expired",
        "revoked",
        "revoked_during_request"
    )
}

/// The MemoryStore evicted a live record to make room (`owned`: a logged-in user's).
#[inline]
pub(crate) fn evicted(owned: bool) {
    #[cfg(feature = "metrics")]
    if owned {
        metrics::counter!("satchel_memory_evictions_total", "table" => "owned").increment(1);
    } else {
        metrics::counter!("satchel_memory_evictions_total", "table" => "anonymous").increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = owned;
}

/// Expired records removed by satchel itself (MemoryStore sweeps, `purge_expired`).
#[inline]
pub(crate) fn purged(n: usize) {
    record_purged(n as u64);
}

/// The `Set-Cookie` bytes one response carries (all its session cookies).
#[inline]
pub(crate) fn cookie_bytes(bytes: usize) {
    #[cfg(feature = "metrics")]
    metrics::histogram!("satchel_cookie_bytes").record(bytes as f64);
    #[cfg(not(feature = "metrics"))]
    let _ = bytes;
}

/// The circuit breaker opened: the store is unreachable (`cause`: the failure's cause
/// chain).
pub(crate) fn outage_started(cause: &str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("satchel_store_outages_total").increment(1);
    tracing::warn!(
        target: AUDIT_TARGET,
        event = "store_outage_start",
        cause,
        "session store unreachable; failing fast and probing it until it answers"
    );
}

/// The circuit breaker closed after `down` of failing fast.
pub(crate) fn outage_ended(down: Duration) {
    tracing::info!(
        target: AUDIT_TARGET,
        event = "store_outage_end",
        down_ms = crate::time::duration_millis(down),
        "session store answers again; no longer failing fast"
    );
}

#[cfg(feature = "metrics")]
mod imp {
    use metrics::{describe_counter, describe_histogram, Unit};

    pub(super) fn describe() {
        describe_counter!(
            "satchel_store_loads_total",
            "Session loads from the store, by result (found, absent, failed)."
        );
        describe_counter!(
            "satchel_store_writes_total",
            "Store write calls made, by kind (create, patch, rotate, delete, touch)."
        );
        describe_counter!(
            "satchel_store_errors_total",
            "Store calls that failed, by error kind."
        );
        describe_histogram!(
            "satchel_store_latency_seconds",
            Unit::Seconds,
            "Time a remote store took to answer, by operation (not the in-process MemoryStore)."
        );
        describe_counter!(
            "satchel_sessions_created_total",
            "Sessions stored for the first time."
        );
        describe_counter!(
            "satchel_rotations_total",
            "Session ids rotated, by reason (login, cycle_id)."
        );
        describe_counter!("satchel_logouts_total", "Sessions ended by a logout.");
        describe_counter!(
            "satchel_conflicts_total",
            "Writes refused because another request changed a key this one read."
        );
        describe_counter!(
            "satchel_resurrections_refused_total",
            "Writes to a session that had ended (or was never alive), not brought back."
        );
        describe_counter!(
            "satchel_cookie_anomalies_total",
            "Session cookies not used, by class (the kind of the satchel::anomaly event)."
        );
        describe_counter!(
            "satchel_memory_evictions_total",
            "Live MemoryStore records evicted to make room, by table (anonymous, owned)."
        );
        describe_counter!(
            "satchel_purged_records_total",
            "Expired records removed from the store."
        );
        describe_histogram!(
            "satchel_cookie_bytes",
            Unit::Bytes,
            "Bytes of session Set-Cookie values in one response."
        );
        describe_counter!(
            "satchel_store_outages_total",
            "Times the circuit breaker opened because the store was unreachable."
        );
    }
}
