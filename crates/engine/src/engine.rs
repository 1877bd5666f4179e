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
use std::net::IpAddr;

use logward_core::field::Value;
use logward_core::{Alert, Clock, Event, Field, Severity, Timestamp};

use crate::compile::{action_bit, Act, Cmp, LogLevel, Op, Program, Src, Test};
use crate::counter::{Counter, Millis};

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
    /// Templates that failed to render (the raw template text is used instead).
    pub render_errors: u64,
}

#[derive(Debug, Default, Clone)]
struct Var {
    set: bool,
    num: Option<i64>,
    text: String,
}

#[derive(Debug, Clone, Copy)]
struct BanRecord {
    count: u32,
    last: Millis,
}

/// The rule workflow: a compiled program and its state.
pub struct Engine {
    prog: Program,
    st: State,
}

/// Counters, the ban book, the per-event fields.
struct State {
    counters: Vec<Counter>,
    bans: HashMap<IpAddr, BanRecord, RandomState>,
    vars: Vec<Var>,
    key: Vec<u8>,
    users: Box<dyn UserDb + Send>,
    stats: Stats,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("chains", &self.prog.chains.len())
            .field("stats", &self.st.stats)
            .finish()
    }
}

/// Most steps one event may take (jumps cannot loop, so this is a belt, not a rule).
const MAX_STEPS: usize = 10_000;

fn millis(t: Timestamp) -> Millis {
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

/// Appends a value to a counter key: a type byte, then a fixed or length-prefixed body.
fn push_key(buf: &mut Vec<u8>, v: &Value<'_>) {
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
        Value::Ip(IpAddr::V6(a)) => {
            buf.push(b'6');
            buf.extend_from_slice(&a.octets());
        }
        Value::Time(t) => {
            buf.push(b't');
            buf.extend_from_slice(&t.unix.to_le_bytes());
        }
    }
}

/// Writes the key into `buf`; false when the event lacks one of the key's fields.
fn build_key(buf: &mut Vec<u8>, vars: &[Var], e: &Event<'_>, key: &[Src]) -> bool {
    buf.clear();
    for k in key {
        match value(vars, e, k) {
            Some(v) => push_key(buf, &v),
            None => return false,
        }
    }
    true
}

impl Engine {
    pub fn new(prog: Program) -> Engine {
        let counters = prog
            .counters
            .iter()
            .map(|c| Counter::new(c.window, c.distinct, prog.max_keys, prog.max_hits))
            .collect();
        let vars = vec![Var::default(); prog.vars.len()];
        Engine {
            prog,
            st: State {
                counters,
                bans: HashMap::default(),
                vars,
                key: Vec::with_capacity(64),
                users: Box::new(NoUsers),
                stats: Stats::default(),
            },
        }
    }

    /// Answers `user_exists` filters from this database.
    pub fn with_users(mut self, users: Box<dyn UserDb + Send>) -> Engine {
        self.st.users = users;
        self
    }

    pub fn program(&self) -> &Program {
        &self.prog
    }

    pub fn stats(&self) -> Stats {
        let mut s = self.st.stats.clone();
        s.evicted = self.st.counters.iter().map(|c| c.evicted).sum();
        s.keys = self.st.counters.iter().map(|c| c.len() as u64).sum();
        s
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
        for v in &mut st.vars {
            v.set = false;
        }
        let now_ms = millis(now);
        let mut last_rule: Option<usize> = None;
        let mut steps = 0usize;
        let top = &prog.by_action[action_bit(e.action)];
        let mut ti = 0usize;
        'top: while ti < top.len() {
            let mut chain = top[ti];
            let mut si = 0usize;
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
            Test::ActionIn(_) | Test::In(..) => "in",
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
                distinct,
                save,
            } => {
                let mut count = 0;
                if build_key(&mut self.key, &self.vars, e, key) {
                    match distinct {
                        None => count = self.counters[*counter].raise(&self.key, None, now_ms),
                        Some(d) => {
                            let mut vbuf = Vec::new();
                            if let Some(v) = value(&self.vars, e, d) {
                                push_key(&mut vbuf, &v);
                                count =
                                    self.counters[*counter].raise(&self.key, Some(&vbuf), now_ms);
                            }
                        }
                    }
                }
                if let Some(s) = save {
                    let v = &mut self.vars[*s];
                    v.set = true;
                    v.num = Some(count as i64);
                }
            }
            Act::Get { counter, key, save } => {
                let count = if build_key(&mut self.key, &self.vars, e, key) {
                    self.counters[*counter].get(&self.key, now_ms)
                } else {
                    0
                };
                let v = &mut self.vars[*save];
                v.set = true;
                v.num = Some(count as i64);
            }
            Act::Reset {
                counter,
                key,
                grace,
            } => {
                if build_key(&mut self.key, &self.vars, e, key) {
                    self.counters[*counter].reset(&self.key, *grace, now_ms);
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
                let (duration, offence) = self.ban(prog, ip, *duration, *factor, *max, now_ms);
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
        rec.count = rec.count.saturating_add(1);
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
        let ctx = self.context(prog, e, now);
        let result = prog.env.get_template(template).and_then(|t| t.render(ctx));
        match result {
            Ok(s) => s,
            Err(err) => {
                self.stats.render_errors += 1;
                format!("(template error: {err})")
            }
        }
    }

    /// The template context: the event's fields as nested objects (`source.ip`), the saved
    /// fields at the top, `now`.
    fn context(&self, prog: &Program, e: &Event<'_>, now: Timestamp) -> minijinja::Value {
        let mut root = Node::default();
        for path in Field::all_paths() {
            if let Some(f) = Field::parse(path) {
                if let Some(v) = e.get(&f) {
                    root.insert(path, v.to_string());
                }
            }
        }
        for (k, v) in &e.journald {
            root.insert(&format!("journald.{k}"), v.to_string());
        }
        for (n, v) in prog.vars.iter().zip(&self.vars) {
            if v.set {
                let text = match v.num {
                    Some(n) => n.to_string(),
                    None => v.text.clone(),
                };
                root.insert_flat(n, text);
            }
        }
        root.insert_flat("now", now.to_string());
        if let Some(sev) = e.syslog_severity.and_then(Severity::from_code) {
            root.insert_flat("syslog_severity", sev.as_str().to_owned());
        }
        minijinja::Value::from_serialize(&root)
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

impl serde::Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match (&self.text, self.children.is_empty()) {
            (Some(t), true) => s.serialize_str(t),
            _ => {
                let mut m = s.serialize_map(Some(self.children.len()))?;
                for (k, v) in &self.children {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
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
                    &bf[..4],
                    [
                        (0, "alert"),
                        (1, "ban"),
                        (2, "counter_reset"),
                        (3, "counter_reset")
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
