//! Conformance with fail2ban's annotated web-server samples (nginx, Apache httpd, lighttpd,
//! HAProxy; `fail2ban/logs/`); the rules of the check are in `common/fail2ban.rs`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use common::fail2ban::check;

// One decoder reads every httpd line, where fail2ban runs one filter per jail: a line one
// jail's samples count and another's ignore is counted, as the counting jail does.
const NOSCRIPT: &str =
    "a missing script: apache-noscript counts it (web-scan); only the botsearch filter ignores it";
const AUTH_DENIED: &str = "a request the configuration denies: apache-auth counts it (forbidden); only the botsearch filter ignores it";

#[test]
fn fail2ban_nginx_http_auth() {
    check(
        "nginx-http-auth",
        &[
            // Two `, client: A, server: ` in one line: the user name or the request (neither
            // escaped by nginx) carries a forged one. fail2ban anchors on the last; logward
            // cannot tell which is nginx's (the request follows the real one, the user name
            // precedes it), so it withholds the peer rather than let a client choose it.
            (
                r#"2014/04/03 22:20:40 [error] 30708#0: *3 user "test": password mismatch, client: 127.0.0.1, server: test, request: "GET / HTTP/1.1", host: "localhost:8443"": was not found in "/etc/nginx/.htpasswd", client: 192.0.2.2, server: , request: "GET / HTTP/1.1", host: "localhost:8443""#,
                "two client addresses: peer withheld rather than guessed",
            ),
        ],
    );
}

#[test]
fn fail2ban_nginx_botsearch() {
    check("nginx-botsearch", &[]);
}

#[test]
fn fail2ban_nginx_bad_request() {
    check("nginx-bad-request", &[]);
}

#[test]
fn fail2ban_nginx_forbidden() {
    check("nginx-forbidden", &[]);
}

#[test]
fn fail2ban_nginx_limit_req() {
    check("nginx-limit-req", &[]);
}

#[test]
fn fail2ban_apache_auth() {
    check(
        "apache-auth",
        &[
            // Annotated twice: not counted in fail2ban's normal mode, counted in its aggressive
            // mode. mod_evasive refusing a client that exceeded its request rate is abuse
            // (logward: service-abuse `rate-limit`, like nginx's limit_req).
            ("[Thu Oct 17 18:43:40.160521 2019] [evasive20:error] [pid 22589] [client 192.0.2.1:56175] client denied by server configuration: /path/index.php, referer: https://hostname/path/", "mod_evasive's block is counted as rate-limit (fail2ban: aggressive mode only)"),
        ],
    );
}

#[test]
fn fail2ban_apache_badbots() {
    check("apache-badbots", &[]);
}

#[test]
fn fail2ban_apache_botsearch() {
    check(
        "apache-botsearch",
        &[
            ("[Fri Jan 03 14:50:39 2014] [error] [client 92.43.20.165] script '/var/www/forum/mail.php' not found or unable to stat", NOSCRIPT),
            ("[Fri Dec 06 09:29:34 2013] [error] [client 122.49.201.178] client denied by server configuration: /var/www/webmail/.htaccess", AUTH_DENIED),
        ],
    );
}

#[test]
fn fail2ban_apache_modsecurity() {
    check("apache-modsecurity", &[]);
}

#[test]
fn fail2ban_apache_nohome() {
    check("apache-nohome", &[]);
}

#[test]
fn fail2ban_apache_noscript() {
    check("apache-noscript", &[]);
}

#[test]
fn fail2ban_apache_overflows() {
    check("apache-overflows", &[]);
}

#[test]
fn fail2ban_apache_shellshock() {
    check("apache-shellshock", &[]);
}

#[test]
fn fail2ban_lighttpd_auth() {
    check("lighttpd-auth", &[]);
}

#[test]
fn fail2ban_haproxy_http_auth() {
    check("haproxy-http-auth", &[]);
}
