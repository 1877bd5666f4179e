//! `logward scan` on Windows records in text: a `wevtutil qe /f:xml` export (events back to
//! back, one line far over the line limit; also UTF-16LE, as PowerShell 5 writes files),
//! Winlogbeat JSON on stdin, pretty-printed Event XML
//! among syslog lines, and a malformed event among good ones — the real binary on real files.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn logward() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_logward"));
    c.env("TZ", "UTC");
    c
}

fn events(o: &Output) -> Vec<Value> {
    assert!(o.status.success(), "{o:?}");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l}: {e}")))
        .collect()
}

/// A 4625 as `wevtutil` renders it (no newline), record `n`, from 198.51.100.`n % 250`.
fn failed_logon(n: u32) -> String {
    format!(
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>\
         <Provider Name='Microsoft-Windows-Security-Auditing' Guid='{{54849625-5478-4994-a5ba-3e3b0328c30d}}'/>\
         <EventID>4625</EventID><Version>0</Version><Level>0</Level><Task>12544</Task>\
         <TimeCreated SystemTime='2026-11-22T10:00:{:02}.1234567Z'/><EventRecordID>{n}</EventRecordID>\
         <Execution ProcessID='712' ThreadID='20372'/><Channel>Security</Channel><Computer>dc1.corp.test</Computer>\
         <Security/></System><EventData><Data Name='SubjectUserSid'>S-1-0-0</Data>\
         <Data Name='TargetUserName'>user{n}</Data><Data Name='Status'>0xc000006d</Data>\
         <Data Name='SubStatus'>0xc0000064</Data><Data Name='LogonType'>3</Data>\
         <Data Name='WorkstationName'>KALI</Data><Data Name='IpAddress'>198.51.100.{}</Data>\
         <Data Name='IpPort'>0</Data></EventData></Event>",
        n % 60,
        n % 250
    )
}

#[test]
fn a_wevtutil_export_longer_than_a_line_reads_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("security.xml");
    let stream: String = (1..=300).map(failed_logon).collect();
    assert!(stream.len() > 2 * 64 * 1024 && !stream.contains('\n'));
    std::fs::write(&path, &stream).unwrap();
    let o = logward()
        .args(["scan", "--format", "ndjson", path.to_str().unwrap()])
        .output()
        .unwrap();
    let evs = events(&o);
    assert_eq!(evs.len(), 300);
    for (i, e) in evs.iter().enumerate() {
        let n = i as u32 + 1;
        assert_eq!(e["event"]["action"], "user-login");
        assert_eq!(e["event"]["outcome"], "failure");
        assert_eq!(e["user"]["name"], format!("user{n}"));
        assert_eq!(e["source"]["ip"], format!("198.51.100.{}", n % 250));
        assert_eq!(e["winlog"]["record_id"], n.to_string());
        assert_eq!(e["logward"]["windows"]["logon_type"], "network");
        assert!(e["event"].get("original").is_none());
    }
    let o = logward()
        .args(["scan", "--format", "summary", path.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("malformed-records 0"), "{text}");
    assert!(text.contains("cut-at-64KiB 0"), "{text}");
    // The same export as PowerShell 5's `>` writes it: UTF-16LE with a byte-order mark.
    let utf16 = dir.path().join("security-utf16.xml");
    let bytes: Vec<u8> = format!("\u{feff}{stream}\r\n")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    std::fs::write(&utf16, bytes).unwrap();
    let o = logward()
        .args(["scan", "--format", "ndjson", utf16.to_str().unwrap()])
        .output()
        .unwrap();
    let again = events(&o);
    assert_eq!(again.len(), 300);
    for (a, b) in evs.iter().zip(&again) {
        assert_eq!(a["winlog"], b["winlog"]);
        assert_eq!(a["user"], b["user"]);
    }
}

#[test]
fn winlogbeat_documents_on_stdin_among_syslog_lines() {
    let doc = |n: u32, id: &str| {
        format!(
            r#"{{"@timestamp":"2026-11-22T10:00:0{n}.000Z","host":{{"name":"dc1"}},"event":{{"code":"{id}"}},"winlog":{{"channel":"Security","event_id":{id},"record_id":{n},"provider_name":"Microsoft-Windows-Security-Auditing","computer_name":"dc1.corp.test","event_data":{{"TargetUserName":"bob","LogonType":"10","IpAddress":"203.0.113.{n}","IpPort":"5000"}}}}}}"#
        )
    };
    let input = format!(
        "{}\nNov 22 10:00:05 web01 sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2\n{}\n",
        doc(1, "4625"),
        doc(2, "4624")
    );
    let mut child = logward()
        .args(["scan", "--year", "2026", "--format", "ndjson", "--raw", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let evs = events(&child.wait_with_output().unwrap());
    assert_eq!(evs.len(), 3);
    assert_eq!(evs[0]["event"]["outcome"], "failure");
    assert_eq!(evs[0]["source"]["ip"], "203.0.113.1");
    assert_eq!(evs[0]["source"]["port"], 5000);
    assert_eq!(
        evs[0]["logward"]["windows"]["logon_type"],
        "remote-interactive"
    );
    assert_eq!(evs[0]["host"]["name"], "dc1.corp.test");
    assert_eq!(evs[0]["event"]["original"], doc(1, "4625"));
    assert_eq!(evs[1]["process"]["name"], "sshd");
    assert_eq!(evs[2]["event"]["outcome"], "success");
    assert_eq!(evs[2]["winlog"]["event_id"], "4624");
}

#[test]
fn pretty_printed_xml_after_syslog_lines_and_a_malformed_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.log");
    let pretty = failed_logon(7).replace("><", ">\n  <").replace(
        "<Event xmlns",
        "<?xml version='1.0' encoding='utf-8'?>\n<Event xmlns",
    );
    let broken = failed_logon(8).replace("</Channel>", "</Chanel>");
    let text = format!(
        "Nov 22 10:00:05 web01 sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2\n{pretty}\n{broken}\n{}\n",
        failed_logon(9)
    );
    std::fs::write(&path, &text).unwrap();
    let o = logward()
        .args([
            "scan",
            "--year",
            "2026",
            "--format",
            "ndjson",
            "--raw",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let evs = events(&o);
    assert_eq!(evs.len(), 4, "{evs:?}");
    assert_eq!(evs[0]["process"]["name"], "sshd");
    assert_eq!(evs[1]["user"]["name"], "user7");
    // The event's original is its whole XML, not the line `</Event>` it ended on.
    let original = evs[1]["event"]["original"].as_str().unwrap();
    assert!(original.starts_with("<Event") && original.ends_with("</Event>"));
    assert!(original.contains("user7"));
    assert_eq!(evs[2]["event"]["action"], "unknown");
    assert!(evs[2]["message"]
        .as_str()
        .unwrap()
        .contains("</Chanel> closes <Channel>"));
    assert_eq!(evs[3]["user"]["name"], "user9");
    let o = logward()
        .args([
            "scan",
            "--year",
            "2026",
            "--format",
            "summary",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(summary.contains("malformed-records 1"), "{summary}");
}
