//! The PostgreSQL statements, rendered once per store with its table name.

use crate::codec::{bucket_sql, FORMAT};

/// Every statement the store runs.
#[derive(Debug)]
pub(crate) struct Statements {
    pub(crate) load: String,
    pub(crate) create: String,
    pub(crate) apply: String,
    pub(crate) rotate: String,
    pub(crate) renew: String,
    pub(crate) load_forward: String,
    pub(crate) delete: String,
    pub(crate) delete_forward: Option<String>,
    pub(crate) delete_expired_key: String,
    pub(crate) touch: String,
    pub(crate) sessions_of: String,
    pub(crate) revoke: String,
    pub(crate) purge: String,
    pub(crate) purge_forwards: String,
}

/// The row is live at `$2` (exact deadlines, not the rounded `expires_at`).
const LIVE: &str = "(s.idle_deadline > $2::bigint AND s.absolute_deadline > $2::bigint)";

/// Binds of `apply` / `rotate`:
/// `$1` key, `$2` now, `$3` clear, `$4` keys to remove, `$5` object of keys to set,
/// `$6` expected keys, `$7` their expected values as JSON text (NULL: expected absent),
/// `$8` max data bytes (NULL: no limit), `$9` new idle timeout, `$10` new absolute deadline,
/// `$11` new persistent flag (all three NULL: unchanged), `$12` whether the owner changes,
/// `$13` the new owner, `$14` (rotate and renew) the new key, `$15` (renew only) the forward
/// bytes, `$16` (renew only) the grace deadline.
///
/// One statement: the guarded UPDATE applies the patch only if the row is live, sound, has
/// every expected value and stays under the size limit. When it matched nothing, the second
/// branch of the UNION reads the row (same snapshot) and says why: 2 gone, 3 corrupt,
/// 4 conflict (with the keys), 5 too large. 6 means the row looked fine in the statement's
/// snapshot although the UPDATE, which sees the latest committed version, refused it: a
/// concurrent write committed in between, and the caller runs the statement again.
///
/// A renewal (`forwards`: the forwards table) is the rotation plus, in the same statement,
/// an `INSERT` of the forward row under the old key that selects from the UPDATE's result:
/// it writes exactly when the move did, and both commit or neither does.
fn apply(table: &str, rotate: bool, forwards: Option<&str>) -> String {
    let sound = format!("(s.format = {FORMAT} AND jsonb_typeof(s.data) = 'object')");
    let new_data =
        "((CASE WHEN $3::boolean THEN '{}'::jsonb ELSE s.data - $4::text[] END) || $5::jsonb)";
    let conflicts = "EXISTS (SELECT 1 FROM unnest($6::text[], $7::text[]) AS e(k, v) \
                     WHERE s.data -> e.k IS DISTINCT FROM e.v::jsonb)";
    let conflict_list = "ARRAY(SELECT e.k FROM unnest($6::text[], $7::text[]) \
                         WITH ORDINALITY AS e(k, v, n) \
                         WHERE s.data -> e.k IS DISTINCT FROM e.v::jsonb ORDER BY e.n)";
    let fits = format!(
        "($8::bigint IS NULL OR (SELECT coalesce(sum(octet_length(j.key) + octet_length(j.value::text)), 0) \
         FROM jsonb_each({new_data}) AS j) <= $8::bigint)"
    );
    let idle = "LEAST($2::bigint + COALESCE($9::bigint, s.idle_timeout), \
                COALESCE($10::bigint, s.absolute_deadline))";
    let bucket = bucket_sql(idle, "/");
    let new_key = if rotate { "id_hash = $14, " } else { "" };
    // An expired forward may still sit under the old key (a session was created there
    // after it): the new one replaces it.
    let forward = match forwards {
        Some(forwards) => format!(
            ", fwd AS (
            INSERT INTO {forwards} (id_hash, forward, grace_until)
            SELECT $1, $15, $16 FROM upd
            ON CONFLICT (id_hash) DO UPDATE SET forward = EXCLUDED.forward,
                grace_until = EXCLUDED.grace_until
        )"
        ),
        None => String::new(),
    };
    format!(
        "WITH upd AS (
            UPDATE {table} AS s SET {new_key}
                data = {new_data},
                idle_timeout = COALESCE($9::bigint, s.idle_timeout),
                absolute_deadline = COALESCE($10::bigint, s.absolute_deadline),
                persistent = COALESCE($11::boolean, s.persistent),
                owner = CASE WHEN $12::boolean THEN $13::text ELSE s.owner END,
                idle_deadline = {idle},
                expires_at = {bucket}
            WHERE s.id_hash = $1 AND {LIVE}
                AND CASE WHEN {sound} THEN NOT {conflicts} AND {fits} ELSE false END
            RETURNING s.idle_deadline, s.persistent
        ){forward}
        SELECT 1 AS outcome, upd.idle_deadline, upd.persistent, NULL::text[] AS conflicts FROM upd
        UNION ALL
        SELECT CASE WHEN NOT {LIVE} THEN 2 WHEN NOT {sound} THEN 3 WHEN {conflicts} THEN 4
                    WHEN NOT {fits} THEN 5 ELSE 6 END,
               NULL::bigint, NULL::boolean,
               CASE WHEN {LIVE} AND {sound} THEN {conflict_list} END
        FROM {table} AS s WHERE s.id_hash = $1 AND NOT EXISTS (SELECT 1 FROM upd)"
    )
}

