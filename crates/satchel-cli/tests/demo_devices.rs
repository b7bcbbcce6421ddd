//! The demo's "your devices" page over raw HTTP (issue 14, item 5): a user signs out one
//! of their devices and only theirs, with the page's CSRF token; the signed-out device's
//! next form post says so instead of failing; stores that cannot list sessions say so.

mod common;

use std::net::SocketAddr;

use common::{exchange_with, free_port, start, start_with, TempDir};

const LAPTOP: (&str, &str) = (
    "User-Agent",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0.0.0 Safari/537.36",
);
const PHONE: (&str, &str) = (
    "User-Agent",
    "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
);

/// `(status, first Set-Cookie as name=value, body)`.
fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    ua: (&str, &str),
) -> (u16, Option<String>, String) {
    let (status, cookies, body) = exchange_with(addr, method, path, cookie, &[ua]);
    (status, cookies.into_iter().next(), body)
}

fn log_in(addr: SocketAddr, user: &str, ua: (&str, &str)) -> String {
    let (status, cookie, body) = send(addr, "POST", &format!("/login user={user}"), None, ua);
    assert_eq!(status, 303, "{body}");
    cookie.expect("a session cookie")
}

fn whoami(addr: SocketAddr, cookie: &str) -> serde_json::Value {
    let (status, _, body) = send(addr, "GET", "/api/whoami", Some(cookie), LAPTOP);
    assert_eq!(status, 200);
    serde_json::from_str::<serde_json::Value>(&body).expect("JSON")["user"].clone()
}

/// The value of the first `attr="…"` after `after` in `html`.
fn attr_after(html: &str, after: &str, attr: &str) -> Option<String> {
    let (_, rest) = html.split_once(after)?;
    let (_, rest) = rest.split_once(&format!(r#"{attr}=""#))?;
    rest.split('"').next().map(str::to_owned)
}

fn token(html: &str) -> String {
    attr_after(html, "", "name=\"csrf\" value").expect("a CSRF field")
}

/// The handle of the one other device on a devices page.
fn other_device(html: &str) -> String {
    let (before, _) = html
        .split_once(r#"" data-current="false""#)
        .expect("another device");
    before.rsplit('"').next().expect("its handle").to_owned()
}

#[test]
fn a_user_signs_out_one_of_their_devices_and_nobody_else_can() {
    let dir = TempDir::new();
    let addr = free_port();
    let _demo = start(addr, "memory:", &dir.0.join("demo.log"));
    let laptop = log_in(addr, "alice", LAPTOP);
    let phone = log_in(addr, "alice", PHONE);
    let mallory = log_in(addr, "mallory", LAPTOP);

    let (status, _, page) = send(addr, "GET", "/devices", Some(&laptop), LAPTOP);
    assert_eq!(status, 200);
    assert!(page.contains(r#"data-count="2""#), "{page}");
    assert_eq!(page.matches(r#"data-current="true""#).count(), 1);
    assert!(page.contains("Firefox on Android") && page.contains("127.0.0.1"));
    let phone_handle = other_device(&page);
    let laptop_token = token(&page);
    let (_, _, phone_home) = send(addr, "GET", "/", Some(&phone), PHONE);
    let phone_token = token(&phone_home);

    // Another user naming alice's device: nothing happens to it.
    let (_, _, mpage) = send(addr, "GET", "/devices", Some(&mallory), LAPTOP);
    let revoke = format!(
        "/devices/revoke csrf={}&device={phone_handle}",
        token(&mpage)
    );
    let (status, _, _) = send(addr, "POST", &revoke, Some(&mallory), LAPTOP);
    assert_eq!(status, 303);
    let (_, _, mpage) = send(addr, "GET", "/devices", Some(&mallory), LAPTOP);
    assert!(mpage.contains("already signed out"), "{mpage}");
    assert_eq!(
        whoami(addr, &phone),
        "alice",
        "mallory signed out alice's phone"
    );

    // Alice without the page's token: refused.
    let bare = format!("/devices/revoke device={phone_handle}");
    assert_eq!(send(addr, "POST", &bare, Some(&laptop), LAPTOP).0, 403);
    assert_eq!(whoami(addr, &phone), "alice");

    // With it: the phone is signed out, the laptop is not.
    let revoke = format!("/devices/revoke csrf={laptop_token}&device={phone_handle}");
    let (status, _, _) = send(addr, "POST", &revoke, Some(&laptop), LAPTOP);
    assert_eq!(status, 303);
    let (_, _, page) = send(addr, "GET", "/devices", Some(&laptop), LAPTOP);
    assert!(page.contains("Signed out Firefox on Android"), "{page}");
    assert!(page.contains(r#"data-count="1""#));
    assert_eq!(whoami(addr, &phone), serde_json::Value::Null);
    assert_eq!(whoami(addr, &laptop), "alice");

    // The phone's next click: not a 403, a page saying what happened.
    let click = format!("/counter csrf={phone_token}");
    let (status, fresh, _) = send(addr, "POST", &click, Some(&phone), PHONE);
    assert_eq!(status, 303, "a form of an ended session is no forgery");
    let fresh = fresh.expect("a new anonymous session for the flash");
    let (_, _, home) = send(addr, "GET", "/", Some(&fresh), PHONE);
    assert!(home.contains(r#"<strong id="user">anonymous</strong>"#));
    assert!(home.contains("signed out on this device"), "{home}");
    assert!(
        home.contains(r#"<span id="n" class="big">0</span>"#),
        "nothing was counted for the ended session"
    );
}

#[test]
fn sealed_cookies_say_they_cannot_be_listed() {
    let dir = TempDir::new();
    let addr = free_port();
    let _demo = start_with(
        addr,
        &["--store", "cookie:"],
        &[
            (
                "SATCHEL_SECRET",
                Some("demo-devices-test-Zq8vN3kLp5Tx2Rw9Jm4Hc7Bf"),
            ),
            ("SATCHEL_REVOCATIONS", Some("memory:")),
        ],
        &dir.0.join("demo.log"),
    );
    let laptop = log_in(addr, "alice", LAPTOP);
    let (status, _, page) = send(addr, "GET", "/devices", Some(&laptop), LAPTOP);
    assert_eq!(status, 200);
    assert!(
        page.contains(r#"id="unlisted""#) && page.contains("cannot list"),
        "{page}"
    );
    assert!(!page.contains("revoke-form") && page.contains("revoke-others-form"));
    assert!(
        page.contains("Chrome on Linux"),
        "this device is still shown"
    );
}

#[test]
fn the_devices_page_of_a_stranger_creates_no_session() {
    let dir = TempDir::new();
    let addr = free_port();
    let _demo = start(addr, "memory:", &dir.0.join("demo.log"));
    let (status, cookie, page) = send(addr, "GET", "/devices", None, LAPTOP);
    assert_eq!((status, cookie), (200, None));
    assert!(page.contains(r#"id="not-logged-in""#));
}
