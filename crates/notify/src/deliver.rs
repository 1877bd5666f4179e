//! The delivery worker: one task per notifier drains that notifier's due outbox rows.
//!
//! Each round it reads the due rows (oldest first), then:
//! - **quiet hours** move all but critical alerts to the end of the quiet period;
//! - **dedup** groups rows of the same rule, source, host and user into one message with a
//!   count and the time of the last repeat; a group whose key was sent less than the window
//!   ago waits for the window's end, so repeats arrive as one "×N" message instead of N.
//!   Successful logins and critical alerts are never grouped or held: each goes out at once;
//! - **rate limits**: critical alerts go out at once, each on its own, whatever the limit
//!   (only the service's own "slow down" holds them). For the rest, when fewer sends fit than
//!   messages are waiting, the last one that fits carries a digest of the rest (up to
//!   `digest_max` alerts; more wait for the next window) — folded, never dropped; a digest's
//!   title carries its highest severity and hosts, its body the users, sources and hosts;
//! - **failures**: rate-limited → the whole notifier pauses for what the service asked;
//!   transient → the notifier's circuit opens: one probe at a time, after a delay that
//!   doubles from `retry.min` to `retry.max` (with jitter), and the failed rows wait for the
//!   next probe; at the first success every row of the notifier waiting for a retry is due
//!   at once. A row is given up after its own retries add up to `give_up_after`;
//!   permanent → the rows are marked failed at once (ERROR log; `logward outbox retry`).
//!
//! Rows are marked sent only after the service accepted them: a crash between the two sends
//! again (at-least-once; the idempotency key lets receivers drop the repeat).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Timelike;
use logward_core::backoff::Backoff;
use logward_core::clock::unix_now;
use logward_core::exposition::WaitHistogram;
use logward_core::Severity;
use logward_store::{OutboxItem, Store, StoreError, UnixTime};
use tokio::sync::Notify;

use crate::config::{parse_hhmm, NotifyConfig};
use crate::limit::Limiter;
use crate::message::{Item, Message};
use crate::sinks::outcome::SendError;
use crate::sinks::Notifier;
use logward_core::duration::parse_duration;

/// The store connection the workers share: synchronous, used from blocking threads, one
/// caller at a time. The process that starts them opens it (any backend).
pub type SharedStore = Arc<Mutex<dyn Store>>;

/// How deliveries are paced.
#[derive(Debug, Clone)]
pub struct Settings {
    pub dedup: Duration,
    /// Quiet hours as minutes after local midnight (`from`, `to`).
    pub quiet: Option<(u32, u32)>,
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub give_up_after: Duration,
    /// Rows read per round.
    pub batch: usize,
    /// Most alerts in one digest.
    pub digest_max: usize,
    /// Longest sleep when nothing is due (new rows also wake the workers).
    pub idle: Duration,
    /// How long a row whose alert awaits its LLM analysis is held, from when the alert was
    /// stored; then it goes out without it. A finished analysis is appended either way.
    pub analysis_wait: Duration,
    /// `notify.dashboard_url`: messages link to the dashboard.
    pub dashboard: Option<String>,
    /// Whether the outbox's alert ids are the dashboard's (the collector's store): links go
    /// to the alert's page, else to the dashboard's alert list.
    pub dashboard_ids: bool,
}

impl Settings {
    /// From a checked config.
    pub fn from_config(c: &NotifyConfig) -> Settings {
        let d = |s: &str, def: u64| parse_duration(s).unwrap_or(Duration::from_secs(def));
        Settings {
            dedup: c.dedup_window(),
            quiet: c
                .quiet_hours
                .as_ref()
                .and_then(|q| Some((parse_hhmm(&q.from.value)?, parse_hhmm(&q.to.value)?))),
            retry_min: d(&c.retry.min, 5),
            retry_max: d(&c.retry.max, 3600),
            give_up_after: d(&c.retry.give_up_after, 3 * 86_400),
            batch: 500,
            digest_max: 20,
            idle: Duration::from_secs(30),
            analysis_wait: Duration::ZERO,
            dashboard: c.dashboard(),
            dashboard_ids: false,
        }
    }
}

