//! This collector's row in the store's `collectors` table (`logward collector status`): a
//! random instance id chosen at start, written with the process's host, pid, version,
//! addresses, backend and rules role every [`EVERY`], on a store connection of its own —
//! never through the store thread, so a busy ingest queue does not make a live collector look
//! gone. A clean stop deletes the row; a killed collector's row ages (shown as gone after
//! `COLLECTOR_STALE_SECS`, forgotten after a day).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use logward_store::{CollectorRow, CollectorStore};
use tokio::sync::watch;

use crate::config::StoreConfig;
use crate::server::AppState;
use crate::unix_now as now;

/// How often the row is written.
pub const EVERY: Duration = Duration::from_secs(5);

type Conn = Arc<Mutex<Slot>>;

/// The heartbeat's connection, once opened; dropped on a thread of its own (PostgreSQL's
/// sync client must not be dropped on the async runtime, where a task stopped at shutdown
/// drops it).
#[derive(Default)]
struct Slot(Option<Box<dyn CollectorStore>>);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            let _ = std::thread::Builder::new()
                .name("presence-store-drop".into())
                .spawn(move || drop(s));
        }
    }
}

/// What the rules do here: `inline` (in the ingest transactions), or with a rules leader
/// (`nats:` with PostgreSQL) `leader` or `standby`.
fn role(state: &AppState) -> &'static str {
    if !crate::rules_leader::enabled(&state.config) {
        "inline"
    } else if state
        .metrics
        .rules_leader
        .leader
        .load(std::sync::atomic::Ordering::Relaxed)
        == 1
    {
        "leader"
    } else {
        "standby"
    }
}

/// The backend's name, as `/metrics` and the status show it.
pub fn backend(store: &StoreConfig) -> &'static str {
    match store {
        StoreConfig::Sqlite => "sqlite",
        StoreConfig::Postgres { .. } => "postgres",
    }
}

/// Starts the heartbeat: until `stop` changes; then the row is deleted.
pub(crate) fn start(
    state: Arc<AppState>,
    listen: String,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let mut row = CollectorRow {
        id: crate::random_hex(8),
        host,
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        listen,
        backend: backend(&state.config.store).to_owned(),
        nats: state.config.nats.is_some(),
        role: String::new(),
        started_at: now(),
        last_seen: 0,
    };
    tokio::spawn(async move {
        let conn: Conn = Arc::default();
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => break,
            }
            row.role = role(&state).to_owned();
            row.last_seen = now();
            let r = row.clone();
            let at = crate::StoreAt::from(&state.config);
            let done = on_conn(&conn, move |c| match &mut c.0 {
                Some(s) => s.collector_seen(&r).map_err(crate::Error::from),
                None => {
                    let mut s = crate::open_store(at)?;
                    s.collector_seen(&r)?;
                    c.0 = Some(s);
                    Ok(())
                }
            })
            .await;
            if let Err(e) = done {
                tracing::warn!("collector heartbeat not stored: {e}");
            }
        }
        let id = row.id.clone();
        let _ = on_conn(&conn, move |c| match &mut c.0 {
            Some(s) => s.collector_gone(&id).map(drop).map_err(crate::Error::from),
            None => Ok(()),
        })
        .await;
    })
}

/// Runs `f` on the heartbeat's connection, on a blocking thread.
async fn on_conn(
    conn: &Conn,
    f: impl FnOnce(&mut Slot) -> Result<(), crate::Error> + Send + 'static,
) -> Result<(), crate::Error> {
    let conn = Arc::clone(conn);
    tokio::task::spawn_blocking(move || {
        let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c)
    })
    .await
    .unwrap_or(Err(crate::Error::StoreGone))
}
