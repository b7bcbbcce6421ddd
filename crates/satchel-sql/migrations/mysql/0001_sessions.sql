-- satchel sessions, MariaDB / MySQL. Times are milliseconds since the Unix epoch.
-- expires_at is LEAST(idle_deadline, absolute_deadline) rounded up to the minute, so most
-- writes leave its index alone. The indexes are part of CREATE TABLE: MySQL DDL is not
-- transactional, and one statement either makes all of it or nothing.
CREATE TABLE IF NOT EXISTS {table} (
    id_hash           BINARY(32)   NOT NULL PRIMARY KEY,
    data              LONGTEXT     NOT NULL,
    format            SMALLINT     NOT NULL,
    created_at        BIGINT       NOT NULL,
    idle_timeout      BIGINT       NOT NULL,
    idle_deadline     BIGINT       NOT NULL,
    absolute_deadline BIGINT       NOT NULL,
    expires_at        BIGINT       NOT NULL,
    persistent        BOOLEAN      NOT NULL,
    owner             VARCHAR(512) NULL,
    INDEX `{name}_expires_at` (expires_at),
    INDEX `{name}_owner` (owner)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
