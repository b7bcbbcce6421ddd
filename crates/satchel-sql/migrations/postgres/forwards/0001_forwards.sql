-- satchel renewal forwards (SEC-49), PostgreSQL: what a renewed session's old id leads to
-- during the grace window. A table of its own, so no session statement can ever read a
-- forward as a session, and the migration is additive: code built before it never names
-- this table and keeps working on a migrated database. Rows are written once (by `renew`)
-- and deleted once (by `delete`, or by cleanup/purge after grace_until); never updated.
CREATE TABLE IF NOT EXISTS {forwards} (
    id_hash     BYTEA  PRIMARY KEY,
    forward     BYTEA  NOT NULL,
    grace_until BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS "{name}_forwards_grace_until" ON {forwards} (grace_until);
