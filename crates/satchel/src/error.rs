//! Errors as values, with their causes kept.
//!
//! No error here ever carries a session id, a cookie value or key material: only kinds,
//! session keys names chosen by the application, and the store's own error as `source()`.

use std::error::Error as StdError;
use std::fmt;

/// What kind of failure a store reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store cannot be reached or refused the operation (connection refused, pool
    /// exhausted, out of memory, read-only replica).
    Unavailable,
    /// The store did not answer in time.
    Timeout,
    /// What the store holds under a key cannot be decoded as a session record.
    Corrupt,
    /// The store does not support the operation (see [`crate::Capabilities`]).
    Unsupported,
    /// Any other backend failure.
    Backend,
}

impl fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreErrorKind::Unavailable => "session store unavailable",
            StoreErrorKind::Timeout => "session store timed out",
            StoreErrorKind::Corrupt => "corrupt session record",
            StoreErrorKind::Unsupported => "operation not supported by this session store",
            StoreErrorKind::Backend => "session store failure",
        })
    }
}

type Source = Box<dyn StdError + Send + Sync + 'static>;

/// A failure reported by a [`crate::SessionStore`].
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    detail: Option<&'static str>,
    source: Option<Source>,
}

impl StoreError {
    /// An error of `kind` caused by `source` (kept, never flattened to a string).
    pub fn new(kind: StoreErrorKind, source: impl Into<Source>) -> Self {
        StoreError {
            kind,
            detail: None,
            source: Some(source.into()),
        }
    }

    /// An error of `kind` with a fixed description and no underlying cause.
    pub fn msg(kind: StoreErrorKind, detail: &'static str) -> Self {
        StoreError {
            kind,
            detail: Some(detail),
            source: None,
        }
    }

    /// Stored data that cannot be decoded; `detail` says what was wrong with it.
    pub fn corrupt(detail: &'static str) -> Self {
        StoreError::msg(StoreErrorKind::Corrupt, detail)
    }

    /// An optional capability this store lacks.
    pub fn unsupported(what: &'static str) -> Self {
        StoreError::msg(StoreErrorKind::Unsupported, what)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}

impl StoreError {
    /// What follows the kind in [`cause_chain`]: the fixed detail, then each cause;
    /// `None` when there is neither.
    fn causes(&self) -> Option<String> {
        let mut text = self.detail.map(str::to_owned);
        let mut source = self.source();
        while let Some(cause) = source {
            let said = cause.to_string();
            match &mut text {
                None => text = Some(said),
                Some(text) if text.ends_with(&said) => {}
                Some(text) => {
                    text.push_str(": ");
                    text.push_str(&said);
                }
            }
            source = cause.source();
        }
        text
    }
}

/// The causes of an error copied by [`SessionError::duplicate`], as the text they printed.
#[derive(Debug)]
struct Summary(String);

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Summary {}

/// `err` and each of its causes, joined by `": "`, for one log line (a cause an error
/// already prints in its own message is not repeated). Store errors carry kinds, the
/// store client's messages (connection refused, WRONGTYPE, a timeout) and decoder
/// messages (positions, expected types), never ids or record contents.
pub(crate) fn cause_chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.detail {
            Some(detail) => write!(f, "{}: {detail}", self.kind),
            None => fmt::Display::fmt(&self.kind, f),
        }
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn StdError + 'static))
    }
}

/// What went wrong with a session during a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionErrorKind {
    /// The store failed (load or save). Default response: 503 with `Retry-After`, except
    /// for an undecodable record ([`StoreErrorKind::Corrupt`], only an error under
    /// [`crate::CorruptRecords::FailClosed`]): 500 without `Retry-After`.
    Store,
    /// Another request changed a key this request read and then wrote; nothing of this
    /// request's changes was saved. Default response: 409.
    Conflict,
    /// The session ended (logged out, revoked, rotated away or expired) while this request
    /// ran; nothing of this request's changes was saved. Default response: 409.
    Gone,
    /// A value could not be serialised to JSON (a bug in the application). Default: 500.
    Serialize,
    /// A stored value does not deserialise into the requested type. Default: 500.
    Deserialize,
    /// The session data would exceed the configured size limit. Default: 500.
    TooLarge,
}

/// An error from a [`crate::Session`] operation.
#[derive(Debug)]
pub struct SessionError {
    kind: SessionErrorKind,
    keys: Vec<String>,
    source: Option<Source>,
}

impl SessionError {
    pub(crate) fn new(kind: SessionErrorKind) -> Self {
        SessionError {
            kind,
            keys: Vec::new(),
            source: None,
        }
    }

