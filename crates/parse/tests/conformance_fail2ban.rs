//! Conformance with fail2ban's annotated sshd and PAM samples (`logs/sshd`, `logs/sshd-journal`,
//! `logs/pam-generic`); the rules of the check are in `common/fail2ban.rs`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use common::fail2ban::check;

// fail2ban counts an `Accepted` after failures for *other* users in the same connection as one
// more failure (gh-2070). That is a rule over the session, not the line: the line is a
// successful login.
const SEVERAL_USERS: &str = "several users tried in one connection (a rule's business)";

#[test]
fn fail2ban_sshd() {
    check(
        "sshd",
        &[
            ("Mar  7 18:53:24 bar sshd[1558]: Accepted password for known from 192.0.2.114 port 52100 ssh2", SEVERAL_USERS),
            ("Mar  7 18:53:34 bar sshd[1559]: Accepted password for known from 192.0.2.116 port 52100 ssh2", SEVERAL_USERS),
        ],
    );
}

#[test]
fn fail2ban_sshd_journal() {
    check(
        "sshd-journal",
        &[
            (
                "srv sshd[1558]: Accepted password for known from 192.0.2.114 port 52100 ssh2",
                SEVERAL_USERS,
            ),
            (
                "srv sshd[1559]: Accepted password for known from 192.0.2.116 port 52100 ssh2",
                SEVERAL_USERS,
            ),
        ],
    );
}

#[test]
fn fail2ban_pam_generic() {
    check(
        "pam-generic",
        &[
            // `ruser= rhost=A user=X rhost=B`: both `rhost=A` (U = `X rhost=B`) and `rhost=B`
            // (R = ` rhost=A user=X`) fit pam_unix's format, and R and U can both be client
            // text. fail2ban takes A; logward withholds the peer of a line it cannot settle (no
            // session for a pid-less `daemon`), so an attacker never chooses whom it blames.
            ("Jul 19 18:11:52 srv2 daemon: pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser= rhost=192.0.2.2 user=test rhost=192.0.2.152", "ambiguous rhost: peer withheld rather than guessed"),
        ],
    );
}
