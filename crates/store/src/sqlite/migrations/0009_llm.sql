-- logward state, schema 7 (collector): the LLM second opinion gets a fourth state and its
-- latency. `skipped`: the `llm.when` filter left the alert out (the dashboard says so rather
-- than showing nothing). `latency_ms`: how long the endpoint took (none for a cache hit).
-- SQLite cannot change a CHECK constraint, so the table is rebuilt the documented way;
-- nothing refers to `alert_analysis`.
CREATE TABLE alert_analysis_new (
    alert_id     INTEGER PRIMARY KEY NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    state        TEXT NOT NULL CHECK (state = 'pending' OR state = 'done' OR state = 'failed'
                                      OR state = 'skipped'),
    model        TEXT,
    text         TEXT,
    error        TEXT,
    cache_key    TEXT,
    requested_at INTEGER NOT NULL,
    finished_at  INTEGER,
    latency_ms   INTEGER
);
INSERT INTO alert_analysis_new (alert_id, state, model, text, error, cache_key, requested_at,
                                finished_at)
    SELECT alert_id, state, model, text, error, cache_key, requested_at, finished_at
    FROM alert_analysis ORDER BY alert_id;
DROP TABLE alert_analysis;
ALTER TABLE alert_analysis_new RENAME TO alert_analysis;
CREATE INDEX alert_analysis_cache ON alert_analysis (cache_key) WHERE cache_key IS NOT NULL;
-- The LLM worker's "what is still to ask" (a handful of rows at any time).
CREATE INDEX alert_analysis_pending ON alert_analysis (alert_id) WHERE state = 'pending';
