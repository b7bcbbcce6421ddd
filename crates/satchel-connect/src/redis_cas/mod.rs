//! What the live Redis stores (`ConnectRedisStore`, `KoaRedisStore`) share: one
//! connection with the compare-and-set scripts ([`io`]), the satchel extension member
//! ([`extension`]), patching Node's properties in Rust ([`patch`]) and the
//! read → decide → compare-and-set loop ([`Cas`]). Each store only says how its Node
//! library lays a session out in Redis ([`Layout`]) and how keys are named.

pub(crate) mod extension;
pub(crate) mod io;
pub(crate) mod patch;
pub(crate) mod store;

use satchel::{
    Data, Meta, Patch, Record, StoreError, StoreErrorKind, StoreKey, Timestamp, Value, WriteOutcome,
};

use crate::data::OrderedData;
use io::{Read, Redis, Rotated};
use patch::Applied;

/// How many compare-and-set rounds one write may lose before it reports a `Conflict`.
pub const WRITE_ATTEMPTS: usize = 64;

/// The longest TTL written: ten years. satchel clamps expiries to 400 days; this only
/// keeps absurd deadlines from making Redis refuse the `SET`.
pub(crate) const MAX_TTL_SECONDS: u64 = 10 * 365 * 24 * 3600;

/// How one Node library keeps a session in a Redis string.
pub(crate) trait Layout: Send + Sync + 'static {
    /// A parsed record.
    type Doc: Send + Sync;

    /// A stored value at `now`: `None` for what the Node library treats as no session
    /// (or as an expired one).
    ///
    /// # Errors
    /// `Corrupt` for a value the store cannot read.
    fn parse(&self, text: &str, now: Timestamp) -> Result<Option<Self::Doc>, StoreError>;

    /// The satchel metadata of a record (`redis_deadline`: when Redis drops the key).
    ///
    /// # Errors
    /// `Corrupt` when the extension member is malformed.
    fn meta(
        &self,
        doc: &Self::Doc,
        redis_deadline: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Meta, StoreError>;

    /// The session properties.
    fn data(doc: &Self::Doc) -> &OrderedData;

    /// The session properties, to patch.
    fn data_mut(doc: &mut Self::Doc) -> &mut OrderedData;

    /// Writes `meta` into the record's own fields and the extension member.
    fn write_meta(&self, doc: &mut Self::Doc, meta: &Meta);

    /// A new record for `data` (the owner property already set) and `meta`.
    ///
    /// # Errors
    /// `Backend` for data the Node library cannot keep.
    fn new_doc(&self, data: OrderedData, meta: &Meta) -> Result<Self::Doc, StoreError>;

    /// The text to store.
    ///
    /// # Errors
    /// `Backend` for data the Node library cannot keep.
    fn to_json(&self, doc: &Self::Doc) -> Result<String, StoreError>;

    /// The TTL (seconds, at least 1) of a record with `meta` written at `now`.
    fn ttl_seconds(&self, meta: &Meta, now: Timestamp) -> u64;

    /// The property that is satchel's owner, if any.
    fn owner_key(&self) -> Option<&str>;

    /// The Redis key of the record under `key` (prefix included).
    fn redis_key(&self, key: &StoreKey) -> String;
}

/// A live record as read: the exact text (what the compare-and-set expects), the record
/// and its satchel metadata.
struct Current<D> {
    read: Read,
    doc: D,
    meta: Meta,
}

/// The store operations over a [`Layout`], on full Redis keys.
pub(crate) struct Cas<L> {
    pub(crate) layout: L,
    redis: Redis,
}

impl<L: Layout> Cas<L> {
    /// Operations for `layout` on `redis`.
    pub(crate) fn new(layout: L, redis: Redis) -> Self {
        Cas { layout, redis }
    }

    /// The Redis key of the record under `key`.
    pub(crate) fn key(&self, key: &StoreKey) -> String {
        self.layout.redis_key(key)
    }

