//! The web-application decoders (`decoders::apps`) never panic, and their peer is only ever
//! the address where each format puts it: a user name the client chose — holding ` from A`,
//! ` ip=A`, `IP: A.`, quotes, pipes, brackets, a whole fake record — never moves it. Valid
//! lines with plain user names round-trip (address and user).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::net::IpAddr;

use logward_core::{Action, Outcome};
use logward_parse::decoders::apps;
use logward_parse::{Decoded, LineDecoder, YearResolver};
use proptest::prelude::*;

/// A line of one format from a user name and an address.
type Format = fn(&str, &str) -> String;

/// Every format, and whether its user name comes back (guacamole's `null` and formats that
/// name no user do not).
const FORMATS: &[(&str, Format, bool)] = &[
    (
        "grafana",
        |u, a| {
            let q = u.replace('\\', "\\\\").replace('"', "\\\"");
            format!("t=2020-10-19T17:44:33+0200 lvl=eror msg=\"Invalid username or password\" logger=context uname=\"{q}\" error=\"User not found\" remote_addr={a}")
        },
        true,
    ),
    (
        "grafana-10",
        |u, a| {
            let q = u.replace('\\', "\\\\").replace('"', "\\\"");
            format!("logger=context userId=0 orgId=0 uname= t=2025-07-17T13:08:42.281Z level=info msg=\"Request Completed\" method=POST path=/login status=401 remote_addr={a} referer=\"https://x/login?{q}\" errorMessageID=password-auth.failed error=\"invalid username or password\"")
        },
        false,
    ),
    (
        "gitlab",
        |u, a| format!("2020-04-09T14:04:00.667Z: Failed Login: username={u} ip={a}"),
        true,
    ),
    (
        "gitlab-json",
        |u, a| {
            let m = serde_json::to_string(&format!("Failed Login: username={u} ip={a}")).unwrap();
            format!(
                "{{\"severity\":\"INFO\",\"time\":\"2020-04-09T14:04:00.667Z\",\"message\":{m}}}"
            )
        },
        true,
    ),
    (
        "webmin",
        |u, a| format!("Dec 13 08:15:18 sb1 webmin[25875]: Invalid login as {u} from {a}"),
        true,
    ),
    (
        "drupal",
        |u, a| {
            format!("Apr 26 13:15:25 web example.com: https://example.com|1430068525|user|{a}|https://example.com/?q={u}|https://example.com/?q=user|0||Login attempt failed for {u}.")
        },
        true,
    ),
    (
        "guacamole",
        |u, a| format!("WARNING: Authentication attempt from {a} for user \"{u}\" failed."),
        true,
    ),
    (
        "guacamole-logback",
        |u, a| {
            format!("12:57:32.907 [http-nio-8080-exec-10] WARN  o.a.g.r.auth.AuthenticationService - Authentication attempt from {a} for user \"{u}\" failed.")
        },
        true,
    ),
    (
        "guacamole-success",
        |u, a| format!("INFO: User \"{u}\" successfully authenticated from {a}."),
        true,
    ),
    (
        "monit",
        |u, a| {
            format!("Mar  9 09:18:34 hostname monit[5731]: HttpRequest: access denied -- client {a}: wrong password for user '{u}'")
        },
        true,
    ),
    (
        "monit-file",
        |u, a| {
            format!("[PDT Apr 16 21:05:29] error    : Warning: Client '{a}' supplied unknown user '{u}' accessing monit httpd")
        },
        true,
    ),
    (
        "vaultwarden",
        |u, a| {
            format!("[2024-08-31 02:11:22.129][vaultwarden::api::identity][ERROR] Username or password is incorrect. Try again. IP: {a}. Username: {u}.")
        },
        true,
    ),
    (
        "bitwarden",
        |_, a| format!("2019-11-26 01:04:49.008 +08:00 [WRN] Failed login attempt. {a}"),
        false,
    ),
    (
        "openhab",
        |u, a| format!("{a} -  -  [02/sept./2015:00:11:31 +0200] \"GET /{u} HTTP/1.1\" 401 1382"),
        false,
    ),
    (
        "phpmyadmin",
        |u, a| {
            format!("Aug 22 14:50:22 eurostream phpMyAdmin[16358]: user denied: {u} (mysql-denied) from {a}")
        },
        true,
    ),
    (
        "centreon",
        |u, a| {
            format!("2019-10-21 18:55:15|-1|0|0|[WEB] [{a}] Authentication failed for '{u}' : password mismatch")
        },
        true,
    ),
];

