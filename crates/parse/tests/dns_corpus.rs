//! The DNS readers against `../shared/corpus` (PROVENANCE.md §5): RITA's Zeek logs (942 TSV
//! and 34 JSON records) decode completely, every row of the Zeek btest baselines' `dns.log`
//! gives the query its columns name, and the DNS server lines of ossec-rules-tests and the
//! CrowdSec hub read as their queries (BIND's refusals still as `service-abuse`).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use logward_core::{Action, Dataset, Event};
use logward_parse::LineDecoder;

/// Every event of a file's lines, as `logward scan` takes them (joined ones first, then the
/// line's own, the rest at the end), and the malformed DNS records counted.
fn scan(path: &Path) -> (Vec<Event<'static>>, u64) {
    let text = common::read_lossy(path);
    scan_text(&text)
}

fn scan_text(text: &str) -> (Vec<Event<'static>>, u64) {
    let mut d: LineDecoder = common::decoder();
    let out = logward_parse::scan_lines(&mut d, text.lines());
    (out, d.take_dns_errors())
}

fn all_queries(events: &[Event<'_>], dataset: Dataset) {
    for e in events {
        assert_eq!(e.action, Some(Action::DnsQuery), "{e:?}");
        assert_eq!(e.dataset, Some(dataset), "{e:?}");
        assert!(e.dns.is_some());
    }
}

#[test]
fn rita_zeek_logs_decode_completely() {
    let Some(dir) = logward_test_support::corpus("dns/rita") else {
        return;
    };
    let (tsv, errors) = scan(&dir.join("proxy/dns.log"));
    assert_eq!((tsv.len(), errors), (942, 0));
    all_queries(&tsv, Dataset::DnsZeek);
    // Its first and last rows, column by column.
    let first = &tsv[0];
    let d = first.dns.as_ref().unwrap();
    assert_eq!(first.source_ip, "192.168.0.20".parse().ok());
    assert_eq!(first.source_port, Some(5353));
    assert_eq!(d.server_ip, "224.0.0.251".parse().ok());
    assert_eq!(d.question_name, "_homekit._tcp.local");
    assert_eq!(d.question_type.as_deref(), Some("PTR"));
    assert_eq!(d.question_class.as_deref(), Some("CLASS32769"));
    assert_eq!(
        first.timestamp.map(|t| (t.unix, t.nanos)),
        Some((1_610_645_203, 325_590_000))
    );
    assert_eq!(tsv[941].source_ip, "fe80::c8f:f724:910a:bb99".parse().ok());

    let (json, errors) = scan(&dir.join("json_with_all_fields/dns.log"));
    assert_eq!((json.len(), errors), (34, 0));
    all_queries(&json, Dataset::DnsZeek);
    // The dnscat2 tunnel: TXT queries under dnsc.r-1x.com, each with its TXT answer.
    let tunnel: Vec<_> = json
        .iter()
        .filter_map(|e| e.dns.as_deref())
        .filter(|d| d.question_name.ends_with(".dnsc.r-1x.com"))
        .collect();
    assert!(tunnel.len() >= 10, "{}", tunnel.len());
    for d in &tunnel {
        assert_eq!(d.question_type.as_deref(), Some("TXT"));
        assert_eq!(d.answers.first().map(|a| &*a.rtype), Some("TXT"));
    }
    // The feed's IP is the server those queries went to.
    let feed = std::fs::read_to_string(dir.join("threat_intel_feeds/feed.txt")).unwrap();
    let feed_ip: std::net::IpAddr = feed.lines().find_map(|l| l.trim().parse().ok()).unwrap();
    assert!(tunnel.iter().all(|d| d.server_ip == Some(feed_ip)));
}

/// The tab-separated columns of a Zeek TSV log's rows, by field name.
fn rows(text: &str) -> Vec<BTreeMap<String, String>> {
    let fields: Vec<String> = text
        .lines()
        .find_map(|l| l.strip_prefix("#fields\t"))
        .unwrap()
        .split('\t')
        .map(str::to_owned)
        .collect();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            fields
                .iter()
                .cloned()
                .zip(l.split('\t').map(str::to_owned))
                .collect()
        })
        .collect()
}

