-- satchel sealed-session revocations, MariaDB / MySQL. Times are milliseconds since the
-- Unix epoch. `entry` is the SHA-256 of a session id (a deny-listed session, not_before 0)
-- or of a domain-separated owner name (an owner's "not before" cut-off). A row is dead
-- once until_ms passes; the index (part of CREATE TABLE: MySQL DDL is not transactional)
-- serves the bounded cleanup.
CREATE TABLE IF NOT EXISTS {table} (
    entry      BINARY(32) NOT NULL PRIMARY KEY,
    not_before BIGINT     NOT NULL,
    until_ms   BIGINT     NOT NULL,
    INDEX `{name}_until` (until_ms)
) ENGINE = InnoDB;
