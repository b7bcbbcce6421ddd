//! The MySQL / MariaDB statements: fixed ones rendered once per store, patch-shaped ones
//! per write. MySQL has no `RETURNING` on `UPDATE`: the write statements leave the new
//! idle deadline and persistent flag in the session variables `@satchel_idle` and
//! `@satchel_persistent`, read back on the same connection when the UPDATE matched.

use satchel::Patch;

use crate::codec::{bucket_sql, dur_ms, ms, FORMAT};
use crate::dynamic::{Arg, Paths, Stmt};

/// MariaDB and MySQL spell a few JSON operations differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// MariaDB ≥ 10.7: JSON is text; `JSON_COMPACT` keeps it compact, `JSON_EQUALS` compares.
    MariaDb,
    /// MySQL ≥ 8.0: JSON functions return its own JSON type, rendered `{"a": 1, "b": 2}`;
    /// values compare as JSON with `=`.
    MySql,
}

impl Flavor {
    /// `(before, after)` around a JSON text argument to use it as a JSON value.
    fn json_value(self) -> (&'static str, &'static str) {
        match self {
            Flavor::MariaDb => ("JSON_EXTRACT(", ", '$')"),
            Flavor::MySql => ("CAST(", " AS JSON)"),
        }
    }

    /// `(before, after)` around a document written to the `data` column.
    fn normalise(self) -> (&'static str, &'static str) {
        match self {
            Flavor::MariaDb => ("JSON_COMPACT(", ")"),
            Flavor::MySql => ("", ""),
        }
    }
}

/// The statements whose shape never changes.
#[derive(Debug)]
pub(crate) struct Fixed {
    pub(crate) load: String,
    pub(crate) insert: String,
    pub(crate) read_back: &'static str,
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

/// The row is live at the two `?` (both bound to now).
const LIVE: &str = "(idle_deadline > ? AND absolute_deadline > ?)";

impl Fixed {
    pub(crate) fn new(table: &str, flavor: Flavor) -> Self {
        let (norm, norm_end) = flavor.normalise();
        let forwards = crate::migrate::forwards_table(table);
        let touch_idle = "LEAST(? + idle_timeout, absolute_deadline)";
        Fixed {
            load: format!(
                "SELECT CONVERT(data USING utf8mb4), format, created_at, idle_timeout, \
                 idle_deadline, absolute_deadline, persistent, CONVERT(owner USING utf8mb4) \
                 FROM {table} WHERE id_hash = ? AND {LIVE}"
            ),
            // The columns are binary-collated (exact comparisons); CONVERT reads them as
            // text. A duplicate key fails; the store then frees the key if its row expired.
            // A live forward under the key inserts nothing (KeyTaken). Binds: the row's
            // nine values, then the key and now for the forward check.
            insert: format!(
                "INSERT INTO {table} (id_hash, data, format, created_at, idle_timeout, \
                 idle_deadline, absolute_deadline, expires_at, persistent, owner) \
                 SELECT ?, {norm}?{norm_end}, {FORMAT}, ?, ?, ?, ?, ?, ?, ? FROM DUAL \
                 WHERE NOT EXISTS (SELECT 1 FROM {forwards} WHERE id_hash = ? AND grace_until > ?)"
            ),
            read_back: "SELECT CAST(@satchel_idle AS SIGNED), CAST(@satchel_persistent AS SIGNED)",
            load_forward: format!(
                "SELECT forward FROM {forwards} WHERE id_hash = ? AND grace_until > ?"
            ),
            // In the renewal's transaction, after the move; an expired forward left under
            // the old key (a session was created there after it) is replaced.
            insert_forward: format!(
                "INSERT INTO {forwards} (id_hash, forward, grace_until) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE forward = VALUES(forward), grace_until = VALUES(grace_until)"
            ),
            // The session or the forward under the key, in one multi-table DELETE: the
            // one-row derived table carries the key, so it deletes whichever of the two
            // exists (primary-key lookups in both).
            delete: format!(
                "DELETE s, f FROM (SELECT ? AS k) AS x \
                 LEFT JOIN {table} AS s ON s.id_hash = x.k \
                 LEFT JOIN {forwards} AS f ON f.id_hash = x.k"
            ),
            delete_forward: None,
            delete_expired_key: format!("DELETE FROM {table} WHERE id_hash = ? AND NOT {LIVE}"),
            touch: format!(
                "UPDATE {table} SET idle_deadline = (@satchel_idle := {touch_idle}), \
                 expires_at = {}, persistent = (@satchel_persistent := persistent) \
                 WHERE id_hash = ? AND {LIVE}",
                bucket_sql(touch_idle, "DIV")
            ),
            sessions_of: format!(
                "SELECT id_hash, created_at, idle_deadline, absolute_deadline FROM {table} \
                 WHERE owner = ? AND {LIVE} ORDER BY created_at, id_hash"
            ),
            revoke: format!("DELETE FROM {table} WHERE owner = ? AND (? IS NULL OR id_hash <> ?)"),
            // Bounded, through the expires_at index.
            purge: format!(
                "DELETE FROM {table} WHERE expires_at < ? \
                 AND LEAST(idle_deadline, absolute_deadline) <= ? ORDER BY expires_at LIMIT ?"
            ),
            purge_forwards: format!(
                "DELETE FROM {forwards} WHERE grace_until <= ? ORDER BY grace_until LIMIT ?"
            ),
        }
    }
}

/// What every patch-shaped statement needs.
pub(crate) struct Write<'a> {
    pub(crate) table: &'a str,
    pub(crate) flavor: Flavor,
    pub(crate) key: &'a [u8],
    pub(crate) new_key: Option<&'a [u8]>,
    pub(crate) patch: &'a Patch,
    pub(crate) paths: &'a Paths,
    pub(crate) now: i64,
}

