//! The one way events go through the engine, for every caller (the agent's pipeline, the
//! collector's fleet rules, `scan --rules`, `test-line`): **enrichment → rules →
//! detectors**. Enrichment first, so the rules and the detectors see `source.geo.*`; the
//! detectors last, and their alerts after the rules' effects of the same event.
//!
//! Enrichment and detectors are the caller's ([`Stages`]: GeoIP, DNSBL and the profile
//! store live in the agent and the collector), passed per event as a generic — no boxing,
//! no allocation per event. What comes out is typed [`Effect`]s: bans as [`BanTarget`]s
//! built from the rules' addresses, never text parsed back. The runner also keeps the
//! engine's clock (the latest time an event acted at) and the snapshot cadence: when the
//! counters are due to be saved.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use logward_core::ban::InvalidTarget;
use logward_core::{Alert, BanTarget, Event, Timestamp};

use crate::engine::{Engine, Output, TraceStep};
use crate::snapshot::{Restored, SnapshotError};
use crate::LogLevel;

/// The caller's stages around the rules. Both default to nothing.
pub trait Stages {
    /// Adds fields before the rules see the event (GeoIP, ASN).
    fn enrich(&mut self, _e: &mut Event<'_>) {}
    /// After the rules: the detectors (login anomalies). Alerts go to `out`.
    fn detect(&mut self, _e: &Event<'_>, _out: &mut Vec<Alert>) {}
}

/// No enrichment, no detector.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoStages;

impl Stages for NoStages {}

/// Which time an event acts at in the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// Its own timestamp, never ahead of the clock; the clock without one (the agent: see
    /// [`acting_time`]).
    Live,
    /// Its own timestamp; without one, the previous event's (`scan --rules`: a replay has
    /// no clock).
    Replay,
    /// The clock (the collector counts on ingest time; `test-line`).
    Clock,
}

/// What an event made the rules or the detectors ask for.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// An alert of the rules.
    Alert(Box<Alert>),
    /// An alert of a detector (after the rules' effects of its event).
    Detected(Box<Alert>),
    /// Ban an address. `target` is `Err` when the rules named one no ban may cover (the
    /// unspecified address).
    Ban {
        target: Result<BanTarget, InvalidTarget>,
        /// Seconds, escalated for repeat offenders.
        duration: i64,
        /// 1 for a first ban, 2 for the second within `bans.remember` …
        offence: u32,
        until: Timestamp,
        /// The rule of the last alert raised on the way, if any.
        rule_id: Option<String>,
    },
    /// Lift a ban; the caller then [`Runner::release`]s its counters.
    Unban(Result<BanTarget, InvalidTarget>),
    /// Run a program (argv, never a shell).
    Exec(Vec<String>),
    /// An entry for the daily report.
    Report {
        section: String,
        message: String,
    },
    Log {
        level: LogLevel,
        message: String,
    },
}

fn target(ip: IpAddr) -> Result<BanTarget, InvalidTarget> {
    BanTarget::host(ip)
}

impl From<Output> for Effect {
    fn from(o: Output) -> Effect {
        match o {
            Output::Alert(a) => Effect::Alert(a),
            Output::Ban {
                ip,
                duration,
                offence,
                until,
                rule_id,
            } => Effect::Ban {
                target: target(ip),
                duration,
                offence,
                until,
                rule_id,
            },
            Output::Unban { ip } => Effect::Unban(target(ip)),
            Output::Exec { argv } => Effect::Exec(argv),
            Output::Report { section, message } => Effect::Report { section, message },
            Output::Log { level, message } => Effect::Log { level, message },
        }
    }
}

/// The time an event acts at live: its own timestamp, so windows measure the events' time
/// whether they are read live, from a backlog after downtime or from the start of a file (as
/// `scan --rules` does). A line stamped ahead of the clock (a skewed remote clock, a wrongly
/// guessed year) or without a timestamp acts at the clock: no line can open a window in the
/// future.
pub fn acting_time(e: &Event<'_>, now: Timestamp) -> Timestamp {
    match e.timestamp {
        Some(t) if (t.unix, t.nanos) <= (now.unix, now.nanos) => t,
        _ => now,
    }
}

/// The engine (none: detectors only), its clock and its snapshot cadence.
#[derive(Debug)]
pub struct Runner {
    engine: Option<Engine>,
    timing: Timing,
    out: Vec<Output>,
    detected: Vec<Alert>,
    /// The previous event's timestamp ([`Timing::Replay`]).
    last: Timestamp,
    /// The latest time an event acted at (or a restored snapshot's).
    latest: Option<Timestamp>,
    /// Counters are saved at most this often (unless forced).
    every: Duration,
    /// When they were last saved (`None`: due at once).
    saved: Option<Instant>,
    /// Whether events were run since.
    changed: bool,
}

const EPOCH: Timestamp = Timestamp {
    unix: 0,
    nanos: 0,
    offset: 0,
};

impl Runner {
    /// Runs `engine`; changed counters are due to be saved every `every`.
    pub fn new(engine: Engine, timing: Timing, every: Duration) -> Runner {
        Runner::with(Some(engine), timing, every)
    }

