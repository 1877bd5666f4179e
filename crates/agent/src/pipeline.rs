//! The pipeline: source items → decode (one [`LineDecoder`] per source id, so the sshd
//! session correlator and the year roll-over are per source) → engine → outputs.
//!
//! Synchronous and owned by one task. Items are [`push`](Pipeline::push)ed one by one; a
//! [`commit`](Pipeline::commit) writes, in **one** store transaction, the newest checkpoint of
//! every source that advanced together with the alerts, bans and report entries the lines up
//! to it produced — then, and only then, prints the alerts and hands the bans to the
//! firewall. The daemon commits whenever the channel is momentarily empty or `max_batch`
//! items were pushed: a quiet host commits each line at once (latency), a busy one folds
//! thousands of lines into a transaction (throughput).
//!
//! The engine's counters and ban book are saved (a [`CounterSnapshot`]) with the checkpoints
//! of the commit they belong to, at most every [`SNAPSHOT_EVERY`] and at a clean stop, and
//! loaded at start: windows and ban escalation survive restarts. After a crash the counters
//! come back as of the last snapshot while the checkpoints are newer, so up to
//! `SNAPSHOT_EVERY` of hits are missing from the windows (never counted twice).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use logward_core::clock::unix_now;
use logward_core::{Alert, Clock, Event, InvalidTarget, Severity, SystemClock, Timestamp};
use logward_engine::{Effect, Engine, LogLevel, Runner, Stages, Timing};
use logward_notify::route::Router;
use logward_parse::{LineDecoder, YearResolver, YearRule, Zone};
use logward_store::{
    AgentStore, BanChange, Batch, CounterSnapshot, NewAlert, NewBan, NewOutbox, ReportEntry,
    ReportSection, SpoolItem, SpoolKind, Store, StoreError, UnixTime,
};

use crate::anomaly::{Anomaly, Deferred};
use crate::ban::guard::{net_text, Guard, Verdict};
use crate::ban::{Ban, BanTarget};
use crate::config::{Format, ForwardEvents};
use crate::dns_check::{self, api::Answer, DnsCheck};
use crate::sources::{Completion, Payload, SourceItem};

/// What a commit handed on to the outside world, for the daemon to carry out.
#[derive(Debug, Default)]
pub struct Effects {
    /// Bans to apply (already recorded in the store).
    pub bans: Vec<Ban>,
    /// Bans to lift (already recorded).
    pub unbans: Vec<BanTarget>,
    /// Programs to run (`exec` actions).
    pub execs: Vec<Vec<String>>,
}

/// Counts for the logs and metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PipelineStats {
    pub lines: u64,
    pub events: u64,
    pub unknown: u64,
    pub alerts: u64,
    pub commits: u64,
    pub commit_errors: u64,
    pub bans: u64,
    pub bans_skipped: u64,
    /// Bans not applied because the offence is older than the ban it earned (a backlog).
    pub bans_stale: u64,
    /// Journal entries whose claimed program the journal's own fields contradict.
    pub forged: u64,
    /// Bans narrowed to the exact address because their prefix held an ignored address.
    pub bans_narrowed: u64,
    /// Bans refused because they would cover an ignored address.
    pub bans_refused: u64,
    /// Plain events the forward spool dropped to stay under its size bound.
    pub spool_dropped: u64,
}

/// Where alerts are printed.
pub struct Printer {
    format: Format,
    out: Box<dyn Write + Send>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer")
            .field("format", &self.format)
            .finish()
    }
}

impl Printer {
    pub fn new(format: Format, out: Box<dyn Write + Send>) -> Printer {
        Printer {
            format,
            out,
            buf: Vec::with_capacity(1024),
        }
    }

    /// Standard output.
    pub fn stdout(format: Format) -> Printer {
        Printer::new(format, Box::new(std::io::stdout()))
    }

    pub fn set_format(&mut self, format: Format) {
        self.format = format;
    }

    /// Appends one alert in the chosen format.
    pub fn add(&mut self, a: &Alert, now: Timestamp) {
        match self.format {
            Format::None => {}
            Format::Ndjson => {
                logward_core::write_alert(&mut self.buf, a);
                self.buf.push(b'\n');
            }
            Format::Text => {
                self.buf.extend_from_slice(text_line(a, now).as_bytes());
                self.buf.push(b'\n');
            }
        }
    }

