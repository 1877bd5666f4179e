//! `json_read` is the exact inverse of `json::write_event` / `write_alert`: every event the
//! decoders make of examples/auth.log, alerts on them, and arbitrary events (proptest).
#![allow(clippy::unwrap_used)]

use std::borrow::Cow;
use std::net::IpAddr;

use logward_core::enrich::{As, Enrichment, Geo};
use logward_core::json::write_event;
use logward_core::json_read::{read_alert, read_event};
use logward_core::Timestamp;
use logward_core::{write_alert, Action, Alert, Category, Dataset, Event, Kind, Outcome, Severity};
use logward_parse::{LineDecoder, YearResolver};
use proptest::prelude::*;

fn example_events() -> Vec<Event<'static>> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/auth.log"
    ))
    .unwrap();
    let mut d = LineDecoder::new(YearResolver::fixed(2026, 3600));
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let mut e = d.decode(line).into_owned();
            e.file_path = Some(Cow::Borrowed("examples/auth.log"));
            e.file_line = Some(i as u64 + 1);
            e.original = Some(Cow::Owned(line.to_owned()));
            e
        })
        .collect()
}

#[test]
fn every_decoded_event_of_the_example_reads_back() {
    let events = example_events();
    assert!(events.len() >= 40);
    assert!(events.iter().any(|e| e.source_ip.is_some()));
    assert!(events.iter().any(|e| e.reason.is_some()));
    for e in events {
        let mut out = Vec::new();
        write_event(&mut out, &e);
        let back = read_event(&out).unwrap_or_else(|err| {
            panic!("{err}: {}", String::from_utf8_lossy(&out));
        });
        assert_eq!(back, e, "{}", String::from_utf8_lossy(&out));
    }
}

#[test]
fn alerts_on_the_example_events_read_back() {
    for (i, mut e) in example_events().into_iter().enumerate() {
        e.message = None;
        let mut a = Alert::new(
            e,
            format!("rule-{i}"),
            "A rule",
            Severity::ALL[i % 5],
            format!("alert {i} \"quoted\""),
        );
        if i % 2 == 0 {
            a.tags = vec!["ssh".into(), format!("t{i}")];
            a.labels = vec![("count".into(), i.to_string()), ("a".into(), "b".into())];
            a.score = Some((i % 101) as u8);
            a.reasons = vec!["new country".into()];
        }
        let mut out = Vec::new();
        write_alert(&mut out, &a);
        let back = read_alert(&out).unwrap_or_else(|err| {
            panic!("{err}: {}", String::from_utf8_lossy(&out));
        });
        assert_eq!(back, a, "{}", String::from_utf8_lossy(&out));
        // And read as a plain event it is the event with kind alert and the alert's message.
        let as_event = read_event(&out).unwrap();
        assert_eq!(as_event.kind, Kind::Alert);
        assert_eq!(as_event.message.as_deref(), Some(a.message.as_str()));
    }
}

const REASONS: &[&str] = &[
    "bad-password",
    "invalid-user",
    "max-attempts",
    "pam-failure",
];
const METHODS: &[&str] = &["password", "publickey", "keyboard-interactive", "none"];

fn text() -> impl Strategy<Value = Option<Cow<'static, str>>> {
    proptest::option::of(any::<String>().prop_map(Cow::Owned))
}

