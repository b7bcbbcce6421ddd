//! Stateless sessions: the whole record travels in the cookie, sealed.
//!
//! A sealed-cookie session has no server-side record, so it cannot be a
//! [`SessionStore`](crate::SessionStore): there is no key to load, and every write must
//! change the cookie itself. The engine hosts it as a second kind of backend
//! ([`crate::Engine::stateless`]) with the same [`Session`](crate::Session) API:
//!
//! - the engine frames the record (a random session id, the issue time, the deadlines and
//!   the data) into bytes, asks a [`CookieSealer`] to encrypt and authenticate them, and
//!   splits the result across numbered cookies (`id`, `id.1`, …) when it is too long for
//!   one (browsers silently drop cookies over 4096 bytes);
//! - on the way in it joins the chunks, asks the sealer to open them, and enforces the idle
//!   and absolute deadlines from inside the plaintext, so a replayed cookie dies on time;
//! - an optional [`Revocations`] store (a deny-list entry per logged-out session and a
//!   per-owner "not before" time) makes `logout()` and "log out my other devices" stick
//!   even though a copy of the old cookie still decrypts.
//!
//! The crypto lives in a separate crate (`satchel-cookie`); this module only defines the
//! contract, so the core crate needs no cipher.
//!
//! # What a sealed session does not give
//! Two concurrent requests each carry their own copy of the record and each answer with a
//! new cookie; the browser keeps the last one it receives. Same-key conflicts and
//! different-key merges cannot be detected without server state, so the concurrency
//! guarantees of [`crate::store`] do not apply. Listing an owner's sessions is impossible
//! (`owner_sessions` returns an `Unsupported` store error).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::StoreError;
use crate::id::{SessionId, StoreKey};
use crate::memory::codec::{self, Times};
use crate::record::Record;
use crate::store::BoxFuture;
use crate::time::Timestamp;

/// Encrypts and authenticates session plaintext into a cookie-safe string, and back.
///
/// Implementations must use an AEAD, bind `cookie_name` as associated data (so a value
/// copied into another cookie name does not open), and produce only characters allowed in
/// a cookie value without quoting (base64url is the natural choice).
pub trait CookieSealer: Send + Sync + 'static {
    /// Seals `plaintext` for the cookie called `cookie_name` with the active key.
    ///
    /// # Errors
    /// Only if the cipher itself fails; callers answer with a server error.
    fn seal(&self, cookie_name: &str, plaintext: &[u8]) -> Result<String, StoreError>;

    /// [`CookieSealer::seal`], appending the sealed value to `out` (which may already hold
    /// text, such as the start of the `Set-Cookie` value). The engine seals through this,
    /// so a sealer that encodes straight into `out` spares each response a copy of the
    /// value and an allocation. The default appends what [`CookieSealer::seal`] returns.
    ///
    /// # Errors
    /// As [`CookieSealer::seal`]; `out` is then left as it was.
    fn seal_into(
        &self,
        cookie_name: &str,
        plaintext: &[u8],
        out: &mut String,
    ) -> Result<(), StoreError> {
        out.push_str(&self.seal(cookie_name, plaintext)?);
        Ok(())
    }

    /// Opens a value sealed by [`CookieSealer::seal`] for the same `cookie_name`.
    ///
    /// # Errors
    /// [`OpenError`] for anything that is not an intact value sealed under a key this
    /// sealer still holds. Must never panic, whatever `sealed` contains.
    fn open(&self, cookie_name: &str, sealed: &str) -> Result<Opened, OpenError>;

    /// For foreign formats that authenticate the value in a separate cookie (koa-session's
    /// `<name>.sig`): that cookie's name suffix. `None` (the default) for values that
    /// authenticate themselves. A sealer with a companion cookie is never chunked (foreign
    /// readers do not join chunks): past one cookie the request fails with `TooLarge`.
    fn companion_suffix(&self) -> Option<&str> {
        None
    }

    /// The companion cookie's value for `sealed` (only called when
    /// [`CookieSealer::companion_suffix`] is `Some`).
    fn companion(&self, cookie_name: &str, sealed: &str) -> Option<String> {
        let _ = (cookie_name, sealed);
        None
    }

    /// Opens `sealed` given the companion cookie's value, if the browser sent one. The
    /// default ignores it and calls [`CookieSealer::open`].
    ///
    /// # Errors
    /// As [`CookieSealer::open`].
    fn open_with_companion(
        &self,
        cookie_name: &str,
        sealed: &str,
        companion: Option<&str>,
    ) -> Result<Opened, OpenError> {
        let _ = companion;
        self.open(cookie_name, sealed)
    }
}

