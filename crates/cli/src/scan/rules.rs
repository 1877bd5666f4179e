//! `logward scan --rules default|FILE`: replays the scanned log through the rule workflow,
//! with each event's own `@timestamp` as the clock, and prints the alerts the live agent
//! would have given (NDJSON, a table, or a count per rule).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use logward_core::{write_alert, Event, Severity, Timestamp};
use logward_engine::{Effect, Engine, Program, Runner, Timing, DEFAULT_RULES};

use super::anomaly::Anomaly;
use super::Format;

/// Loads `default` (the built-in ruleset) or a rules file; errors are the checker's
/// `file:line:column: message` lines.
pub fn load(spec: &str) -> anyhow::Result<Program> {
    if spec == "default" {
        return Program::load("default.yaml", DEFAULT_RULES).map_err(|e| anyhow::anyhow!("{e}"));
    }
    let text = std::fs::read_to_string(Path::new(spec))
        .with_context(|| format!("cannot read rules file {spec}"))?;
    Program::load(spec, &text).map_err(|e| anyhow::anyhow!("{e}"))
}

pub const TABLE_HEADER: &str =
    "TIME                       SEVERITY  RULE                        SOURCE                  USER             MESSAGE";

/// The replay: the runner (rules on each event's own time), the detector, per-rule counts.
#[derive(Debug)]
pub struct Replay {
    /// Without rules for `logward learn` (profiles only).
    runner: Runner,
    anomaly: Option<Anomaly>,
    effects: Vec<Effect>,
    per_rule: BTreeMap<String, (u64, Severity)>,
    bans: u64,
}

/// A replay has no clock: events act at their own time (the runner's [`Timing::Replay`]).
const NO_CLOCK: Timestamp = Timestamp {
    unix: 0,
    nanos: 0,
    offset: 0,
};

impl Replay {
    pub fn new(program: Option<Program>, anomaly: Option<Anomaly>) -> Replay {
        let runner = match program {
            // Counters are never saved by a scan.
            Some(p) => Runner::new(Engine::new(p), Timing::Replay, std::time::Duration::MAX),
            None => Runner::without_rules(Timing::Replay),
        };
        Replay {
            runner,
            anomaly,
            effects: Vec::new(),
            per_rule: BTreeMap::new(),
            bans: 0,
        }
    }

    /// Runs one event; appends its alerts to `buf` in `format` (summary: counted only).
    pub fn event(&mut self, e: &mut Event<'_>, format: Format, buf: &mut Vec<u8>) {
        let mut effects = std::mem::take(&mut self.effects);
        match self.anomaly.as_mut() {
            Some(a) => self.runner.event(e, NO_CLOCK, a, &mut effects),
            None => self
                .runner
                .event(e, NO_CLOCK, &mut logward_engine::NoStages, &mut effects),
        }
        for fx in effects.drain(..) {
            let a = match fx {
                Effect::Alert(a) | Effect::Detected(a) => a,
                Effect::Ban { .. } => {
                    self.bans += 1;
                    continue;
                }
                _ => continue,
            };
            let entry = self
                .per_rule
                .entry(a.rule_id.clone())
                .or_insert((0, a.severity));
            entry.0 += 1;
            entry.1 = entry.1.max(a.severity);
            match format {
                Format::Ndjson => {
                    write_alert(buf, &a);
                    buf.push(b'\n');
                }
                Format::Table => table_row(buf, &a),
                Format::Summary => {}
            }
        }
        self.effects = effects;
    }

    /// Ends the replay: with `--learn`, writes the profiles. Returns what to tell the user.
    pub fn finish(&mut self) -> anyhow::Result<Option<String>> {
        let Some(a) = self.anomaly.as_mut() else {
            return Ok(None);
        };
        let logins = a.logins();
        Ok(a.finish()?.map(|(n, dir)| {
            format!(
                "logward: {logins} logins learnt; {n} profiles written to {}",
                dir.display()
            )
        }))
    }

    /// `--format summary`: alerts per rule.
    pub fn render_summary(&self, lines: u64) -> String {
        let mut s = String::new();
        let total: u64 = self.per_rule.values().map(|v| v.0).sum();
        s.push_str(&format!(
            "lines {lines}  alerts {total}  ban requests {}\n\n",
            self.bans
        ));
        s.push_str("ALERTS  SEVERITY  RULE\n");
        let mut rows: Vec<_> = self.per_rule.iter().collect();
        rows.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
        for (rule, (n, sev)) in rows {
            s.push_str(&format!("{n:>6}  {:<8}  {rule}\n", sev.as_str()));
        }
        let evicted = self.runner.engine().map_or(0, |e| e.stats().evicted);
        if evicted > 0 {
            s.push_str(&format!(
                "\ncounter keys evicted (tables full): {}\n",
                evicted
            ));
        }
        s
    }
}

fn table_row(buf: &mut Vec<u8>, a: &logward_core::Alert) {
    let time = a
        .event
        .timestamp
        .map(|t| t.to_string())
        .unwrap_or_else(|| "-".into());
    let cols: [(&str, usize); 6] = [
        (&time, 26),
        (a.severity.as_str(), 9),
        (&a.rule_id, 27),
        (a.event.source_address.as_deref().unwrap_or("-"), 23),
        (a.event.user_name.as_deref().unwrap_or("-"), 16),
        (&a.message, 0),
    ];
    super::output::columns(buf, &cols);
}
