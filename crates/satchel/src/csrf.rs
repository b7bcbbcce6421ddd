//! Cross-site request forgery defences, framework-free.
//!
//! Two layers, as OWASP's CSRF cheat sheet recommends:
//!
//! - [`CsrfCheck`]: a request-level check the integrations run before the handler (on by
//!   default in `satchel-axum` and `satchel-actix`). An unsafe method (anything but `GET`,
//!   `HEAD`, `OPTIONS`, `TRACE`) is refused when the browser says it comes from another site
//!   (`Sec-Fetch-Site: cross-site`), or, from browsers without Fetch Metadata, when its
//!   `Origin` is not the request's own origin. Requests with neither header (curl, server
//!   to server) pass unless [`CsrfCheck::require_browser_headers`] is set. A refused request
//!   answers [`REFUSED_STATUS`], runs no handler, touches no store and sets no cookie.
//!   `SameSite=Lax` alone does not stop a top-level cross-site form post from logging a
//!   visitor into an attacker's account (login CSRF): this check does.
//! - A session-bound token for HTML forms: [`crate::Session::csrf_token`] issues a random
//!   token kept in the session (under [`CSRF_KEY`]), the page puts it in a hidden field, and
//!   [`crate::Session::verify_csrf_token`] compares what comes back in constant time.
//!
//! The token lives in the session's data, so it follows the data through a login: kept
//! when the login keeps the data (an anonymous visitor's, or a re-login), gone when the
//! login clears it ([`crate::LoginData`]), and gone with the session at logout; the next
//! [`crate::Session::csrf_token`] issues a fresh one. A form rendered before such a login
//! then fails verification, as it should.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use subtle::ConstantTimeEq as _;

use crate::error::SessionError;
use crate::session::Session;
use crate::state::{Base, Rotation};

/// The status of a response to a refused request.
pub const REFUSED_STATUS: u16 = 403;

/// The session key under which [`Session::csrf_token`] keeps the token.
pub const CSRF_KEY: &str = "_csrf";

/// How many random bytes a token carries (256 bits, like a session id).
const TOKEN_BYTES: usize = 32;

/// The request-level CSRF check: see the [module docs](self) for the rules.
///
/// The default is the secure one: cross-site and same-site (a sibling subdomain) unsafe
/// requests are refused, the request's own origin is taken from its `Host` header, and
/// clients that send neither `Origin` nor `Sec-Fetch-Site` pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsrfCheck {
    allow_same_site: bool,
    trusted: Vec<String>,
    public: Vec<String>,
    require_headers: bool,
}

/// What [`CsrfCheck::check`] looks at: the method and three headers, as raw bytes (the
/// first value of each, as the integration's header map gives it).
#[derive(Debug, Clone, Copy, Default)]
pub struct CsrfRequest<'a> {
    /// The request method (`POST`, …), case-sensitive as in HTTP.
    pub method: &'a str,
    /// The `Host` header (or the HTTP/2 `:authority`).
    pub host: Option<&'a [u8]>,
    /// The `Origin` header.
    pub origin: Option<&'a [u8]>,
    /// The `Sec-Fetch-Site` header.
    pub sec_fetch_site: Option<&'a [u8]>,
}

/// Why [`CsrfCheck::check`] refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CsrfRefusal {
    /// `Sec-Fetch-Site: cross-site`.
    CrossSite,
    /// `Sec-Fetch-Site: same-site` (another host of the same site), not allowed.
    SameSite,
    /// An `Origin` that is neither the request's own nor a trusted one.
    ForeignOrigin,
    /// `Origin: null` (a sandboxed frame, a `data:` page, a cross-origin redirect).
    OpaqueOrigin,
    /// Neither `Origin` nor `Sec-Fetch-Site`, with [`CsrfCheck::require_browser_headers`].
    NoBrowserHeaders,
}

impl CsrfRefusal {
    /// A short, stable name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            CsrfRefusal::CrossSite => "csrf_cross_site",
            CsrfRefusal::SameSite => "csrf_same_site",
            CsrfRefusal::ForeignOrigin => "csrf_foreign_origin",
            CsrfRefusal::OpaqueOrigin => "csrf_opaque_origin",
            CsrfRefusal::NoBrowserHeaders => "csrf_no_browser_headers",
        }
    }
}

