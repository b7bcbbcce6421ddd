//! JSON-ish text → `Value::from_json` → patches applied by `MemoryStore::apply`, checked
//! against a plain model of the session's data.
//!
//! The input is lines (split on `\n`), each `<key><mode><text>`:
//! - `<key>`: one byte, the session key `"abcd"[byte % 4]` rotated so that `a`..`d` name
//!   themselves (`a` = 0x61 → "a");
//! - `<mode>`: one byte, `byte % 4` (so `0`..`3` name themselves):
//!   - `0` read-then-write: expects the key's current value, then sets it to `<text>`
//!     (removes it if `<text>` is not JSON);
//!   - `1` write with a possibly stale read: expects `<text>` (absent if not JSON), sets
//!     the key to the last valid value seen;
//!   - `2` remove with a possibly stale read: expects `<text>`, removes the key;
//!   - `3` blind write of `<text>`; if it is not JSON, clears the session expecting the
//!     key's current value;
//! - `<text>`: the rest of the line (invalid UTF-8 replaced by U+FFFD).
//!
//! Checked, beyond "no panic":
//! - `from_json` keeps the text exactly (bar surrounding JSON whitespace), accepts its own
//!   output, and accepts everything `serde_json` parses as a value;
//! - each patch is refused with `Conflict` exactly when an expectation differs from the
//!   current value (so a patch expecting the current value always applies), with
//!   `TooLarge` exactly when the data would exceed the limit, and otherwise applies;
//!   `Patch::conflicts` and `Patch::too_large` (the record-level path other stores use)
//!   agree;
//! - after each patch the stored data equals the model, textually.
#![no_main]

use std::collections::BTreeMap;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use satchel::{Data, Expires, MemoryStore, Meta, Patch, Record, SessionStore, Value, WriteOutcome};
use satchel_fuzz::{block_on, fixed_key, json, LIVE_FRESH, NOW};

/// The session's data limit: small, so that inputs reach it.
const LIMIT: usize = 512;
const KEYS: [&str; 4] = ["d", "a", "b", "c"];

/// Parses `text` as a session value and checks what `from_json` promises.
fn parse(text: &str) -> Option<Value> {
    let value = Value::from_json(text).ok();
    if serde_json::from_str::<serde_json::Value>(text).is_ok() {
        assert!(
            value.is_some(),
            "serde_json parses it, from_json refuses it"
        );
    }
    let value = value?;
    let trimmed = text.trim_matches([' ', '\t', '\n', '\r']);
    assert_eq!(value.get(), trimmed, "from_json must keep the text");
    let again = Value::from_json(value.get()).expect("from_json accepts its own output");
    assert_eq!(again, value);
    // What `Session::get` does with it; may fail (number out of range, nesting limit).
    if let Ok(decoded) = value.deserialize::<serde_json::Value>() {
        Value::from_serialize(&decoded).expect("a decoded value serialises");
    }
    Some(value)
}

fn size(data: &BTreeMap<String, String>) -> usize {
    data.iter().map(|(k, v)| k.len() + v.len()).sum()
}

fn as_data(model: &BTreeMap<String, String>) -> Data {
    model.iter().map(|(k, v)| (k.clone(), json(v))).collect()
}

fuzz_target!(|data: &[u8]| {
    let store = MemoryStore::builder().shards(1).build();
    let key = fixed_key(LIVE_FRESH);
    let mut model = BTreeMap::from([("a".to_owned(), "1".to_owned())]);
    let record = Record {
        data: as_data(&model),
        meta: Meta::new(NOW, Duration::from_secs(1800), Duration::from_secs(43_200)),
    };
    let created = block_on(store.create(&key, &record, NOW));
    assert!(matches!(created, Ok(WriteOutcome::Applied(_))), "fixture");

    let mut last_valid = json("null");
    for line in data.split(|&b| b == b'\n') {
        let [k, mode, text @ ..] = line else {
            parse(&String::from_utf8_lossy(line));
            continue;
        };
        let name = KEYS[usize::from(k % 4)].to_owned();
        let text = String::from_utf8_lossy(text);
        let value = parse(&text);
        let current = model.get(&name).map(|v| json(v));

        let mut patch = Patch {
            max_data_bytes: Some(LIMIT),
            ..Patch::default()
        };
        match (mode % 4, value.clone()) {
            (0, v) => {
                patch.expect.push((name.clone(), current));
                match v {
                    Some(v) => patch.set.push((name.clone(), v)),
                    None => patch.remove.push(name.clone()),
                }
            }
            (1, expected) => {
                patch.expect.push((name.clone(), expected));
                patch.set.push((name.clone(), last_valid.clone()));
            }
            (2, expected) => {
                patch.expect.push((name.clone(), expected));
                patch.remove.push(name.clone());
            }
            (_, Some(v)) => patch.set.push((name.clone(), v)),
            (_, None) => {
                patch.clear = true;
                patch.expect.push((name.clone(), current));
            }
        }
        if let Some(v) = value {
            last_valid = v;
        }

        // What must happen, from the model alone.
        let conflicts: Vec<String> = patch
            .expect
            .iter()
            .filter(|(k, seen)| model.get(k).map(String::as_str) != seen.as_ref().map(Value::get))
            .map(|(k, _)| k.clone())
            .collect();
        let mut after = if patch.clear {
            BTreeMap::new()
        } else {
            model.clone()
        };
        for k in &patch.remove {
            after.remove(k);
        }
        for (k, v) in &patch.set {
            after.insert(k.clone(), v.get().to_owned());
        }
        let too_large = size(&after) > LIMIT;

        // The record-level helpers other stores use agree with the model.
        let before = as_data(&model);
        assert_eq!(patch.conflicts(&before), conflicts, "Patch::conflicts");
        assert_eq!(patch.too_large(&before), too_large, "Patch::too_large");

        let expected = if !conflicts.is_empty() {
            WriteOutcome::Conflict(conflicts)
        } else if too_large {
            WriteOutcome::TooLarge
        } else {
            model = after;
            WriteOutcome::Applied(Expires {
                at: NOW.saturating_add(Duration::from_secs(1800)),
                persistent: false,
            })
        };

        let outcome = block_on(store.apply(&key, &patch, NOW)).expect("a valid record patches");
        assert_eq!(outcome, expected, "apply outcome");

        let stored = block_on(store.load(&key, NOW))
            .expect("a valid record loads")
            .expect("the session is live");
        let stored: BTreeMap<String, String> = stored
            .data
            .iter()
            .map(|(k, v)| (k.clone(), v.get().to_owned()))
            .collect();
        assert_eq!(stored, model, "stored data after the patch");
    }
});