fn event() -> impl Strategy<Value = Event<'static>> {
    let head = (
        proptest::option::of((0i64..4_102_444_800, 0u32..1_000_000_000, -1439i32..1440)),
        0u8..64,
        proptest::option::of(proptest::sample::select(Action::ALL)),
        proptest::sample::select(Outcome::ALL.to_vec()),
        proptest::option::of(proptest::sample::select(REASONS)),
        proptest::option::of(proptest::sample::select(Dataset::ALL)),
        text(),
        text(),
        text(),
        text(),
        proptest::option::of(any::<u32>()),
        text(),
    );
    let tail = (
        text(),
        proptest::option::of(any::<IpAddr>()),
        proptest::option::of(any::<u16>()),
        text(),
        text(),
        text(),
        proptest::option::of(proptest::sample::select(METHODS)),
        (text(), text()),
        (
            proptest::option::of(any::<u8>()),
            proptest::option::of(any::<u8>()),
        ),
        text(),
        proptest::collection::vec((any::<String>(), any::<String>()), 0..4),
        (
            proptest::option::of(any::<u32>()),
            text(),
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u64>()),
        ),
    );
    let geo = (
        text(),
        text(),
        text(),
        proptest::option::of((-90.0f64..=90.0, -180.0f64..=180.0)),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|(iso, country, city, location, radius)| Geo {
            country_iso_code: iso.map(Cow::into_owned),
            country_name: country.map(Cow::into_owned),
            city_name: city.map(Cow::into_owned),
            location,
            accuracy_radius_km: radius,
        });
    let enrichment = proptest::option::of((
        proptest::option::of(geo),
        proptest::option::of((any::<u32>(), text())),
        proptest::option::of(proptest::collection::vec(any::<String>(), 0..3)),
    ))
    .prop_map(|x| {
        x.map(|(geo, asn, dnsbl)| {
            Box::new(Enrichment {
                geo,
                asn: asn.map(|(number, org)| As {
                    number,
                    organization: org.map(Cow::into_owned),
                }),
                dnsbl,
            })
        })
    });
    let winlog = proptest::option::of((
        (
            any::<String>(),
            any::<u32>(),
            any::<String>(),
            any::<String>(),
        ),
        proptest::option::of(any::<u64>()),
        proptest::option::of(proptest::sample::select(
            logward_core::winlog::LOGON_TYPES
                .iter()
                .map(|(_, w)| *w)
                .collect::<Vec<_>>(),
        )),
        proptest::collection::vec((any::<String>(), any::<String>()), 0..4),
    ))
    .prop_map(|w| {
        w.map(
            |((channel, event_id, provider, computer), record_id, logon_type, data)| {
                Box::new(logward_core::Winlog {
                    channel: channel.into(),
                    event_id,
                    provider_name: provider.into(),
                    computer_name: computer.into(),
                    record_id,
                    logon_type,
                    event_data: data
                        .into_iter()
                        .map(|(k, v)| (k.into(), v.into()))
                        .collect(),
                })
            },
        )
    });
    let answer = (
        any::<String>(),
        any::<String>(),
        any::<String>(),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|(name, rtype, data, ttl)| logward_core::DnsAnswer {
            name: name.into(),
            rtype: rtype.into(),
            data: data.into(),
            ttl,
        });
    let intel = proptest::option::of(
        (
            (text(), text(), text(), text(), text()),
            proptest::option::of(0u8..=100),
            proptest::collection::vec(any::<String>(), 0..3),
        )
            .prop_map(
                |((list, entry, severity, verdict, owner), score, reasons)| {
                    Box::new(logward_core::DnsIntel {
                        list: list.map(Cow::into_owned),
                        list_entry: entry.map(Cow::into_owned),
                        severity: severity.map(Cow::into_owned),
                        verdict: verdict.map(Cow::into_owned),
                        score,
                        owner: owner.map(Cow::into_owned),
                        reasons,
                    })
                },
            ),
    );
    // dns.question.name is read back lower-cased without a trailing dot: generate it so.
    let dns = proptest::option::of((
        (
            proptest::option::of(any::<u16>()),
            "([a-z0-9-]{1,8}\\.){0,3}[a-z0-9-]{1,8}",
            text(),
            text(),
            text(),
            text(),
        ),
        proptest::collection::vec(answer, 0..3),
        proptest::collection::vec(any::<std::net::IpAddr>(), 0..3),
        (
            proptest::option::of(any::<std::net::IpAddr>()),
            proptest::option::of(any::<u16>()),
            proptest::option::of(proptest::sample::select(vec!["udp", "tcp"])),
        ),
        intel,
    ))
    .prop_map(|d| {
        d.map(
            |((id, name, qtype, class, registered, rcode), answers, resolved, server, intel)| {
                Box::new(logward_core::Dns {
                    id,
                    question_name: name.into(),
                    question_type: qtype,
                    question_class: class,
                    registered_domain: registered,
                    response_code: rcode,
                    answers,
                    resolved_ip: resolved,
                    server_ip: server.0,
                    server_port: server.1,
                    transport: server.2,
                    intel,
                })
            },
        )
    });
    (
        head,
        tail,
        enrichment,
        (text(), text(), text()),
        winlog,
        dns,
    )
        .prop_map(|(h, t, enrichment, who, winlog, dns)| {
            let (
                ts,
                cat,
                action,
                outcome,
                reason,
                dataset,
                original,
                message,
                host,
                pname,
                pid,
                cmd,
            ) = h;
            let (addr, ip, port, user, target, group, method, key, syslog, unit, journald, last) =
                t;
            let mut category = Category::empty();
            for (bit, c) in [
                Category::AUTHENTICATION,
                Category::SESSION,
                Category::IAM,
                Category::NETWORK,
                Category::HOST,
                Category::PROCESS,
            ]
            .into_iter()
            .enumerate()
            {
                if cat & (1 << bit) != 0 {
                    category = category.union(c);
                }
            }
            Event {
                timestamp: ts.map(|(unix, nanos, minutes)| Timestamp {
                    unix,
                    nanos,
                    offset: minutes * 60,
                }),
                kind: Kind::Event,
                category,
                action,
                outcome,
                reason,
                dataset,
                original,
                message,
                host_name: host,
                process_name: pname,
                process_pid: pid,
                command_line: cmd,
                source_address: addr,
                source_ip: ip,
                source_port: port,
                user_name: user,
                user_target_name: target,
                group_name: group,
                auth_method: method,
                auth_key_type: key.0,
                auth_key_fingerprint: key.1,
                syslog_severity: syslog.0,
                syslog_facility: syslog.1,
                systemd_unit: unit,
                journald: journald
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k), Cow::Owned(v)))
                    .collect(),
                repeat: last.0,
                file_path: last.1,
                file_line: last.2,
                offset: last.3,
                enrichment,
                agent_id: who.0,
                claimed_host: who.1,
                claimed_program: who.2,
                winlog,
                dns,
            }
        })
}

