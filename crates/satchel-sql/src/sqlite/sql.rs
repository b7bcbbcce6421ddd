//! The SQLite statements: fixed ones rendered once per store, patch-shaped ones per write.

use satchel::Patch;

use crate::codec::{bucket_sql, FORMAT};
use crate::dynamic::{Arg, Paths, Stmt};

/// The statements whose shape never changes.
#[derive(Debug)]
pub(crate) struct Fixed {
    pub(crate) load: String,
    pub(crate) create: String,
    pub(crate) load_forward: String,
    pub(crate) insert_forward: String,
    pub(crate) delete: String,
    pub(crate) delete_forward: Option<String>,
    pub(crate) delete_expired_key: String,
    pub(crate) touch: String,
    pub(crate) sessions_of: String,
    pub(crate) revoke: String,
    pub(crate) purge: String,
    pub(crate) purge_forwards: String,
}

/// The row is live at `?2`.
const LIVE: &str = "(idle_deadline > ?2 AND absolute_deadline > ?2)";

impl Fixed {
    pub(crate) fn new(table: &str) -> Self {
        let forwards = crate::migrate::forwards_table(table);
        let touch_idle = "min(?2 + idle_timeout, absolute_deadline)";
        Fixed {
            load: format!(
                "SELECT data, format, created_at, idle_timeout, idle_deadline, absolute_deadline, \
                 persistent, owner FROM {table} WHERE id_hash = ?1 AND {LIVE}"
            ),
            // A live row or a live forward under the key keeps it (nothing returned:
            // KeyTaken); an expired row is replaced in the same statement.
            create: format!(
                "INSERT INTO {table} (id_hash, data, format, created_at, idle_timeout, \
                 idle_deadline, absolute_deadline, expires_at, persistent, owner) \
                 SELECT ?1, json(?3), {FORMAT}, ?4, ?5, ?6, ?7, ?8, ?9, ?10 \
                 WHERE NOT EXISTS (SELECT 1 FROM {forwards} WHERE id_hash = ?1 AND grace_until > ?2) \
                 ON CONFLICT (id_hash) DO UPDATE SET data = excluded.data, \
                 format = excluded.format, created_at = excluded.created_at, \
                 idle_timeout = excluded.idle_timeout, idle_deadline = excluded.idle_deadline, \
                 absolute_deadline = excluded.absolute_deadline, expires_at = excluded.expires_at, \
                 persistent = excluded.persistent, owner = excluded.owner \
                 WHERE NOT {LIVE} RETURNING 1"
            ),
            // Any stored value reads as bytes (a malformed one is the engine's to refuse).
            load_forward: format!(
                "SELECT CAST(forward AS BLOB) FROM {forwards} WHERE id_hash = ?1 AND grace_until > ?2"
            ),
            // In the renewal's transaction, after the move; an expired forward left under
            // the old key (a session was created there after it) is replaced.
            insert_forward: format!(
                "INSERT INTO {forwards} (id_hash, forward, grace_until) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (id_hash) DO UPDATE SET forward = excluded.forward, \
                 grace_until = excluded.grace_until"
            ),
            delete: format!("DELETE FROM {table} WHERE id_hash = ?1"),
            delete_forward: Some(format!("DELETE FROM {forwards} WHERE id_hash = ?1")),
            delete_expired_key: format!("DELETE FROM {table} WHERE id_hash = ?1 AND NOT {LIVE}"),
            touch: format!(
                "UPDATE {table} SET idle_deadline = {touch_idle}, expires_at = {} \
                 WHERE id_hash = ?1 AND {LIVE} RETURNING idle_deadline, persistent",
                bucket_sql(touch_idle, "/")
            ),
            sessions_of: format!(
                "SELECT id_hash, created_at, idle_deadline, absolute_deadline FROM {table} \
                 WHERE owner = ?1 AND {LIVE} ORDER BY created_at, id_hash"
            ),
            revoke: format!(
                "DELETE FROM {table} WHERE owner = ?1 AND (?2 IS NULL OR id_hash <> ?2)"
            ),
            purge: format!(
                "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} \
                 WHERE expires_at < ?1 AND min(idle_deadline, absolute_deadline) <= ?2 LIMIT ?3)"
            ),
            purge_forwards: format!(
                "DELETE FROM {forwards} WHERE rowid IN (SELECT rowid FROM {forwards} \
                 WHERE grace_until <= ?1 LIMIT ?2)"
            ),
        }
    }
}

/// What every patch-shaped statement needs.
pub(crate) struct Write<'a> {
    pub(crate) table: &'a str,
    pub(crate) key: &'a [u8],
    pub(crate) new_key: Option<&'a [u8]>,
    pub(crate) patch: &'a Patch,
    pub(crate) paths: &'a Paths,
    pub(crate) now: i64,
}

/// The record is sound: our format, and its data a JSON object (checked in that order, as
/// the JSON functions raise errors on malformed text).
const SOUND: &str = "(CASE WHEN s.format = 1 AND json_valid(s.data) \
                     THEN json_type(s.data) = 'object' ELSE 0 END)";

impl<'a> Write<'a> {
    fn live(&self, st: &mut Stmt<'a>) {
        st.sql("(s.idle_deadline > ")
            .arg(Arg::Int(self.now))
            .sql(" AND s.absolute_deadline > ")
            .arg(Arg::Int(self.now))
            .sql(")");
    }

