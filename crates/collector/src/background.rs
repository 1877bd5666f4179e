//! The collector's background tasks: notification delivery from the outbox (crates/notify),
//! the LLM analyst (`crate::llm`), the fleet rules' counter saves and the retention purge.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use logward_notify::deliver::SharedStore;
use logward_store::{CollectorStore, PgStore, SqliteStore};
use tokio::sync::watch;

use crate::config::{Config, StoreConfig};
use crate::llm::{Analyst, SharedCollectorStore};
use crate::metrics::Metrics;
use crate::server::AppState;
use crate::unix_now as now;
use crate::Error;

/// The tasks, the analyst's wake-up, and the tasks' store connection: the collector drops it
/// last, off the async runtime (PostgreSQL's sync client cannot be dropped on it).
pub(crate) type Background = (
    Vec<tokio::task::JoinHandle<()>>,
    Option<Arc<tokio::sync::Notify>>,
    Option<SharedStore>,
);

/// Starts a delivery worker per notifier and the LLM analyst, on their own store connection
/// (WAL: they never block ingest for longer than one small write). A notifier that cannot be
/// built is logged and left out; its rows wait in the outbox. Called off the async runtime
/// (`spawn_blocking`): it connects to PostgreSQL.
pub(crate) fn start_background(
    config: &Config,
    metrics: &Arc<Metrics>,
    delivery_wake: &Arc<tokio::sync::Notify>,
) -> Result<Background, Error> {
    use logward_notify::deliver::{Delivery, Settings};
    let n = &config.notify;
    let mut notifiers = Vec::new();
    for (name, c) in &n.notifiers {
        match logward_notify::Notifier::build(name, &c.value, n.language) {
            Ok(x) => {
                tracing::info!(notifier = %x.name, r#type = x.kind(), "delivering alerts");
                notifiers.push(Arc::new(x));
            }
            Err(e) => tracing::error!(notifier = %name, error = %e, "notifier not started"),
        }
    }
    let mut tasks = Vec::new();
    let mut llm_wake = None;
    if notifiers.is_empty() && config.llm.is_none() {
        return Ok((tasks, llm_wake, None));
    }
    // One connection for the background tasks, seen by each as the trait it needs.
    let (store, shared): (SharedStore, SharedCollectorStore) = match &config.store {
        StoreConfig::Sqlite => both(SqliteStore::open_dir(&config.state_dir)?),
        // Connected off the async runtime (the sync client runs its own).
        StoreConfig::Postgres {
            url,
            password,
            ca_file,
        } => both(PgStore::connect_with(
            url,
            password.as_deref(),
            ca_file.as_deref(),
        )?),
    };
    let keep = Some(Arc::clone(&store));
    if let Some(l) = &config.llm {
        let analyst = Analyst::new(
            l.clone(),
            shared,
            Arc::clone(delivery_wake),
            Arc::clone(&metrics.llm),
        )
        .map_err(Error::Llm)?;
        let analyst = Arc::new(analyst);
        llm_wake = Some(Arc::clone(&analyst.wake));
        tasks.push(tokio::spawn(analyst.run()));
    }
    if let (Some(r), false) = (&n.report, notifiers.is_empty()) {
        // The fleet-wide daily report, from the alerts of every host in the store.
        tracing::info!(at = %r.at.value, "fleet daily report scheduled");
        tasks.push(tokio::spawn(
            logward_notify::schedule::Reporter::fleet(
                r.clone(),
                notifiers.clone(),
                Arc::clone(&store),
                Arc::clone(&metrics.report),
            )
            .run(),
        ));
    }
    if !notifiers.is_empty() {
        let mut settings = Settings::from_config(n);
        // The collector's alert ids are the dashboard's: links open the alert's page.
        settings.dashboard_ids = true;
        settings.analysis_wait = config
            .llm
            .as_ref()
            .map_or(Duration::ZERO, |l| l.analysis_wait);
        tasks.extend(
            Delivery {
                notifiers,
                store,
                settings,
                wake: Arc::clone(delivery_wake),
                stats: Arc::clone(&metrics.delivery),
            }
            .spawn(),
        );
    }
    Ok((tasks, llm_wake, keep))
}

/// One store behind one lock, as the delivery workers and the analyst each see it.
fn both<S: CollectorStore + Send + 'static>(s: S) -> (SharedStore, SharedCollectorStore) {
    let s = Arc::new(Mutex::new(s));
    (s.clone(), s)
}

/// Fleet counters changed by ingests that then stopped are saved within a second or so.
pub(crate) fn spawn_rules_saver(save_state: Arc<AppState>, mut save_stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::rules::SAVE_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = save_stop.changed() => return,
            }
            let saved = save_state
                .store
                .call_with_rules(|s, r| r.save_if_due(s, now()))
                .await;
            if let Ok(Err(e)) = saved {
                tracing::error!("{e}");
            }
        }
    });
}

/// Deletes what is older than `retention_days`, once an hour.
pub(crate) fn spawn_retention_purge(
    purge_state: Arc<AppState>,
    mut purge_stop: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = purge_stop.changed() => return,
            }
            let days = purge_state.config.retention_days;
            let t = now();
            let r = purge_state
                .store
                .call(move |s| s.purge(t, days).and_then(|_| s.purge_fleet(t, days)))
                .await;
            match r {
                Ok(Ok(p)) => tracing::debug!(events = p.events, "retention purge"),
                Ok(Err(e)) => tracing::error!("retention purge failed: {e}"),
                Err(e) => tracing::error!("retention purge failed: {e}"),
            }
        }
    });
}
