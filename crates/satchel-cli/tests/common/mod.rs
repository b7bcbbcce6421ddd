//! Running the built `satchel` binary in tests: temp dirs, the demo process, raw HTTP.
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
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
pub struct Demo(pub Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
}

pub fn start(addr: SocketAddr, store: &str, log: &Path) -> Demo {
    start_with(addr, &["--store", store], &[], log)
}

/// Starts `satchel demo` with extra arguments and environment variables (`None` removes
/// the variable from the inherited environment).
pub fn start_with(
    addr: SocketAddr,
    args: &[&str],
    env: &[(&str, Option<&str>)],
    log: &Path,
) -> Demo {
    let log = std::fs::File::create(log).expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_satchel"));
    for (name, value) in env {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    let child = cmd
        .args(["demo", "--listen", &addr.to_string()])
        .args(args)
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
/// A form body can follow the path after a space: `"/api/login user=alice"`.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
) -> (u16, Option<String>, String) {
    let (status, cookies, body) = exchange(addr, method, path, cookie);
    (status, cookies.into_iter().next(), body)
}

/// As [`request`], with every `Set-Cookie` pair joined into the `Cookie` header a browser
/// would send next (empty when none).
pub fn request_jar(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
) -> (u16, String, String) {
    let (status, cookies, body) = exchange(addr, method, path, cookie);
    (status, cookies.join("; "), body)
}

/// Sends one HTTP/1.1 request and reads the whole response: (status, every `Set-Cookie`
/// as `name=value`, body).
fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
) -> (u16, Vec<String>, String) {
    exchange_with(addr, method, path, cookie, &[])
}

/// As [`request_jar`]'s exchange, with extra request headers (`User-Agent`, …).
pub fn exchange_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, Vec<String>, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut cookie = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
    for (name, value) in headers {
        cookie.push_str(&format!("{name}: {value}\r\n"));
    }
    let (path, body) = path.split_once(' ').unwrap_or((path, ""));
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
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
    let cookies = head
        .lines()
        .filter_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie")
                .then(|| value.trim().split(';').next().unwrap_or("").to_owned())
        })
        .collect();
    (status, cookies, body.to_owned())
}

pub fn n_of(body: &str) -> i64 {
    let json: serde_json::Value = serde_json::from_str(body.trim()).expect("JSON body");
    json["n"].as_i64().expect("n")
}
