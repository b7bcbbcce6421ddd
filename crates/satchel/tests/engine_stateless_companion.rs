//! A stateless engine whose sealer authenticates the value in a companion cookie (the
//! shape of koa-session's `name` + `name.sig`): the companion is read, written next to the
//! value, removed with it, and a record never spans more than one cookie.

use satchel::sealed::{CookieSealer, OpenError, Opened};
use satchel::{Engine, SessionConfig, SessionErrorKind, Stateless, StoreError};
use sha2::{Digest, Sha256};

/// Plaintext as hex; the "signature" is SHA-256 of `name=value` (a stand-in for keygrip:
/// the engine's handling of the companion is what is under test, not the MAC).
struct HexWithSig;

fn sig(name: &str, value: &str) -> String {
    Sha256::digest(format!("{name}={value}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl CookieSealer for HexWithSig {
    fn seal(&self, _name: &str, plaintext: &[u8]) -> Result<String, StoreError> {
        Ok(plaintext.iter().map(|b| format!("{b:02x}")).collect())
    }

    fn open(&self, _name: &str, _sealed: &str) -> Result<Opened, OpenError> {
        Err(OpenError::Tampered)
    }

    fn companion_suffix(&self) -> Option<&str> {
        Some(".sig")
    }

    fn companion(&self, name: &str, sealed: &str) -> Option<String> {
        Some(sig(name, sealed))
    }

    fn open_with_companion(
        &self,
        name: &str,
        sealed: &str,
        companion: Option<&str>,
    ) -> Result<Opened, OpenError> {
        if companion != Some(sig(name, sealed).as_str()) {
            return Err(OpenError::Tampered);
        }
        let bytes = (0..sealed.len())
            .step_by(2)
            .map(|i| {
                sealed
                    .get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or(OpenError::Malformed)?;
        Ok(Opened {
            plaintext: bytes,
            stale_key: false,
        })
    }
}

fn pairs(finish: &satchel::Finish) -> Vec<String> {
    finish
        .set_cookies()
        .map(|c| c.split(';').next().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn the_companion_cookie_travels_with_the_value() {
    let engine = Engine::stateless(Stateless::new(HexWithSig), SessionConfig::default());
    let s = engine.begin(None);
    s.insert("n", &1).expect("insert");
    let done = engine.finish(&s, 200).await;
    let set = pairs(&done);
    assert_eq!(set.len(), 2, "value and signature: {set:?}");
    assert!(set[0].starts_with("id=") && set[1].starts_with("id.sig="));
    let header = set.join("; ");

    let s = engine.begin([header.as_bytes()]);
    assert_eq!(s.get::<i64>("n").await.expect("read"), Some(1));
    let _ = engine.finish(&s, 200).await;

    // Without the signature, or with another one: no session, and both cookies cleared.
    let value_only = set[0].clone();
    let forged = format!("{}; id.sig={}", set[0], "0".repeat(64));
    for bad in [value_only, forged] {
        let s = engine.begin([bad.as_bytes()]);
        assert_eq!(s.get::<i64>("n").await.expect("read"), None);
        let done = engine.finish(&s, 200).await;
        let removed = pairs(&done);
        assert_eq!(removed, ["id=", "id.sig="], "{bad}");
    }

    // Logout removes both.
    let s = engine.begin([header.as_bytes()]);
    s.logout();
    assert_eq!(pairs(&engine.finish(&s, 200).await), ["id=", "id.sig="]);
}

#[tokio::test]
async fn companion_formats_never_chunk() {
    let engine = Engine::stateless(Stateless::new(HexWithSig), SessionConfig::default());
    let s = engine.begin(None);
    s.insert("big", &"x".repeat(3000)).expect("insert"); // 6 KB as hex
    let err = s.save().await.expect_err("one cookie cannot hold it");
    assert_eq!(err.kind(), SessionErrorKind::TooLarge);
}
