//! An engine with a custom [`IdFormat`] (what interop layers plug in): cookies carry the
//! format's encoding, stores see the format's keys, rotation draws from its generator,
//! and values it refuses are never looked up.

use satchel::{
    Engine, IdFormat, Instrumented, MemoryStore, SessionConfig, SessionId, SessionStore, StoreKey,
};

/// Ids as `v1-` + 64 hex digits; the store key is the raw bytes (no hashing).
struct HexIds;

impl IdFormat for HexIds {
    fn generate(&self) -> SessionId {
        SessionId::from_raw(rand::random())
    }

    fn decode(&self, value: &[u8]) -> Option<SessionId> {
        let hex = value.strip_prefix(b"v1-")?;
        if hex.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, pair) in hex.chunks(2).enumerate() {
            let s = std::str::from_utf8(pair).ok()?;
            bytes[i] = u8::from_str_radix(s, 16).ok()?;
        }
        Some(SessionId::from_raw(bytes))
    }

    fn encode(&self, id: &SessionId) -> String {
        let hex: String = id.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        format!("v1-{hex}")
    }

    fn store_key(&self, id: &SessionId) -> StoreKey {
        StoreKey::from_bytes(*id.as_bytes())
    }
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().expect("pair").to_owned()
}

#[tokio::test]
async fn the_format_carries_ids_and_keys_the_store() {
    let store = Instrumented::new(MemoryStore::new());
    let engine = Engine::with_id_format(store.clone(), SessionConfig::default(), HexIds);
    let s = engine.begin(None);
    s.insert("n", &1).expect("insert");
    let cookie = pair(&engine.finish(&s, 200).await.set_cookie.expect("cookie"));
    let value = cookie.strip_prefix("id=").expect("name");
    assert!(value.starts_with("v1-") && value.len() == 67, "{value}");
    // The store holds the record under the format's key: the raw id bytes.
    let id = HexIds.decode(value.as_bytes()).expect("own value decodes");
    let key = StoreKey::from_bytes(*id.as_bytes());
    let now = engine.now();
    assert!(store.load(&key, now).await.expect("load").is_some());

    // Reads work through the format; login rotates to another id of the same format.
    let s = engine.begin([cookie.as_bytes()]);
    assert_eq!(s.get::<i64>("n").await.expect("read"), Some(1));
    s.login("alice").expect("login");
    let rotated = pair(&engine.finish(&s, 200).await.set_cookie.expect("rotated"));
    assert!(rotated.starts_with("id=v1-") && rotated != cookie);
    assert!(
        store.load(&key, now).await.expect("load").is_none(),
        "old key gone"
    );

    // A native satchel id (or anything else) is not this format: never looked up.
    let before = store.calls();
    let native = format!("id={}", SessionId::generate().encode());
    for bad in [native.as_str(), "id=v1-zz", "id=v1-"] {
        let s = engine.begin([bad.as_bytes()]);
        assert_eq!(s.get::<i64>("n").await.expect("read"), None);
        let _ = engine.finish(&s, 200).await;
    }
    assert_eq!(store.calls(), before);
}

/// Ids as 64 hex digits whose "signature" travels in `<name>.sig` (the shape of
/// koa-session's external-store cookies): the engine reads, writes and removes both.
struct SignedHex;

fn toy_sig(name: &str, value: &str) -> String {
    format!(
        "{:x}",
        value.len() + name.len() * 1000 + value.bytes().map(usize::from).sum::<usize>()
    )
}

impl IdFormat for SignedHex {
    fn generate(&self) -> SessionId {
        HexIds.generate()
    }

    fn decode(&self, _value: &[u8]) -> Option<SessionId> {
        None // never without its signature
    }

    fn encode(&self, id: &SessionId) -> String {
        HexIds.encode(id)
    }

    fn store_key(&self, id: &SessionId) -> StoreKey {
        HexIds.store_key(id)
    }

    fn companion_suffix(&self) -> Option<&str> {
        Some(".sig")
    }

    fn decode_with_companion(
        &self,
        name: &str,
        value: &[u8],
        companion: Option<&[u8]>,
    ) -> Option<SessionId> {
        let text = std::str::from_utf8(value).ok()?;
        (companion? == toy_sig(name, text).as_bytes())
            .then(|| HexIds.decode(value))
            .flatten()
    }

    fn companion(&self, name: &str, encoded: &str) -> Option<String> {
        Some(toy_sig(name, encoded))
    }
}

#[tokio::test]
async fn a_companion_signature_cookie_travels_with_the_id() {
    let engine = Engine::with_id_format(MemoryStore::new(), SessionConfig::default(), SignedHex);
    let s = engine.begin(None);
    s.insert("n", &1).expect("insert");
    let done = engine.finish(&s, 200).await;
    let pairs: Vec<String> = done.set_cookies().map(pair).collect();
    assert_eq!(pairs.len(), 2, "{pairs:?}");
    assert!(pairs[0].starts_with("id=v1-") && pairs[1].starts_with("id.sig="));
    let header = pairs.join("; ");
    let s = engine.begin([header.as_bytes()]);
    assert_eq!(s.get::<i64>("n").await.expect("read"), Some(1));
    let _ = engine.finish(&s, 200).await;
    // The id without its signature is not adopted; logout removes both cookies.
    let s = engine.begin([pairs[0].as_bytes()]);
    assert_eq!(s.get::<i64>("n").await.expect("read"), None);
    let _ = engine.finish(&s, 200).await;
    let s = engine.begin([header.as_bytes()]);
    s.logout();
    let removed: Vec<String> = engine
        .finish(&s, 200)
        .await
        .set_cookies()
        .map(pair)
        .collect();
    assert_eq!(removed, ["id=", "id.sig="]);
}
