//! The PAM decoder's forms (password changes, unix_chkpwd, lockouts, pam_succeed_if and
//! pam_access denials) and sshd's `PAM:` lines: they never panic, every field they return
//! borrows from the message, a source is only ever the address at the grammar's position
//! (whatever the client put in its user name), and generated valid lines round-trip.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::borrow::Cow;
use std::net::Ipv4Addr;

use logward_core::{Action, Outcome};
use logward_parse::decoders::{pam, shadow, sshd, Decoded};
use proptest::prelude::*;

mod common;

/// Pieces of the forms, so that random joins reach deep branches.
const FRAGMENTS: &[&str] = &[
    "pam_unix(",
    "pam_faillock(",
    "pam_tally2(",
    "pam_succeed_if(",
    "pam_access(",
    "pam_pwquality(",
    "passwd:chauthtok): ",
    "sshd:auth): ",
    "sshd:account): ",
    "(pam_unix) ",
    "PAM ",
    "PAM: ",
    "password changed for ",
    "password not changed for ",
    " on ",
    "password check failed for user (",
    "check pass; user ",
    "unknown",
    ") unknown",
    "new password not acceptable",
    "bad password: ",
    "user \"",
    "\" does not exist in /etc/passwd",
    "user not authenticated",
    "Consecutive login failures for user ",
    " account temporarily locked",
    "User unknown",
    ": ",
    "user ",
    " (0) tally 4, deny 3",
    ") has time limit [",
    "pam_get_uid; no such user",
    "requirement \"uid >= 1000\" not met by user \"",
    "\" not met by ",
    "unknown user",
    "access denied for user `",
    "' from `",
    "'",
    "2 more authentication failures; ",
    "rejected by account configuration[9]: ",
    "pam_chauthtok failed",
    "session setup failed",
    "Authentication failure",
    "Have exhausted maximum number of retries for service",
    " for ",
    "illegal user ",
    " from ",
    " via ",
    "pam_open_session(): ",
    "(user ",
    ") pam_chauthtok() failed, error:",
    "#012",
    "\n",
    "BAD PASSWORD: ",
    "rhost=",
    "logname=",
    " ruser=",
    "  user=",
    "authentication failure; ",
    "192.0.2.1",
    "2001:db8::1",
    "root",
    "é",
    "\u{0}",
];

fn message() -> impl Strategy<Value = String> {
    common::fragments::message(FRAGMENTS, "[a-z0-9 ()\"'`]{0,6}")
}

/// Every text field is a non-empty slice of the message (decoding allocated nothing for it),
/// except a canonicalised IPv6 source, which must then parse.
fn borrows_from(m: &str, d: &Decoded<'_>) {
    let e = &d.event;
    let (start, end) = (m.as_ptr() as usize, m.as_ptr() as usize + m.len());
    for f in [&e.user_name, &e.user_target_name, &e.source_address]
        .into_iter()
        .flatten()
    {
        match f {
            Cow::Borrowed(s) => {
                let p = s.as_ptr() as usize;
                assert!(p >= start && p + s.len() <= end, "{s:?} is not in {m:?}");
                assert!(!s.is_empty(), "empty field from {m:?}");
            }
            Cow::Owned(s) => assert!(e.source_ip.is_some(), "{s:?} allocated for {m:?}"),
        }
    }
}

const SERVICES: &[&str] = &[
    "sshd",
    "su",
    "sudo",
    "passwd",
    "chpasswd",
    "login",
    "unix_chkpwd",
    "vsftpd",
    "x",
];

