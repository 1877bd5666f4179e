//! The store, owned by one thread: every write (and the lookups) is a job run there in order,
//! so the per-agent `seq` check needs no other lock. The fleet rules live on that thread too
//! (crate::rules). The thread holds the store as a `dyn CollectorStore`: every job is a boxed
//! closure already, and the backend is chosen only where the store is opened.
//!
//! Ingest requests waiting in the queue are stored together, in one transaction (group
//! commit): under load the thread spends one commit, and one write of each index page
//! touched, on a whole queue of requests instead of one per request. A group that fails is
//! retried one request at a time, so a bad request fails alone.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Instant;

use logward_core::{Alert, Event};
use logward_engine::anomaly::Settings;
use logward_store::{
    AlertPlan, CollectorStore, FleetItem, IngestCounts, IngestRequest, StoreError,
};
use tokio::sync::oneshot;

use crate::anomaly::FleetAnomaly;
use crate::config::FleetRules;
use crate::metrics::Metrics;
use crate::rules::Rules;
use crate::{Error, StoreAt};

/// A group stops growing past this many items: one transaction stays short enough that
/// the first request in it is not kept waiting long.
pub const GROUP_ITEMS: usize = 5_000;

type Call = Box<dyn FnOnce(&mut dyn CollectorStore, &mut Rules) + Send>;

/// How a fleet alert is routed and analysed (crate::llm::alert_plan).
pub type Planner = Arc<dyn Fn(&Alert) -> AlertPlan + Send + Sync>;

/// One ingest request, parsed, for the store thread.
pub struct Ingest {
    pub agent: String,
    /// When it was received.
    pub now: i64,
    pub items: Vec<FleetItem>,
    /// The parsed event of each item (`None` for alerts): what the fleet rules read.
    pub events: Vec<Option<Event<'static>>>,
    pub plan: Planner,
    /// Whether the fleet rules run over its new events here: not when the rules leader
    /// counts them from the stream (crate::rules_leader).
    pub rules: bool,
}

/// An ingest's result, and the request given back: its events are freed by the task that
/// waits for it, not on the store thread (whose time is the collector's ingest rate).
type Stored = (Result<IngestCounts, StoreError>, Ingest);

enum Job {
    Call(Call),
    /// With when it was queued: the wait until the thread starts it is on `/metrics`.
    Ingest(Ingest, oneshot::Sender<Stored>, Instant),
}

/// The handle the request handlers use.
#[derive(Debug, Clone)]
pub struct StoreHandle {
    tx: std::sync::mpsc::Sender<Job>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Job::Call(_) => "Job::Call",
            Job::Ingest(..) => "Job::Ingest",
        })
    }
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest")
            .field("agent", &self.agent)
            .field("items", &self.items.len())
            .finish_non_exhaustive()
    }
}

impl StoreHandle {
    /// Opens the store (a state directory, or a config's `store:`) and starts its thread,
    /// without fleet rules.
    pub fn open(at: impl Into<StoreAt>, metrics: Arc<Metrics>) -> Result<StoreHandle, Error> {
        StoreHandle::open_with_rules(at, &FleetRules::None, metrics)
    }

    /// Opens the store, loads the fleet rules with their saved counters, and starts the store
    /// thread.
    pub fn open_with_rules(
        at: impl Into<StoreAt>,
        rules: &FleetRules,
        metrics: Arc<Metrics>,
    ) -> Result<StoreHandle, Error> {
        StoreHandle::open_fleet(at, rules, None, metrics)
    }

    /// [`StoreHandle::open_with_rules`] with the fleet login anomaly detector too.
    pub fn open_fleet(
        at: impl Into<StoreAt>,
        rules: &FleetRules,
        anomaly: Option<Settings>,
        metrics: Arc<Metrics>,
    ) -> Result<StoreHandle, Error> {
        StoreHandle::start(crate::open_store_thread_store(at)?, rules, anomaly, metrics)
    }

    /// Loads the fleet rules with their saved counters from `store` and starts the store
    /// thread on it.
    pub fn start(
        mut store: Box<dyn CollectorStore>,
        rules: &FleetRules,
        anomaly: Option<Settings>,
        metrics: Arc<Metrics>,
    ) -> Result<StoreHandle, Error> {
        let mut rules = Rules::load(rules, &mut *store, crate::unix_now()).map_err(Error::Rules)?;
        let mut anomaly = anomaly.map(FleetAnomaly::new);
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let m = metrics.clone();
        std::thread::Builder::new()
            .name("collector-store".into())
            .spawn(move || {
                let mut fleet = Fleet {
                    rules: &mut rules,
                    anomaly: &mut anomaly,
                };
                run(&rx, &mut *store, &mut fleet, &m);
            })
            .map_err(Error::Io)?;
        Ok(StoreHandle { tx, metrics })
    }

