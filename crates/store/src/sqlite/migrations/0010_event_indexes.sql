-- Fewer, better indexes on fleet_events (schema 10): every index is written for every event
-- stored, and the collector's ingest rate is the store's. An alert's events are looked up by
-- address (or, without one, by user) within a time window, so those two indexes carry the
-- time; the host narrows what they find. `time` alone serves retention, `host, time` the
-- per-host views.
DROP INDEX IF EXISTS fleet_events_host_ip_time;
DROP INDEX IF EXISTS fleet_events_source_ip;
DROP INDEX IF EXISTS fleet_events_user;
CREATE INDEX fleet_events_ip_time ON fleet_events (source_ip, time) WHERE source_ip IS NOT NULL;
CREATE INDEX fleet_events_user_time ON fleet_events (user_name, time) WHERE user_name IS NOT NULL;
