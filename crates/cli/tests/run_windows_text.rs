//! `logward run` following a Winlogbeat `output.file` (one JSON document per line) and a file
//! of pretty-printed Event XML, both written while it runs — an XML event arriving in two
//! writes is joined across them — and a stray `<Event` line that hides nothing after it:
//! every event alerted once, with its record's fields.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use logward_store::{SqliteStore, Store};
use logward_test_support::daemon::Daemon;

const BIN: &str = env!("CARGO_BIN_EXE_logward");

/// One alert per Windows event (and per sshd failure), naming it.
const RULES: &str = "chains:\n  win:\n    - {type: equals, field: winlog.channel, value: Security}\n    - {type: alert, id: win-record, name: record, severity: info, message: \"record {{ winlog.record_id }} event {{ winlog.event_id }} user {{ user.name }} from {{ source.ip }}\"}\n  ssh:\n    - {type: equals, field: process.name, value: sshd}\n    - {type: alert, id: ssh-line, name: ssh, severity: info, message: \"sshd {{ user.name }} from {{ source.ip }}\"}\n";

fn doc(record: u32, id: u32, user: &str) -> String {
    format!(
        r#"{{"@timestamp":"2026-11-22T10:00:00.000Z","host":{{"name":"dc1"}},"event":{{"code":"{id}"}},"winlog":{{"channel":"Security","event_id":{id},"record_id":{record},"provider_name":"Microsoft-Windows-Security-Auditing","computer_name":"dc1.corp.test","event_data":{{"TargetUserName":"{user}","LogonType":"3","IpAddress":"203.0.113.{record}","IpPort":"0"}}}}}}"#
    )
}

fn pretty(record: u32, user: &str) -> String {
    format!(
        "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">\n  <System>\n    \
         <Provider Name=\"Microsoft-Windows-Security-Auditing\"/>\n    <EventID>4625</EventID>\n    \
         <TimeCreated SystemTime=\"2026-11-22T10:00:01.1234567Z\"/>\n    <EventRecordID>{record}</EventRecordID>\n    \
         <Channel>Security</Channel>\n    <Computer>dc2.corp.test</Computer>\n  </System>\n  <EventData>\n    \
         <Data Name=\"TargetUserName\">{user}</Data>\n    <Data Name=\"LogonType\">3</Data>\n    \
         <Data Name=\"IpAddress\">198.51.100.{record}</Data>\n  </EventData>\n</Event>\n"
    )
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn stored(state: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let Ok(mut s) = SqliteStore::open_dir(state) else {
        return out;
    };
    for a in s.alerts_between(0, i64::MAX, 10_000).unwrap_or_default() {
        let json: serde_json::Value = serde_json::from_str(&a.alert.json).unwrap();
        let message = json["message"].as_str().unwrap_or_default().to_owned();
        *out.entry(message).or_insert(0) += 1;
    }
    out
}

fn wait_stored(dm: &Daemon, state: &Path, n: usize) {
    let ok = logward_test_support::wait_until(Duration::from_secs(20), || {
        stored(state).values().sum::<usize>() >= n
    });
    assert!(ok, "{:?}, want {n}\n{}", stored(state), dm.log());
}

#[test]
fn winlogbeat_file_and_event_xml_followed_live() {
    let d = tempfile::tempdir().unwrap();
    let (wlb, xml) = (
        d.path().join("winlogbeat.ndjson"),
        d.path().join("events.xml"),
    );
    append(
        &wlb,
        &format!("{}\n{}\n", doc(1, 4625, "alice"), doc(2, 4624, "bob")),
    );
    append(&xml, &pretty(11, "carol"));
    std::fs::write(d.path().join("rules.yaml"), RULES).unwrap();
    let cfg = d.path().join("agent.yaml");
    std::fs::write(
        &cfg,
        "sources:\n  - {type: file, path: winlogbeat.ndjson, start_at: beginning}\n  - {type: file, path: events.xml, start_at: beginning}\nrules: rules.yaml\noutput: {format: none}\n",
    )
    .unwrap();
    let state = d.path().join("state");
    let dm = Daemon::start(BIN, &cfg, &state, d.path());
    wait_stored(&dm, &state, 3);

    // Written while it runs: a document, and an XML event in two writes.
    append(&wlb, &format!("{}\n", doc(3, 4625, "dave")));
    let next = pretty(12, "erin");
    let (head, tail) = next.split_at(next.find("<EventData>").unwrap());
    append(&xml, head);
    wait_stored(&dm, &state, 4);
    append(&xml, tail);
    // A stray `<Event` (anyone who writes a line may write one), then a line it must not hide.
    append(
        &xml,
        "<Event x='never closed'>\nNov 22 10:00:09 dc2 sshd[7]: Failed password for root from 192.0.2.7 port 22 ssh2\n",
    );
    append(&xml, &pretty(13, "frank"));
    wait_stored(&dm, &state, 7);
    dm.stop();

    let want: BTreeMap<String, usize> = [
        "record 1 event 4625 user alice from 203.0.113.1",
        "record 2 event 4624 user bob from 203.0.113.2",
        "record 3 event 4625 user dave from 203.0.113.3",
        "record 11 event 4625 user carol from 198.51.100.11",
        "record 12 event 4625 user erin from 198.51.100.12",
        "record 13 event 4625 user frank from 198.51.100.13",
        "sshd root from 192.0.2.7",
    ]
    .into_iter()
    .map(|m| (m.to_owned(), 1))
    .collect();
    assert_eq!(stored(&state), want);
}
