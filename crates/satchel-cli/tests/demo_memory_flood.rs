//! Issue 21 as it was reported, against the real binary: `satchel demo --store
//! 'memory:?max_sessions=200'`, 20 users log in, then 2,000 cookie-less counter requests
//! (each creates an anonymous session). Every user must still be logged in: a full
//! MemoryStore evicts anonymous sessions before logged-in ones. (Before the fix: 0 of 20.)

mod common;

use common::{free_port, request, start, TempDir};

#[test]
fn logged_in_users_survive_an_anonymous_flood_of_a_full_memory_store() {
    let dir = TempDir::new();
    let addr = free_port();
    let _demo = start(addr, "memory:?max_sessions=200", &dir.0.join("demo.log"));

    let users: Vec<(String, String)> = (0..20)
        .map(|i| {
            let user = format!("user{i}");
            let (status, cookie, body) =
                request(addr, "POST", &format!("/api/login user={user}"), None);
            assert_eq!(status, 200, "{body}");
            (user, cookie.expect("login sets a cookie"))
        })
        .collect();

    for _ in 0..2_000 {
        let (status, cookie, body) = request(addr, "POST", "/api/counter", None);
        assert_eq!(status, 200, "{body}");
        assert!(
            cookie.is_some(),
            "each anonymous increment creates a session"
        );
    }

    let logged_out: Vec<&str> = users
        .iter()
        .filter(|(user, cookie)| {
            let (status, _, body) = request(addr, "GET", "/api/whoami", Some(cookie));
            assert_eq!(status, 200, "{body}");
            let json: serde_json::Value = serde_json::from_str(body.trim()).expect("JSON");
            json["user"].as_str() != Some(user.as_str())
        })
        .map(|(user, _)| user.as_str())
        .collect();
    assert!(
        logged_out.is_empty(),
        "logged out by the flood: {logged_out:?}"
    );
}