/// A successfully opened cookie.
pub struct Opened {
    /// The plaintext given to [`CookieSealer::seal`].
    pub plaintext: Vec<u8>,
    /// Sealed with a fallback key: the engine re-seals it with the active key on this
    /// response, even if nothing changed.
    pub stale_key: bool,
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("plaintext", &format_args!("{} bytes", self.plaintext.len()))
            .field("stale_key", &self.stale_key)
            .finish()
    }
}

/// Why a sealed cookie did not open. The engine treats every case as "no session" and
/// logs the kind (never the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Not the sealer's format at all (bad encoding, wrong length, unknown version).
    Malformed,
    /// Sealed under a key id this sealer does not hold (removed from rotation).
    UnknownKey,
    /// Authentication failed: modified, truncated, extended, or moved from another name.
    Tampered,
}

impl OpenError {
    /// A stable name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            OpenError::Malformed => "sealed_malformed",
            OpenError::UnknownKey => "sealed_unknown_key",
            OpenError::Tampered => "sealed_tampered",
        }
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpenError::Malformed => "sealed cookie is malformed",
            OpenError::UnknownKey => "sealed cookie names an unknown key",
            OpenError::Tampered => "sealed cookie failed authentication",
        })
    }
}

impl std::error::Error for OpenError {}

/// The optional server-side memory of a stateless deployment: which sealed sessions were
/// ended before their deadlines.
///
/// Entries are keyed by the [`StoreKey`] (SHA-256) of the session id inside the cookie, so
/// the store never holds anything that could be replayed, and each entry may be dropped
/// once `until` passes (the cookie's own deadline has killed it by then).
pub trait Revocations: Send + Sync + 'static {
    /// Whether a cookie for `session`, bound to `owner` and sealed at `issued_at`, has been
    /// revoked: its session is deny-listed, or its owner has a "not before" time at or
    /// after `issued_at` (a cookie sealed in the revoke's own millisecond is revoked too;
    /// the engine seals the caller's kept cookie strictly after the cut-off). One round
    /// trip for remote stores.
    fn is_revoked<'a>(
        &'a self,
        session: &'a StoreKey,
        owner: Option<&'a str>,
        issued_at: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Deny-lists `session` until `until` (logout, or the old id of a rotation); `now` is
    /// the engine's clock, for housekeeping. The engine passes the session's absolute
    /// deadline, the latest any copy of its cookie can reach by touches and writes. A later
    /// call with an earlier `until` must not shorten the entry.
    fn revoke_session<'a>(
        &'a self,
        session: &'a StoreKey,
        until: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Rejects every cookie of `owner` sealed at or before `not_before`, until `until` (by then
    /// every such cookie has passed its absolute deadline). `not_before` is the engine's
    /// "now". A later call with an earlier `not_before` must not lower it.
    fn revoke_owner<'a>(
        &'a self,
        owner: &'a str,
        not_before: Timestamp,
        until: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

impl<R: Revocations + ?Sized> Revocations for Arc<R> {
    fn is_revoked<'a>(
        &'a self,
        session: &'a StoreKey,
        owner: Option<&'a str>,
        issued_at: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        (**self).is_revoked(session, owner, issued_at, now)
    }

    fn revoke_session<'a>(
        &'a self,
        session: &'a StoreKey,
        until: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).revoke_session(session, until, now)
    }

    fn revoke_owner<'a>(
        &'a self,
        owner: &'a str,
        not_before: Timestamp,
        until: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).revoke_owner(owner, not_before, until)
    }
}

