//! Conformance with CrowdSec's Windows hub tests (`windows-logs`, `windows-bf`: Security
//! 4625 events as Event XML, one per line; `windows-logs` pasted from Event Viewer with its
//! `- ` fold markers; assertion format in the corpus's PROVENANCE.md §3).
//!
//! - `windows-logs/parser.assert`: `Parsed["Channel"|"Computer"|"EventID"|"Source"]` and
//!   `Meta["timestamp"]` against the record and event;
//! - `windows-bf/scenario.assert`: every event the alert lists, in file order, with its
//!   `source_ip`, `username`, `logon_type`, `status`, `sub_status` and `timestamp`, and the
//!   alert's source among its events'.
//!
//! Both files are read three ways — by the line decoder (the agent's and `scan`'s text
//! path), by the stream reader in one piece (`scan` on a file that starts with XML) and in
//! small pieces — and must give the same events.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;

use logward_core::{Action, Event, Outcome, Timestamp};
use logward_parse::windows::{self, xml::Splitter};

/// `…GetMeta("KEY") == "VALUE"` / `…Parsed["KEY"] == "VALUE"` of event `I` → (i, key, value).
fn asserts(text: &str, events_marker: &str) -> BTreeMap<usize, BTreeMap<String, String>> {
    let mut out: BTreeMap<usize, BTreeMap<String, String>> = BTreeMap::new();
    for line in text.lines() {
        let Some((lhs, value)) = line.split_once(" == ") else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<String>(value.trim()) else {
            continue;
        };
        let Some(rest) = lhs.split_once(events_marker).map(|(_, r)| r) else {
            continue;
        };
        let Some((i, rest)) = rest.split_once(']') else {
            continue;
        };
        let key = rest
            .split_once("GetMeta(\"")
            .or_else(|| rest.split_once("Parsed[\""))
            .or_else(|| rest.split_once("Meta[\""))
            .and_then(|(_, k)| k.split_once('"'))
            .map(|(k, _)| k.to_owned());
        if let (Ok(i), Some(k)) = (i.parse(), key) {
            out.entry(i).or_default().insert(k, value);
        }
    }
    out
}

/// The file's events through the line decoder, the stream reader, and the stream reader in
/// 7-byte pieces; all three must agree.
fn read_three_ways(text: &str) -> Vec<Event<'static>> {
    let mut d = common::decoder();
    let mut by_line = Vec::new();
    for l in text.lines() {
        let mut e = Event::default();
        if d.decode_into(l, &mut e) {
            while let Some(j) = d.take_joined() {
                by_line.push(j);
            }
            by_line.push(e.into_owned());
        }
    }
    d.finish();
    by_line.extend(std::iter::from_fn(|| d.take_joined()));
    for piece in [text.len(), 7] {
        let mut s = Splitter::default();
        let mut records = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let mut cut = piece.min(rest.len());
            while !rest.is_char_boundary(cut) {
                cut += 1;
            }
            s.push(&rest[..cut], &mut records);
            rest = &rest[cut..];
        }
        s.finish(&mut records);
        let streamed: Vec<Event<'static>> = records
            .into_iter()
            .map(|r| windows::decode(&r.unwrap()).into_owned())
            .collect();
        assert_eq!(streamed.len(), by_line.len(), "pieces of {piece}");
        for (a, b) in streamed.iter().zip(&by_line) {
            assert_eq!(a, b, "pieces of {piece}");
        }
    }
    by_line
}

fn same_time(got: Option<Timestamp>, want: &str) {
    let (want_t, _) = Timestamp::parse_rfc3339(want.as_bytes()).unwrap();
    let got = got.unwrap();
    assert_eq!((got.unix, got.nanos), (want_t.unix, want_t.nanos), "{want}");
}

#[test]
fn windows_logs_parser_asserts() {
    let Some(dir) = logward_test_support::corpus("crowdsec-hub/windows-logs") else {
        return;
    };
    let text = common::read_lossy(&dir.join("windows-logs.log"));
    let events = read_three_ways(&text);
    assert_eq!(events.len(), 1);
    let want = asserts(
        &std::fs::read_to_string(dir.join("parser.assert")).unwrap(),
        "[\"crowdsecurity/windows-eventlog\"][",
    );
    let want = &want[&0];
    let e = &events[0];
    let w = e.winlog.as_deref().unwrap();
    assert_eq!(w.channel, want["Channel"]);
    assert_eq!(w.computer_name, want["Computer"]);
    assert_eq!(w.event_id.to_string(), want["EventID"]);
    assert_eq!(w.provider_name, want["Source"]);
    assert_eq!(e.host_name.as_deref(), Some(want["Computer"].as_str()));
    let enrich = asserts(
        &std::fs::read_to_string(dir.join("parser.assert")).unwrap(),
        "[\"crowdsecurity/dateparse-enrich\"][",
    );
    same_time(e.timestamp, &enrich[&0]["timestamp"]);
    // The 4625 itself: a failed logon of the user, from the address.
    assert_eq!(
        (e.action(), e.outcome),
        (Action::UserLogin, Outcome::Failure)
    );
    assert_eq!(e.user_name.as_deref(), Some("testuser@mydomain.test"));
    assert_eq!(e.source_ip, "192.168.9.212".parse().ok());
}

#[test]
fn windows_bf_scenario_events() {
    let Some(dir) = logward_test_support::corpus("crowdsec-hub/windows-bf") else {
        return;
    };
    let text = common::read_lossy(&dir.join("windows-bf.log"));
    let events = read_three_ways(&text);
    let scenario = std::fs::read_to_string(dir.join("scenario.assert")).unwrap();
    let want = asserts(&scenario, "Alert.Events[");
    assert_eq!(want.len(), 6);
    assert_eq!(events.len(), want.len());
    let mut sources = Vec::new();
    for (i, meta) in &want {
        let e = &events[*i];
        let w = e.winlog.as_deref().unwrap();
        assert_eq!(
            (e.action(), e.outcome),
            (Action::UserLogin, Outcome::Failure),
            "{i}"
        );
        assert_eq!(e.source_ip, meta["source_ip"].parse().ok(), "{i}");
        assert_eq!(
            e.user_name.as_deref(),
            Some(meta["username"].as_str()),
            "{i}"
        );
        assert_eq!(
            w.data("LogonType"),
            Some(meta["logon_type"].as_str()),
            "{i}"
        );
        assert_eq!(w.logon_type, Some("network"), "{i}");
        assert_eq!(w.data("Status"), Some(meta["status"].as_str()), "{i}");
        assert_eq!(
            w.data("SubStatus"),
            Some(meta["sub_status"].as_str()),
            "{i}"
        );
        same_time(e.timestamp, &meta["timestamp"]);
        sources.extend(e.source_address.as_deref().map(str::to_owned));
    }
    assert!(scenario.contains("\"192.168.9.212\" in results[0].Overflow.GetSources()"));
    assert!(sources.iter().any(|s| s == "192.168.9.212"));
}
