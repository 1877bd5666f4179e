-- The collector processes sharing this database, one row each, kept up to date by their
-- heartbeats (collector/cluster.rs; SQLite's migration 14): what `logward collector status`
-- shows.
CREATE TABLE collectors (
    id          text PRIMARY KEY,
    host        text NOT NULL,
    pid         bigint NOT NULL,
    version     text NOT NULL,
    listen      text NOT NULL,
    backend     text NOT NULL,
    nats        boolean NOT NULL,
    role        text NOT NULL,
    started_at  bigint NOT NULL,
    last_seen   bigint NOT NULL
);