/// A user name as a hostile client may send it: any text, often holding pieces of the
/// grammar.
fn hostile_user() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9._-]{0,12}",
        prop::collection::vec(
            prop_oneof![
                2 => "[a-zA-Z0-9 ]{1,6}",
                1 => prop::sample::select(&[" from ", "' from `", "\" not met by ", " for ", "\"", "'", "`", " via "][..]).prop_map(str::to_owned),
                1 => ipv4().prop_map(|ip| ip.to_string()),
            ],
            1..6,
        )
        .prop_map(|p| p.concat()),
    ]
}

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn d<'a>(svc: &str, m: &'a str) -> Decoded<'a> {
    Decoded::run(|e| pam::decode(svc, None, m, e)).unwrap_or_else(|| panic!("not decoded: {m}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn pam_never_panics(m in message(), svc in prop::sample::select(SERVICES)) {
        for module in [None, Some("pam_unix")] {
            if let Some(x) = Decoded::run(|e| pam::decode(svc, module, &m, e)) {
                borrows_from(&m, &x);
            }
        }
        if let Some(x) = Decoded::run(|e| shadow::decode(svc, &m, e)) {
            borrows_from(&m, &x);
        }
        let _ = Decoded::run(|e| logward_parse::decoders::decode(svc, &m, e));
    }

    #[test]
    fn sshd_pam_lines_never_panic(m in message()) {
        let line = format!("error: PAM: {m}");
        if let Some(x) = Decoded::run(|e| sshd::decode(&line, e)) {
            borrows_from(&line, &x);
        }
    }

    /// The peer of sshd's `PAM: ERR for U from H` is H, whatever U holds.
    #[test]
    fn sshd_pam_peer_is_sshds(user in hostile_user(), ip in ipv4(), illegal in any::<bool>(),
                              err in prop::sample::select(&["Authentication failure", "unknown user", "Have exhausted maximum number of retries for service", "Permission denied", "Module is unknown"][..])) {
        let marker = if illegal { "illegal user " } else { "" };
        let m = format!("error: PAM: {err} for {marker}{user} from {ip}");
        let x = Decoded::run(|e| sshd::decode(&m, e)).unwrap();
        let ip = ip.to_string();
        prop_assert_eq!(x.event.source_address.as_deref(), Some(ip.as_str()));
        prop_assert_eq!(x.event.action(), Action::UserLogin);
        prop_assert_eq!(x.event.outcome, Outcome::Failure);
        prop_assert_eq!(x.event.user_name.as_deref(), Some(user.as_str()));
    }

    /// pam_access: the host is the last quoted field, whatever the user holds.
    #[test]
    fn pam_access_peer_is_the_last_field(user in hostile_user(), ip in ipv4()) {
        let m = format!("pam_access(sshd:account): access denied for user `{user}' from `{ip}'");
        let x = d("sshd", &m);
        let ip = ip.to_string();
        prop_assert_eq!(x.event.source_address.as_deref(), Some(ip.as_str()));
        prop_assert_eq!(x.event.user_name.as_deref(), Some(user.as_str()));
        prop_assert_eq!(x.event.reason, Some("not-allowed"));
    }

    /// Lines that name no peer never get one, whatever the user holds.
    #[test]
    fn peerless_forms_name_no_peer(user in hostile_user(), uid in 0u32..70000, n in 0u32..100) {
        for (svc, m) in [
            ("sshd", format!("pam_succeed_if(sshd:auth): requirement \"uid >= 1000\" not met by user \"{user}\"")),
            ("unix_chkpwd", format!("password check failed for user ({user})")),
            ("sshd", format!("pam_tally2(sshd:auth): user {user} ({uid}) tally {n}, deny 3")),
            ("sshd", format!("pam_faillock(sshd:auth): Consecutive login failures for user {user} account temporarily locked")),
            ("passwd", format!("pam_unix(passwd:chauthtok): user \"{user}\" does not exist in /etc/passwd")),
        ] {
            let x = d(svc, &m);
            prop_assert_eq!(x.event.outcome, Outcome::Failure, "{}", m);
            prop_assert_eq!(x.event.source_address.as_deref(), None, "{}", m);
            let named = x.event.user_name.as_deref().or(x.event.user_target_name.as_deref());
            prop_assert_eq!(named, Some(user.as_str()), "{}", m);
        }
    }

    /// Password changes round-trip: the account is the target, nobody is named as acting.
    #[test]
    fn password_changes_round_trip(user in "[a-z_][a-z0-9_.-]{0,15}", svc in prop::sample::select(&["passwd", "chpasswd", "sshd"][..]), ok in any::<bool>()) {
        let m = if ok {
            format!("pam_unix({svc}:chauthtok): password changed for {user}")
        } else {
            format!("pam_unix({svc}:chauthtok): password not changed for {user} on nis-master")
        };
        let x = d(svc, &m);
        prop_assert_eq!(x.event.action(), Action::PasswordChanged);
        prop_assert_eq!(x.event.outcome, if ok { Outcome::Success } else { Outcome::Failure });
        prop_assert_eq!(x.event.user_target_name.as_deref(), Some(user.as_str()));
        prop_assert_eq!(x.event.user_name.as_deref(), None);
    }

    /// Authentication failures: ruser/logname act, user= is the target, rhost the peer; with
    /// no actor the account is user.name.
    #[test]
    fn actor_and_target_round_trip(actor in "[a-z][a-z0-9]{0,8}", account in "[a-z][a-z0-9]{0,8}",
                                   via_ruser in any::<bool>(), has_actor in any::<bool>(), ip in ipv4(),
                                   svc in prop::sample::select(&["sshd", "sudo", "vsftpd", "dovecot"][..])) {
        let (logname, ruser) = match (has_actor, via_ruser) {
            (false, _) => ("", ""),
            (true, true) => ("", actor.as_str()),
            (true, false) => (actor.as_str(), ""),
        };
        let m = format!("pam_unix({svc}:auth): authentication failure; logname={logname} uid=0 euid=0 tty=x ruser={ruser} rhost={ip}  user={account}");
        let x = d(svc, &m);
        let ip = ip.to_string();
        prop_assert_eq!(x.event.source_address.as_deref(), Some(ip.as_str()));
        if has_actor {
            prop_assert_eq!(x.event.user_name.as_deref(), Some(actor.as_str()));
            prop_assert_eq!(x.event.user_target_name.as_deref(), Some(account.as_str()));
        } else {
            prop_assert_eq!(x.event.user_name.as_deref(), Some(account.as_str()));
            prop_assert_eq!(x.event.user_target_name.as_deref(), None);
        }
    }
}
