-- satchel sessions, SQLite. Times are milliseconds since the Unix epoch.
-- expires_at is MIN(idle_deadline, absolute_deadline) rounded up to the minute, so most
-- writes leave its index alone.
CREATE TABLE IF NOT EXISTS {table} (
    id_hash           BLOB    PRIMARY KEY NOT NULL,
    data              TEXT    NOT NULL,
    format            INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    idle_timeout      INTEGER NOT NULL,
    idle_deadline     INTEGER NOT NULL,
    absolute_deadline INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    persistent        INTEGER NOT NULL,
    owner             TEXT
);
CREATE INDEX IF NOT EXISTS "{name}_expires_at" ON {table} (expires_at);
CREATE INDEX IF NOT EXISTS "{name}_owner" ON {table} (owner) WHERE owner IS NOT NULL;