    pub(crate) fn store(err: StoreError) -> Self {
        SessionError {
            kind: SessionErrorKind::Store,
            keys: Vec::new(),
            source: Some(Box::new(err)),
        }
    }

    pub(crate) fn conflict(keys: Vec<String>) -> Self {
        SessionError {
            kind: SessionErrorKind::Conflict,
            keys,
            source: None,
        }
    }

    pub(crate) fn with_key(kind: SessionErrorKind, key: &str, source: serde_json::Error) -> Self {
        SessionError {
            kind,
            keys: vec![key.to_owned()],
            source: Some(Box::new(source)),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> SessionErrorKind {
        self.kind
    }

    /// The session keys involved (the conflicting keys for a conflict, the key that failed
    /// to (de)serialise), empty otherwise.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The store error kind, when this is a store failure.
    pub fn store_kind(&self) -> Option<StoreErrorKind> {
        self.source
            .as_ref()
            .and_then(|s| s.downcast_ref::<StoreError>())
            .map(StoreError::kind)
    }

    /// The HTTP status the integrations answer with by default: `503` for a store that
    /// failed, except a record it holds but cannot decode (`500`: a retry cannot fix it,
    /// see [`crate::CorruptRecords::FailClosed`]).
    pub fn default_status(&self) -> u16 {
        match self.kind {
            SessionErrorKind::Store if self.store_kind() == Some(StoreErrorKind::Corrupt) => 500,
            SessionErrorKind::Store => 503,
            SessionErrorKind::Conflict | SessionErrorKind::Gone => 409,
            SessionErrorKind::Serialize
            | SessionErrorKind::Deserialize
            | SessionErrorKind::TooLarge => 500,
        }
    }

    /// A copy fit to hand to another party: same kind and keys, the store error's causes
    /// kept as text (the engine logs this copy when the request ends, so the operator must
    /// find the Redis or SQL cause in it).
    pub(crate) fn duplicate(&self) -> Self {
        let store = self
            .source
            .as_ref()
            .and_then(|s| s.downcast_ref::<StoreError>());
        SessionError {
            kind: self.kind,
            keys: self.keys.clone(),
            source: store.map(|err| {
                let copy = match err.causes() {
                    Some(causes) => StoreError::new(err.kind, Summary(causes)),
                    None => StoreError {
                        kind: err.kind,
                        detail: None,
                        source: None,
                    },
                };
                Box::new(copy) as Source
            }),
        }
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SessionErrorKind::Store => f.write_str("session store failure"),
            SessionErrorKind::Conflict => write!(
                f,
                "session keys changed by a concurrent request: {}",
                self.keys.join(", ")
            ),
            SessionErrorKind::Gone => f.write_str("session ended during this request"),
            SessionErrorKind::Serialize => {
                write!(f, "cannot serialise session value {:?}", self.keys.first())
            }
            SessionErrorKind::Deserialize => {
                write!(
                    f,
                    "cannot deserialise session value {:?}",
                    self.keys.first()
                )
            }
            SessionErrorKind::TooLarge => f.write_str("session data exceeds the size limit"),
        }
    }
}

impl StdError for SessionError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn StdError + 'static))
    }
}

impl From<StoreError> for SessionError {
    fn from(err: StoreError) -> Self {
        SessionError::store(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_keep_their_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = SessionError::store(StoreError::new(StoreErrorKind::Unavailable, io));
        assert_eq!(err.store_kind(), Some(StoreErrorKind::Unavailable));
        let store = err.source().expect("store error");
        assert!(store
            .source()
            .expect("io error")
            .to_string()
            .contains("refused"));
        assert_eq!(err.default_status(), 503);
    }

    #[test]
    fn a_duplicate_keeps_the_cause_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused by test");
        let err = SessionError::store(StoreError::new(StoreErrorKind::Unavailable, io));
        let chain = "session store failure: session store unavailable: refused by test";
        assert_eq!(cause_chain(&err), chain);
        assert_eq!(cause_chain(&err.duplicate()), chain);
        assert_eq!(cause_chain(&err.duplicate().duplicate()), chain);
        let fast = SessionError::store(StoreError::msg(StoreErrorKind::Timeout, "gave up"));
        assert_eq!(
            cause_chain(&fast.duplicate()),
            "session store failure: session store timed out: gave up"
        );
        let bare = SessionError::new(SessionErrorKind::TooLarge);
        assert_eq!(cause_chain(&bare.duplicate()), bare.to_string());
    }

    #[test]
    fn corrupt_records_are_not_retryable() {
        let err = SessionError::store(StoreError::corrupt("not a record"));
        assert_eq!(err.default_status(), 500);
        assert_eq!(err.duplicate().default_status(), 500);
    }
}