    /// The data after the patch: cleared or not, keys removed, keys set.
    fn new_data(&self, st: &mut Stmt<'a>) {
        st.sql("json_set(json_remove(CASE WHEN ")
            .arg(Arg::Bool(self.patch.clear))
            .sql(" THEN '{}' ELSE s.data END");
        for path in &self.paths.remove {
            st.sql(", ").arg(Arg::Text(path));
        }
        st.sql(")");
        for (path, (_, value)) in self.paths.set.iter().zip(&self.patch.set) {
            st.sql(", ")
                .arg(Arg::Text(path))
                .sql(", json(")
                .arg(Arg::Text(value.get()))
                .sql(")");
        }
        st.sql(")");
    }

    /// Whether expectation `i` still holds (`->` renders the stored value minified, as
    /// `json()` renders the expected one; absent keys give NULL on both sides).
    fn matches(&self, st: &mut Stmt<'a>, i: usize) {
        st.sql("((s.data -> ")
            .arg(Arg::Text(&self.paths.expect[i]))
            .sql(") IS json(")
            .arg(Arg::OptText(
                self.patch.expect[i].1.as_ref().map(satchel::Value::get),
            ))
            .sql("))");
    }

    /// Whether the new data stays under the limit: the minified object's bytes minus its
    /// punctuation (`{}`, and per key two quotes, a colon and a comma) = keys + values.
    fn fits(&self, st: &mut Stmt<'a>) {
        let max = self.patch.max_data_bytes.map(crate::codec::limit);
        st.sql("(")
            .arg(Arg::OptInt(max))
            .sql(" IS NULL OR max(octet_length(");
        self.new_data(st);
        st.sql(") - 4 * (SELECT count(*) FROM json_each(");
        self.new_data(st);
        st.sql(")) - 1, 0) <= ").arg(Arg::OptInt(max)).sql(")");
    }

    fn idle(&self, st: &mut Stmt<'a>) {
        let expiry = self.patch.expiry;
        st.sql("min(")
            .arg(Arg::Int(self.now))
            .sql(" + COALESCE(")
            .arg(Arg::OptInt(
                expiry.map(|e| crate::codec::dur_ms(e.idle_timeout)),
            ))
            .sql(", s.idle_timeout), COALESCE(")
            .arg(Arg::OptInt(
                expiry.map(|e| crate::codec::ms(e.absolute_deadline)),
            ))
            .sql(", s.absolute_deadline))");
    }

    /// The guarded UPDATE … RETURNING that applies the patch (and moves the key when
    /// rotating), or matches nothing.
    pub(crate) fn apply(&self) -> Stmt<'a> {
        let mut st = Stmt::default();
        let expiry = self.patch.expiry;
        st.sql("UPDATE ").sql(self.table).sql(" AS s SET ");
        if let Some(new_key) = self.new_key {
            st.sql("id_hash = ").arg(Arg::Bytes(new_key)).sql(", ");
        }
        st.sql("data = ");
        self.new_data(&mut st);
        st.sql(", idle_timeout = COALESCE(")
            .arg(Arg::OptInt(
                expiry.map(|e| crate::codec::dur_ms(e.idle_timeout)),
            ))
            .sql(", s.idle_timeout), absolute_deadline = COALESCE(")
            .arg(Arg::OptInt(
                expiry.map(|e| crate::codec::ms(e.absolute_deadline)),
            ))
            .sql(", s.absolute_deadline), persistent = COALESCE(")
            .arg(Arg::OptBool(expiry.map(|e| e.persistent)))
            .sql(", s.persistent), owner = CASE WHEN ")
            .arg(Arg::Bool(self.patch.owner.is_some()))
            .sql(" THEN ")
            .arg(Arg::OptText(
                self.patch.owner.as_ref().and_then(|o| o.as_deref()),
            ))
            .sql(" ELSE s.owner END, idle_deadline = ");
        self.idle(&mut st);
        st.sql(", expires_at = (((");
        self.idle(&mut st);
        st.sql(&format!(
            ") + {}) / {b}) * {b}",
            crate::EXPIRY_BUCKET_MS - 1,
            b = crate::EXPIRY_BUCKET_MS
        ));
        st.sql(" WHERE s.id_hash = ")
            .arg(Arg::Bytes(self.key))
            .sql(" AND ");
        self.live(&mut st);
        st.sql(" AND CASE WHEN ").sql(SOUND).sql(" THEN ");
        for i in 0..self.patch.expect.len() {
            self.matches(&mut st, i);
            st.sql(" AND ");
        }
        self.fits(&mut st);
        st.sql(" ELSE 0 END RETURNING idle_deadline, persistent");
        st
    }

    /// Why the UPDATE matched nothing: `live, sound, <one flag per expectation>, fits`.
    pub(crate) fn diagnose(&self) -> Stmt<'a> {
        let mut st = Stmt::default();
        st.sql("SELECT ");
        self.live(&mut st);
        st.sql(", ").sql(SOUND);
        for i in 0..self.patch.expect.len() {
            st.sql(", CASE WHEN ").sql(SOUND).sql(" THEN ");
            self.matches(&mut st, i);
            st.sql(" END");
        }
        st.sql(", CASE WHEN ").sql(SOUND).sql(" THEN ");
        self.fits(&mut st);
        st.sql(" END FROM ")
            .sql(self.table)
            .sql(" AS s WHERE s.id_hash = ")
            .arg(Arg::Bytes(self.key));
        st
    }
}
