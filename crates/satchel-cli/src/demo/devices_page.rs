//! The "your devices" page: every session of the logged-in user with what its record says
//! about the device, this one marked, a sign-out button per other device and "log out
//! everywhere else". For a store that cannot list sessions it says so and shows this
//! device only.

use satchel::{Flash, Meta, Timestamp};

use super::device::Device;
use super::directory::Listed;
use super::html::{csrf_field, escape, page, time};

/// What the store could tell about the user's sessions.
#[derive(Debug)]
pub(super) enum Listing<'a> {
    /// Every live session of the user, oldest first.
    Devices(&'a [Listed]),
    /// The store cannot list them; why, in a sentence for people.
    Unlisted(&'static str),
}

/// What the devices page shows.
#[derive(Debug)]
pub(super) struct DevicesPage<'a> {
    pub(super) user: &'a str,
    pub(super) flashes: &'a [Flash],
    pub(super) csrf: Option<&'a str>,
    /// This session's device entry and record metadata.
    pub(super) this_device: Option<&'a Device>,
    pub(super) this_meta: Option<&'a Meta>,
    pub(super) listing: Listing<'a>,
    pub(super) now: Timestamp,
}

/// The page for a visitor who is not logged in.
pub(super) fn render_logged_out(flashes: &[Flash]) -> String {
    let body = r#"  <div class="card" id="not-logged-in">
    <p>You are not logged in: there are no devices to show. <a href="/">Log in</a> first.</p>
  </div>
"#;
    page("Your devices", flashes, body)
}

pub(super) fn render(p: &DevicesPage<'_>) -> String {
    let token = csrf_field(p.csrf);
    let this_handle = p.this_device.map(|d| d.handle.as_str());
    let list = match p.listing {
        Listing::Devices(devices) => {
            let rows: String = devices
                .iter()
                .map(|l| row(l, this_handle, &token, p.now))
                .collect();
            format!(
                r#"  <table id="devices" data-count="{count}">
    <thead><tr><th>Device</th><th>IP</th><th>Signed in</th><th>Last seen</th><th>Expires</th><th></th></tr></thead>
    <tbody>
{rows}    </tbody>
  </table>
"#,
                count = devices.len()
            )
        }
        Listing::Unlisted(why) => {
            let here = this_device_card(p.this_device, p.this_meta, p.now);
            format!(
                r#"  <p class="card" id="unlisted">{why}</p>
{here}"#,
                why = escape(why)
            )
        }
    };
    let body = format!(
        r#"  <p>Signed in as <strong id="user">{user}</strong>.</p>
{list}  <div class="card">
    <form id="revoke-others-form" method="post" action="/devices/revoke-others">{token}<button type="submit">Log out everywhere else</button></form>
    <p class="muted">Signs out every other device of yours; this one stays signed in.</p>
  </div>
"#,
        user = escape(p.user),
    );
    page("Your devices", p.flashes, &body)
}

fn row(l: &Listed, this_handle: Option<&str>, token: &str, now: Timestamp) -> String {
    let deadlines = format!(
        r#"<span class="idle">idle: {}</span><br><span class="absolute">at most: {}</span>"#,
        time(l.info.idle_deadline, now),
        time(l.info.absolute_deadline, now),
    );
    let created = time(l.info.created_at, now);
    let Some(device) = &l.device else {
        return format!(
            r#"      <tr class="device" data-current="false"><td>unknown device<br><span class="muted">no device details in this session (signed in before the demo kept them)</span></td><td></td><td>{created}</td><td></td><td>{deadlines}</td><td></td></tr>
"#
        );
    };
    let current = this_handle == Some(device.handle.as_str());
    let action = if current {
        r#"<span class="badge this-device">this device</span>"#.to_owned()
    } else {
        format!(
            r#"<form class="revoke-form" method="post" action="/devices/revoke">{token}<input type="hidden" name="device" value="{handle}"><button type="submit">Sign out</button></form>"#,
            handle = escape(&device.handle)
        )
    };
    format!(
        r#"      <tr class="device" data-device="{handle}" data-current="{current}"><td>{label}<br><span class="muted ua">{ua}</span></td><td class="ip">{ip}</td><td>{created}</td><td class="seen">{seen}</td><td>{deadlines}</td><td>{action}</td></tr>
"#,
        handle = escape(&device.handle),
        label = escape(&device.label()),
        ua = escape(&device.user_agent),
        ip = escape(&device.ip),
        seen = time(Timestamp::from_millis(device.seen_ms), now),
    )
}

