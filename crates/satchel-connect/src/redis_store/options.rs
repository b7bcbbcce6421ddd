//! [`ConnectRedisOptions`] and the [`CookieTemplate`] new records get.

use std::time::Duration;

use crate::connect_redis::{DEFAULT_PREFIX, DEFAULT_TTL_SECONDS};
use crate::express::{CookieInfo, SameSiteValue};

/// How a [`ConnectRedisStore`](crate::ConnectRedisStore) names keys and maps records.
/// Set these to what the Express app's `RedisStore` and `session()` options say.
#[derive(Debug, Clone)]
pub struct ConnectRedisOptions {
    /// connect-redis's `prefix` (default `sess:`).
    pub prefix: String,
    /// The session property that is satchel's owner (default `Some("user")`): satchel's
    /// `Session::login("alice")` is what Express code sees as `req.session.user = "alice"`,
    /// and an Express handler setting `req.session.user = "alice"` logs the session in as
    /// `alice` for satchel. Only a JSON string there is an owner.
    ///
    /// Writing that property directly (`session.insert("user", …)` in Rust, or any
    /// assignment in Express) therefore changes the owner **without** rotating the id;
    /// log in with `Session::login` on the Rust side.
    ///
    /// `None` keeps the owner where only satchel sees it (in the record's `cookie.satchel`
    /// member), so an Express write forgets it.
    pub owner_key: Option<String>,
    /// The cookie attributes written into records the Rust side creates (what
    /// express-session would have written with the same `cookie` options). Records that
    /// already exist keep their own, as express-session keeps them.
    pub cookie: CookieTemplate,
    /// connect-redis's `ttl` option: how long Redis keeps a record whose cookie has no
    /// expiry (a browser-session cookie), and the idle timeout satchel gives such a record
    /// when Express wrote it last (default 86 400 s).
    pub default_ttl: Duration,
    /// How long one connection attempt may take (default 1 s).
    pub connect_timeout: Duration,
    /// How long one command may take, including waiting for a reconnection (default 1 s).
    pub command_timeout: Duration,
}

impl Default for ConnectRedisOptions {
    fn default() -> Self {
        ConnectRedisOptions {
            prefix: DEFAULT_PREFIX.to_owned(),
            owner_key: Some("user".to_owned()),
            cookie: CookieTemplate::default(),
            default_ttl: Duration::from_secs(DEFAULT_TTL_SECONDS.unsigned_abs()),
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
        }
    }
}

impl ConnectRedisOptions {
    /// The defaults with another key prefix.
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        ConnectRedisOptions {
            prefix: prefix.into(),
            ..ConnectRedisOptions::default()
        }
    }
}

/// The attributes of the `cookie` object in records the Rust side creates, as
/// express-session's `cookie` options (defaults: express-session's, `path: "/"`,
/// `httpOnly: true`, nothing else).
///
/// There is no `maxAge` here: whether the cookie has an expiry follows the satchel
/// session's own expiry policy. A browser-session satchel session is stored as Express
/// stores one without `maxAge` (`originalMaxAge` and `expires` `null`); a persistent one
/// ("remember me", `Session::set_expiry(Expiry::Persistent { .. })`) with
/// `originalMaxAge` = its idle timeout and `expires` = its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieTemplate {
    /// `secure` (absent by default).
    pub secure: Option<bool>,
    /// `httpOnly` (default `true`).
    pub http_only: bool,
    /// `path` (default `/`).
    pub path: String,
    /// `domain` (absent by default).
    pub domain: Option<String>,
    /// `sameSite` (absent by default), e.g. `SameSiteValue::Text("lax".into())`.
    pub same_site: Option<SameSiteValue>,
}

impl Default for CookieTemplate {
    fn default() -> Self {
        let express = CookieInfo::new(None, 0);
        CookieTemplate {
            secure: express.secure,
            http_only: express.http_only,
            path: express.path,
            domain: express.domain,
            same_site: express.same_site,
        }
    }
}

impl CookieTemplate {
    /// The `cookie` object of a new record (times are filled in from the session later).
    pub(crate) fn cookie(&self) -> CookieInfo {
        let mut cookie = CookieInfo::new(None, 0);
        cookie.secure = self.secure;
        cookie.http_only = self.http_only;
        cookie.path.clone_from(&self.path);
        cookie.domain.clone_from(&self.domain);
        cookie.same_site.clone_from(&self.same_site);
        cookie
    }
}
