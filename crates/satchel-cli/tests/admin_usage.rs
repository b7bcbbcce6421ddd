//! The admin commands' usage contract: memory and sealed cookies are "not applicable"
//! (exit code 2), bad URLs are refused with the URL redacted, and `--help` lists the exit
//! codes.

mod admin_support;

use admin_support::satchel;

#[test]
fn memory_and_cookie_stores_are_not_applicable() {
    let commands: [&[&str]; 6] = [
        &["sessions", "ls"],
        &["sessions", "show", "abc"],
        &["sessions", "revoke", "abc"],
        &["sessions", "revoke", "--owner", "alice"],
        &["stats"],
        &["purge"],
    ];
    for store in ["memory:", "cookie:"] {
        for command in commands {
            let args = [command, &["--store", store]].concat();
            let (code, out, err) = satchel(&args);
            assert_eq!(code, Some(2), "{args:?}: {err}");
            assert!(err.contains("not applicable"), "{args:?}: {err}");
            assert!(out.is_empty(), "{args:?}: {out}");
        }
    }
}

#[test]
fn bad_store_urls_are_usage_errors_and_stay_redacted() {
    let (code, _, err) = satchel(&["sessions", "ls", "--store", "nosuch://u:hunter2@h/"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("u:***@h") && !err.contains("hunter2"), "{err}");
}

#[test]
fn an_unreachable_store_is_exit_code_1_with_its_cause() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}/");
    let (code, _, err) = satchel(&["stats", "--store", &url]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("opening redis://:***@127.0.0.1"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    // The cause chain, not just "session store failure".
    assert!(err.to_lowercase().contains("refused"), "{err}");
}

#[test]
fn help_documents_the_exit_codes() {
    for args in [
        &["sessions", "ls", "--help"][..],
        &["sessions", "show", "--help"],
        &["sessions", "revoke", "--help"],
        &["stats", "--help"],
        &["purge", "--help"],
    ] {
        let (code, out, _) = satchel(args);
        assert_eq!(code, Some(0), "{args:?}");
        assert!(out.contains("Exit codes:"), "{args:?}: {out}");
        assert!(
            out.contains("4  REF matches several sessions"),
            "{args:?}: {out}"
        );
    }
}