/// Our format, and the data a JSON object (checked in that order).
const SOUND: &str = "(CASE WHEN format = 1 AND JSON_VALID(data) \
                     THEN JSON_TYPE(data) = 'OBJECT' ELSE 0 END)";

impl<'a> Write<'a> {
    fn live(&self, st: &mut Stmt<'a>) {
        st.sql("(idle_deadline > ")
            .arg(Arg::Int(self.now))
            .sql(" AND absolute_deadline > ")
            .arg(Arg::Int(self.now))
            .sql(")");
    }

    /// The data after the patch (not yet normalised).
    fn new_data(&self, st: &mut Stmt<'a>) {
        let (value, value_end) = self.flavor.json_value();
        let sets = !self.paths.set.is_empty();
        let removes = !self.paths.remove.is_empty();
        if sets {
            st.sql("JSON_SET(");
        }
        if removes {
            st.sql("JSON_REMOVE(");
        }
        st.sql("IF(")
            .arg(Arg::Bool(self.patch.clear))
            .sql(", '{}', data)");
        if removes {
            for path in &self.paths.remove {
                st.sql(", ").arg(Arg::Text(path));
            }
            st.sql(")");
        }
        if sets {
            for (path, (_, v)) in self.paths.set.iter().zip(&self.patch.set) {
                st.sql(", ")
                    .arg(Arg::Text(path))
                    .sql(", ")
                    .sql(value)
                    .arg(Arg::Text(v.get()))
                    .sql(value_end);
            }
            st.sql(")");
        }
    }

    /// Whether expectation `i` still holds, as 1 or 0.
    fn matches(&self, st: &mut Stmt<'a>, i: usize) {
        let path = Arg::Text(&self.paths.expect[i]);
        match &self.patch.expect[i].1 {
            None => {
                st.sql("(NOT JSON_CONTAINS_PATH(data, 'one', ")
                    .arg(path)
                    .sql("))");
            }
            Some(v) => {
                let (before, after) = match self.flavor {
                    Flavor::MariaDb => ("COALESCE(JSON_EQUALS(JSON_EXTRACT(data, ", "), ?), 0)"),
                    Flavor::MySql => ("COALESCE(JSON_EXTRACT(data, ", ") = CAST(? AS JSON), 0)"),
                };
                st.sql(before).arg(path);
                // `after` holds the value's placeholder.
                st.sql.push_str(after);
                st.args.push(Arg::Text(v.get()));
            }
        }
    }

