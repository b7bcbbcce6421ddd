//! Time as the session engine sees it: millisecond timestamps and an injectable clock.
//!
//! Every deadline is a [`Timestamp`] (milliseconds since the Unix epoch). All arithmetic
//! saturates: a hostile or absurd duration can never panic or wrap (RUSTSEC-2017-0005 was a
//! panic in exactly this kind of arithmetic).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time: milliseconds since the Unix epoch.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The epoch itself; also "already expired" for any deadline.
    pub const EPOCH: Timestamp = Timestamp(0);
    /// The far future; a deadline that never passes.
    pub const MAX: Timestamp = Timestamp(u64::MAX);

    /// A timestamp `ms` milliseconds after the Unix epoch.
    pub const fn from_millis(ms: u64) -> Self {
        Timestamp(ms)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating at [`Timestamp::MAX`].
    pub fn saturating_add(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_add(duration_millis(d)))
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// The current wall-clock time.
    pub fn now() -> Self {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Timestamp(duration_millis(since))
    }
}

/// A duration in whole milliseconds, saturating at `u64::MAX`.
pub(crate) fn duration_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({}ms)", self.0)
    }
}

/// Where the engine reads the current time.
///
/// Production code uses [`SystemClock`]; tests inject a [`TestClock`] to move time forward
/// without sleeping.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct TestClock(Arc<AtomicU64>);

impl TestClock {
    /// A test clock starting at `start`.
    pub fn new(start: Timestamp) -> Self {
        TestClock(Arc::new(AtomicU64::new(start.as_millis())))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let ms = duration_millis(d);
        // fetch_update never fails here: the closure always returns Some.
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                Some(t.saturating_add(ms))
            });
    }

    /// Sets the clock to `t`.
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.as_millis(), Ordering::SeqCst);
    }
}

impl Default for TestClock {
    /// Starts at 2026-01-01T00:00:00Z, so timestamps in test output are readable.
    fn default() -> Self {
        TestClock::new(Timestamp::from_millis(1_767_225_600_000))
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Timestamp::MAX.saturating_add(Duration::MAX), Timestamp::MAX);
        assert_eq!(
            Timestamp::EPOCH.saturating_since(Timestamp::MAX),
            Duration::ZERO
        );
        assert_eq!(duration_millis(Duration::MAX), u64::MAX);
    }

    #[test]
    fn test_clock_moves_only_when_told() {
        let clock = TestClock::default();
        let t0 = clock.now();
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.now().saturating_since(t0), Duration::from_secs(5));
        let shared = clock.clone();
        shared.advance(Duration::from_millis(1));
        assert_eq!(clock.now(), shared.now());
    }
}