/// [`Revocations`] in this process's memory: for a single instance, or for the demo.
///
/// **Lost on restart, and private to this process.** After a restart every logged-out
/// cookie, every revoked device and every pre-login cookie opens again (until its own
/// deadline), and in a fleet a logout on one instance is unknown to the others. Use a
/// shared, durable store (`satchel_redis::RedisRevocations`, `satchel_sql` revocations)
/// whenever more than one process serves the same cookies or a restart must not undo
/// logouts.
///
/// Entries expire with the cookies they revoke (a session's absolute deadline, an owner's
/// longest lifetime); expired entries are swept every [`MemoryRevocations::SWEEP_EVERY`]
/// insertions and whenever the cap is reached, so the map holds the revocations of one
/// absolute lifetime. Any visitor can add entries (each logout, each login with a
/// pre-login session), so the map is capped ([`MemoryRevocations::with_capacity`]). At
/// the cap it first drops expired entries; if it is still full it **refuses** the new
/// revocation (an `Unavailable` store error: the request fails closed, logged at ERROR
/// under `satchel::capacity`) rather than evict an unexpired entry, which would let a
/// revoked cookie back in.
#[derive(Debug)]
pub struct MemoryRevocations {
    inner: Mutex<RevokedSets>,
    capacity: usize,
}

impl Default for MemoryRevocations {
    fn default() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

#[derive(Debug, Default)]
struct RevokedSets {
    sessions: HashMap<StoreKey, Timestamp>,
    /// Owner → (not before, until).
    owners: HashMap<String, (Timestamp, Timestamp)>,
    inserts: usize,
    /// When a full list was last swept: at the cap a sweep (a walk over every entry under
    /// the lock) runs at most once per [`FULL_SWEEP_EVERY`], so a flood of revocations
    /// against a full list cannot turn each refused insert into a full walk, nor flood the
    /// log.
    last_full_sweep: Option<Timestamp>,
}

/// The shortest time between two sweeps of a full [`MemoryRevocations`].
const FULL_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl RevokedSets {
    fn len(&self) -> usize {
        self.sessions.len() + self.owners.len()
    }

    fn sweep(&mut self, now: Timestamp) {
        self.sessions.retain(|_, until| *until > now);
        self.owners.retain(|_, (_, until)| *until > now);
    }

    /// Makes room for one new entry: a periodic sweep, a sweep at the cap, then a refusal.
    fn room(&mut self, capacity: usize, now: Timestamp) -> Result<(), StoreError> {
        self.inserts = self.inserts.wrapping_add(1);
        if self.inserts.is_multiple_of(MemoryRevocations::SWEEP_EVERY) {
            self.sweep(now);
        }
        if self.len() >= capacity {
            let due = self
                .last_full_sweep
                .is_none_or(|at| now >= at.saturating_add(FULL_SWEEP_EVERY));
            if due {
                self.sweep(now);
                self.last_full_sweep = Some(now);
                if self.len() >= capacity {
                    // Once per full sweep, not once per refusal.
                    tracing::error!(target: "satchel::capacity", capacity, "sealed-session revocation list full; revocations refused until entries expire (raise MemoryRevocations::with_capacity or use a durable store)");
                }
            }
        }
        if self.len() >= capacity {
            return Err(StoreError::msg(
                crate::StoreErrorKind::Unavailable,
                "the revocation list is full",
            ));
        }
        Ok(())
    }
}

impl MemoryRevocations {
    /// How many insertions pass between sweeps of expired entries.
    pub const SWEEP_EVERY: usize = 1024;

    /// The default cap on entries: 1,000,000 (a session entry takes 50–100 bytes of map,
    /// so about 50–100 MB when full of them; owner entries add their name).
    pub const DEFAULT_CAPACITY: usize = 1_000_000;

    /// An empty deny-list holding at most [`MemoryRevocations::DEFAULT_CAPACITY`] entries.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty deny-list holding at most `capacity` unexpired entries (sessions plus
    /// owners; at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryRevocations {
            inner: Mutex::new(RevokedSets::default()),
            capacity: capacity.max(1),
        }
    }

    /// How many entries (sessions plus owners) are held, expired or not.
    pub fn len(&self) -> usize {
        self.inner.lock().len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops entries whose `until` is at or before `now`.
    pub fn sweep(&self, now: Timestamp) {
        self.inner.lock().sweep(now);
    }
}

