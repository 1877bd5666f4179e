//! `sshd::decode`, `pam::decode` and `LineDecoder::decode` never panic: over arbitrary text,
//! and over real sshd/PAM lines (read from the corpus when present) cut, spliced and mutated.
//! Also: a decoded source is always text of the line.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::sync::OnceLock;

use logward_parse::decoders::{pam, sshd, Decoded};
use proptest::prelude::*;

/// Seeds written here (forms only; values are made up), extended with the corpus's sshd and
/// PAM lines when it is present.
const SEEDS: &[&str] = &[
    "Failed password for invalid user x from 203.0.113.9 port 4 ssh2: from 198.51.100.1 port 5 ssh2",
    "Accepted publickey for ann from 2001:db8::7 port 22 ssh2: ED25519 SHA256:abc",
    "Connection closed by authenticating user a b 203.0.113.1 port 9 [preauth]",
    "Received disconnect from 203.0.113.2 port 1:11: Bye [preauth]",
    "Disconnecting invalid user q 203.0.113.3 port 2: Too many authentication failures [preauth]",
    "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=a rhost=b rhost=c  user=d",
    "PAM 3 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.4",
    "User bob from host.example not allowed because not listed in AllowUsers",
    "ssh_dispatch_run_fatal: Connection from 203.0.113.5 port 3: Broken pipe [preauth]",
    "error: PAM: Authentication failure for z from 203.0.113.6 via 10.0.0.1",
];

fn real_lines() -> &'static Vec<String> {
    static LINES: OnceLock<Vec<String>> = OnceLock::new();
    LINES.get_or_init(|| {
        let mut v: Vec<String> = SEEDS.iter().map(|s| (*s).to_owned()).collect();
        if let Some(dir) = logward_test_support::corpus("") {
            for f in [
                "fail2ban/logs/sshd",
                "fail2ban/logs/sshd-journal",
                "fail2ban/logs/pam-generic",
                "loghub/OpenSSH/OpenSSH_2k.log",
            ] {
                let text = common::read_lossy(&dir.join(f));
                v.extend(
                    text.lines()
                        .filter(|l| !l.starts_with('#') && !l.is_empty())
                        .map(|l| l.trim_end_matches('\r').to_owned()),
                );
            }
        }
        v
    })
}

/// The message part of a framed line (after `prog[pid]: `), or the line.
fn message(line: &str) -> &str {
    line.split_once("]: ").map_or(line, |(_, m)| m)
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Insert(usize, String),
    Delete(usize, usize),
    Splice(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            prop_oneof![
                Just(" from ".to_owned()),
                Just(" port ".to_owned()),
                Just(" [preauth]".to_owned()),
                Just(" rhost=".to_owned()),
                Just(": ".to_owned()),
                Just("user=".to_owned()),
                Just("(".to_owned()),
                "\\PC{0,8}",
            ]
        )
            .prop_map(|(at, s)| Mutation::Insert(at, s)),
        (any::<usize>(), 0usize..12).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Splice(a, b)),
    ]
}

fn boundary(s: &str, at: usize) -> usize {
    let mut i = at % (s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(line: &str, other: &str, ms: &[Mutation]) -> String {
    let mut s = line.to_owned();
    for m in ms {
        match m {
            Mutation::Truncate(at) => s.truncate(boundary(&s, *at)),
            Mutation::Insert(at, t) => s.insert_str(boundary(&s, *at), t),
            Mutation::Delete(at, n) => {
                let a = boundary(&s, *at);
                let b = boundary(&s, a.saturating_add(*n).min(s.len()));
                s.replace_range(a..b.max(a), "");
            }
            Mutation::Splice(a, b) => {
                let head = &s[..boundary(&s, *a)];
                let tail = &other[boundary(other, *b)..];
                s = format!("{head}{tail}");
            }
        }
    }
    s
}

/// Everything the decoders can do to one message.
fn exercise(msg: &str) {
    for d in [
        Decoded::run(|e| sshd::decode(msg, e)),
        Decoded::run(|e| pam::decode("sshd", None, msg, e)),
        Decoded::run(|e| pam::decode("su", Some("pam_unix"), msg, e)),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(src) = d.event.source_address.as_deref() {
            // Canonicalised IPv6 may be rewritten; anything else is a slice of the line.
            assert!(
                msg.contains(src) || d.event.source_ip.is_some(),
                "{src:?} not in {msg:?}"
            );
        }
    }
    let mut ld = common::decoder();
    let line = format!("Nov 22 10:00:01 h sshd[7]: {msg}");
    let _ = ld.decode(&line);
    let _ = ld.decode(msg);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        exercise(&s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        exercise(&String::from_utf8_lossy(&b));
    }

    #[test]
    fn mutated_real_lines_never_panic(
        i in any::<prop::sample::Index>(),
        j in any::<prop::sample::Index>(),
        ms in proptest::collection::vec(mutation(), 0..4),
    ) {
        let lines = real_lines();
        let line = &lines[i.index(lines.len())];
        let other = &lines[j.index(lines.len())];
        let m = mutate(line, other, &ms);
        exercise(message(&m));
        let mut ld = common::decoder();
        let _ = ld.decode(&m);
    }
}

#[test]
fn one_decoder_over_every_real_line() {
    // The correlator's state across a whole input must not panic either.
    let mut ld = common::decoder();
    for l in real_lines() {
        let _ = ld.decode(l);
    }
    assert!(real_lines().len() >= SEEDS.len());
}
