-- logward state, schema 2: cheaper rows on the agent's hot path (issue 4, alerts into the
-- outbox at >= 50 k/s). Every alert and outbox row is written in the batch transaction, and
-- each index is one more B-tree insert per row.

-- The outbox's idempotency key is derived, no longer stored: it was always
-- `{meta.instance}-{alert_id}-{sink}`, so the store computes the same text when it reads a
-- row (keys of rows queued before this migration do not change). Its UNIQUE index was the
-- costliest write of an outbox row (a ~30-byte text key per row); one row per (alert, sink)
-- is now checked by `commit_batch`, the only writer of outbox rows, within the batch that
-- creates an alert's deliveries. SQLite cannot drop a UNIQUE column, so the table is rebuilt
-- the documented way: create the new table, copy, drop the old one, rename. Nothing refers to
-- `outbox`, so the foreign keys stay valid throughout (its own key to `alerts` is copied as
-- is); ids are kept, and so are the keys derived from them. The state check is rewritten
-- (same states, see below).
CREATE TABLE outbox_new (
    id              INTEGER PRIMARY KEY,
    alert_id        INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    sink            TEXT NOT NULL,
    -- Not `state IN (...)`: SQLite checks a list of three constants with a temporary
    -- B-tree built for every row written: over half the instructions of an outbox insert.
    state           TEXT NOT NULL CHECK (state = 'pending' OR state = 'sent' OR state = 'failed'),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    updated_at      INTEGER NOT NULL
);
INSERT INTO outbox_new (id, alert_id, sink, state, attempts, next_attempt_at, last_error,
                        updated_at)
    SELECT id, alert_id, sink, state, attempts, next_attempt_at, last_error, updated_at
    FROM outbox ORDER BY id;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
-- Due rows (the deliverer's every round).
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
-- Retention's "does this alert still have an undelivered row", and the cascade when an
-- alert is deleted.
CREATE INDEX outbox_alert ON outbox (alert_id);

-- Indexes on `alerts` no query reads: the store reads alerts by id (the primary key) and by
-- time (`alerts_time`, kept; retention uses it too). A query filtering on rule, address, user
-- or host adds the index it needs in its own migration.
DROP INDEX alerts_rule_time;
DROP INDEX alerts_source_address;
DROP INDEX alerts_user;
DROP INDEX alerts_host;

-- Report entries: the same rewrite of a `section IN (...)` check (one row per successful
-- login with the default rules, so on the hot path too). Nothing refers to the table.
CREATE TABLE report_entries_new (
    id      INTEGER PRIMARY KEY,
    time    INTEGER NOT NULL,
    section TEXT NOT NULL CHECK (section = 'WARN' OR section = 'INFO' OR section = 'OTHER'),
    text    TEXT NOT NULL
);
INSERT INTO report_entries_new (id, time, section, text)
    SELECT id, time, section, text FROM report_entries ORDER BY id;
DROP TABLE report_entries;
ALTER TABLE report_entries_new RENAME TO report_entries;
CREATE INDEX report_entries_time ON report_entries (time);
