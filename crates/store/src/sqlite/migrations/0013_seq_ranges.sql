-- Idempotence by (agent, seq) without order (schema 13): the ranges of sequence numbers
-- stored per agent (collector/seqs.rs). An agent's `last_seq` stays its highest, for status.
-- Every seq up to an agent's `last_seq` was a duplicate before: one range says so.
CREATE TABLE agent_seq_ranges (
    agent_id    TEXT NOT NULL,
    first_seq   INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (agent_id, last_seq)
) WITHOUT ROWID;
INSERT INTO agent_seq_ranges (agent_id, first_seq, last_seq, received_at)
    SELECT id, -9223372036854775807 - 1, last_seq, coalesce(last_seen, created_at)
    FROM agents WHERE last_seq > 0;