    /// No rules (`rules: none`, `learn`): enrichment and detectors only.
    pub fn without_rules(timing: Timing) -> Runner {
        Runner::with(None, timing, Duration::MAX)
    }

    fn with(engine: Option<Engine>, timing: Timing, every: Duration) -> Runner {
        Runner {
            engine,
            timing,
            out: Vec::with_capacity(8),
            detected: Vec::new(),
            last: EPOCH,
            latest: None,
            every,
            saved: None,
            changed: false,
        }
    }

    /// The first save waits a full period from `now` (it is not due at once).
    pub fn saved_at(mut self, now: Instant) -> Runner {
        self.saved = Some(now);
        self
    }

    pub fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }

    /// The latest time an event acted at, or a restored snapshot's; `None` before either.
    pub fn latest(&self) -> Option<Timestamp> {
        self.latest
    }

    /// One event through enrichment, the rules and the detectors; what they ask for is
    /// appended to `effects`, the rules' first.
    pub fn event<S: Stages>(
        &mut self,
        e: &mut Event<'_>,
        now: Timestamp,
        stages: &mut S,
        effects: &mut Vec<Effect>,
    ) {
        self.run(e, now, stages, effects, None);
    }

    /// [`Runner::event`] that also records every step the rules took (`test-line`).
    pub fn event_traced<S: Stages>(
        &mut self,
        e: &mut Event<'_>,
        now: Timestamp,
        stages: &mut S,
        effects: &mut Vec<Effect>,
        trace: &mut Vec<TraceStep>,
    ) {
        self.run(e, now, stages, effects, Some(trace));
    }

    /// [`Runner::event`] for an event enriched upstream (the collector: the agents enriched
    /// theirs): the rules, then the detectors.
    pub fn enriched<S: Stages>(
        &mut self,
        e: &Event<'_>,
        now: Timestamp,
        stages: &mut S,
        effects: &mut Vec<Effect>,
    ) {
        self.rules_then_detectors(e, now, stages, effects, None);
    }

    fn run<S: Stages>(
        &mut self,
        e: &mut Event<'_>,
        now: Timestamp,
        stages: &mut S,
        effects: &mut Vec<Effect>,
        trace: Option<&mut Vec<TraceStep>>,
    ) {
        stages.enrich(e);
        self.rules_then_detectors(e, now, stages, effects, trace);
    }

    fn rules_then_detectors<S: Stages>(
        &mut self,
        e: &Event<'_>,
        now: Timestamp,
        stages: &mut S,
        effects: &mut Vec<Effect>,
        trace: Option<&mut Vec<TraceStep>>,
    ) {
        let at = match self.timing {
            Timing::Live => acting_time(e, now),
            Timing::Replay => {
                if let Some(t) = e.timestamp {
                    self.last = t;
                }
                self.last
            }
            Timing::Clock => now,
        };
        if self
            .latest
            .is_none_or(|n| (at.unix, at.nanos) > (n.unix, n.nanos))
        {
            self.latest = Some(at);
        }
        if let Some(engine) = &mut self.engine {
            match trace {
                None => engine.process_at(e, at, &mut self.out),
                Some(t) => engine.process_traced(e, at, &mut self.out, t),
            }
            self.changed = true;
            // Most events raise nothing: skip the drains (measurably, once per line).
            if !self.out.is_empty() {
                effects.extend(self.out.drain(..).map(Effect::from));
            }
        }
        stages.detect(e, &mut self.detected);
        if !self.detected.is_empty() {
            effects.extend(
                self.detected
                    .drain(..)
                    .map(|a| Effect::Detected(Box::new(a))),
            );
        }
    }

    /// A ban ended or was lifted: its address is counted again at once (the grace a rule
    /// set when it fired was only there to stop repeats while the ban held). Returns the
    /// counter keys released; a network ban releases none.
    pub fn release(&mut self, target: BanTarget) -> usize {
        match &mut self.engine {
            Some(engine) if target.is_host() => engine.release(target.addr()),
            _ => 0,
        }
    }

    /// Loads saved counters as of `at`, which becomes the engine's clock.
    pub fn restore(
        &mut self,
        data: &[u8],
        at: Timestamp,
    ) -> Option<Result<Restored, SnapshotError>> {
        let r = self.engine.as_mut()?.restore(data, at);
        self.latest = Some(at);
        Some(r)
    }

    /// New rules (a reload): counters the new rules still name keep their state, as of the
    /// engine's clock (`now` before any event).
    pub fn replace_engine(
        &mut self,
        mut engine: Engine,
        now: Timestamp,
    ) -> Result<Restored, SnapshotError> {
        let at = self.latest.unwrap_or(now);
        let r = match &self.engine {
            Some(old) => engine.restore(&old.snapshot(at), at),
            None => Ok(Restored::default()),
        };
        self.engine = Some(engine);
        r
    }

    /// Whether the counters should be saved now: events changed them, and the period since
    /// the last save is over or `force` (stopping; the rules acted).
    pub fn snapshot_due(&self, force: bool, now: Instant) -> bool {
        self.engine.is_some()
            && self.changed
            && (force
                || self
                    .saved
                    .is_none_or(|s| now.saturating_duration_since(s) >= self.every))
    }

    /// The counters as of `at`, to save; the period starts again. `None` without rules.
    pub fn take_snapshot(&mut self, at: Timestamp, now: Instant) -> Option<Vec<u8>> {
        let data = self.engine.as_ref()?.snapshot(at);
        self.saved = Some(now);
        self.changed = false;
        Some(data)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use logward_core::{Action, Dataset, Outcome, Severity};

    fn failure(unix: i64) -> Event<'static> {
        let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
        e.set_source("203.0.113.9".into(), Some(2222));
        e.user_name = Some("root".into());
        e.timestamp = Some(Timestamp {
            unix,
            nanos: 0,
            offset: 0,
        });
        e
    }

    /// Records the order the stages ran in, and raises one alert per event.
    #[derive(Default)]
    struct Probe {
        seen: Vec<&'static str>,
    }

    impl Stages for Probe {
        fn enrich(&mut self, e: &mut Event<'_>) {
            self.seen.push("enrich");
            e.host_name = Some("enriched".into());
        }
        fn detect(&mut self, e: &Event<'_>, out: &mut Vec<Alert>) {
            self.seen.push("detect");
            assert_eq!(e.host_name.as_deref(), Some("enriched"));
            out.push(Alert::new(
                e.clone().into_owned(),
                "probe",
                "Probe",
                Severity::Low,
                "seen",
            ));
        }
    }

    /// Six failures a second apart; the effects of each event apart.
    fn run_burst(timing: Timing) -> (Runner, Vec<Vec<Effect>>, Probe) {
        let mut r = Runner::new(
            Engine::new(crate::default_program()),
            timing,
            Duration::from_secs(10),
        );
        let mut probe = Probe::default();
        let now = Timestamp {
            unix: 10_000,
            nanos: 0,
            offset: 0,
        };
        let mut per_event = Vec::new();
        for i in 0..6 {
            let mut effects = Vec::new();
            r.event(&mut failure(1_000 + i), now, &mut probe, &mut effects);
            per_event.push(effects);
        }
        (r, per_event, probe)
    }

    #[test]
    fn enrichment_then_rules_then_detectors_with_typed_bans() {
        let (r, per_event, probe) = run_burst(Timing::Live);
        assert_eq!(&probe.seen[..2], ["enrich", "detect"]);
        let effects = per_event
            .iter()
            .find(|fx| fx.iter().any(|e| matches!(e, Effect::Ban { .. })))
            .unwrap();
        // The rules saw the enriched event; their effects come first, the detector's last.
        let Some(Effect::Alert(a)) = effects.first() else {
            panic!("{effects:?}")
        };
        assert_eq!(a.rule_id, "ssh-bruteforce");
        assert_eq!(a.event.host_name.as_deref(), Some("enriched"));
        assert!(matches!(effects.last(), Some(Effect::Detected(_))));
        let ban = effects.iter().find_map(|e| match e {
            Effect::Ban { target, .. } => Some(target.clone().unwrap()),
            _ => None,
        });
        assert_eq!(ban, Some(BanTarget::parse("203.0.113.9").unwrap()));
        // Windows on the events' own time; the clock is the latest of them.
        assert_eq!(r.latest().unwrap().unix, 1_005);
    }

    #[test]
    fn replay_and_clock_timing() {
        let (r, _, _) = run_burst(Timing::Replay);
        assert_eq!(r.latest().unwrap().unix, 1_005);
        let (r, per_event, _) = run_burst(Timing::Clock);
        assert_eq!(r.latest().unwrap().unix, 10_000);
        assert!(per_event
            .concat()
            .iter()
            .any(|e| matches!(e, Effect::Ban { .. })));
    }

    #[test]
    fn snapshots_are_due_when_changed_and_the_period_is_over_or_forced() {
        let start = Instant::now();
        let mut r = Runner::new(
            Engine::new(crate::default_program()),
            Timing::Replay,
            Duration::from_secs(10),
        )
        .saved_at(start);
        assert!(!r.snapshot_due(true, start), "nothing changed");
        let mut effects = Vec::new();
        r.event(&mut failure(1_000), EPOCH, &mut NoStages, &mut effects);
        assert!(!r.snapshot_due(false, start + Duration::from_secs(9)));
        assert!(r.snapshot_due(true, start));
        let later = start + Duration::from_secs(10);
        assert!(r.snapshot_due(false, later));
        assert!(r.take_snapshot(r.latest().unwrap(), later).is_some());
        assert!(!r.snapshot_due(true, later), "saved, nothing new");

        let mut none = Runner::without_rules(Timing::Replay);
        none.event(&mut failure(1_000), EPOCH, &mut NoStages, &mut effects);
        assert!(!none.snapshot_due(true, later));
        assert!(none.take_snapshot(EPOCH, later).is_none());
    }
}
