//! The 60-second version of the MemoryStore soak (`scripts/faults` runs 10 minutes):
//! sessions constantly created, written and expiring (5 s idle timeout) under 16 clients.
//! What must hold: the store does not keep every expired session, and RSS after warm-up
//! stays within a fixed margin of its value at the end of warm-up.

use std::time::Duration;

use satchel_bench::faults::soak;

#[test]
fn memory_store_soak_stays_flat() {
    let r = soak::run(Duration::from_secs(60), 16, Duration::from_secs(5)).expect("soak");
    eprintln!("{}", r.markdown());
    assert!(r.created > 1000, "too little load to tell anything: {r:?}");
    assert_eq!(r.errors, 0, "requests failed");
    // Expired sessions leave the store: it never holds everything it created. (How far
    // its amortised sweeping lags the idle timeout is measured, not asserted: the store
    // held 9,342 of 16,842 in one 60 s run, docs/reliability.md.)
    assert!(
        r.peak_sessions < usize::try_from(r.created).unwrap_or(usize::MAX),
        "expired sessions are kept: peak {} of {} created",
        r.peak_sessions,
        r.created
    );
    let margin = 32 * 1024 * 1024;
    assert!(
        r.peak <= r.after_warmup + margin,
        "RSS grew by more than 32 MiB after warm-up: {} -> {}",
        r.after_warmup,
        r.peak
    );
}
