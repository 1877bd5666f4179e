//! The semantic pass: a parsed [`RulesFile`] becomes a [`Program`] — fields resolved to
//! [`Field`]s or variable slots, regexes and templates compiled, networks parsed, chain names
//! resolved to indices — and every error found is reported, each at its file:line:column.

use std::collections::HashMap;
use std::net::IpAddr;

use logward_core::{Action, Dataset, Field, Outcome, Severity};
use regex::Regex;
use serde_saphyr::{Location, Spanned};

use crate::config::{RulesFile, Step};
use logward_core::duration::parse_secs;

pub use logward_core::config_error::{ConfigError, ConfigErrors};

/// Where a value comes from: the event, or a field the rules computed (a regex capture, a
/// saved count).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Src {
    Event(Field),
    Var(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Lt,
    Le,
    Ge,
    Gt,
}

/// An IP network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    pub(crate) fn parse(s: &str) -> Option<Net> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok().filter(|&p| p <= max)?,
            None => max,
        };
        Some(Net { addr, prefix })
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, width: u32, prefix: u8) -> u128 {
            if prefix == 0 {
                0
            } else {
                bits >> (width - prefix as u32)
            }
        }
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u32::from(n).into(), 32, self.prefix)
                    == masked(u32::from(a).into(), 32, self.prefix)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                masked(u128::from(n), 128, self.prefix) == masked(u128::from(a), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// A filter's test.
#[derive(Debug)]
pub(crate) enum Test {
    /// `event.action` (no string work).
    ActionIs(Action),
    /// `in` on `event.action`: a bit per [`action_bit`].
    ActionIn(u64),
    OutcomeIs(Outcome),
    DatasetIs(Dataset),
    /// `in` on `event.dataset`: a bit per dataset (its declaration order).
    DatasetIn(u128),
    Eq(Src, String),
    In(Src, Vec<String>),
    Cmp(Src, Cmp, i64),
    /// Regexes tried in order; the first match saves its named groups: (group index, var).
    Regex(Src, Vec<(Regex, Vec<(usize, usize)>)>),
    Cidr(Src, Vec<Net>),
    Exists(Src),
    UserExists(Src),
    Always,
}

#[derive(Debug)]
pub(crate) enum Act {
    Raise {
        counter: usize,
        key: Vec<Src>,
        /// The key's [`Program::keys`] slot (keys of event fields only).
        key_id: Option<usize>,
        distinct: Option<Src>,
        /// The distinct field's slot, as a one-field key.
        distinct_id: Option<usize>,
        save: Option<usize>,
    },
    Get {
        counter: usize,
        key: Vec<Src>,
        key_id: Option<usize>,
        save: usize,
    },
    Reset {
        counter: usize,
        key: Vec<Src>,
        key_id: Option<usize>,
        grace: i64,
    },
    Alert {
        id: String,
        name: String,
        severity: Severity,
        tags: Vec<String>,
        template: String,
    },
    Ban {
        src: Src,
        duration: i64,
        factor: u32,
        max: i64,
    },
    Unban(Src),
    Exec(Vec<String>),
    Report {
        section: String,
        template: String,
    },
    Log {
        level: LogLevel,
        template: String,
    },
    Noop,
}

/// The level of a `log` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

#[derive(Debug)]
pub(crate) enum Op {
    Filter {
        test: Test,
        not: bool,
        then: Option<usize>,
        otherwise: Option<usize>,
    },
    Action {
        act: Act,
        then: Option<usize>,
    },
}

#[derive(Debug)]
pub(crate) struct Chain {
    pub name: String,
    pub ops: Vec<Op>,
}

#[derive(Debug, Clone)]
pub(crate) struct CounterSpec {
    pub name: String,
    pub window: i64,
    pub distinct: bool,
}

/// A compiled ruleset: built once at load, run by [`crate::Engine`] on every event.
#[derive(Debug)]
pub struct Program {
    pub(crate) chains: Vec<Chain>,
    /// Chains run in order for each event (those no `then:`/`else:` names).
    pub(crate) top: Vec<usize>,
    /// Per [`action_bit`] of an event: the top-level chains that can do anything for it —
    /// those whose leading filters (before any jump or side effect) do not rule the
    /// action out. Skipping the others is what their failing first filter would do.
    pub(crate) by_action: Vec<Vec<usize>>,
    /// Per [`event_slot`] (action, outcome, dataset): the top-level chains that can do
    /// anything for such an event, each with how many of its leading filters are known to
    /// pass (pure tests of those three fields, before any jump or side effect). Most
    /// events no rule is about then cost one lookup (untraced runs only: a trace shows
    /// every step).
    pub(crate) dispatch: Vec<Vec<(usize, usize)>>,
    /// The template context's fixed fields: path, first segment, field.
    pub(crate) ctx_fields: Vec<(&'static str, &'static str, Field)>,
    /// Per template name: the top-level context names it reads, `None` for all of them
    /// (a template that can reach names the static analysis does not see).
    pub(crate) ctx_needs: HashMap<String, Option<Vec<String>>>,
    /// Per template name, for templates that only print fields (`{{ a.b }}`,
    /// `{{ a or b }}`): the same text, written without minijinja.
    pub(crate) plain: HashMap<String, Vec<Seg>>,
    pub(crate) vars: Vec<String>,
    /// How many distinct counter keys (and distinct fields) of event fields only the
    /// program uses: the engine builds and hashes each at most once per event.
    pub(crate) keys: usize,
    pub(crate) counters: Vec<CounterSpec>,
    pub(crate) max_keys: usize,
    pub(crate) max_hits: usize,
    pub(crate) ban_remember: i64,
    pub(crate) ban_max_entries: usize,
    pub(crate) env: minijinja::Environment<'static>,
    /// The `networks:` list named `ignore`: never counted by the default rules, and never
    /// covered by a ban (the agent checks every ban against it).
    pub(crate) ignore: Vec<Net>,
}

impl Program {
    /// Parses and checks a rules file. `file` names it in error messages.
    pub fn load(file: &str, src: &str) -> Result<Program, ConfigErrors> {
        let parsed: RulesFile = crate::strict_yaml::from_str(file, src).map_err(ConfigErrors)?;
        Compiler::new(file, src).compile(parsed)
    }

    /// The networks of the `ignore` list (`networks: {ignore: [...]}`), as address and prefix.
    pub fn ignore_networks(&self) -> Vec<(IpAddr, u8)> {
        self.ignore.iter().map(|n| (n.addr, n.prefix)).collect()
    }

    /// The names of the chains, in file order.
    pub fn chain_names(&self) -> impl Iterator<Item = &str> {
        self.chains.iter().map(|c| c.name.as_str())
    }

    /// The top-level chains (those no `then:`/`else:` names), in the order they run.
    pub fn top_level(&self) -> impl Iterator<Item = &str> {
        self.top.iter().map(|&c| self.chains[c].name.as_str())
    }

    /// Most keys one counter table holds (`counters.max_keys`).
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// The rule ids the ruleset's alerts can carry, in file order.
    pub fn rule_ids(&self) -> Vec<&str> {
        let mut ids = Vec::new();
        for c in &self.chains {
            for op in &c.ops {
                if let Op::Action {
                    act: Act::Alert { id, .. },
                    ..
                } = op
                {
                    if !ids.contains(&id.as_str()) {
                        ids.push(id.as_str());
                    }
                }
            }
        }
        ids
    }
}

/// The first segments of every event path: a saved field may not shadow them in templates.
fn reserved_top(name: &str) -> bool {
    name.starts_with('@')
        || Field::all_paths().any(|p| p.split('.').next() == Some(name))
        || name == "journald"
}

struct Compiler<'s> {
    file: String,
    lines: Vec<&'s str>,
    errors: Vec<ConfigError>,
    vars: Vec<String>,
    counters: Vec<CounterSpec>,
    counter_ids: HashMap<String, usize>,
    env: minijinja::Environment<'static>,
    templates: usize,
}

