//! The packet decoder against Zeek: every pcap of `../shared/corpus/dns/zeek` (PROVENANCE.md
//! §5) decodes to the same DNS log records as Zeek's own baseline `dns.log` beside it —
//! every column but `ts` and `uid` (btest canonicalises those), compared as a multiset (Zeek
//! writes a record when its connection state decides, logward when the transaction
//! completes). The header's `#fields` line names the columns.
//!
//! A transaction is rendered in Zeek's terms (its `base/protocols/dns/main.zeek`), which
//! differ from logward's own event in ways that are deliberate on logward's side:
//!
//! - Zeek takes `qclass`/`qtype`, `TC`, `RD` and `Z` from the query only, and `AA`/`RA` and
//!   `rtt` only from a reply that has answers; logward's event takes the question from the
//!   reply when the query was not seen.
//! - A reply without its query is, in Zeek's `query` column, about its first answer's owner
//!   name; logward's event uses the reply's question (the first answer's name only when the
//!   reply has no question, as mDNS announcements).
//! - Zeek shows an answer by a short form per type (an MX's exchange, an SOA's primary, `TXT
//!   <len> <text>` per string, `RRSIG <covered type> <signer>`); logward's `dns.answers.data`
//!   is the whole record in presentation form (`10 mx.example.org`, `"text" "more"`).
//!
//! Deliberate differences in what is decoded are listed in [`DIFFERENT`] with why; a listed
//! difference that no longer differs fails the check, so the list stays true.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::Path;

use logward_parse::dns::message::{self, TypeName};
use logward_parse::dns::packet::Decoder;
use logward_parse::dns::pcap::Reader;
use logward_parse::dns::txn::{Side, Transaction};

/// (folder, column): columns logward does not render as Zeek does for that capture, and why.
const DIFFERENT: &[(&str, &str, &str)] = &[
    (
        "dynamic-update",
        "answers",
        "Zeek's policy renders an UPDATE's prerequisite and update sections (`pre: NoRRSet \
         CNAME …`, `add: A …`); logward reports the records as answers like any other",
    ),
    (
        "dynamic-update",
        "TTLs",
        "follows the answers: Zeek lists one TTL per prerequisite/update entry",
    ),
];

/// The captures whose btest ran Zeek with `-C` (PROVENANCE.md §5): without it, Zeek drops
/// packets whose checksum is wrong, and the queries of `multiple-txt-strings` and `spf`
/// have a wrong IPv4 header checksum (tshark agrees). logward checks no checksum, on
/// purpose: a capture on the sending host sees checksum offload's unfilled checksums, and
/// a query with a bad checksum was still asked. For the others, this test drops those
/// frames before the decoder, to feed it what Zeek read.
const ZEEK_IGNORED_CHECKSUMS: &[&str] = &["mdns-no-assoc", "dynamic-update", "notify"];

/// NetBIOS name service (UDP 137) is DNS-shaped and Zeek logs it; logward does not decode
/// it (its names are local NetBIOS names, no threat list's business). Zeek's records of
/// it are left out of the comparison.
const NETBIOS_PORT: &str = "137";

/// Whether the frame is IPv4 with a header checksum that does not add up.
fn bad_ipv4_checksum(linktype: u32, frame: &[u8]) -> bool {
    let ip = match linktype {
        1 if frame.get(12..14) == Some(&[0x08, 0x00]) => &frame[14..],
        101 | 228 => frame,
        _ => return false,
    };
    let Some(&v) = ip.first() else { return false };
    let ihl = usize::from(v & 0xf) * 4;
    if v >> 4 != 4 || ip.len() < ihl {
        return false;
    }
    let mut sum: u32 = ip[..ihl]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum != 0xffff
}

/// Reads a pcap through the decoder: every transaction, the file read to its end.
fn decode(path: &Path, checksums: bool) -> Vec<Transaction> {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = Reader::new(std::io::BufReader::new(file)).unwrap();
    let mut d = Decoder::new();
    let mut out = Vec::new();
    while let Some(p) = reader.next_packet().unwrap() {
        if checksums && bad_ipv4_checksum(p.linktype, p.data) {
            continue;
        }
        d.push(p.linktype, p.ts, p.data);
        while let Some(t) = d.next_transaction() {
            out.push(t);
        }
    }
    d.finish();
    while let Some(t) = d.next_transaction() {
        out.push(t);
    }
    out
}

fn flag(b: bool) -> String {
    if b { "T" } else { "F" }.to_owned()
}

fn class_name(c: u16) -> String {
    match c {
        1 => "C_INTERNET".into(),
        3 => "C_CHAOS".into(),
        4 => "C_HESIOD".into(),
        254 => "C_NONE".into(),
        255 => "C_ANY".into(),
        n => format!("{n}"),
    }
}