/// What a hostile user name is made of.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(" from 9.9.9.9"),
        Just(" ip=9.9.9.9"),
        Just(". IP: 9.9.9.9. Username: "),
        Just(" IP: 9.9.9.9"),
        Just(" remote_addr=9.9.9.9"),
        Just("\""),
        Just("'"),
        Just("\\"),
        Just("|"),
        Just("|9.9.9.9|"),
        Just("|0||Login attempt failed for x."),
        Just("]"),
        Just("[9.9.9.9]"),
        Just("' : "),
        Just("\" failed."),
        Just(" for user \""),
        Just("\" successfully authenticated from 9.9.9.9"),
        Just(" (mysql-denied) from 9.9.9.9"),
        Just("' accessing monit httpd"),
        Just("\" 401 1"),
        Just("9.9.9.9 -  -  ["),
        Just(" "),
        Just("."),
        Just("é"),
        Just("a"),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|v| v.concat())
}

fn addr() -> impl Strategy<Value = IpAddr> {
    any::<IpAddr>().prop_filter("not the decoy", |ip| ip.to_string() != "9.9.9.9")
}

fn decode(line: &str) -> logward_core::Event<'_> {
    LineDecoder::new(YearResolver::fixed(2026, 0)).decode(line)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the user name, an event that names a peer names the real one.
    #[test]
    fn a_hostile_user_name_cannot_move_the_source(user in hostile(), ip in addr()) {
        for (name, format, _) in FORMATS {
            let line = format(&user, &ip.to_string());
            let e = decode(&line);
            if e.source_address.is_some() {
                prop_assert_eq!(e.source_ip, Some(ip.to_canonical()), "{}: {}", name, line);
            }
        }
    }

    /// Valid lines with plain user names decode to their address and user.
    #[test]
    fn valid_lines_round_trip(user in "[a-zA-Z0-9_@.-]{1,16}( [a-z]{1,6})?", ip in addr()) {
        for (name, format, names_user) in FORMATS {
            let line = format(&user, &ip.to_string());
            let e = decode(&line);
            prop_assert!(e.action() == Action::UserLogin, "{}: {}", name, line);
            prop_assert_eq!(e.source_ip, Some(ip.to_canonical()), "{}: {}", name, line);
            if !name.ends_with("success") {
                prop_assert_eq!(e.outcome, Outcome::Failure, "{}: {}", name, line);
            }
            if *names_user {
                prop_assert_eq!(e.user_name.as_deref(), Some(user.as_str()), "{}: {}", name, line);
            }
        }
    }

    /// No input panics any app decoder, framed or not.
    #[test]
    fn never_panics(s in "\\PC{0,200}") {
        let mut years = YearResolver::fixed(2026, 0);
        let mut e = logward_core::Event::default();
        let _ = logward_parse::decoders::unframed::decode(&s, &mut years, &mut e);
        for f in [
            apps::webmin::decode,
            apps::monit::decode,
            apps::phpmyadmin::decode,
            apps::drupal::decode,
            apps::grafana::decode,
            apps::guacamole::decode,
            apps::vaultwarden::decode,
            apps::vaultwarden::bitwarden,
        ] {
            let _ = Decoded::run(|e| f(&s, e));
        }
    }

    /// Near-misses of the real formats (a hostile piece inserted anywhere, which may well
    /// forge a whole valid line) never panic.
    #[test]
    fn mutated_lines(user in hostile(), ip in addr(), cut in any::<prop::sample::Index>(), piece in hostile()) {
        for (name, format, _) in FORMATS {
            let mut line = format(&user, &ip.to_string());
            let mut at = cut.index(line.len() + 1);
            while !line.is_char_boundary(at) {
                at -= 1;
            }
            line.insert_str(at, &piece);
            let e = decode(&line);
            prop_assert!(e.source_address.is_none() || e.action() != Action::Unknown, "{}: {}", name, line);
        }
    }
}
