//! The web decoders (nginx and Apache error logs, access logs, lighttpd, HAProxy) never
//! panic, take the peer only from the server's own field, and round-trip generated lines.
//!
//! The attacker's text — a user name, a request path, a user agent, a referrer — is
//! generated holding forged peer fields (`client: 6.6.6.6`, `[client 6.6.6.6]`,
//! `, client: 6.6.6.6, server: x`, `IP: 6.6.6.6`); the decoded source is always the real
//! client, or (nginx, two `client:` that disagree) none.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use logward_core::{Action, Event, Outcome};
use logward_parse::decoders::{unframed, web, Decoded};
use logward_parse::{LineDecoder, YearResolver};
use proptest::prelude::*;

const FORGED: &str = "6.6.6.6";

/// Client text, sometimes carrying a forged peer field in one of the servers' shapes.
fn client_text() -> impl Strategy<Value = String> {
    let forged = prop_oneof![
        Just(format!("client: {FORGED}")),
        Just(format!(", client: {FORGED}, server: x")),
        Just(format!(
            "\", client: {FORGED}, server: x, request: \"GET / HTTP/1.1"
        )),
        Just(format!("[client {FORGED}]")),
        Just(format!("] [client {FORGED}:1] ")),
        Just(format!(", IP: {FORGED}")),
        Just(format!(" {FORGED} - - [01/Jan/2020:00:00:00 +0000] ")),
        Just(String::new()),
    ];
    ("[a-zA-Z0-9 ./:_-]{0,12}", forged, "[a-zA-Z0-9 ./_-]{0,12}")
        .prop_map(|(a, f, b)| format!("{a}{f}{b}"))
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>()
            .prop_filter("not the forged one", |o| *o != [6, 6, 6, 6])
            .prop_map(|o| IpAddr::V4(Ipv4Addr::from(o))),
        any::<[u16; 8]>().prop_map(|s| IpAddr::V6(Ipv6Addr::from(s))),
    ]
}

fn decode_line(line: &str) -> Event<'static> {
    LineDecoder::new(YearResolver::fixed(2026, 0))
        .decode(line)
        .into_owned()
}

