//! The account decoders (sudo, su, shadow-utils, logind, login) never panic, and what they
//! return borrows from the message: any text in, including near-misses of their own formats.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::borrow::Cow;

use logward_parse::decoders::{login, logind, shadow, su, sudo, Decoded};
use proptest::prelude::*;

mod common;

/// Pieces of the formats these decoders read, so that random joins reach deep branches.
const FRAGMENTS: &[&str] = &[
    " : ",
    " ; ",
    "TTY=",
    "PWD=",
    "USER=",
    "COMMAND=",
    "TSID=",
    "incorrect password attempt",
    "user NOT in sudoers",
    "(to ",
    ") ",
    " on ",
    "FAILED SU (to ",
    "+ ",
    "- ",
    ":",
    "???",
    "Successful su for ",
    " by ",
    "BAD SU ",
    " to ",
    "failed: ",
    " changing from ",
    "new user: name=",
    "new group: name=",
    ", ",
    "add ",
    "'",
    "`",
    " to group ",
    " to shadow group ",
    "delete ",
    "user ",
    "removed group ",
    " owned by ",
    "change user ",
    "change ",
    " in group ",
    "group ",
    " removed",
    "group added to ",
    ": name=",
    "group changed in ",
    "(group ",
    "/",
    "password for ",
    " changed by ",
    "password changed for ",
    "members of group ",
    " set by ",
    " added by ",
    " removed by ",
    " from group ",
    " failed to ",
    "pam_unix(",
    "New session ",
    " of user ",
    ".",
    "Removed session ",
    "Session ",
    " logged out.",
    "FAILED LOGIN ",
    "(1)",
    "1 ",
    "FROM ",
    "ON ",
    "on '",
    " from '",
    "FOR ",
    "FOR '",
    "TOO MANY LOGIN TRIES ",
    "ROOT LOGIN ",
    "LOGIN ON ",
    " BY ",
    "' logged in ",
    "invalid password for ",
    "UNKNOWN",
    "alice",
    "root",
    "192.0.2.1",
    "::ffff:10.0.0.1",
    "é",
    "\u{0}",
    "#012",
    "\n",
];

fn message() -> impl Strategy<Value = String> {
    common::fragments::message(FRAGMENTS, "[a-z0-9 ]{0,6}")
}

/// Every text field is a slice of the message (decoding allocated nothing for it).
fn borrows_from(m: &str, d: &Decoded<'_>) {
    let e = &d.event;
    for f in [
        &e.user_name,
        &e.user_target_name,
        &e.group_name,
        &e.command_line,
    ]
    .into_iter()
    .flatten()
    {
        match f {
            Cow::Borrowed(s) => {
                let (start, end) = (m.as_ptr() as usize, m.as_ptr() as usize + m.len());
                let p = s.as_ptr() as usize;
                // login(1)'s `ROOT LOGIN …` names no user: the decoder states `root` itself.
                let stated_root = *s == "root" && m.contains("ROOT LOGIN");
                assert!(
                    stated_root || (p >= start && p + s.len() <= end),
                    "{s:?} is not in {m:?}"
                );
                assert!(!s.is_empty(), "empty field from {m:?}");
            }
            Cow::Owned(s) => panic!("{s:?} was allocated for {m:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn sudo_never_panics(m in message()) {
        if let Some(d) = Decoded::run(|e| sudo::decode(&m, e)) { borrows_from(&m, &d); }
    }

    #[test]
    fn su_never_panics(m in message()) {
        if let Some(d) = Decoded::run(|e| su::decode(&m, e)) { borrows_from(&m, &d); }
    }

    #[test]
    fn shadow_never_panics(m in message(), p in prop::sample::select(&["useradd", "usermod", "gpasswd", "passwd", "x"][..])) {
        if let Some(d) = Decoded::run(|e| shadow::decode(p, &m, e)) { borrows_from(&m, &d); }
    }

    #[test]
    fn logind_never_panics(m in message()) {
        if let Some(d) = Decoded::run(|e| logind::decode(&m, e)) { borrows_from(&m, &d); }
    }

    #[test]
    fn login_never_panics(m in message()) {
        if let Some(d) = Decoded::run(|e| login::decode(&m, e)) { borrows_from(&m, &d); }
    }

    /// Through the dispatcher too, as the framer would call it.
    #[test]
    fn dispatch_never_panics(m in message(), p in prop::sample::select(&["sudo", "su", "useradd", "chpasswd", "systemd-logind", "login"][..])) {
        let _ = Decoded::run(|e| logward_parse::decoders::decode(p, &m, e));
    }
}
