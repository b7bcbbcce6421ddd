//! `satchel demo` serves `/metrics` in the Prometheus text format (issue 14, item 3):
//! known requests to the real binary, on an SQLite file, give exact counter values, and
//! no series carries an id, a store key or an owner.

mod common;

use std::collections::BTreeMap;

use common::{free_port, request, start, TempDir};

/// Every sample of the scrape: `name{labels}` → value (comments skipped).
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[test]
fn known_requests_give_exact_counts() {
    let dir = TempDir::new();
    let store = format!(
        "sqlite://{}?mode=rwc",
        dir.0.join("metrics.sqlite").display()
    );
    let addr = free_port();
    let _demo = start(addr, &store, &dir.0.join("demo.log"));

    // A new session, then an increment of it: one create, one load and one patch.
    let (status, first, body) = request(addr, "POST", "/api/counter", None);
    assert_eq!(status, 200, "{body}");
    let first = first.expect("a new session sets a cookie");
    let (status, _, body) = request(addr, "POST", "/api/counter", Some(&first));
    assert_eq!(status, 200, "{body}");
    // Login: a load (the previous owner decides what data stays) and a rotation.
    let (status, second, body) = request(addr, "POST", "/api/login user=alice", Some(&first));
    assert_eq!(status, 200, "{body}");
    let second = second.expect("login sets a fresh cookie");
    let (status, _, body) = request(addr, "GET", "/api/whoami", Some(&second));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("alice"), "{body}");
    // Logout deletes without loading; the old cookie then names nothing.
    let (status, _, body) = request(addr, "POST", "/api/logout", Some(&second));
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = request(addr, "GET", "/api/whoami", Some(&second));
    assert_eq!(status, 200, "{body}");
    let name = first.split_once('=').expect("name=value").0;
    let (status, _, body) = request(addr, "GET", "/api/whoami", Some(&format!("{name}=nope")));
    assert_eq!(status, 200, "{body}");

    let (status, _, text) = request(addr, "GET", "/metrics", None);
    assert_eq!(status, 200, "{text}");
    let got = samples(&text);
    let expected = [
        ("satchel_sessions_created_total", 1.0),
        ("satchel_store_writes_total{kind=\"create\"}", 1.0),
        ("satchel_store_writes_total{kind=\"patch\"}", 1.0),
        ("satchel_store_writes_total{kind=\"rotate\"}", 1.0),
        ("satchel_store_writes_total{kind=\"delete\"}", 1.0),
        ("satchel_rotations_total{reason=\"login\"}", 1.0),
        ("satchel_logouts_total", 1.0),
        ("satchel_store_loads_total{result=\"found\"}", 3.0),
        ("satchel_store_loads_total{result=\"absent\"}", 1.0),
        ("satchel_cookie_anomalies_total{class=\"unknown_id\"}", 1.0),
        (
            "satchel_cookie_anomalies_total{class=\"malformed_cookie\"}",
            1.0,
        ),
        ("satchel_store_latency_seconds_count{op=\"load\"}", 4.0),
        ("satchel_store_latency_seconds_count{op=\"create\"}", 1.0),
        ("satchel_store_latency_seconds_count{op=\"rotate\"}", 1.0),
        // The new session's cookie, the login's, the logout's removal and the removal of
        // the cookie naming nothing (a malformed one is ignored, not removed).
        ("satchel_cookie_bytes_count", 4.0),
    ];
    for (series, value) in expected {
        assert_eq!(got.get(series), Some(&value), "{series}:\n{text}");
    }
    for absent in [
        "satchel_conflicts_total",
        "satchel_resurrections_refused_total",
        "satchel_store_errors_total",
    ] {
        assert!(
            !got.keys().any(|k| k.starts_with(absent)),
            "{absent} without cause:\n{text}"
        );
    }
    // Described, with a help text.
    assert!(
        text.contains("# HELP satchel_logouts_total Sessions ended by a logout."),
        "{text}"
    );
    // No id, cookie value or owner anywhere in the scrape.
    for secret in [
        first.split_once('=').expect("pair").1,
        second.split_once('=').expect("pair").1,
        "alice",
    ] {
        assert!(!text.contains(secret), "{secret} in:\n{text}");
    }
}
