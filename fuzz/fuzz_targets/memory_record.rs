//! Arbitrary bytes as a `MemoryStore` record → every store operation that reads a record.
//!
//! The byte codec is private, so the input goes in through the public test hook
//! `MemoryStore::corrupt_for_tests`, which replaces a live record's stored bytes (its
//! deadlines, kept beside the bytes, stay valid). Before each operation the record is
//! created afresh and corrupted again, so each decoder path (full decode, in-place patch,
//! idle-timeout read, owner read during index upkeep, rotation, eviction and sweeps) sees
//! the raw input, not what an earlier successful write made of it.
//!
//! Checked: every operation answers `Ok` or a `Corrupt` store error; none panics, and
//! operations that never decode a record (`sessions_of`, `delete`, `purge_expired`,
//! `revoke_owner`) always succeed.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use satchel::{ExpiryChange, MemoryStore, Patch, SessionStore, StoreKey, Timestamp, WriteOutcome};
use satchel_fuzz::{
    block_on, fixed_key, json, later, ok_or_corrupt, record_created_ago, EXPIRED, LIVE_FRESH,
    LIVE_TOUCH, NOW, OWNER,
};

/// Puts a fresh record owned by [`OWNER`] under `key` (replacing whatever is there) and
/// replaces its stored bytes with `blob`. Fresh each time: a successful write may have
/// re-encoded the bytes, or given the record the idle timeout it read from them (zero,
/// say), which legitimately ends it.
fn corrupt(store: &MemoryStore, key: &StoreKey, blob: &[u8]) {
    block_on(store.delete(key)).expect("delete reads no record");
    let record = record_created_ago(Duration::ZERO, Some(OWNER));
    let created = block_on(store.create(key, &record, NOW));
    assert!(matches!(created, Ok(WriteOutcome::Applied(_))), "fixture");
    assert!(store.corrupt_for_tests(key, blob), "no record to corrupt");
}

/// The patches the engine sends: a read-then-write with a size limit, a login-style
/// rewrite (clear, new owner, "remember me"), a removal, and the empty patch of a touch.
fn patches(now: Timestamp) -> [Patch; 4] {
    [
        Patch {
            set: vec![("n".to_owned(), json("2"))],
            expect: vec![("n".to_owned(), Some(json("1")))],
            max_data_bytes: Some(64),
            ..Patch::default()
        },
        Patch {
            clear: true,
            set: vec![("flash".to_owned(), json(r#"[{"level":"info"}]"#))],
            expect: vec![("absent".to_owned(), None)],
            expiry: Some(ExpiryChange {
                idle_timeout: Duration::from_secs(7 * 24 * 3600),
                absolute_deadline: later(now, Duration::from_secs(30 * 24 * 3600)),
                persistent: true,
            }),
            owner: Some(Some("someone-else".to_owned())),
            ..Patch::default()
        },
        Patch {
            remove: vec!["n".to_owned(), "flash".to_owned()],
            owner: Some(None),
            ..Patch::default()
        },
        Patch::default(),
    ]
}

fuzz_target!(|blob: &[u8]| {
    // Room for two records, in one shard, so a third create must evict one.
    let store = MemoryStore::builder().max_sessions(2).shards(1).build();
    let key = fixed_key(LIVE_FRESH);
    let other = fixed_key(LIVE_TOUCH);
    let third = fixed_key(EXPIRED);
    let now = later(NOW, Duration::from_secs(1));

    corrupt(&store, &key, blob);
    let loaded = ok_or_corrupt("load", block_on(store.load(&key, now)));
    assert!(
        !matches!(loaded, Some(None)),
        "a live record loaded as absent"
    );

    for patch in patches(now) {
        corrupt(&store, &key, blob);
        ok_or_corrupt("apply", block_on(store.apply(&key, &patch, now)));
    }

    corrupt(&store, &key, blob);
    let touched = ok_or_corrupt("touch", block_on(store.touch(&key, now)));
    assert!(
        !matches!(touched, Some(None)),
        "a live record touched as absent"
    );

    // Two sessions of OWNER, both corrupt: the index answers without decoding either. The
    // test hook re-indexes a key under whatever owner its new bytes name (the index never
    // keeps a key its record no longer claims), so only these two keys may be listed.
    corrupt(&store, &other, blob);
    corrupt(&store, &key, blob);
    let listed = block_on(store.sessions_of(OWNER, now)).expect("sessions_of reads no record");
    assert!(
        listed.iter().all(|s| s.key == key || s.key == other),
        "a key of {OWNER} listed that was never one of its sessions"
    );

    // Rotation reads the record (and its owner) to move it; afterwards exactly one of the
    // two keys holds it.
    let login = Patch {
        owner: Some(Some("rotated-owner".to_owned())),
        ..Patch::default()
    };
    let rotated = ok_or_corrupt("rotate", block_on(store.rotate(&key, &third, &login, now)));
    let (moved, left) = match rotated {
        Some(WriteOutcome::Applied(_)) => (third, key),
        _ => (key, third),
    };
    assert!(
        block_on(store.load(&left, now)).is_ok_and(|r| r.is_none()),
        "rotate left a copy"
    );
    ok_or_corrupt("load after rotate", block_on(store.load(&moved, now)));
    block_on(store.sessions_of("rotated-owner", now)).expect("sessions_of reads no record");

    // The shard is full (`other` and the moved record, both corrupt): a new session evicts
    // one, reading its owner from the corrupt bytes to keep the owner index right.
    corrupt(&store, &moved, blob);
    let newcomer = StoreKey::from_bytes([7; 32]);
    let created = block_on(store.create(&newcomer, &record_created_ago(Duration::ZERO, None), NOW));
    assert!(
        matches!(created, Ok(WriteOutcome::Applied(_))),
        "create in a full shard"
    );
    assert!(store.len() <= 2, "capacity exceeded");
    block_on(store.revoke_owner(OWNER, None)).expect("revoke_owner reads no record");

    // Sweeps read the owners of the corrupt records they remove.
    corrupt(&store, &key, blob);
    corrupt(&store, &other, blob);
    let far = later(NOW, Duration::from_secs(400 * 24 * 3600));
    let purged = block_on(store.purge_expired(far, usize::MAX)).expect("purge reads no record");
    assert!(purged >= 2, "purged {purged}");
    assert!(
        store.is_empty(),
        "records left after a purge at the far future"
    );
    assert!(block_on(store.sessions_of(OWNER, far)).is_ok_and(|s| s.is_empty()));
});