impl<'s> Compiler<'s> {
    fn new(file: &str, src: &'s str) -> Self {
        let mut env = minijinja::Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        Compiler {
            file: file.to_owned(),
            lines: src.lines().collect(),
            errors: Vec::new(),
            vars: Vec::new(),
            counters: Vec::new(),
            counter_ids: HashMap::new(),
            env,
            templates: 0,
        }
    }

    fn err_at(&mut self, line: u64, column: u64, message: String) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line: line.max(1),
            column: column.max(1),
            message,
        });
    }

    /// Reports an error at `key:` inside the step (or mapping) that starts at `at` — at the
    /// value, or at `item` inside it when given.
    fn err(&mut self, at: Location, key: &str, item: Option<&str>, message: String) {
        let (l, c) = self.locate(at, key, item);
        self.err_at(l, c, message);
    }

    fn locate(&self, at: Location, key: &str, item: Option<&str>) -> (u64, u64) {
        let (line0, col0) = (at.line() as usize, at.column() as usize);
        if line0 == 0 {
            return (1, 1);
        }
        let indent0 = col0.saturating_sub(1);
        let pat = format!("{key}:");
        let mut found: Option<(usize, usize)> = None;
        for (i, text) in self.lines.iter().enumerate().skip(line0 - 1) {
            let first = i == line0 - 1;
            let trimmed = text.trim_start();
            let indent = text.len() - trimmed.len();
            if !first && !trimmed.is_empty() && !trimmed.starts_with('#') && indent < indent0 {
                break;
            }
            let from = if first { indent0.min(text.len()) } else { 0 };
            if found.is_none() {
                let mut search = from;
                while let Some(p) = text.get(search..).and_then(|t| t.find(&pat)) {
                    let p = search + p;
                    let before = text[..p].chars().last();
                    if matches!(before, None | Some(' ' | '{' | ',' | '-')) {
                        let mut v = p + pat.len();
                        while text.as_bytes().get(v) == Some(&b' ') {
                            v += 1;
                        }
                        found = Some((i, v));
                        break;
                    }
                    search = p + pat.len();
                }
                if found.is_none() {
                    continue;
                }
            }
            let Some((fl, fc)) = found else { continue };
            let Some(item) = item else {
                return (fl as u64 + 1, fc as u64 + 1);
            };
            let start = if i == fl { fc } else { 0 };
            if let Some(p) = text.get(start..).and_then(|t| t.find(item)) {
                return (i as u64 + 1, (start + p) as u64 + 1);
            }
        }
        match found {
            Some((l, c)) => (l as u64 + 1, c as u64 + 1),
            None => (line0 as u64, col0 as u64),
        }
    }

    fn var(&mut self, name: &str) -> usize {
        match self.vars.iter().position(|v| v == name) {
            Some(i) => i,
            None => {
                self.vars.push(name.to_owned());
                self.vars.len() - 1
            }
        }
    }

    fn define_var(&mut self, at: Location, key: &str, name: &str) -> Option<usize> {
        if Field::parse(name).is_some() || name.contains('.') || reserved_top(name) {
            self.err(
                at,
                key,
                Some(name),
                format!("cannot save into `{name}`: a saved field is a plain name that no event field starts with"),
            );
            return None;
        }
        Some(self.var(name))
    }

    fn field(&mut self, at: Location, key: &str, path: &str) -> Option<Src> {
        if let Some(f) = Field::parse(path) {
            return Some(Src::Event(f));
        }
        if let Some(i) = self.vars.iter().position(|v| v == path) {
            return Some(Src::Var(i));
        }
        self.err(
            at,
            key,
            Some(path),
            format!("unknown field `{path}`: not an event field (event.action, source.ip, user.name, journald.* …) nor one a regex or counter saves"),
        );
        None
    }

    fn duration(&mut self, at: Location, key: &str, text: &str) -> Option<i64> {
        let d = parse_secs(text);
        if d.is_none() {
            self.err(
                at,
                key,
                Some(text),
                format!(
                    "bad duration `{text}`: expected a number with s, m, h, d or w (10m, 1h, 5d)"
                ),
            );
        }
        d
    }

    fn template(&mut self, at: Location, key: &str, text: &str) -> Option<String> {
        let name = format!("t{}", self.templates);
        self.templates += 1;
        match self.env.add_template_owned(name.clone(), text.to_owned()) {
            Ok(()) => Some(name),
            Err(e) => {
                let detail = e.detail().unwrap_or("syntax error").to_owned();
                self.err(
                    at,
                    key,
                    None,
                    format!(
                        "bad template: {detail} (template line {})",
                        e.line().unwrap_or(1)
                    ),
                );
                None
            }
        }
    }

    fn regex(&mut self, at: Location, key: &str, text: &str) -> Option<Regex> {
        match Regex::new(text) {
            Ok(r) => Some(r),
            Err(e) => {
                let msg = e.to_string();
                let last = msg.lines().last().unwrap_or("").trim().to_owned();
                self.err(at, key, Some(text), format!("bad regex: {last}"));
                None
            }
        }
    }

    fn counter(&mut self, name: &str) -> Option<usize> {
        self.counter_ids.get(name).copied()
    }

    fn compile(mut self, file: RulesFile) -> Result<Program, ConfigErrors> {
        let mut networks = self.networks(&file);
        let ban_remember = self.ban_remember(&file);
        let chains = &file.chains.0;
        let names = self.chain_names(chains);
        // First pass: the fields regexes and counters define, and the counters' windows.
        for (_, steps) in chains {
            for s in steps {
                self.define(s.referenced, &s.value);
            }
        }
        // Second pass: compile each step.
        let mut compiled = Vec::new();
        let mut referenced = vec![false; chains.len()];
        for (name, steps) in chains {
            let ops = steps
                .iter()
                .filter_map(|s| self.op(s, &names, &mut referenced, &networks))
                .collect();
            compiled.push(Chain {
                name: name.value.clone(),
                ops,
            });
        }
        self.check_cycles(chains, &compiled);
        if chains.is_empty() {
            self.err_at(1, 1, "no chains: a ruleset needs at least one".into());
        }
        if !self.errors.is_empty() {
            self.errors.sort_by_key(|e| (e.line, e.column));
            self.errors.dedup();
            return Err(ConfigErrors(self.errors));
        }
        let ignore = networks.remove("ignore").unwrap_or_default();
        Ok(self.program(&file, compiled, &referenced, ban_remember, ignore))
    }

    /// The `networks:` lists.
    fn networks(&mut self, file: &RulesFile) -> HashMap<String, Vec<Net>> {
        let mut networks: HashMap<String, Vec<Net>> = HashMap::new();
        for (name, items) in &file.networks {
            let mut nets = Vec::new();
            for item in items {
                match Net::parse(&item.value) {
                    Some(n) => nets.push(n),
                    None => self.err_at(
                        item.referenced.line(),
                        item.referenced.column(),
                        format!("bad network `{}` in list `{name}`: expected an address or CIDR (192.0.2.0/24, 2001:db8::/32)", item.value),
                    ),
                }
            }
            networks.insert(name.clone(), nets);
        }
        networks
    }

    /// `bans.remember` in seconds.
    fn ban_remember(&mut self, file: &RulesFile) -> i64 {
        let r = &file.bans.remember;
        match parse_secs(&r.value) {
            Some(d) => d,
            None => {
                self.err_at(
                    r.referenced.line(),
                    r.referenced.column(),
                    format!("bad duration `{}`", r.value),
                );
                0
            }
        }
    }

    /// Each chain's index by name; a name defined twice is an error.
    fn chain_names<'c>(
        &mut self,
        chains: &'c [(Spanned<String>, Vec<Spanned<Step>>)],
    ) -> HashMap<&'c str, usize> {
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, (name, _)) in chains.iter().enumerate() {
            if names.insert(name.value.as_str(), i).is_some() {
                self.err_at(
                    name.referenced.line(),
                    name.referenced.column(),
                    format!("chain `{}` is defined twice", name.value),
                );
            }
        }
        names
    }

    /// The first pass over a step: the fields its regexes and counters save, and the
    /// window of the counter it raises.
    fn define(&mut self, at: Location, step: &Step) {
        match step {
            Step::Regex { regex, .. } => {
                if let Ok(r) = Regex::new(regex) {
                    for n in r.capture_names().flatten() {
                        self.define_var(at, "regex", n);
                    }
                }
            }
            Step::RegexAny { regexes, .. } => {
                for text in regexes {
                    if let Ok(r) = Regex::new(text) {
                        for n in r.capture_names().flatten() {
                            self.define_var(at, "regexes", n);
                        }
                    }
                }
            }
            Step::CounterRaise {
                counter,
                window,
                distinct,
                save,
                ..
            } => {
                if let Some(save) = save {
                    self.define_var(at, "save", save);
                }
                self.define_counter(at, counter, window, distinct.is_some());
            }
            Step::CounterGet { save, .. } => {
                self.define_var(at, "save", save);
            }
            _ => {}
        }
    }

    /// A counter with its window; every `counter_raise` of it must agree.
    fn define_counter(&mut self, at: Location, counter: &str, window: &str, distinct: bool) {
        let Some(w) = self.duration(at, "window", window) else {
            return;
        };
        match self.counter(counter) {
            Some(i) => {
                let spec = self.counters[i].clone();
                if spec.window != w || spec.distinct != distinct {
                    self.err(at, "counter", Some(counter), format!("counter `{counter}` is raised elsewhere with another window or distinct field"));
                }
            }
            None => {
                self.counter_ids
                    .insert(counter.to_owned(), self.counters.len());
                self.counters.push(CounterSpec {
                    name: counter.to_owned(),
                    window: w,
                    distinct,
                });
            }
        }
    }

    /// The chain a `then:`/`else:` names, marked as jumped to.
    fn jump(
        &mut self,
        at: Location,
        key: &str,
        target: Option<&str>,
        names: &HashMap<&str, usize>,
        referenced: &mut [bool],
    ) -> Option<usize> {
        let t = target?;
        match names.get(t) {
            Some(&i) => {
                referenced[i] = true;
                Some(i)
            }
            None => {
                self.err(at, key, Some(t), format!("unknown chain `{t}` in {key}:"));
                None
            }
        }
    }

    /// The second pass over a step: its jumps, then its test or action (`None` when it has
    /// errors).
    fn op(
        &mut self,
        s: &Spanned<Step>,
        names: &HashMap<&str, usize>,
        referenced: &mut [bool],
        networks: &HashMap<String, Vec<Net>>,
    ) -> Option<Op> {
        let at = s.referenced;
        let (then, otherwise) = s.value.jumps();
        let then = self.jump(at, "then", then, names, referenced);
        let otherwise = self.jump(at, "else", otherwise, names, referenced);
        let not = s.value.negated();
        let filter = |test: Option<Test>| {
            test.map(|test| Op::Filter {
                test,
                not,
                then,
                otherwise,
            })
        };
        let action = |act: Option<Act>| act.map(|act| Op::Action { act, then });
        match &s.value {
            Step::Equals { field, value, .. } => filter(self.equals(at, field, &value.0)),
            Step::In { field, values, .. } => filter(self.in_test(at, field, values)),
            Step::Lt { field, value, .. } => filter(self.cmp(at, field, Cmp::Lt, *value)),
            Step::Le { field, value, .. } => filter(self.cmp(at, field, Cmp::Le, *value)),
            Step::Ge { field, value, .. } => filter(self.cmp(at, field, Cmp::Ge, *value)),
            Step::Gt { field, value, .. } => filter(self.cmp(at, field, Cmp::Gt, *value)),
            Step::Regex { field, regex, .. } => filter(self.regex_test(at, field, regex)),
            Step::RegexAny { field, regexes, .. } => filter(self.regex_any(at, field, regexes)),
            Step::Cidr {
                field, networks: n, ..
            } => filter(self.cidr(at, field, n, networks)),
            Step::Exists { field, .. } => filter(self.field(at, "field", field).map(Test::Exists)),
            Step::UserExists { field, .. } => {
                filter(self.field(at, "field", field).map(Test::UserExists))
            }
            Step::Continue { .. } => filter(Some(Test::Always)),
            Step::CounterRaise {
                counter,
                key,
                distinct,
                save,
                ..
            } => action(self.counter_raise(at, counter, key, distinct.as_deref(), save.as_deref())),
            Step::CounterGet {
                counter, key, save, ..
            } => action(self.counter_get(at, counter, key, save)),
            Step::CounterReset {
                counter,
                key,
                grace,
                ..
            } => action(self.counter_reset(at, counter, key, grace.as_deref())),
            Step::Alert {
                id,
                name,
                severity,
                tags,
                message,
                ..
            } => action(self.alert(at, id, name, severity, tags, message)),
            Step::Ban {
                field,
                duration,
                factor,
                max_duration,
                ..
            } => action(self.ban(at, field, duration, *factor, max_duration.as_deref())),
            Step::Unban { field, .. } => action(self.field(at, "field", field).map(Act::Unban)),
            Step::Exec { argv, .. } => action(self.exec(at, argv)),
            Step::Report {
                section, message, ..
            } => action(
                self.template(at, "message", message)
                    .map(|template| Act::Report {
                        section: section.clone(),
                        template,
                    }),
            ),
            Step::Log { level, message, .. } => action(self.log(at, level, message)),
            Step::Noop { .. } => action(Some(Act::Noop)),
        }
    }

    /// `lt`, `le`, `ge`, `gt`.
    fn cmp(&mut self, at: Location, field: &str, cmp: Cmp, value: i64) -> Option<Test> {
        self.field(at, "field", field)
            .map(|f| Test::Cmp(f, cmp, value))
    }

    /// `regex`: the capture groups save into the fields the first pass defined.
    fn regex_test(&mut self, at: Location, field: &str, regex: &str) -> Option<Test> {
        let f = self.field(at, "field", field);
        let r = self.regex(at, "regex", regex);
        match (f, r) {
            (Some(f), Some(r)) => {
                let saves = self.captures(&r);
                Some(Test::Regex(f, vec![(r, saves)]))
            }
            _ => None,
        }
    }

    /// `regexes`: the first that matches wins.
    fn regex_any(&mut self, at: Location, field: &str, regexes: &[String]) -> Option<Test> {
        let f = self.field(at, "field", field);
        let mut all = Vec::new();
        let mut ok = true;
        for text in regexes {
            match self.regex(at, "regexes", text) {
                Some(r) => {
                    let saves = self.captures(&r);
                    all.push((r, saves));
                }
                None => ok = false,
            }
        }
        f.filter(|_| ok).map(|f| Test::Regex(f, all))
    }

    /// `cidr`: addresses, CIDRs and names of `networks:` lists.
    fn cidr(
        &mut self,
        at: Location,
        field: &str,
        items: &[String],
        networks: &HashMap<String, Vec<Net>>,
    ) -> Option<Test> {
        let f = self.field(at, "field", field);
        let mut nets = Vec::new();
        let mut ok = true;
        for item in items {
            if let Some(list) = networks.get(item) {
                nets.extend_from_slice(list);
            } else if let Some(net) = Net::parse(item) {
                nets.push(net);
            } else {
                ok = false;
                self.err(at, "networks", Some(item), format!("bad network `{item}`: neither an address, a CIDR nor the name of a `networks:` list"));
            }
        }
        f.filter(|_| ok).map(|f| Test::Cidr(f, nets))
    }

    fn counter_raise(
        &mut self,
        at: Location,
        counter: &str,
        key: &[String],
        distinct: Option<&str>,
        save: Option<&str>,
    ) -> Option<Act> {
        let keys = self.keys(at, key);
        let d = distinct.map(|d| self.field(at, "distinct", d));
        let save = save.and_then(|s| self.vars.iter().position(|v| v == s));
        let c = self.counter(counter);
        match (keys, d, c) {
            (Some(key), None, Some(counter)) => Some(Act::Raise {
                counter,
                key,
                key_id: None,
                distinct: None,
                distinct_id: None,
                save,
            }),
            (Some(key), Some(Some(d)), Some(counter)) => Some(Act::Raise {
                counter,
                key,
                key_id: None,
                distinct: Some(d),
                distinct_id: None,
                save,
            }),
            _ => None,
        }
    }

    fn counter_get(
        &mut self,
        at: Location,
        counter: &str,
        key: &[String],
        save: &str,
    ) -> Option<Act> {
        let keys = self.keys(at, key);
        let c = self.known_counter(at, counter);
        let save = self.vars.iter().position(|v| v == save);
        match (keys, c, save) {
            (Some(key), Some(counter), Some(save)) => Some(Act::Get {
                counter,
                key,
                key_id: None,
                save,
            }),
            _ => None,
        }
    }

    fn counter_reset(
        &mut self,
        at: Location,
        counter: &str,
        key: &[String],
        grace: Option<&str>,
    ) -> Option<Act> {
        let keys = self.keys(at, key);
        let c = self.known_counter(at, counter);
        let g = match grace {
            Some(g) => self.duration(at, "grace", g),
            None => Some(0),
        };
        match (keys, c, g) {
            (Some(key), Some(counter), Some(grace)) => Some(Act::Reset {
                counter,
                key,
                key_id: None,
                grace,
            }),
            _ => None,
        }
    }

    fn alert(
        &mut self,
        at: Location,
        id: &str,
        name: &str,
        severity: &str,
        tags: &[String],
        message: &str,
    ) -> Option<Act> {
        let sev = Severity::parse(severity);
        if sev.is_none() {
            self.err(
                at,
                "severity",
                Some(severity),
                format!(
                    "bad severity `{severity}`: expected info, low, medium, high, critical or 1–5"
                ),
            );
        }
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            self.err(
                at,
                "id",
                None,
                format!("bad rule id `{id}`: letters, digits, `-` and `_` only"),
            );
        }
        let t = self.template(at, "message", message);
        match (sev, t) {
            (Some(severity), Some(template)) => Some(Act::Alert {
                id: id.to_owned(),
                name: name.to_owned(),
                severity,
                tags: tags.to_vec(),
                template,
            }),
            _ => None,
        }
    }

    fn ban(
        &mut self,
        at: Location,
        field: &str,
        duration: &str,
        factor: u32,
        max_duration: Option<&str>,
    ) -> Option<Act> {
        let f = self.field(at, "field", field);
        let d = self.duration(at, "duration", duration);
        let m = match max_duration {
            Some(m) => self.duration(at, "max_duration", m),
            None => Some(i64::MAX),
        };
        if factor == 0 {
            self.err(at, "factor", None, "factor must be at least 1".into());
        }
        match (f, d, m) {
            (Some(src), Some(duration), Some(max)) if factor > 0 => Some(Act::Ban {
                src,
                duration,
                factor,
                max,
            }),
            _ => None,
        }
    }

    fn exec(&mut self, at: Location, argv: &[String]) -> Option<Act> {
        if argv.is_empty() {
            self.err(
                at,
                "argv",
                None,
                "argv is empty: name the program to run".into(),
            );
        }
        let ts: Vec<Option<String>> = argv.iter().map(|a| self.template(at, "argv", a)).collect();
        ts.into_iter()
            .collect::<Option<Vec<_>>>()
            .filter(|v| !v.is_empty())
            .map(Act::Exec)
    }

    fn log(&mut self, at: Location, level: &str, message: &str) -> Option<Act> {
        let l = match level {
            "error" => Some(LogLevel::Error),
            "warn" => Some(LogLevel::Warn),
            "info" => Some(LogLevel::Info),
            "debug" => Some(LogLevel::Debug),
            _ => {
                self.err(
                    at,
                    "level",
                    Some(level),
                    format!("bad level `{level}`: expected error, warn, info or debug"),
                );
                None
            }
        };
        let t = self.template(at, "message", message);
        match (l, t) {
            (Some(level), Some(template)) => Some(Act::Log { level, template }),
            _ => None,
        }
    }

    /// Jumps may not loop.
    fn check_cycles(
        &mut self,
        chains: &[(Spanned<String>, Vec<Spanned<Step>>)],
        compiled: &[Chain],
    ) {
        let graph: Vec<Vec<usize>> = compiled
            .iter()
            .map(|c| {
                c.ops
                    .iter()
                    .flat_map(|op| match op {
                        Op::Filter {
                            then, otherwise, ..
                        } => [*then, *otherwise],
                        Op::Action { then, .. } => [*then, None],
                    })
                    .flatten()
                    .collect()
            })
            .collect();
        if let Some(c) = find_cycle(&graph) {
            let (name, _) = &chains[c];
            self.err_at(
                name.referenced.line(),
                name.referenced.column(),
                format!(
                    "chain `{}` can reach itself through then:/else: jumps",
                    name.value
                ),
            );
        }
    }

    /// The program of chains that compiled without an error: the top-level chains (those
    /// no jump names), their dispatch by action and event slot, the templates' needs.
    fn program(
        self,
        file: &RulesFile,
        mut compiled: Vec<Chain>,
        referenced: &[bool],
        ban_remember: i64,
        ignore: Vec<Net>,
    ) -> Program {
        let keys = intern_keys(&mut compiled);
        let top: Vec<usize> = (0..compiled.len()).filter(|&i| !referenced[i]).collect();
        let masks: Vec<u64> = top
            .iter()
            .map(|&c| admitted_actions(&compiled[c]))
            .collect();
        let by_action = (0..=Action::ALL.len())
            .map(|bit| {
                top.iter()
                    .zip(&masks)
                    .filter(|(_, m)| *m & (1 << bit) != 0)
                    .map(|(c, _)| *c)
                    .collect()
            })
            .collect();
        let dispatch = (0..SLOTS)
            .map(|slot| {
                top.iter()
                    .filter_map(|&c| Some((c, known_passes(&compiled[c], slot)?)))
                    .collect()
            })
            .collect();
        let ctx_fields: Vec<(&'static str, &'static str, Field)> = Field::all_paths()
            .filter_map(|p| Some((p, p.split('.').next()?, Field::parse(p)?)))
            .collect();
        let plain = (0..self.templates)
            .filter_map(|i| {
                let name = format!("t{i}");
                let t = self.env.get_template(&name).ok()?;
                let segs = plain_template(t.source(), &ctx_fields, &self.vars)?;
                Some((name, segs))
            })
            .collect();
        let ctx_needs = (0..self.templates)
            .filter_map(|i| {
                let name = format!("t{i}");
                let t = self.env.get_template(&name).ok()?;
                Some((name, context_needs(&t, &self.vars)))
            })
            .collect();
        Program {
            chains: compiled,
            top,
            by_action,
            dispatch,
            ctx_fields,
            ctx_needs,
            plain,
            vars: self.vars,
            keys,
            counters: self.counters,
            max_keys: file.counters.max_keys,
            max_hits: file.counters.max_hits,
            ban_remember,
            ban_max_entries: file.bans.max_entries,
            env: self.env,
            ignore,
        }
    }

    fn equals(&mut self, at: Location, field: &str, value: &str) -> Option<Test> {
        let f = self.field(at, "field", field)?;
        let bad = |c: &mut Self, what: &str, words: String| {
            c.err(
                at,
                "value",
                Some(value),
                format!("`{value}` is not a known {what} (one of: {words})"),
            );
            None
        };
        match f {
            Src::Event(Field::EventAction) => match Action::parse(value) {
                Some(a) => Some(Test::ActionIs(a)),
                None => bad(
                    self,
                    "event.action",
                    Action::ALL
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            },
            Src::Event(Field::EventOutcome) => {
                match Outcome::ALL.into_iter().find(|o| o.as_str() == value) {
                    Some(o) => Some(Test::OutcomeIs(o)),
                    None => bad(self, "event.outcome", "success, failure, unknown".into()),
                }
            }
            Src::Event(Field::EventDataset) => match Dataset::parse(value) {
                Some(d) => Some(Test::DatasetIs(d)),
                None => bad(
                    self,
                    "event.dataset",
                    Dataset::ALL
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            },
            f => Some(Test::Eq(f, value.to_owned())),
        }
    }

    fn in_test(
        &mut self,
        at: Location,
        field: &str,
        values: &[crate::config::Scalar],
    ) -> Option<Test> {
        let f = self.field(at, "field", field)?;
        if f == Src::Event(Field::EventDataset) {
            let mut mask = 0u128;
            for v in values {
                match Dataset::parse(&v.0) {
                    Some(d) => mask |= 1 << d as usize,
                    None => self.err(
                        at,
                        "values",
                        Some(&v.0),
                        format!("`{}` is not a known event.dataset", v.0),
                    ),
                }
            }
            return Some(Test::DatasetIn(mask));
        }
        if f != Src::Event(Field::EventAction) {
            return Some(Test::In(f, values.iter().map(|v| v.0.clone()).collect()));
        }
        let mut mask = 0u64;
        for v in values {
            match Action::parse(&v.0) {
                Some(a) => mask |= 1 << action_bit(Some(a)),
                None => self.err(
                    at,
                    "values",
                    Some(&v.0),
                    format!("`{}` is not a known event.action", v.0),
                ),
            }
        }
        Some(Test::ActionIn(mask))
    }

    fn keys(&mut self, at: Location, key: &[String]) -> Option<Vec<Src>> {
        if key.is_empty() {
            self.err(
                at,
                "key",
                None,
                "key is empty: name the fields to count by".into(),
            );
            return None;
        }
        let out: Vec<Option<Src>> = key.iter().map(|k| self.field(at, "key", k)).collect();
        out.into_iter().collect()
    }

    fn known_counter(&mut self, at: Location, name: &str) -> Option<usize> {
        let c = self.counter(name);
        if c.is_none() {
            self.err(
                at,
                "counter",
                Some(name),
                format!("counter `{name}` is never raised (no counter_raise names it)"),
            );
        }
        c
    }

    fn captures(&mut self, r: &Regex) -> Vec<(usize, usize)> {
        r.capture_names()
            .enumerate()
            .filter_map(|(i, n)| Some((i, self.vars.iter().position(|v| Some(v.as_str()) == n)?)))
            .collect()
    }
}

/// The bit of an event's action in action masks (`None` counts as `unknown`).
pub(crate) fn action_bit(a: Option<Action>) -> usize {
    // `Action::ALL` lists the variants in declaration order.
    a.unwrap_or(Action::Unknown) as usize
}

const DATASETS: usize = Dataset::ALL.len() + 1;
// A dataset's bit in a `DatasetIn` mask.
const _: () = assert!(Dataset::ALL.len() <= 128);
const OUTCOMES: usize = Outcome::ALL.len();
/// How many (action, outcome, dataset) combinations [`event_slot`] tells apart.
const SLOTS: usize = Action::ALL.len() * OUTCOMES * DATASETS;

/// The index of an event's (action, outcome, dataset) in [`Program::dispatch`].
#[inline]
pub(crate) fn event_slot(a: Option<Action>, o: Outcome, d: Option<Dataset>) -> usize {
    // `Outcome::ALL` and `Dataset::ALL` list the variants in declaration order; no
    // dataset takes the last place.
    let d = d.map_or(DATASETS - 1, |d| d as usize);
    (action_bit(a) * OUTCOMES + o as usize) * DATASETS + d
}

/// For an event of `slot`: `None` when one of the chain's leading pure filters (jump-free
/// tests of event.action, event.outcome or event.dataset) fails it, else how many of them
/// pass before the first other step.
fn known_passes(chain: &Chain, slot: usize) -> Option<usize> {
    let d = slot % DATASETS;
    let o = Outcome::ALL[slot / DATASETS % OUTCOMES];
    let a = Action::ALL[slot / DATASETS / OUTCOMES];
    let d = Dataset::ALL.get(d).copied();
    let mut n = 0;
    for op in &chain.ops {
        let Op::Filter {
            test,
            not,
            then: None,
            otherwise: None,
        } = op
        else {
            break;
        };
        let pass = match test {
            Test::ActionIs(x) => a == *x,
            Test::ActionIn(m) => m & (1 << action_bit(Some(a))) != 0,
            Test::OutcomeIs(x) => o == *x,
            Test::DatasetIs(x) => d == Some(*x),
            Test::DatasetIn(m) => d.is_some_and(|d| m & (1 << d as usize) != 0),
            _ => break,
        };
        if pass == *not {
            return None;
        }
        n += 1;
    }
    Some(n)
}

/// A value a plain template prints, as the template context holds it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ref {
    Field(Field),
    Var(usize),
    Now,
    SyslogSeverity,
}