fn opcode_name(op: u8) -> String {
    match op {
        0 => "query".into(),
        1 => "iquery".into(),
        2 => "status".into(),
        4 => "notify".into(),
        5 => "dynamic-update".into(),
        n => format!("{n}"),
    }
}

/// An answer as Zeek's `dns_*_reply` handlers show it; `None` when Zeek adds nothing.
fn zeek_answer(a: &logward_parse::dns::txn::Answer) -> Option<String> {
    let mut words = a.data.split(' ');
    Some(match a.rtype {
        message::TYPE_MX => words.nth(1)?.to_ascii_lowercase(),
        message::TYPE_SOA => words.next()?.to_ascii_lowercase(),
        message::TYPE_SRV => words.nth(3)?.to_ascii_lowercase(),
        message::TYPE_TXT | message::TYPE_SPF => {
            let word = if a.rtype == message::TYPE_TXT {
                "TXT"
            } else {
                "SPF"
            };
            unquote(&a.data)
                .iter()
                .map(|s| format!("{word} {} {s}", s.len()))
                .collect::<Vec<_>>()
                .join(" ")
        }
        message::TYPE_RRSIG => {
            let covered = words.next()?;
            let signer = words.nth(6)?;
            let n = (1..=u16::MAX)
                .find(|&t| TypeName(t).to_string() == covered)
                .unwrap_or(0);
            format!("RRSIG {n} {signer}")
        }
        11 => return None,
        1 | 28 | 38 => a.data.clone(),
        2 | 5 | 12 | 39 => a.data.to_ascii_lowercase(),
        n => format!("<unknown type={n}>"),
    })
}

/// The strings of `"…" "…"` (printable corpus text: only `\"` and `\\` escapes).
fn unquote(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut inside = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (inside, c) {
            (false, '"') => inside = true,
            (true, '"') => {
                out.push(std::mem::take(&mut cur));
                inside = false;
            }
            (true, '\\') => cur.extend(chars.next()),
            (true, c) => cur.push(c),
            _ => {}
        }
    }
    out
}

/// A transaction as a Zeek dns.log record, by column name.
fn zeek_row(t: &Transaction) -> BTreeMap<&'static str, String> {
    let unset = || "-".to_owned();
    let q: Option<&Side> = t.query.as_ref();
    let r: Option<&Side> = t.reply.as_ref();
    // Zeek reports no request for an UPDATE: its question section is the zone.
    let asked = q
        .filter(|q| q.header.opcode() != 5)
        .and_then(|q| q.question.as_ref());
    let answered = r.filter(|r| !r.answers.is_empty());
    let answers: Vec<(String, u32)> = r
        .map(|r| {
            r.answers
                .iter()
                .filter_map(|a| zeek_answer(a).map(|z| (z, a.ttl)))
                .collect()
        })
        .unwrap_or_default();
    let mut row = BTreeMap::new();
    row.insert("id.orig_h", t.client.to_string());
    row.insert("id.orig_p", t.client_port.to_string());
    row.insert("id.resp_h", t.server.to_string());
    row.insert("id.resp_p", t.server_port.to_string());
    row.insert("proto", t.transport.as_str().to_owned());
    row.insert("trans_id", t.id.to_string());
    row.insert(
        "rtt",
        match (t.rtt(), answered) {
            (Some(ns), Some(_)) if ns > 0 => format!("{:.6}", ns as f64 / 1e9),
            _ => unset(),
        },
    );
    let query = asked
        .map(|q| q.name.to_ascii_lowercase())
        .or_else(|| answered.map(|r| r.answers[0].name.to_ascii_lowercase()));
    row.insert("query", query.unwrap_or_else(unset));
    row.insert(
        "original_query",
        asked.map_or_else(unset, |q| q.name.clone()),
    );
    row.insert("qclass", asked.map_or_else(unset, |q| q.qclass.to_string()));
    row.insert(
        "qclass_name",
        asked.map_or_else(unset, |q| class_name(q.qclass)),
    );
    row.insert("qtype", asked.map_or_else(unset, |q| q.qtype.to_string()));
    row.insert(
        "qtype_name",
        asked.map_or_else(unset, |q| TypeName(q.qtype).to_string()),
    );
    row.insert("rcode", r.map_or_else(unset, |r| r.rcode.to_string()));
    row.insert(
        "rcode_name",
        r.map_or_else(unset, |r| message::rcode_name(r.rcode).into_owned()),
    );
    let qh = asked.and(q).map(|q| q.header);
    row.insert("AA", flag(answered.is_some_and(|r| r.header.aa())));
    row.insert("TC", flag(qh.is_some_and(|h| h.tc())));
    row.insert("RD", flag(qh.is_some_and(|h| h.rd())));
    row.insert("RA", flag(answered.is_some_and(|r| r.header.ra())));
    row.insert("Z", qh.map_or(0, |h| h.z()).to_string());
    row.insert(
        "answers",
        if answers.is_empty() {
            unset()
        } else {
            answers
                .iter()
                .map(|a| a.0.as_str())
                .collect::<Vec<_>>()
                .join(",")
        },
    );
    row.insert(
        "TTLs",
        if answers.is_empty() {
            unset()
        } else {
            answers
                .iter()
                .map(|a| format!("{}.000000", a.1))
                .collect::<Vec<_>>()
                .join(",")
        },
    );
    row.insert(
        "rejected",
        // Zeek's two rules: an error without the question (main.zeek), and a reply with
        // the question but no record at all (its analyzer's `dns_rejected`).
        flag(r.is_some_and(|r| {
            let h = r.header;
            (r.rcode != 0 && h.qdcount == 0)
                || (h.qdcount > 0 && h.ancount == 0 && h.nscount == 0 && h.arcount == 0)
        })),
    );
    let op = q.or(r).map_or(0, |s| s.header.opcode());
    row.insert("opcode", op.to_string());
    row.insert("opcode_name", opcode_name(op));
    row
}

