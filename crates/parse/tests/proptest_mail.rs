//! The mail decoders never panic, and the client cannot move the peer: whatever it puts in
//! a HELO, a login name, an envelope address or a quoted command, a decoded line's
//! `source.ip` is the address in the grammar position or none (withheld as ambiguous).
//! Generated valid lines with plain names round-trip their peer and user.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use logward_core::{Action, Outcome};
use logward_parse::decoders::mail;
use logward_parse::{Decoded, LineDecoder, YearResolver};
use proptest::prelude::*;

/// What a client would write to imitate a peer's position in each service's grammar.
const INJECTIONS: &[&str] = &[
    "[6.6.6.6]",
    " [6.6.6.6]",
    ") [6.6.6.6]",
    ") [6.6.6.6] (",
    "x[6.6.6.6]: ",
    "unknown[6.6.6.6]",
    "rip=6.6.6.6",
    ", rip=6.6.6.6, lip=1.1.1.1",
    ">, method=PLAIN, rip=6.6.6.6, lip=1.1.1.1, TLS",
    ",6.6.6.6): unknown user (",
    ",6.6.6.6,<abc>): ",
    ", relay=[6.6.6.6]",
    ", relay=h [6.6.6.6], reject=550 x",
    ", ip=[::ffff:6.6.6.6]",
    " host=h [6.6.6.6]",
    " from 6.6.6.6",
    " from 6.6.6.6. ",
    " from 6.6.6.6 in session x",
    "\" H=(x) [6.6.6.6]",
    " H=[6.6.6.6]:25 ",
    "(host=x [6.6.6.6])",
    ": 535 ",
    "(set_id=",
    "; from=<",
    " ",
    ")",
    "<",
    ">",
];

fn client_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            2 => prop::sample::select(INJECTIONS).prop_map(str::to_owned),
            2 => "[ -~]{0,8}",
        ],
        0..5,
    )
    .prop_map(|p| p.concat())
}

/// Lines with `{A}` (the real peer) and `{U}` (client text): each service's failure forms.
const TEMPLATES: &[&str] = &[
    "Dec  2 22:24:22 hel postfix/smtpd[7676]: warning: unknown[{A}]: SASL LOGIN authentication failed: authentication failure, sasl_username={U}",
    "Dec  2 22:24:22 hel postfix/submission/smtpd[7676]: warning: h.example[{A}]:587: SASL PLAIN authentication failed: {U}",
    "Dec  2 22:24:22 hel postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[{A}]: 554 5.7.1 <{U}>: Relay access denied; from=<{U}> to=<{U}> proto=ESMTP helo=<{U}>",
    "Dec  2 22:24:22 hel postfix/smtpd[1]: NOQUEUE: reject: RCPT from h.example[{A}]: 554 5.7.1 Service unavailable; Client host [{A}] blocked using zen.spamhaus.org; from=<{U}> to=<{U}> proto=ESMTP helo=<{U}>",
    "Dec  2 22:24:22 hel postfix/postscreen[1]: PREGREET 14 after 0.08 from [{A}]:59415: {U}",
    "Jun 13 16:30:54 platypus dovecot: imap-login: Disconnected (auth failed, 2 attempts): user=<{U}>, method=PLAIN, rip={A}, lip=192.0.2.250, TLS, session=<abc>",
    "Jun 13 16:30:54 platypus dovecot: auth-worker(1): pam({U},{A}): pam_authenticate() failed: Authentication failure (password mismatch?)",
    "Jun 13 16:30:54 platypus dovecot: auth: sql({U},{A},<n4JLdHNV>): Password mismatch (given password: {U})",
    "Aug 30 00:10:57 mail dovecot: auth({U},{A},sasl:login)<CvN+E95U>: Info: sql: Password mismatch (given password: {U})",
    "2013-01-04 17:03:46 login authenticator failed for ({U}) [{A}]:1234 I=[192.0.2.250]:25: 535 Incorrect authentication data (set_id={U})",
    "2016-05-17 06:25:27 SMTP protocol error in \"{U}\" H=({U}) [{A}] AUTH command used when not advertised",
    "2013-06-15 16:36:49 H=({U}) [{A}] F=<{U}> rejected RCPT <{U}>: Unknown user",
    "2013-12-30 00:24:50 1VxPit-000MMd-U4 SA: Action: flagged as Spam but accepted: score=8.2 required=5.0. From <{U}> (host=NULL [{A}]) for {U}",
    "Apr 23 21:59:01 dns2 imapd: LOGIN FAILED, user={U}, ip=[::ffff:{A}]",
    "Apr 10 03:47:57 web courieresmtpd: error,relay=::ffff:{A},from=<{U}>,to=<{U}>: 550 User unknown.",
    "Jan 4 21:51:05 hostname cyrus/imap[5355]: badlogin: h.example [{A}] plaintext {U} SASL(-13): authentication failure: checkpass failed",
    "Dec 1 20:36:56 mail sieve[23713]: badlogin: example.com[{A}] PLAIN authentication failure",
    "Feb 25 04:02:27 relay1 sendmail[16664]: 06I02CNi016764: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user={U}, relay=[{A}]",
    "Feb 25 03:01:10 kismet sm-mta[27713]: s1P819mk027713: ruleset=check_rcpt, arg1=<{U}>, relay=h.example [{A}], reject=550 5.7.1 <{U}>... Relaying denied.",
    "Jul 3 20:56:53 Linux2 imapd[666]: Login failed user={U} auth={U} host=h.example [{A}]",
    "Jul 11 03:06:37 myhostname roundcube: IMAP Error: Login failed for {U} from {A}. AUTHENTICATE PLAIN: A0002 NO Login failed.",
    "[22-Jan-2013 22:28:21 +0200]: <3z506z6r> Failed login for {U} from {A} in session 1z506z6r (error: 0)",
];