    /// Runs `f` on the store thread.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn CollectorStore) -> T + Send + 'static,
    ) -> Result<T, Error> {
        self.call_with_rules(move |s, _| f(s)).await
    }

    /// Runs `f` on the store thread with the fleet rules.
    pub async fn call_with_rules<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn CollectorStore, &mut Rules) -> T + Send + 'static,
    ) -> Result<T, Error> {
        let (done, wait) = oneshot::channel();
        let metrics = self.metrics.clone();
        let queued = Instant::now();
        let job = Job::Call(Box::new(move |s, r| {
            let start = Instant::now();
            metrics
                .store_wait
                .observe(start.saturating_duration_since(queued));
            let out = f(s, r);
            metrics.store_time(start.elapsed());
            metrics.queue_depth.fetch_sub(1, Relaxed);
            let _ = done.send(out);
        }));
        self.send(job)?;
        wait.await.map_err(|_| Error::StoreGone)
    }

    /// Stores one request's items, with the fleet rules over its new events, in a group
    /// with whatever other requests are waiting.
    pub async fn ingest(&self, request: Ingest) -> Result<Result<IngestCounts, StoreError>, Error> {
        let (done, wait) = oneshot::channel();
        self.send(Job::Ingest(request, done, Instant::now()))?;
        let (result, request) = wait.await.map_err(|_| Error::StoreGone)?;
        drop(request);
        Ok(result)
    }

    fn send(&self, job: Job) -> Result<(), Error> {
        self.metrics.queue_depth.fetch_add(1, Relaxed);
        self.tx.send(job).map_err(|_| {
            self.metrics.queue_depth.fetch_sub(1, Relaxed);
            Error::StoreGone
        })
    }
}

/// What runs over each ingest's new events.
struct Fleet<'a> {
    rules: &'a mut Rules,
    anomaly: &'a mut Option<FleetAnomaly>,
}

impl Fleet<'_> {
    /// After a failed commit: forget what was counted or learnt since the last one.
    fn reload(&mut self, s: &mut dyn CollectorStore, now: i64) {
        if let Err(e) = self.rules.reload(s, now) {
            tracing::error!("fleet rules: {e}; they run without their counters");
        }
        if let Some(a) = self.anomaly.as_mut() {
            a.forget();
        }
    }
}

/// The store thread's loop: until every handle is gone.
fn run(rx: &Receiver<Job>, store: &mut dyn CollectorStore, fleet: &mut Fleet<'_>, m: &Metrics) {
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(j) => j,
            None => match rx.recv() {
                Ok(j) => j,
                Err(_) => return,
            },
        };
        match job {
            Job::Call(f) => f(store, fleet.rules),
            Job::Ingest(first, done, queued) => {
                let mut items = first.items.len();
                let mut queued = vec![queued];
                let mut group = vec![(first, done)];
                // Only the ingests queued right behind: a call queued between two ingests
                // still runs between them.
                while items < GROUP_ITEMS {
                    match rx.try_recv() {
                        Ok(Job::Ingest(r, d, q)) => {
                            items += r.items.len();
                            queued.push(q);
                            group.push((r, d));
                        }
                        Ok(call) => {
                            next = Some(call);
                            break;
                        }
                        Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                    }
                }
                let start = Instant::now();
                for q in queued {
                    m.store_wait.observe(start.saturating_duration_since(q));
                }
                let (requests, dones): (Vec<Ingest>, Vec<_>) = group.into_iter().unzip();
                let results = ingest_group(store, fleet, &requests);
                m.store_time(start.elapsed());
                m.ingest_groups.fetch_add(1, Relaxed);
                for ((done, result), request) in dones.into_iter().zip(results).zip(requests) {
                    m.queue_depth.fetch_sub(1, Relaxed);
                    let _ = done.send((result, request));
                }
            }
        }
    }
}

/// The requests in one transaction; on failure the rules and the detector forget what they
/// counted (reloaded from the store) and, for a group, each request is retried alone.
fn ingest_group(
    s: &mut dyn CollectorStore,
    fleet: &mut Fleet<'_>,
    requests: &[Ingest],
) -> Vec<Result<IngestCounts, StoreError>> {
    let err = match ingest_tx(s, fleet, requests) {
        Ok(counts) => return counts.into_iter().map(Ok).collect(),
        Err(e) => e,
    };
    fleet.reload(s, requests.first().map_or(0, |r| r.now));
    if requests.len() == 1 {
        return vec![Err(err)];
    }
    tracing::warn!(
        requests = requests.len(),
        "a group of ingests failed ({err}); storing them one by one"
    );
    requests
        .iter()
        .map(|r| match ingest_tx(s, fleet, std::slice::from_ref(r)) {
            Ok(mut c) => Ok(c.pop().unwrap_or_default()),
            Err(e) => {
                fleet.reload(s, r.now);
                Err(e)
            }
        })
        .collect()
}

