//! `logward scan` on packet captures (the corpus's `dns/zeek` pcaps), the real binary: found by
//! their magic whatever their name (and gzipped), each query and its reply one `dns-query`
//! event in ECS JSON; a file cut short gives the events before the damage and exit status 2;
//! the summary counts the queries.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test

use std::io::Write;

use serde_json::Value;

#[path = "support/scan.rs"]
mod scan;
use scan::{lines, logward};

fn get<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| &v[k])
}

#[test]
fn a_pcap_scans_to_dns_query_events() {
    let Some(zeek) = logward_test_support::corpus("dns/zeek") else {
        return;
    };
    let pcap = zeek.join("opt-basic-wikipedia/wikipedia.pcap");
    let o = logward(&["scan", "--format", "ndjson", pcap.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let events = lines(&o);
    // Zeek's records less its NetBIOS ones (conformance_dns_zeek.rs says why).
    assert_eq!(events.len(), 26);
    assert!(events
        .iter()
        .all(|e| e["event"]["action"] == "dns-query" && e["event"]["dataset"] == "dns.capture"));
    let a = events
        .iter()
        .find(|e| e["dns"]["id"] == 26096)
        .expect("the A query of upload.wikimedia.org, id 26096");
    assert_eq!(get(a, "dns.question.name"), "upload.wikimedia.org");
    assert_eq!(get(a, "dns.question.type"), "A");
    assert_eq!(get(a, "dns.response_code"), "NOERROR");
    assert_eq!(get(a, "source.ip"), "141.142.220.118");
    assert_eq!(get(a, "client.ip"), "141.142.220.118");
    assert_eq!(get(a, "source.port"), 40526);
    assert_eq!(get(a, "server.ip"), "141.142.2.2");
    assert_eq!(get(a, "network.transport"), "udp");
    assert_eq!(get(a, "event.outcome"), "success");
    let answers: Vec<(String, String)> = get(a, "dns.answers")
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["type"].as_str().unwrap().into(),
                x["data"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        answers,
        [
            ("CNAME".to_owned(), "upload.pmtpa.wikimedia.org".to_owned()),
            ("A".to_owned(), "208.80.152.3".to_owned())
        ]
    );
    assert_eq!(get(a, "dns.resolved_ip")[0], "208.80.152.3");
    assert_eq!(get(a, "log.file.path"), pcap.to_str().unwrap());
    let nx = events
        .iter()
        .find(|e| e["dns"]["id"] == 26428)
        .expect("id 26428");
    assert_eq!(get(nx, "dns.response_code"), "NXDOMAIN");
    assert_eq!(get(nx, "event.outcome"), "failure");
}

#[test]
fn a_capture_is_known_by_its_magic_gzipped_or_not_and_a_cut_one_says_so() {
    let Some(zeek) = logward_test_support::corpus("dns/zeek") else {
        return;
    };
    let bytes = std::fs::read(zeek.join("ipv6-frag/ipv6-fragmented-dns.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let renamed = dir.path().join("capture.log");
    std::fs::write(&renamed, &bytes).unwrap();
    let gz = dir.path().join("capture.gz");
    let mut w = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    w.write_all(&bytes).unwrap();
    w.finish().unwrap();
    let whole = lines(&logward(&[
        "scan",
        "--format",
        "ndjson",
        renamed.to_str().unwrap(),
    ]));
    assert_eq!(
        whole.len(),
        3,
        "two queries answered over fragments, one retry"
    );
    // One TXT record of 18 strings, in a reply that came in IPv6 fragments.
    let big = whole
        .iter()
        .find(|e| e["dns"]["id"] == 40849 && e["dns"]["response_code"] == "NOERROR")
        .expect("the reassembled answer");
    let txt = get(big, "dns.answers")[0]["data"].as_str().unwrap();
    assert_eq!(txt.matches("\" \"").count(), 17, "{txt}");
    assert_eq!(
        get(big, "dns.question.name"),
        "txtpadding_3230.n1.netalyzr.icsi.berkeley.edu"
    );
    assert_eq!(get(big, "dns.question.type"), "TXT");
    assert_eq!(
        get(big, "source.ip"),
        "2001:470:1f11:81f:d138:5f55:6d4:1fe2"
    );
    let unzipped = lines(&logward(&[
        "scan",
        "--format",
        "ndjson",
        gz.to_str().unwrap(),
    ]));
    assert_eq!(unzipped.len(), whole.len());

    // Cut inside the last frame (the retry query): the answered pair is still there.
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 20]).unwrap();
    let o = logward(&["scan", "--format", "ndjson", cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cut short") && err.contains("the packets before it were scanned"),
        "{err}"
    );
    assert!(!lines(&o).is_empty());

    let o = logward(&["scan", "--format", "summary", renamed.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("dns-query"), "{text}");
}