/// This device alone, for stores that cannot list the others.
fn this_device_card(device: Option<&Device>, meta: Option<&Meta>, now: Timestamp) -> String {
    let mut items = String::new();
    if let Some(d) = device {
        items.push_str(&format!(
            r#"      <dt>Device</dt><dd>{label} <span class="badge this-device">this device</span><br><span class="muted ua">{ua}</span></dd>
      <dt>IP</dt><dd class="ip">{ip}</dd>
      <dt>Last seen</dt><dd class="seen">{seen}</dd>
"#,
            label = escape(&d.label()),
            ua = escape(&d.user_agent),
            ip = escape(&d.ip),
            seen = time(Timestamp::from_millis(d.seen_ms), now),
        ));
    }
    if let Some(m) = meta {
        items.push_str(&format!(
            r#"      <dt>Signed in</dt><dd>{created}</dd>
      <dt>Idle deadline</dt><dd>{idle}</dd>
      <dt>Absolute deadline</dt><dd>{absolute}</dd>
"#,
            created = time(m.created_at, now),
            idle = time(m.idle_deadline, now),
            absolute = time(m.absolute_deadline, now),
        ));
    }
    format!(
        r#"  <div class="card" id="this-device"><dl>
{items}  </dl></div>
"#
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use satchel::{SessionInfo, StoreKey};

    use super::*;

    fn device(handle: &str, ua: &str) -> Device {
        Device {
            handle: handle.into(),
            user_agent: ua.into(),
            ip: "127.0.0.1".into(),
            signed_in_ms: 1_000,
            seen_ms: 2_000,
        }
    }

    fn listed(device: Option<Device>) -> Listed {
        let t = Timestamp::from_millis(1_000);
        Listed {
            info: SessionInfo {
                key: StoreKey::from_bytes([7; 32]),
                created_at: t,
                idle_deadline: t.saturating_add(Duration::from_secs(60)),
                absolute_deadline: t.saturating_add(Duration::from_secs(600)),
            },
            device,
        }
    }

    #[test]
    fn marks_this_device_and_offers_to_sign_out_the_others() {
        let here = device("aa", "HeadlessChrome/1 Linux");
        let devices = [
            listed(Some(here.clone())),
            listed(Some(device("bb", "<x>"))),
            listed(None),
        ];
        let html = render(&DevicesPage {
            user: "bob",
            flashes: &[],
            csrf: Some("tok"),
            this_device: Some(&here),
            this_meta: None,
            listing: Listing::Devices(&devices),
            now: Timestamp::from_millis(5_000),
        });
        assert!(html.contains(r#"data-count="3""#));
        assert!(html.contains(r#"data-device="aa" data-current="true""#));
        assert!(html.contains(r#"data-device="bb" data-current="false""#));
        assert_eq!(
            html.matches("class=\"revoke-form\"").count(),
            1,
            "only the other named device"
        );
        assert!(html.contains(r#"name="device" value="bb""#));
        assert!(!html.contains("<x>") && html.contains("&lt;x&gt;"));
        assert!(
            !html.contains(&StoreKey::from_bytes([7; 32]).to_hex()),
            "no store key on the page"
        );
        // Revoke, revoke-others; both with the token.
        assert_eq!(html.matches(r#"name="csrf" value="tok""#).count(), 2);
    }

    #[test]
    fn says_so_when_the_store_cannot_list() {
        let here = device("aa", "Firefox/1");
        let html = render(&DevicesPage {
            user: "bob",
            flashes: &[],
            csrf: Some("tok"),
            this_device: Some(&here),
            this_meta: None,
            listing: Listing::Unlisted("cannot list"),
            now: Timestamp::from_millis(5_000),
        });
        assert!(html.contains(r#"id="unlisted">cannot list<"#));
        assert!(html.contains("this-device") && !html.contains("revoke-form"));
        assert!(html.contains("revoke-others-form"));
    }
}
