//! The audit decoder and its joiner: never panic on any text, take the peer only from the
//! record's own `addr=` field, decode EXECVE arguments exactly as the kernel encoded them,
//! and join records within a bound without losing an exec.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::net::IpAddr;

use logward_core::{Action, Event};
use logward_parse::decoders::audit::{self, join::MAX_OPEN, record, Joiner};
use logward_parse::{LineDecoder, YearResolver};
use proptest::prelude::*;

/// Pieces of the record grammar, so random joins reach deep branches.
const FRAGMENTS: &[&str] = &[
    "type=",
    "node=",
    "USER_AUTH",
    "USER_LOGIN",
    "ADD_USER",
    "GRP_MGMT",
    "SYSCALL",
    "EXECVE",
    "PROCTITLE",
    "EOE",
    "1100",
    "1300",
    "1309",
    " msg=audit(",
    "1700000000.123:",
    "99999999999999999999",
    "): ",
    "msg='",
    "'",
    "\"",
    " acct=",
    " addr=",
    " hostname=",
    "1.2.3.4",
    "::1",
    "?",
    " res=failed",
    " res=success",
    " exe=\"/usr/bin/su\"",
    " arch=c000003e syscall=59 success=yes",
    " argc=2 a0=",
    " a1[0]=",
    " a1_len=",
    "2D6C",
    "\u{1d}",
    "AUID=\"alice\"",
    "SYSCALL=execve",
    "audit: ",
    "[ 1.0] ",
    " ",
    "é",
];

fn fragmented() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(FRAGMENTS).prop_map(str::to_owned),
            "[ -~]{0,6}",
        ],
        0..24,
    )
    .prop_map(|v| v.concat())
}

/// A value as libaudit writes it: quoted when it holds nothing special, else hex.
fn encode(v: &str) -> String {
    let plain = !v.is_empty() && v.bytes().all(|c| c > 0x20 && c < 0x7f && c != b'"');
    if plain {
        format!("\"{v}\"")
    } else {
        v.bytes().map(|c| format!("{c:02X}")).collect()
    }
}

/// EXECVE's body as the kernel writes it, long arguments in pieces of `chunk` bytes (the
/// kernel's pieces are bigger; small ones exercise the joining).
fn execve_body(argv: &[Vec<u8>], chunk: usize) -> String {
    let mut s = format!("argc={}", argv.len());
    for (i, a) in argv.iter().enumerate() {
        let enc = |b: &[u8]| -> String {
            let plain = b.iter().all(|&c| c > 0x20 && c < 0x7f && c != b'"');
            if plain {
                format!("\"{}\"", String::from_utf8_lossy(b))
            } else {
                b.iter().map(|c| format!("{c:02X}")).collect()
            }
        };
        if a.len() > chunk {
            s.push_str(&format!(" a{i}_len={}", a.len()));
            for (j, piece) in a.chunks(chunk).enumerate() {
                s.push_str(&format!(" a{i}[{j}]={}", enc(piece)));
            }
        } else {
            s.push_str(&format!(" a{i}={}", enc(a)));
        }
    }
    s
}

