//! A real agent forwarding to a real collector, both the binary under test on 127.0.0.1:
//! enrolment, events and alerts stored centrally, and a collector outage while the agent
//! keeps writing — nothing lost, nothing twice once it returns.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use logward_store::{CollectorStore as _, SqliteStore, Store};
use logward_test_support::{append, free_port, spawn, wait_port, wait_until};

#[path = "support/run.rs"]
mod run;
use run::{forwarding_agent, numbered_failures as failures};

const BIN: &str = env!("CARGO_BIN_EXE_logward");

/// (events, alerts) stored by the collector.
fn stored(cstate: &Path) -> (u64, usize) {
    let Ok(mut s) = SqliteStore::open_dir(cstate) else {
        return (0, 0);
    };
    let events = s.count_fleet_events(None).unwrap_or(0);
    let alerts = s
        .alerts_between(0, i64::MAX, 100_000)
        .map_or(0, |a| a.len());
    (events, alerts)
}

#[test]
fn an_agent_forwards_to_a_collector_through_an_outage_without_loss() {
    let d = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let cstate = d.path().join("collector");
    let ccfg = d.path().join("collector.yaml");
    std::fs::write(
        &ccfg,
        format!(
            "listen: 127.0.0.1:{port}\nstate_dir: {}\n",
            cstate.display()
        ),
    )
    .unwrap();
    let start_collector = || {
        let c = spawn(
            BIN,
            &["collector", "--config", ccfg.to_str().unwrap()],
            &d.path().join("collector.err"),
        );
        assert!(wait_port(port, Duration::from_secs(30)));
        c
    };
    let collector = start_collector();

    let out = Command::new(BIN)
        .args(["collector", "token", "create", "--config"])
        .arg(&ccfg)
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap();
    let token = token.split_whitespace().last().unwrap().to_owned();

    // The token from standard input (--token-file -), so it never shows in `ps`.
    let (log, astate, _agent) = forwarding_agent(d.path(), &url, &format!("  {token}  \n"));

    // Five failures from one address: five events and a brute-force alert, stored centrally.
    append(&log, &failures(0, 5));
    assert!(
        wait_until(Duration::from_secs(30), || stored(&cstate) == (5, 1)),
        "{:?}",
        stored(&cstate)
    );

    // The collector goes away while the agent keeps writing, then comes back.
    drop(collector);
    append(&log, &failures(5, 300));
    // Back only once the agent has read them all, during the outage.
    let status = || {
        Command::new(BIN)
            .args(["status", "--state-dir"])
            .arg(&astate)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    assert!(
        wait_until(Duration::from_secs(30), || status()
            .contains("running: 305 lines,")),
        "{}",
        status()
    );
    let _collector = start_collector();
    // 305 events, and every alert the agent raised (61 brute forces, a distributed one…).
    let agent_alerts = || {
        SqliteStore::open_dir(&astate)
            .unwrap()
            .alerts_between(0, i64::MAX, 100_000)
            .unwrap()
            .len()
    };
    assert!(
        wait_until(Duration::from_secs(30), || stored(&cstate)
            == (305, agent_alerts())),
        "{:?} vs {}\n{}",
        stored(&cstate),
        agent_alerts(),
        std::fs::read_to_string(d.path().join("agent.err")).unwrap_or_default()
    );
    assert!(agent_alerts() >= 61);
    // Each forwarded event and alert carries its raw line (the dashboard shows it).
    let mut s = SqliteStore::open_dir(&cstate).unwrap();
    let line = failures(7, 1);
    let line = line.trim_end();
    let events = s.fleet_event_json(1000).unwrap();
    let original = |json: &str| {
        serde_json::from_str::<serde_json::Value>(json).unwrap()["event"]["original"]
            .as_str()
            .map(str::to_owned)
    };
    assert!(
        events.iter().all(|j| original(j).is_some()),
        "{}",
        events[0]
    );
    assert!(events.iter().any(|j| original(j).as_deref() == Some(line)));
    let alerts = s.alerts_between(0, i64::MAX, 1000).unwrap();
    assert!(alerts.iter().all(|a| original(&a.alert.json).is_some()));
    drop(s);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        stored(&cstate),
        (305, agent_alerts()),
        "nothing stored twice"
    );
}
