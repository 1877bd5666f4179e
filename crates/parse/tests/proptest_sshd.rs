//! `sshd::decode`, `pam::decode`, the dropbear, xrdp and cowrie decoders and
//! `LineDecoder::decode` never panic: over arbitrary text, and over real sshd/PAM/dropbear/
//! xrdp/cowrie lines (read from the corpus when present) cut, spliced and mutated. Also: a
//! decoded source is always text of the line; generated valid lines of every form decode to
//! the peer they were written with, and no user name — whatever it spells — moves the source
//! anywhere else (at worst the peer is withheld).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::sync::OnceLock;

use std::net::IpAddr;

use logward_parse::decoders::{cowrie, dropbear, pam, sshd, xrdp, Decoded};
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
    "drop connection #3 from [203.0.113.7]:4 on [10.0.0.1]:22 penalty: failed authentication",
    "srclimit_penalise: ipv4: new 203.0.113.0/24 active penalty of 30.000 seconds for penalty: caused crash",
    "Starting session: shell on pts/0 for ann from 203.0.113.8 port 5 id 0",
    "Timeout, client not responding from user ann 203.0.113.8 port 5",
    "/home/a/.ssh/authorized_keys:1: Authentication tried for a with correct key but not from a permitted host (host=h, ip=203.0.113.9, required=r).",
    "Exit before auth from <203.0.113.10:52289>: (user 'root', 10 fails): Max auth tries reached - user 'root'",
    "Bad password attempt for 'root' from ::ffff:203.0.113.11:5",
    "[INFO ] AUTHFAIL: user=a ip=::ffff:203.0.113.12 time=1",
    "[20220407-12:11:06] [INFO ] AUTHFAIL: user=a ip=203.0.113.13 time=1",
    r#"{"eventid":"cowrie.login.failed","src_ip":"203.0.113.14","username":"root"}"#,
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
                "fail2ban/logs/dropbear",
                "fail2ban/logs/xrdp",
                "fail2ban/logs/cowrie",
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
        Decoded::run(|e| dropbear::decode(msg, e)),
        Decoded::run(|e| xrdp::decode(msg, e)),
        Decoded::run(|e| cowrie::decode(msg, e).map(|(f, _)| f)),
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
    for prog in ["sshd", "dropbear", "xrdp-sesman"] {
        let line = format!("Nov 22 10:00:01 h {prog}[7]: {msg}");
        let _ = ld.decode(&line);
    }
    let _ = ld.decode(msg);
}

/// A user name: plain, or built from pieces that imitate the grammar around it.
fn user_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_]{0,10}",
        proptest::collection::vec(
            prop_oneof![
                Just("root".to_owned()),
                Just(" from 6.6.6.6 port 1 ssh2".to_owned()),
                Just(" from 6.6.6.6 port 1 ssh2: ".to_owned()),
                Just("6.6.6.6 port 1: ".to_owned()),
                Just(" 6.6.6.6 port 1".to_owned()),
                Just("' from 6.6.6.6:1".to_owned()),
                Just("<6.6.6.6:1>: ".to_owned()),
                Just("', 1 fails): Max auth tries reached - user '".to_owned()),
                Just(" ip=6.6.6.6 time=1".to_owned()),
                Just("\\n[20220407-12:16:59] [INFO ] AUTHFAIL: user=x".to_owned()),
                Just("\"src_ip\":\"6.6.6.6\"".to_owned()),
                Just("invalid user ".to_owned()),
                Just("authenticating user ".to_owned()),
                Just(" [preauth]".to_owned()),
                Just(" id 0".to_owned()),
                "\\PC{0,6}",
            ],
            1..5,
        )
        .prop_map(|v| v.concat()),
    ]
}

fn peer() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u16; 8]>().prop_map(IpAddr::from),
    ]
    .prop_filter("not the injected address", |ip| {
        ip.to_string() != "6.6.6.6" && !ip.to_canonical().is_loopback()
    })
}

/// Every form that carries a user name and a peer: (framed or whole line, whether its peer
/// must survive whatever the user name is — false where the grammar leaves it ambiguous and
/// the correlator may withhold it).
fn forms(u: &str, ip: IpAddr, p: u16) -> Vec<(String, bool)> {
    let sshd = |m: String| format!("Nov 22 10:00:01 h sshd[7]: {m}");
    let db = |m: String| format!("Nov 22 10:00:01 h dropbear[7]: {m}");
    let json_user = serde_json::to_string(u).unwrap();
    vec![
        (sshd(format!("Failed password for {u} from {ip} port {p} ssh2")), false),
        (sshd(format!("Failed password for invalid user {u} from {ip} port {p} ssh2")), false),
        (sshd(format!("Invalid user {u} from {ip} port {p}")), true),
        (sshd(format!("Connection closed by invalid user {u} {ip} port {p} [preauth]")), true),
        (sshd(format!("Disconnected from authenticating user {u} {ip} port {p} [preauth]")), true),
        (sshd(format!("Disconnecting invalid user {u} {ip} port {p}: Too many authentication failures [preauth]")), false),
        (sshd(format!("Timeout, client not responding from user {u} {ip} port {p}")), true),
        (sshd(format!("Starting session: shell on pts/0 for {u} from {ip} port {p} id 0")), true),
        (sshd(format!("Close session: user {u} from {ip} port {p} id 0")), true),
        (sshd(format!("drop connection #1 from [{ip}]:{p} on [10.0.0.1]:22 penalty: failed authentication")), true),
        (db(format!("Bad password attempt for '{u}' from {ip}:{p}")), true),
        (db(format!("Exit before auth from <{ip}:{p}>: (user '{u}', 10 fails): Max auth tries reached - user '{u}'")), true),
        (db(format!("Exit before auth (user '{u}', 10 fails): Max auth tries reached - user '{u}' from {ip}:{p}")), true),
        (db(format!("Pubkey auth succeeded for '{u}' with ssh-ed25519 key SHA256:x from {ip}:{p}")), true),
        (format!("Nov 22 10:00:01 h xrdp-sesman[7]: [INFO ] AUTHFAIL: user={u} ip={ip} time=1"), true),
        (format!("[20220407-12:11:06] [INFO ] AUTHFAIL: user={u} ip={ip} time=1"), true),
        (format!(r#"{{"eventid":"cowrie.login.failed","username":{json_user},"src_ip":"{ip}","src_port":{p}}}"#), true),
    ]
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// The source is the peer the line was written with, or (only where the grammar is
    /// ambiguous) none; a plain user name round-trips.
    #[test]
    fn user_names_never_move_the_source(u in user_name(), ip in peer(), p in 1u16..) {
        let plain = u.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
        for (line, sure) in forms(&u, ip, p) {
            if u.contains('\r') || u.contains('\n') {
                continue;
            }
            let mut d = common::decoder();
            let e = d.decode(&line);
            let want = ip.to_canonical();
            match e.source_ip {
                Some(got) => prop_assert_eq!(got, want, "{}", line),
                None => prop_assert!(
                    !(sure || plain) && e.source_address.is_none(),
                    "peer lost or garbled ({:?}): {}", e.source_address, line
                ),
            }
            if plain && !line.contains("drop connection") {
                let user = e.user_name.as_deref();
                prop_assert_eq!(user, Some(u.as_str()), "{}", line);
            }
        }
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
