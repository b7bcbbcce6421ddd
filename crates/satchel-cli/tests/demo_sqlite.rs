//! The demo's default store is an SQLite file: its sessions survive a restart. Runs the
//! built `satchel` binary on a free loopback port and talks plain HTTP/1.1 to it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("satchel-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The demo process; killed on drop so a failing assertion never leaks it.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
}

fn start(addr: SocketAddr, store: &str, log: &Path) -> Demo {
    let log = std::fs::File::create(log).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_satchel"))
        .args(["demo", "--listen", &addr.to_string(), "--store", store])
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
        assert!(
            Instant::now() < deadline,
            "satchel demo did not listen on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    demo
}

/// One request on a fresh connection: (status, Set-Cookie `name=value` if any, body).
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
) -> (u16, Option<String>, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let cookie = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").expect("HTTP response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let set_cookie = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("set-cookie")
            .then(|| value.trim().split(';').next().unwrap_or("").to_owned())
    });
    (status, set_cookie, body.to_owned())
}

fn n_of(body: &str) -> i64 {
    let json: serde_json::Value = serde_json::from_str(body.trim()).expect("JSON body");
    json["n"].as_i64().expect("n")
}

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
    assert!(out.contains("applied migration(s) 1"), "{out}");
    let (code, out) = run(&["migrate", "--store", &store]);
    assert_eq!(code, Some(0));
    assert!(out.contains("up to date (version 1)"), "{out}");
    let (code, out) = run(&["purge", "--store", &store, "--batch", "10"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("deleted 0 expired session(s)"), "{out}");
    let (code, _) = run(&["migrate", "--store", "memory:"]);
    assert_eq!(code, Some(2));
    let (code, _) = run(&["migrate", "--store", &store, "--table", "Bad-Name"]);
    assert_eq!(code, Some(2));
}
