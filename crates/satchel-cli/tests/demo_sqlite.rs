//! The demo's default store is an SQLite file: its sessions survive a restart. Runs the
//! built `satchel` binary on a free loopback port and talks plain HTTP/1.1 to it.

mod common;

use std::process::{Command, Stdio};

use common::{free_port, n_of, request, start, TempDir};

#[test]
fn sessions_survive_a_restart_of_the_demo() {
    let dir = TempDir::new();
    let store = format!("sqlite://{}?mode=rwc", dir.0.join("demo.sqlite").display());
    let addr = free_port();
    let demo = start(addr, &store, &dir.0.join("first.log"));
    let (status, cookie, body) = request(addr, "POST", "/api/counter", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(n_of(&body), 1);
    let cookie = cookie.expect("a new session sets a cookie");
    let (status, _, body) = request(addr, "POST", "/api/counter", Some(&cookie));
    assert_eq!(status, 200, "{body}");
    assert_eq!(n_of(&body), 2);
    drop(demo); // kills the process we started

    let addr = free_port();
    let _demo = start(addr, &store, &dir.0.join("second.log"));
    let (status, _, body) = request(addr, "GET", "/api/whoami", Some(&cookie));
    assert_eq!(status, 200, "{body}");
    assert_eq!(n_of(&body), 2, "the session came back from the SQLite file");
}

#[test]
fn an_unknown_store_scheme_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_satchel"))
        .args(["demo", "--store", "nosuch:"])
        .stdin(Stdio::null())
        .output()
        .expect("run satchel");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown store scheme"), "{stderr}");
}

#[test]
fn migrate_and_purge_work_on_an_sqlite_file() {
    let dir = TempDir::new();
    let store = format!("sqlite://{}?mode=rwc", dir.0.join("admin.sqlite").display());
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_satchel"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run satchel");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(&["migrate", "--store", &store]);
    assert_eq!(code, Some(0), "{out}");
    // The sessions' schema version, then the forwards table's (a ledger of its own).
    assert!(
        out.contains("applied migration(s) 1; now at version 1"),
        "{out}"
    );
    assert!(
        out.contains("forwards table: applied migration(s) 1; now at version 1"),
        "{out}"
    );
    let (code, out) = run(&["migrate", "--store", &store]);
    assert_eq!(code, Some(0));
    assert!(out.contains("up to date (version 1)"), "{out}");
    assert!(!out.contains("forwards table"), "nothing new to say: {out}");
    let (code, out) = run(&["purge", "--store", &store, "--batch", "10"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("deleted 0 expired session(s)"), "{out}");
    let (code, _) = run(&["migrate", "--store", "memory:"]);
    assert_eq!(code, Some(2));
    let (code, _) = run(&["migrate", "--store", &store, "--table", "Bad-Name"]);
    assert_eq!(code, Some(2));
}
