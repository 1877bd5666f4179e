-- The collector processes sharing this store, one row each, kept up to date by their
-- heartbeats (collector/cluster.rs): what `logward collector status` shows.
CREATE TABLE collectors (
    id          TEXT PRIMARY KEY NOT NULL,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    version     TEXT NOT NULL,
    listen      TEXT NOT NULL,
    backend     TEXT NOT NULL,
    nats        INTEGER NOT NULL,
    role        TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
);
