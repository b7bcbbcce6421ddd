//! The demo against cross-site request forgery and unbounded flash lists (issue 19, items
//! 5 and 9): cross-site posts are refused, its forms carry a session-bound token, and a
//! client that logs in over and over never makes its session too large to save.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{free_port, start, Demo, TempDir};

/// A response: status, head (lowercased header names kept as sent), `name=value` of the
/// first `Set-Cookie`, body.
struct Reply {
    status: u16,
    head: String,
    cookie: Option<String>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The value of the page's hidden `csrf` field, if it has one.
    fn token(&self) -> Option<String> {
        let (_, rest) = self.body.split_once(r#"name="csrf" value=""#)?;
        rest.split('"').next().map(str::to_owned)
    }
}

/// One request with a form body and extra headers, on a fresh connection.
fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(c) = cookie {
        head.push_str(&format!("Cookie: {c}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    stream.write_all(head.as_bytes()).expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").expect("HTTP response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let reply = Reply {
        status,
        head: head.to_owned(),
        cookie: None,
        body: body.to_owned(),
    };
    let cookie = reply
        .header("set-cookie")
        .map(|v| v.split(';').next().unwrap_or("").to_owned());
    Reply { cookie, ..reply }
}

fn demo(dir: &TempDir) -> (SocketAddr, Demo) {
    let addr = free_port();
    let demo = start(addr, "memory:", &dir.0.join("demo.log"));
    (addr, demo)
}

const EVIL: [(&str, &str); 2] = [
    ("Origin", "https://evil.example"),
    ("Sec-Fetch-Site", "cross-site"),
];

/// Login CSRF: `POST /login` and `/api/login` from another site are a 403 without a
/// cookie (they were 303/200 with `Set-Cookie`); from the demo's own page they work.
#[test]
fn cross_site_logins_are_refused_and_same_site_ones_work() {
    let dir = TempDir::new();
    let (addr, _demo) = demo(&dir);
    for path in ["/login", "/api/login"] {
        for headers in [&EVIL[..1], &EVIL[..], &EVIL[1..]] {
            let r = send(addr, "POST", path, None, headers, "user=mallory");
            assert_eq!(r.status, 403, "{path} {headers:?}: {}", r.body);
            assert_eq!(r.cookie, None, "{path}: no session for the attacker");
            assert_eq!(r.header("cache-control"), Some("no-store"));
        }
    }
    let origin = format!("http://{addr}");
    let own = [
        ("Origin", origin.as_str()),
        ("Sec-Fetch-Site", "same-origin"),
    ];
    let r = send(addr, "POST", "/login", None, &own, "user=alice");
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.cookie.is_some());
    let r = send(addr, "POST", "/api/login", None, &own[..1], "user=alice");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("alice") && r.cookie.is_some());
}

/// The page's forms carry the session's token once the visitor has a session: a post
/// without it or with another one is a 403, the right one works, and the token survives
/// the login of an anonymous visitor. A visitor without a session sees no token and gets
/// no session from viewing the page.
#[test]
fn forms_carry_a_session_bound_token() {
    let dir = TempDir::new();
    let (addr, _demo) = demo(&dir);
    let r = send(addr, "GET", "/", None, &[], "");
    assert_eq!((r.status, r.token(), r.cookie), (200, None, None));
    let r = send(addr, "POST", "/counter", None, &[], "");
    assert_eq!(r.status, 303, "a form from a page without a session");
    let cookie = r.cookie.expect("a session");
    let page = send(addr, "GET", "/", Some(&cookie), &[], "");
    let token = page.token().expect("a token in the forms");
    assert_eq!(token.len(), 43);
    assert_eq!(
        send(addr, "GET", "/", Some(&cookie), &[], "").token(),
        Some(token.clone()),
        "one token per session"
    );
    for body in [
        "",
        "csrf=",
        "csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let r = send(addr, "POST", "/counter", Some(&cookie), &[], body);
        assert_eq!(r.status, 403, "{body:?}");
        let r = send(
            addr,
            "POST",
            "/login",
            Some(&cookie),
            &[],
            &format!("user=eve&{body}"),
        );
        assert_eq!(r.status, 403, "{body:?}");
        assert_eq!(r.cookie, None);
    }
    let r = send(
        addr,
        "POST",
        "/counter",
        Some(&cookie),
        &[],
        &format!("csrf={token}"),
    );
    assert_eq!(r.status, 303);
    let r = send(
        addr,
        "POST",
        "/login",
        Some(&cookie),
        &[],
        &format!("user=bob&csrf={token}"),
    );
    assert_eq!(r.status, 303);
    let bob = r.cookie.expect("a new id");
    let page = send(addr, "GET", "/", Some(&bob), &[], "");
    assert!(page.body.contains(r#"<strong id="user">bob</strong>"#));
    assert_eq!(page.token(), Some(token.clone()), "kept through the login");
    let r = send(
        addr,
        "POST",
        "/logout",
        Some(&bob),
        &[],
        &format!("csrf={token}"),
    );
    assert_eq!(r.status, 303);
}

/// Logging in 700 times without viewing the page kept every "Welcome" flash until the
/// session passed the 64 KiB limit and every login was a 500 (after ~630): the demo keeps
/// the latest few.
#[test]
fn repeated_logins_never_outgrow_the_session() {
    let dir = TempDir::new();
    let (addr, _demo) = demo(&dir);
    let user = "u".repeat(64);
    let mut cookie = None::<String>;
    for i in 0..700 {
        let r = send(
            addr,
            "POST",
            "/login",
            cookie.as_deref(),
            &[],
            &format!("user={user}"),
        );
        assert_eq!(r.status, 303, "login {i}: {}", r.body);
        cookie = r.cookie.or(cookie);
    }
    let page = send(addr, "GET", "/", cookie.as_deref(), &[], "");
    let shown = page.body.matches("Welcome, ").count();
    assert!((1..=10).contains(&shown), "{shown} flashes");
}
