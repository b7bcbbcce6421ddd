-- satchel renewal forwards (SEC-49), SQLite: what a renewed session's old id leads to
-- during the grace window. A table of its own, so no session statement can ever read a
-- forward as a session, and the migration is additive: code built before it never names
-- this table and keeps working on a migrated database.
CREATE TABLE IF NOT EXISTS {forwards} (
    id_hash     BLOB    PRIMARY KEY NOT NULL,
    forward     BLOB    NOT NULL,
    grace_until INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS "{name}_forwards_grace_until" ON {forwards} (grace_until);
