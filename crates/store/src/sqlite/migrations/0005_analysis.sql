-- logward state, schema 5 (collector): the LLM second opinion on alerts, and which alert a
-- fleet ban decision came from (the dashboard's "actions taken").

-- One row per alert the LLM was asked about. `pending` while the request is out (delivery
-- may wait for it, up to the LLM timeout); `done` with the text; `failed` with the error
-- (the alert goes out without an analysis). `cache_key` lets an identical alert reuse an
-- earlier answer.
CREATE TABLE alert_analysis (
    alert_id     INTEGER PRIMARY KEY NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    state        TEXT NOT NULL CHECK (state = 'pending' OR state = 'done' OR state = 'failed'),
    model        TEXT,
    text         TEXT,
    error        TEXT,
    cache_key    TEXT,
    requested_at INTEGER NOT NULL,
    finished_at  INTEGER
);
CREATE INDEX alert_analysis_cache ON alert_analysis (cache_key) WHERE cache_key IS NOT NULL;

ALTER TABLE decisions ADD COLUMN alert_id INTEGER;
CREATE INDEX decisions_alert ON decisions (alert_id) WHERE alert_id IS NOT NULL;