    /// [`add`](Self::add) for an alert whose JSON is already written (`json` is
    /// `write_alert`'s output for `a`, as stored): not written a second time for ndjson.
    fn add_written(&mut self, a: &Alert, json: &str, now: Timestamp) {
        match self.format {
            Format::Ndjson => {
                self.buf.extend_from_slice(json.as_bytes());
                self.buf.push(b'\n');
            }
            Format::None | Format::Text => self.add(a, now),
        }
    }

    /// Writes what was added. A closed stdout is not worth stopping for: alerts are in the
    /// store.
    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let r = self
            .out
            .write_all(&self.buf)
            .and_then(|()| self.out.flush());
        if let Err(e) = r {
            tracing::debug!(error = %e, "printing alerts failed");
        }
        self.buf.clear();
    }
}

/// One readable line: time, severity, rule, message, and who.
pub fn text_line(a: &Alert, now: Timestamp) -> String {
    let e = &a.event;
    let mut s = String::with_capacity(160);
    let ts = e.timestamp.unwrap_or(now);
    let _ = ts.write_rfc3339(&mut s);
    s.push_str(&format!(
        " {:<8} {} {}",
        a.severity.as_str().to_uppercase(),
        a.rule_id,
        a.message
    ));
    let mut who = Vec::new();
    if let Some(ip) = &e.source_ip {
        who.push(format!("source.ip={ip}"));
    } else if let Some(addr) = &e.source_address {
        who.push(format!("source.address={addr}"));
    }
    if let Some(u) = &e.user_name {
        who.push(format!("user.name={u}"));
    }
    if let Some(h) = &e.host_name {
        who.push(format!("host.name={h}"));
    }
    if !who.is_empty() {
        s.push_str(" (");
        s.push_str(&who.join(" "));
        s.push(')');
    }
    s
}

/// The stage between the sources and the outside world. It owns its store connection (`S`,
/// chosen by the daemon): a type parameter rather than a trait object, as every batch
/// commits through it, and nothing else touches it.
pub struct Pipeline<S> {
    /// The rules between enrichment and the detector; keeps the engine's clock (the latest
    /// time an event acted at) and when its counters are due to be saved.
    runner: Runner,
    store: S,
    bans_enabled: bool,
    /// What became of the current event's ban (banned, off, stale): a report entry of the
    /// same event says so rather than the rule's words.
    ban_note: Option<String>,
    decoders: HashMap<Arc<str>, LineDecoder>,
    batch: Batch,
    /// Alerts of the batch being built, printed after its commit.
    alerts: Vec<Alert>,
    effects: Effects,
    /// What the runner asked for, for the current item.
    fx: Vec<Effect>,
    printer: Printer,
    stats: PipelineStats,
    /// Year reference for BSD syslog lines: now, refreshed by [`Pipeline::tick`].
    reference: Timestamp,
    /// Which notifiers get each alert (an outbox row per notifier, in the alert's batch).
    router: Router,
    /// Told after a commit that queued deliveries.
    wake: Arc<tokio::sync::Notify>,
    /// What goes into the forward spool (`None`: not forwarding).
    forward: Option<ForwardEvents>,
    /// While the spool drops events (logged once per episode): how many so far, and when
    /// the last drop was.
    spool_dropping: Option<(u64, Instant)>,
    /// Enrichment and the login anomaly detector (`None`: `anomaly.enabled: false`).
    anomaly: Option<Anomaly>,
    /// Alerts the detector raised for a login resumed after its DNSBL look-up.
    anomaly_out: Vec<Alert>,
    /// Keeps every ban off the rules' ignore list.
    guard: Guard,
    /// The firewall's IPv6 ban prefix (what an address ban really covers).
    ipv6_prefix: u8,
    /// Called after the next successful commit (`Payload::Committed`, in push order).
    completions: Vec<Completion>,
    /// The DNS check (`None`: no `dns:` section).
    dns: Option<DnsCheck>,
}

/// How often the engine's counters are saved with a commit (when events came in).
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(10);

/// How long the forward spool must go without dropping an event before the end of the
/// episode is logged.
pub const SPOOL_EPISODE_QUIET: Duration = Duration::from_secs(60);

/// The store's name for the engine state.
const ENGINE_STATE: &str = "engine";

/// The `meta` key of the last alert row printed to stdout.
const PRINTED_UP_TO: &str = "printed_up_to";