/// What the writer normalises: a missing action is written `unknown`, an empty category as
/// the action's own, and a port without an address is not written.
fn normalise(e: &mut Event<'static>) {
    e.action = Some(e.action());
    if e.category.is_empty() {
        e.category = e.action().category();
    }
    if let Some(x) = e.enrichment.as_mut() {
        if x.geo.as_ref().is_some_and(Geo::is_empty) {
            x.geo = None;
        }
        if x.geo.is_none() && x.asn.is_none() && x.dnsbl.is_none() {
            e.enrichment = None;
        }
    }
    let located = e
        .enrichment
        .as_ref()
        .is_some_and(|x| x.geo.is_some() || x.asn.is_some());
    if e.source_address.is_none() && e.source_ip.is_none() && !located {
        e.source_port = None;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_event_reads_back(e in event()) {
        let mut out = Vec::new();
        write_event(&mut out, &e);
        let back = read_event(&out).map_err(|err| TestCaseError::fail(err.to_string()))?;
        let mut want = e;
        normalise(&mut want);
        prop_assert_eq!(back, want);
    }

    #[test]
    fn any_alert_reads_back(
        mut e in event(),
        sev in 1u8..=5,
        message in any::<String>(),
        tags in proptest::collection::vec(any::<String>(), 0..3),
        labels in proptest::collection::vec((any::<String>(), any::<String>()), 0..3),
        score in proptest::option::of(0u8..=100),
        reasons in proptest::collection::vec(any::<String>(), 0..3),
    ) {
        e.message = None;
        normalise(&mut e);
        let a = Alert {
            event: e,
            rule_id: "r".into(),
            rule_name: "n".into(),
            severity: Severity::from_code(sev).unwrap(),
            tags,
            message,
            labels,
            score,
            reasons,
        };
        let mut out = Vec::new();
        write_alert(&mut out, &a);
        let back = read_alert(&out).map_err(|err| TestCaseError::fail(err.to_string()))?;
        prop_assert_eq!(back, a);
    }
}