/// A piece of a plain template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seg {
    Text(String),
    /// `{{ a or b or c }}`: the first of them that is not empty, else the last.
    Print(Vec<Ref>),
}

/// A template made only of text and `{{ path }}` / `{{ path or path … }}`, each path a
/// field the context holds as text — `None` for anything else (minijinja renders those).
/// Whether a field is there is only known per event: the engine falls back to minijinja
/// when one it needs is missing (an undefined value's attribute is an error there).
fn plain_template(
    src: &str,
    fields: &[(&'static str, &'static str, Field)],
    vars: &[String],
) -> Option<Vec<Seg>> {
    const KEYWORDS: [&str; 12] = [
        "true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if",
    ];
    // minijinja drops one trailing newline; comments, blocks and whitespace control, and
    // any brace in the text, are left to it.
    if src.ends_with(['\n', '\r']) || src.contains("{%") || src.contains("{#") {
        return None;
    }
    let text = |t: &str| (!t.contains(['{', '}'])).then(|| Seg::Text(t.to_owned()));
    let resolve = |path: &str| -> Option<Ref> {
        let ident = |p: &str| {
            let mut b = p.bytes();
            b.next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
                && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        };
        if !path.split('.').all(ident) || KEYWORDS.contains(&path) || path == "else" {
            return None;
        }
        // The context sets `now` and `syslog_severity` after the saved fields.
        if path == "now" {
            return Some(Ref::Now);
        }
        if path == "syslog_severity" {
            return (!vars.iter().any(|v| v == path)).then_some(Ref::SyslogSeverity);
        }
        if let Some(i) = vars.iter().position(|v| v == path) {
            return Some(Ref::Var(i));
        }
        if path.starts_with("winlog.event_data.") {
            return Field::parse(path).map(Ref::Field);
        }
        fields
            .iter()
            .find(|(p, _, _)| *p == path)
            .map(|(_, _, f)| Ref::Field(f.clone()))
    };
    let mut segs = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find("{{") {
        if i > 0 {
            segs.push(text(&rest[..i])?);
        }
        let after = &rest[i + 2..];
        let j = after.find("}}")?;
        let mut alts = Vec::new();
        for (k, tok) in after[..j].split_ascii_whitespace().enumerate() {
            match (k % 2, tok) {
                (0, path) => alts.push(resolve(path)?),
                (_, "or") => {}
                _ => return None,
            }
        }
        // Empty, or ending on `or`.
        if alts.is_empty() || after[..j].split_ascii_whitespace().count() % 2 == 0 {
            return None;
        }
        segs.push(Seg::Print(alts));
        rest = &after[j + 2..];
    }
    if !rest.is_empty() {
        segs.push(text(rest)?);
    }
    Some(segs)
}

