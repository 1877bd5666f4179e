-- logward state, schema 1. Times are Unix seconds; u64 values (device, inode, hash) are
-- stored bit-for-bit as SQLite's signed 64-bit integers.

-- Facts about this database. `instance` prefixes outbox idempotency keys, so keys stay
-- unique when a state directory is recreated and row ids start again at 1.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('instance', lower(hex(randomblob(8))));

CREATE TABLE checkpoints (
    source      TEXT PRIMARY KEY NOT NULL,
    device      INTEGER,
    inode       INTEGER,
    byte_offset INTEGER NOT NULL CHECK (byte_offset >= 0),
    fp_len      INTEGER,
    fp_hash     INTEGER,
    line        INTEGER NOT NULL CHECK (line >= 0),
    cursor      TEXT,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE alerts (
    id             INTEGER PRIMARY KEY,
    time           INTEGER NOT NULL,
    rule_id        TEXT NOT NULL,
    severity       INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 5),
    host           TEXT,
    source_address TEXT,
    user_name      TEXT,
    json           TEXT NOT NULL CHECK (json_valid(json))
);
CREATE INDEX alerts_time ON alerts (time);
CREATE INDEX alerts_rule_time ON alerts (rule_id, time);
CREATE INDEX alerts_source_address ON alerts (source_address) WHERE source_address IS NOT NULL;
CREATE INDEX alerts_user ON alerts (user_name) WHERE user_name IS NOT NULL;
CREATE INDEX alerts_host ON alerts (host) WHERE host IS NOT NULL;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    alert_id        INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    sink            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    idempotency_key TEXT NOT NULL UNIQUE,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_alert ON outbox (alert_id);

-- One row per target ever banned (until retention forgets it): `offences` counts bans for
-- escalation, `removed_at` is set when the ban is lifted or expires.
CREATE TABLE bans (
    target     TEXT PRIMARY KEY NOT NULL,
    family     INTEGER NOT NULL CHECK (family IN (4, 6)),
    reason     TEXT NOT NULL,
    rule_id    TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    offences   INTEGER NOT NULL DEFAULT 1 CHECK (offences >= 1),
    removed_at INTEGER
) WITHOUT ROWID;
CREATE INDEX bans_in_force ON bans (expires_at) WHERE removed_at IS NULL;

CREATE TABLE counters (
    name     TEXT PRIMARY KEY NOT NULL,
    data     BLOB NOT NULL,
    saved_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE report_entries (
    id      INTEGER PRIMARY KEY,
    time    INTEGER NOT NULL,
    section TEXT NOT NULL CHECK (section IN ('WARN', 'INFO', 'OTHER')),
    text    TEXT NOT NULL
);
CREATE INDEX report_entries_time ON report_entries (time);