#[test]
fn zeek_baselines_give_their_columns() {
    let Some(dir) = logward_test_support::corpus("dns/zeek") else {
        return;
    };
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let log = entry.unwrap().path().join("dns.log");
        // btest-diff's own first line is no part of Zeek's format.
        let text: String = common::read_lossy(&log)
            .lines()
            .filter(|l| !l.starts_with("### BTest"))
            .map(|l| format!("{l}\n"))
            .collect();
        let want = rows(&text);
        let (got, errors) = scan_text(&text);
        assert_eq!(errors, 0, "{}", log.display());
        assert_eq!(got.len(), want.len(), "{}", log.display());
        for (e, w) in got.iter().zip(&want) {
            let d = e.dns.as_ref().unwrap();
            let col = |k: &str| w.get(k).map(String::as_str).filter(|v| *v != "-");
            let at = format!("{} {w:?}", log.display());
            assert_eq!(e.action, Some(Action::DnsQuery), "{at}");
            assert_eq!(
                e.source_ip,
                col("id.orig_h").and_then(|a| a.parse().ok()),
                "{at}"
            );
            assert_eq!(
                e.source_port,
                col("id.orig_p").and_then(|a| a.parse().ok()),
                "{at}"
            );
            assert_eq!(
                d.server_ip,
                col("id.resp_h").and_then(|a| a.parse().ok()),
                "{at}"
            );
            assert_eq!(d.id, col("trans_id").and_then(|a| a.parse().ok()), "{at}");
            assert_eq!(
                d.question_name,
                col("query").unwrap_or("").to_ascii_lowercase(),
                "{at}"
            );
            assert_eq!(d.question_type.as_deref(), col("qtype_name"), "{at}");
            assert_eq!(d.response_code.as_deref(), col("rcode_name"), "{at}");
            assert_eq!(d.transport, col("proto"), "{at}");
            let answers = col("answers").map_or(0, |a| a.split(',').count());
            assert_eq!(d.answers.len(), answers, "{at}");
            assert_eq!(e.timestamp, None, "btest masks the time: {at}");
            seen += 1;
        }
    }
    assert!(seen >= 30, "{seen} rows");
}

#[test]
fn server_lines_of_other_corpora() {
    let Some(root) = logward_test_support::corpus("") else {
        return;
    };
    // ossec-rules-tests: dnsmasq's `log-queries=extra` lines, one query with its CNAME.
    let ini = common::read_lossy(&root.join("ossec-rules-tests/dnsmasq.ini"));
    let lines: Vec<&str> = ini
        .lines()
        .filter_map(|l| l.split_once(" pass = ").map(|(_, v)| v))
        .collect();
    assert_eq!(lines.len(), 3);
    let (got, _) = scan_text(&lines.join("\n"));
    assert_eq!(got.len(), 1);
    all_queries(&got, Dataset::DnsDnsmasq);
    let d = got[0].dns.as_ref().unwrap();
    assert_eq!(got[0].source_ip, "10.10.10.33".parse().ok());
    assert_eq!(got[0].source_port, Some(59490));
    assert_eq!(d.question_name, "server.example.com");
    assert_eq!(d.answers[0].rtype, "CNAME");
    // Its Unbound line is commented out upstream; its query still reads.
    let ini = common::read_lossy(&root.join("ossec-rules-tests/unbound.ini"));
    let line = ini
        .lines()
        .find_map(|l| {
            l.strip_prefix(";log 1 pass = ")
                .filter(|l| l.ends_with(" A IN"))
        })
        .unwrap();
    let (got, _) = scan_text(line);
    assert_eq!(got.len(), 1);
    all_queries(&got, Dataset::DnsUnbound);
    assert_eq!(
        got[0].dns.as_ref().unwrap().question_name,
        "talkgadget.google.com"
    );
    // BIND's refusals (its own file and syslog) stay what fail2ban and CrowdSec read.
    for f in [
        "crowdsec-hub/bind9-logs/bind9-logs.log",
        "crowdsec-hub/bind9-syslog/bind9-syslog.log",
    ] {
        let path = root.join(f);
        if !path.exists() {
            continue;
        }
        let (got, _) = scan(&path);
        assert!(
            got.iter().any(|e| e.action == Some(Action::ServiceAbuse)),
            "{f}"
        );
        assert!(
            got.iter().all(|e| e.action != Some(Action::DnsQuery)),
            "{f}"
        );
    }
}

#[test]
fn bad_records_are_counted_and_decoding_goes_on() {
    let text = "#separator \\x09\n#path\tdns\n#fields\tts\tid.orig_h\tquery\tqtype_name\n1.0\t10.0.0.1\ta.example\tA\nshort\n1.0\tnope\tb.example\tA\n#close\tx\nMar  1 10:00:00 h sshd[1]: Failed password for root from 192.0.2.1 port 2 ssh2\n{\"type\":\"dns\",\"dns\":{\"question\":{\"name\":\"x\"},\"resolved_ip\":[\"bad\"]}}\n";
    let (got, errors) = scan_text(text);
    let actions: Vec<Action> = got.iter().map(Event::action).collect();
    assert_eq!(
        actions,
        [
            Action::DnsQuery,
            Action::Unknown,
            Action::Unknown,
            Action::UserLogin,
            Action::Unknown
        ]
    );
    assert_eq!(errors, 3);
}
