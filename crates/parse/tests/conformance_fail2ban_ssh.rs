//! Conformance with fail2ban's annotated samples of the other SSH-like services: dropbear,
//! xrdp (its own log and syslog) and the cowrie honeypot's JSON log. The rules of the check
//! are in `common/fail2ban.rs`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use common::fail2ban::check;

#[test]
fn fail2ban_dropbear() {
    check("dropbear", &[]);
}

#[test]
fn fail2ban_xrdp() {
    check("xrdp", &[]);
}

#[test]
fn fail2ban_cowrie() {
    check("cowrie", &[]);
}
