//! The demo's home page. Plain forms that POST and redirect back (303), so it works
//! without JavaScript; element ids are what the browser test looks for.

use satchel::{Flash, Meta, Timestamp};

use super::html::{csrf_field, escape, page, time};

/// What the home page shows.
#[derive(Debug)]
pub(super) struct Home<'a> {
    pub(super) user: Option<&'a str>,
    pub(super) n: i64,
    pub(super) flashes: &'a [Flash],
    /// The session's CSRF token, put in every form (none for a visitor without a session).
    pub(super) csrf: Option<&'a str>,
    /// The session's stored deadlines (none without a session).
    pub(super) meta: Option<&'a Meta>,
    pub(super) now: Timestamp,
}

pub(super) fn render(home: &Home<'_>) -> String {
    let token = csrf_field(home.csrf);
    let who = home.user.map_or_else(|| "anonymous".to_owned(), escape);
    let account = if home.user.is_some() {
        format!(
            r#"<form id="logout-form" method="post" action="/logout">{token}<button type="submit">Log out</button></form>
    <p><a id="devices-link" href="/devices">Your devices</a>: where you are signed in, sign out any of them.</p>"#
        )
    } else {
        format!(
            r#"<form id="login-form" method="post" action="/login">{token}
      <label>User <input name="user" autocomplete="username" required maxlength="64"></label>
      <label><input type="checkbox" id="remember" name="remember" value="1"> Remember me on this device</label>
      <button type="submit">Log in</button>
    </form>"#
        )
    };
    let deadlines = home
        .meta
        .map_or_else(String::new, |meta| deadlines(meta, home.now));
    let body = format!(
        r#"  <div class="card">
    <p>Signed in as <strong id="user">{who}</strong></p>
    {account}
  </div>
{deadlines}  <div class="card">
    <p>Visits counted: <span id="n" class="big">{n}</span></p>
    <form id="counter-form" method="post" action="/counter">{token}<button type="submit">Increment</button></form>
  </div>
  <p class="muted">Viewing this page creates no session; the first increment or login does.</p>
"#,
        n = home.n
    );
    page("satchel demo", home.flashes, &body)
}

/// The session's deadlines: when it dies unused, when it dies regardless, and whether the
/// cookie outlives the browser.
fn deadlines(meta: &Meta, now: Timestamp) -> String {
    let persistence = if meta.persistent {
        "remembered: the cookie survives closing the browser"
    } else {
        "a browser-session cookie: it goes when the browser closes"
    };
    format!(
        r#"  <div class="card" id="session">
    <dl>
      <dt>Session started</dt><dd id="created">{created}</dd>
      <dt>Idle deadline</dt><dd id="idle-deadline">{idle}<br><span class="muted">ends after {timeout} without a visit; each visit moves it</span></dd>
      <dt>Absolute deadline</dt><dd id="absolute-deadline">{absolute}<br><span class="muted">ends then, however active</span></dd>
      <dt>Cookie</dt><dd id="persistence" data-persistent="{persistent}">{persistence}</dd>
    </dl>
  </div>
"#,
        created = time(meta.created_at, now),
        idle = time(meta.idle_deadline, now),
        timeout = super::html::span(meta.idle_timeout),
        absolute = time(meta.absolute_deadline, now),
        persistent = meta.persistent,
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn home<'a>(user: Option<&'a str>, csrf: Option<&'a str>, meta: Option<&'a Meta>) -> Home<'a> {
        Home {
            user,
            n: 3,
            flashes: &[],
            csrf,
            meta,
            now: Timestamp::from_millis(1_000_000),
        }
    }

    #[test]
    fn escapes_everything_it_prints() {
        let html = render(&home(Some("a<b"), Some("t\"k"), None));
        assert!(html.contains("a&lt;b"));
        assert!(html.contains(r#"<span id="n" class="big">3</span>"#));
        assert_eq!(
            html.matches(r#"<input type="hidden" name="csrf" value="t&quot;k">"#)
                .count(),
            2,
            "in the logout and counter forms"
        );
    }

    #[test]
    fn no_token_field_without_a_token() {
        assert!(!render(&home(None, None, None)).contains("name=\"csrf\""));
    }

    #[test]
    fn shows_both_deadlines_and_the_cookie_kind() {
        let mut meta = Meta::new(
            Timestamp::from_millis(1_000_000),
            Duration::from_secs(1800),
            Duration::from_secs(12 * 3600),
        );
        let html = render(&home(Some("al"), Some("t"), Some(&meta)));
        assert!(html.contains(&format!(r#"data-ms="{}""#, 1_000_000 + 1_800_000)));
        assert!(html.contains(&format!(r#"data-ms="{}""#, 1_000_000 + 12 * 3_600_000)));
        assert!(html.contains(r#"data-persistent="false""#));
        meta.persistent = true;
        let html = render(&home(Some("al"), Some("t"), Some(&meta)));
        assert!(html.contains(r#"data-persistent="true""#));
    }
}
