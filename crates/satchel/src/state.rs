//! The per-request session state: what was loaded, what the handler changed, and what the
//! response must tell the browser. Plain data; the decisions live in `engine.rs`.

use smallvec::SmallVec;

use crate::config::LoginData;
use crate::error::SessionError;
use crate::id::{SessionId, StoreKey};
use crate::memory::codec::Packed;
use crate::record::{Data, Record, Value};
use crate::time::Timestamp;

/// What the request knows about its session record.
#[derive(Debug)]
pub(crate) enum Base {
    /// No session: no cookie, an invalid or unknown one, or logged out in this request.
    None,
    /// A well-formed id from the cookie, not loaded yet (it may not exist).
    NotLoaded(SessionId),
    /// A loaded, live record.
    Live(SessionId, Record),
    /// A stateless engine's sealed cookie (its chunks joined), not opened yet.
    Sealed(std::sync::Arc<crate::cookie::SealedIn>),
}

/// A requested id rotation (login or `cycle_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rotation {
    /// Rotate and keep the owner.
    KeepOwner,
    /// Rotate and bind this owner.
    Owner(String),
    /// Rotate and bind no owner: the first step of a multi-factor login by this owner
    /// (see `crate::auth`). The data policy is the one a login by them would apply.
    Pending(String),
}

/// A requested change of expiry policy, resolved to deadlines at save time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// A browser-session cookie (no `Max-Age`) with the configured idle and absolute
    /// timeouts, counted from the session's creation.
    BrowserSession,
    /// A persistent ("remember me") cookie that survives browser restarts. Each use slides
    /// the idle deadline (and re-sends the cookie with a fresh `Max-Age`) up to the
    /// absolute deadline, counted from now. Both are clamped to 1 second … 400 days (the
    /// longest cookie lifetime browsers honour, RFC 6265bis), `idle` to at most `absolute`.
    Persistent {
        /// How long the session may sit unused.
        idle: std::time::Duration,
        /// How long it may live at most from now, however active.
        absolute: std::time::Duration,
    },
}

/// The longest cookie lifetime browsers honour (RFC 6265bis caps `Max-Age` at 400 days).
pub(crate) const MAX_PERSISTENT: std::time::Duration =
    std::time::Duration::from_secs(400 * 24 * 3600);

impl Expiry {
    /// `(idle, absolute)` clamped as documented on [`Expiry::Persistent`].
    pub(crate) fn clamped(
        idle: std::time::Duration,
        absolute: std::time::Duration,
    ) -> (std::time::Duration, std::time::Duration) {
        let one = std::time::Duration::from_secs(1);
        let absolute = absolute.clamp(one, MAX_PERSISTENT);
        (idle.clamp(one, absolute), absolute)
    }
}

/// What the handler changed since the last save.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    /// Remove every stored key first.
    pub(crate) clear: bool,
    /// Keys written (`Some`) or removed (`None`).
    pub(crate) writes: Writes,
    /// Keys read from the loaded record (which stays as loaded until the next save, so it
    /// still holds the values seen).
    pub(crate) reads: SmallVec<[KeyName; 2]>,
    /// A rotation to perform.
    pub(crate) rotate: Option<Rotation>,
    /// An expiry policy change.
    pub(crate) expiry: Option<Expiry>,
}

impl Changes {
    pub(crate) fn touches_record(&self) -> bool {
        self.clear || !self.writes.is_empty() || self.rotate.is_some() || self.expiry.is_some()
    }

    /// The data a brand-new session made of these changes would hold.
    pub(crate) fn fresh_data(&self) -> Data {
        self.writes
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_owned(), v.clone())))
            .collect()
    }
}

/// The keys a request wrote or removed, last change per key. A handful of keys per request
/// is the norm, so an inline vector with a linear search beats a map (no allocation for up
/// to two keys, no nodes), and the names are inline too ([`KeyName`]): a MemoryStore save
/// reads them where they are, other stores get `String`s when the patch is built.
#[derive(Debug, Default)]
pub(crate) struct Writes(SmallVec<[(KeyName, Option<Value>); 2]>);

impl Writes {
    pub(crate) fn get(&self, key: &str) -> Option<&Option<Value>> {
        self.0
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k.as_str() == key)
    }

    pub(crate) fn insert(&mut self, key: &str, value: Option<Value>) {
        match self.0.iter_mut().find(|(k, _)| k.as_str() == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((KeyName::new(key), value)),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Option<Value>)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// An owned key and its change.
type OwnedWrite = (String, Option<Value>);

impl IntoIterator for Writes {
    type Item = OwnedWrite;
    type IntoIter = std::iter::Map<
        smallvec::IntoIter<[(KeyName, Option<Value>); 2]>,
        fn((KeyName, Option<Value>)) -> OwnedWrite,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter().map(|(k, v)| (k.as_str().to_owned(), v))
    }
}

impl FromIterator<OwnedWrite> for Writes {
    fn from_iter<I: IntoIterator<Item = OwnedWrite>>(iter: I) -> Self {
        Writes(
            iter.into_iter()
                .map(|(k, v)| (KeyName::new(&k), v))
                .collect(),
        )
    }
}

/// The name of a key the request read or wrote, inline up to 24 bytes (all of them, in
/// practice) instead of allocated: reads become expectations (and `String`s) only when the
/// key is also written, and a MemoryStore save never needs the names as `String`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyName(compact_str::CompactString);

