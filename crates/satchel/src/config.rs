//! Session configuration, validated once at build time.
//!
//! Defaults follow OWASP (SEC-7…SEC-10): cookie `id`, `HttpOnly`, `Secure`,
//! `SameSite=Lax`, `Path=/`, no `Domain`, no `Max-Age` (a browser-session cookie), a
//! 30-minute idle timeout and a 12-hour absolute timeout. Every unsafe combination is a
//! [`ConfigError`] from [`SessionConfigBuilder::build`], never a surprise at request time.

use std::fmt;
use std::time::Duration;

use crate::breaker::BreakerPolicy;

/// The cookie's `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on same-site requests only.
    Strict,
    /// Also sent on top-level cross-site navigations with safe methods (the default).
    Lax,
    /// Sent on every request; requires `Secure`.
    None,
}

/// What [`crate::Session::login`] does with the data the session already holds.
///
/// The id always rotates and the owner is always rebound; this only decides whether the
/// stored keys come along. Keys the login's own request writes are kept in every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LoginData {
    /// Keep the data when the session was anonymous (a cart survives the login) or bound
    /// to the same owner (a re-login); clear it when it was bound to a different owner, so
    /// one user's data never becomes another's (Django's `login` does the same). The
    /// default. A login that did not read the session first costs one `load` to learn the
    /// previous owner.
    #[default]
    KeepUnlessOtherOwner,
    /// Always keep the data, whoever was logged in before.
    Keep,
    /// Always start the logged-in session with empty data.
    Clear,
}

/// A configuration mistake found by [`SessionConfigBuilder::build`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The cookie name is empty or contains characters not allowed in a cookie name.
    #[error("invalid cookie name: must be a non-empty RFC 6265 token")]
    InvalidCookieName,
    /// The path does not start with `/` or contains `;` or control characters.
    #[error("invalid cookie path: must start with '/' and contain no ';' or control characters")]
    InvalidPath,
    /// The domain is empty or contains characters not allowed in a domain.
    #[error("invalid cookie domain")]
    InvalidDomain,
    /// A `__Host-` cookie must be `Secure`, have `Path=/` and no `Domain`.
    #[error("a __Host- cookie must be Secure, have Path=/ and no Domain")]
    HostPrefix,
    /// A `__Secure-` cookie must be `Secure`.
    #[error("a __Secure- cookie must be Secure")]
    SecurePrefix,
    /// `SameSite=None` without `Secure` is rejected by browsers and unsafe.
    #[error("SameSite=None requires Secure")]
    SameSiteNoneWithoutSecure,
    /// A cookie without `Secure` needs the explicit `dangerous_insecure_cookies()` opt-in.
    #[error("Secure=false requires dangerous_insecure_cookies() (plain-HTTP development only)")]
    InsecureWithoutOptIn,
    /// The idle timeout must be positive and no longer than the absolute timeout.
    #[error("timeouts: need 0 < idle timeout <= absolute timeout")]
    Timeouts,
    /// The touch threshold is a percentage of the idle timeout: 0 to 100.
    #[error("touch threshold must be a percentage from 0 to 100")]
    TouchPercent,
    /// Id renewal: the grace window must be positive, at most 5 minutes and shorter than
    /// the renewal interval.
    #[error("id renewal: need 0 < renewal grace <= 5 min and grace < renewal interval")]
    Renewal,
    /// An engine configured with a renewal interval over a store that does not claim
    /// [`crate::Capabilities::renewal`], or with an interop id format (renewal is for
    /// satchel's own ids). Found by the engine's constructor, never at request time.
    #[error("id renewal is configured but the store does not claim renewal (or ids are in an interop format)")]
    RenewalUnsupported,
}

/// The grace window unless [`SessionConfigBuilder::renewal_grace`] sets one.
const DEFAULT_RENEWAL_GRACE: Duration = Duration::from_secs(30);

/// The most a renewal grace window may last: an old id stays usable that long after its
/// renewal, so the window stays short.
pub const MAX_RENEWAL_GRACE: Duration = Duration::from_secs(5 * 60);

/// Periodic id renewal (SEC-49, `docs/id-renewal.md`): off unless
/// [`SessionConfigBuilder::renew_id_after`] is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renewal {
    /// Once an id is this old, the next request renews it.
    pub interval: Duration,
    /// How long the old id still leads to the renewed session afterwards.
    pub grace: Duration,
}