    /// The live record under `key` at `now`, or `None` (absent, no session for Node, or
    /// past its deadline).
    async fn current(
        &self,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<Current<L::Doc>>, StoreError> {
        let Some(read) = self.redis.read(key).await? else {
            return Ok(None);
        };
        let Some(doc) = self.layout.parse(&read.text, now)? else {
            return Ok(None);
        };
        let meta = self.layout.meta(&doc, read.redis_deadline, now)?;
        if meta.is_expired(now) {
            return Ok(None);
        }
        Ok(Some(Current { read, doc, meta }))
    }

    /// `load`.
    pub(crate) async fn load(
        &self,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<Record>, StoreError> {
        match self.current(key, now).await? {
            Some(cur) => Ok(Some(Record {
                data: data_of(L::data(&cur.doc))?,
                meta: cur.meta,
            })),
            None => Ok(None),
        }
    }

    /// `apply` (`new` is `None`), `touch` (an empty patch) or `rotate`: read, patch in
    /// Rust, compare-and-set; again on a lost race.
    pub(crate) async fn write(
        &self,
        key: &str,
        new_key: Option<&str>,
        patch: &Patch,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let owner_key = self.layout.owner_key();
        for _ in 0..WRITE_ATTEMPTS {
            let Some(mut cur) = self.current(key, now).await? else {
                return Ok(WriteOutcome::Gone);
            };
            match patch::apply(
                L::data_mut(&mut cur.doc),
                &mut cur.meta,
                patch,
                owner_key,
                now,
            )? {
                Applied::Conflict(keys) => return Ok(WriteOutcome::Conflict(keys)),
                Applied::TooLarge => return Ok(WriteOutcome::TooLarge),
                Applied::Changed => self.layout.write_meta(&mut cur.doc, &cur.meta),
            }
            let json = self.layout.to_json(&cur.doc)?;
            let ttl = self.layout.ttl_seconds(&cur.meta, now);
            let done = match new_key {
                None => self.redis.swap(key, &cur.read.text, &json, ttl).await?,
                Some(new_key) => match self
                    .redis
                    .rotate(key, new_key, &cur.read.text, &json, ttl)
                    .await?
                {
                    Rotated::Done => true,
                    Rotated::Taken => return Ok(WriteOutcome::KeyTaken),
                    Rotated::Raced => false,
                },
            };
            if done {
                return Ok(WriteOutcome::Applied(cur.meta.expires()));
            }
        }
        Ok(lost_races(patch))
    }

    /// `create`: `SET NX`, or a compare-and-set over a dead record.
    pub(crate) async fn create(
        &self,
        key: &str,
        record: &Record,
        now: Timestamp,
    ) -> Result<WriteOutcome, StoreError> {
        let layout = &self.layout;
        let doc = layout.new_doc(new_data(record, layout.owner_key())?, &record.meta)?;
        let expires = record.meta.expires();
        if record.meta.is_expired(now) {
            // Dead on arrival: storing it would only make Redis delete it again.
            return Ok(WriteOutcome::Applied(expires));
        }
        let json = layout.to_json(&doc)?;
        let ttl = layout.ttl_seconds(&record.meta, now);
        for _ in 0..WRITE_ATTEMPTS {
            if self.redis.set_new(key, &json, ttl).await? {
                return Ok(WriteOutcome::Applied(expires));
            }
            // Something is there. Only a dead record (past its deadline, or what Node
            // reads as no session) may be replaced, and only if it is still that record.
            let Some(read) = self.redis.read(key).await? else {
                continue; // gone meanwhile: try the plain create again
            };
            let dead = match layout.parse(&read.text, now) {
                Ok(None) => true,
                Ok(Some(doc)) => layout
                    .meta(&doc, read.redis_deadline, now)
                    .is_ok_and(|m| m.is_expired(now)),
                // Never replace what we cannot read.
                Err(_) => false,
            };
            if !dead {
                return Ok(WriteOutcome::KeyTaken);
            }
            if self.redis.swap(key, &read.text, &json, ttl).await? {
                return Ok(WriteOutcome::Applied(expires));
            }
        }
        Ok(WriteOutcome::KeyTaken)
    }

    /// `delete`: `DEL`.
    pub(crate) async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.redis.delete(key).await
    }
}

/// After [`WRITE_ATTEMPTS`] lost races: a conflict on the keys the patch names.
fn lost_races(patch: &Patch) -> WriteOutcome {
    let mut keys: Vec<String> = patch
        .expect
        .iter()
        .map(|(k, _)| k.clone())
        .chain(patch.set.iter().map(|(k, _)| k.clone()))
        .chain(patch.remove.iter().cloned())
        .collect();
    keys.sort();
    keys.dedup();
    WriteOutcome::Conflict(keys)
}

/// The session properties as satchel data, each value the JSON text `JSON.stringify`
/// writes. The owner property stays among the data too (Rust reads `session.get("user")`
/// as Node code reads `session.user`).
///
/// # Errors
/// `Corrupt` for a value satchel cannot hold (JSON that serde_json refuses, such as a
/// string with a lone UTF-16 surrogate, which JavaScript allows).
fn data_of(props: &OrderedData) -> Result<Data, StoreError> {
    let mut data = Data::with_capacity(props.len());
    for (key, value) in props.iter() {
        let value =
            Value::from_json(value).map_err(|e| StoreError::new(StoreErrorKind::Corrupt, e))?;
        data.insert(key.to_owned(), value);
    }
    Ok(data)
}

/// The properties of a record the Rust side creates: the data in satchel's key order,
/// then the owner property set to the owner, as `Session::login` means.
fn new_data(record: &Record, owner_key: Option<&str>) -> Result<OrderedData, StoreError> {
    let mut data = OrderedData::new();
    for (key, value) in record.data.iter() {
        data.insert(key.clone(), value.get()).map_err(unreadable)?;
    }
    if let (Some(key), Some(owner)) = (owner_key, &record.meta.owner) {
        data.insert_serialize(key, owner)
            .map_err(|e| StoreError::new(StoreErrorKind::Backend, e))?;
    }
    Ok(data)
}

/// A value the JSON reader refuses (deeper than its nesting limit).
pub(crate) fn unreadable(e: crate::json::JsonError) -> StoreError {
    StoreError::new(StoreErrorKind::Backend, e)
}

/// The TTL of a record with `meta` written at `now`: `ceil((deadline − now) / 1000)`
/// seconds, at least 1 (callers only write live sessions).
pub(crate) fn ttl_to_deadline(meta: &Meta, now: Timestamp) -> u64 {
    ceil_ttl(
        meta.expires_at()
            .as_millis()
            .saturating_sub(now.as_millis()),
    )
}

/// `ceil(ms / 1000)` seconds, between 1 and [`MAX_TTL_SECONDS`].
pub(crate) fn ceil_ttl(ms: u64) -> u64 {
    ms.div_ceil(1000).clamp(1, MAX_TTL_SECONDS)
}
