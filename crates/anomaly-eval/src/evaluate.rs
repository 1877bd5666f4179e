//! Runs a [`Detector`] over a labelled [`Scenario`] and measures it: recall per attack type,
//! precision, and false alerts per 1,000 normal logins (also per kind of normal login).
//! An attack counts as detected when its login raised `login-anomaly` or
//! `impossible-travel`; a normal login that raised either is a false alert.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::scenario::{AttackKind, Event, Label, NormalKind, Scenario};
use logward_engine::anomaly::{
    features, Detector, NoProfiles, Settings, RULE_ANOMALY, RULE_TRAVEL,
};

/// Logins of one kind and how many alerted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub logins: u64,
    pub alerts: u64,
}

impl Count {
    /// alerts / logins (0 when there are none).
    pub fn rate(&self) -> f64 {
        if self.logins == 0 {
            0.0
        } else {
            self.alerts as f64 / self.logins as f64
        }
    }
}

/// One login the detector got wrong: a normal one that alerted, or a missed attack.
#[derive(Debug, Clone)]
pub struct Mistake {
    pub label: Label,
    pub user: String,
    pub time: i64,
    pub rules: Vec<&'static str>,
    pub score: f32,
    pub reasons: String,
}

/// Mistakes kept per kind, to explain the figures.
const MISTAKES_PER_KIND: usize = 10;

/// The figures of one run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub attacks: BTreeMap<AttackKind, Count>,
    pub normal: BTreeMap<NormalKind, Count>,
    /// The first few false alerts and missed attacks of each kind.
    pub mistakes: Vec<Mistake>,
}

impl Report {
    /// Detected attacks over all attacks of this type.
    pub fn recall(&self, k: AttackKind) -> f64 {
        self.attacks.get(&k).copied().unwrap_or_default().rate()
    }
    fn total(m: &BTreeMap<impl Ord, Count>) -> Count {
        m.values().fold(Count::default(), |a, c| Count {
            logins: a.logins + c.logins,
            alerts: a.alerts + c.alerts,
        })
    }
    /// All attack logins, all normal logins.
    pub fn attack_total(&self) -> Count {
        Self::total(&self.attacks)
    }
    pub fn normal_total(&self) -> Count {
        Self::total(&self.normal)
    }
    /// True alerts over all alerts (1 when nothing alerted).
    pub fn precision(&self) -> f64 {
        let t = self.attack_total().alerts;
        let f = self.normal_total().alerts;
        if t + f == 0 {
            1.0
        } else {
            t as f64 / (t + f) as f64
        }
    }
    /// False alerts per 1,000 normal logins.
    pub fn false_per_1000(&self) -> f64 {
        self.normal_total().rate() * 1000.0
    }
    /// The same without the normal logins in the 24 h after an attack on the user (whose
    /// alerts are mostly the attack's own trail, e.g. the way back from the attacker's place).
    pub fn false_per_1000_clean(&self) -> f64 {
        let c = Self::total(
            &self
                .normal
                .iter()
                .filter(|(k, _)| **k != NormalKind::AfterAttack)
                .map(|(k, c)| (*k, *c))
                .collect::<BTreeMap<_, _>>(),
        );
        c.rate() * 1000.0
    }
}

/// Runs a fresh detector with `settings` over the scenario.
pub fn run(s: &Scenario, settings: &Settings) -> Report {
    let mut d = Detector::new(settings.clone());
    let mut r = Report::default();
    for e in &s.events {
        match e {
            Event::Failure { ip, time } => d.failure(*ip, *time),
            Event::AccountCreated { host, user, time } => d.account_created(host, user, *time),
            Event::Login(l, label) => {
                let v = d.login(&l.login(), &mut NoProfiles);
                let alert = v
                    .rules
                    .iter()
                    .any(|r| *r == RULE_ANOMALY || *r == RULE_TRAVEL);
                let c = match label {
                    Label::Attack(k) => r.attacks.entry(*k).or_default(),
                    Label::Normal(k) => r.normal.entry(*k).or_default(),
                };
                c.logins += 1;
                c.alerts += u64::from(alert);
                let wrong = alert == matches!(label, Label::Normal(_));
                if wrong
                    && r.mistakes.iter().filter(|m| m.label == *label).count() < MISTAKES_PER_KIND
                {
                    r.mistakes.push(Mistake {
                        label: *label,
                        user: l.user.clone(),
                        time: l.time,
                        rules: v.rules.clone(),
                        score: v.score,
                        reasons: features::words(&v.reasons, 4),
                    });
                }
            }
        }
    }
    r
}

/// The scenario run with the LOF on and off.
pub fn both(s: &Scenario, settings: &Settings) -> (Report, Report) {
    let on = Settings {
        use_lof: true,
        ..settings.clone()
    };
    let off = Settings {
        use_lof: false,
        ..settings.clone()
    };
    (run(s, &on), run(s, &off))
}

/// The mistakes of a report, a line each.
pub fn mistakes(r: &Report) -> String {
    let mut out = String::new();
    for m in &r.mistakes {
        let what = match m.label {
            Label::Attack(k) => format!("missed {}", k.name()),
            Label::Normal(k) => format!("false alert on {}", k.name()),
        };
        let _ = writeln!(
            out,
            "{what}: {} at {} [{}] score {:.2}: {}",
            m.user,
            m.time,
            m.rules.join(", "),
            m.score,
            m.reasons
        );
    }
    out
}

/// A plain-text table of reports side by side, e.g. `[("LOF on", &a), ("LOF off", &b)]`.
pub fn table(runs: &[(&str, &Report)]) -> String {
    let mut out = String::new();
    let w = 26;
    let _ = write!(out, "{:<w$}", "");
    for (name, _) in runs {
        let _ = write!(out, " {name:>18}");
    }
    out.push('\n');
    let row = |out: &mut String, label: &str, cells: Vec<String>| {
        let _ = write!(out, "{label:<w$}");
        for c in cells {
            let _ = write!(out, " {c:>18}");
        }
        out.push('\n');
    };
    row(
        &mut out,
        "recall per attack type",
        runs.iter().map(|_| String::new()).collect(),
    );
    for k in AttackKind::ALL {
        row(
            &mut out,
            &format!("  {}", k.name()),
            runs.iter()
                .map(|(_, r)| {
                    let c = r.attacks.get(&k).copied().unwrap_or_default();
                    format!("{:.3} ({}/{})", c.rate(), c.alerts, c.logins)
                })
                .collect(),
        );
    }
    row(
        &mut out,
        "precision",
        runs.iter()
            .map(|(_, r)| format!("{:.3}", r.precision()))
            .collect(),
    );
    row(
        &mut out,
        "false alerts / 1000 normal",
        runs.iter()
            .map(|(_, r)| {
                let c = r.normal_total();
                format!("{:.2} ({}/{})", r.false_per_1000(), c.alerts, c.logins)
            })
            .collect(),
    );
    row(
        &mut out,
        "  without after-attack",
        runs.iter()
            .map(|(_, r)| format!("{:.2}", r.false_per_1000_clean()))
            .collect(),
    );
    row(
        &mut out,
        "false alerts by kind",
        runs.iter().map(|_| String::new()).collect(),
    );
    for k in NormalKind::ALL {
        row(
            &mut out,
            &format!("  {}", k.name()),
            runs.iter()
                .map(|(_, r)| {
                    let c = r.normal.get(&k).copied().unwrap_or_default();
                    format!("{}/{}", c.alerts, c.logins)
                })
                .collect(),
        );
    }
    out
}
