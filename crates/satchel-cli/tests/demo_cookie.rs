//! `satchel demo --store cookie:`: stateless sessions sealed with `SATCHEL_SECRET`.

mod common;

use common::{free_port, n_of, request, start_with, TempDir};

const SECRET: &str = "an-example-secret-of-more-than-32-bytes!";

#[test]
fn cookie_sessions_survive_a_restart_with_the_same_secret_and_logout_sticks() {
    let dir = TempDir::new();
    // Revocations in the test's own SQLite file (the default is one in the working dir).
    let revocations = format!("sqlite://{}?mode=rwc", dir.0.join("rev.sqlite").display());
    let env = [
        ("SATCHEL_SECRET", Some(SECRET)),
        ("SATCHEL_REVOCATIONS", Some(revocations.as_str())),
    ];
    let addr = free_port();
    let demo = start_with(
        addr,
        &["--store", "cookie:"],
        &env,
        &dir.0.join("first.log"),
    );
    let (status, cookie, body) = request(addr, "POST", "/api/login user=alice", None);
    assert_eq!(status, 200, "{body}");
    let cookie = cookie.expect("login sets a cookie");
    let (_, cookie2, body) = request(addr, "POST", "/api/counter", Some(&cookie));
    assert_eq!(n_of(&body), 1);
    let cookie = cookie2.expect("a write re-seals the cookie");
    assert!(!cookie.contains("alice"), "nothing readable in the cookie");
    // Listing sessions is impossible statelessly: a clear 501.
    let (status, _, body) = request(addr, "GET", "/api/sessions", Some(&cookie));
    assert_eq!(status, 501, "{body}");
    assert!(body.contains("cannot list sessions"), "{body}");
    drop(demo);

    // Same secret, new process: the cookie still opens.
    let addr = free_port();
    let _demo = start_with(
        addr,
        &["--store", "cookie:"],
        &env,
        &dir.0.join("second.log"),
    );
    let (status, _, body) = request(addr, "GET", "/api/whoami", Some(&cookie));
    assert_eq!(status, 200, "{body}");
    assert_eq!(n_of(&body), 1, "{body}");
    assert!(body.contains("alice"), "{body}");
    // Logout, then replay the old cookie: rejected (the revocation store).
    let (status, _, _) = request(addr, "POST", "/api/logout", Some(&cookie));
    assert_eq!(status, 200);
    let (_, _, body) = request(addr, "GET", "/api/whoami", Some(&cookie));
    assert_eq!(
        n_of(&body),
        0,
        "a replayed cookie after logout is no session: {body}"
    );
    assert!(body.contains("\"user\":null"), "{body}");
}

#[test]
fn without_a_secret_the_demo_warns_loudly_and_a_short_one_is_refused() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_satchel"))
        .args(["demo", "--listen", "127.0.0.1:0", "--store", "cookie:"])
        .env("SATCHEL_SECRET", "too short")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run satchel");
    assert!(!out.status.success());
    assert_eq!(
        out.status.code(),
        Some(2),
        "a refused secret is a usage error"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at least 32"), "{stderr}");

    let dir = TempDir::new();
    let addr = free_port();
    let log = dir.0.join("unset.log");
    let revocations = format!("sqlite://{}?mode=rwc", dir.0.join("rev.sqlite").display());
    let demo = start_with(
        addr,
        &["--store", "cookie:"],
        &[
            ("SATCHEL_SECRET", None),
            ("SATCHEL_REVOCATIONS", Some(revocations.as_str())),
        ],
        &log,
    );
    let (status, cookie, _) = request(addr, "POST", "/api/counter", None);
    assert_eq!(status, 200);
    assert!(cookie.is_some());
    drop(demo);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("WILL BE LOST"), "{text}");
}
