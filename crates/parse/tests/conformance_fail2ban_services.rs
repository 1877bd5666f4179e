//! Conformance with fail2ban's annotated samples for FTP servers, databases, VPN, VoIP,
//! proxies, portsentry, BIND and fail2ban's own ban log; the rules of the check are in
//! `common/fail2ban.rs`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use common::fail2ban::check;

#[test]
fn fail2ban_vsftpd() {
    check("vsftpd", &[]);
}

#[test]
fn fail2ban_proftpd() {
    check("proftpd", &[]);
}

#[test]
fn fail2ban_pure_ftpd() {
    check("pure-ftpd", &[]);
}

#[test]
fn fail2ban_wuftpd() {
    check("wuftpd", &[]);
}

#[test]
fn fail2ban_mysqld_auth() {
    check("mysqld-auth", &[]);
}

#[test]
fn fail2ban_mssql_auth() {
    check("mssql-auth", &[]);
}

#[test]
fn fail2ban_mongodb_auth() {
    check("mongodb-auth", &[]);
}

#[test]
fn fail2ban_openvpn() {
    // Any client's dropped connection ends in this line; the abuse is the bad packet the
    // same peer sent just before, which logward counts (a `connection-probe`).
    const RESET: &str = "a client instance restarting after a connection reset is not abuse by itself: logward counts the bad packet before it";
    check(
        "openvpn",
        &[
            ("Apr 25 10:57:36 hostname ovpn-server[901]: 83.97.20.30:10107 SIGUSR1[soft,connection-reset] received, client-instance restarting", RESET),
            ("Apr 25 10:57:49 hostname ovpn-server[901]: 83.97.20.30:29148 SIGUSR1[soft,connection-reset] received, client-instance restarting", RESET),
            ("Apr 25 10:58:03 hostname ovpn-server[901]: 83.97.20.30:2495 SIGUSR1[soft,connection-reset] received, client-instance restarting", RESET),
            ("Apr 25 10:58:15 hostname ovpn-server[901]: 83.97.20.30:30968 SIGUSR1[soft,connection-reset] received, client-instance restarting", RESET),
        ],
    );
}

#[test]
fn fail2ban_asterisk() {
    check(
        "asterisk",
        &[
            // The PJSIP SessionID is the client's Call-ID, unescaped, and here it holds a
            // whole `RemoteAddress=…` of its own; Response and ReceivedHash, after the real
            // one, are client text too. Two addresses fit: the peer is withheld rather than
            // chosen by the client (as for pam-generic's double rhost).
            ("[2015-05-25 07:21:48] SECURITY[6988] res_security_log.c: SecurityEvent=\"InvalidAccountID\",EventTV=\"2015-05-25T07:21:48.275+0300\",Severity=\"Error\",Service=\"PJSIP\",EventVersion=\"1\",AccountID=\"70000180\",SessionID=\"\",LocalAddress=\"IPV4/UDP/127.0.0.1/5060\",RemoteAddress=\"IPV4/UDP/5.6.7.8/1111\"\",LocalAddress=\"IPV4/UDP/1.2.3.4/5060\",RemoteAddress=\"IPV4/UDP/10.250.251.252/5061\"", "two RemoteAddress fields, one injected: peer withheld rather than guessed"),
        ],
    );
}

#[test]
fn fail2ban_freeswitch() {
    check(
        "freeswitch",
        &[
            // fail2ban counts challenges only in its `ddos` mode: every SIP login starts
            // with one, so logward decodes it (outcome unknown) and does not count it.
            ("2013-12-31 17:39:54.767815 [WARNING] sofia_reg.c:1533 SIP auth challenge (INVITE) on sofia profile 'internal' for [011448708752617@192.168.2.51] from ip 81.94.202.251", "a digest challenge is the first step of every SIP login, not a failure"),
        ],
    );
}

#[test]
fn fail2ban_squid() {
    check("squid", &[]);
}

#[test]
fn fail2ban_3proxy() {
    check("3proxy", &[]);
}

#[test]
fn fail2ban_portsentry() {
    check("portsentry", &[]);
}

#[test]
fn fail2ban_named_refused() {
    check("named-refused", &[]);
}

#[test]
fn fail2ban_recidive() {
    check("recidive", &[]);
}