/// What the engine does with a stored record it cannot decode (a store reported
/// [`crate::StoreErrorKind::Corrupt`]): a record written by another program in a shape
/// satchel cannot read, an older format, a manual edit. A retry can never fix it, so it
/// never gets the `503` + `Retry-After` of an unavailable store. See `docs/corrupt-records.md`
/// for the answer of each operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptRecords {
    /// The default: the request goes on as if the record did not exist (anonymous; reads
    /// see nothing; a write starts a brand-new session under a fresh id, never merged with
    /// the unreadable record), the cookie is removed, one `satchel::anomaly` warning names
    /// the store-key reference and the cause, and the record is deleted (best effort) so
    /// nothing reads it again.
    #[default]
    TreatAsAbsent,
    /// Fail the request, as before: the session operation errors and the response is a
    /// `500` (no `Retry-After`) until the record expires or is deleted.
    FailClosed,
}

/// Validated session configuration, shared by every integration.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionConfig {
    pub(crate) cookie_name: String,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) secure: bool,
    pub(crate) http_only: bool,
    pub(crate) same_site: SameSite,
    pub(crate) idle_timeout: Duration,
    pub(crate) absolute_timeout: Duration,
    pub(crate) touch_percent: u8,
    pub(crate) max_data_bytes: usize,
    pub(crate) max_cookie_header_bytes: usize,
    /// `None`: calls to a failing store each wait for the store's own timeout.
    pub(crate) circuit_breaker: Option<BreakerPolicy>,
    pub(crate) login_data: LoginData,
    pub(crate) corrupt_records: CorruptRecords,
    pub(crate) auth_statuses: crate::auth::AuthStatuses,
    /// `None` (the default): ids change only on login and `cycle_id`.
    pub(crate) renewal: Option<Renewal>,
    /// The grace window set before (or without) an interval; applied by `build`.
    pub(crate) renewal_grace: Duration,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("cookie_name", &self.cookie_name)
            .field("path", &self.path)
            .field("domain", &self.domain)
            .field("secure", &self.secure)
            .field("http_only", &self.http_only)
            .field("same_site", &self.same_site)
            .field("idle_timeout", &self.idle_timeout)
            .field("absolute_timeout", &self.absolute_timeout)
            .field("touch_percent", &self.touch_percent)
            .field("circuit_breaker", &self.circuit_breaker)
            .field("login_data", &self.login_data)
            .field("corrupt_records", &self.corrupt_records)
            .field("auth_statuses", &self.auth_statuses)
            .field("renewal", &self.renewal)
            .finish_non_exhaustive()
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            cookie_name: "id".to_owned(),
            path: "/".to_owned(),
            domain: None,
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 3600),
            touch_percent: 10,
            max_data_bytes: 64 * 1024,
            max_cookie_header_bytes: 16 * 1024,
            circuit_breaker: Some(BreakerPolicy::default()),
            login_data: LoginData::default(),
            corrupt_records: CorruptRecords::TreatAsAbsent,
            auth_statuses: crate::auth::AuthStatuses::default(),
            renewal: None,
            renewal_grace: DEFAULT_RENEWAL_GRACE,
        }
    }
}

impl SessionConfig {
    /// A builder starting from the secure defaults.
    pub fn builder() -> SessionConfigBuilder {
        SessionConfigBuilder {
            config: SessionConfig::default(),
            insecure_opt_in: false,
        }
    }

    /// The cookie name.
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// The idle timeout given to new sessions.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// The absolute timeout given to new sessions.
    pub fn absolute_timeout(&self) -> Duration {
        self.absolute_timeout
    }

    /// The cookie's `Secure` attribute.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// How a store outage is handled: `Some` policy when the engine fails fast behind a
    /// [`crate::CircuitBreaker`] (the default), `None` when every call reaches the store.
    pub fn circuit_breaker(&self) -> Option<BreakerPolicy> {
        self.circuit_breaker
    }

    /// What a login does with the data the session already holds.
    pub fn login_data(&self) -> LoginData {
        self.login_data
    }

    /// What the engine does with a stored record it cannot decode.
    pub fn corrupt_records(&self) -> CorruptRecords {
        self.corrupt_records
    }

    /// The statuses the integrations answer an [`crate::auth::AuthRejection`] with.
    pub fn auth_statuses(&self) -> crate::auth::AuthStatuses {
        self.auth_statuses
    }

    /// Periodic id renewal, if configured.
    pub fn renewal(&self) -> Option<Renewal> {
        self.renewal
    }

    /// Whether a read-only request at `elapsed` into an idle window should extend it.
    pub(crate) fn touch_due(&self, elapsed: Duration, idle_timeout: Duration) -> bool {
        // elapsed / idle >= percent / 100, in integers.
        elapsed.as_millis() * 100 >= idle_timeout.as_millis() * u128::from(self.touch_percent)
    }
}

/// Builds a [`SessionConfig`]; see the module docs for the defaults.
#[derive(Debug, Clone)]
pub struct SessionConfigBuilder {
    config: SessionConfig,
    insecure_opt_in: bool,
}

