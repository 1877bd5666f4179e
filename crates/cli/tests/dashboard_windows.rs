//! Windows alerts on the dashboard, in a real browser: a real collector process over TLS
//! (Chromium speaks HTTP/2 to it), an agent identity enrolled through `POST /v1/enroll`, and a
//! Windows logon failure and an account creation — decoded from their records by
//! `logward_parse::windows` — sent with their alerts through the signed `POST /v1/events`,
//! as a forwarding agent sends them. Headless Chromium (tests/support/browser.rs) finds, in
//! the list and on the alert pages, the event id, logon type, workstation, actor and target
//! account, and the Event XML in its collapsible block — where hostile markup in the XML
//! stays text: no element is made of it and no script of it runs. On the SQLite store and on
//! PostgreSQL (tests/support/store.rs).
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test and the browser
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use logward_core::{write_alert, Alert, Event, Severity, Timestamp};
use logward_parse::windows::{decode, WinRecord};
use logward_test_support::wait_for;
use serde_json::{json, Value};

#[path = "support/browser.rs"]
mod browser;
#[path = "support/collector.rs"]
mod collector;
#[macro_use]
#[path = "support/store.rs"]
mod store;
use browser::Browser;
use collector::{line, logward, Collector, PASSWORD};
use store::{Backend, Store};

/// What an attacker who controls a forwarded record could put in it: markup that would run
/// if the page ever parsed the XML as HTML.
const HOSTILE: &str =
    "</pre><script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\">";

/// The hostile markup as the indented XML shows it (a tag per line).
const HOSTILE_TAGS: [&str; 2] = [
    "<script>window.pwned = 1</script>",
    "<img src=x onerror=\"window.pwned = 2\">",
];

/// A Security record with its Event XML (the hostile markup unescaped in it, as a forged
/// record could carry it).
fn record(id: u32, t: i64, data: &[(&str, &str)]) -> WinRecord {
    let mut r = WinRecord {
        provider: "Microsoft-Windows-Security-Auditing".into(),
        event_id: id,
        channel: "Security".into(),
        computer: "DC01.corp.example".into(),
        record_id: Some(u64::from(id) * 10),
        time: Some(Timestamp::from_unix_micros(t * 1_000_000)),
        ..WinRecord::default()
    };
    for (k, v) in data {
        r.push_data(k, (*v).to_owned());
    }
    let fields: String = data
        .iter()
        .map(|(k, v)| format!("<Data Name=\"{k}\">{v}</Data>"))
        .collect();
    r.original = Some(format!(
        "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System><Provider Name=\"Microsoft-Windows-Security-Auditing\"/><EventID>{id}</EventID><Channel>Security</Channel><Computer>DC01.corp.example</Computer></System><EventData>{fields}<Data Name=\"Comment\">{HOSTILE}</Data></EventData></Event>"
    ));
    r
}

on_both!(a_windows_alert_page_shows_logon_type_workstation_target_and_its_xml_escaped);

