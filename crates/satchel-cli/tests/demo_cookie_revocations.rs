//! `satchel demo --store cookie:` keeps revocations in a durable store by default (issue 19
//! item 3): a logged-out cookie, a revoked device and a pre-login cookie stay refused after
//! a restart with the same `SATCHEL_SECRET`.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, n_of, request, Demo, TempDir};

const SECRET: &str = "an-example-secret-of-more-than-32-bytes!";

/// Starts the demo in `dir` (where its default SQLite file goes) with `SATCHEL_REVOCATIONS`
/// set to `revocations`, or unset for the default.
fn start_in(dir: &Path, addr: SocketAddr, revocations: Option<&str>, log: &str) -> Demo {
    let log = std::fs::File::create(dir.join(log)).expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_satchel"));
    cmd.current_dir(dir).env("SATCHEL_SECRET", SECRET);
    match revocations {
        Some(url) => cmd.env("SATCHEL_REVOCATIONS", url),
        None => cmd.env_remove("SATCHEL_REVOCATIONS"),
    };
    let child = cmd
        .args(["demo", "--listen", &addr.to_string(), "--store", "cookie:"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn satchel demo");
    let mut demo = Demo(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = demo.0.try_wait() {
            panic!("satchel demo exited early with {status}");
        }
        assert!(Instant::now() < deadline, "satchel demo did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    demo
}

fn login(addr: SocketAddr, user: &str, cookie: Option<&str>) -> String {
    let (status, cookie, body) = request(addr, "POST", &format!("/api/login user={user}"), cookie);
    assert_eq!(status, 200, "{body}");
    cookie.expect("login sets a cookie")
}

fn whoami(addr: SocketAddr, cookie: &str) -> String {
    let (status, _, body) = request(addr, "GET", "/api/whoami", Some(cookie));
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn revocations_survive_a_restart_by_default() {
    let dir = TempDir::new();
    let addr = free_port();
    let demo = start_in(&dir.0, addr, None, "first.log");
    // A logged-out cookie.
    let alice = login(addr, "alice", None);
    let (status, _, _) = request(addr, "POST", "/api/logout", Some(&alice));
    assert_eq!(status, 200);
    // A revoked device: bob's phone, revoked from his laptop.
    let phone = login(addr, "bob", None);
    std::thread::sleep(Duration::from_millis(5));
    let laptop = login(addr, "bob", None);
    let (status, laptop2, body) =
        request(addr, "POST", "/api/sessions/revoke-others", Some(&laptop));
    assert_eq!(status, 200, "{body}");
    let laptop = laptop2.unwrap_or(laptop);
    // A pre-login cookie, revoked by the login that rotated it away.
    let (_, anon, body) = request(addr, "POST", "/api/counter", None);
    assert_eq!(n_of(&body), 1);
    let anon = anon.expect("an anonymous session");
    login(addr, "carol", Some(&anon));
    for (what, cookie) in [("logged out", &alice), ("revoked", &phone)] {
        assert!(whoami(addr, cookie).contains("\"user\":null"), "{what}");
    }
    assert_eq!(n_of(&whoami(addr, &anon)), 0, "pre-login cookie");
    drop(demo);

    let addr = free_port();
    let _demo = start_in(&dir.0, addr, None, "second.log");
    let body = whoami(addr, &alice);
    assert!(
        body.contains("\"user\":null"),
        "logged out, after a restart: {body}"
    );
    let body = whoami(addr, &phone);
    assert!(
        body.contains("\"user\":null"),
        "revoked, after a restart: {body}"
    );
    let body = whoami(addr, &anon);
    assert_eq!(n_of(&body), 0, "pre-login cookie, after a restart: {body}");
    let body = whoami(addr, &laptop);
    assert!(body.contains("bob"), "the kept device still works: {body}");
    assert!(
        dir.0.join("satchel-demo.sqlite").exists(),
        "the default revocation store is the demo's SQLite file"
    );
}

#[test]
fn memory_revocations_are_a_loud_opt_in() {
    let dir = TempDir::new();
    let addr = free_port();
    let demo = start_in(&dir.0, addr, Some("memory:"), "memory.log");
    let alice = login(addr, "alice", None);
    assert!(whoami(addr, &alice).contains("alice"));
    drop(demo);
    let text = std::fs::read_to_string(dir.0.join("memory.log")).unwrap_or_default();
    assert!(text.contains("RESTART FORGETS EVERY LOGOUT"), "{text}");

    let out = Command::new(env!("CARGO_BIN_EXE_satchel"))
        .current_dir(&dir.0)
        .env("SATCHEL_SECRET", SECRET)
        .env("SATCHEL_REVOCATIONS", "cookie:")
        .args(["demo", "--listen", "127.0.0.1:0", "--store", "cookie:"])
        .stdin(Stdio::null())
        .output()
        .expect("run satchel");
    assert!(!out.status.success(), "cookie: cannot hold revocations");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SATCHEL_REVOCATIONS"), "{stderr}");
}
