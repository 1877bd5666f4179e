//! Running a [`Program`] over events: the Pyruse chain semantics, counters, bans, alerts.
//!
//! For each event the top-level chains run in file order. In a chain, a passing filter goes
//! on to the next step (or jumps to its `then:` chain); a failing filter jumps to its
//! `else:` chain, or — without one — ends the chain and processing goes on with the next
//! top-level chain. An action runs and goes on (or jumps to its `then:` chain). A chain
//! that runs out of steps after an action stops processing of the event; one that ends on
//! a filter goes on with the next top-level chain.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::net::IpAddr;

use logward_core::field::Value;
use logward_core::{Alert, Clock, Event, Severity, Timestamp};

use crate::compile::{
    action_bit, event_slot, Act, Cmp, LogLevel, Op, Program, Ref, Seg, Src, Test,
};
use crate::counter::{Counter, Keyed, Millis};

/// What the engine asks the rest of the agent to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Alert(Box<Alert>),
    /// Ban an address (the agent decides whether bans are enabled).
    Ban {
        ip: IpAddr,
        /// Seconds, escalated for repeat offenders.
        duration: i64,
        /// 1 for a first ban, 2 for the second within `bans.remember` …
        offence: u32,
        until: Timestamp,
        /// The rule of the last alert raised on the way, if any.
        rule_id: Option<String>,
    },
    Unban {
        ip: IpAddr,
    },
    /// Run a program (argv, never a shell; each argument rendered on its own).
    Exec {
        argv: Vec<String>,
    },
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

/// Whether an account exists on this host (the agent asks the system; tests use a set).
pub trait UserDb {
    fn user_exists(&self, name: &str) -> bool;
}

/// A user database that knows no account (offline scans, where the host is not the one
/// the log came from).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoUsers;

impl UserDb for NoUsers {
    fn user_exists(&self, _: &str) -> bool {
        false
    }
}

/// A fixed set of accounts.
#[derive(Debug, Clone, Default)]
pub struct StaticUsers(pub std::collections::HashSet<String>);

impl UserDb for StaticUsers {
    fn user_exists(&self, name: &str) -> bool {
        self.0.contains(name)
    }
}

/// Counts for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub events: u64,
    pub alerts: u64,
    /// Counter keys evicted because a table was full.
    pub evicted: u64,
    /// Counter keys held now.
    pub keys: u64,
    /// Keys held by the fullest counter table (bounded by [`Program::max_keys`]).
    pub largest: u64,
    /// Templates that failed to render (the raw template text is used instead).
    pub render_errors: u64,
}

#[derive(Debug, Default, Clone)]
struct Var {
    set: bool,
    num: Option<i64>,
    text: String,
}

impl Var {
    /// Saves a counter's value, as `raise … save` and `get … save` do.
    fn set_count(&mut self, count: u64) {
        self.set = true;
        self.num = Some(count as i64);
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct BanRecord {
    pub(crate) count: u32,
    pub(crate) last: Millis,
}

/// The rule workflow: a compiled program and its state.
pub struct Engine {
    pub(crate) prog: Program,
    pub(crate) st: State,
}

/// Counters, the ban book, the per-event fields.
pub(crate) struct State {
    pub(crate) counters: Vec<Counter>,
    pub(crate) bans: HashMap<IpAddr, BanRecord, RandomState>,
    vars: Vec<Var>,
    key: Vec<u8>,
    /// A distinct counter's value, encoded as a key.
    value: Vec<u8>,
    /// Keys of event fields, by [`Program::keys`] slot.
    slots: Vec<KeySlot>,
    /// The event being processed, as [`KeySlot::event`] tells.
    event: u64,
    /// Hashes keys and values for every counter (one random SipHash key).
    pub(crate) hasher: Keyed,
    users: Box<dyn UserDb + Send>,
    stats: Stats,
    /// IPv6 addresses are counted and remembered per this prefix (the ban prefix).
    v6_prefix: u8,
    /// The event and address of the last recorded offence: two rules banning the same
    /// address for the same event (one burst that is both enumeration and brute force) are
    /// one offence, not two escalations.
    last_offence: Option<(u64, IpAddr)>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("chains", &self.prog.chains.len())
            .field("stats", &self.st.stats)
            .finish()
    }
}

/// A counter key of event fields: built and hashed at most once per event (an sshd
/// failure raises six counters, all keyed by its address or its user name).
#[derive(Debug, Default, Clone)]
struct KeySlot {
    /// The event it was built for.
    event: u64,
    /// Whether the event has all its fields.
    ok: bool,
    bytes: Vec<u8>,
    hash: u64,
}

/// Where [`State::make_key`] left a key: a slot, or the scratch key or value buffer.
#[derive(Debug, Clone, Copy)]
enum KeyAt {
    Slot(usize),
    Key(u64),
    Value(u64),
}

/// A key's bytes and hash.
fn key_at<'a>(slots: &'a [KeySlot], key: &'a [u8], value: &'a [u8], at: KeyAt) -> (&'a [u8], u64) {
    match at {
        KeyAt::Slot(i) => (&slots[i].bytes, slots[i].hash),
        KeyAt::Key(h) => (key, h),
        KeyAt::Value(h) => (value, h),
    }
}