impl CsrfCheck {
    /// The secure default (the same as [`CsrfCheck::default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Also accept `Sec-Fetch-Site: same-site`: unsafe requests from other hosts of the
    /// same registrable domain (`a.example.com` → `b.example.com`). Off by default: a
    /// sibling subdomain is often run by someone else.
    pub fn allow_same_site(mut self, allow: bool) -> Self {
        self.allow_same_site = allow;
        self
    }

    /// Accepts unsafe requests whose `Origin` is `origin` (`scheme://host[:port]`, e.g.
    /// `https://admin.example.com`), whatever `Sec-Fetch-Site` says: for a front end on
    /// another origin that posts here on purpose. Compared case-insensitively; a trailing
    /// `/` is ignored.
    pub fn trusted_origin(mut self, origin: impl AsRef<str>) -> Self {
        self.trusted.push(normalise(origin.as_ref()));
        self
    }

    /// The application's own public origin (`https://app.example.com`); may be given
    /// several times. When set, an `Origin` must be one of these (or trusted) instead of
    /// matching the `Host` header: use it behind a proxy that rewrites `Host`, and to pin
    /// the scheme (the `Host` comparison cannot tell `http` from `https`).
    pub fn public_origin(mut self, origin: impl AsRef<str>) -> Self {
        self.public.push(normalise(origin.as_ref()));
        self
    }

    /// Refuses unsafe requests that carry neither `Origin` nor `Sec-Fetch-Site`. Every
    /// current browser sends `Origin` on a form post, so this only turns away non-browser
    /// clients (and very old browsers); off by default.
    pub fn require_browser_headers(mut self, require: bool) -> Self {
        self.require_headers = require;
        self
    }

    /// Whether `req` may go on to the handler.
    ///
    /// # Errors
    /// The reason it may not.
    pub fn check(&self, req: &CsrfRequest<'_>) -> Result<(), CsrfRefusal> {
        if matches!(req.method, "GET" | "HEAD" | "OPTIONS" | "TRACE") {
            return Ok(());
        }
        let origin = req
            .origin
            .map(|o| String::from_utf8_lossy(o.trim_ascii()).to_ascii_lowercase());
        // A trusted origin is cross-site by definition: it is accepted before Fetch
        // Metadata is consulted.
        if let Some(origin) = &origin {
            if self.trusted.iter().any(|t| t == origin) {
                return Ok(());
            }
        }
        match req.sec_fetch_site.map(<[u8]>::trim_ascii) {
            Some(b"same-origin" | b"none") => return Ok(()),
            Some(b"same-site") if self.allow_same_site => return Ok(()),
            Some(b"same-site") => return Err(CsrfRefusal::SameSite),
            Some(b"cross-site") => return Err(CsrfRefusal::CrossSite),
            // Absent (an older browser) or a value this code does not know: the Origin
            // decides.
            _ => {}
        }
        match origin.as_deref() {
            Some("null") => Err(CsrfRefusal::OpaqueOrigin),
            Some(origin) if self.is_own(origin, req.host) => Ok(()),
            Some(_) => Err(CsrfRefusal::ForeignOrigin),
            None if self.require_headers && req.sec_fetch_site.is_none() => {
                Err(CsrfRefusal::NoBrowserHeaders)
            }
            None => Ok(()),
        }
    }

    /// [`CsrfCheck::check`] as a yes or no, logging a refusal as a `satchel::anomaly`
    /// event (its kind and the method; never the headers' values, which an attacker
    /// chooses). What the integrations call.
    pub fn allows(&self, req: &CsrfRequest<'_>) -> bool {
        match self.check(req) {
            Ok(()) => true,
            Err(why) => {
                tracing::warn!(target: "satchel::anomaly", kind = why.as_str(), method = req.method, "cross-site request refused");
                false
            }
        }
    }

