//! `logward run` following a live `.evtx` log (`type: evtx`) that the test fills in place the
//! way Windows does, from the chunks of `../shared/corpus/windows-evtx` (PROVENANCE.md §4):
//! killed with SIGKILL while a chunk is half visible and again while it reads, restarted, and
//! the log replaced by another — every record of both logs stored as an alert exactly once.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use logward_parse::windows::evtx::EvtxReader;
use logward_store::{SqliteStore, Store};
use logward_test_support::daemon::Daemon;
use logward_test_support::evtx::{LiveLog, Sample};

const BIN: &str = env!("CARGO_BIN_EXE_logward");

/// One alert per Security record, naming it.
const RULES: &str = "chains:\n  win:\n    - {type: equals, field: winlog.channel, value: Security}\n    - {type: alert, id: win-record, name: record, severity: info, message: \"record {{ winlog.record_id }} event {{ winlog.event_id }} at {{ winlog.computer_name }}\"}\n";

/// The alert messages every record of `file` should give.
fn messages(file: &Path) -> Vec<String> {
    EvtxReader::open(file)
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            format!(
                "record {} event {} at {}",
                r.record_id.unwrap(),
                r.event_id,
                r.computer
            )
        })
        .collect()
}

/// The stored alerts' messages, counted.
fn stored(state: &Path) -> BTreeMap<String, usize> {
    let mut s = SqliteStore::open_dir(state).unwrap();
    let mut out = BTreeMap::new();
    for a in s.alerts_between(0, i64::MAX, 100_000).unwrap() {
        let json: serde_json::Value = serde_json::from_str(&a.alert.json).unwrap();
        let message = json["message"].as_str().unwrap_or_default().to_owned();
        *out.entry(message).or_insert(0) += 1;
    }
    out
}

fn count(state: &Path) -> usize {
    stored(state).values().sum()
}

/// Waits until `n` alerts are stored (and fails the test with the daemon's log otherwise).
fn wait_stored(dm: &Daemon, state: &Path, n: usize) {
    let ok = logward_test_support::wait_until(Duration::from_secs(20), || {
        SqliteStore::open_dir(state).is_ok() && count(state) >= n
    });
    assert!(ok, "{} of {n} alerts stored\n{}", count(state), dm.log());
}

#[test]
fn every_record_is_alerted_once_across_kills_and_a_replaced_log() {
    let dir = logward_test_support::corpus("windows-evtx");
    let Some(dir) = dir else {
        return;
    };
    let spray = dir.join("deepbluecli/password-spray.evtx");
    let new_user = dir.join("deepbluecli/new-user-security.evtx");
    let sample = Sample::read(&spray);
    assert_eq!(sample.chunks(), 3);

    let d = tempfile::tempdir().unwrap();
    let log_path = d.path().join("Security.evtx");
    let mut log = LiveLog::create(&log_path, &sample, 4);
    std::fs::write(d.path().join("rules.yaml"), RULES).unwrap();
    let cfg = d.path().join("agent.yaml");
    std::fs::write(
        &cfg,
        "sources:\n  - {type: evtx, path: Security.evtx, start_at: beginning}\nrules: rules.yaml\noutput: {format: none}\n",
    )
    .unwrap();
    let state = d.path().join("state");

    let mut dm = Daemon::start(BIN, &cfg, &state, d.path());
    log.write(0, sample.chunk(0), 0, 1);
    let (_, first_last) = sample.ids(0);
    // The second chunk being filled: its header names 40 of its records so far.
    log.write(1, &sample.header_behind(1, 40), 0, 2);
    wait_stored(&dm, &state, first_last as usize + 40);
    dm.signal("KILL");
    assert_eq!(dm.wait(Duration::from_secs(5)), None); // killed by a signal: no code
    drop(dm);

    // While it is down the chunk fills and the next one is written.
    log.write(1, sample.chunk(1), 0, 2);
    log.write(2, sample.chunk(2), 0, 3);
    let mut dm = Daemon::start(BIN, &cfg, &state, d.path());
    wait_stored(&dm, &state, 200);
    // Killed again, wherever it is in the rest.
    dm.signal("KILL");
    assert_eq!(dm.wait(Duration::from_secs(5)), None); // killed by a signal: no code
    drop(dm);
    let dm = Daemon::start(BIN, &cfg, &state, d.path());
    let spray_messages = messages(&spray);
    assert_eq!(spray_messages.len(), 295);
    wait_stored(&dm, &state, 295);

    // The log cleared and replaced by another: its records from the first.
    let copy = d.path().join("incoming.evtx");
    std::fs::copy(&new_user, &copy).unwrap();
    std::fs::rename(&copy, &log_path).unwrap();
    wait_stored(&dm, &state, 299);
    assert!(
        dm.wait_log("not the log of the checkpoint", Duration::from_secs(5)),
        "the replacement is logged\n{}",
        dm.log()
    );
    // A few more looks: nothing is repeated.
    std::thread::sleep(Duration::from_millis(1200));
    dm.stop();

    let mut want: BTreeMap<String, usize> = BTreeMap::new();
    for m in spray_messages.into_iter().chain(messages(&new_user)) {
        *want.entry(m).or_insert(0) += 1;
    }
    let got = stored(&state);
    let wrong: Vec<_> = want
        .iter()
        .filter(|(m, n)| got.get(*m) != Some(n))
        .map(|(m, n)| format!("{m}: want {n}, stored {:?}", got.get(m)))
        .chain(
            got.keys()
                .filter(|m| !want.contains_key(*m))
                .map(|m| format!("{m}: not a record")),
        )
        .collect();
    assert!(wrong.is_empty(), "not exactly once: {wrong:#?}");
}