impl Statements {
    pub(crate) fn new(table: &str) -> Self {
        let forwards = crate::migrate::forwards_table(table);
        // A live forward holds its key like a live session (`create` there is KeyTaken).
        let no_live_forward = format!(
            "NOT EXISTS (SELECT 1 FROM {forwards} AS f WHERE f.id_hash = $1 \
             AND f.grace_until > $2::bigint)"
        );
        let touch_idle = "LEAST($2::bigint + s.idle_timeout, s.absolute_deadline)";
        Statements {
            load: format!(
                "SELECT s.data::text, s.format, s.created_at, s.idle_timeout, s.idle_deadline, \
                 s.absolute_deadline, s.persistent, s.owner \
                 FROM {table} AS s WHERE s.id_hash = $1 AND {LIVE}"
            ),
            // A live row or a live forward under the key keeps it (no row returned:
            // KeyTaken); an expired row is replaced in the same statement.
            create: format!(
                "INSERT INTO {table} AS s (id_hash, data, format, created_at, idle_timeout, \
                 idle_deadline, absolute_deadline, expires_at, persistent, owner) \
                 SELECT $1, $3::jsonb, {FORMAT}, $4, $5, $6, $7, $8, $9, $10 \
                 WHERE {no_live_forward} \
                 ON CONFLICT (id_hash) DO UPDATE SET data = EXCLUDED.data, \
                 format = EXCLUDED.format, created_at = EXCLUDED.created_at, \
                 idle_timeout = EXCLUDED.idle_timeout, idle_deadline = EXCLUDED.idle_deadline, \
                 absolute_deadline = EXCLUDED.absolute_deadline, expires_at = EXCLUDED.expires_at, \
                 persistent = EXCLUDED.persistent, owner = EXCLUDED.owner \
                 WHERE NOT {LIVE} \
                 RETURNING 1"
            ),
            apply: apply(table, false, None),
            rotate: apply(table, true, None),
            renew: apply(table, true, Some(&forwards)),
            load_forward: format!(
                "SELECT forward FROM {forwards} WHERE id_hash = $1 AND grace_until > $2"
            ),
            // The session or the forward under the key (there is at most one of them).
            delete: format!(
                "WITH f AS (DELETE FROM {forwards} WHERE id_hash = $1) \
                 DELETE FROM {table} WHERE id_hash = $1"
            ),
            delete_forward: None,
            delete_expired_key: format!(
                "DELETE FROM {table} AS s WHERE s.id_hash = $1 AND NOT {LIVE}"
            ),
            touch: format!(
                "UPDATE {table} AS s SET idle_deadline = {touch_idle}, expires_at = {} \
                 WHERE s.id_hash = $1 AND {LIVE} RETURNING s.idle_deadline, s.persistent",
                bucket_sql(touch_idle, "/")
            ),
            sessions_of: format!(
                "SELECT s.id_hash, s.created_at, s.idle_deadline, s.absolute_deadline \
                 FROM {table} AS s WHERE s.owner = $1 AND {LIVE} \
                 ORDER BY s.created_at, s.id_hash"
            ),
            revoke: format!(
                "DELETE FROM {table} WHERE owner = $1 AND ($2::bytea IS NULL OR id_hash <> $2)"
            ),
            // Bounded, through the expires_at index; rows another purger holds are skipped.
            purge: format!(
                "DELETE FROM {table} WHERE id_hash IN (SELECT id_hash FROM {table} \
                 WHERE expires_at < $1 AND LEAST(idle_deadline, absolute_deadline) <= $2 \
                 LIMIT $3 FOR UPDATE SKIP LOCKED)"
            ),
            purge_forwards: format!(
                "DELETE FROM {forwards} WHERE id_hash IN (SELECT id_hash FROM {forwards} \
                 WHERE grace_until <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)"
            ),
        }
    }
}
