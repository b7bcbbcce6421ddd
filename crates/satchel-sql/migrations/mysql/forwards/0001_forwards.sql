-- satchel renewal forwards (SEC-49), MariaDB / MySQL: what a renewed session's old id
-- leads to during the grace window. A table of its own, so no session statement can ever
-- read a forward as a session, and the migration is additive: code built before it never
-- names this table and keeps working on a migrated database. One CREATE TABLE with its
-- index, so the (non-transactional) DDL makes all of it or nothing.
CREATE TABLE IF NOT EXISTS {forwards} (
    id_hash     BINARY(32) NOT NULL PRIMARY KEY,
    forward     BLOB       NOT NULL,
    grace_until BIGINT     NOT NULL,
    INDEX `{name}_forwards_grace_until` (grace_until)
) ENGINE = InnoDB;