impl Revocations for MemoryRevocations {
    fn is_revoked<'a>(
        &'a self,
        session: &'a StoreKey,
        owner: Option<&'a str>,
        issued_at: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let sets = self.inner.lock();
        let denied = sets.sessions.get(session).is_some_and(|until| *until > now);
        let before = owner
            .and_then(|o| sets.owners.get(o))
            .is_some_and(|(not_before, until)| *until > now && issued_at <= *not_before);
        Box::pin(std::future::ready(Ok(denied || before)))
    }

    fn revoke_session<'a>(
        &'a self,
        session: &'a StoreKey,
        until: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let mut sets = self.inner.lock();
        let result = match sets.sessions.get_mut(session) {
            Some(u) => {
                *u = (*u).max(until);
                Ok(())
            }
            None => sets.room(self.capacity, now).map(|()| {
                sets.sessions.insert(*session, until);
            }),
        };
        Box::pin(std::future::ready(result))
    }

    fn revoke_owner<'a>(
        &'a self,
        owner: &'a str,
        not_before: Timestamp,
        until: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let now = not_before;
        let mut sets = self.inner.lock();
        let result = match sets.owners.get_mut(owner) {
            Some((nb, u)) => {
                *nb = (*nb).max(not_before);
                *u = (*u).max(until);
                Ok(())
            }
            None => sets.room(self.capacity, now).map(|()| {
                sets.owners.insert(owner.to_owned(), (not_before, until));
            }),
        };
        Box::pin(std::future::ready(result))
    }
}

/// The plaintext framing version.
const FRAME_V1: u8 = 1;
/// version, session id, issue time, created, idle deadline, absolute deadline.
const HEADER_LEN: usize = 1 + 32 + 8 * 4;

/// What a sealed cookie holds once opened: the plaintext [`CookieSealer`]s are given, in
/// structured form. Sealers that must write a foreign format (rather than encrypt the
/// bytes as they are) turn the plaintext into this with [`Unsealed::from_plaintext`] and
/// back with [`Unsealed::to_plaintext`].
#[derive(Debug)]
pub struct Unsealed {
    /// The session's own random id (for revocation; never sent in clear).
    pub id: SessionId,
    /// When this cookie was sealed.
    pub issued_at: Timestamp,
    /// The session record.
    pub record: Record,
}

impl Unsealed {
    /// Parses a sealer's plaintext.
    ///
    /// # Errors
    /// A `Corrupt` store error for anything [`Unsealed::to_plaintext`] did not write.
    pub fn from_plaintext(plaintext: &[u8]) -> Result<Self, StoreError> {
        unframe(plaintext)
    }

    /// The plaintext for this record.
    pub fn to_plaintext(&self) -> Vec<u8> {
        frame(&self.id, self.issued_at, &self.record)
    }
}

/// The plaintext for `record`: a fixed header with the id and every time, then the
/// record in the memory store's compact encoding (which carries the owner, the idle
/// timeout, the persistence flag and the data).
pub(crate) fn frame(id: &SessionId, issued_at: Timestamp, record: &Record) -> Vec<u8> {
    let times = Times::of(&record.meta);
    // Sized exactly, so the record is encoded without a reallocation (and a copy of the
    // header).
    let len = HEADER_LEN + codec::encoded_len(record);
    let mut out = Vec::with_capacity(len);
    out.push(FRAME_V1);
    out.extend_from_slice(id.as_bytes());
    for t in [issued_at, times.created, times.idle, times.absolute] {
        out.extend_from_slice(&t.as_millis().to_be_bytes());
    }
    codec::encode_into(record, &mut out);
    debug_assert_eq!(out.len(), len);
    out
}

