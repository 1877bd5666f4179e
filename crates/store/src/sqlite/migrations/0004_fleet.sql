-- The collector's fleet tables (schema 4): enrolment tokens, agents, the events agents
-- forward, and fleet ban decisions. Alerts from agents go to the `alerts` table of schema 1.

-- One-time enrolment tokens: only their SHA-256 is kept.
CREATE TABLE enrol_tokens (
    sha256     TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    agent_id   TEXT
) WITHOUT ROWID;

-- Enrolled agents (and, in shared-key mode, hosts registered on first sight: no secret).
CREATE TABLE agents (
    id             TEXT PRIMARY KEY NOT NULL,
    host           TEXT NOT NULL,
    secret         TEXT,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    last_seen      INTEGER,
    version        TEXT,
    spool_items    INTEGER,
    spool_bytes    INTEGER,
    oldest_unsent  INTEGER,
    last_seq       INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE fleet_events (
    id          INTEGER PRIMARY KEY,
    agent_id    TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    time        INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    host        TEXT,
    action      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    source_ip   TEXT,
    user_name   TEXT,
    json        TEXT NOT NULL
);
CREATE INDEX fleet_events_time ON fleet_events (time);
CREATE INDEX fleet_events_host_time ON fleet_events (host, time);
CREATE INDEX fleet_events_source_ip ON fleet_events (source_ip) WHERE source_ip IS NOT NULL;
CREATE INDEX fleet_events_user ON fleet_events (user_name) WHERE user_name IS NOT NULL;

CREATE TABLE decisions (
    id            INTEGER PRIMARY KEY,
    target        TEXT NOT NULL,
    duration_secs INTEGER,
    reason        TEXT NOT NULL,
    rule_id       TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER
);
CREATE INDEX decisions_created ON decisions (created_at);