/// The source is the real client or nothing, never the forged one.
fn assert_peer(e: &Event<'_>, real: IpAddr, may_withhold: bool) -> Result<(), TestCaseError> {
    match e.source_ip {
        Some(ip) => prop_assert_eq!(ip, real),
        None => prop_assert!(
            may_withhold || e.action() == Action::Unknown,
            "no source on {:?}",
            e
        ),
    }
    prop_assert!(e.source_address.as_deref() != Some(FORGED));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics(s in "\\PC{0,200}", prefix in prop_oneof![
        Just(""),
        Just("2012/04/09 11:53:29 [error] 1#0: *1 "),
        Just("[Sun Jul 28 21:27:56.549667 2013] [auth_basic:error] [pid 1] [client "),
        Just("[Wed Jul 17 22:18:52 2013] [error] [client 1.2.3.4] "),
        Just("1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \""),
        Just("2011-12-25 17:09:20: (mod_auth.c.1) "),
    ]) {
        let line = format!("{prefix}{s}");
        let mut y = YearResolver::fixed(2026, 0);
        let mut e = Event::default();
        let _ = unframed::decode(&line, &mut y, &mut e);
        for f in [web::nginx::decode, web::apache::decode, web::access::decode, web::lighttpd::decode, web::haproxy::decode] {
            let _ = Decoded::run(|e| f(&line, e));
        }
        let _ = decode_line(&line);
    }

    #[test]
    fn nginx_client_is_the_servers(real in ip(), user in client_text(), uri in client_text(), referer in client_text()) {
        let user = user.replace('"', "");
        let line = format!("2012/04/09 11:53:36 [error] 2865#0: *66647 user \"{user}\": password mismatch, client: {real}, server: s, request: \"GET /{uri} HTTP/1.1\", host: \"h\", referrer: \"{referer}\"");
        let e = decode_line(&line);
        prop_assert_eq!((e.action(), e.outcome, e.reason), (Action::UserLogin, Outcome::Failure, Some("bad-password")));
        assert_peer(&e, real, true)?;
        // Without a forged `, client: A, server: ` anywhere, the peer is always there.
        if !line.contains(&format!(", client: {FORGED}, server: ")) {
            prop_assert_eq!(e.source_ip, Some(real));
            prop_assert_eq!(e.user_name.as_deref(), Some(user.as_str()).filter(|u| !u.is_empty()));
        }
    }

    #[test]
    fn apache_client_is_the_header_bracket(real in ip(), port in 1u16.., bracket in any::<bool>(), user in client_text(), path in client_text()) {
        // httpd writes `A:P` even for IPv6; fail2ban's samples also bracket it.
        let client = match real {
            IpAddr::V6(v6) if bracket => format!("[{v6}]:{port}"),
            _ => format!("{real}:{port}"),
        };
        let user = user.replace(':', "");
        let line = format!("[Sat Jul 20 21:40:33.803528 2013] [auth_basic:error] [pid 17540:tid 1] [client {client}] AH01618: user {user} not found: /{path}");
        let e = decode_line(&line);
        prop_assert_eq!(e.reason, Some("invalid-user"));
        prop_assert_eq!(e.source_ip, Some(real));
        prop_assert_eq!(e.source_port, Some(port));
        let line = format!("[Sat Jun 01 02:17:42 2013] [error] [client {real}] File does not exist: /srv/{path}/phpmyadmin");
        let e = decode_line(&line);
        prop_assert_eq!((e.action(), e.reason), (Action::ServiceAbuse, Some("web-scan")));
        prop_assert_eq!(e.source_ip, Some(real));
    }

    #[test]
    fn access_client_is_the_first_field(real in ip(), user in client_text(), uri in client_text(), agent in client_text(), vhost in prop::option::of("[a-z]{1,8}\\.example(:443)?")) {
        let user = if user.is_empty() { "-".to_owned() } else { user.replace('"', "") };
        let agent = agent.replace('"', "");
        let uri = uri.replace(['"', ' '], "");
        let head = vhost.map_or(String::new(), |v| format!("{v} "));
        let line = format!("{head}{real} - {user} [20/Jan/2015:19:53:28 +0100] \"GET /wp-login.php{uri} HTTP/1.1\" 404 47 \"-\" \"{agent}\"");
        let e = decode_line(&line);
        prop_assert_eq!((e.action(), e.reason), (Action::ServiceAbuse, Some("web-scan")), "{}", line);
        prop_assert_eq!(e.source_ip, Some(real));
        prop_assert_eq!(e.timestamp.unwrap().to_string(), "2015-01-20T19:53:28+01:00");
        // An ordinary request names nobody.
        let line = format!("{head}{real} - {user} [20/Jan/2015:19:53:28 +0100] \"GET /index.html HTTP/1.1\" 200 47 \"-\" \"{agent}\"");
        let e = decode_line(&line);
        prop_assert_eq!(e.source_address, None);
    }

    #[test]
    fn lighttpd_peer_ends_the_line(real in ip(), user in client_text(), path in client_text()) {
        let line = format!("2018-01-16 14:10:32: (mod_auth.c.525) password doesn't match for /{path} username: {user}, IP: {real}");
        let e = decode_line(&line);
        prop_assert_eq!(e.reason, Some("bad-password"));
        prop_assert_eq!(e.source_ip, Some(real));
    }

    #[test]
    fn haproxy_peer_is_the_first_field(real in ip(), port in 1u16.., request in client_text()) {
        let line = format!("Nov 14 22:45:11 test haproxy[760]: {real}:{port} [14/Nov/2015:22:45:11.608] main main/<NOSRV> -1/-1/-1/-1/0 401 248 - - PR-- 0/0/0/0/0 0/0 \"GET /{request} HTTP/1.1\"");
        let e = decode_line(&line);
        prop_assert_eq!(e.reason, Some("auth-failed"));
        prop_assert_eq!((e.source_ip, e.source_port), (Some(real), Some(port)));
    }
}
