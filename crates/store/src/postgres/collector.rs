//! [`CollectorStore`](crate::collector::CollectorStore) on [`PgStore`]: each method is the
//! inherent one of the same name, written beside its tables (agents.rs, ingest.rs,
//! decisions.rs, operators.rs, query.rs, analysis.rs), as on SQLite; each first checks
//! that the connection is up.

use super::PgStore;
use crate::collector::by_inherent::collector_store_by_inherent;

collector_store_by_inherent!(PgStore, first: ready);
