//! The packet decoder's messages against Wireshark's (`tshark`, Debian package `tshark`) on
//! every pcap of `../shared/corpus/dns/zeek`, and the same captures rewritten as pcapng by
//! `editcap` read to the same messages: per DNS message (a query or a reply, joined or
//! not), its id, QR bit, opcode, question name (original case) and type, the reply's code
//! and answer count; every A/AAAA/CNAME answer and TXT string logward reports must be among
//! the ones tshark shows (tshark lists those of every section, logward the answer section).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
#![allow(clippy::disallowed_methods)] // runs tshark and editcap

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use logward_parse::dns::message::{self, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_TXT};
use logward_parse::dns::packet::Decoder;
use logward_parse::dns::pcap::Reader;
use logward_parse::dns::txn::Side;
use logward_test_support::skip;

/// One message: (id, response, opcode, question name, question type, reply code or -1,
/// answer count), and the answers' values.
type Key = (u16, bool, u8, String, u16, i32, u16);

fn ours(path: &Path) -> Vec<(Key, BTreeSet<String>)> {
    let mut reader = Reader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut d = Decoder::new();
    let mut sides: Vec<Side> = Vec::new();
    let take = |d: &mut Decoder, sides: &mut Vec<Side>| {
        while let Some(t) = d.next_transaction() {
            sides.extend(t.query);
            sides.extend(t.reply);
        }
    };
    while let Some(p) = reader.next_packet().unwrap() {
        d.push(p.linktype, p.ts, p.data);
        take(&mut d, &mut sides);
    }
    d.finish();
    take(&mut d, &mut sides);
    let mut out: Vec<_> = sides
        .iter()
        .map(|s| {
            let h = s.header;
            let q = s.question.as_ref();
            let key = (
                h.id,
                h.is_response(),
                h.opcode(),
                q.map_or(String::new(), |q| q.name.clone()),
                q.map_or(0, |q| q.qtype),
                if h.is_response() {
                    i32::from(h.rcode())
                } else {
                    -1
                },
                h.ancount,
            );
            let mut values = BTreeSet::new();
            for a in &s.answers {
                // Data that does not fit its type (an UPDATE's empty prerequisites) is
                // RFC 3597's `\# len hex`, which tshark does not list.
                if a.data.starts_with("\\# ") {
                    continue;
                }
                match a.rtype {
                    TYPE_A | TYPE_AAAA | TYPE_CNAME => {
                        values.insert(a.data.clone());
                    }
                    TYPE_TXT => {
                        // An empty string is not listed by tshark.
                        for s in
                            message::txt_strings(&unquote_raw(&a.data)).filter(|s| !s.is_empty())
                        {
                            values.insert(String::from_utf8_lossy(s).into_owned());
                        }
                    }
                    _ => {}
                }
            }
            (key, values)
        })
        .collect();
    out.sort();
    out
}

/// The presentation form's quoted strings back to wire character-strings (printable corpus
/// text: only `\"` and `\\` escapes).
fn unquote_raw(s: &str) -> Vec<u8> {
    let mut wire = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut inside = false;
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match (inside, b) {
            (false, b'"') => inside = true,
            (true, b'"') => {
                wire.push(cur.len() as u8);
                wire.append(&mut cur);
                inside = false;
            }
            (true, b'\\') => cur.extend(bytes.next()),
            (true, b) => cur.push(b),
            _ => {}
        }
    }
    wire
}

/// Starts tshark on `path` (all at once: its start-up, not the reading, is the cost).
fn tshark(path: &Path) -> std::process::Child {
    Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args([
            "-Y",
            "dns or mdns or llmnr",
            "-T",
            "fields",
            "-E",
            "occurrence=a",
        ])
        .args(["-E", "aggregator=|", "-E", "separator=\t"])
        .args([
            "-e",
            "dns.id",
            "-e",
            "dns.flags.response",
            "-e",
            "dns.flags.opcode",
        ])
        .args([
            "-e",
            "dns.qry.name",
            "-e",
            "dns.qry.type",
            "-e",
            "dns.flags.rcode",
        ])
        .args([
            "-e",
            "dns.count.answers",
            "-e",
            "dns.a",
            "-e",
            "dns.aaaa",
            "-e",
            "dns.cname",
        ])
        .args(["-e", "dns.txt", "-e", "dns.count.prerequisites"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn tshark_messages(child: std::process::Child) -> Vec<(Key, BTreeSet<String>)> {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let num = |s: &str| -> u64 {
        let s = s.split('|').next().unwrap_or("");
        match s.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).unwrap(),
            None if s.is_empty() => 0,
            None => s.parse().unwrap(),
        }
    };
    let mut rows: Vec<_> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let response = f[1] == "1" || f[1] == "True";
            let key = (
                num(f[0]) as u16,
                response,
                num(f[2]) as u8,
                f[3].split('|').next().unwrap_or("").to_owned(),
                num(f[4]) as u16,
                if response { num(f[5]) as i32 } else { -1 },
                // An UPDATE's answer count is its prerequisite count.
                num(if f[6].is_empty() { f[11] } else { f[6] }) as u16,
            );
            let values: BTreeSet<String> = f[7..11]
                .iter()
                .flat_map(|v| v.split('|'))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect();
            (key, values)
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn every_message_agrees_with_tshark_and_pcapng_reads_the_same() {
    let Some(dir) = logward_test_support::corpus("dns/zeek") else {
        return;
    };
    if Command::new("tshark").arg("--version").output().is_err() {
        skip!("tshark is not installed (Debian package tshark)");
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut pcaps: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flat_map(|e| std::fs::read_dir(e.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    pcaps.sort();
    assert!(pcaps.len() >= 11);
    let running: Vec<_> = pcaps.iter().map(|p| tshark(p)).collect();
    let mut messages = 0;
    for (pcap, tshark) in pcaps.iter().zip(running) {
        let name = pcap.file_name().unwrap().to_string_lossy().into_owned();
        let mine = ours(pcap);
        let theirs = tshark_messages(tshark);
        let keys =
            |v: &[(Key, BTreeSet<String>)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&mine), keys(&theirs), "{name}: messages differ");
        for ((k, m), (_, t)) in mine.iter().zip(&theirs) {
            assert!(
                m.is_subset(t),
                "{name} {k:?}: logward {m:?} not among tshark's {t:?}"
            );
        }
        messages += mine.len();

        let ng = tmp.path().join(format!("{name}ng"));
        let st = Command::new("editcap")
            .args(["-F", "pcapng"])
            .arg(pcap)
            .arg(&ng)
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(ours(&ng), mine, "{name}: the pcapng copy reads differently");
    }
    assert!(messages >= 60, "only {messages} messages compared");
}