impl SessionConfigBuilder {
    /// The cookie name (default `id`). A `__Host-` or `__Secure-` prefix is validated.
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.config.cookie_name = name.into();
        self
    }

    /// The cookie `Path` (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.config.path = path.into();
        self
    }

    /// The cookie `Domain` (default: none, so the cookie stays on the exact host).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.config.domain = Some(domain.into());
        self
    }

    /// The cookie `SameSite` attribute (default `Lax`).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.config.same_site = same_site;
        self
    }

    /// Whether scripts may read the cookie: `HttpOnly` (default `true`).
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.config.http_only = http_only;
        self
    }

    /// Drops `Secure` so the cookie works over plain HTTP. For local development only: on
    /// any real network the id then travels in clear text.
    pub fn dangerous_insecure_cookies(mut self) -> Self {
        self.config.secure = false;
        self.insecure_opt_in = true;
        self
    }

    /// Sets `Secure` explicitly; `false` also needs [`Self::dangerous_insecure_cookies`].
    pub fn secure(mut self, secure: bool) -> Self {
        self.config.secure = secure;
        self
    }

    /// How long a session may sit unused (default 30 minutes).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// How long a session may live at most, however active (default 12 hours).
    pub fn absolute_timeout(mut self, timeout: Duration) -> Self {
        self.config.absolute_timeout = timeout;
        self
    }

    /// A read-only request extends the idle deadline only once this percentage of the idle
    /// timeout has passed since the last extension (default 10; 0 touches every request).
    /// Higher values save writes and let sessions end up to that share earlier.
    pub fn touch_after_percent(mut self, percent: u8) -> Self {
        self.config.touch_percent = percent;
        self
    }

    /// The most bytes of keys and JSON values one session may hold (default 64 KiB).
    pub fn max_data_bytes(mut self, bytes: usize) -> Self {
        self.config.max_data_bytes = bytes;
        self
    }

    /// What a login does with the data the session already holds (default
    /// [`LoginData::KeepUnlessOtherOwner`]).
    pub fn login_data(mut self, policy: LoginData) -> Self {
        self.config.login_data = policy;
        self
    }

    /// Requests whose `Cookie` headers add up to more than this many bytes are treated as
    /// carrying no session (default 16 KiB).
    pub fn max_cookie_header_bytes(mut self, bytes: usize) -> Self {
        self.config.max_cookie_header_bytes = bytes;
        self
    }

    /// How the engine waits between probes of a store that is down (default
    /// [`BreakerPolicy::default`]: 100 ms doubling to 2 s). Every store except the
    /// in-process [`crate::MemoryStore`] is wrapped in a [`crate::CircuitBreaker`]: once a
    /// call fails as `Unavailable` or `Timeout`, requests answer 503 at once instead of
    /// each waiting for the store's own timeout, until a probe gets an answer.
    pub fn store_circuit_breaker(mut self, policy: BreakerPolicy) -> Self {
        self.config.circuit_breaker = Some(policy);
        self
    }

    /// Every request reaches the store even while it is down, each waiting for the store's
    /// own timeout (tests that switch a store's failures on and off per request want this;
    /// production rarely does).
    pub fn no_store_circuit_breaker(mut self) -> Self {
        self.config.circuit_breaker = None;
        self
    }

    /// What the engine does with a stored record it cannot decode (default
    /// [`CorruptRecords::TreatAsAbsent`]).
    pub fn corrupt_records(mut self, policy: CorruptRecords) -> Self {
        self.config.corrupt_records = policy;
        self
    }

    /// The statuses for requests the `Authenticated` extractors refuse (default `401` for
    /// both: not logged in, and logged in too long ago for the action).
    pub fn auth_statuses(mut self, statuses: crate::auth::AuthStatuses) -> Self {
        self.config.auth_statuses = statuses;
        self
    }

    /// Renews the session id once it is `interval` old (SEC-49; off by default): the next
    /// request, read-only ones included, moves the session to a fresh id and answers with
    /// its cookie; the old id leads to the renewed session for [`Self::renewal_grace`]
    /// (so other tabs' requests in flight do not fail) and is dead afterwards. Needs a
    /// store that claims [`crate::Capabilities::renewal`] (the engine's constructor checks).
    pub fn renew_id_after(mut self, interval: Duration) -> Self {
        self.config.renewal = Some(Renewal {
            interval,
            grace: self.config.renewal_grace,
        });
        self
    }

    /// How long an id renewed by [`Self::renew_id_after`] stays usable (default 30 s, at
    /// most [`MAX_RENEWAL_GRACE`], shorter than the interval).
    pub fn renewal_grace(mut self, grace: Duration) -> Self {
        self.config.renewal_grace = grace;
        if let Some(r) = &mut self.config.renewal {
            r.grace = grace;
        }
        self
    }

    /// Validates and returns the configuration.
    ///
    /// # Errors
    /// A [`ConfigError`] for each rule in its documentation.
    pub fn build(self) -> Result<SessionConfig, ConfigError> {
        let c = self.config;
        if c.cookie_name.is_empty() || !c.cookie_name.bytes().all(is_token_byte) {
            return Err(ConfigError::InvalidCookieName);
        }
        if !c.path.starts_with('/') || c.path.bytes().any(|b| b == b';' || b.is_ascii_control()) {
            return Err(ConfigError::InvalidPath);
        }
        if let Some(domain) = &c.domain {
            let ok = !domain.is_empty()
                && domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if !ok {
                return Err(ConfigError::InvalidDomain);
            }
        }
        if !c.secure && !self.insecure_opt_in {
            return Err(ConfigError::InsecureWithoutOptIn);
        }
        if c.same_site == SameSite::None && !c.secure {
            return Err(ConfigError::SameSiteNoneWithoutSecure);
        }
        // Browsers match prefixes case-insensitively (RFC 6265bis), so must we.
        let lower = c.cookie_name.to_ascii_lowercase();
        if lower.starts_with("__host-") && (!c.secure || c.path != "/" || c.domain.is_some()) {
            return Err(ConfigError::HostPrefix);
        }
        if lower.starts_with("__secure-") && !c.secure {
            return Err(ConfigError::SecurePrefix);
        }
        if c.idle_timeout.is_zero() || c.idle_timeout > c.absolute_timeout {
            return Err(ConfigError::Timeouts);
        }
        if c.touch_percent > 100 {
            return Err(ConfigError::TouchPercent);
        }
        if let Some(r) = c.renewal {
            if r.grace.is_zero() || r.grace > MAX_RENEWAL_GRACE || r.grace >= r.interval {
                return Err(ConfigError::Renewal);
            }
        }
        Ok(c)
    }
}

