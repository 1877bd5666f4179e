//! logward's state store: the Store trait and its SQLite backend (checkpoints, counters, bans, alerts, outbox).