/// Most steps one event may take (jumps cannot loop, so this is a belt, not a rule).
const MAX_STEPS: usize = 10_000;

pub(crate) fn millis(t: Timestamp) -> Millis {
    t.unix.saturating_mul(1000) + (t.nanos / 1_000_000) as i64
}

fn value<'a>(vars: &'a [Var], e: &'a Event<'_>, src: &Src) -> Option<Value<'a>> {
    match src {
        Src::Event(f) => e.get(f),
        Src::Var(i) => {
            let v = &vars[*i];
            if !v.set {
                None
            } else if let Some(n) = v.num {
                Some(Value::Num(n))
            } else {
                Some(Value::Str(&v.text))
            }
        }
    }
}

fn text_eq(v: &Value<'_>, want: &str) -> bool {
    match v {
        Value::Str(s) => *s == want,
        Value::Num(n) => want.parse::<i64>().ok() == Some(*n),
        Value::Ip(ip) => want.parse::<IpAddr>().ok() == Some(*ip),
        Value::Time(t) => t.to_string() == want,
    }
}

/// The IPv6 prefix counters and the ban book key addresses by unless told otherwise: the
/// agent's default ban prefix, so an attacker rotating through one /64 is one key.
pub const DEFAULT_V6_PREFIX: u8 = 64;

/// `ip` with its host bits past `v6_prefix` cleared (IPv4 unchanged).
pub fn key_address(ip: IpAddr, v6_prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V6(a) if v6_prefix < 128 => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(v6_prefix))
                .unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
        other => other,
    }
}

/// Appends a value to a counter key: a type byte, then a fixed or length-prefixed body.
/// IPv6 addresses are cut to `v6_prefix`.
fn push_key(buf: &mut Vec<u8>, v: &Value<'_>, v6_prefix: u8) {
    match v {
        Value::Str(s) => {
            buf.push(b's');
            buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
            buf.extend_from_slice(s.as_bytes());
        }
        Value::Num(n) => {
            buf.push(b'n');
            buf.extend_from_slice(&n.to_le_bytes());
        }
        Value::Ip(IpAddr::V4(a)) => {
            buf.push(b'4');
            buf.extend_from_slice(&a.octets());
        }
        Value::Ip(ip @ IpAddr::V6(_)) => {
            buf.push(b'6');
            if let IpAddr::V6(a) = key_address(*ip, v6_prefix) {
                buf.extend_from_slice(&a.octets());
            }
        }
        Value::Time(t) => {
            buf.push(b't');
            buf.extend_from_slice(&t.unix.to_le_bytes());
        }
    }
}

/// Writes the key into `buf`; false when the event lacks one of the key's fields.
fn build_key(buf: &mut Vec<u8>, vars: &[Var], e: &Event<'_>, key: &[Src], v6_prefix: u8) -> bool {
    buf.clear();
    for k in key {
        match value(vars, e, k) {
            Some(v) => push_key(buf, &v, v6_prefix),
            None => return false,
        }
    }
    true
}

impl Engine {
    pub fn new(prog: Program) -> Engine {
        let hasher = Keyed::random();
        let counters = prog
            .counters
            .iter()
            .map(|c| {
                let h = hasher;
                Counter::with_hasher(c.window, c.distinct, prog.max_keys, prog.max_hits, h)
            })
            .collect();
        let vars = vec![Var::default(); prog.vars.len()];
        let slots = vec![KeySlot::default(); prog.keys];
        Engine {
            prog,
            st: State {
                counters,
                bans: HashMap::default(),
                vars,
                key: Vec::with_capacity(64),
                value: Vec::with_capacity(64),
                slots,
                event: 0,
                hasher,
                users: Box::new(NoUsers),
                stats: Stats::default(),
                v6_prefix: DEFAULT_V6_PREFIX,
                last_offence: None,
            },
        }
    }

    /// Answers `user_exists` filters from this database.
    pub fn with_users(mut self, users: Box<dyn UserDb + Send>) -> Engine {
        self.st.users = users;
        self
    }

    /// Counts IPv6 addresses per `prefix` (the agent's `bans.ipv6_prefix`; 128: each
    /// address on its own), so the counters see what a ban covers.
    pub fn with_v6_prefix(mut self, prefix: u8) -> Engine {
        self.st.v6_prefix = prefix.clamp(1, 128);
        self
    }

    pub fn program(&self) -> &Program {
        &self.prog
    }

    pub fn stats(&self) -> Stats {
        let mut s = self.st.stats.clone();
        s.evicted = self.st.counters.iter().map(|c| c.evicted).sum();
        s.keys = self.st.counters.iter().map(|c| c.len() as u64).sum();
        s.largest = self
            .st
            .counters
            .iter()
            .map(|c| c.len() as u64)
            .max()
            .unwrap_or(0);
        s
    }