/// The top-level context names a template reads, or `None` when it may read names the
/// static analysis cannot see (other templates, a global function): it then gets them all.
fn context_needs(t: &minijinja::Template<'_, '_>, vars: &[String]) -> Option<Vec<String>> {
    let src = t.source();
    if ["include", "import", "extends"]
        .iter()
        .any(|w| src.contains(w))
    {
        return None;
    }
    let names: Vec<String> = t.undeclared_variables(false).into_iter().collect();
    let known = |n: &str| {
        reserved_top(n) || vars.iter().any(|v| v == n) || n == "now" || n == "syslog_severity"
    };
    names.iter().all(|n| known(n)).then_some(names)
}

/// The actions a chain's leading filters let through: the pure, jump-free filters at its
/// start, up to the first step that could have an effect.
fn admitted_actions(chain: &Chain) -> u64 {
    let mut mask = u64::MAX;
    for op in &chain.ops {
        match op {
            Op::Filter {
                test,
                not: false,
                then: None,
                otherwise: None,
            } => match test {
                Test::ActionIs(a) => mask &= 1 << action_bit(Some(*a)),
                Test::ActionIn(m) => mask &= m,
                // Regexes save fields: a later chain may read them.
                Test::Regex(..) => break,
                _ => {}
            },
            _ => break,
        }
    }
    mask
}

