//! `satchel demo --compat express|koa`: usage errors, and the demo speaking koa-session's
//! cookie format (the Express mode is exercised live against a real Express app in
//! satchel-connect's `live_express` test; here it only has to start and answer).

mod common;

use std::process::{Command, Stdio};

use base64::Engine as _;
use common::{free_port, request_jar, start_with, TempDir};

fn usage_error(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_satchel"))
        .arg("demo")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run satchel");
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn compat_modes_need_their_secrets_and_store() {
    assert!(
        usage_error(&["--compat", "express", "--store", "redis://127.0.0.1:1"])
            .contains("--secret")
    );
    assert!(
        usage_error(&["--compat", "express", "--secret", "s", "--store", "memory:"])
            .contains("redis://")
    );
    assert!(usage_error(&["--compat", "koa"]).contains("--keys"));
    assert!(usage_error(&["--secret", "s"]).contains("only apply with --compat"));
}

#[test]
fn koa_mode_reads_and_writes_koa_session_cookies() {
    let dir = TempDir::new();
    let addr = free_port();
    let _demo = start_with(
        addr,
        &["--compat", "koa", "--keys", "key1,key2"],
        &[],
        &dir.0.join("koa.log"),
    );
    let (status, jar, body) = request_jar(addr, "POST", "/api/counter", None);
    assert_eq!(status, 200, "{body}");
    assert!(
        jar.contains("koa.sess=") && jar.contains("koa.sess.sig="),
        "{jar}"
    );
    let value = jar
        .split("; ")
        .find_map(|p| p.strip_prefix("koa.sess="))
        .expect("koa.sess");
    let json = base64::engine::general_purpose::STANDARD
        .decode(value)
        .expect("standard base64, as koa-session writes");
    let json = String::from_utf8(json).expect("utf-8");
    assert!(json.starts_with("{\"n\":1,\"_expire\":"), "{json}");
    let (status, _, body) = request_jar(addr, "GET", "/api/whoami", Some(&jar));
    assert_eq!(status, 200);
    assert!(body.contains("\"n\":1"), "{body}");
}
