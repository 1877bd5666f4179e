//! The DNS page, in a real browser: a real collector process over TLS (Chromium speaks
//! HTTP/2 to it) receives, through the signed `POST /v1/events` a forwarding agent uses, the
//! `dns-query` events the DNS check flagged and their alerts. Headless Chromium
//! (tests/support/browser.rs) finds the hits per day, the top domains and clients, one
//! client's recent hits with the owner and the answer — and a query name carrying markup
//! (a DNS label may hold any byte) stays text. On the SQLite store and on PostgreSQL
//! (tests/support/store.rs).
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test and the browser
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use logward_core::{write_alert, Alert, Dns, DnsAnswer, DnsIntel, Event, Severity, Timestamp};
use logward_test_support::wait_for;
use serde_json::json;

#[path = "support/browser.rs"]
mod browser;
#[path = "support/collector.rs"]
mod collector;
#[macro_use]
#[path = "support/store.rs"]
mod store;
use browser::Browser;
use collector::{line, Collector, PASSWORD};
use store::{Backend, Store};

/// A query name an attacker chose: it would run if the page ever parsed it as HTML.
const HOSTILE: &str = "<img src=x onerror=\"window.pwned = 1\">.evil.example";

/// A flagged query: `client` asked `name`, the DNS check found `finding`.
fn query(
    t: i64,
    client: &str,
    name: &str,
    finding: &'static str,
    intel: DnsIntel,
) -> Event<'static> {
    let mut e = Event::new(
        logward_core::Dataset::DnsDnsmasq,
        logward_core::Action::DnsQuery,
        logward_core::Outcome::Unknown,
    );
    e.timestamp = Some(Timestamp {
        unix: t,
        nanos: 0,
        offset: 0,
    });
    e.host_name = Some("gw1".into());
    e.reason = Some(finding);
    e.set_source(client.to_owned().into(), Some(40_000));
    e.dns = Some(Box::new(Dns {
        id: Some(4660),
        question_name: name.to_owned().into(),
        question_type: Some("A".into()),
        response_code: Some("NOERROR".into()),
        answers: vec![DnsAnswer {
            name: name.to_owned().into(),
            rtype: "A".into(),
            data: "198.51.100.9".into(),
            ttl: Some(300),
        }],
        resolved_ip: vec!["198.51.100.9".parse().unwrap()],
        intel: Some(Box::new(intel)),
        ..Dns::default()
    }));
    e
}

fn listed(owner: &str) -> DnsIntel {
    DnsIntel {
        list: Some("badd-boyz".into()),
        list_entry: Some("evil.example".into()),
        severity: Some("high".into()),
        owner: Some(owner.into()),
        reasons: vec!["listed by badd-boyz as evil.example".into()],
        ..DnsIntel::default()
    }
}

on_both!(the_dns_page_shows_hits_per_day_top_domains_and_clients_and_one_clients_hits);