impl KeyName {
    pub(crate) fn new(key: &str) -> Self {
        KeyName(compact_str::CompactString::new(key))
    }

    pub(crate) fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// What the response must do with the cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CookieOut {
    /// Nothing.
    Keep,
    /// Send this `Set-Cookie` value.
    Set(String),
    /// Remove the browser's session cookie.
    Remove,
    /// Several `Set-Cookie` values: a stateless engine's chunks (then removals of chunks
    /// the browser holds beyond the new count), or an id and its companion signature.
    Many(Vec<String>),
}

/// Everything the engine tracks for one request.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) base: Base,
    pub(crate) changes: Changes,
    /// The session a logout ended, to delete (or, when stateless, deny-list) at save time.
    /// Boxed, like `failed`: rare, and `State` is moved whole when a request begins.
    pub(crate) delete: Option<Box<Base>>,
    /// How many cookie chunks the browser sent (stateless engines; 1 otherwise).
    pub(crate) chunks_in: u8,
    /// The sealed cookie must be sent again even if nothing changed (it was opened with a
    /// fallback key, or its owner's other sessions were just revoked).
    pub(crate) reseal: bool,
    /// Stateless engines: when the cookie behind the `Live` base was sealed (opened from
    /// the request, or sealed by an explicit save); `None` for a session this request made.
    /// A re-seal checks revocation against it, since the session may have been revoked
    /// after it was opened.
    pub(crate) sealed_at: Option<Timestamp>,
    /// Stateless engines: the earliest issue time a new cookie may carry. Set just past an
    /// owner's new "not before" time by `revoke_other_sessions`, so the caller's re-sealed
    /// cookie survives a cut-off that includes its own millisecond.
    pub(crate) seal_floor: Timestamp,
    pub(crate) cookie: CookieOut,
    /// Whether the browser sent a session cookie of any kind.
    pub(crate) had_cookie: bool,
    /// Whether the handler read the session (the response then depends on the cookie).
    pub(crate) accessed: bool,
    /// A failure that makes the rest of the request fail closed.
    pub(crate) failed: Option<Box<SessionError>>,
    /// The key of an unreadable record this request went on without, to delete at the end
    /// of the request (see `engine/corrupt.rs`). Boxed: rare.
    pub(crate) discard: Option<Box<StoreKey>>,
    /// The data of the `Live` base when a MemoryStore left it packed (its `record.data` is
    /// then empty). Cleared whenever the base changes: use [`State::set_base`].
    pub(crate) packed: Option<Packed>,
}

impl State {
    pub(crate) fn new(base: Base, had_cookie: bool) -> Self {
        State {
            base,
            changes: Changes::default(),
            delete: None,
            chunks_in: u8::from(had_cookie),
            reseal: false,
            sealed_at: None,
            seal_floor: Timestamp::EPOCH,
            cookie: CookieOut::Keep,
            had_cookie,
            accessed: false,
            failed: None,
            discard: None,
            packed: None,
        }
    }

    /// Replaces the base, dropping any packed data of the old one.
    pub(crate) fn set_base(&mut self, base: Base) -> Base {
        self.packed = None;
        std::mem::replace(&mut self.base, base)
    }

    /// The JSON text under `key` in the loaded record (`None` when not loaded).
    pub(crate) fn stored(&self, key: &str) -> Option<&str> {
        match (&self.base, &self.packed) {
            (Base::Live(..), Some(packed)) => packed.get(key),
            (Base::Live(_, record), None) => record.data.get(key).map(Value::get),
            _ => None,
        }
    }

    /// Unpacks packed data into the loaded record, for code that needs the whole `Data`.
    pub(crate) fn unpack(&mut self) {
        if let Some(packed) = self.packed.take() {
            if let Base::Live(_, record) = &mut self.base {
                record.data = packed.to_data();
            }
        }
    }

    /// Applies `policy` to a pending login: marks the stored data for clearing when the
    /// policy says so. Called when the login is requested and again whenever the record
    /// gets loaded, since only a loaded record tells who was logged in before; until then
    /// [`State::login_needs_owner`] holds and the save loads first.
    pub(crate) fn resolve_login(&mut self, policy: LoginData) {
        let (Some(Rotation::Owner(new)) | Some(Rotation::Pending(new))) = &self.changes.rotate
        else {
            return;
        };
        let clear = match (policy, &self.base) {
            (LoginData::Keep, _) => false,
            (LoginData::Clear, _) => true,
            (LoginData::KeepUnlessOtherOwner, Base::Live(_, record)) => record
                .meta
                .owner
                .as_deref()
                .is_some_and(|old| old != new.as_str()),
            // Unknown yet (decided once loaded) or no session at all (nothing to clear).
            (LoginData::KeepUnlessOtherOwner, _) => false,
        };
        // Only the stored data goes: this request's writes stay (`Changes::clear` with
        // writes means "clear, then write").
        self.changes.clear |= clear;
    }

    /// Whether a pending login can only apply `policy` once the record is loaded.
    pub(crate) fn login_needs_owner(&self, policy: LoginData) -> bool {
        policy == LoginData::KeepUnlessOtherOwner
            && matches!(
                self.changes.rotate,
                Some(Rotation::Owner(_) | Rotation::Pending(_))
            )
            && matches!(self.base, Base::NotLoaded(_) | Base::Sealed(_))
    }

    pub(crate) fn check(&self) -> Result<(), SessionError> {
        match &self.failed {
            Some(err) => Err(err.duplicate()),
            None => Ok(()),
        }
    }
}
