//! The service decoders (FTP, databases, OpenVPN, Asterisk, FreeSWITCH, squid, 3proxy,
//! portsentry, BIND, fail2ban) never panic, on arbitrary text and on their real lines (from the
//! corpus when present) mutated; and a user name, URI, call id or session id the client chose
//! never moves the source: generated valid lines with a hostile name decode to the real peer
//! (or, where the format is ambiguous, to none), never to the address the name carries.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::sync::OnceLock;

use logward_core::Event;
use logward_parse::decoders::{self, db, ftp, unframed, Decoded};
use logward_parse::YearResolver;
use proptest::prelude::*;

const FILES: &[&str] = &[
    "vsftpd",
    "proftpd",
    "pure-ftpd",
    "wuftpd",
    "mysqld-auth",
    "mssql-auth",
    "mongodb-auth",
    "openvpn",
    "asterisk",
    "freeswitch",
    "squid",
    "3proxy",
    "portsentry",
    "named-refused",
    "recidive",
];

const SEEDS: &[&str] = &[
    "[pid 1] [x] FAIL LOGIN: Client \"192.0.2.1\", \"why\"",
    "130324  0:04:00 [Warning] Access denied for user 'root'@'192.0.2.1' (using password: NO)",
    "2020-02-24 16:05:21.00 Logon       Login failed for user 'x'. Reason: r [CLIENT: 192.0.2.1]",
    r#"{"t":{"$date":"2020-05-20T19:18:40.604+00:00"},"msg":"Authentication failed","attr":{"principalName":"a","remote":"192.0.2.7:1"}}"#,
    "[2012-02-13 17:21:54] NOTICE[1638] chan_sip.c: Registration from '<sip:301@example.com>' failed for '1.2.3.4' - Wrong password",
];