fn a_windows_alert_page_shows_logon_type_workstation_target_and_its_xml_escaped(backend: Backend) {
    let Some((chromium, driver)) = browser::programs() else {
        logward_test_support::skip!("{}", browser::MISSING);
    };
    let Some(store) = Store::new(backend) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let c = Collector::start(d.path(), store);
    let url = c.url.clone();
    let (agent, secret) = c.enroll("DC01");

    // A failed network logon from workstation KALI, and the account mallory created by
    // alice: the events and their alerts, as a forwarding agent sends them.
    let t = logward_core::clock::unix_now() - 60;
    let logon = record(
        4625,
        t,
        &[
            ("SubjectUserSid", "S-1-0-0"),
            ("TargetUserName", "administrator"),
            ("TargetDomainName", "CORP"),
            ("Status", "0xc000006d"),
            ("SubStatus", "0xc000006a"),
            ("LogonType", "3"),
            ("LogonProcessName", "NtLmSsp"),
            ("AuthenticationPackageName", "NTLM"),
            ("WorkstationName", "KALI"),
            ("IpAddress", "203.0.113.66"),
            ("IpPort", "49812"),
        ],
    );
    let created = record(
        4720,
        t + 5,
        &[
            ("TargetUserName", "mallory"),
            ("TargetDomainName", "CORP"),
            ("SubjectUserName", "alice"),
            ("SubjectDomainName", "CORP"),
        ],
    );
    let logon_event: Event<'static> = decode(&logon).into_owned();
    assert_eq!(
        logon_event.winlog.as_ref().unwrap().logon_type,
        Some("network")
    );
    // Who is who (docs/EVENTS.md): the actor is `user.name`, the account created
    // `user.target.name`.
    let created_event: Event<'static> = decode(&created).into_owned();
    assert_eq!(
        (
            created_event.user_name.as_deref(),
            created_event.user_target_name.as_deref()
        ),
        (Some("alice"), Some("mallory"))
    );
    // The audit log cleared, read from an evtx file without its XML (`event.original` unset):
    // the page shows its winlog fields instead.
    let mut cleared = record(1102, t + 10, &[("SubjectUserName", "alice")]);
    cleared.original = None;
    let cleared_event: Event<'static> = decode(&cleared).into_owned();
    let mut body = String::new();
    let json_of = |e: &Event<'_>| {
        let mut out = Vec::new();
        logward_core::json::write_event(&mut out, e);
        out
    };
    body.push_str(&line(1, "event", json_of(&logon_event)));
    body.push_str(&line(2, "event", json_of(&created_event)));
    for (seq, e, rule, message) in [
        (
            3,
            logon_event,
            "windows-logon-failure",
            "administrator failed to log on from KALI (203.0.113.66)",
        ),
        (
            4,
            created_event,
            "account-created",
            "account mallory created on DC01",
        ),
        (
            5,
            cleared_event,
            "windows-log-cleared",
            "the Security log was cleared on DC01 by alice",
        ),
    ] {
        let mut out = Vec::new();
        write_alert(
            &mut out,
            &Alert::new(e, rule, rule, Severity::High, message),
        );
        body.push_str(&line(seq, "alert", out));
    }
    let answer = c.post_events(&agent, &secret, body);
    assert!(answer.contains("\"accepted\":5"), "{answer}");

    let b = Browser::start(&chromium, &driver, d.path(), true);
    b.log_in(&url, "alice", PASSWORD);
    let protocol = b.js("return performance.getEntriesByType('navigation')[0].nextHopProtocol");
    assert_eq!(protocol, json!("h2"));

    // The list: each Windows alert names its event; the logon its type and workstation, the
    // account creation who acted on whom.
    let list = "return Array.from(document.querySelectorAll('#alerts-body tr.alert-row')).map(r => \
                [r.dataset.id, r.querySelector('td .win') ? r.querySelector('td .win').textContent : '', \
                 r.querySelector('td.user').textContent])";
    let rows = wait_for(
        "the Windows alerts in the list",
        Duration::from_secs(20),
        || {
            let v = b.js(list);
            (v.as_array()?.len() == 3).then_some(v)
        },
    );
    let row = |event: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r[1].as_str().unwrap().contains(event))
            .unwrap_or_else(|| panic!("no row for {event}: {rows}"))
            .clone()
    };
    let logon_row = row("Security 4625");
    assert_eq!(logon_row[1], "Security 4625 · network · from KALI");
    assert_eq!(logon_row[2], "administrator");
    let created_row = row("Security 4720");
    assert_eq!(created_row[2], "alice → mallory");
    b.screenshot(&c.store.shot("10-windows-alerts"));

    // The logon's page.
    let field = |label: &str| {
        b.js(&format!(
            "const dt = Array.from(document.querySelectorAll('#alert-summary dt')).find(e => e.textContent === {label:?}); \
             return dt ? dt.nextElementSibling.textContent : null"
        ))
    };
    b.goto(&format!(
        "{url}/ui/#/alert/{}",
        logon_row[0].as_str().unwrap()
    ));
    wait_for("the logon alert's page", Duration::from_secs(20), || {
        (field("Logon type") == "network").then_some(())
    });
    assert_eq!(field("Windows event"), "Security 4625");
    assert_eq!(field("Workstation"), "KALI");
    assert_eq!(field("User"), "administrator");
    assert_eq!(field("Address"), "203.0.113.66");
    // The Event XML: collapsed at first, indented, and the hostile markup is text in it.
    let block = "#alert-original";
    assert_eq!(
        b.js(&format!("return document.querySelector('{block}').open")),
        json!(false)
    );
    b.click(&format!("{block} summary"));
    let shown = b.text(&format!("{block} pre"));
    for markup in HOSTILE_TAGS {
        assert!(shown.contains(markup), "{markup} in {shown}");
    }
    assert!(shown.contains("\n  <System>"), "indented: {shown}");
    assert!(
        shown.contains("<Data Name=\"WorkstationName\">KALI</Data>"),
        "{shown}"
    );
    assert!(
        b.text(&format!("{block} summary"))
            .starts_with("Event XML ("),
        "{}",
        b.text(&format!("{block} summary"))
    );
    let made = b.js(
        "return [document.querySelectorAll('#view-alert script, #view-alert img').length, \
                     typeof window.pwned]",
    );
    assert_eq!(made, json!([0, "undefined"]));
    // The event behind the alert, with its Windows fields and its own XML block.
    wait_for("the alert's event", Duration::from_secs(20), || {
        let v = b.js(
            "return Array.from(document.querySelectorAll('#alert-events tr.event-row')).map(r => \
                      [r.querySelector('.win') ? r.querySelector('.win').textContent : '', \
                       r.querySelectorAll('details.original').length])",
        );
        (v == json!([["Security 4625 · network · from KALI", 1]])).then_some(())
    });
    b.screenshot(&c.store.shot("11-windows-alert"));

    // The account creation's page: the actor and the account acted on.
    b.goto(&format!(
        "{url}/ui/#/alert/{}",
        created_row[0].as_str().unwrap()
    ));
    wait_for("the account alert's page", Duration::from_secs(20), || {
        (field("Target user") == "mallory").then_some(())
    });
    assert_eq!(field("Actor"), "alice");
    assert_eq!(field("Windows event"), "Security 4720");
    // Not a logon: no logon type or workstation rows.
    assert_eq!(field("Logon type"), Value::Null);
    assert_eq!(field("Workstation"), Value::Null);
    b.click("#alert-original summary");
    let shown = b.text("#alert-original pre");
    assert!(HOSTILE_TAGS.iter().all(|m| shown.contains(m)), "{shown}");
    let made = b.js("return [document.querySelectorAll('script, img').length - \
                     document.querySelectorAll('head script').length, typeof window.pwned]");
    assert_eq!(made, json!([0, "undefined"]));
    b.screenshot(&c.store.shot("12-windows-account"));

    // The log clearing, whose record was not sent: its winlog fields, as text.
    let cleared_row = row("Security 1102");
    b.goto(&format!(
        "{url}/ui/#/alert/{}",
        cleared_row[0].as_str().unwrap()
    ));
    wait_for("the log clearing's page", Duration::from_secs(20), || {
        (field("Windows event") == "Security 1102").then_some(())
    });
    assert!(b
        .text("#alert-original summary")
        .starts_with("Event fields (winlog"));
    b.click("#alert-original summary");
    let shown = b.text("#alert-original pre");
    assert!(shown.contains("\"event_id\": \"1102\""), "{shown}");
    assert!(shown.contains("\"SubjectUserName\": \"alice\""), "{shown}");

    // Real records: `logward scan --raw --rules default` over DeepBlueCLI's new-user sample
    // (the evtx crate's XML of each record in `event.original`), its alerts forwarded.
    if let Some(dir) = logward_test_support::corpus("windows-evtx") {
        let sample = dir.join("deepbluecli/new-user-security.evtx");
        let scanned = logward(
            &[
                "scan",
                "--raw",
                "--rules",
                "default",
                "--format",
                "ndjson",
                sample.to_str().unwrap(),
            ],
            "",
        );
        let body: String = scanned
            .lines()
            .enumerate()
            .map(|(i, a)| format!("{{\"seq\":{},\"alert\":{a}}}\n", 10 + i))
            .collect();
        let answer = c.post_events(&agent, &secret, body);
        assert!(answer.contains("\"accepted\":4"), "{answer}");
        b.goto(&format!("{url}/ui/#/alerts"));
        let id = wait_for(
            "the sample's account creation",
            Duration::from_secs(20),
            || {
                let v = b.js(list);
                v.as_array()?
                    .iter()
                    .find(|r| r[1] == "Security 4720" && r[2] == "WIN-QALA5Q3KJ43$ → IEUser")
                    .map(|r| r[0].as_str().unwrap().to_owned())
            },
        );
        b.goto(&format!("{url}/ui/#/alert/{id}"));
        wait_for("its page", Duration::from_secs(20), || {
            (field("Target user") == "IEUser").then_some(())
        });
        assert_eq!(field("Actor"), "WIN-QALA5Q3KJ43$");
        assert_eq!(field("Windows event"), "Security 4720");
        b.click("#alert-original summary");
        let shown = b.text("#alert-original pre");
        for want in [
            "<EventRecordID>112</EventRecordID>",
            "<Data Name=\"TargetUserName\">IEUser</Data>",
        ] {
            assert!(shown.contains(want), "{want} in {shown}");
        }
        b.screenshot(&c.store.shot("13-windows-evtx-sample"));
    }

    let severe = b.console_errors();
    assert!(severe.is_empty(), "browser console errors: {severe:?}");
    c.store.assert_in_use(&c.state_dir);
}