/// Zeek's records: each a list of (column, value) for the columns compared.
fn zeek_log(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut fields = Vec::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            fields = f.split('\t').map(str::to_owned).collect();
        } else if !line.starts_with('#') && !line.is_empty() {
            rows.push(line.split('\t').map(str::to_owned).collect());
        }
    }
    (fields, rows)
}

#[test]
fn every_zeek_pcap_decodes_to_its_dns_log() {
    let Some(dir) = logward_test_support::corpus("dns/zeek") else {
        return;
    };
    let mut folders: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    folders.sort();
    let mut failures = Vec::new();
    let mut used = vec![false; DIFFERENT.len()];
    let mut compared = 0;
    for folder in &folders {
        let name = folder.file_name().unwrap().to_string_lossy().into_owned();
        let pcap = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "pcap"))
            .unwrap();
        let (fields, want_rows) =
            zeek_log(&std::fs::read_to_string(folder.join("dns.log")).unwrap());
        assert!(!fields.is_empty(), "{name}: dns.log has no #fields line");
        let cols: Vec<(usize, &str)> = fields
            .iter()
            .enumerate()
            .filter(|(_, f)| *f != "ts" && *f != "uid")
            .map(|(i, f)| (i, f.as_str()))
            .collect();
        let skipped = |col: &str| {
            DIFFERENT
                .iter()
                .position(|(f, c, _)| *f == name && *c == col)
        };
        let render = |row: &dyn Fn(&str) -> String| -> String {
            cols.iter()
                .filter(|(_, c)| skipped(c).is_none())
                .map(|(_, c)| format!("{c}={}", row(c)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let port =
            |r: &Vec<String>, c: &str| r[fields.iter().position(|f| f == c).unwrap()].clone();
        let want_rows: Vec<Vec<String>> = want_rows
            .into_iter()
            .filter(|r| {
                port(r, "id.orig_p") != NETBIOS_PORT && port(r, "id.resp_p") != NETBIOS_PORT
            })
            .collect();
        let mut want: Vec<String> = want_rows
            .iter()
            .map(|r| render(&|c| r[fields.iter().position(|f| f == c).unwrap()].clone()))
            .collect();
        let txns = decode(&pcap, !ZEEK_IGNORED_CHECKSUMS.contains(&name.as_str()));
        let mut got: Vec<String> = txns
            .iter()
            .map(|t| {
                let z = zeek_row(t);
                render(&|c| {
                    z.get(c)
                        .cloned()
                        .unwrap_or_else(|| format!("<no column {c}>"))
                })
            })
            .collect();
        // Where a listed column is left out, it must really differ somewhere.
        for (i, (f, c, _)) in DIFFERENT.iter().enumerate() {
            if *f != name {
                continue;
            }
            let col = fields.iter().position(|x| x == c).unwrap();
            let mut theirs: Vec<String> = want_rows.iter().map(|r| r[col].clone()).collect();
            let mut ours: Vec<String> = txns.iter().map(|t| zeek_row(t)[c].clone()).collect();
            theirs.sort();
            ours.sort();
            used[i] = theirs != ours;
        }
        want.sort();
        got.sort();
        compared += want.len();
        if want != got {
            failures.push(format!(
                "{name}:\n  zeek:\n    {}\n  logward:\n    {}",
                want.join("\n    "),
                got.join("\n    ")
            ));
        }
    }
    for (i, (f, c, why)) in DIFFERENT.iter().enumerate() {
        if !used[i] {
            failures.push(format!(
                "{f} {c} is listed as different ({why}) but agrees now"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(compared >= 40, "only {compared} records compared");
}
