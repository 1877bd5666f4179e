//! The notification delivery workers and the daily report of the agent.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use logward_notify::deliver::{Delivery, DeliveryStats, Settings};
use logward_notify::route::Router;
use logward_notify::schedule::{ReportStats, Reporter};
use logward_notify::Notifier;
use logward_store::SqliteStore;

use super::Pipeline;
use crate::config::AgentConfig;

/// The running delivery workers and what they count.
#[derive(Debug)]
pub(super) struct Deliveries {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pub(super) stats: Arc<DeliveryStats>,
    pub(super) report_stats: Arc<ReportStats>,
    pub(super) wake: Arc<tokio::sync::Notify>,
    state_dir: PathBuf,
}

impl Deliveries {
    /// Starts a worker per configured notifier (on their own store connection) and routes
    /// the pipeline's alerts to them. A notifier that cannot be built is logged and left out;
    /// its rows wait in the outbox.
    pub(super) fn start(
        state_dir: &Path,
        cfg: &AgentConfig,
        pipeline: &mut Pipeline,
    ) -> Deliveries {
        let stats = Arc::new(DeliveryStats::default());
        let report_stats = Arc::new(ReportStats::default());
        let wake = Arc::new(tokio::sync::Notify::new());
        let n = &cfg.notify;
        let router = if cfg.forward.is_some() {
            // The collector notifies; only routes marked `also_when_forwarding` stay here.
            Router::forwarding(n)
        } else {
            Router::new(n)
        };
        if cfg.forward.is_some() && router.is_empty() && !n.notifiers.is_empty() {
            tracing::info!("forwarding: the collector notifies; this agent's notifiers stay off (no route says `also_when_forwarding: true`)");
        }
        pipeline.set_router(router, Arc::clone(&wake));
        let mut notifiers = Vec::new();
        for (name, c) in &n.notifiers {
            match Notifier::build(name, &c.value, n.language) {
                Ok(x) => notifiers.push(Arc::new(x)),
                Err(e) => tracing::error!(notifier = %name, error = %e, "notifier not started"),
            }
        }
        let mut tasks = Vec::new();
        if !notifiers.is_empty() {
            match SqliteStore::open_dir(state_dir) {
                Ok(store) => {
                    for x in &notifiers {
                        tracing::info!(notifier = %x.name, r#type = x.kind(), "delivering alerts");
                    }
                    let store: logward_notify::deliver::SharedStore =
                        Arc::new(std::sync::Mutex::new(store));
                    if let Some(r) = &n.report {
                        tracing::info!(at = %r.at.value, "daily report scheduled");
                        let reporter = Reporter::new(
                            r.clone(),
                            notifiers.clone(),
                            Arc::clone(&store),
                            logward_notify::host_name(),
                            Arc::clone(&report_stats),
                        );
                        tasks.push(tokio::spawn(reporter.run()));
                    }
                    tasks.extend(
                        Delivery {
                            notifiers,
                            store,
                            settings: Settings::from_config(n),
                            wake: Arc::clone(&wake),
                            stats: Arc::clone(&stats),
                        }
                        .spawn(),
                    );
                }
                Err(e) => {
                    tracing::error!(error = %e, "outbox: cannot open the store; alerts are queued, not delivered")
                }
            }
        }
        Deliveries {
            tasks,
            stats,
            report_stats,
            wake,
            state_dir: state_dir.to_path_buf(),
        }
    }

    pub(super) fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }

    /// Replaces the workers after a reload.
    pub(super) fn restart(&mut self, cfg: &AgentConfig, pipeline: &mut Pipeline) {
        self.stop();
        let dir = self.state_dir.clone();
        *self = Deliveries::start(&dir, cfg, pipeline);
    }
}
