//! The admin commands' scenario, run against each store by the `admin_*.rs` tests: sessions
//! are written through the store's own `create` (real records, real owner index), then the
//! real `satchel` binary lists, shows, counts, purges and revokes them, and the store is
//! checked afterwards.
#![allow(dead_code, unreachable_pub)]

use std::process::{Command, Stdio};
use std::time::Duration;

use satchel::{Meta, Record, SessionStore, StoreKey, Timestamp, Value};

/// The URL in `var`, or `None` after a loud skip; under `CI=true` a missing variable
/// fails the test (CI must not skip a store silently).
pub fn url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{var} is not set: run scripts/test (or eval \"$(scripts/services start all)\")")
        }
        _ => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr().lock(),
                "\n*** SKIPPED: {var} is not set (eval \"$(scripts/services start all)\") ***\n"
            );
            None
        }
    }
}

/// A name no parallel test run shares.
pub fn unique(what: &str) -> String {
    format!("{what}_{:012x}", rand::random::<u64>() >> 16)
}

/// Runs `satchel ARGS`: (exit code, stdout, stderr).
pub fn satchel(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_satchel"))
        .args(args)
        .env_remove("SATCHEL_STORE")
        .stdin(Stdio::null())
        .output()
        .expect("run satchel");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `satchel ARGS --json`, which must succeed: its JSON.
pub fn satchel_json(args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (code, out, err) = satchel(&all);
    assert_eq!(code, Some(0), "satchel {all:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("satchel {all:?}: {e}: {out}"))
}

/// A store key whose hex starts with the byte `first` (the rest random).
pub fn key(first: u8) -> StoreKey {
    let mut bytes: [u8; 32] = rand::random();
    bytes[0] = first;
    StoreKey::from_bytes(bytes)
}

/// A record created at `now`: idle timeout `idle`, absolute deadline `absolute` later.
pub fn record(now: Timestamp, owner: Option<&str>, idle: Duration, absolute: Duration) -> Record {
    let mut meta = Meta::new(now, idle, absolute);
    meta.owner = owner.map(str::to_owned);
    let mut record = Record {
        data: Default::default(),
        meta,
    };
    record.data.insert(
        "cart".to_owned(),
        Value::from_json("\"secret-cart-value\"").expect("json"),
    );
    record
}

/// The sessions the scenario writes.
pub struct Seeded {
    pub alice: [StoreKey; 3],
    pub bob: StoreKey,
    pub anonymous: StoreKey,
    /// Alice's, already expired (SQL: a row for purge; Redis: a dead owner-index entry).
    pub dead: StoreKey,
}

const HOUR: Duration = Duration::from_secs(3_600);

/// Writes the sessions through the store's own `create`.
pub async fn seed(store: &impl SessionStore) -> Seeded {
    let now = Timestamp::now();
    // Two keys share the prefix `ab` (an ambiguous reference); no key starts with `00`.
    let seeded = Seeded {
        alice: [key(0xab), key(0xac), key(0x11)],
        bob: key(0xab),
        anonymous: key(0x22),
        dead: key(0x33),
    };
    let write = |k: StoreKey, r: Record, at: Timestamp| async move {
        let outcome = store.create(&k, &r, at).await.expect("create");
        assert!(
            matches!(outcome, satchel::WriteOutcome::Applied(_)),
            "{outcome:?}"
        );
    };
    for (i, k) in seeded.alice.iter().enumerate() {
        let mut r = record(now, Some("alice"), 2 * HOUR, 24 * HOUR);
        r.meta.persistent = i == 0;
        write(*k, r, now).await;
    }
    write(
        seeded.bob,
        record(now, Some("bob"), 2 * HOUR, 24 * HOUR),
        now,
    )
    .await;
    // Expires within the stats window (1h).
    write(
        seeded.anonymous,
        record(now, None, Duration::from_secs(1_800), 24 * HOUR),
        now,
    )
    .await;
    // Created "two hours ago" and dead since one hour ago.
    let then = Timestamp::from_millis(now.as_millis() - 2 * 3_600_000);
    write(seeded.dead, record(then, Some("alice"), HOUR, HOUR), then).await;
    seeded
}

/// The scenario: `store_args` name the store for the binary (`--store URL` and
/// `--table`/`--prefix`). `purged` is what `satchel purge` must report.
pub async fn scenario(store: &impl SessionStore, store_args: &[&str], purged: &str) -> Seeded {
    let s = seed(store).await;
    let cmd = |sub: &[&str]| -> Vec<String> {
        sub.iter()
            .chain(store_args)
            .map(|a| (*a).to_owned())
            .collect()
    };
    let run_json = |sub: &[&str]| {
        let args = cmd(sub);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        satchel_json(&args)
    };
    let run = |sub: &[&str]| {
        let args = cmd(sub);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        satchel(&args)
    };
    let r = |k: &StoreKey| k.short();

    // stats: 5 live (the dead one is not), alice first, one expiring within the hour.
    let stats = run_json(&["stats", "--probe", "5", "--within", "1h", "--top", "1"]);
    assert_eq!(stats["live"], 5, "{stats}");
    assert_eq!(stats["logged_in"], 4, "{stats}");
    assert_eq!(stats["anonymous"], 1, "{stats}");
    assert_eq!(stats["persistent"], 1, "{stats}");
    assert_eq!(stats["owners"], 2, "{stats}");
    assert_eq!(
        stats["top_owners"].as_array().map(Vec::len),
        Some(1),
        "{stats}"
    );
    assert_eq!(stats["top_owners"][0]["owner"], "alice", "{stats}");
    assert_eq!(stats["top_owners"][0]["sessions"], 3, "{stats}");
    assert_eq!(stats["expiring"], 1, "{stats}");
    assert_eq!(stats["probe"]["round_trips"], 5, "{stats}");
    assert!(
        stats["probe"]["p50_us"].is_u64() && stats["probe"]["p99_us"].is_u64(),
        "{stats}"
    );
    let (code, text, err) = run(&["stats"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(text.contains("live sessions      5"), "{text}");
    assert!(text.contains("store round trip   p50 "), "{text}");

    // ls: every live session, newest first, never the data.
    let ls = run_json(&["sessions", "ls"]);
    assert_eq!(ls["total"], 5, "{ls}");
    let refs: Vec<&str> = ls["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter_map(|s| s["ref"].as_str())
        .collect();
    for k in s.alice.iter().chain([&s.bob, &s.anonymous]) {
        assert!(refs.contains(&r(k).as_str()), "{} missing from {ls}", r(k));
    }
    assert!(!refs.contains(&r(&s.dead).as_str()), "{ls}");
    let ls = run_json(&["sessions", "ls", "--owner", "alice"]);
    assert_eq!(ls["total"], 3, "{ls}");
    let ls = run_json(&["sessions", "ls", "--limit", "2"]);
    assert_eq!(ls["total"], 5, "{ls}");
    assert_eq!(ls["sessions"].as_array().map(Vec::len), Some(2), "{ls}");
    let (code, table, err) = run(&["sessions", "ls"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(table.starts_with("REF "), "{table}");
    assert!(
        table.contains(&r(&s.bob)) && table.contains("bob"),
        "{table}"
    );
    assert!(table.contains("(5 live session(s))"), "{table}");
    assert!(!table.contains("secret-cart-value"), "{table}");

    // show: one session by any unambiguous prefix; key names and sizes, never values.
    let shown = run_json(&["sessions", "show", &r(&s.alice[0])]);
    assert_eq!(shown["owner"], "alice", "{shown}");
    assert_eq!(shown["persistent"], true, "{shown}");
    assert_eq!(shown["keys"][0]["name"], "cart", "{shown}");
    assert_eq!(shown["keys"][0]["bytes"], 19, "{shown}");
    assert!(!shown.to_string().contains("secret-cart-value"), "{shown}");
    let (code, text, err) = run(&["sessions", "show", &s.alice[1].to_hex()[..6]]);
    assert_eq!(code, Some(0), "{err}");
    assert!(text.contains("owner             alice"), "{text}");
    assert!(
        text.contains("cart (19 B)") && !text.contains("secret"),
        "{text}"
    );
    // `ab`: alice's first and bob's.
    let (code, _, err) = run(&["sessions", "show", "ab"]);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("ambiguous: 2 sessions match"), "{err}");
    let (code, _, err) = run(&["sessions", "show", "00"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("no live session matches"), "{err}");
    // The dead one is not found either.
    let (code, _, _) = run(&["sessions", "show", &r(&s.dead)]);
    assert_eq!(code, Some(3));
    let (code, _, err) = run(&["sessions", "show", "not-hex"]);
    assert_eq!(code, Some(2), "{err}");

    // purge: what the store does not expire by itself.
    let (code, text, err) = run(&["purge"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(text.contains(purged), "{text}");

    // revoke one: through the store's delete.
    let (code, text, err) = run(&["sessions", "revoke", &r(&s.bob)]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(text.trim(), format!("revoked {}", r(&s.bob)));
    let now = Timestamp::now();
    assert!(store.load(&s.bob, now).await.expect("load").is_none());
    assert!(store
        .sessions_of("bob", now)
        .await
        .expect("sessions_of")
        .is_empty());
    let (code, _, _) = run(&["sessions", "revoke", &r(&s.bob)]);
    assert_eq!(code, Some(3), "a revoked session is gone");

    // revoke an owner's sessions but one: through the store's revoke_owner.
    let (code, _, err) = run(&["sessions", "revoke", "--owner", "alice", "--except", "00"]);
    assert_eq!(code, Some(3), "an unknown --except revokes nothing: {err}");
    assert_eq!(
        store
            .sessions_of("alice", now)
            .await
            .expect("sessions_of")
            .len(),
        3
    );
    let revoked = run_json(&[
        "sessions",
        "revoke",
        "--owner",
        "alice",
        "--except",
        &r(&s.alice[2]),
    ]);
    assert_eq!(revoked["revoked"], 2, "{revoked}");
    let left = store.sessions_of("alice", now).await.expect("sessions_of");
    assert_eq!(
        left.iter().map(|i| i.key).collect::<Vec<_>>(),
        vec![s.alice[2]]
    );
    let ls = run_json(&["sessions", "ls"]);
    assert_eq!(
        ls["total"], 2,
        "alice's kept one and the anonymous one: {ls}"
    );
    let (code, _, err) = run(&["sessions", "revoke"]);
    assert_eq!(code, Some(2), "REF or --owner is required: {err}");
    s
}