    /// Whether the lowercased `origin` is the application's own.
    fn is_own(&self, origin: &str, host: Option<&[u8]>) -> bool {
        if !self.public.is_empty() {
            return self.public.iter().any(|p| p == origin);
        }
        let Some((scheme, authority)) = origin.split_once("://") else {
            return false;
        };
        let default_port = match scheme {
            "http" => ":80",
            "https" => ":443",
            _ => return false,
        };
        let Some(host) = host else {
            return false;
        };
        let host = String::from_utf8_lossy(host.trim_ascii()).to_ascii_lowercase();
        let bare = |a: &str| a.strip_suffix(default_port).unwrap_or(a).to_owned();
        !authority.is_empty() && bare(authority) == bare(&host)
    }
}

/// An origin as compared: lowercase, without a trailing `/`.
fn normalise(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl Session {
    /// The session's CSRF token for HTML forms, issuing one if it has none yet. The token
    /// is 32 random bytes in base64url (43 characters), kept in the session under
    /// [`CSRF_KEY`]; never log it.
    ///
    /// Issuing writes to the session: for a visitor without one, this creates a session
    /// (a `Set-Cookie` on this response). A page that must not create sessions for
    /// anonymous visitors calls [`Session::csrf_token_if_session`] instead and relies on
    /// [`CsrfCheck`] for visitors who have none.
    ///
    /// # Errors
    /// As [`Session::get`] and [`Session::insert`].
    pub async fn csrf_token(&self) -> Result<String, SessionError> {
        if let Some(token) = self.stored_csrf_token().await? {
            return Ok(token);
        }
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        self.insert(CSRF_KEY, &token)?;
        // Not an expectation: two first page views racing may both issue, and the last
        // one wins (the other tab's form then fails) rather than a page view being a 409.
        self.lock().changes.reads.retain(|k| k.as_str() != CSRF_KEY);
        Ok(token)
    }

    /// [`Session::csrf_token`] when the visitor has a session (or this request creates
    /// one); `None`, storing nothing, otherwise.
    ///
    /// # Errors
    /// As [`Session::csrf_token`].
    pub async fn csrf_token_if_session(&self) -> Result<Option<String>, SessionError> {
        let token = self.stored_csrf_token().await?;
        if token.is_some() {
            return Ok(token);
        }
        let exists = {
            let state = self.lock();
            matches!(state.base, Base::Live(..))
                || matches!(
                    state.changes.rotate,
                    Some(Rotation::Owner(_) | Rotation::Pending(_))
                )
                || state.changes.writes.iter().any(|(_, v)| v.is_some())
        };
        if exists {
            self.csrf_token().await.map(Some)
        } else {
            Ok(None)
        }
    }

    /// Whether the session holds a CSRF token (one was issued and is still there).
    ///
    /// # Errors
    /// As [`Session::get`].
    pub async fn csrf_token_issued(&self) -> Result<bool, SessionError> {
        Ok(self.stored_csrf_token().await?.is_some())
    }

    /// Whether `submitted` is this session's CSRF token, compared in constant time. A
    /// session without a token accepts nothing.
    ///
    /// # Errors
    /// As [`Session::get`].
    pub async fn verify_csrf_token(&self, submitted: &str) -> Result<bool, SessionError> {
        Ok(match self.stored_csrf_token().await? {
            Some(token) => bool::from(token.as_bytes().ct_eq(submitted.as_bytes())),
            None => false,
        })
    }

    async fn stored_csrf_token(&self) -> Result<Option<String>, SessionError> {
        // A value that is not a string (written by someone else) is no token.
        Ok(self
            .get::<serde_json::Value>(CSRF_KEY)
            .await?
            .and_then(|v| v.as_str().map(str::to_owned)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(
        method: &'a str,
        host: Option<&'a str>,
        origin: Option<&'a str>,
        site: Option<&'a str>,
    ) -> CsrfRequest<'a> {
        CsrfRequest {
            method,
            host: host.map(str::as_bytes),
            origin: origin.map(str::as_bytes),
            sec_fetch_site: site.map(str::as_bytes),
        }
    }

    const HOST: Option<&str> = Some("app.example:8080");

    #[test]
    fn safe_methods_always_pass() {
        let c = CsrfCheck::default().require_browser_headers(true);
        for m in ["GET", "HEAD", "OPTIONS", "TRACE"] {
            assert_eq!(
                c.check(&req(
                    m,
                    HOST,
                    Some("https://evil.example"),
                    Some("cross-site")
                )),
                Ok(())
            );
        }
        // Methods are case-sensitive: `get` is not GET.
        assert!(c
            .check(&req("get", HOST, Some("https://evil.example"), None))
            .is_err());
    }

    #[test]
    fn fetch_metadata_decides_first() {
        let c = CsrfCheck::default();
        let evil = Some("https://evil.example");
        assert_eq!(
            c.check(&req("POST", HOST, evil, Some("cross-site"))),
            Err(CsrfRefusal::CrossSite)
        );
        assert_eq!(
            c.check(&req("POST", HOST, None, Some("same-site"))),
            Err(CsrfRefusal::SameSite)
        );
        assert_eq!(
            c.clone()
                .allow_same_site(true)
                .check(&req("POST", HOST, None, Some("same-site"))),
            Ok(())
        );
        assert_eq!(
            c.check(&req("POST", HOST, None, Some("same-origin"))),
            Ok(())
        );
        assert_eq!(c.check(&req("DELETE", HOST, None, Some("none"))), Ok(()));
    }

    #[test]
    fn origin_decides_without_fetch_metadata() {
        let c = CsrfCheck::default();
        let post = |host, origin| c.check(&req("POST", host, Some(origin), None));
        assert_eq!(post(HOST, "http://app.example:8080"), Ok(()));
        assert_eq!(post(HOST, "HTTPS://APP.EXAMPLE:8080"), Ok(()));
        assert_eq!(
            post(HOST, "https://evil.example"),
            Err(CsrfRefusal::ForeignOrigin)
        );
        assert_eq!(
            post(HOST, "http://app.example"),
            Err(CsrfRefusal::ForeignOrigin),
            "port"
        );
        assert_eq!(
            post(HOST, "https://app.example:8080.evil"),
            Err(CsrfRefusal::ForeignOrigin)
        );
        assert_eq!(post(HOST, "null"), Err(CsrfRefusal::OpaqueOrigin));
        assert_eq!(
            post(HOST, "ftp://app.example:8080"),
            Err(CsrfRefusal::ForeignOrigin)
        );
        assert_eq!(
            post(None, "https://app.example"),
            Err(CsrfRefusal::ForeignOrigin)
        );
        // Default ports on either side.
        assert_eq!(post(Some("app.example"), "https://app.example"), Ok(()));
        assert_eq!(post(Some("app.example:443"), "https://app.example"), Ok(()));
        assert_eq!(post(Some("app.example:80"), "http://app.example"), Ok(()));
        assert_eq!(
            post(Some("app.example:80"), "https://app.example"),
            Err(CsrfRefusal::ForeignOrigin)
        );
    }

    #[test]
    fn trusted_and_public_origins() {
        let c = CsrfCheck::default()
            .trusted_origin("https://Admin.example/")
            .public_origin("https://app.example");
        assert_eq!(
            c.check(&req(
                "POST",
                HOST,
                Some("https://admin.example"),
                Some("cross-site")
            )),
            Ok(())
        );
        assert_eq!(
            c.check(&req(
                "POST",
                Some("internal:9000"),
                Some("https://app.example"),
                None
            )),
            Ok(()),
            "the public origin, whatever Host says"
        );
        assert_eq!(
            c.check(&req("POST", HOST, Some("http://app.example:8080"), None)),
            Err(CsrfRefusal::ForeignOrigin),
            "with public origins set, Host no longer counts"
        );
    }

    #[test]
    fn clients_without_browser_headers() {
        let post = req("POST", HOST, None, None);
        assert_eq!(CsrfCheck::default().check(&post), Ok(()));
        let strict = CsrfCheck::default().require_browser_headers(true);
        assert_eq!(strict.check(&post), Err(CsrfRefusal::NoBrowserHeaders));
        assert_eq!(
            strict.check(&req("POST", HOST, None, Some("same-origin"))),
            Ok(())
        );
        assert!(!strict.allows(&post));
    }
}