    /// Whether the new data stays under the limit: the stored text's bytes minus the
    /// object's punctuation, i.e. keys plus values as stored.
    fn fits(&self, st: &mut Stmt<'a>) {
        let max = self.patch.max_data_bytes.map(crate::codec::limit);
        let (norm, norm_end) = self.flavor.normalise();
        let (per_key, fixed) = match self.flavor {
            // {"a":1,"b":2}: braces, and per key two quotes, a colon and a comma, less one.
            Flavor::MariaDb => (4, 1),
            // {"a": 1, "b": 2}: as above plus a space after each colon and comma.
            Flavor::MySql => (6, 0),
        };
        st.sql("(")
            .arg(Arg::OptInt(max))
            .sql(" IS NULL OR GREATEST(LENGTH(");
        st.sql(norm);
        self.new_data(st);
        st.sql(norm_end)
            .sql(&format!(") - {per_key} * JSON_LENGTH("));
        self.new_data(st);
        st.sql(&format!(") - {fixed}, 0) <= "))
            .arg(Arg::OptInt(max))
            .sql(")");
    }

    fn idle(&self, st: &mut Stmt<'a>) {
        let expiry = self.patch.expiry;
        st.sql("LEAST(")
            .arg(Arg::Int(self.now))
            .sql(" + COALESCE(")
            .arg(Arg::OptInt(expiry.map(|e| dur_ms(e.idle_timeout))))
            .sql(", idle_timeout), COALESCE(")
            .arg(Arg::OptInt(expiry.map(|e| ms(e.absolute_deadline))))
            .sql(", absolute_deadline))");
    }

    /// The guarded UPDATE. Assignments only read columns not yet assigned (MySQL assigns
    /// left to right), so the result is the same in either assignment mode.
    pub(crate) fn apply(&self) -> Stmt<'a> {
        let mut st = Stmt::default();
        let (norm, norm_end) = self.flavor.normalise();
        let expiry = self.patch.expiry;
        st.sql("UPDATE ")
            .sql(self.table)
            .sql(" SET data = ")
            .sql(norm);
        self.new_data(&mut st);
        st.sql(norm_end).sql(", idle_deadline = (@satchel_idle := ");
        self.idle(&mut st);
        st.sql("), expires_at = ((");
        self.idle(&mut st);
        st.sql(&format!(
            ") + {}) DIV {b} * {b}",
            crate::EXPIRY_BUCKET_MS - 1,
            b = crate::EXPIRY_BUCKET_MS
        ));
        st.sql(", idle_timeout = COALESCE(")
            .arg(Arg::OptInt(expiry.map(|e| dur_ms(e.idle_timeout))))
            .sql(", idle_timeout), absolute_deadline = COALESCE(")
            .arg(Arg::OptInt(expiry.map(|e| ms(e.absolute_deadline))))
            .sql(", absolute_deadline), persistent = (@satchel_persistent := COALESCE(")
            .arg(Arg::OptBool(expiry.map(|e| e.persistent)))
            .sql(", persistent)), owner = IF(")
            .arg(Arg::Bool(self.patch.owner.is_some()))
            .sql(", ")
            .arg(Arg::OptText(
                self.patch.owner.as_ref().and_then(|o| o.as_deref()),
            ))
            .sql(", owner)");
        if let Some(new_key) = self.new_key {
            st.sql(", id_hash = ").arg(Arg::Bytes(new_key));
        }
        st.sql(" WHERE id_hash = ")
            .arg(Arg::Bytes(self.key))
            .sql(" AND ");
        self.live(&mut st);
        st.sql(" AND CASE WHEN ").sql(SOUND).sql(" THEN ");
        for i in 0..self.patch.expect.len() {
            self.matches(&mut st, i);
            st.sql(" AND ");
        }
        self.fits(&mut st);
        st.sql(" ELSE 0 END");
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
            .sql(" WHERE id_hash = ")
            .arg(Arg::Bytes(self.key));
        st
    }
}
