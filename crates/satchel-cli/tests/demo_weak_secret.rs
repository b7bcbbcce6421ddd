//! Issue 19 item 6 / SEC-27: `satchel demo --store cookie:` refuses a weak `SATCHEL_SECRET`
//! (exit code 2, with how to generate a good one); the Node apps' interop secrets are
//! accepted with a warning that never shows them.

mod common;

use common::{free_port, request, start_with, TempDir};

/// Runs `satchel demo --store cookie:` with `secret`: (exit code, stderr), or `None` for
/// the code if it was still running (so serving) after a few seconds.
fn demo_with_secret(secret: &str) -> (Option<i32>, String) {
    let dir = TempDir::new();
    let log = dir.0.join("stderr.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_satchel"))
        .args(["demo", "--listen", "127.0.0.1:0", "--store", "cookie:"])
        .env("SATCHEL_SECRET", secret)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("run satchel");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let code = loop {
        match child.try_wait().expect("wait") {
            Some(status) => break status.code(),
            None if std::time::Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    };
    (code, std::fs::read_to_string(&log).unwrap_or_default())
}

#[test]
fn weak_satchel_secrets_are_refused_with_exit_code_2_and_a_way_out() {
    for weak in [
        "a".repeat(32),
        "password".repeat(4),
        "changeme-changeme-changeme-changeme".to_owned(),
        "0123456789abcdefghijklmnopqrstuv".to_owned(),
    ] {
        let (code, stderr) = demo_with_secret(&weak);
        assert_eq!(
            code,
            Some(2),
            "{weak:?} was not refused as bad input: {stderr}"
        );
        assert!(stderr.contains("too easy to guess"), "{stderr}");
        assert!(stderr.contains("openssl rand -base64 48"), "{stderr}");
        assert!(
            !stderr.contains(&weak),
            "the secret itself was printed: {stderr}"
        );
    }
}

#[test]
fn a_generated_satchel_secret_starts() {
    let dir = TempDir::new();
    let addr = free_port();
    let _demo = start_with(
        addr,
        &["--store", "cookie:"],
        &[(
            "SATCHEL_SECRET",
            Some("q3N1c0y4dWq0zZ8mJb5mF+X9vW1dQyQK3o2Xo4hC7yH2m1pY6nR0tE5sU8wA9bLk"),
        )],
        &dir.0.join("strong.log"),
    );
    let (status, cookie, body) = request(addr, "POST", "/api/counter", None);
    assert_eq!(status, 200, "{body}");
    assert!(cookie.is_some());
}

#[test]
fn weak_koa_keys_are_accepted_with_a_warning_that_hides_them() {
    let dir = TempDir::new();
    let addr = free_port();
    let log = dir.0.join("koa.log");
    let demo = start_with(
        addr,
        &[
            "--compat",
            "koa",
            "--keys",
            "keyboard cat,Zx8vQ2mN7pL4kR9tW3yH6jB1cF5gD0sA",
        ],
        &[],
        &log,
    );
    let (status, _, body) = request(addr, "POST", "/api/counter", None);
    assert_eq!(status, 200, "the Node app's key still works: {body}");
    drop(demo);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("--keys value #1 is too easy to guess"),
        "{text}"
    );
    assert!(
        !text.contains("--keys value #2"),
        "a good key was flagged: {text}"
    );
    assert!(text.contains("openssl rand"), "{text}");
    assert!(
        !text.contains("keyboard cat"),
        "the key itself was logged: {text}"
    );
}