    /// The ban of `ip` ended or was lifted: every counter keyed by that address alone (its
    /// prefix, for IPv6) leaves its grace period, so the address is counted again at once
    /// instead of guessing unseen for the rest of the grace. Returns the keys released.
    pub fn release(&mut self, ip: IpAddr) -> usize {
        let mut key = Vec::with_capacity(17);
        push_key(&mut key, &Value::Ip(ip), self.st.v6_prefix);
        let hash = self.st.hasher.hash_one(&key[..]);
        let mut released = 0;
        for c in &mut self.st.counters {
            released += usize::from(c.release_hashed(&key, hash));
        }
        released
    }

    /// Runs the rules over one event at the clock's time.
    pub fn process(&mut self, e: &Event<'_>, clock: &dyn Clock, out: &mut Vec<Output>) {
        self.process_at(e, clock.now(), out);
    }

    /// Runs the rules over one event at its own `@timestamp` (replay), or at `fallback`
    /// when it has none.
    pub fn replay(&mut self, e: &Event<'_>, fallback: Timestamp, out: &mut Vec<Output>) {
        self.process_at(e, e.timestamp.unwrap_or(fallback), out);
    }

    /// Runs the rules over one event at `now`.
    pub fn process_at(&mut self, e: &Event<'_>, now: Timestamp, out: &mut Vec<Output>) {
        self.run(e, now, out, &mut NoTrace);
    }

    /// [`Engine::process_at`] that also records, in `trace`, every step taken: its chain,
    /// index, kind and outcome (for `logward test-line`). `trace` is appended to.
    pub fn process_traced(
        &mut self,
        e: &Event<'_>,
        now: Timestamp,
        out: &mut Vec<Output>,
        trace: &mut Vec<TraceStep>,
    ) {
        let mut raw = Vec::new();
        self.run(e, now, out, &mut raw);
        trace.extend(raw.into_iter().map(|r: RawStep| {
            let chain = &self.prog.chains[r.chain];
            TraceStep {
                chain: chain.name.clone(),
                step: r.step,
                kind: step_kind(&chain.ops[r.step]),
                outcome: r.outcome,
                jump: r.jump.map(|j| self.prog.chains[j].name.clone()),
            }
        }));
    }

    /// The rule loop; `trace` sees each step (a no-op for [`Engine::process_at`], compiled
    /// away).
    fn run<T: Trace>(
        &mut self,
        e: &Event<'_>,
        now: Timestamp,
        out: &mut Vec<Output>,
        trace: &mut T,
    ) {
        let (prog, st) = (&self.prog, &mut self.st);
        st.stats.events += 1;
        st.event += 1;
        for v in &mut st.vars {
            v.set = false;
        }
        let now_ms = millis(now);
        let mut last_rule: Option<usize> = None;
        let mut steps = 0usize;
        // A trace shows every step; otherwise the leading filters the dispatch table
        // already decided are skipped (still counted towards MAX_STEPS).
        let (top, known): (&[usize], &[(usize, usize)]) = if T::ON {
            (&prog.by_action[action_bit(e.action)], &[])
        } else {
            (
                &[],
                &prog.dispatch[event_slot(e.action, e.outcome, e.dataset)],
            )
        };
        let count = if T::ON { top.len() } else { known.len() };
        let mut ti = 0usize;
        'top: while ti < count {
            let (mut chain, mut si) = if T::ON { (top[ti], 0) } else { known[ti] };
            steps += si;
            let mut ended_on_filter = true;
            loop {
                steps += 1;
                if steps > MAX_STEPS {
                    return;
                }
                let Some(op) = prog.chains[chain].ops.get(si) else {
                    if ended_on_filter {
                        ti += 1;
                        continue 'top;
                    }
                    return;
                };
                match op {
                    Op::Filter {
                        test,
                        not,
                        then,
                        otherwise,
                    } => {
                        let pass = st.test(test, e) != *not;
                        ended_on_filter = true;
                        if T::ON {
                            let jump = if pass { *then } else { *otherwise };
                            let outcome = if pass {
                                TraceOutcome::Pass
                            } else {
                                TraceOutcome::Fail
                            };
                            trace.step(chain, si, outcome, jump);
                        }
                        if pass {
                            if let Some(t) = then {
                                chain = *t;
                                si = 0;
                                continue;
                            }
                            si += 1;
                        } else if let Some(o) = otherwise {
                            chain = *o;
                            si = 0;
                        } else {
                            ti += 1;
                            continue 'top;
                        }
                    }
                    Op::Action { act, then } => {
                        if let Act::Alert { .. } = act {
                            last_rule = Some(chain * 65_536 + si);
                        }
                        let then = *then;
                        st.act(prog, act, e, now, now_ms, last_rule, out);
                        if T::ON {
                            trace.step(chain, si, TraceOutcome::Ran, then);
                        }
                        ended_on_filter = false;
                        if let Some(t) = then {
                            chain = t;
                            si = 0;
                            continue;
                        }
                        si += 1;
                    }
                }
            }
        }
    }
}

/// One step the engine took for an event (see [`Engine::process_traced`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceStep {
    /// The chain's name.
    pub chain: String,
    /// The step's index in its chain, from 0.
    pub step: usize,
    /// The step's kind: `equals`, `regex`, `ge`, `counter_raise`, `alert`, `ban` …
    pub kind: &'static str,
    pub outcome: TraceOutcome,
    /// The chain it jumped to (`then:` / `else:`), if it did.
    pub jump: Option<String>,
}

