//! The rule language: filters, actions, jumps, counters and config errors, on hand-made
//! events with a manual clock.

use std::borrow::Cow;
use std::collections::HashSet;

use logward_core::{Action, Clock, Dataset, Event, ManualClock, Outcome};
use logward_engine::{Engine, LogLevel, Output, Program, StaticUsers};

fn engine(yaml: &str) -> Engine {
    Engine::new(Program::load("t.yaml", yaml).unwrap_or_else(|e| panic!("{e}")))
}

fn event(user: &str, ip: &str) -> Event<'static> {
    let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
    e.user_name = Some(Cow::Owned(user.to_owned()));
    e.set_source(Cow::Owned(ip.to_owned()), Some(22));
    e.message = Some(Cow::Owned(format!("Failed password for {user} from {ip}")));
    e
}

fn logs(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Log { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn run(engine: &mut Engine, e: &Event<'_>, clock: &dyn Clock) -> Vec<String> {
    let mut out = Vec::new();
    engine.process(e, clock, &mut out);
    logs(&out)
}

#[test]
fn filters() {
    let mut en = engine(
        r#"
networks:
  lan: [10.0.0.0/8, "fd00::/8"]
chains:
  eq:
    - {type: equals, field: event.action, value: user-login}
    - {type: equals, field: user.name, value: root}
    - {type: log, message: "eq"}
    - {type: continue}
  in:
    - {type: in, field: user.name, values: [alice, root]}
    - {type: log, message: "in"}
    - {type: continue}
  cmp:
    - {type: ge, field: source.port, value: 22}
    - {type: lt, field: source.port, value: 23}
    - {type: le, field: source.port, value: 22}
    - {type: gt, field: source.port, value: 21}
    - {type: log, message: "cmp"}
    - {type: continue}
  rx:
    - {type: regex, field: message, regex: 'for (?P<who>\w+) from'}
    - {type: log, message: "rx {{ who }}"}
    - {type: continue}
  rxany:
    - {type: regex_any, field: user.name, regexes: ['^adm', '^(?P<first>r)oot$']}
    - {type: log, message: "any {{ first }}"}
    - {type: continue}
  cidr:
    - {type: cidr, field: source.ip, networks: [lan, 192.0.2.1]}
    - {type: log, message: "cidr"}
    - {type: continue}
  exists:
    - {type: exists, field: process.pid, not: true}
    - {type: log, message: "no pid"}
    - {type: continue}
  users:
    - {type: user_exists, field: user.name}
    - {type: log, message: "known"}
"#,
    )
    .with_users(Box::new(StaticUsers(HashSet::from(["root".to_owned()]))));
    let c = ManualClock::at(0);
    assert_eq!(
        run(&mut en, &event("root", "10.1.2.3"), &c),
        ["eq", "in", "cmp", "rx root", "any r", "cidr", "no pid", "known"]
    );
    assert_eq!(
        run(&mut en, &event("bob", "192.0.2.2"), &c),
        ["cmp", "rx bob", "no pid"]
    );
    assert_eq!(
        run(&mut en, &event("admin", "fd00::1"), &c),
        ["cmp", "rx admin", "any ", "cidr", "no pid"]
    );
}

#[test]
fn jumps_and_chain_ends() {
    let mut en = engine(
        r#"
chains:
  first:
    - {type: equals, field: user.name, value: root, then: rooty, else: other}
  rooty:
    - {type: log, message: "rooty"}
  other:
    - {type: log, message: "other"}
    - {type: continue}
  second:
    - {type: equals, field: user.name, value: bob}
    - {type: log, message: "second"}
    - {type: noop, then: tail}
  tail:
    - {type: exists, field: user.name}
  last:
    - {type: log, message: "last"}
"#,
    );
    assert_eq!(
        en.program().top_level().collect::<Vec<_>>(),
        ["first", "second", "last"]
    );
    let c = ManualClock::at(0);
    // then: → a chain ending on an action stops everything.
    assert_eq!(run(&mut en, &event("root", "192.0.2.1"), &c), ["rooty"]);
    // else: → a chain ending on a filter goes on with the next top-level chain; a failing
    // filter falls through; chains only jumped to are skipped in the top-level order.
    assert_eq!(
        run(&mut en, &event("eve", "192.0.2.1"), &c),
        ["other", "last"]
    );
    // An action's then: jumps; the jumped-to chain ends on a filter, so the next top-level
    // chain after the one we came from runs.
    assert_eq!(
        run(&mut en, &event("bob", "192.0.2.1"), &c),
        ["other", "second", "last"]
    );
}

#[test]
fn counters_windows_distinct_and_grace() {
    let mut en = engine(
        r#"
chains:
  count:
    - {type: counter_raise, counter: c, key: [source.ip], window: 10m, save: n}
    - {type: counter_raise, counter: d, key: [source.ip], window: 10m, distinct: user.name, save: users}
    - {type: log, message: "{{ n }}/{{ users }}"}
    - {type: equals, field: user.name, value: reset, then: reset}
  reset:
    - {type: counter_reset, counter: c, key: [source.ip], grace: 1h}
"#,
    );
    let c = ManualClock::at(1_000_000);
    assert_eq!(run(&mut en, &event("a", "192.0.2.1"), &c), ["1/1"]);
    assert_eq!(run(&mut en, &event("a", "192.0.2.1"), &c), ["2/1"]);
    assert_eq!(run(&mut en, &event("b", "192.0.2.1"), &c), ["3/2"]);
    assert_eq!(run(&mut en, &event("b", "192.0.2.2"), &c), ["1/1"]);
    c.advance(601);
    assert_eq!(run(&mut en, &event("b", "192.0.2.1"), &c), ["1/1"]);
    // A reset with grace: the key is not counted for an hour.
    assert_eq!(run(&mut en, &event("reset", "192.0.2.1"), &c), ["2/2"]);
    assert_eq!(run(&mut en, &event("a", "192.0.2.1"), &c), ["0/3"]);
    c.advance(3601);
    assert_eq!(run(&mut en, &event("a", "192.0.2.1"), &c), ["1/1"]);
}

#[test]
fn actions_emit_outputs() {
    let mut en = engine(
        r#"
chains:
  all:
    - type: alert
      id: test-rule
      name: Test rule
      severity: high
      tags: [t]
      message: "{{ user.name }} from {{ source.ip }}"
    - {type: ban, duration: 10m, factor: 3, max_duration: 1h}
    - {type: unban}
    - {type: exec, argv: [/usr/bin/logger, "-t", "x", "{{ user.name }}"]}
    - {type: report, section: SSH, message: "r {{ user.name }}"}
    - {type: log, level: warn, message: "w"}
"#,
    );
    let c = ManualClock::at(0);
    let mut out = Vec::new();
    let e = event("x; rm -rf /", "192.0.2.1");
    en.process(&e, &c, &mut out);
    en.process(&e, &c, &mut out);
    en.process(&e, &c, &mut out);
    let Output::Alert(a) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(a.rule_id, "test-rule");
    assert_eq!(a.message, "x; rm -rf / from 192.0.2.1");
    assert_eq!(a.severity, logward_core::Severity::High);
    assert_eq!(a.tags, ["t"]);
    assert_eq!(a.event.source_ip, Some("192.0.2.1".parse().unwrap()));
    let bans: Vec<i64> = out
        .iter()
        .filter_map(|o| match o {
            Output::Ban { duration, .. } => Some(*duration),
            _ => None,
        })
        .collect();
    assert_eq!(bans, [600, 1800, 3600]);
    assert!(out.contains(&Output::Unban {
        ip: "192.0.2.1".parse().unwrap()
    }));
    // The user name stays one argument: no shell ever sees it.
    assert!(out.contains(&Output::Exec {
        argv: vec![
            "/usr/bin/logger".into(),
            "-t".into(),
            "x".into(),
            "x; rm -rf /".into()
        ]
    }));
    assert!(out.contains(&Output::Report {
        section: "SSH".into(),
        message: "r x; rm -rf /".into()
    }));
    assert!(out.contains(&Output::Log {
        level: LogLevel::Warn,
        message: "w".into()
    }));
    assert_eq!(en.stats().alerts, 3);
}

#[test]
fn a_flood_of_addresses_stays_under_the_bound() {
    let mut en = engine(
        r#"
counters: {max_keys: 50000}
chains:
  count:
    - {type: counter_raise, counter: c, key: [source.ip], window: 10m, save: n}
"#,
    );
    let mut out = Vec::new();
    let mut e = event("root", "192.0.2.1");
    let mut max = 0;
    for i in 0u32..1_000_000 {
        e.source_ip = Some(std::net::IpAddr::V4((0x0a00_0000 + i).into()));
        en.process_at(
            &e,
            logward_core::Timestamp {
                unix: (i / 1000) as i64,
                nanos: 0,
                offset: 0,
            },
            &mut out,
        );
        if i % 10_000 == 0 {
            max = max.max(en.stats().keys);
        }
    }
    let s = en.stats();
    assert!(max <= 50_000 && s.keys <= 50_000, "{s:?}");
    // Most keys were evicted (the rest expired and were swept).
    assert!(s.evicted >= 900_000, "{s:?}");
}

#[test]
fn config_errors_are_all_reported_with_file_line_column() {
    let yaml = "\
chains:
  a:
    - {type: equals, field: event.action, value: login}
    - {type: regex, field: message, regex: 'a(b'}
    - type: cidr
      field: source.ip
      networks: [10.0.0.0/33]
    - {type: exists, field: source.geo}
    - {type: noop, then: nowhere}
    - type: alert
      id: x
      name: X
      message: \"{{ user.name \"
";
    let err = Program::load("rules.yaml", yaml).unwrap_err().to_string();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 6, "{err}");
    assert!(
        lines[0].starts_with("rules.yaml:3:50: `login` is not a known event.action"),
        "{err}"
    );
    assert!(lines[1].starts_with("rules.yaml:4:45: bad regex"), "{err}");
    assert!(
        lines[2].starts_with("rules.yaml:7:18: bad network `10.0.0.0/33`"),
        "{err}"
    );
    assert!(
        lines[3].starts_with("rules.yaml:8:29: unknown field `source.geo`"),
        "{err}"
    );
    assert!(
        lines[4].starts_with("rules.yaml:9:26: unknown chain `nowhere`"),
        "{err}"
    );
    assert!(
        lines[5].starts_with("rules.yaml:13:16: bad template"),
        "{err}"
    );
}

#[test]
fn syntax_errors_carry_the_position() {
    let err = Program::load(
        "r.yaml",
        "chains:\n  a:\n    - {type: equals, field: x, value: y, colour: red}\n",
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("r.yaml:3:"), "{text}");
    assert!(text.contains("colour"), "{text}");
    let err = Program::load("r.yaml", "chains:\n  a:\n    - {type: frobnicate}\n").unwrap_err();
    assert!(err.to_string().starts_with("r.yaml:3:"), "{err}");
    assert!(err.to_string().contains("frobnicate"), "{err}");
}

#[test]
fn loops_and_unknown_counters_are_rejected() {
    let err = Program::load(
        "r.yaml",
        "chains:\n  a:\n    - {type: noop, then: b}\n  b:\n    - {type: noop, then: a}\n  c:\n    - {type: counter_get, counter: nope, key: [source.ip], save: n}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("can reach itself"), "{err}");
    assert!(
        err.contains("r.yaml:7:36: counter `nope` is never raised"),
        "{err}"
    );
}

/// `in` on event.dataset compiles to a bit mask, like `equals` on it: its values are checked
/// at load, and an event without a dataset is in no list.
#[test]
fn in_on_the_dataset_is_checked_at_load_and_matches_by_value() {
    let mut en = engine(
        r#"
chains:
  win:
    - {type: in, field: event.dataset, values: [windows.security, windows.rdp]}
    - {type: log, message: "in"}
  not-win:
    - {type: in, field: event.dataset, values: [windows.security, windows.rdp], not: true}
    - {type: log, message: "not in"}
"#,
    );
    let clock = ManualClock::at(1_000);
    let mut e = event("root", "192.0.2.1");
    assert_eq!(run(&mut en, &e, &clock), ["not in"]);
    e.dataset = Some(Dataset::WindowsRdp);
    assert_eq!(run(&mut en, &e, &clock), ["in"]);
    e.dataset = None;
    assert_eq!(run(&mut en, &e, &clock), ["not in"]);
    let err = Program::load(
        "rules.yaml",
        "chains:\n  a:\n    - {type: in, field: event.dataset, values: [sshd, windows.securty]}\n    - {type: noop}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("rules.yaml:3:")
            && err.contains("`windows.securty` is not a known event.dataset"),
        "{err}"
    );
}
