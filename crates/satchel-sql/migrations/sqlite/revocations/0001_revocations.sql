-- satchel sealed-session revocations, SQLite. Times are milliseconds since the Unix epoch.
-- `entry` is the SHA-256 of a session id (a deny-listed session, not_before 0) or of a
-- domain-separated owner name (an owner's "not before" cut-off). A row is dead once
-- until_ms passes; the index serves the bounded cleanup.
CREATE TABLE IF NOT EXISTS {table} (
    entry      BLOB    PRIMARY KEY,
    not_before INTEGER NOT NULL,
    until_ms   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS "{name}_until" ON {table} (until_ms);
