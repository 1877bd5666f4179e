-- Login profiles of the anomaly detector (docs/ANOMALY.md): one row per key
-- (`host\x1fuser`, `\x1fuser` across the fleet, `host\x1f` for a host), the profile as JSON.
CREATE TABLE profiles (
    key        TEXT PRIMARY KEY NOT NULL,
    data       BLOB NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