impl<S> std::fmt::Debug for Pipeline<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("runner", &self.runner)
            .field("stats", &self.stats)
            .finish()
    }
}

impl<S: AgentStore> Pipeline<S> {
    pub fn new(engine: Engine, store: S, bans_enabled: bool, printer: Printer) -> Self {
        Pipeline {
            // The first counts are saved with the first commit.
            runner: Runner::new(engine, Timing::Live, SNAPSHOT_EVERY),
            store,
            bans_enabled,
            ban_note: None,
            decoders: HashMap::new(),
            batch: Batch::default(),
            alerts: Vec::new(),
            effects: Effects::default(),
            fx: Vec::with_capacity(8),
            printer,
            stats: PipelineStats::default(),
            reference: SystemClock.now(),
            router: Router::default(),
            wake: Arc::new(tokio::sync::Notify::new()),
            forward: None,
            spool_dropping: None,
            anomaly: None,
            anomaly_out: Vec::new(),
            guard: Guard::default(),
            ipv6_prefix: logward_engine::DEFAULT_V6_PREFIX,
            completions: Vec::new(),
            dns: None,
        }
        .with_guard()
    }

    /// The guard for the running rules' ignore list.
    fn with_guard(mut self) -> Self {
        self.refresh_guard();
        self
    }

    fn refresh_guard(&mut self) {
        let ignore = self
            .runner
            .engine()
            .map(|e| e.program().ignore_networks())
            .unwrap_or_default();
        self.guard = Guard::new(ignore, self.ipv6_prefix);
    }

    /// Bans cover IPv6 addresses as this prefix (`bans.ipv6_prefix`).
    pub fn set_ipv6_prefix(&mut self, prefix: u8) {
        self.ipv6_prefix = prefix;
        self.refresh_guard();
    }

    /// The guard every ban passes (also for bans re-applied at start).
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Enriches events and scores logins from now on.
    pub fn set_anomaly(&mut self, anomaly: Option<Anomaly>) {
        self.anomaly = anomaly;
    }

    pub fn anomaly(&self) -> Option<&Anomaly> {
        self.anomaly.as_ref()
    }

    /// Checks `dns-query` events from now on (`None`: off).
    pub fn set_dns(&mut self, dns: Option<DnsCheck>) {
        self.dns = dns;
    }

    pub fn dns(&self) -> Option<&DnsCheck> {
        self.dns.as_ref()
    }

    pub fn dns_mut(&mut self) -> Option<&mut DnsCheck> {
        self.dns.as_mut()
    }

    /// An intel API verdict came in: the queries that waited for a malicious one run through
    /// the rules again, already checked (not counted or spooled again as events).
    pub fn resume_dns(&mut self, a: Answer) {
        let Some(dns) = &mut self.dns else { return };
        let events = dns.resume(a);
        let now = SystemClock.now();
        for e in events {
            let mut stages = AgentStages {
                anomaly: self.anomaly.as_mut(),
                store: &mut self.store,
                dns: None,
                source: "",
                dns_outcome: None,
            };
            self.runner.enriched(&e, now, &mut stages, &mut self.fx);
            let mut fx = std::mem::take(&mut self.fx);
            self.ban_note = None;
            for f in fx.drain(..) {
                self.output(f);
            }
            self.fx = fx;
        }
    }

    /// A login whose score waited for its DNSBL answer.
    pub fn resume_login(&mut self, d: Deferred) {
        if let Some(a) = &mut self.anomaly {
            a.resume(d, &mut self.store, &mut self.anomaly_out);
        }
        self.flush_anomaly_alerts();
    }

    fn flush_anomaly_alerts(&mut self) {
        let mut alerts = std::mem::take(&mut self.anomaly_out);
        for a in alerts.drain(..) {
            self.add_alert(a);
        }
        self.anomaly_out = alerts;
    }

    /// Spools events (with `All`) and alerts for the collector from now on.
    pub fn set_forward(&mut self, forward: Option<ForwardEvents>) {
        self.forward = forward;
    }

    /// Adds an event to the open batch's spool items when every event is forwarded.
    fn spool_event(&mut self, e: &Event<'_>) {
        if self.forward != Some(ForwardEvents::All) {
            return;
        }
        let mut json = Vec::with_capacity(384);
        logward_core::json::write_event(&mut json, e);
        self.batch.spool.push(SpoolItem {
            kind: SpoolKind::Event,
            time: e.timestamp.map_or_else(unix_now, |t| t.unix),
            json: String::from_utf8(json)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        });
    }