/// Delivery counts, for metrics.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    /// Outbox rows delivered.
    pub sent: AtomicU64,
    /// Messages sent (a digest or a deduplicated group is one).
    pub messages: AtomicU64,
    /// Digest messages among them.
    pub digests: AtomicU64,
    /// Failed attempts that will be retried.
    pub retries: AtomicU64,
    /// Rows given up on (permanent error or out of retries).
    pub failed: AtomicU64,
    /// Times a service said to slow down.
    pub rate_limited: AtomicU64,
    /// Rows held by quiet hours or a dedup window.
    pub held: AtomicU64,
    /// Rows delivered with their LLM analysis appended.
    pub with_analysis: AtomicU64,
    /// Rows whose analysis was asked for but delivered without it (failed, or not there
    /// within `analysis_wait`).
    pub without_analysis: AtomicU64,
    /// Waits for the store's lock (shared with the collector's other background work).
    pub lock_wait: WaitHistogram,
}

fn add(a: &AtomicU64, n: usize) {
    a.fetch_add(n as u64, Ordering::Relaxed);
}

/// The workers of all notifiers.
#[derive(Debug)]
pub struct Delivery {
    pub notifiers: Vec<Arc<Notifier>>,
    pub store: SharedStore,
    pub settings: Settings,
    /// Notified when new rows are committed.
    pub wake: Arc<Notify>,
    pub stats: Arc<DeliveryStats>,
}

