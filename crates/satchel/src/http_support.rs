//! Small, framework-free helpers for integrations.
//!
//! Every integration (`satchel-axum`, `satchel-actix`, …) turns an [`crate::Finish`] into
//! response headers the same way; the few decisions in that translation live here, as plain
//! `u16`s, strings and bytes, so the integrations answer identically without sharing an HTTP
//! crate (axum uses `http` 1, actix-web `http` 0.2).
//!
//! The response of a request whose session failed ([`crate::Finish::error`]) is replaced by
//! an error response: status from [`ErrorStatuses::reply`], `Retry-After` when it says so,
//! `Cache-Control: no-store` ([`NO_STORE`]), `Vary: Cookie` ([`crate::Finish::vary_cookie`]
//! is always set then), an empty body, no `Set-Cookie`. A request refused by
//! [`crate::csrf::CsrfCheck`] gets the same headers with status
//! [`crate::csrf::REFUSED_STATUS`], before any session exists. Otherwise the
//! integration appends `Set-Cookie`, sets `Cache-Control: no-store` when
//! [`crate::Finish::no_store`], and appends `Vary: Cookie` ([`VARY_COOKIE`]) when
//! [`crate::Finish::vary_cookie`] unless [`varies_on_cookie`] says the response already
//! varies on it.

use crate::error::{SessionError, SessionErrorKind, StoreErrorKind};

/// The `Cache-Control` value for responses that set or clear the cookie, and error responses.
pub const NO_STORE: &str = "no-store";

/// The `Vary` value for responses that depend on the session cookie.
pub const VARY_COOKIE: &str = "Cookie";

/// The `Retry-After` value (seconds) sent with a `503` for a store failure.
pub const RETRY_AFTER_SECS: &str = "1";

/// The statuses an integration answers with when a request's session fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorStatuses {
    /// A store failure ([`SessionErrorKind::Store`]); default `503`.
    pub store: u16,
    /// A conflict, or a session that ended during the request ([`SessionErrorKind::Conflict`],
    /// [`SessionErrorKind::Gone`]); default `409`.
    pub conflict: u16,
}

impl Default for ErrorStatuses {
    fn default() -> Self {
        ErrorStatuses {
            store: 503,
            conflict: 409,
        }
    }
}

/// What replaces the response of a request whose session failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorReply {
    /// The status.
    pub status: u16,
    /// The `Retry-After` value, if one is sent (with a `503` only).
    pub retry_after: Option<&'static str>,
}

impl ErrorStatuses {
    /// The error response for `err`: the configured status for store failures and
    /// conflicts, `500` for the rest (application bugs: (de)serialisation, size limit) and
    /// for a stored record the store cannot decode ([`StoreErrorKind::Corrupt`], an error
    /// only under [`crate::CorruptRecords::FailClosed`]): a retry cannot fix it, so it is
    /// never answered as an unavailable store.
    pub fn reply(&self, err: &SessionError) -> ErrorReply {
        let status = match err.kind() {
            SessionErrorKind::Store if err.store_kind() == Some(StoreErrorKind::Corrupt) => 500,
            SessionErrorKind::Store => self.store,
            SessionErrorKind::Conflict | SessionErrorKind::Gone => self.conflict,
            SessionErrorKind::Serialize
            | SessionErrorKind::Deserialize
            | SessionErrorKind::TooLarge => 500,
        };
        ErrorReply {
            status,
            retry_after: (status == 503).then_some(RETRY_AFTER_SECS),
        }
    }
}

/// Whether the response's `Vary` header values already cover the cookie: a `Cookie` token
/// (any case) or `*`.
pub fn varies_on_cookie<'a, I>(vary_values: I) -> bool
where
    I: IntoIterator<Item = &'a [u8]>,
{
    vary_values.into_iter().any(|value| {
        value.split(|&b| b == b',').any(|token| {
            let token = token.trim_ascii();
            token == b"*" || token.eq_ignore_ascii_case(VARY_COOKIE.as_bytes())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StoreError;

    #[test]
    fn statuses_by_kind() {
        let s = ErrorStatuses::default();
        let store = SessionError::from(StoreError::msg(StoreErrorKind::Unavailable, "down"));
        assert_eq!(
            s.reply(&store),
            ErrorReply {
                status: 503,
                retry_after: Some("1")
            }
        );
        let conflict = SessionError::conflict(vec!["n".into()]);
        assert_eq!(s.reply(&conflict).status, 409);
        assert_eq!(s.reply(&conflict).retry_after, None);
        let gone = SessionError::new(SessionErrorKind::Gone);
        assert_eq!(s.reply(&gone).status, 409);
        let large = SessionError::new(SessionErrorKind::TooLarge);
        assert_eq!(s.reply(&large).status, 500);
        let custom = ErrorStatuses {
            store: 500,
            conflict: 412,
        };
        assert_eq!(custom.reply(&store).retry_after, None);
        assert_eq!(custom.reply(&conflict).status, 412);
        // A 503 chosen for conflicts also tells the client when to retry.
        let conflict_503 = ErrorStatuses {
            store: 503,
            conflict: 503,
        };
        assert_eq!(conflict_503.reply(&conflict).retry_after, Some("1"));
    }

    #[test]
    fn corrupt_records_are_500_without_retry_after() {
        let corrupt = SessionError::from(StoreError::corrupt("not a record"));
        let want = ErrorReply {
            status: 500,
            retry_after: None,
        };
        assert_eq!(ErrorStatuses::default().reply(&corrupt), want);
        assert_eq!(ErrorStatuses::default().reply(&corrupt.duplicate()), want);
    }

    #[test]
    fn vary_detection() {
        let v = |values: &[&str]| varies_on_cookie(values.iter().map(|s| s.as_bytes()));
        assert!(!v(&[]));
        assert!(!v(&["Accept-Encoding"]));
        assert!(!v(&["Cookies, X-Cookie"]));
        assert!(v(&["Accept-Encoding", "cookie"]));
        assert!(v(&["Accept-Encoding,\tCOOKIE "]));
        assert!(v(&["*"]));
        assert!(v(&[" * , Origin"]));
        // Non-UTF-8 bytes elsewhere in the value do not hide the token.
        assert!(varies_on_cookie([b"\xff, Cookie".as_slice()]));
    }
}