/// How a traced step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceOutcome {
    /// A filter that passed.
    Pass,
    /// A filter that failed.
    Fail,
    /// An action that ran.
    Ran,
}

impl TraceOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            TraceOutcome::Pass => "pass",
            TraceOutcome::Fail => "fail",
            TraceOutcome::Ran => "ran",
        }
    }
}

/// What the rule loop reports each step to.
trait Trace {
    /// False: the loop makes no call and builds nothing.
    const ON: bool;
    fn step(&mut self, chain: usize, step: usize, outcome: TraceOutcome, jump: Option<usize>);
}

/// No tracing (the normal path).
struct NoTrace;

impl Trace for NoTrace {
    const ON: bool = false;
    #[inline(always)]
    fn step(&mut self, _: usize, _: usize, _: TraceOutcome, _: Option<usize>) {}
}

/// A step as the loop records it: chain and jump as indexes.
struct RawStep {
    chain: usize,
    step: usize,
    outcome: TraceOutcome,
    jump: Option<usize>,
}

impl Trace for Vec<RawStep> {
    const ON: bool = true;
    fn step(&mut self, chain: usize, step: usize, outcome: TraceOutcome, jump: Option<usize>) {
        self.push(RawStep {
            chain,
            step,
            outcome,
            jump,
        });
    }
}

/// A step's kind, as the rules file names it.
fn step_kind(op: &Op) -> &'static str {
    match op {
        Op::Filter { test, .. } => match test {
            Test::ActionIs(_) | Test::OutcomeIs(_) | Test::DatasetIs(_) | Test::Eq(..) => "equals",
            Test::ActionIn(_) | Test::DatasetIn(_) | Test::In(..) => "in",
            Test::Cmp(_, Cmp::Lt, _) => "lt",
            Test::Cmp(_, Cmp::Le, _) => "le",
            Test::Cmp(_, Cmp::Ge, _) => "ge",
            Test::Cmp(_, Cmp::Gt, _) => "gt",
            Test::Regex(..) => "regex",
            Test::Cidr(..) => "cidr",
            Test::Exists(_) => "exists",
            Test::UserExists(_) => "user_exists",
            Test::Always => "continue",
        },
        Op::Action { act, .. } => match act {
            Act::Raise { .. } => "counter_raise",
            Act::Get { .. } => "counter_get",
            Act::Reset { .. } => "counter_reset",
            Act::Alert { .. } => "alert",
            Act::Ban { .. } => "ban",
            Act::Unban(_) => "unban",
            Act::Exec(_) => "exec",
            Act::Report { .. } => "report",
            Act::Log { .. } => "log",
            Act::Noop => "noop",
        },
    }
}

