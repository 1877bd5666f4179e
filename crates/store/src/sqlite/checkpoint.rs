//! WAL checkpoints on a thread of their own, for a writer whose thread is its throughput
//! (the collector's store thread). SQLite otherwise checkpoints on the committing thread
//! whenever the WAL passes 1,000 pages: under a stream of large commits that is nearly every
//! commit, and the writer waits for the copy into the database and its fsyncs.
//!
//! Here a second connection runs `PRAGMA wal_checkpoint(PASSIVE)` when the writer says it
//! committed (and every second): passive, it never blocks the writer nor waits for it, and
//! copies what is committed. The writer keeps SQLite's own checkpoint as a backstop at
//! [`BACKSTOP_PAGES`], so the WAL stays bounded should this thread fall behind or fail (a
//! failed passive checkpoint loses nothing: its frames stay in the WAL for the next one).
//! Durability is unchanged: the checkpoint fsyncs as the writer's would (same `synchronous`).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::{sql, Result, StoreError};

/// The writer's own checkpoint threshold while this thread checkpoints (pages of 4 KiB:
/// 64 MiB of WAL).
pub(crate) const BACKSTOP_PAGES: i64 = 16_384;

/// The checkpointing thread; stopped (and joined) when dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens a second connection to `path` and starts the thread.
    pub(crate) fn start(path: &Path, synchronous: &str) -> Result<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql(path, "open the checkpoint connection"))?;
        conn.pragma_update(None, "synchronous", synchronous)
            .map_err(sql(path, "set synchronous mode"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || {
                while !stopped.load(Ordering::Acquire) {
                    // Errors are retried at the next wake (see the module's comment).
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    std::thread::park_timeout(Duration::from_secs(1));
                }
            })
            .map_err(|e| StoreError::invalid("checkpoint thread", e.to_string()))?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }

    /// After a commit: checkpoint what it wrote (at once if the thread is idle, else right
    /// after the checkpoint under way).
    pub(crate) fn wake(&self) {
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::collector::{FleetEvent, FleetItem};
    use crate::sqlite::SqliteStore;
    use crate::CollectorStore as _;

    /// Committed events reach the database file without the writer checkpointing (its
    /// threshold is far above what is written), and are all there after a reopen.
    #[test]
    fn the_background_thread_checkpoints_what_the_writer_commits() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open_dir(dir.path()).unwrap();
        s.checkpoint_in_background().unwrap();
        let db = s.path().to_owned();
        let before = std::fs::metadata(&db).unwrap().len();
        let items: Vec<FleetItem> = (0..2_000u32)
            .map(|i| FleetItem::Keyed {
                key: {
                    let mut k = [0u8; 16];
                    k[12..].copy_from_slice(&i.to_be_bytes());
                    k
                },
                event: FleetEvent {
                    time: 1_000,
                    host: Some("dc01".into()),
                    action: "user_login".into(),
                    outcome: "failure".into(),
                    source_ip: None,
                    user: None,
                    json: format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(400)),
                },
            })
            .collect();
        assert_eq!(s.ingest("beats:dc01", 2_000, &items).unwrap().events, 2_000);
        // Well under the writer's own threshold: only the other thread copies it.
        let wal = std::fs::metadata(db.with_extension("db-wal"))
            .unwrap()
            .len();
        assert!(wal < super::BACKSTOP_PAGES as u64 * 4096 / 4, "WAL {wal}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::fs::metadata(&db).unwrap().len() < before + 800_000 {
            assert!(std::time::Instant::now() < deadline, "never checkpointed");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        drop(s);
        let mut s = SqliteStore::open_dir(dir.path()).unwrap();
        assert_eq!(s.count_fleet_events(None).unwrap(), 2_000);
    }
}
