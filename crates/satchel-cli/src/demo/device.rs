//! What the demo remembers about the device behind a session: kept in the session record
//! itself (key [`DEVICE_KEY`]), so every store has it, sealed cookies included, and the
//! devices page reads it back through the store's owner index.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use rand::RngCore;
use satchel::{Session, SessionErrorKind, Timestamp};
use serde::{Deserialize, Serialize};

/// The session key holding the [`Device`].
pub(super) const DEVICE_KEY: &str = "_device";

/// How stale "last seen" may get before a page view writes it again: a write per page
/// view would make every view a store write; a minute is precise enough for a person.
const SEEN_EVERY_MS: u64 = 60_000;

/// The longest user agent kept; browsers send ~150 bytes, anything longer is cut.
const MAX_USER_AGENT: usize = 256;

/// One device's entry, written at login and refreshed by page views.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Device {
    /// A random handle for this login, shown in the revoke form: it names the device to
    /// its owner's other sessions and is worthless as a cookie or to anyone else (a
    /// revoke needs the owner's own session and CSRF token).
    #[serde(rename = "ref")]
    pub(super) handle: String,
    /// The `User-Agent` at login (cut to [`MAX_USER_AGENT`]).
    pub(super) user_agent: String,
    /// The peer address at login (the demo trusts no forwarding header).
    pub(super) ip: String,
    /// Milliseconds since the epoch of the login.
    pub(super) signed_in_ms: u64,
    /// Milliseconds since the epoch of the latest page view (to a minute).
    pub(super) seen_ms: u64,
}

impl Device {
    /// A short label for people: browser and system guessed from the user agent.
    pub(super) fn label(&self) -> String {
        describe_user_agent(&self.user_agent)
    }
}

/// The request facts a [`Device`] is made of.
#[derive(Debug, Clone)]
pub(super) struct Client {
    user_agent: String,
    ip: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string());
        Ok(Client {
            user_agent: truncate(&user_agent, MAX_USER_AGENT),
            ip,
        })
    }
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Stores a fresh [`Device`] for the login this request makes (a new handle each login).
pub(super) fn record_login(
    session: &Session,
    client: &Client,
    now: Timestamp,
) -> Result<Device, satchel::SessionError> {
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    let device = Device {
        handle: bytes.iter().map(|b| format!("{b:02x}")).collect(),
        user_agent: client.user_agent.clone(),
        ip: client.ip.clone(),
        signed_in_ms: now.as_millis(),
        seen_ms: now.as_millis(),
    };
    session.insert(DEVICE_KEY, &device)?;
    Ok(device)
}

/// This session's device entry; `None` when absent or not one of ours (a shared session's
/// other app may use the key).
pub(super) async fn current(session: &Session) -> Result<Option<Device>, satchel::SessionError> {
    match session.get::<Device>(DEVICE_KEY).await {
        Err(err) if err.kind() == SessionErrorKind::Deserialize => Ok(None),
        other => other,
    }
}

/// Notes a page view of a logged-in session: "last seen" moves when it is a minute old,
/// saved at once so a concurrent view that already moved it (a conflict) costs nothing
/// but this request's copy. Returns the device as it now stands.
pub(super) async fn note_visit(
    session: &Session,
    now: Timestamp,
) -> Result<Option<Device>, satchel::SessionError> {
    let Some(mut device) = current(session).await? else {
        return Ok(None);
    };
    if now.as_millis().saturating_sub(device.seen_ms) < SEEN_EVERY_MS {
        return Ok(Some(device));
    }
    device.seen_ms = now.as_millis();
    session.insert(DEVICE_KEY, &device)?;
    match session.save().await {
        Ok(()) => Ok(Some(device)),
        // Another request of this session wrote it meanwhile: its value is as fresh.
        Err(err) if err.kind() == SessionErrorKind::Conflict => Ok(current(session).await?),
        Err(err) => Err(err),
    }
}

/// "Firefox on Linux", "Chrome on Android", … or the first words of an agent it does not
/// know; "unknown browser" for none. A guess for people to recognise their devices, not
/// a security decision.
fn describe_user_agent(ua: &str) -> String {
    if ua.trim().is_empty() {
        return "unknown browser".to_owned();
    }
    // Order matters: Edge and Opera say "Chrome", Chrome says "Safari", headless Chrome
    // says "HeadlessChrome".
    const BROWSERS: [(&str, &str); 7] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ];
    const SYSTEMS: [(&str, &str); 6] = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ];
    let browser = BROWSERS.iter().find(|(needle, _)| ua.contains(needle));
    let system = SYSTEMS.iter().find(|(needle, _)| ua.contains(needle));
    match (browser, system) {
        (Some((_, b)), Some((_, s))) => format!("{b} on {s}"),
        (Some((_, b)), None) => (*b).to_owned(),
        (None, Some((_, s))) => format!("a browser on {s}"),
        (None, None) => truncate(ua, 40),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_common_agents() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36";
        assert_eq!(describe_user_agent(chrome), "Headless Chrome on Linux");
        let firefox = "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0";
        assert_eq!(describe_user_agent(firefox), "Firefox on Android");
        assert_eq!(describe_user_agent(""), "unknown browser");
        assert_eq!(describe_user_agent("curl/8.5.0"), "curl");
        assert_eq!(describe_user_agent("x".repeat(300).as_str()).len(), 40);
    }

    #[test]
    fn truncates_on_a_char_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
