-- Events stored once by a key (schema 11): the collector's Beats input keys each event by
-- its sender and identity (a Windows record id, a file offset, else the document's hash),
-- because a Beat resends a window whose ACK it did not get. The key lives in the event's
-- row, so it is kept exactly as long as the event (fleet retention); agents' events have
-- none (their seq orders them) and cost the partial index nothing.
ALTER TABLE fleet_events ADD COLUMN dedup_key BLOB;
CREATE UNIQUE INDEX fleet_events_dedup_key ON fleet_events (dedup_key) WHERE dedup_key IS NOT NULL;