impl Delivery {
    /// Starts one task per notifier; they run until aborted.
    pub fn spawn(self) -> Vec<tokio::task::JoinHandle<()>> {
        self.notifiers
            .iter()
            .map(|n| {
                let w = Worker {
                    notifier: Arc::clone(n),
                    store: Arc::clone(&self.store),
                    settings: self.settings.clone(),
                    wake: Arc::clone(&self.wake),
                    stats: Arc::clone(&self.stats),
                    limiter: Limiter::new(&n.rates),
                    service_pause: None,
                    circuit: None,
                    last_sent: HashMap::new(),
                    jitter: RandomState::new(),
                };
                tokio::spawn(w.run())
            })
            .collect()
    }
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Whether a row goes out now as far as its LLM analysis is concerned: `Err(ms)` holds it
/// that many more milliseconds (its analysis is pending and `wait` has not passed since the
/// alert was stored); `Ok(text)` sends it, with the analysis when there is one.
fn analysis_gate(
    a: Option<&logward_store::OutboxAnalysis>,
    wait: Duration,
    now_ms: i64,
) -> Result<Option<String>, i64> {
    use logward_store::AnalysisState;
    let Some(a) = a else { return Ok(None) };
    match a.state {
        AnalysisState::Done => Ok(a.text.clone()),
        AnalysisState::Pending => {
            let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
            let deadline = a.requested_at.saturating_mul(1000).saturating_add(wait_ms);
            if now_ms < deadline {
                Err(deadline - now_ms)
            } else {
                Ok(None)
            }
        }
        AnalysisState::Failed | AnalysisState::Skipped => Ok(None),
    }
}

/// Puts an analysis into the alert's JSON as `logward.llm.analysis`, where the templates
/// (`analysis`) and the JSON bodies (webhook, syslog, file) find it.
fn with_analysis(mut json: serde_json::Value, text: &str) -> serde_json::Value {
    if let Some(root) = json.as_object_mut() {
        let lw = root
            .entry("logward")
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
        if let Some(lw) = lw.as_object_mut() {
            let llm = lw
                .entry("llm")
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            if let Some(llm) = llm.as_object_mut() {
                llm.insert(
                    "analysis".into(),
                    serde_json::Value::String(text.to_owned()),
                );
            }
        }
    }
    json
}

/// Runs a store call on a blocking thread, on a store shared behind one mutex (the agent's
/// delivery store here, the collector's analyst store in `logward-collector`; a poisoned
/// lock is taken over); how long it waited for the lock (shared with the collector's other
/// background work) goes into `waits`.
pub async fn with_store<S, T>(
    store: &Arc<Mutex<S>>,
    waits: &WaitHistogram,
    f: impl FnOnce(&mut S) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError>
where
    S: ?Sized + Send + 'static,
    T: Send + 'static,
{
    let store = Arc::clone(store);
    let (waited, out) = tokio::task::spawn_blocking(move || {
        let asked = std::time::Instant::now();
        let mut s = store.lock().unwrap_or_else(PoisonError::into_inner);
        (asked.elapsed(), f(&mut *s))
    })
    .await
    .unwrap_or_else(|e| {
        let e = StoreError::Invalid {
            what: "store task",
            detail: e.to_string(),
        };
        (std::time::Duration::ZERO, Err(e))
    });
    waits.observe(waited);
    out
}

/// One due group: rows of the same dedup key.
struct Group {
    key: String,
    rows: Vec<OutboxItem>,
    item: Item,
}

/// A failing notifier: nothing is sent until `probe_at`, then one message (the probe).
#[derive(Debug, Clone, Copy)]
struct Circuit {
    failures: u32,
    probe_at: UnixTime,
}

struct Worker {
    notifier: Arc<Notifier>,
    store: SharedStore,
    settings: Settings,
    wake: Arc<Notify>,
    stats: Arc<DeliveryStats>,
    limiter: Limiter,
    /// Until when the service asked us to slow down (holds critical alerts too).
    service_pause: Option<Instant>,
    /// Open while the notifier fails: consecutive failures and when the next probe may go.
    circuit: Option<Circuit>,
    /// Dedup key → when a message for it was last sent (unix seconds).
    last_sent: HashMap<String, UnixTime>,
    jitter: RandomState,
}

/// Seconds from `now` to the end of the quiet period, when `now` is inside it.
fn quiet_left(quiet: Option<(u32, u32)>, local: chrono::DateTime<chrono::Local>) -> Option<i64> {
    let (from, to) = quiet?;
    let m = local.hour() * 60 + local.minute();
    let inside = if from <= to {
        (from..to).contains(&m)
    } else {
        m >= from || m < to
    };
    if !inside {
        return None;
    }
    let left_min = (i64::from(to) - i64::from(m)).rem_euclid(24 * 60);
    Some(left_min * 60 - i64::from(local.second()))
}

/// The dedup key of an alert: rule, source, host and user (and the account acted on), so
/// two machines or two users are never merged into one message.
fn dedup_key(item: &Item) -> String {
    let f = |v: &Option<String>| v.as_deref().unwrap_or("").replace('|', "||");
    format!(
        "{}|{}|{}|{}|{}",
        item.rule.id,
        f(&item.source),
        f(&item.host),
        f(&item.user),
        f(&item.target_user)
    )
}

impl Worker {
    async fn run(mut self) {
        let name = self.notifier.name.clone();
        tracing::debug!(notifier = %name, "delivery worker started");
        loop {
            let wake = Arc::clone(&self.wake);
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let pause = match self.round().await {
                Ok(Some(p)) => p,
                Ok(None) => Duration::ZERO,
                Err(e) => {
                    tracing::warn!(notifier = %name, error = %e, "outbox: store error; retrying");
                    Duration::from_secs(1)
                }
            };
            if pause.is_zero() {
                continue;
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One round; `Some(pause)` when there is nothing to do for that long.
    async fn round(&mut self) -> Result<Option<Duration>, StoreError> {
        let name = self.notifier.name.clone();
        let now = unix_now();
        // A failing notifier waits for its next probe, whatever is due.
        if let Some(c) = self.circuit.filter(|c| c.probe_at > now) {
            let wait = Duration::from_secs(u64::try_from(c.probe_at - now).unwrap_or(1));
            return Ok(Some(wait.min(self.settings.idle)));
        }
        let batch = self.settings.batch;
        let rows = {
            let name = name.clone();
            with_store(&self.store, &self.stats.lock_wait, move |s| {
                s.due_outbox_for(Some(&name), now, batch)
            })
            .await?
        };
        if rows.is_empty() {
            let next = {
                let name = name.clone();
                with_store(&self.store, &self.stats.lock_wait, move |s| {
                    s.next_due(&name)
                })
                .await?
            };
            let pause = match next {
                Some(t) => Duration::from_secs(u64::try_from(t - now).unwrap_or(0).max(1)),
                None => self.settings.idle,
            };
            return Ok(Some(pause.min(self.settings.idle)));
        }
        // Group by dedup key, in the order rows became due. Rows whose LLM analysis is
        // pending wait (up to `analysis_wait`) in memory; the LLM worker's wake, or the
        // deadline, brings them back.
        let mut groups: Vec<Group> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let now_ms = now_millis();
        let mut awaiting: Option<i64> = None;
        let mut delivered_any = false;
        for row in rows {
            let text =
                match analysis_gate(row.analysis.as_ref(), self.settings.analysis_wait, now_ms) {
                    Ok(t) => t,
                    Err(ms) => {
                        awaiting = Some(awaiting.map_or(ms, |a| a.min(ms)));
                        continue;
                    }
                };
            delivered_any = true;
            let mut json = serde_json::from_str(&row.alert_json).unwrap_or(serde_json::Value::Null);
            if let Some(t) = &text {
                json = with_analysis(json, t);
            }
            let mut item = Item::from_json(json, 1);
            item.link = self.settings.dashboard.as_ref().map(|base| {
                if self.settings.dashboard_ids {
                    format!("{base}/#/alert/{}", row.alert_id)
                } else {
                    format!("{base}/#/alerts")
                }
            });
            // Logins and critical alerts each go out at once, on their own.
            let key = if self.settings.dedup.is_zero() || item.immediate() {
                format!("#{}", row.id)
            } else {
                dedup_key(&item)
            };
            match index.get(&key) {
                Some(&i) => {
                    groups[i].rows.push(row);
                    groups[i].item.repeat(&item.alert);
                }
                None => {
                    index.insert(key.clone(), groups.len());
                    groups.push(Group {
                        key,
                        rows: vec![row],
                        item,
                    });
                }
            }
        }
        // Quiet hours and dedup windows hold groups back.
        let quiet = quiet_left(self.settings.quiet, chrono::Local::now());
        let window = i64::try_from(self.settings.dedup.as_secs()).unwrap_or(i64::MAX);
        let mut ready = Vec::new();
        let mut holds: Vec<(Vec<i64>, UnixTime)> = Vec::new();
        for g in groups {
            let until = match (quiet, g.item.level) {
                (Some(left), level) if level < Severity::Critical => Some(now + left),
                _ => self
                    .last_sent
                    .get(&g.key)
                    .map(|&t| t.saturating_add(window))
                    .filter(|&end| end > now),
            };
            match until {
                Some(t) => holds.push((g.rows.iter().map(|r| r.id).collect(), t)),
                None => ready.push(g),
            }
        }
        for (ids, until) in holds {
            add(&self.stats.held, ids.len());
            with_store(&self.store, &self.stats.lock_wait, move |s| {
                s.postpone(&ids, until, now)
            })
            .await?;
        }
        let awaiting =
            awaiting.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0).max(10)));
        if !delivered_any {
            // Only rows waiting for their analysis: sleep until the first deadline (or a wake).
            return Ok(awaiting.map(|d| d.min(self.settings.idle)));
        }
        if ready.is_empty() {
            return Ok(awaiting);
        }
        // Critical alerts are not held back by the rate limit: each goes now, on its own
        // (counted, so the rest wait for them), unless the service itself said to slow down.
        let paused = self
            .service_pause
            .is_some_and(|until| Instant::now() < until);
        let (critical, ready): (Vec<Group>, Vec<Group>) = ready
            .into_iter()
            .partition(|g| g.item.level >= Severity::Critical && !paused);
        // After a failed send, nothing more this round: the circuit decides when to probe.
        for g in critical {
            if !self.deliver(vec![g]).await? || self.circuit.is_some() {
                return Ok(None);
            }
        }
        if ready.is_empty() {
            return Ok(None);
        }
        // Rate: as many messages as fit; the last that fits carries a digest of the rest.
        let room = self.limiter.room(Instant::now()) as usize;
        if room == 0 {
            return Ok(Some(
                self.limiter
                    .wait(Instant::now())
                    .max(Duration::from_millis(10)),
            ));
        }
        let mut plan: Vec<Vec<Group>> = Vec::new();
        let mut rest = ready.into_iter();
        while plan.len() + 1 < room {
            match rest.next() {
                Some(g) => plan.push(vec![g]),
                None => break,
            }
        }
        let tail: Vec<Group> = rest.by_ref().take(self.settings.digest_max).collect();
        if !tail.is_empty() {
            plan.push(tail);
        }
        // Whatever did not fit stays due: the next round picks it up after the wait.
        for groups in plan {
            if !self.deliver(groups).await? || self.circuit.is_some() {
                break;
            }
        }
        Ok(None)
    }

    /// Sends one message (one group, or a digest of several). False when the notifier must
    /// pause (rate limited).
    async fn deliver(&mut self, groups: Vec<Group>) -> Result<bool, StoreError> {
        let name = self.notifier.name.clone();
        let ids: Vec<i64> = groups
            .iter()
            .flat_map(|g| g.rows.iter().map(|r| r.id))
            .collect();
        let items: Vec<Item> = groups.iter().map(|g| g.item.clone()).collect();
        let first = &groups[0].rows[0];
        let key = if ids.len() == 1 {
            first.idempotency_key.clone()
        } else {
            format!("{}+{}", first.idempotency_key, ids.len() - 1)
        };
        let Some(msg) = Message::render(&items, &self.notifier.templates, key) else {
            return Ok(true);
        };
        self.limiter.record(Instant::now());
        let result = self.notifier.send(&msg).await;
        let now = unix_now();
        match result {
            Ok(sent) => {
                tracing::debug!(notifier = %name, rows = ids.len(), status = sent.status, "delivered");
                self.close_circuit(now).await?;
                add(&self.stats.sent, ids.len());
                add(&self.stats.messages, 1);
                for r in groups.iter().flat_map(|g| &g.rows) {
                    if let Some(a) = &r.analysis {
                        let done =
                            a.state == logward_store::AnalysisState::Done && a.text.is_some();
                        add(
                            if done {
                                &self.stats.with_analysis
                            } else {
                                &self.stats.without_analysis
                            },
                            1,
                        );
                    }
                }
                if groups.len() > 1 {
                    add(&self.stats.digests, 1);
                }
                for g in groups.iter().filter(|g| !g.key.starts_with('#')) {
                    self.last_sent.insert(g.key.clone(), now);
                }
                if self.last_sent.len() > 100_000 {
                    let window = i64::try_from(self.settings.dedup.as_secs()).unwrap_or(i64::MAX);
                    self.last_sent.retain(|_, t| t.saturating_add(window) > now);
                }
                with_store(&self.store, &self.stats.lock_wait, move |s| {
                    s.mark_sent_many(&ids, now)
                })
                .await?;
                Ok(true)
            }
            Err(SendError::RateLimited { reason, after }) => {
                let after = after.unwrap_or(Duration::from_secs(60));
                tracing::warn!(notifier = %name, %reason, pause_s = after.as_secs(), "the service asked to slow down");
                add(&self.stats.rate_limited, 1);
                self.limiter
                    .block_until(Instant::now(), Instant::now() + after);
                self.service_pause = Some(Instant::now() + after);
                self.close_circuit(now).await?;
                Ok(false)
            }
            Err(SendError::Transient { reason, after }) => {
                let attempts = groups
                    .iter()
                    .flat_map(|g| &g.rows)
                    .map(|r| r.attempts)
                    .max()
                    .unwrap_or(0);
                let (_, give_up) = self.next_attempt(attempts, after, now);
                // One circuit per notifier: the next probe after a delay that grows with
                // the failures in a row; the rows wait for it.
                let failures = self.circuit.map_or(0, |c| c.failures);
                let (retry_at, _) = self.next_attempt(failures, after, now);
                self.circuit = Some(Circuit {
                    failures: failures.saturating_add(1),
                    probe_at: retry_at,
                });
                if give_up {
                    tracing::error!(notifier = %name, rows = ids.len(), %reason, "delivery given up after retrying; `logward outbox retry` sends again");
                    add(&self.stats.failed, ids.len());
                } else {
                    tracing::warn!(notifier = %name, rows = ids.len(), %reason, retry_in_s = retry_at - now, "delivery failed; the notifier waits and then probes with one message");
                    add(&self.stats.retries, ids.len());
                }
                let r = (!give_up).then_some(retry_at);
                with_store(&self.store, &self.stats.lock_wait, move |s| {
                    for id in ids {
                        s.mark_failed(id, now, &reason, r)?;
                    }
                    Ok(())
                })
                .await?;
                Ok(true)
            }
            Err(SendError::Permanent { reason }) => {
                // The service answered: the endpoint is up, only this message is refused.
                self.close_circuit(now).await?;
                tracing::error!(notifier = %name, rows = ids.len(), %reason, "the service refused the delivery; not retried (`logward outbox retry` after fixing it)");
                add(&self.stats.failed, ids.len());
                with_store(&self.store, &self.stats.lock_wait, move |s| {
                    for id in ids {
                        s.mark_failed(id, now, &reason, None)?;
                    }
                    Ok(())
                })
                .await?;
                Ok(true)
            }
        }
    }

    /// The notifier answered: a failing one is back, so every row waiting for a retry is
    /// due now rather than at the end of its own backoff.
    async fn close_circuit(&mut self, now: UnixTime) -> Result<(), StoreError> {
        if self.circuit.take().is_none() {
            return Ok(());
        }
        let name = self.notifier.name.clone();
        let sink = name.clone();
        let n = with_store(&self.store, &self.stats.lock_wait, move |s| {
            s.retry_pending_now(&sink, now)
        })
        .await?;
        tracing::info!(notifier = %name, rows = n, "the notifier answers again; its queued deliveries are due now");
        Ok(())
    }

    /// When to try again after `attempts` failures (exponential from `retry_min`, capped at
    /// `retry_max`, ±20 % jitter so many agents do not retry in step), and whether the
    /// retries so far already add up to `give_up_after`.
    fn next_attempt(
        &self,
        attempts: u32,
        after: Option<Duration>,
        now: UnixTime,
    ) -> (UnixTime, bool) {
        let s = &self.settings;
        let step = |i: u32| Backoff::step(s.retry_min, s.retry_max, i);
        let spent: Duration = (0..attempts).map(step).sum();
        if spent >= s.give_up_after {
            return (now, true);
        }
        let base = step(attempts).max(after.unwrap_or(Duration::ZERO));
        let r = self.jitter.hash_one((now, attempts)) % 401; // 0..=400 → -20 %..+20 %
        let millis = base.as_millis() as i64 * (800 + r as i64) / 1000;
        (now + (millis / 1000).max(1), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn quiet_hours_over_midnight() {
        let at = |h, m| chrono::Local.with_ymd_and_hms(2026, 3, 3, h, m, 0).single();
        let q = Some((23 * 60, 7 * 60));
        assert_eq!(quiet_left(q, at(23, 30).unwrap()), Some(7 * 3600 + 30 * 60));
        assert_eq!(quiet_left(q, at(6, 59).unwrap()), Some(60));
        assert_eq!(quiet_left(q, at(7, 0).unwrap()), None);
        assert_eq!(quiet_left(q, at(12, 0).unwrap()), None);
        let day = Some((9 * 60, 17 * 60));
        assert_eq!(quiet_left(day, at(16, 0).unwrap()), Some(3600));
        assert_eq!(quiet_left(day, at(8, 0).unwrap()), None);
        assert_eq!(quiet_left(None, at(8, 0).unwrap()), None);
    }
}
