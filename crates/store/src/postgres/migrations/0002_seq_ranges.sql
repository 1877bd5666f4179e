-- Idempotence by (agent, seq) without order: the ranges of sequence numbers stored per
-- agent (collector/seqs.rs; SQLite's migration 13). An agent's `last_seq` stays its highest.
-- Every seq up to an agent's `last_seq` was a duplicate before: one range says so.
CREATE TABLE agent_seq_ranges (
    agent_id    text NOT NULL,
    first_seq   bigint NOT NULL,
    last_seq    bigint NOT NULL,
    received_at bigint NOT NULL,
    PRIMARY KEY (agent_id, last_seq)
);
INSERT INTO agent_seq_ranges (agent_id, first_seq, last_seq, received_at)
    SELECT id, -9223372036854775808, last_seq, coalesce(last_seen, created_at)
    FROM agents WHERE last_seq > 0;