fn ingest_tx(
    s: &mut dyn CollectorStore,
    fleet: &mut Fleet<'_>,
    requests: &[Ingest],
) -> Result<Vec<IngestCounts>, StoreError> {
    let reqs: Vec<IngestRequest<'_>> = requests
        .iter()
        .map(|r| IngestRequest {
            agent_id: &r.agent,
            now: r.now,
            items: &r.items,
        })
        .collect();
    let Fleet { rules, anomaly } = fleet;
    s.ingest_group(&reqs, &mut |i, fresh, profiles| {
        let r = &requests[i];
        if !r.rules {
            return Ok(logward_store::FleetEffects::default());
        }
        let events = || fresh.iter().filter_map(|&k| r.events.get(k)?.as_ref());
        rules.run(
            events(),
            r.now,
            &*r.plan,
            anomaly.as_mut().map(|a| (a, profiles)),
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use logward_store::{FleetEvent, SqliteStore};

    fn events(agent: &str, n: i64) -> Ingest {
        let items = (1..=n)
            .map(|seq| FleetItem::Event {
                seq,
                event: FleetEvent {
                    time: 1_000 + seq,
                    host: Some(agent.into()),
                    action: "user_login".into(),
                    outcome: "failure".into(),
                    source_ip: Some("203.0.113.9".into()),
                    user: Some("root".into()),
                    json: "{}".into(),
                },
            })
            .collect();
        Ingest {
            agent: agent.into(),
            now: 2_000,
            items,
            events: Vec::new(),
            plan: Arc::new(|_| AlertPlan::default()),
            rules: true,
        }
    }

    /// Holds the store thread for a moment so that what is sent next queues up behind.
    async fn queue_behind_a_slow_call(h: &StoreHandle) -> tokio::task::JoinHandle<()> {
        let h = h.clone();
        let (started, wait) = oneshot::channel();
        let t = tokio::spawn(async move {
            h.call(move |_| {
                let _ = started.send(());
                std::thread::sleep(std::time::Duration::from_millis(300));
            })
            .await
            .unwrap();
        });
        wait.await.unwrap();
        t
    }

    #[tokio::test]
    async fn queued_requests_share_one_transaction_and_a_bad_one_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = SqliteStore::open_dir(dir.path()).unwrap();
            s.register_shared_agent("web01", 0).unwrap();
            s.register_shared_agent("web02", 0).unwrap();
        }
        let m = Arc::new(Metrics::default());
        let h = StoreHandle::open(dir.path(), m.clone()).unwrap();

        let slow = queue_behind_a_slow_call(&h).await;
        let (a, b, c) = tokio::join!(
            h.ingest(events("web01", 3)),
            h.ingest(events("web02", 2)),
            h.ingest(events("web01", 4)),
        );
        slow.await.unwrap();
        assert_eq!(
            m.ingest_groups.load(Relaxed),
            1,
            "three requests, one transaction"
        );
        // Each of the three waited in the queue behind the slow call, and is counted so.
        let waits = m.store_wait.snapshot();
        assert!(waits.count >= 4, "{waits:?}");
        assert!(waits.sum >= 0.2, "{waits:?}");
        assert_eq!(a.unwrap().unwrap().events, 3);
        assert_eq!(b.unwrap().unwrap().events, 2);
        // Same agent again in the same group: only seq 4 is new.
        let c = c.unwrap().unwrap();
        assert_eq!((c.events, c.duplicates), (1, 3));

        // An agent unknown to the store (revoked and purged) fails its own request only.
        let slow = queue_behind_a_slow_call(&h).await;
        let (ok, bad) = tokio::join!(h.ingest(events("web02", 5)), h.ingest(events("ghost", 2)));
        slow.await.unwrap();
        assert_eq!(ok.unwrap().unwrap().events, 3);
        assert!(matches!(bad.unwrap(), Err(StoreError::NotFound { .. })));
        let stored = h.call(|s| s.count_fleet_events(None)).await.unwrap();
        assert_eq!(stored.unwrap(), 9);
        assert_eq!(m.queue_depth.load(Relaxed), 0);
    }
}