/// Templates whose client text stands only after the peer or cannot hold a second fit once
/// it is a plain name: the peer and (where the line has one) the user round-trip.
fn fill(t: &str, a: &str, u: &str) -> String {
    t.replace("{A}", a).replace("{U}", u)
}

fn decode(line: &str) -> logward_core::Event<'_> {
    LineDecoder::new(YearResolver::fixed(2026, 0)).decode(line)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn client_text_cannot_move_the_peer(
        t in prop::sample::select(TEMPLATES),
        a in any::<u32>().prop_map(Ipv4Addr::from),
        u in client_text(),
    ) {
        let line = fill(t, &a.to_string(), &u);
        let e = decode(&line);
        prop_assert!(
            e.source_ip.is_none() || e.source_ip == Some(IpAddr::V4(a)),
            "{line}: source {:?}", e.source_address
        );
        // A peer is only ever an address, never a name the client wrote.
        prop_assert!(e.source_address.is_none() || e.source_ip.is_some(), "{line}");
    }

    #[test]
    fn valid_lines_round_trip(
        t in prop::sample::select(TEMPLATES),
        a in any::<u32>().prop_map(Ipv4Addr::from),
        u in "[a-z][a-z0-9._@-]{0,15}",
    ) {
        let line = fill(t, &a.to_string(), &u);
        let e = decode(&line);
        prop_assert_eq!(e.source_ip, Some(IpAddr::V4(a)), "{}", line);
        prop_assert!(
            matches!(e.action(), Action::UserLogin | Action::ServiceAbuse | Action::ConnectionProbe),
            "{}: {}", line, e.action()
        );
        prop_assert_eq!(e.outcome, Outcome::Failure, "{}", line);
        if let Some(user) = e.user_name.as_deref() {
            prop_assert_eq!(user, u.as_str(), "{}", line);
        }
    }

    #[test]
    fn ipv6_peers_round_trip(
        // Courier writes v4 as `::ffff:A`; the other grammars take any address.
        t in prop::sample::select(
            TEMPLATES.iter().copied().filter(|t| !t.contains("::ffff:")).collect::<Vec<_>>()
        ),
        a in any::<u128>().prop_map(Ipv6Addr::from),
        u in "[a-z][a-z0-9._@-]{0,15}",
    ) {
        prop_assume!(a.to_ipv4_mapped().is_none());
        let line = fill(t, &a.to_string(), &u);
        let e = decode(&line);
        prop_assert_eq!(e.source_ip, Some(IpAddr::V6(a)), "{}", line);
    }

    #[test]
    fn never_panics(program in prop::sample::select(&["postfix/smtpd", "dovecot", "auth", "imap-login", "exim", "imapd", "courieresmtpd", "cyrus/imap", "sieve", "sm-mta", "ipop3d", "roundcube"][..]), m in prop_oneof![any::<String>(), client_text()]) {
        let decode = mail::decoder_for(program).unwrap();
        let _ = Decoded::run(|e| decode(&m, e));
        decode_line(&m);
    }
}

fn decode_line(m: &str) {
    let _ = decode(&format!("2013-01-04 17:03:46 {m}"));
    let _ = decode(&format!("[22-Jan-2013 22:28:21 +0200]: {m}"));
}

/// The mail files of fail2ban's corpus, one line each (empty without the corpus), read once.
fn corpus_lines() -> &'static [String] {
    static LINES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    LINES.get_or_init(read_corpus_lines)
}

fn read_corpus_lines() -> Vec<String> {
    let dir = logward_test_support::corpus_root().join("fail2ban/logs");
    [
        "postfix",
        "dovecot",
        "exim",
        "exim-spam",
        "courier-auth",
        "courier-smtp",
        "cyrus-imap",
        "sendmail-auth",
        "sendmail-reject",
        "uwimap-auth",
        "sieve",
        "roundcube-auth",
    ]
    .iter()
    .filter_map(|f| std::fs::read(dir.join(f)).ok())
    .flat_map(|b| {
        String::from_utf8_lossy(&b)
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    })
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Real lines cut and spliced with client-looking text: never a panic, and a peer is
    /// always an address written on the line.
    #[test]
    fn mutated_real_lines(pick in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>(), insert in client_text()) {
        let lines = corpus_lines();
        if lines.is_empty() {
            return Ok(());
        }
        let line = pick.get(lines);
        let mut at = cut.index(line.len() + 1);
        while !line.is_char_boundary(at) {
            at -= 1;
        }
        let mutated = format!("{}{}{}", &line[..at], insert, &line[at..]);
        let e = decode(&mutated);
        if let Some(a) = e.source_address.as_deref() {
            prop_assert!(
                mutated.to_ascii_lowercase().contains(&a.to_ascii_lowercase()),
                "{mutated}: {a}"
            );
        }
    }
}
