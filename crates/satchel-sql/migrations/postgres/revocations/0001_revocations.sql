-- satchel sealed-session revocations, PostgreSQL. Times are milliseconds since the Unix
-- epoch. `entry` is the SHA-256 of a session id (a deny-listed session, not_before 0) or of
-- a domain-separated owner name (an owner's "not before" cut-off). A row is dead once
-- until_ms passes; the index serves the bounded cleanup.
CREATE TABLE IF NOT EXISTS {table} (
    entry      BYTEA  PRIMARY KEY,
    not_before BIGINT NOT NULL,
    until_ms   BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS "{name}_until" ON {table} (until_ms);
