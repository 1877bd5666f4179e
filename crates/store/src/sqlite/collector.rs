//! [`CollectorStore`](crate::collector::CollectorStore) on [`SqliteStore`]: each method is
//! the inherent one of the same name, written beside its tables (agents.rs, ingest.rs,
//! decisions.rs, operators.rs, query.rs, analysis.rs).

use super::SqliteStore;
use crate::collector::by_inherent::collector_store_by_inherent;

collector_store_by_inherent!(SqliteStore);