/// Parses [`frame`]'s output. The plaintext was authenticated by the sealer, so a failure
/// here means a bug or a leaked key, never a routine tamper: still an error, never a panic.
pub(crate) fn unframe(plaintext: &[u8]) -> Result<Unsealed, StoreError> {
    let Some((header, blob)) = plaintext.split_at_checked(HEADER_LEN) else {
        return Err(StoreError::corrupt("sealed plaintext too short"));
    };
    let (version, rest) = header.split_at(1);
    if version[0] != FRAME_V1 {
        return Err(StoreError::corrupt("unknown sealed plaintext version"));
    }
    let (id, times) = rest.split_at(32);
    let mut id_bytes = [0u8; 32];
    id_bytes.copy_from_slice(id);
    let mut t = times
        .chunks_exact(8)
        .map(|c| Timestamp::from_millis(u64::from_be_bytes(c.try_into().unwrap_or([0; 8]))));
    let mut next = || t.next().unwrap_or(Timestamp::EPOCH);
    let issued_at = next();
    let times = Times {
        created: next(),
        idle: next(),
        absolute: next(),
    };
    let record = codec::decode(blob, times)?;
    Ok(Unsealed {
        id: SessionId::from_raw(id_bytes),
        issued_at,
        record,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::record::{Data, Meta, Value};

    fn record() -> Record {
        let now = Timestamp::from_millis(1_000);
        let mut meta = Meta::new(now, Duration::from_secs(60), Duration::from_secs(600));
        meta.owner = Some("alice".into());
        Record {
            data: Data::from([("n".into(), Value::from_json("3").expect("json"))]),
            meta,
        }
    }

    #[test]
    fn framing_round_trips() {
        let id = SessionId::generate();
        let r = record();
        let bytes = frame(&id, Timestamp::from_millis(7), &r);
        let back = unframe(&bytes).expect("decodes");
        assert!(back.id == id);
        assert_eq!(back.issued_at, Timestamp::from_millis(7));
        assert_eq!(back.record, r);
    }

    #[test]
    fn bad_framing_is_an_error_not_a_panic() {
        let bytes = frame(&SessionId::generate(), Timestamp::EPOCH, &record());
        for cut in 0..bytes.len() {
            let _ = unframe(&bytes[..cut]);
        }
        let mut wrong = bytes.clone();
        wrong[0] = 9;
        assert!(unframe(&wrong).is_err());
    }

    #[tokio::test]
    async fn memory_revocations_expire_and_never_lower_not_before() {
        let r = MemoryRevocations::new();
        let key = SessionId::generate().store_key();
        let t = Timestamp::from_millis;
        r.revoke_session(&key, t(100), t(0)).await.expect("ok");
        assert!(r.is_revoked(&key, None, t(0), t(50)).await.expect("ok"));
        assert!(!r.is_revoked(&key, None, t(0), t(100)).await.expect("ok"));
        r.revoke_owner("bob", t(20), t(1_000)).await.expect("ok");
        r.revoke_owner("bob", t(10), t(1_000)).await.expect("ok");
        let other = SessionId::generate().store_key();
        assert!(r
            .is_revoked(&other, Some("bob"), t(15), t(30))
            .await
            .expect("ok"));
        assert!(
            r.is_revoked(&other, Some("bob"), t(20), t(30))
                .await
                .expect("ok"),
            "sealed in the cut-off's own millisecond"
        );
        assert!(!r
            .is_revoked(&other, Some("bob"), t(21), t(30))
            .await
            .expect("ok"));
        assert!(!r
            .is_revoked(&other, Some("eve"), t(15), t(30))
            .await
            .expect("ok"));
        r.sweep(t(2_000));
        assert!(r.is_empty());
    }

    #[tokio::test]
    async fn a_full_memory_list_refuses_rather_than_evicts_an_unexpired_entry() {
        let r = MemoryRevocations::with_capacity(2);
        let t = Timestamp::from_millis;
        let (a, b, c) = (
            SessionId::generate().store_key(),
            SessionId::generate().store_key(),
            SessionId::generate().store_key(),
        );
        r.revoke_session(&a, t(100), t(0)).await.expect("room");
        r.revoke_owner("bob", t(0), t(5_000)).await.expect("room");
        let err = r.revoke_session(&b, t(100), t(10)).await.expect_err("full");
        assert_eq!(err.kind(), crate::StoreErrorKind::Unavailable);
        assert!(
            r.is_revoked(&a, None, t(0), t(10)).await.expect("ok"),
            "kept"
        );
        // Extending an entry already held needs no room.
        r.revoke_session(&a, t(200), t(10)).await.expect("update");
        // A full list is swept at most once a second: `a` has expired at 250, but the
        // list was swept at 10, so the insert is still refused (no walk per refusal).
        r.revoke_session(&c, t(3_000), t(250))
            .await
            .expect_err("no sweep within a second of the last");
        // A second later the cap sweeps the expired entry and the new one fits.
        r.revoke_session(&c, t(3_000), t(1_250))
            .await
            .expect("room after expiry");
        assert!(r.is_revoked(&c, None, t(0), t(1_260)).await.expect("ok"));
        assert!(r
            .is_revoked(&a, Some("bob"), t(0), t(1_260))
            .await
            .expect("owner kept"));
    }
}
