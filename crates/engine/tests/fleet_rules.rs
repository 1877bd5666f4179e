//! The built-in fleet ruleset: `fleet-bruteforce` fires once an address has failed on three
//! hosts within ten minutes, bans it (escalating), and stays quiet for that address for a
//! window.

use logward_core::Timestamp;
use logward_engine::{fleet_program, Engine, Output};
use logward_parse::{LineDecoder, YearResolver};

fn at(unix: i64) -> Timestamp {
    Timestamp {
        unix,
        nanos: 0,
        offset: 0,
    }
}

/// Decodes one sshd failure logged by `host` and runs it through the engine at `t`.
fn fail(engine: &mut Engine, host: &str, ip: &str, t: i64) -> Vec<Output> {
    let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
    let line = format!(
        "Mar  3 10:00:00 {host} sshd[100]: Failed password for root from {ip} port 40000 ssh2"
    );
    let mut e = d.decode(&line);
    // The collector sets the sending agent (here one per host).
    e.agent_id = Some(format!("agent-{host}").into());
    let mut out = Vec::new();
    engine.process_at(&e, at(t), &mut out);
    out
}

fn alerts(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Alert(a) => Some(a.rule_id.clone()),
            _ => None,
        })
        .collect()
}

fn ban_secs(out: &[Output]) -> Option<i64> {
    out.iter().find_map(|o| match o {
        Output::Ban { duration, .. } => Some(*duration),
        _ => None,
    })
}

#[test]
fn three_hosts_make_a_fleet_ban_two_do_not() {
    let mut e = Engine::new(fleet_program());
    let t0 = 1_800_000_000;
    // Many failures on two hosts: no fleet rule.
    for i in 0..10 {
        let host = if i % 2 == 0 { "web01" } else { "web02" };
        assert!(fail(&mut e, host, "203.0.113.5", t0 + i).is_empty());
    }
    // A third host: one alert and one 4 h ban.
    let out = fail(&mut e, "db01", "203.0.113.5", t0 + 20);
    assert_eq!(alerts(&out), ["fleet-bruteforce"]);
    assert_eq!(ban_secs(&out), Some(4 * 3600));
    let Some(Output::Ban { rule_id, .. }) = out.iter().find(|o| matches!(o, Output::Ban { .. }))
    else {
        unreachable!()
    };
    assert_eq!(rule_id.as_deref(), Some("fleet-bruteforce"));
    // Quiet for that address for the window, even on more hosts.
    for (i, h) in ["a", "b", "c", "d"].iter().enumerate() {
        assert!(fail(&mut e, h, "203.0.113.5", t0 + 30 + i as i64).is_empty());
    }
    // After the grace: again, and the ban doubles.
    let t1 = t0 + 20 + 601;
    assert!(fail(&mut e, "a", "203.0.113.5", t1).is_empty());
    assert!(fail(&mut e, "b", "203.0.113.5", t1 + 1).is_empty());
    let out = fail(&mut e, "c", "203.0.113.5", t1 + 2);
    assert_eq!(ban_secs(&out), Some(8 * 3600));
}

#[test]
fn the_window_is_ten_minutes_and_loopback_is_ignored() {
    let mut e = Engine::new(fleet_program());
    let t0 = 1_800_000_000;
    assert!(fail(&mut e, "h1", "198.51.100.7", t0).is_empty());
    assert!(fail(&mut e, "h2", "198.51.100.7", t0 + 300).is_empty());
    // The first host's failure has left the window.
    assert!(fail(&mut e, "h3", "198.51.100.7", t0 + 601).is_empty());
    assert_eq!(
        alerts(&fail(&mut e, "h4", "198.51.100.7", t0 + 602)),
        ["fleet-bruteforce"]
    );
    for h in ["h1", "h2", "h3", "h4"] {
        assert!(fail(&mut e, h, "127.0.0.1", t0 + 700).is_empty());
        assert!(fail(&mut e, h, "::1", t0 + 700).is_empty());
    }
}

#[test]
fn a_window_spans_a_restart() {
    let mut e = Engine::new(fleet_program());
    let t0 = 1_800_000_000;
    fail(&mut e, "h1", "192.0.2.9", t0);
    fail(&mut e, "h2", "192.0.2.9", t0 + 1);
    let snap = e.snapshot(at(t0 + 2));
    let mut e = Engine::new(fleet_program());
    e.restore(&snap, at(t0 + 3))
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        alerts(&fail(&mut e, "h3", "192.0.2.9", t0 + 4)),
        ["fleet-bruteforce"]
    );
}

/// One Windows failed logon (4625, type 3) of `user` logged by `host`, from `ip`.
fn windows_fail(engine: &mut Engine, host: &str, user: &str, ip: &str, t: i64) -> Vec<Output> {
    let mut r = logward_parse::windows::WinRecord {
        provider: "Microsoft-Windows-Security-Auditing".into(),
        event_id: 4625,
        channel: "Security".into(),
        computer: host.into(),
        ..Default::default()
    };
    for (k, v) in [
        ("TargetUserName", user),
        ("Status", "0xc000006d"),
        ("SubStatus", "0xc000006a"),
        ("LogonType", "3"),
        ("IpAddress", ip),
    ] {
        r.push_data(k, v.to_owned());
    }
    let mut e = logward_parse::windows::decode(&r);
    e.agent_id = Some(format!("agent-{host}").into());
    let mut out = Vec::new();
    engine.process_at(&e, at(t), &mut out);
    out
}

#[test]
fn windows_failures_count_across_hosts_and_machine_accounts_do_not() {
    let mut e = Engine::new(fleet_program());
    let t0 = 1_800_000_000;
    // A workstation whose computer account's password is stale fails on three servers.
    for (i, host) in ["fs01", "fs02", "dc01"].iter().enumerate() {
        let out = windows_fail(&mut e, host, "WS07$", "10.0.5.7", t0 + i as i64);
        assert!(out.is_empty(), "{out:?}");
    }
    // A person's account guessed on three servers from one address: a fleet brute force.
    let mut fired = Vec::new();
    for (i, host) in ["fs01", "fs02", "dc01"].iter().enumerate() {
        fired.extend(alerts(&windows_fail(
            &mut e,
            host,
            "Administrator",
            "198.51.100.4",
            t0 + 10 + i as i64,
        )));
    }
    assert_eq!(fired, ["fleet-bruteforce"]);
}
