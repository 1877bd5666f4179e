//! Engine state saved and restored: a restart (or a reload) in the middle of an attack keeps
//! its windows and its ban escalation.
#![allow(clippy::unwrap_used)]

use logward_core::Timestamp;
use logward_engine::{default_program, Engine, Output};
use logward_parse::{LineDecoder, YearResolver};

fn at(unix: i64) -> Timestamp {
    Timestamp {
        unix,
        nanos: 0,
        offset: 0,
    }
}

/// 10:00:00 on 3 March 2026, UTC.
const T0: i64 = 1_772_532_000;

fn failure(min: u32, sec: u32, ip: &str, user: &str) -> String {
    format!(
        "Mar  3 {:02}:{:02}:{:02} srv sshd[1]: Failed password for {user} from {ip} port 4000 ssh2",
        10 + min / 60,
        min % 60,
        sec
    )
}

fn run(engine: &mut Engine, lines: &[String]) -> Vec<Output> {
    let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
    let mut out = Vec::new();
    for l in lines {
        let e = d.decode(l);
        engine.replay(&e, at(0), &mut out);
    }
    out
}

fn alerts(out: &[Output], rule: &str) -> usize {
    out.iter()
        .filter(|o| matches!(o, Output::Alert(a) if a.rule_id == rule))
        .count()
}

fn bans(out: &[Output]) -> Vec<(i64, u32)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Ban {
                duration, offence, ..
            } => Some((*duration, *offence)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_window_spans_a_restart() {
    let ip = "203.0.113.5";
    let mut first = Engine::new(default_program());
    let before: Vec<_> = (0..3).map(|i| failure(0, i, ip, "root")).collect();
    assert_eq!(alerts(&run(&mut first, &before), "ssh-bruteforce"), 0);
    let saved = first.snapshot(at(T0 + 10));

    let mut second = Engine::new(default_program());
    let r = second.restore(&saved, at(T0 + 20)).unwrap();
    assert!(r.counters > 0 && r.keys > 0, "{r:?}");
    assert_eq!(r.dropped, 0);
    // Two more failures make five in the window: the alert the first engine would have given.
    let after: Vec<_> = (3..5).map(|i| failure(0, 20 + i, ip, "root")).collect();
    let out = run(&mut second, &after);
    assert_eq!(alerts(&out, "ssh-bruteforce"), 1);

    // Without the snapshot the same two failures are not enough.
    let mut forgetful = Engine::new(default_program());
    assert_eq!(alerts(&run(&mut forgetful, &after), "ssh-bruteforce"), 0);
}

#[test]
fn ban_escalation_spans_a_restart() {
    let ip = "203.0.113.8";
    let burst = |start: u32| -> Vec<String> {
        (0..5)
            .map(|i| failure(start, i, ip, "root"))
            .collect::<Vec<_>>()
    };
    let mut first = Engine::new(default_program());
    assert_eq!(bans(&run(&mut first, &burst(0))), [(3600, 1)]);
    let saved = first.snapshot(at(T0 + 60));

    let mut second = Engine::new(default_program());
    assert_eq!(second.restore(&saved, at(T0 + 120)).unwrap().bans, 1);
    // The second offence, 20 minutes later, is banned twice as long.
    assert_eq!(bans(&run(&mut second, &burst(20))), [(7200, 2)]);
}

#[test]
fn a_damaged_snapshot_loads_nothing() {
    let mut first = Engine::new(default_program());
    run(
        &mut first,
        &(0..3)
            .map(|i| failure(0, i, "203.0.113.9", "root"))
            .collect::<Vec<_>>(),
    );
    let saved = first.snapshot(at(T0 + 10));
    let mut e = Engine::new(default_program());
    for cut in [0, 3, 4, saved.len() / 2, saved.len() - 1] {
        assert!(e.restore(&saved[..cut], at(T0)).is_err(), "cut at {cut}");
        assert_eq!(e.stats().keys, 0);
    }
    let mut extra = saved.clone();
    extra.push(0);
    assert!(e.restore(&extra, at(T0)).is_err());
    assert!(e.restore(b"LWS2", at(T0)).is_err());
    assert!(e.restore(&saved, at(T0 + 10)).is_ok());
}

#[test]
fn expired_state_is_not_restored() {
    let mut first = Engine::new(default_program());
    run(&mut first, &[failure(0, 0, "203.0.113.10", "root")]);
    let saved = first.snapshot(at(T0 + 1));
    let mut e = Engine::new(default_program());
    // Two days later every window (the longest is a day at most) has passed.
    let r = e.restore(&saved, at(T0 + 2 * 86_400)).unwrap();
    assert_eq!(r.keys, 0, "{r:?}");
}