    /// Routes alerts to notifiers from now on; `wake` is notified when deliveries are queued.
    pub fn set_router(&mut self, router: Router, wake: Arc<tokio::sync::Notify>) {
        self.router = router;
        self.wake = wake;
    }

    /// Loads the engine state of the last run, if any. A snapshot that does not load is
    /// logged and the counters start empty (never a reason not to start).
    pub fn restore_engine_state(&mut self) {
        let saved = match self.store.load_counters(ENGINE_STATE) {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the saved counters; starting empty");
                return;
            }
        };
        // As of the time it was taken: a backlog read after downtime still finds the hits
        // its own window needs.
        let at = Timestamp {
            unix: saved.saved_at.min(SystemClock.now().unix),
            nanos: 0,
            offset: 0,
        };
        match self.runner.restore(&saved.data, at) {
            None => {}
            Some(Ok(r)) => tracing::info!(
                counters = r.counters,
                keys = r.keys,
                ban_records = r.bans,
                saved_at = saved.saved_at,
                "counters restored"
            ),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "the saved counters do not load; starting empty")
            }
        }
    }

    /// The time the engine state is as of.
    fn engine_now(&self) -> Timestamp {
        self.runner.latest().unwrap_or_else(|| SystemClock.now())
    }

    /// Adds the engine state to the open batch when it is due (or `force`d) and changed.
    fn add_snapshot(&mut self, force: bool) {
        let clock = Instant::now();
        if !self.runner.snapshot_due(force, clock) {
            return;
        }
        let now = self.engine_now();
        let Some(data) = self.runner.take_snapshot(now, clock) else {
            return;
        };
        self.batch.counters.clear();
        self.batch.counters.push(CounterSnapshot {
            name: ENGINE_STATE.into(),
            data,
            saved_at: now.unix,
        });
    }

    pub fn store(&mut self) -> &mut S {
        &mut self.store
    }

    /// The running rules (none before any were loaded).
    pub fn engine(&self) -> Option<&Engine> {
        self.runner.engine()
    }

    pub fn stats(&self) -> PipelineStats {
        self.stats
    }

    pub fn bans_enabled(&self) -> bool {
        self.bans_enabled
    }

    /// Replaces the rules (a reload). Counters the new rules still name keep their state.
    pub fn replace_engine(&mut self, engine: Engine) {
        match self.runner.replace_engine(engine, SystemClock.now()) {
            Ok(r) => tracing::info!(
                kept = r.counters,
                dropped = r.dropped,
                keys = r.keys,
                "counters carried over to the new rules"
            ),
            Err(e) => tracing::error!(error = %e, "counters not carried over"),
        }
        self.refresh_guard();
    }

    pub fn printer(&mut self) -> &mut Printer {
        &mut self.printer
    }

    /// Records that alerts up to row `id` reached stdout. Written after the print, so a
    /// `kill -9` in between prints them again at the next start (at least once, never lost).
    fn mark_printed(&mut self, id: i64) {
        if let Err(e) = self.store.set_meta(PRINTED_UP_TO, &id.to_string()) {
            tracing::debug!(error = %e, "cannot record the printed alerts");
        }
    }

    /// Prints the alerts a previous run stored but did not print (it was killed between
    /// the commit and the print): stdout is the alert log of Supervisor-style setups. The
    /// first run with an empty mark starts at the newest alert.
    pub fn print_unprinted(&mut self) {
        let mark = match self.store.meta(PRINTED_UP_TO) {
            Ok(Some(m)) => m.parse::<i64>().ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read which alerts were printed");
                return;
            }
        };
        let Some(mark) = mark else {
            if let Ok(last) = self.store.last_alert_id() {
                self.mark_printed(last);
            }
            return;
        };
        let now = SystemClock.now();
        let mut last = mark;
        loop {
            let rows = match self.store.alerts_after(last, 1000) {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the alerts not printed yet");
                    break;
                }
            };
            let Some(end) = rows.last().map(|r| r.id) else {
                break;
            };
            for r in &rows {
                match logward_core::json_read::alert_from_str(&r.alert.json) {
                    Ok(a) => self.printer.add_written(&a, &r.alert.json, now),
                    Err(e) => {
                        tracing::warn!(id = r.id, error = %e, "a stored alert does not read back")
                    }
                }
            }
            self.printer.flush();
            last = end;
        }
        if last > mark {
            tracing::info!(
                alerts = last - mark,
                "printed the alerts the last run stored but had not printed"
            );
            self.mark_printed(last);
        }
    }

    /// Items pushed since the last commit.
    pub fn pending(&self) -> bool {
        !self.batch.is_empty() || !self.alerts.is_empty() || !self.completions.is_empty()
    }

    /// Keeps the year reference current (a long-running agent crosses New Year).
    pub fn tick(&mut self) {
        self.reference = SystemClock.now();
        if let Some(a) = &mut self.anomaly {
            a.reload_geoip();
        }
        let years = || YearResolver::new(YearRule::Reference(self.reference), Zone::Local);
        for d in self.decoders.values_mut() {
            d.set_years(years());
        }
    }

    /// Called once a second: queries of DNS query logs that a quiet second completed (see
    /// `LineDecoder::idle`) run like the lines' events; at a stop (`end`), every event still
    /// waiting to be joined runs. Their outputs join the open batch.
    pub fn idle(&mut self, end: bool) {
        let mut joined: Vec<(Arc<str>, Event<'static>)> = Vec::new();
        for (source, d) in &mut self.decoders {
            if end {
                d.finish();
            } else {
                d.idle();
            }
            joined.extend(std::iter::from_fn(|| d.take_joined()).map(|e| (source.clone(), e)));
        }
        if joined.is_empty() {
            return;
        }
        let now = SystemClock.now();
        let forward = self.forward.is_some();
        for (source, mut j) in joined {
            if !forward {
                j.original = None;
            }
            self.run_event(&source, &mut j, now);
        }
        let mut fx = std::mem::take(&mut self.fx);
        self.ban_note = None;
        for f in fx.drain(..) {
            self.output(f);
        }
        self.fx = fx;
    }

    /// Decodes and runs one item through the rules; its outputs join the open batch.
    pub fn push(&mut self, item: SourceItem) {
        let SourceItem {
            source,
            payload,
            checkpoint,
        } = item;
        let now = SystemClock.now();
        match payload {
            Payload::Line(line) => {
                self.stats.lines += 1;
                let reference = self.reference;
                let dec = self.decoders.entry(Arc::clone(&source)).or_insert_with(|| {
                    LineDecoder::new(YearResolver::new(
                        YearRule::Reference(reference),
                        Zone::Local,
                    ))
                });
                let mut e = Event::default();
                // `false`: a line of Windows Event XML whose event ends on a later line.
                let made = dec.decode_into(&line, &mut e);
                // Forwarded events (and the alerts made from them) carry their raw line (a
                // Windows record: its XML or JSON), so the collector can show it; the agent
                // alone keeps its rows small.
                let forward = self.forward.is_some();
                if !forward {
                    e.original = None;
                } else if e.original.is_none() {
                    e.original = Some(line.as_str().into());
                }
                // Audit execs that ended before this line without an EXECVE of their own
                // (see logward_parse::decoders::audit::join), and Windows events before this
                // line's on the same line: older, so they run first.
                let joined: Vec<Event<'static>> =
                    std::iter::from_fn(|| dec.take_joined()).collect();
                for mut j in joined {
                    if !forward {
                        j.original = None;
                    }
                    self.run_event(&source, &mut j, now);
                }
                if made {
                    self.run_event(&source, &mut e, now);
                }
            }
            Payload::Event(mut e) => self.run_event(&source, &mut e, now),
            Payload::Committed(c) => self.completions.push(c),
        }
        // Drained, not borrowed: an alert moves into the batch instead of being copied.
        let mut fx = std::mem::take(&mut self.fx);
        self.ban_note = None;
        for f in fx.drain(..) {
            self.output(f);
        }
        self.fx = fx;
        if let Some(cp) = checkpoint {
            // Only the newest position of each source matters.
            match self
                .batch
                .checkpoints
                .iter_mut()
                .find(|c| c.source == cp.source)
            {
                Some(c) => *c = cp,
                None => self.batch.checkpoints.push(cp),
            }
        }
    }

    /// The runner's stages (enrichment, the rules, then the detector); the enriched event
    /// is counted and, when every event is forwarded, spooled ahead of its alerts.
    fn run_event(&mut self, source: &str, e: &mut Event<'_>, now: Timestamp) {
        let mut stages = AgentStages {
            anomaly: self.anomaly.as_mut(),
            store: &mut self.store,
            dns: self.dns.as_mut(),
            source,
            dns_outcome: None,
        };
        self.runner.event(e, now, &mut stages, &mut self.fx);
        // A trusted query (the operator's own noise) and a repeat within the dedup window
        // (nothing the first did not say) are not sent to the collector: DNS logs are the
        // largest a fleet has (docs/DNS.md).
        let unchecked = matches!(
            stages.dns_outcome,
            Some(dns_check::Outcome::Trusted(_) | dns_check::Outcome::Repeat)
        );
        self.note(e);
        if !unchecked {
            self.spool_event(e);
        }
    }

    fn note(&mut self, e: &Event<'_>) {
        self.stats.events += 1;
        if e.action == Some(logward_core::Action::Unknown) {
            self.stats.unknown += 1;
        }
        if let Some(claimed) = &e.claimed_program {
            self.stats.forged += 1;
            // The first, then every hundredth: a local user can write these at will.
            if self.stats.forged % 100 == 1 {
                tracing::warn!(
                    claimed = %claimed,
                    comm = e.journald.iter().find(|(k, _)| k == "comm").map_or("", |(_, v)| v),
                    uid = e.journald.iter().find(|(k, _)| k == "uid").map_or("", |(_, v)| v),
                    forged = self.stats.forged,
                    "a journal entry claims a program the journal says did not write it; \
                     not decoded as that program"
                );
            }
        }
    }

    fn output(&mut self, f: Effect) {
        let now = unix_now();
        match f {
            Effect::Alert(a) | Effect::Detected(a) => self.add_alert(*a),
            Effect::Ban {
                target,
                duration,
                until,
                rule_id,
                ..
            } => {
                let ip = Shown(&target);
                if !self.bans_enabled {
                    self.stats.bans_skipped += 1;
                    tracing::debug!(%ip, "ban not applied: bans are disabled");
                    self.ban_note = Some("would ban — bans off".into());
                    return;
                }
                // A ban runs from the offence's own time: an offence read late (a backlog)
                // bans for what is left, one older than its ban does not ban at all.
                let left = until.unix.saturating_sub(now).min(duration);
                if left <= 0 {
                    self.stats.bans_stale += 1;
                    tracing::info!(
                        %ip,
                        rule = rule_id.as_deref().unwrap_or("rule"),
                        offence_until = %until,
                        "ban not applied: the offence is older than the ban it earned"
                    );
                    self.ban_note =
                        Some("counted — not banned, the offence is older than its ban".into());
                    return;
                }
                let secs = u64::try_from(left).unwrap_or(0);
                let reason = rule_id.clone().unwrap_or_else(|| "rule".into());
                let refused = match target {
                    Ok(t) => self.record_ban_target(t, Some(secs), &reason, rule_id, now),
                    Err(e) => Some(e.to_string()),
                };
                self.ban_note = Some(match refused {
                    None => format!("banned for {}", span(secs)),
                    Some(err) => format!("not banned: {err}"),
                });
            }
            Effect::Unban(target) => {
                if !self.bans_enabled {
                    return;
                }
                if let Ok(t) = target {
                    self.record_unban_target(t, now);
                }
            }
            Effect::Exec(argv) => self.effects.execs.push(argv),
            Effect::Report { section, message } => {
                let section = match section.to_ascii_uppercase().as_str() {
                    "WARN" => ReportSection::Warn,
                    "INFO" => ReportSection::Info,
                    _ => ReportSection::Other,
                };
                let text = match &self.ban_note {
                    Some(note) => format!("{message}: {note}"),
                    None => message,
                };
                self.batch.report.push(ReportEntry {
                    time: now,
                    section,
                    text,
                });
            }
            Effect::Log { level, message } => match level {
                LogLevel::Error => tracing::error!(target: "logward::rules", "{message}"),
                LogLevel::Warn => tracing::warn!(target: "logward::rules", "{message}"),
                LogLevel::Info => tracing::info!(target: "logward::rules", "{message}"),
                LogLevel::Debug => tracing::debug!(target: "logward::rules", "{message}"),
            },
        }
    }

    /// Adds an alert to the open batch (stored at the next commit, then printed).
    pub fn add_alert(&mut self, a: Alert) {
        self.stats.alerts += 1;
        let now = unix_now();
        let index = self.batch.alerts.len();
        let row = NewAlert::from_alert(&a, now);
        if self.forward.is_some() {
            self.batch.spool.push(SpoolItem {
                kind: SpoolKind::Alert,
                time: row.time,
                json: row.json.clone(),
            });
        }
        self.batch.alerts.push(row);
        for sink in self.router.notifiers(&a) {
            self.batch.outbox.push(NewOutbox {
                alert: index,
                sink: sink.to_owned(),
                next_attempt_at: now,
            });
        }
        self.alerts.push(a);
    }

    /// Records a ban in the open batch and queues it for the firewall. `Some(why)` when the
    /// text is not a bannable target, or the ban is refused.
    pub fn record_ban(
        &mut self,
        text: &str,
        secs: Option<u64>,
        reason: &str,
        rule_id: Option<String>,
        now: UnixTime,
    ) -> Option<String> {
        match BanTarget::parse(text) {
            Ok(t) => self.record_ban_target(t, secs, reason, rule_id, now),
            Err(e) => Some(e.to_string()),
        }
    }

    /// [`Pipeline::record_ban`] of a target already validated.
    fn record_ban_target(
        &mut self,
        target: BanTarget,
        secs: Option<u64>,
        reason: &str,
        rule_id: Option<String>,
        now: UnixTime,
    ) -> Option<String> {
        let ban = match self
            .guard
            .check(Ban::new(target, secs.map(std::time::Duration::from_secs)))
        {
            Verdict::Ban(b) => b,
            Verdict::Narrowed { ban, ignored } => {
                self.stats.bans_narrowed += 1;
                tracing::warn!(
                    %target,
                    ignored = %net_text(ignored),
                    prefix = self.ipv6_prefix,
                    "ban narrowed to the address alone: its prefix holds an ignored address"
                );
                ban
            }
            Verdict::Refused { ignored } => {
                self.stats.bans_refused += 1;
                tracing::warn!(
                    %target,
                    ignored = %net_text(ignored),
                    reason,
                    "ban refused: it would cover an address of the ignore list"
                );
                return Some(format!(
                    "not banned: {target} would cover {} of the ignore list",
                    net_text(ignored)
                ));
            }
        };
        self.stats.bans += 1;
        self.batch.bans.push(BanChange::Add(NewBan {
            target,
            reason: reason.to_owned(),
            rule_id,
            created_at: now,
            expires_at: secs.map(|s| now.saturating_add(i64::try_from(s).unwrap_or(i64::MAX))),
        }));
        self.effects.bans.push(ban);
        None
    }

    /// Records lifting a ban and queues it for the firewall.
    pub fn record_unban(&mut self, text: &str, now: UnixTime) -> Option<String> {
        match BanTarget::parse(text) {
            Ok(t) => {
                self.record_unban_target(t, now);
                None
            }
            Err(e) => Some(e.to_string()),
        }
    }

    fn record_unban_target(&mut self, target: BanTarget, now: UnixTime) {
        self.batch.bans.push(BanChange::Remove { target, at: now });
        self.effects.unbans.push(target);
        self.release(target);
    }

    /// A ban ended or was lifted: its address is counted again at once (the grace a rule
    /// set when it fired was only there to stop repeats while the ban held).
    pub fn release(&mut self, target: BanTarget) {
        let keys = self.runner.release(target);
        if keys > 0 {
            tracing::info!(%target, keys, "ban over: the address is counted again");
        }
    }

    /// Commits the open batch in one transaction, then prints its alerts. Returns the bans
    /// and programs to carry out now that they are recorded. On a store error the batch stays
    /// open (nothing printed, nothing applied) and the next commit retries it whole.
    pub fn commit(&mut self) -> Result<Effects, StoreError> {
        self.commit_inner(false)
    }

    /// The last commit before stopping: saves the engine state whatever its age.
    pub fn commit_final(&mut self) -> Result<Effects, StoreError> {
        self.commit_inner(true)
    }

    fn commit_inner(&mut self, force_snapshot: bool) -> Result<Effects, StoreError> {
        self.add_snapshot(force_snapshot);
        if let Some(a) = &mut self.anomaly {
            self.batch.profiles.extend(a.take_rows(unix_now()));
        }
        if self.batch.is_empty() && self.alerts.is_empty() {
            // Processed, and nothing of theirs to store.
            self.complete();
            return Ok(std::mem::take(&mut self.effects));
        }
        let spooled = !self.batch.spool.is_empty();
        let ids = match self.store.commit_batch(&self.batch) {
            Ok(ids) => ids,
            Err(e) => {
                self.stats.commit_errors += 1;
                return Err(e);
            }
        };
        self.stats.commits += 1;
        self.complete();
        if spooled {
            self.note_spool_drops(ids.spool_dropped);
        }
        if !self.batch.outbox.is_empty() {
            self.wake.notify_waiters();
        }
        let now = SystemClock.now();
        // `batch.alerts[i]` is the row of `alerts[i]` (add_alert pushes both): print the JSON
        // the store got rather than building it again.
        for (a, row) in self.alerts.drain(..).zip(&self.batch.alerts) {
            self.printer.add_written(&a, &row.json, now);
        }
        self.batch.clear();
        self.printer.flush();
        if let Some(last) = ids.alerts.iter().max() {
            self.mark_printed(*last);
        }
        Ok(std::mem::take(&mut self.effects))
    }
}

