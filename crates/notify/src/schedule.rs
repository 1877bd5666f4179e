//! Sends the daily report on its schedule ([`next_run`]) through the notifiers it names.
//!
//! When a report window ended is kept in the store (`meta` key [`LAST_TO`]), written only
//! after every notifier was tried: a report missed while the agent was stopped goes out once
//! at the next start, and a crash in the middle of sending sends it again (at least once; the
//! message's idempotency key names the window). Entries older than the window just reported
//! are deleted then; newer ones stay for `logward report`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use logward_core::backoff::Backoff;
use logward_store::UnixTime;

use crate::config::{next_run, ReportConfig};
use crate::deliver::{with_store, SharedStore};
use crate::sinks::outcome::SendError;
use crate::sinks::Notifier;
use crate::{fleet, report};

/// The `meta` key holding the end (Unix seconds) of the last report's window.
pub const LAST_TO: &str = "report.last_to";

/// Longest sleep between looks at the clock: a wall clock set forward is noticed.
const TICK: Duration = Duration::from_secs(60);

/// Report counts, for metrics.
#[derive(Debug, Default)]
pub struct ReportStats {
    /// Reports delivered (one per notifier).
    pub sent: AtomicU64,
    /// Reports a notifier never took (permanent error or out of attempts).
    pub failed: AtomicU64,
    /// Waits for the store's lock (shared with delivery).
    pub lock_wait: logward_core::exposition::WaitHistogram,
}

/// What a report is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The entries the rules' `report` action stored (an agent); deleted once reported.
    Entries,
    /// The alerts of every host in the store (the collector's fleet report); kept.
    FleetAlerts,
}

/// The scheduled report's task.
#[derive(Debug)]
pub struct Reporter {
    pub source: Source,
    pub config: ReportConfig,
    /// The notifiers the config names (others are ignored).
    pub notifiers: Vec<Arc<Notifier>>,
    pub store: SharedStore,
    /// The host name in the title.
    pub host: String,
    pub stats: Arc<ReportStats>,
    /// First wait after a failed send; doubled up to 30 minutes.
    pub retry_min: Duration,
    /// Tries per notifier and report.
    pub attempts: u32,
}

impl Reporter {
    /// A reporter with the default retry policy (30 s, doubling, 8 tries: about two hours).
    pub fn new(
        config: ReportConfig,
        notifiers: Vec<Arc<Notifier>>,
        store: SharedStore,
        host: String,
        stats: Arc<ReportStats>,
    ) -> Reporter {
        let notifiers = notifiers
            .into_iter()
            .filter(|n| config.notifiers.iter().any(|s| s.value == n.name))
            .collect();
        Reporter {
            source: Source::Entries,
            config,
            notifiers,
            store,
            host,
            stats,
            retry_min: Duration::from_secs(30),
            attempts: 8,
        }
    }

    /// The collector's fleet-wide report: the alerts of every host, `fleet` in the title.
    pub fn fleet(
        config: ReportConfig,
        notifiers: Vec<Arc<Notifier>>,
        store: SharedStore,
        stats: Arc<ReportStats>,
    ) -> Reporter {
        Reporter {
            source: Source::FleetAlerts,
            ..Reporter::new(config, notifiers, store, fleet::FLEET.into(), stats)
        }
    }

    /// Runs until aborted.
    pub async fn run(self) {
        loop {
            let now = Utc::now();
            let last = match with_store(&self.store, &self.stats.lock_wait, |s| s.meta(LAST_TO))
                .await
            {
                Ok(v) => v.and_then(|v| v.parse::<UnixTime>().ok()),
                Err(e) => {
                    tracing::error!(error = %e, "daily report: cannot read when it last went out");
                    tokio::time::sleep(TICK).await;
                    continue;
                }
            };
            let due = self.due(last, now);
            if due > now {
                let wait = (due - now).to_std().unwrap_or(TICK).min(TICK);
                tokio::time::sleep(wait).await;
                continue;
            }
            self.send(now).await;
        }
    }

    /// When the next report is due: the first scheduled time after the last one sent, or
    /// after `now` when none was ever sent (a first start does not send at once).
    pub fn due(&self, last_to: Option<UnixTime>, now: DateTime<Utc>) -> DateTime<Utc> {
        let after = last_to
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .unwrap_or(now);
        next_run(after, &self.config)
    }

    /// Builds the report of the window ending at `now` and sends it through every notifier
    /// (each in its own language), then records the window and forgets older entries.
    pub async fn send(&self, now: DateTime<Utc>) {
        let to = now.timestamp();
        let window = i64::try_from(self.config.window().as_secs()).unwrap_or(i64::MAX);
        let from = to.saturating_sub(window);
        let source = self.source;
        let read = with_store(&self.store, &self.stats.lock_wait, move |s| match source {
            Source::Entries => s.report_entries(from, to).map(|e| (e, Vec::new())),
            Source::FleetAlerts => s
                .alerts_between(from, to, fleet::MAX_ALERTS)
                .map(|a| (Vec::new(), a)),
        })
        .await;
        let (entries, alerts) = match read {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "daily report: cannot read its entries; trying again later");
                tokio::time::sleep(TICK).await;
                return;
            }
        };
        let zone = self.config.zone();
        for n in &self.notifiers {
            let fleet_entries;
            let entries = match source {
                Source::Entries => &entries,
                Source::FleetAlerts => {
                    fleet_entries = fleet::entries(&alerts, n.language);
                    &fleet_entries
                }
            };
            let m = report::build(entries, from, to, &self.host, n.language)
                .in_zone(zone)
                .message();
            if self.send_one(n, &m).await {
                self.stats.sent.fetch_add(1, Ordering::Relaxed);
                tracing::info!(notifier = %n.name, entries = entries.len(), "daily report sent");
            } else {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        let done = with_store(&self.store, &self.stats.lock_wait, move |s| {
            s.set_meta(LAST_TO, &to.to_string())?;
            // The fleet report's alerts stay: retention deletes them.
            match source {
                Source::Entries => s.delete_report_entries(from).map(drop),
                Source::FleetAlerts => Ok(()),
            }
        })
        .await;
        if let Err(e) = done {
            tracing::error!(error = %e, "daily report: sent, but cannot record it (it may go again)");
        }
    }

    /// Tries one notifier until it takes the report, it refuses for good, or the attempts
    /// run out.
    async fn send_one(&self, n: &Notifier, m: &crate::Message) -> bool {
        let mut backoff = Backoff::new(self.retry_min, Duration::from_secs(1800));
        for attempt in 1..=self.attempts {
            let after = match n.send(m).await {
                Ok(_) => return true,
                Err(SendError::Permanent { reason }) => {
                    tracing::error!(notifier = %n.name, %reason, "daily report refused; not retried");
                    return false;
                }
                Err(SendError::Transient { reason, after })
                | Err(SendError::RateLimited { reason, after }) => {
                    tracing::warn!(notifier = %n.name, %reason, attempt, "daily report not sent; retrying");
                    after
                }
            };
            if attempt < self.attempts {
                let wait = backoff.next_wait();
                tokio::time::sleep(after.unwrap_or(wait).max(wait)).await;
            }
        }
        tracing::error!(notifier = %n.name, attempts = self.attempts, "daily report not sent; giving up until the next one");
        false
    }
}