/// Numbers the counter keys made of event fields only (a distinct field counts as a
/// one-field key: its encoding is the same); returns how many there are.
fn intern_keys(chains: &mut [Chain]) -> usize {
    let mut seen: Vec<Vec<Src>> = Vec::new();
    let mut id = |srcs: &[Src]| {
        if !srcs.iter().all(|s| matches!(s, Src::Event(_))) {
            return None;
        }
        Some(match seen.iter().position(|k| k.as_slice() == srcs) {
            Some(i) => i,
            None => {
                seen.push(srcs.to_vec());
                seen.len() - 1
            }
        })
    };
    for op in chains.iter_mut().flat_map(|c| c.ops.iter_mut()) {
        match op {
            Op::Action {
                act:
                    Act::Raise {
                        key,
                        key_id,
                        distinct,
                        distinct_id,
                        ..
                    },
                ..
            } => {
                *key_id = id(key);
                *distinct_id = distinct.as_ref().and_then(|d| id(std::slice::from_ref(d)));
            }
            Op::Action {
                act: Act::Get { key, key_id, .. } | Act::Reset { key, key_id, .. },
                ..
            } => *key_id = id(key),
            _ => {}
        }
    }
    seen.len()
}

/// A chain on a cycle of the jump graph, if any.
fn find_cycle(graph: &[Vec<usize>]) -> Option<usize> {
    // 0 unvisited, 1 on the stack, 2 done.
    let mut state = vec![0u8; graph.len()];
    for start in 0..graph.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack = vec![(start, 0usize)];
        state[start] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&succ) = graph[node].get(*next) {
                *next += 1;
                match state[succ] {
                    0 => {
                        state[succ] = 1;
                        stack.push((succ, 0));
                    }
                    1 => return Some(succ),
                    _ => {}
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let n = Net::parse("192.0.2.0/24").unwrap();
        assert!(n.contains("192.0.2.77".parse().unwrap()));
        assert!(!n.contains("192.0.3.1".parse().unwrap()));
        assert!(!n.contains("::1".parse().unwrap()));
        let all = Net::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let v6 = Net::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(Net::parse("::1").unwrap().contains("::1".parse().unwrap()));
        assert_eq!(Net::parse("10.0.0.0/33"), None);
        assert_eq!(Net::parse("10.0.0.256"), None);
        assert_eq!(Net::parse("ignore"), None);
    }

    #[test]
    fn cycles_are_found() {
        assert_eq!(find_cycle(&[vec![1], vec![2], vec![]]), None);
        assert!(find_cycle(&[vec![1], vec![2], vec![0]]).is_some());
        assert!(find_cycle(&[vec![0]]).is_some());
    }
}