fn real_lines() -> &'static Vec<String> {
    static LINES: OnceLock<Vec<String>> = OnceLock::new();
    LINES.get_or_init(|| {
        let mut v: Vec<String> = SEEDS.iter().map(|s| (*s).to_owned()).collect();
        if let Some(dir) = logward_test_support::corpus("") {
            for f in FILES {
                let text = common::read_lossy(&dir.join("fail2ban/logs").join(f));
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

type Decoder = for<'a> fn(&'a str, &mut Event<'a>) -> Option<decoders::Found<'a>>;

const DECODERS: &[(&str, Decoder)] = &[
    ("vsftpd", ftp::vsftpd::decode),
    ("proftpd", ftp::proftpd::decode),
    ("pure-ftpd", ftp::pureftpd::decode),
    ("wu-ftpd", ftp::wuftpd::decode),
    ("mysqld", db::mysql::decode),
    ("mssql", db::mssql::decode),
    ("mongodb", db::mongodb::decode),
    ("openvpn", decoders::openvpn::decode),
    ("asterisk", decoders::asterisk::decode),
    ("freeswitch", decoders::freeswitch::decode),
    ("named", decoders::named::decode),
    ("portsentry", decoders::portsentry::decode),
    ("fail2ban", decoders::fail2ban::decode),
];

/// Every decoder and the unframed formats on `msg`; a source is always an address.
fn exercise(msg: &str) {
    for (_, f) in DECODERS {
        if let Some(d) = Decoded::run(|e| f(msg, e)) {
            if let Some(src) = d.event.source_address.as_deref() {
                assert!(
                    msg.contains(src) || d.event.source_ip.is_some(),
                    "{src:?} not in {msg:?}"
                );
            }
        }
    }
    let mut years = YearResolver::fixed(2026, 0);
    let mut e = Event::default();
    if unframed::decode(msg, &mut years, &mut e).is_some() {
        if let Some(src) = e.source_address.as_deref() {
            assert!(
                msg.contains(src) || e.source_ip.is_some(),
                "{src:?} not in {msg:?}"
            );
        }
    }
    let mut ld = common::decoder();
    let _ = ld.decode(msg);
    for p in [
        "vsftpd",
        "proftpd",
        "asterisk",
        "Note",
        "WARNING",
        "named",
        "ovpn-server",
        "conn7",
    ] {
        let _ = ld.decode(&format!("Nov 22 10:00:01 h {p}[7]: {msg}"));
    }
}

/// A name that carries an attacker's address in every shape these formats use.
fn hostile() -> impl Strategy<Value = String> {
    let injections = prop_oneof![
        Just("] FAIL LOGIN: Client \"6.6.6.6".to_owned()),
        Just("'@'6.6.6.6".to_owned()),
        Just("' failed for '6.6.6.6' - Wrong password".to_owned()),
        Just("' failed for '6.6.6.6:5060' (callid: x) - No matching endpoint found".to_owned()),
        Just("' (6.6.6.6:5060) to extension 'x' rejected because extension not found in context 'd'.".to_owned()),
        Just("'. Reason: x [CLIENT: 6.6.6.6]".to_owned()),
        Just(" from ip 6.6.6.6".to_owned()),
        Just(" from 6.6.6.6".to_owned()),
        Just("' (from 6.6.6.6)".to_owned()),
        Just("\",RemoteAddress=\"IPV4/UDP/6.6.6.6/5060\"".to_owned()),
        Just(" 6.6.6.6:1 0.0.0.0:0 0 0 0 ".to_owned()),
        Just(": no such user found from x [6.6.6.6] to 1.1.1.1:21".to_owned()),
        Just(" (x[6.6.6.6]): ".to_owned()),
        Just("\"6.6.6.6\"".to_owned()),
    ];
    (
        "\\PC{0,12}",
        proptest::collection::vec(injections, 0..3),
        "\\PC{0,12}",
    )
        .prop_map(|(a, inj, b)| format!("{a}{}{b}", inj.concat()))
}

fn peer() -> impl Strategy<Value = String> {
    (10u8..100, any::<u8>(), any::<u8>(), 1u8..255)
        .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}"))
}

/// Decodes `line` (a whole line) as `logward scan` would.
fn scan_line(line: &str) -> Event<'static> {
    common::decoder().decode(line).into_owned()
}

fn source(e: &Event<'_>) -> Option<String> {
    e.source_address.as_deref().map(str::to_owned)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        exercise(&s);
    }

    #[test]
    fn mutated_real_lines_never_panic(
        i in any::<prop::sample::Index>(),
        cut in any::<usize>(),
        insert in "\\PC{0,6}",
    ) {
        let lines = real_lines();
        let line = &lines[i.index(lines.len())];
        let mut at = cut % (line.len() + 1);
        while !line.is_char_boundary(at) {
            at -= 1;
        }
        let m = format!("{}{insert}{}", &line[..at], &line[at..]);
        exercise(&m);
        exercise(&line[..at]);
        let _ = line.split_once("]: ").map(|(_, m)| exercise(m));
    }

    /// Formats with the peer in one place only: the real peer, and the user as sent.
    #[test]
    fn a_hostile_name_cannot_move_the_source(u in hostile(), ip in peer()) {
        let exact: Vec<(String, Option<String>)> = vec![
            (format!("Nov 22 10:00:01 h vsftpd[7]: [{u}] FAIL LOGIN: Client \"{ip}\""), (!u.starts_with("pid ")).then(|| u.clone())),
            (format!("Nov 22 10:00:01 h proftpd[7]: srv (h.example[{ip}]) - USER {u}: no such user found from h.example [{ip}] to 192.0.2.200:21"), Some(u.clone())),
            (format!("Nov 22 10:00:01 h pure-ftpd: (?@{ip}) [WARNING] Authentication failed for user [{u}]"), Some(u.clone())),
            (format!("Nov 22 10:00:01 h mysqld: Access denied for user '{u}'@'{ip}' (using password: YES)"), Some(u.clone())),
            (format!("2020-02-24 16:05:21.00 Logon       Login failed for user '{u}'. Reason: Password did not match that for the login provided. [CLIENT: {ip}]"), Some(u.clone())),
            (format!("[2012-02-13 17:21:54] NOTICE[1638] chan_sip.c: Registration from '<sip:{u}@example.com>' failed for '{ip}' - Wrong password"), None),
            (format!("[2012-02-13 17:39:20] NOTICE[1638] chan_iax2.c: No registration for peer '{u}' (from {ip})"), Some(u.clone())),
            (format!("[2016-06-09 00:01:02] NOTICE[22382] manager.c: {ip} failed to authenticate as '{u}'"), None),
            (format!("2013-12-31 17:39:54.767815 [WARNING] sofia_reg.c:1478 SIP auth failure (INVITE) on sofia profile 'internal' for [{u}@192.168.2.51] from ip {ip}"), None),
            (format!("Nov 22 10:00:01 h ftpd[7]: FTP LOGIN FAILED FROM {ip}, {u}"), Some(u.trim_end_matches([' ', '\t']).to_owned())),
            (format!("{{\"t\":{{\"$date\":\"2020-05-20T19:18:40.604+00:00\"}},\"msg\":\"Authentication failed\",\"attr\":{{\"principalName\":{},\"remote\":\"{ip}:5\"}}}}", serde_json::to_string(&u).unwrap()), Some(u.clone())),
        ];
        for (line, user) in &exact {
            let e = scan_line(line);
            prop_assert_eq!(source(&e), Some(ip.clone()), "{}", line);
            prop_assert!(logward_parse::decoders::Decoded::from(e.clone()).event.outcome == logward_core::Outcome::Failure, "{}", line);
            if let Some(u) = user.as_deref().filter(|u| !u.is_empty()) {
                prop_assert_eq!(e.user_name.as_deref(), Some(u), "{}", line);
            }
        }
        // Client text on both sides of the peer: the real peer, or none — never the name's.
        let either = [
            format!("[2016-05-23 10:18:16] NOTICE[19388] res_pjsip/pjsip_distributor.c: Request from '<sip:{u}@10.0.0.1>' failed for '{ip}:48336' (callid: {u}) - No matching endpoint found"),
            format!("[2013-02-05 23:44:42] NOTICE[436][C-00000fa9] chan_sip.c: Call from '{u}' ({ip}:10836) to extension '{u}' rejected because extension not found in context 'default'."),
            format!("[2015-05-25 07:19:19] SECURITY[6988] res_security_log.c: SecurityEvent=\"InvalidPassword\",EventTV=\"x\",Severity=\"Error\",Service=\"SIP\",EventVersion=\"2\",AccountID=\"{u}\",SessionID=\"{u}\",LocalAddress=\"IPV4/UDP/192.0.2.250/5060\",RemoteAddress=\"IPV4/UDP/{ip}/5070\",Challenge=\"c\",ReceivedChallenge=\"{u}\",ReceivedHash=\"{u}\""),
            format!("11-06-2013 02:09:40 +0300 PROXY.3128 00004 {u} {ip}:28783 0.0.0.0:0 0 0 0 GET http://x/{u} HTTP/1.1"),
        ];
        for line in &either {
            let e = scan_line(line);
            let s = source(&e);
            prop_assert!(s.is_none() || s.as_deref() == Some(ip.as_str()), "{:?}: {}", s, line);
        }
    }
}

#[test]
fn one_decoder_over_every_real_line() {
    let mut ld = common::decoder();
    for l in real_lines() {
        let _ = ld.decode(l);
    }
    assert!(real_lines().len() >= SEEDS.len());
}
