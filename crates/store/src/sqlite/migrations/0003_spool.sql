-- logward state, schema 3: the forward spool. Events and alerts bound for the collector
-- wait here, as their ECS JSON, from the commit of the lines that produced them (same
-- transaction as the checkpoint) until the collector answered 200 for them.

-- `seq` is handed out from `spool_meta.next_seq`, never reused even when the table empties
-- (the collector drops a seq at or below the highest it stored as a duplicate).
CREATE TABLE spool (
    seq  INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
    kind INTEGER NOT NULL CHECK (kind = 0 OR kind = 1), -- 0 event, 1 alert (not IN: see 0002)
    time INTEGER NOT NULL,
    size INTEGER NOT NULL CHECK (size >= 0), -- bytes of json (UTF-8)
    json TEXT NOT NULL
);
-- The oldest plain events, dropped first when the spool is over its size bound.
CREATE INDEX spool_kind_seq ON spool (kind, seq);

-- One row: the next seq, running totals (so the size bound costs no table scan), the bound
-- itself (set by the agent at start) and how many events were ever dropped.
CREATE TABLE spool_meta (
    id        INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    next_seq  INTEGER NOT NULL CHECK (next_seq >= 1),
    items     INTEGER NOT NULL CHECK (items >= 0),
    bytes     INTEGER NOT NULL CHECK (bytes >= 0),
    max_bytes INTEGER NOT NULL CHECK (max_bytes >= 0),
    dropped   INTEGER NOT NULL CHECK (dropped >= 0)
);
INSERT INTO spool_meta (id, next_seq, items, bytes, max_bytes, dropped)
VALUES (1, 1, 0, 0, 268435456, 0);

-- Small named values of the forward sink (the decisions cursor `decisions_since`).
CREATE TABLE forward_state (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;
