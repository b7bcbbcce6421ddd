//! The satchel extension member both Redis layouts carry next to Node's own fields
//! (`cookie.satchel` for connect-redis, `_satchel` for koa-redis): the metadata Node has
//! no field for. Node ignores it and drops it when it saves the session.

use std::time::Duration;

use satchel::{StoreError, Timestamp};

use crate::data::{ObjectWriter, OrderedData};
use crate::json;

/// JavaScript's last valid date, in ms: deadlines beyond it are written as "none".
pub(crate) const MAX_JS_MS: u64 = 8_640_000_000_000_000;

/// `{"created":ms,"idle":ms,"deadline":ms,"absolute":ms|null[,"persistent":b][,"owner":s]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Extension {
    pub(crate) created: Timestamp,
    pub(crate) idle: Duration,
    pub(crate) deadline: Timestamp,
    pub(crate) absolute: Option<Timestamp>,
    /// Written only by layouts whose Node fields do not say it (koa-redis).
    pub(crate) persistent: Option<bool>,
    pub(crate) owner: Option<String>,
}

impl Extension {
    /// The member for `meta`: `persistent` only where the Node fields do not say it, the
    /// owner only when no property holds it (`owner_key` is `None`).
    pub(crate) fn of(meta: &satchel::Meta, persistent: bool, owner_key: Option<&str>) -> Self {
        Extension {
            created: meta.created_at,
            idle: meta.idle_timeout,
            deadline: meta.idle_deadline,
            absolute: js_deadline(meta.absolute_deadline),
            persistent: persistent.then_some(meta.persistent),
            owner: owner_key.is_none().then(|| meta.owner.clone()).flatten(),
        }
    }

    /// The metadata the member holds, `persistent` as the layout reads it (its Node
    /// fields, or the member's own `persistent`).
    pub(crate) fn into_meta(self, persistent: bool) -> satchel::Meta {
        satchel::Meta {
            created_at: self.created,
            idle_timeout: self.idle,
            idle_deadline: self.deadline,
            absolute_deadline: self.absolute.unwrap_or(Timestamp::MAX),
            persistent,
            owner: self.owner,
        }
    }

    /// Reads what [`Extension::to_json`] writes.
    ///
    /// # Errors
    /// `Corrupt` for anything else.
    pub(crate) fn parse(text: &str) -> Result<Self, StoreError> {
        const BAD: &str = "the record's satchel extension member is malformed";
        let members = json::object_members(text)
            .ok()
            .flatten()
            .ok_or_else(|| StoreError::corrupt(BAD))?;
        let field = |name: &str| members.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let number = |name: &str| -> Result<u64, StoreError> {
            field(name)
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| StoreError::corrupt(BAD))
        };
        let absolute = match field("absolute").map(String::as_str) {
            None | Some("null") => None,
            Some(v) => Some(Timestamp::from_millis(
                v.parse().map_err(|_| StoreError::corrupt(BAD))?,
            )),
        };
        let persistent = match field("persistent").map(String::as_str) {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => return Err(StoreError::corrupt(BAD)),
        };
        let owner = match field("owner") {
            None => None,
            Some(v) => Some(serde_json::from_str(v).map_err(|_| StoreError::corrupt(BAD))?),
        };
        Ok(Extension {
            created: Timestamp::from_millis(number("created")?),
            idle: Duration::from_millis(number("idle")?),
            deadline: Timestamp::from_millis(number("deadline")?),
            absolute,
            persistent,
            owner,
        })
    }

    /// The member's JSON text.
    pub(crate) fn to_json(&self) -> String {
        let mut out = ObjectWriter::new();
        out.integer("created", js_ms(self.created));
        out.integer("idle", millis(self.idle));
        out.integer("deadline", js_ms(self.deadline));
        match self.absolute {
            Some(t) => out.integer("absolute", js_ms(t)),
            None => out.member("absolute", "null"),
        }
        if let Some(p) = self.persistent {
            out.member("persistent", if p { "true" } else { "false" });
        }
        if let Some(owner) = &self.owner {
            out.string("owner", owner);
        }
        out.finish()
    }
}

/// The owner property's value when it is a JSON string.
pub(crate) fn owner_in(data: &OrderedData, key: &str) -> Option<String> {
    let text = data.get(key)?;
    text.starts_with('"')
        .then(|| serde_json::from_str(text).ok())
        .flatten()
}

/// `Some(deadline)` when it is a JavaScript date, else `None` (no absolute deadline).
pub(crate) fn js_deadline(t: Timestamp) -> Option<Timestamp> {
    (t.as_millis() < MAX_JS_MS).then_some(t)
}

/// A JavaScript time value as a timestamp (before the epoch: the epoch, long expired).
pub(crate) fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A timestamp as a JavaScript time value (capped at JavaScript's last date).
pub(crate) fn js_ms(t: Timestamp) -> i64 {
    i64::try_from(t.as_millis().min(MAX_JS_MS)).unwrap_or(i64::MAX)
}

/// A duration in whole milliseconds (capped like [`js_ms`]).
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis().min(u128::from(MAX_JS_MS))).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let ext = Extension {
            created: Timestamp::from_millis(1),
            idle: Duration::from_millis(2),
            deadline: Timestamp::from_millis(3),
            absolute: None,
            persistent: Some(false),
            owner: Some("a\"b".into()),
        };
        assert_eq!(Extension::parse(&ext.to_json()).expect("parse"), ext);
        for bad in [
            "[]",
            r#"{"created":1}"#,
            r#"{"created":1,"idle":1,"deadline":1,"persistent":1}"#,
        ] {
            assert!(Extension::parse(bad).is_err(), "{bad}");
        }
    }
}
