//! connect-redis's TTL rule (`getTTL`).

use std::sync::Arc;

use super::record::StoredSession;

/// connect-redis's default `ttl` option: one day, in seconds.
pub const DEFAULT_TTL_SECONDS: i64 = 86_400;

/// The `ttl` option.
#[derive(Clone)]
pub enum Ttl {
    /// A number of seconds, used only for sessions whose cookie has no expiry (browser
    /// sessions). `0` means the default, as `opts.ttl || 86400` does.
    Seconds(i64),
    /// A function of the session whose result is used for every session, even those with
    /// an expiry.
    Function(Arc<dyn Fn(&StoredSession) -> i64 + Send + Sync>),
}

impl Default for Ttl {
    fn default() -> Self {
        Ttl::Seconds(DEFAULT_TTL_SECONDS)
    }
}

impl std::fmt::Debug for Ttl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ttl::Seconds(s) => f.debug_tuple("Seconds").field(s).finish(),
            Ttl::Function(_) => f.write_str("Function(..)"),
        }
    }
}

impl Ttl {
    /// The TTL in seconds for `session` at `now_ms`: the function's result; else
    /// `ceil((cookie.expires − now) / 1000)` (negative for an expired cookie); else the
    /// configured seconds.
    pub fn seconds(&self, session: &StoredSession, now_ms: i64) -> i64 {
        match (self, session.cookie.expires) {
            (Ttl::Function(f), _) => f(session),
            (Ttl::Seconds(_), Some(expires)) => ceil_seconds(expires.saturating_sub(now_ms)),
            (Ttl::Seconds(0), None) => DEFAULT_TTL_SECONDS,
            (Ttl::Seconds(s), None) => *s,
        }
    }
}

/// `Math.ceil(ms / 1000)`: 1500 → 2, 3599001 → 3600, -4500 → -4, -5000 → -5.
pub(crate) fn ceil_seconds(ms: i64) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_like_javascript() {
        for (ms, s) in [
            (1500, 2),
            (3_599_001, 3600),
            (3_600_000, 3600),
            (0, 0),
            (-1, 0),
            (-4500, -4),
            (-5000, -5),
        ] {
            assert_eq!(ceil_seconds(ms), s, "{ms}");
        }
    }
}