/// RFC 6265 `token` characters (RFC 7230 tchar).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_secure() {
        let c = SessionConfig::builder()
            .build()
            .expect("defaults are valid");
        assert_eq!(c.cookie_name, "id");
        assert!(c.secure && c.http_only);
        assert_eq!(c.same_site, SameSite::Lax);
        assert_eq!(c.path, "/");
        assert_eq!(c.domain, None);
    }

    #[test]
    fn unsafe_combinations_are_build_errors() {
        let b = SessionConfig::builder;
        assert_eq!(
            b().secure(false).build(),
            Err(ConfigError::InsecureWithoutOptIn)
        );
        assert_eq!(
            b().dangerous_insecure_cookies()
                .same_site(SameSite::None)
                .build(),
            Err(ConfigError::SameSiteNoneWithoutSecure)
        );
        assert_eq!(
            b().cookie_name("__Host-id").domain("example.com").build(),
            Err(ConfigError::HostPrefix)
        );
        assert_eq!(
            b().cookie_name("__Host-id").path("/app").build(),
            Err(ConfigError::HostPrefix)
        );
        assert_eq!(
            b().cookie_name("__host-id")
                .dangerous_insecure_cookies()
                .build(),
            Err(ConfigError::HostPrefix)
        );
        assert_eq!(
            b().cookie_name("__Secure-id")
                .dangerous_insecure_cookies()
                .build(),
            Err(ConfigError::SecurePrefix)
        );
        assert_eq!(
            b().cookie_name("a b").build(),
            Err(ConfigError::InvalidCookieName)
        );
        assert_eq!(
            b().cookie_name("").build(),
            Err(ConfigError::InvalidCookieName)
        );
        assert_eq!(b().path("x").build(), Err(ConfigError::InvalidPath));
        assert_eq!(b().path("/;x").build(), Err(ConfigError::InvalidPath));
        assert_eq!(b().domain("a;b").build(), Err(ConfigError::InvalidDomain));
        assert_eq!(
            b().idle_timeout(Duration::from_secs(10))
                .absolute_timeout(Duration::from_secs(5))
                .build(),
            Err(ConfigError::Timeouts)
        );
        assert_eq!(
            b().touch_after_percent(101).build(),
            Err(ConfigError::TouchPercent)
        );
        assert!(b().cookie_name("__Host-id").build().is_ok());
        assert!(b().same_site(SameSite::None).build().is_ok());
    }

    #[test]
    fn touch_threshold() {
        let c = SessionConfig::default();
        let idle = Duration::from_secs(100);
        assert!(!c.touch_due(Duration::from_secs(9), idle));
        assert!(c.touch_due(Duration::from_secs(10), idle));
    }
}
