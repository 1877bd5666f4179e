-- The collector's dashboard and API (schema 8): operators, API tokens, and the indexes the
-- dashboard's queries need.

-- Dashboard operators: the password only as an argon2id PHC string.
CREATE TABLE IF NOT EXISTS operators (
    name       TEXT PRIMARY KEY NOT NULL,
    password   TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Bearer tokens for the REST API: only their SHA-256 is kept.
CREATE TABLE IF NOT EXISTS api_tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    sha256     TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used  INTEGER,
    revoked_at INTEGER
);

-- An alert's events: same host and address, up to the alert's time.
CREATE INDEX IF NOT EXISTS fleet_events_host_ip_time ON fleet_events (host, source_ip, time);
