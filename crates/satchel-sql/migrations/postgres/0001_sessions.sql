-- satchel sessions, PostgreSQL. Times are milliseconds since the Unix epoch.
-- expires_at is LEAST(idle_deadline, absolute_deadline) rounded up to the minute: it moves
-- once a minute per session at most, so ordinary writes are HOT updates (fillfactor 80
-- leaves them room on the page).
CREATE TABLE IF NOT EXISTS {table} (
    id_hash           BYTEA    PRIMARY KEY,
    data              JSONB    NOT NULL,
    format            SMALLINT NOT NULL,
    created_at        BIGINT   NOT NULL,
    idle_timeout      BIGINT   NOT NULL,
    idle_deadline     BIGINT   NOT NULL,
    absolute_deadline BIGINT   NOT NULL,
    expires_at        BIGINT   NOT NULL,
    persistent        BOOLEAN  NOT NULL,
    owner             TEXT
) WITH (fillfactor = 80);
CREATE INDEX IF NOT EXISTS "{name}_expires_at" ON {table} (expires_at);
CREATE INDEX IF NOT EXISTS "{name}_owner" ON {table} (owner) WHERE owner IS NOT NULL;
