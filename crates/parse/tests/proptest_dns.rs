//! The DNS log readers: never a panic on arbitrary lines built from their own words (under a
//! Zeek header, as dnsmasq and Unbound messages, as JSON); and dnsmasq's `log-queries=extra`
//! lines, however the queries interleave, give exactly one event per query with its own
//! question and answers — nothing lost, nothing joined to the wrong query.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use logward_core::{Action, Event};
use proptest::prelude::*;

fn words() -> impl Strategy<Value = String> {
    let w = prop::sample::select(vec![
        "query[A]",
        "query[AAAA]",
        "query[TYPE65399]",
        "auth[A]",
        "forwarded",
        "reply",
        "cached",
        "config",
        "/etc/hosts",
        "is",
        "from",
        "to",
        "<CNAME>",
        "<type=65399>",
        "NXDOMAIN",
        "NODATA-IPv6",
        "error",
        "REFUSED",
        "(EDE: not ready)",
        "10.0.0.1",
        "10.0.0.1/5353",
        "::1",
        "7",
        "a.example",
        "a.example.",
        "A",
        "IN",
        "NOERROR",
        "0.000000",
        "1",
        "57",
        "@",
        "#",
        "\t",
        "-",
        "(empty)",
        ",",
        "\\x09",
        "{",
        "}",
        "\"dns\"",
        "\"question\"",
        "\"id.orig_h\"",
        "\"qtype_name\"",
        ":",
        "[",
        "]",
        "[7:0]",
        "info:",
        "] unbound[",
        "#separator",
        "#fields",
        "#close",
        "ts",
        "query",
        "é",
        " ",
    ]);
    prop::collection::vec(w, 0..14).prop_map(|v| v.join(" "))
}

fn run(lines: &[String]) -> Vec<Event<'static>> {
    logward_parse::scan_lines(&mut common::decoder(), lines.iter().map(String::as_str))
}

/// One query of the interleaving test: its name and how many addresses it gets (0: NXDOMAIN).
#[derive(Debug, Clone)]
struct Q {
    name: String,
    answers: usize,
    forwarded: bool,
}

fn queries() -> impl Strategy<Value = Vec<Q>> {
    prop::collection::vec(
        ("[a-c]{1,3}\\.example", 0usize..4, any::<bool>()).prop_map(
            |(name, answers, forwarded)| Q {
                name,
                answers,
                forwarded,
            },
        ),
        1..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_lines_never_panic(lines in prop::collection::vec(words(), 0..30), mode in 0u8..4) {
        let mut all = Vec::new();
        if mode == 0 {
            all.push("#separator \\x09".to_owned());
            all.push("#fields\tts\tid.orig_h\tquery\tqtype_name\tanswers\tTTLs".to_owned());
        }
        for l in lines {
            all.push(match mode {
                1 => format!("Dec  7 01:09:02 gw dnsmasq[7]: {l}"),
                2 => format!("Dec  7 01:09:02 gw unbound: [7:0] info: {l}"),
                _ => l,
            });
        }
        let n = all.len();
        let got = run(&all);
        // At most one event per line (a joined query takes several lines).
        prop_assert!(got.len() <= n, "{} events of {n} lines", got.len());
    }

    #[test]
    fn interleaved_dnsmasq_queries_are_each_one_event(qs in queries(), order in prop::collection::vec(any::<bool>(), 0..200)) {
        // Each query: its question (and forwarding) first, then its answers written together,
        // as dnsmasq writes a reply; queries interleave as `order` says.
        let head = |i: usize, q: &Q| {
            let mut v = vec![format!("Dec  7 01:09:02 gw dnsmasq[7]: {} 10.0.0.{}/4{i:04} query[A] {} from 10.0.0.{}", i + 1, i % 250, q.name, i % 250)];
            if q.forwarded {
                v.push(format!("Dec  7 01:09:02 gw dnsmasq[7]: {} 10.0.0.{}/4{i:04} forwarded {} to 192.0.2.53", i + 1, i % 250, q.name));
            }
            v
        };
        let answers = |i: usize, q: &Q| {
            let pre = format!("Dec  7 01:09:02 gw dnsmasq[7]: {} 10.0.0.{}/4{i:04}", i + 1, i % 250);
            if q.answers == 0 {
                return vec![format!("{pre} reply {} is NXDOMAIN", q.name)];
            }
            (0..q.answers).map(|k| format!("{pre} reply {} is 198.51.100.{k}", q.name)).collect()
        };
        let (mut h, mut a) = (0, 0);
        let mut lines = Vec::new();
        let mut pick = order.into_iter().chain(std::iter::repeat(true));
        while a < qs.len() {
            let answer = pick.next().unwrap_or(true) || h == qs.len();
            if answer && a < h {
                lines.extend(answers(a, &qs[a]));
                a += 1;
            } else if h < qs.len() {
                lines.extend(head(h, &qs[h]));
                h += 1;
            }
        }
        let got = run(&lines);
        prop_assert_eq!(got.len(), qs.len());
        let mut seen = vec![false; qs.len()];
        for e in &got {
            prop_assert_eq!(e.action, Some(Action::DnsQuery));
            let port = e.source_port.unwrap();
            let i = usize::from(port - 40_000);
            let d = e.dns.as_ref().unwrap();
            prop_assert!(!seen[i]);
            seen[i] = true;
            prop_assert_eq!(&*d.question_name, qs[i].name.as_str());
            prop_assert_eq!(d.answers.len(), qs[i].answers);
            let rcode = if qs[i].answers == 0 { "NXDOMAIN" } else { "NOERROR" };
            prop_assert_eq!(d.response_code.as_deref(), Some(rcode));
        }
    }
}
