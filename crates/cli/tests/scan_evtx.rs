//! `logward scan` and `logward learn` on `.evtx` files (the corpus's `windows-evtx`), the real
//! binary: found by their magic in a directory mixed with a text auth.log, compressed or not,
//! whatever their name; ndjson, `--raw`, the summary, `--rules`; a damaged copy reported
//! with every intact record still scanned.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

#[path = "support/scan.rs"]
mod scan;
use scan::{lines, logward};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const AUTH: &str = "2026-11-02T09:00:00+00:00 web01 sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2\n\
2026-11-02T09:00:01+00:00 web01 sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2\n";

/// A folder with two `.evtx` files (one named like a text log), a gzipped one and a text
/// auth.log.
fn mixed(dir: &Path, evtx: &Path) -> PathBuf {
    let d = dir.join("logs");
    std::fs::create_dir(&d).unwrap();
    std::fs::copy(
        evtx.join("deepbluecli/smb-password-guessing-security.evtx"),
        d.join("exported-security.log"),
    )
    .unwrap();
    std::fs::copy(
        evtx.join("deepbluecli/new-user-security.evtx"),
        d.join("new-user.evtx"),
    )
    .unwrap();
    let spray = std::fs::read(evtx.join("deepbluecli/password-spray.evtx")).unwrap();
    let mut w = flate2::write::GzEncoder::new(
        std::fs::File::create(d.join("spray.evtx.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    w.write_all(&spray).unwrap();
    w.finish().unwrap();
    std::fs::write(d.join("auth.log"), AUTH).unwrap();
    d
}

/// `winlog.event_id` / `winlog.record_id`: keywords (strings) in Winlogbeat's documents.
fn num(v: &Value) -> u64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a number as text: {v}"))
}

fn count_by_file(events: &[Value]) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for e in events {
        let path = e["log"]["file"]["path"].as_str().unwrap();
        let name = Path::new(path)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        *m.entry(name).or_default() += 1;
    }
    m
}

#[test]
fn scan_reads_evtx_files_by_magic_beside_text_logs() {
    let Some(evtx) = logward_test_support::corpus("windows-evtx") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let d = mixed(tmp.path(), &evtx);
    let o = logward(&["scan", "--format", "ndjson", d.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let evs = lines(&o);
    let per_file = count_by_file(&evs);
    let want: std::collections::BTreeMap<String, usize> = [
        ("auth.log", 2),
        ("exported-security.log", 3561),
        ("new-user.evtx", 4),
        ("spray.evtx.gz", 295),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(per_file, want);

    // The SMB password guessing: 4625 failures from its address, with their winlog fields.
    let smb: Vec<&Value> = evs
        .iter()
        .filter(|e| {
            e["log"]["file"]["path"]
                .as_str()
                .unwrap()
                .ends_with("exported-security.log")
        })
        .collect();
    for e in &smb {
        assert_eq!(num(&e["winlog"]["event_id"]), 4625, "{e}");
        assert_eq!(e["winlog"]["channel"], "Security");
        assert_eq!(e["event"]["dataset"], "windows.security");
        assert_eq!(e["event"]["outcome"], "failure", "{e}");
        assert_eq!(e["source"]["ip"], "192.168.198.149", "{e}");
        num(&e["winlog"]["record_id"]);
        assert!(e["event"].get("original").is_none(), "no XML without --raw");
    }
    assert_eq!(
        smb.iter()
            .filter(|e| e["user"]["name"] == "Administrator")
            .count(),
        3560
    );
    // The text log's lines are decoded as ever.
    let ssh: Vec<&Value> = evs
        .iter()
        .filter(|e| e["event"]["dataset"] == "sshd")
        .collect();
    assert_eq!(ssh.len(), 2);
    assert_eq!(ssh[0]["source"]["ip"], "192.0.2.1");
}

#[test]
fn raw_adds_the_records_xml_and_the_summary_counts_evtx_files() {
    let Some(evtx) = logward_test_support::corpus("windows-evtx") else {
        return;
    };
    let file = evtx.join("deepbluecli/new-user-security.evtx");
    let file = file.to_str().unwrap();
    let o = logward(&["scan", "--format", "ndjson", "--raw", file]);
    assert!(o.status.success(), "{}", stderr(&o));
    let evs = lines(&o);
    assert_eq!(evs.len(), 4);
    for e in &evs {
        let xml = e["event"]["original"].as_str().unwrap();
        let id = num(&e["winlog"]["event_id"]);
        assert!(xml.contains(&format!("<EventID>{id}</EventID>")), "{xml}");
        assert!(xml.contains("<Channel>Security</Channel>"), "{xml}");
    }

    let o = logward(&["scan", "--format", "summary", file]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("evtx         1 file(s), 0 damaged piece(s)"),
        "{text}"
    );
    assert!(text.contains("1 file(s), 4 lines"), "{text}");
}

#[test]
fn rules_run_on_evtx_events() {
    let Some(evtx) = logward_test_support::corpus("windows-evtx") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let file = evtx.join("deepbluecli/smb-password-guessing-security.evtx");
    let state = tmp.path().join("state");
    let o = logward(&[
        "scan",
        "--format",
        "ndjson",
        "--rules",
        "default",
        "--state-dir",
        state.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let alerts = lines(&o);
    assert!(
        !alerts.is_empty(),
        "3561 failed logons from one address raise an alert"
    );
    assert!(
        alerts
            .iter()
            .any(|a| a.to_string().contains("192.168.198.149")),
        "{alerts:?}"
    );
}

#[test]
fn a_damaged_copy_exits_2_names_the_damage_and_scans_every_intact_record() {
    let Some(evtx) = logward_test_support::corpus("windows-evtx") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(evtx.join("evtx-crate/security.evtx")).unwrap();
    let whole = logward(&[
        "scan",
        "--format",
        "ndjson",
        evtx.join("evtx-crate/security.evtx").to_str().unwrap(),
    ]);
    assert!(whole.status.success());
    let whole = lines(&whole);
    assert_eq!(whole.len(), 2261);

    // Cut in the middle of chunk 3, and chunk 1's magic overwritten.
    let mut bad = bytes[..4096 + 3 * 65536 + 30000].to_vec();
    bad[4096 + 65536..4096 + 65536 + 8].copy_from_slice(b"XXXXXXXX");
    let path = tmp.path().join("damaged.evtx");
    std::fs::write(&path, &bad).unwrap();
    let o = logward(&["scan", "--format", "ndjson", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("damaged.evtx: chunk 1: "), "{err}");
    assert!(
        err.contains("damaged.evtx: chunk 3: file cut short"),
        "{err}"
    );
    assert!(err.contains("every other record was scanned"), "{err}");
    let evs = lines(&o);
    let ids: Vec<u64> = evs.iter().map(|e| num(&e["winlog"]["record_id"])).collect();
    // Chunk 0's records, then chunk 2's and the intact part of chunk 3.
    assert!(ids.len() > 200, "{}", ids.len());
    assert_eq!(ids[0], 1);
    for e in &evs {
        let id = num(&e["winlog"]["record_id"]) as usize;
        let mut want = whole[id - 1].clone();
        let mut got = e.clone();
        for v in [&mut want, &mut got] {
            v["log"]["file"]["path"] = Value::Null;
        }
        assert_eq!(got, want, "record {id}");
    }
}

#[test]
fn learn_reads_evtx_logons() {
    let Some(evtx) = logward_test_support::corpus("windows-evtx") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let file = evtx.join("evtx-crate/security.evtx");
    let o = logward(&[
        "learn",
        "--state-dir",
        state.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // security.evtx's logons (4624) are logins to learn from (which logon types count is
    // the anomaly detector's choice).
    let err = stderr(&o);
    let learnt: u64 = err
        .split(" logins learnt")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert!(learnt > 0, "{err}");
}