proptest! {
    #[test]
    fn any_text_never_panics(lines in prop::collection::vec(fragmented(), 1..12)) {
        let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
        for l in &lines {
            let _ = d.decode(l);
            while d.take_joined().is_some() {}
            let _ = d.decode(&format!("Nov 22 10:00:01 h audit[1]: {l}"));
            let _ = d.decode(&format!("Nov 22 10:00:01 h kernel: {l}"));
        }
        d.finish();
        while d.take_joined().is_some() {}
    }

    #[test]
    fn the_peer_is_the_last_addr_field(
        acct in "[ -~é]{0,20}",
        hostname in "[ -~]{1,24}",
        addr in prop_oneof![
            Just("?".to_owned()),
            any::<[u8; 4]>().prop_map(|b| IpAddr::from(b).to_string()),
            any::<[u16; 8]>().prop_map(|b| IpAddr::from(b).to_string()),
            "[a-z.]{1,12}",
        ],
        kind in prop::sample::select(&["USER_AUTH", "USER_LOGIN", "USER_ACCT", "USER_ERR", "USER_START", "ADD_USER"][..]),
    ) {
        let line = format!(
            "type={kind} msg=audit(1700000000.000:1): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct={} exe=\"/usr/sbin/sshd\" hostname={hostname} addr={addr} terminal=ssh res=failed'",
            encode(&acct)
        );
        let mut d = LineDecoder::new(YearResolver::fixed(2026, 0));
        let e = d.decode(&line);
        let want: Option<IpAddr> = addr.parse().ok();
        if e.action() != Action::Unknown {
            prop_assert_eq!(e.source_ip, want, "{}", line);
            if e.source_address.is_some() {
                prop_assert!(want.is_some());
            }
        }
        if kind == "USER_AUTH" && !acct.is_empty() && !acct.starts_with('(') {
            prop_assert_eq!(e.user_name.as_deref(), Some(acct.as_str()));
        }
    }

    #[test]
    fn execve_arguments_round_trip(
        argv in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6),
        chunk in 1usize..16,
    ) {
        let body = execve_body(&argv, chunk);
        let want: Vec<u8> = argv.join(&b' ');
        let got = record::execve_argv(&body).unwrap();
        prop_assert_eq!(got, String::from_utf8_lossy(&want).into_owned(), "{}", body);
    }

    /// Random interleavings of exec events (SYSCALL, EXECVE, PROCTITLE in any order, some
    /// missing, repeated EXECVEs): at most MAX_OPEN execs wait at any time, and every exec
    /// SYSCALL and every EXECVE is reported by some process-started event.
    #[test]
    fn joiner_is_bounded_and_loses_no_exec(
        ops in prop::collection::vec((0u64..80, 0u8..4), 1..300),
    ) {
        let mut j = Joiner::default();
        let (mut syscalls, mut execves) = (BTreeSet::new(), BTreeSet::new());
        let mut reported = BTreeSet::new();
        let mut events = 0usize;
        let note = |e: &Event<'_>, reported: &mut BTreeSet<u64>| {
            assert_eq!(e.action(), Action::ProcessStarted);
            let c = e.command_line.as_deref().unwrap();
            let n = c.trim_start_matches("/bin/s").trim_start_matches('s');
            let n = n.split(' ').next().unwrap();
            reported.insert(n.parse::<u64>().unwrap());
        };
        for (serial, op) in ops {
            let line = match op {
                0 => {
                    syscalls.insert(serial);
                    format!("type=SYSCALL msg=audit(1.0:{serial}): arch=c000003e syscall=59 success=yes exit=0 pid=2 auid=1 uid=1 exe=\"/bin/s{serial}\" key=(null)")
                }
                1 => {
                    execves.insert(serial);
                    format!("type=EXECVE msg=audit(1.0:{serial}): argc=2 a0=\"s{serial}\" a1=2D6C")
                }
                2 => format!("type=PROCTITLE msg=audit(1.0:{serial}): proctitle=6C73"),
                _ => format!("type=CWD msg=audit(1.0:{serial}): cwd=\"/\""),
            };
            let rec = record::parse(&line).unwrap();
            let mut e = Event::default();
            if audit::decode(&rec, &mut j, &mut e).is_some() {
                events += 1;
                note(&e, &mut reported);
            }
            prop_assert!(j.open() <= MAX_OPEN);
            while let Some(f) = j.take() {
                events += 1;
                note(&f, &mut reported);
            }
        }
        j.finish();
        while let Some(f) = j.take() {
            events += 1;
            note(&f, &mut reported);
        }
        prop_assert_eq!(j.open(), 0);
        for s in syscalls.iter().chain(&execves) {
            prop_assert!(reported.contains(s), "exec {} lost", s);
        }
        prop_assert!(events <= 300 + syscalls.len());
    }
}