impl<S: AgentStore> Pipeline<S> {
    /// Calls what waited for the commit just made.
    fn complete(&mut self) {
        for c in self.completions.drain(..) {
            c.complete();
        }
    }

    /// Counts events the spool dropped; logs the start and the end of each episode once. An
    /// episode ends after [`SPOOL_EPISODE_QUIET`] without a drop (a full spool that frees one
    /// event's room per commit must not log every other commit).
    fn note_spool_drops(&mut self, dropped: u64) {
        self.stats.spool_dropped += dropped;
        match (&mut self.spool_dropping, dropped) {
            (None, 0) => {}
            (None, n) => {
                tracing::warn!(
                    dropped = n,
                    "forward spool full: dropping the oldest events (alerts are kept) until the \
                     collector takes them again"
                );
                self.spool_dropping = Some((n, Instant::now()));
            }
            (Some((total, last)), 0) => {
                if last.elapsed() >= SPOOL_EPISODE_QUIET {
                    tracing::warn!(
                        dropped = *total,
                        "forward spool below its bound again; events were dropped meanwhile"
                    );
                    self.spool_dropping = None;
                }
            }
            (Some((total, last)), n) => {
                *total += n;
                *last = Instant::now();
            }
        }
    }
}

/// The agent's stages around the rules: GeoIP/ASN enrichment and the DNS check, then the
/// login detector with profiles from the store (`anomaly: None`: `anomaly.enabled: false`).
struct AgentStages<'a> {
    anomaly: Option<&'a mut Anomaly>,
    store: &'a mut dyn Store,
    dns: Option<&'a mut DnsCheck>,
    /// The id of the source the event came from (the DNS check's per-source trust).
    source: &'a str,
    /// What the DNS check did with the event (`None`: it did not run).
    dns_outcome: Option<dns_check::Outcome>,
}

