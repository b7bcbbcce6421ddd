//! `Cookie` request headers → `Engine::begin` → one read → `Engine::finish`.
//!
//! The input is split on `\n` into 0–4 header values (see `split_headers`), so seeds are
//! readable text. Each input gets a fresh engine over an `Instrumented<MemoryStore>` that
//! holds three known sessions (one live, one live and due for a touch, one expired), so
//! inputs never influence each other.
//!
//! Checked, beyond "no panic":
//! - a request that does not carry exactly one canonical `id` cookie (within the 16 KiB
//!   header limit) makes **no store call at all**, even though the handler reads;
//! - one that does makes exactly one `load`, plus one `touch` for the session due for it,
//!   and reads `n = 1` from a live session, nothing from an unknown or expired one;
//! - `finish` never reports an error, and clears the cookie exactly when the id it looked
//!   up was not a live session.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use satchel::{
    Calls, Engine, Instrumented, MemoryStore, SessionConfig, SessionStore, TestClock, WriteOutcome,
};
use satchel_fuzz::{
    block_on, expected_lookup, fixed_key, record_created_ago, split_headers, EXPIRED, LIVE_FRESH,
    LIVE_TOUCH, NOW,
};

fn engine() -> (Engine, Instrumented<MemoryStore>) {
    let memory = MemoryStore::builder().shards(1).build();
    let minutes = |m: u64| Duration::from_secs(60 * m);
    for (id, age) in [
        (LIVE_FRESH, minutes(0)),
        (LIVE_TOUCH, minutes(20)),
        (EXPIRED, minutes(120)),
    ] {
        // Straight into the memory store: fixtures are not counted as the request's calls.
        let created = block_on(memory.create(&fixed_key(id), &record_created_ago(age, None), NOW));
        assert!(
            matches!(created, Ok(WriteOutcome::Applied(_))),
            "fixture {id}"
        );
    }
    let store = Instrumented::new(memory);
    let engine = Engine::with_clock(store.clone(), SessionConfig::default(), TestClock::new(NOW));
    (engine, store)
}

fuzz_target!(|data: &[u8]| {
    let headers = split_headers(data);
    let (engine, store) = engine();

    let session = engine.begin(headers.iter().copied());
    let n = block_on(session.get::<i64>("n"));
    let done = block_on(engine.finish(&session, 200));
    let calls = store.calls();

    let lookup = expected_lookup(&headers);
    let live = lookup.is_some_and(|id| id == LIVE_FRESH.as_bytes() || id == LIVE_TOUCH.as_bytes());

    assert!(n.is_ok(), "read failed: {n:?}");
    assert!(done.error.is_none(), "finish failed: {:?}", done.error);
    match lookup {
        None => assert_eq!(
            calls,
            Calls::default(),
            "store called without a valid id cookie"
        ),
        Some(id) => {
            let touch = u64::from(id == LIVE_TOUCH.as_bytes());
            let expected = Calls {
                load: 1,
                touch,
                ..Calls::default()
            };
            assert_eq!(calls, expected, "store calls for one valid id cookie");
        }
    }
    assert_eq!(n.ok().flatten(), live.then_some(1), "value read");
    let cleared = done
        .set_cookie
        .as_deref()
        .is_some_and(|c| c.starts_with("id=;") && c.contains("Max-Age=0"));
    assert_eq!(
        cleared,
        lookup.is_some() && !live,
        "cookie removal (set_cookie present: {})",
        done.set_cookie.is_some()
    );
    assert!(
        done.set_cookie.is_none() || cleared,
        "unexpected Set-Cookie"
    );
});
