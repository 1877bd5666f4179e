-- logward state, schema 6 (collector): fleet ban decisions as a change log, and the fleet
-- rules' counters.
--
-- `decisions` holds one row per decision; at most one per target is in force (not
-- removed). Every change — add, extend, delete (lifted by an operator or a rule), expire —
-- is a row of `decision_changes` with a new `seq`: `GET /v1/decisions?since=SEQ` is the
-- changes after SEQ, deletions included, so agents lift what the fleet lifts.

ALTER TABLE decisions ADD COLUMN removed_at INTEGER;

-- Older schemas could hold several decisions for one target: the newest stays in force.
UPDATE decisions SET removed_at = created_at
 WHERE id NOT IN (SELECT max(id) FROM decisions GROUP BY target);
CREATE UNIQUE INDEX decisions_in_force ON decisions (target) WHERE removed_at IS NULL;
CREATE INDEX decisions_expiry ON decisions (expires_at) WHERE removed_at IS NULL;

CREATE TABLE decision_changes (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    decision_id   INTEGER NOT NULL,
    op            TEXT NOT NULL CHECK (op IN ('add', 'extend', 'delete', 'expire')),
    target        TEXT NOT NULL,
    duration_secs INTEGER,
    expires_at    INTEGER,
    reason        TEXT NOT NULL,
    rule_id       TEXT,
    at            INTEGER NOT NULL
);
CREATE INDEX decision_changes_decision ON decision_changes (decision_id);

-- The decisions agents may already have seen keep their ids as seqs (an agent's cursor
-- `since=ID` stays meaningful); later changes get higher ones.
INSERT INTO decision_changes (seq, decision_id, op, target, duration_secs, expires_at, reason,
                              rule_id, at)
SELECT id, id, 'add', target, duration_secs, expires_at, reason, rule_id, created_at
  FROM decisions ORDER BY id;