impl Stages for AgentStages<'_> {
    fn enrich(&mut self, e: &mut Event<'_>) {
        if let Some(a) = &self.anomaly {
            a.enrich(e);
        }
        if let Some(d) = self.dns.as_deref_mut() {
            self.dns_outcome = Some(d.check(self.source, e));
        }
    }

    fn detect(&mut self, e: &Event<'_>, out: &mut Vec<Alert>) {
        if let Some(a) = self.anomaly.as_deref_mut() {
            a.observe(e, self.store, out);
        }
    }
}

/// A ban's target for the logs, or the refused text.
struct Shown<'a>(&'a Result<BanTarget, InvalidTarget>);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Ok(t) => t.fmt(f),
            Err(e) => f.write_str(&e.shown),
        }
    }
}

/// The alert raised when a ban could not be applied.
pub fn ban_failed_alert(targets: &str, error: &str) -> Alert {
    let mut e = Event {
        timestamp: Some(SystemClock.now()),
        ..Event::default()
    };
    if let Ok(t) = targets.parse::<std::net::IpAddr>() {
        e.source_ip = Some(t);
        e.source_address = Some(targets.to_owned().into());
    }
    let mut a = Alert::new(
        e,
        "ban-failed",
        "Ban failed",
        Severity::High,
        format!("could not ban {targets}: {error}"),
    );
    a.tags.push("ban".into());
    a
}

/// A ban's length for people: `45s`, `10m`, `1h`, `1h30m`, `2d`.
fn span(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}