impl State {
    fn test(&mut self, test: &Test, e: &Event<'_>) -> bool {
        let vars = &self.vars;
        match test {
            Test::ActionIs(a) => e.action == Some(*a),
            Test::ActionIn(mask) => mask & (1 << action_bit(e.action)) != 0,
            Test::OutcomeIs(o) => e.outcome == *o,
            Test::DatasetIs(d) => e.dataset == Some(*d),
            Test::DatasetIn(mask) => e.dataset.is_some_and(|d| mask & (1 << d as usize) != 0),
            Test::Always => true,
            Test::Exists(src) => value(vars, e, src).is_some(),
            Test::Eq(src, want) => value(vars, e, src).is_some_and(|v| text_eq(&v, want)),
            Test::In(src, wants) => {
                value(vars, e, src).is_some_and(|v| wants.iter().any(|w| text_eq(&v, w)))
            }
            Test::Cmp(src, cmp, n) => match value(vars, e, src).and_then(|v| v.as_num()) {
                Some(v) => match cmp {
                    Cmp::Lt => v < *n,
                    Cmp::Le => v <= *n,
                    Cmp::Ge => v >= *n,
                    Cmp::Gt => v > *n,
                },
                None => false,
            },
            Test::Cidr(src, nets) => match value(vars, e, src) {
                Some(Value::Ip(ip)) => nets.iter().any(|n| n.contains(ip)),
                Some(Value::Str(s)) => {
                    logward_core::parse_ip(s).is_some_and(|ip| nets.iter().any(|n| n.contains(ip)))
                }
                _ => false,
            },
            Test::UserExists(src) => match value(vars, e, src) {
                Some(Value::Str(s)) => self.users.user_exists(s),
                _ => false,
            },
            Test::Regex(src, regexes) => {
                // Event text is matched in place; only a saved field (which the captures may
                // overwrite) or a non-text value is copied first.
                let owned: String;
                let text: &str = match src {
                    Src::Event(f) => match e.get(f) {
                        Some(Value::Str(s)) => s,
                        Some(v) => {
                            owned = v.to_string();
                            &owned
                        }
                        None => return false,
                    },
                    Src::Var(_) => match value(vars, e, src) {
                        Some(v) => {
                            owned = v.to_string();
                            &owned
                        }
                        None => return false,
                    },
                };
                for (re, saves) in regexes {
                    if saves.is_empty() {
                        if re.is_match(text) {
                            return true;
                        }
                        continue;
                    }
                    if let Some(caps) = re.captures(text) {
                        for &(group, var) in saves {
                            let v = &mut self.vars[var];
                            v.text.clear();
                            v.num = None;
                            match caps.get(group) {
                                Some(m) => {
                                    v.text.push_str(m.as_str());
                                    v.set = true;
                                }
                                None => v.set = false,
                            }
                        }
                        return true;
                    }
                }
                false
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn act(
        &mut self,
        prog: &Program,
        act: &Act,
        e: &Event<'_>,
        now: Timestamp,
        now_ms: Millis,
        last_rule: Option<usize>,
        out: &mut Vec<Output>,
    ) {
        match act {
            Act::Raise {
                counter,
                key,
                key_id,
                distinct,
                distinct_id,
                save,
            } => {
                let mut count = 0;
                if let Some(k) = self.make_key(e, key, *key_id, false) {
                    let vhash = match distinct {
                        None => Some(None),
                        Some(d) => {
                            let v = self.make_key(e, std::slice::from_ref(d), *distinct_id, true);
                            v.map(|v| Some(key_at(&self.slots, &self.key, &self.value, v).1))
                        }
                    };
                    if let Some(vhash) = vhash {
                        let (bytes, h) = key_at(&self.slots, &self.key, &self.value, k);
                        count = self.counters[*counter].raise_hashed(bytes, h, vhash, now_ms);
                    }
                }
                if let Some(s) = save {
                    self.vars[*s].set_count(count);
                }
            }
            Act::Get {
                counter,
                key,
                key_id,
                save,
            } => {
                let count = match self.make_key(e, key, *key_id, false) {
                    Some(k) => {
                        let (bytes, h) = key_at(&self.slots, &self.key, &self.value, k);
                        self.counters[*counter].get_hashed(bytes, h, now_ms)
                    }
                    None => 0,
                };
                self.vars[*save].set_count(count);
            }
            Act::Reset {
                counter,
                key,
                key_id,
                grace,
            } => {
                if let Some(k) = self.make_key(e, key, *key_id, false) {
                    let (bytes, h) = key_at(&self.slots, &self.key, &self.value, k);
                    self.counters[*counter].reset_hashed(bytes, h, *grace, now_ms);
                }
            }
            Act::Alert {
                id,
                name,
                severity,
                tags,
                template,
            } => {
                let message = self.render(prog, template, e, now);
                let mut event = e.clone().into_owned();
                event.timestamp = event.timestamp.or(Some(now));
                let mut alert = Alert::new(event, id.clone(), name.clone(), *severity, message);
                alert.tags = tags.clone();
                alert.labels = self.labels(prog);
                self.stats.alerts += 1;
                out.push(Output::Alert(Box::new(alert)));
            }
            Act::Ban {
                src,
                duration,
                factor,
                max,
            } => {
                let ip = match value(&self.vars, e, src) {
                    Some(Value::Ip(ip)) => ip,
                    Some(Value::Str(s)) => match logward_core::parse_ip(s) {
                        Some(ip) => ip,
                        None => return,
                    },
                    _ => return,
                };
                // Escalation remembers what a ban covers: the prefix for IPv6.
                let book = key_address(ip, self.v6_prefix);
                let (duration, offence) = self.ban(prog, book, *duration, *factor, *max, now_ms);
                let rule_id = last_rule.and_then(|r| {
                    match prog.chains.get(r / 65_536)?.ops.get(r % 65_536)? {
                        Op::Action {
                            act: Act::Alert { id, .. },
                            ..
                        } => Some(id.clone()),
                        _ => None,
                    }
                });
                let until = Timestamp {
                    unix: now.unix.saturating_add(duration),
                    ..now
                };
                out.push(Output::Ban {
                    ip,
                    duration,
                    offence,
                    until,
                    rule_id,
                });
            }
            Act::Unban(src) => {
                let ip = match value(&self.vars, e, src) {
                    Some(Value::Ip(ip)) => Some(ip),
                    Some(Value::Str(s)) => logward_core::parse_ip(s),
                    _ => None,
                };
                if let Some(ip) = ip {
                    out.push(Output::Unban { ip });
                }
            }
            Act::Exec(argv) => {
                let argv = argv.iter().map(|t| self.render(prog, t, e, now)).collect();
                out.push(Output::Exec { argv });
            }
            Act::Report { section, template } => {
                let message = self.render(prog, template, e, now);
                out.push(Output::Report {
                    section: section.clone(),
                    message,
                });
            }
            Act::Log { level, template } => {
                let message = self.render(prog, template, e, now);
                out.push(Output::Log {
                    level: *level,
                    message,
                });
            }
            Act::Noop => {}
        }
    }

    /// Builds and hashes a key (`value`: into the distinct value's scratch buffer); `None`
    /// when the event lacks one of its fields. A key with a slot is built once per event.
    fn make_key(
        &mut self,
        e: &Event<'_>,
        srcs: &[Src],
        id: Option<usize>,
        value: bool,
    ) -> Option<KeyAt> {
        if let Some(i) = id {
            let s = &mut self.slots[i];
            if s.event != self.event {
                s.event = self.event;
                s.ok = build_key(&mut s.bytes, &self.vars, e, srcs, self.v6_prefix);
                if s.ok {
                    s.hash = self.hasher.hash_one(&s.bytes[..]);
                }
            }
            return s.ok.then_some(KeyAt::Slot(i));
        }
        let buf = if value {
            &mut self.value
        } else {
            &mut self.key
        };
        if !build_key(buf, &self.vars, e, srcs, self.v6_prefix) {
            return None;
        }
        let h = self.hasher.hash_one(&buf[..]);
        Some(if value {
            KeyAt::Value(h)
        } else {
            KeyAt::Key(h)
        })
    }

    /// Records a ban of `ip`; returns its escalated duration and which offence it is.
    fn ban(
        &mut self,
        prog: &Program,
        ip: IpAddr,
        base: i64,
        factor: u32,
        max: i64,
        now: Millis,
    ) -> (i64, u32) {
        let remember = prog.ban_remember.saturating_mul(1000);
        if !self.bans.contains_key(&ip) && self.bans.len() >= prog.ban_max_entries.max(1) {
            self.bans.retain(|_, b| b.last + remember > now);
            if self.bans.len() >= prog.ban_max_entries.max(1) {
                // Forget the oldest record.
                if let Some(oldest) = self
                    .bans
                    .iter()
                    .min_by_key(|(_, b)| b.last)
                    .map(|(k, _)| *k)
                {
                    self.bans.remove(&oldest);
                }
            }
        }
        let rec = self.bans.entry(ip).or_insert(BanRecord {
            count: 0,
            last: now,
        });
        if now - rec.last > remember {
            rec.count = 0;
        }
        if self.last_offence != Some((self.event, ip)) || rec.count == 0 {
            rec.count = rec.count.saturating_add(1);
        }
        self.last_offence = Some((self.event, ip));
        rec.last = now;
        let mut d = base;
        for _ in 1..rec.count.min(64) {
            d = d.saturating_mul(factor as i64);
            if d >= max {
                break;
            }
        }
        (d.min(max), rec.count)
    }

    fn labels(&self, prog: &Program) -> Vec<(String, String)> {
        prog.vars
            .iter()
            .zip(&self.vars)
            .filter(|(_, v)| v.set)
            .map(|(n, v)| {
                let text = match v.num {
                    Some(n) => n.to_string(),
                    None => v.text.clone(),
                };
                (n.clone(), text)
            })
            .collect()
    }

    fn render(&mut self, prog: &Program, template: &str, e: &Event<'_>, now: Timestamp) -> String {
        if let Some(segs) = prog.plain.get(template) {
            if let Some(s) = self.render_plain(segs, e, now) {
                return s;
            }
        }
        let needs = prog.ctx_needs.get(template).and_then(|n| n.as_deref());
        let ctx = self.context(prog, needs, e, now);
        let result = prog.env.get_template(template).and_then(|t| t.render(ctx));
        match result {
            Ok(s) => s,
            Err(err) => {
                self.stats.render_errors += 1;
                format!("(template error: {err})")
            }
        }
    }

    /// A plain template's text, as minijinja would render it; `None` when a field it reads
    /// is missing (minijinja then decides: empty text or an error).
    fn render_plain(&self, segs: &[Seg], e: &Event<'_>, now: Timestamp) -> Option<String> {
        use std::fmt::Write;
        let mut out = String::with_capacity(128);
        for seg in segs {
            match seg {
                Seg::Text(t) => out.push_str(t),
                Seg::Print(alts) => {
                    for (i, r) in alts.iter().enumerate() {
                        let start = out.len();
                        // Writing to a String cannot fail.
                        let _ = match r {
                            Ref::Field(f) => write!(out, "{}", e.get(f)?),
                            Ref::Var(v) => {
                                let v = &self.vars[*v];
                                match (v.set, v.num) {
                                    (false, _) => return None,
                                    (true, Some(n)) => write!(out, "{n}"),
                                    (true, None) => write!(out, "{}", v.text),
                                }
                            }
                            Ref::Now => write!(out, "{now}"),
                            Ref::SyslogSeverity => {
                                let sev = e.syslog_severity.and_then(Severity::from_code)?;
                                write!(out, "{}", sev.as_str())
                            }
                        };
                        // `a or b`: a unless it is empty (falsy).
                        if out.len() > start || i + 1 == alts.len() {
                            break;
                        }
                    }
                }
            }
        }
        Some(out)
    }

    /// The template context: the event's fields as nested objects (`source.ip`), the saved
    /// fields at the top, `now` — of these, only the top-level names in `needs` (all when
    /// `None`): an alert's template reads two or three of some forty.
    fn context(
        &self,
        prog: &Program,
        needs: Option<&[String]>,
        e: &Event<'_>,
        now: Timestamp,
    ) -> minijinja::Value {
        let wants = |name: &str| match needs {
            Some(n) => n.iter().any(|x| x == name),
            None => true,
        };
        let mut root = Node::default();
        for (path, top, f) in &prog.ctx_fields {
            if wants(top) {
                if let Some(v) = e.get(f) {
                    root.insert(path, v.to_string());
                }
            }
        }
        if wants("journald") {
            for (k, v) in &e.journald {
                root.insert(&format!("journald.{k}"), v.to_string());
            }
        }
        if wants("winlog") {
            if let Some(w) = e.winlog.as_deref() {
                for (k, v) in &w.event_data {
                    // A name is one key, dots and all (`winlog.event_data["A.B"]`).
                    root.children
                        .entry("winlog".to_owned())
                        .or_default()
                        .children
                        .entry("event_data".to_owned())
                        .or_default()
                        .insert_flat(k, v.to_string());
                }
            }
        }
        for (n, v) in prog.vars.iter().zip(&self.vars) {
            if v.set && wants(n) {
                let text = match v.num {
                    Some(n) => n.to_string(),
                    None => v.text.clone(),
                };
                root.insert_flat(n, text);
            }
        }
        if wants("now") {
            root.insert_flat("now", now.to_string());
        }
        if wants("syslog_severity") {
            if let Some(sev) = e.syslog_severity.and_then(Severity::from_code) {
                root.insert_flat("syslog_severity", sev.as_str().to_owned());
            }
        }
        root.into_value()
    }
}

/// A nested map of strings, for template contexts.
#[derive(Debug, Default)]
struct Node {
    text: Option<String>,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn insert(&mut self, path: &str, v: String) {
        let mut n = self;
        for part in path.split('.') {
            n = n.children.entry(part.to_owned()).or_default();
        }
        n.text = Some(v);
    }
    fn insert_flat(&mut self, key: &str, v: String) {
        self.children.entry(key.to_owned()).or_default().text = Some(v);
    }
}

impl Node {
    /// The value `minijinja::Value::from_serialize` would give, built without serde: a leaf
    /// is its text, any other node a map (its own text, if any, dropped).
    fn into_value(self) -> minijinja::Value {
        match self.text {
            Some(t) if self.children.is_empty() => minijinja::Value::from(t),
            _ => self
                .children
                .into_iter()
                .map(|(k, v)| (k, v.into_value()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod trace_tests {
    use std::borrow::Cow;

    use logward_core::{Action, Dataset, Event, Outcome, Timestamp};

    use super::{Engine, Output, TraceOutcome, TraceStep};

    fn failure(ip: &str) -> Event<'static> {
        let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
        e.user_name = Some(Cow::Borrowed("root"));
        e.set_source(Cow::Owned(ip.to_owned()), Some(22));
        e
    }

    fn steps_in<'a>(trace: &'a [TraceStep], chain: &str) -> Vec<&'a TraceStep> {
        trace.iter().filter(|s| s.chain == chain).collect()
    }

    #[test]
    fn trace_records_chain_step_kind_outcome_and_jump() {
        let mut en = Engine::new(crate::default_program());
        let now = Timestamp {
            unix: 1_700_000_000,
            nanos: 0,
            offset: 0,
        };
        let mut plain = Engine::new(crate::default_program());
        for i in 1..=5 {
            let (mut out, mut trace, mut plain_out) = (Vec::new(), Vec::new(), Vec::new());
            let e = failure("203.0.113.9");
            en.process_traced(&e, now, &mut out, &mut trace);
            plain.process_at(&e, now, &mut plain_out);
            // Tracing changes nothing in what the engine does.
            assert_eq!(out, plain_out);
            let failure = steps_in(&trace, "ssh-failure");
            let kinds: Vec<_> = failure.iter().map(|s| (s.kind, s.outcome)).collect();
            assert!(
                kinds.contains(&("counter_raise", TraceOutcome::Ran)),
                "{trace:#?}"
            );
            // Every filter before the counters passed.
            let first_action = failure
                .iter()
                .position(|s| s.outcome == TraceOutcome::Ran)
                .expect("an action ran");
            assert!(first_action > 0, "{trace:#?}");
            assert!(failure[..first_action]
                .iter()
                .all(|s| s.outcome == TraceOutcome::Pass));
            // Steps are numbered in their chain, in order.
            assert!(failure.windows(2).all(|w| w[0].step < w[1].step));
            let ge = failure.last().expect("steps");
            assert_eq!(ge.kind, "ge");
            if i < 5 {
                assert_eq!(ge.outcome, TraceOutcome::Fail);
                assert_eq!(ge.jump.as_deref(), Some("ssh-check-slow"), "{trace:#?}");
                assert!(steps_in(&trace, "ssh-bruteforce").is_empty());
            } else {
                assert_eq!(ge.outcome, TraceOutcome::Pass);
                assert_eq!(ge.jump.as_deref(), Some("ssh-bruteforce"), "{trace:#?}");
                let bf: Vec<_> = steps_in(&trace, "ssh-bruteforce")
                    .iter()
                    .map(|s| (s.step, s.kind))
                    .collect();
                assert_eq!(
                    &bf[..5],
                    [
                        (0, "alert"),
                        (1, "ban"),
                        (2, "report"),
                        (3, "counter_reset"),
                        (4, "counter_reset")
                    ],
                    "{trace:#?}"
                );
                assert!(out
                    .iter()
                    .any(|o| matches!(o, Output::Alert(a) if a.rule_id == "ssh-bruteforce")));
            }
        }
    }

    #[test]
    fn an_event_no_rule_is_about_runs_no_action() {
        let mut en = Engine::new(crate::default_program());
        let e = Event::default();
        let (mut out, mut trace) = (Vec::new(), Vec::new());
        let now = Timestamp {
            unix: 1_700_000_000,
            nanos: 0,
            offset: 0,
        };
        en.process_traced(&e, now, &mut out, &mut trace);
        assert!(
            trace.iter().all(|s| s.outcome != TraceOutcome::Ran),
            "{trace:#?}"
        );
    }
}

#[cfg(test)]
mod plain_tests {
    use std::borrow::Cow;

    use logward_core::{Action, Dataset, Event, Outcome, Timestamp};

    use super::Engine;

    /// Every plain template of the default rules writes what minijinja renders, with fields
    /// present, empty (`a or b` moves on) or missing (the engine defers to minijinja).
    #[test]
    fn plain_templates_render_as_minijinja_does() {
        let mut en = Engine::new(crate::default_program());
        // Every default template that only prints fields is rendered without minijinja;
        // only those with a statement (`{% if %}`) are not.
        for name in en.prog.ctx_needs.keys() {
            if !en.prog.plain.contains_key(name) {
                let t = en.prog.env.get_template(name).expect("compiled");
                assert!(t.source().contains("{%"), "not plain: {}", t.source());
            }
        }
        let now = Timestamp {
            unix: 1_700_000_000,
            nanos: 0,
            offset: 0,
        };
        let mut full = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
        full.user_name = Some(Cow::Borrowed("root"));
        full.user_target_name = Some(Cow::Borrowed("bob"));
        full.host_name = Some(Cow::Borrowed("srv"));
        full.process_name = Some(Cow::Borrowed("sshd"));
        full.auth_method = Some("password");
        full.group_name = Some(Cow::Borrowed("wheel"));
        full.command_line = Some(Cow::Borrowed("/bin/true"));
        full.reason = Some("bad-password");
        full.set_source(Cow::Borrowed("2001:db8::1"), Some(22));
        full.winlog = Some(Box::new(logward_core::Winlog {
            channel: Cow::Borrowed("Security"),
            event_id: 4625,
            logon_type: Some("network"),
            event_data: [
                "TargetUserName",
                "ServiceName",
                "ImagePath",
                "NewTargetUserName",
            ]
            .iter()
            .map(|k| (Cow::Borrowed(*k), Cow::Borrowed("x")))
            .collect(),
            ..logward_core::Winlog::default()
        }));
        // A DNS query the check flagged: the DNS rules' messages name these.
        full.dns = Some(Box::new(logward_core::Dns {
            question_name: Cow::Borrowed("a.evil.example"),
            registered_domain: Some(Cow::Borrowed("evil.example")),
            intel: Some(Box::new(logward_core::DnsIntel {
                list: Some("badd-boyz".into()),
                list_entry: Some("evil.example".into()),
                verdict: Some("malicious".into()),
                score: Some(91),
                ..Default::default()
            })),
            ..logward_core::Dns::default()
        }));
        let mut empty = full.clone();
        empty.user_target_name = Some(Cow::Borrowed(""));
        empty.source_address = Some(Cow::Borrowed(""));
        let mut missing = full.clone();
        missing.user_target_name = None;
        missing.source_address = None;
        missing.host_name = None;
        missing.winlog = None;
        let (mut plain, mut checked) = (0, 0);
        for (i, e) in [full, empty, missing, Event::default()].iter().enumerate() {
            for (k, v) in en.st.vars.iter_mut().enumerate() {
                v.set = i < 3;
                v.num = (k % 2 == 0).then_some(k as i64 + 5);
                v.text = format!("v{k}");
            }
            for (name, segs) in &en.prog.plain {
                let ctx = en.st.context(&en.prog, None, e, now);
                let slow = en.prog.env.get_template(name).and_then(|t| t.render(ctx));
                checked += 1;
                if let Some(fast) = en.st.render_plain(segs, e, now) {
                    plain += 1;
                    assert_eq!(Ok(fast), slow.map_err(|_| ()), "{name}");
                }
            }
        }
        assert!(plain > checked / 2, "{plain} of {checked}");
    }

    #[test]
    fn only_printing_templates_are_plain() {
        let rules = |msg: &str| {
            format!(
                "chains:\n  c:\n    - {{type: exists, field: user.name}}\n    - type: log\n      level: info\n      message: {msg:?}\n"
            )
        };
        for (msg, plain) in [
            ("{{ user.name }} on {{ host.name or source.ip }}", true),
            ("{{user.name}}", true),
            ("no fields", true),
            ("{{ user.name | upper }}", false),
            ("{{- user.name }}", false),
            ("{% if user.name %}x{% endif %}", false),
            ("{{ user }}", false),
            ("{{ none }}", false),
            ("{{ journald.comm }}", false),
            ("line\n", false),
        ] {
            let prog = crate::Program::load("t.yaml", &rules(msg)).expect("valid rules");
            assert_eq!(prog.plain.len(), usize::from(plain), "{msg}");
        }
    }
}