fn the_dns_page_shows_hits_per_day_top_domains_and_clients_and_one_clients_hits(backend: Backend) {
    let Some((chromium, driver)) = browser::programs() else {
        logward_test_support::skip!("{}", browser::MISSING);
    };
    let Some(store) = Store::new(backend) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let c = Collector::start(d.path(), store);
    let (agent, secret) = c.enroll("gw1");

    // Yesterday one hit, today four: two clients, a listed domain asked three times, a
    // DGA-like one, and a hostile name.
    let t = logward_core::clock::unix_now() - 60;
    let hits = [
        (
            t - 86_400,
            "10.0.0.5",
            "a.evil.example",
            "listed",
            listed("ops-team"),
        ),
        (
            t - 30,
            "10.0.0.5",
            "a.evil.example",
            "listed",
            listed("ops-team"),
        ),
        (
            t - 20,
            "10.0.0.6",
            "evil.example",
            "listed",
            listed("web-team"),
        ),
        (
            t - 10,
            "10.0.0.5",
            "xkqjzvbwplrtm.example",
            "dga",
            DnsIntel {
                score: Some(91),
                owner: Some("ops-team".into()),
                reasons: vec!["entropy 3.7 bits".into()],
                ..DnsIntel::default()
            },
        ),
        (t, "10.0.0.6", HOSTILE, "listed", listed("web-team")),
    ];
    let mut body = String::new();
    for (i, (at, client, name, finding, intel)) in hits.into_iter().enumerate() {
        let e = query(at, client, name, finding, intel);
        let mut out = Vec::new();
        logward_core::json::write_event(&mut out, &e);
        body.push_str(&line(2 * i as u64 + 1, "event", out));
        let rule = if finding == "dga" {
            "dns-dga"
        } else {
            "dns-list-hit"
        };
        let mut out = Vec::new();
        write_alert(
            &mut out,
            &Alert::new(
                e,
                rule,
                rule,
                Severity::High,
                format!("{client} asked {name}"),
            ),
        );
        body.push_str(&line(2 * i as u64 + 2, "alert", out));
    }
    let answer = c.post_events(&agent, &secret, body);
    assert!(answer.contains("\"accepted\":10"), "{answer}");

    let b = Browser::start(&chromium, &driver, d.path(), true);
    b.log_in(&c.url, "alice", PASSWORD);
    let protocol = b.js("return performance.getEntriesByType('navigation')[0].nextHopProtocol");
    assert_eq!(protocol, json!("h2"));

    b.goto(&format!("{}/ui/#/dns", c.url));
    let rows_js =
        "return Array.from(document.querySelectorAll('#dns-hits-body tr.dns-hit-row')).map(r => \
                   Array.from(r.children).map(td => td.textContent))";
    let rows = wait_for("the DNS hits", Duration::from_secs(20), || {
        let v = b.js(rows_js);
        (v.as_array()?.len() == 5).then_some(v)
    });
    // Newest first: the hostile name, as text.
    let first = &rows[0];
    assert_eq!(first[1], "10.0.0.6");
    assert_eq!(first[2], "web-team");
    assert_eq!(first[3], HOSTILE);
    assert_eq!(first[5], "listed");
    assert_eq!(first[6], "badd-boyz");
    assert_eq!(first[7], "198.51.100.9");
    assert_eq!(rows[1][3], "xkqjzvbwplrtm.example");
    assert_eq!(rows[1][5], "dga");
    let made = b.js(
        "return [document.querySelectorAll('#view-dns img, #view-dns script').length, \
                     typeof window.pwned]",
    );
    assert_eq!(made, json!([0, "undefined"]));

    // The figures: two days with hits, the listed domain on top, 10.0.0.5 the top client.
    let clients = b.js(
        "return Array.from(document.querySelectorAll('#dns-clients li')).map(li => li.textContent)",
    );
    assert_eq!(clients, json!(["10.0.0.5 3", "10.0.0.6 2"]));
    let domains = b.js(
        "return Array.from(document.querySelectorAll('#chart-dns-domains svg rect title')).map(t => t.textContent)",
    );
    assert_eq!(domains.as_array().unwrap()[0], "a.evil.example: 2");
    let days = b.js(
        "return Array.from(document.querySelectorAll('#chart-dns-days svg rect title')).map(t => t.textContent).filter(t => !t.endsWith(': 0'))",
    );
    assert_eq!(days.as_array().unwrap().len(), 2, "{days}");
    let findings = b.js(
        "return Array.from(document.querySelectorAll('#chart-dns-findings svg rect title')).map(t => t.textContent)",
    );
    assert_eq!(findings, json!(["listed: 4", "dga: 1"]));
    b.screenshot(&c.store.shot("20-dns"));

    // One client's hits, from its link; then back to all through the filter form.
    b.click("#dns-clients li a");
    let mine = wait_for("10.0.0.5's hits", Duration::from_secs(20), || {
        let v = b.js(rows_js);
        let rows = v.as_array()?;
        (rows.len() == 3 && rows.iter().all(|r| r[1] == "10.0.0.5")).then_some(v)
    });
    assert!(mine.as_array().unwrap().iter().all(|r| r[2] == "ops-team"));
    assert_eq!(b.text("#dns-hits-title"), "Recent hits of 10.0.0.5");
    assert!(b.url().ends_with("#/dns/10.0.0.5"), "{}", b.url());
    b.screenshot(&c.store.shot("21-dns-client"));

    // A hit links to its alert.
    b.click("#dns-hits-body tr.dns-hit-row a");
    wait_for("the hit's alert", Duration::from_secs(20), || {
        b.js("return document.querySelector('#alert-summary h2') && document.querySelector('#alert-summary h2').textContent")
            .as_str()
            .filter(|t| t.ends_with("dns-dga"))
            .map(|_| ())
    });

    // The API refuses what is not an address, and says why.
    let bad = b.js(
        "const x = new XMLHttpRequest(); x.open('GET', '/v1/dns/hits?client=not-an-ip', false); \
         x.send(); return [x.status, JSON.parse(x.responseText).error]",
    );
    assert_eq!(
        bad,
        json!([400, "client: \"not-an-ip\" is not an IP address"])
    );
    assert!(b.console_errors().is_empty(), "{:?}", b.console_errors());
    c.store.assert_in_use(&c.state_dir);
}
