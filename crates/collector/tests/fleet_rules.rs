//! The fleet rules in the real collector on 127.0.0.1 (shared-key mode: each host signs as
//! itself): a brute force over three hosts is one alert and one decision, committed with
//! the ingest; a retried batch is not counted twice; a window spans a restart; the
//! decisions feed is a change log.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use logward_collector::config::{Auth, Config, FleetRules};
use logward_collector::{random_hex, start, Running};
use logward_core::{wire, Action, Dataset, Event, Outcome};
use logward_store::{CollectorStore as _, SqliteStore, Store};
use serde_json::Value;

mod common;
use common::now;

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn config(dir: &Path, rules: FleetRules) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: dir.to_path_buf(),
        auth: Auth::Shared { key: KEY.into() },
        rules,
        ..Config::default()
    }
}

/// A signed request from `host`.
async fn send(run: &Running, host: &str, method: &str, path: &str, body: String) -> Value {
    let ts = now();
    let nonce = random_hex(16);
    let sig = wire::sign(KEY.as_bytes(), method, path, ts, &nonce, body.as_bytes());
    let url = format!("http://{}{path}", run.addr);
    let client = reqwest::Client::new();
    let req = if method == "GET" {
        client.get(url)
    } else {
        client.post(url)
    };
    let r = req
        .header(wire::HEADER_AGENT, host)
        .header(wire::HEADER_TIMESTAMP, ts.to_string())
        .header(wire::HEADER_NONCE, nonce)
        .header(wire::HEADER_SIGNATURE, sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

/// NDJSON lines of sshd failures from `ip`, seqs from `seq` (no host: the collector fills in
/// the sender's).
fn failures(seq: u64, n: u64, ip: &str) -> String {
    (seq..seq + n)
        .map(|s| {
            let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
            e.set_source(ip.to_owned().into(), Some(40000));
            e.user_name = Some("root".into());
            common::event_line(s, &e)
        })
        .collect()
}

use common::alerts_of as fleet_alerts;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hosts_make_one_fleet_decision_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(config(dir.path(), FleetRules::Default))
        .await
        .unwrap();
    let ip = "198.51.100.23";
    for host in ["web01", "web02"] {
        let v = send(&run, host, "POST", "/v1/events", failures(1, 2, ip)).await;
        assert_eq!(v["accepted"], 2, "{v}");
    }
    assert!(fleet_alerts(dir.path(), "fleet-bruteforce").is_empty());
    // The collector stops (its counters are in the store) and comes back.
    run.stop().await;
    let run = start(config(dir.path(), FleetRules::Default))
        .await
        .unwrap();
    send(&run, "db01", "POST", "/v1/events", failures(1, 1, ip)).await;
    let alerts = fleet_alerts(dir.path(), "fleet-bruteforce");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["host"]["name"], "fleet");
    assert_eq!(alerts[0]["labels"]["event_host"], "db01", "{}", alerts[0]);
    // More hosts within the window: no second decision.
    send(&run, "db02", "POST", "/v1/events", failures(1, 1, ip)).await;
    let v = send(&run, "web01", "GET", "/v1/decisions?since=0", String::new()).await;
    let list = v["decisions"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(list[0]["action"], "add");
    assert_eq!(list[0]["target"], ip);
    assert_eq!(list[0]["rule_id"], "fleet-bruteforce");
    assert_eq!(list[0]["duration_secs"], 4 * 3600);
    assert_eq!(v["next"], list[0]["id"]);
    // Lifted: the feed after `next` is the deletion.
    let mut s = SqliteStore::open_dir(dir.path()).unwrap();
    assert_eq!(s.decisions_in_force(now()).unwrap().len(), 1);
    s.delete_decision(logward_store::DecisionSelector::Target(ip), now())
        .unwrap()
        .unwrap();
    let path = format!("/v1/decisions?since={}", v["next"]);
    let v = send(&run, "web02", "GET", &path, String::new()).await;
    assert_eq!(v["decisions"][0]["action"], "delete", "{v}");
    assert_eq!(v["decisions"][0]["duration_secs"], 0, "{v}");
    let m = reqwest::get(format!("http://{}/metrics", run.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("logward_collector_fleet_alerts_total 1"), "{m}");
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_batch_is_not_counted_twice() {
    let dir = tempfile::tempdir().unwrap();
    // Plain (not distinct) counting, so a double count would show.
    let rules = "chains:\n  fails:\n    - {type: equals, field: event.outcome, value: failure}\n    \
        - {type: counter_raise, counter: f, key: [source.ip], window: 10m, save: n}\n    \
        - {type: ge, field: n, value: 3, then: hit}\n  hit:\n    \
        - {type: alert, id: three-failures, name: three, severity: medium, message: \"{{ n }}\"}\n    \
        - {type: ban, duration: 10m}\n";
    let file = FleetRules::File {
        path: dir.path().join("r.yaml"),
        text: rules.into(),
    };
    let run = start(config(dir.path(), file)).await.unwrap();
    let ip = "192.0.2.50";
    let batch = failures(1, 2, ip);
    send(&run, "web01", "POST", "/v1/events", batch.clone()).await;
    let v = send(&run, "web01", "POST", "/v1/events", batch).await;
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (Some(0), Some(2))
    );
    assert!(fleet_alerts(dir.path(), "three-failures").is_empty());
    send(&run, "web01", "POST", "/v1/events", failures(3, 1, ip)).await;
    assert_eq!(fleet_alerts(dir.path(), "three-failures").len(), 1);
    let d = SqliteStore::open_dir(dir.path())
        .unwrap()
        .decisions_in_force(now())
        .unwrap();
    assert_eq!((d.len(), d[0].duration_secs), (1, Some(600)));
    run.stop().await;
}

/// An NDJSON line: `user` logged in on the sender's host from `ip`, with the agent's GeoIP
/// fields for a place at `at` (lat, lon), at Unix time `t`.
fn login(seq: u64, t: i64, user: &str, ip: &str, country: &str, at: (f64, f64)) -> String {
    let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Success);
    e.timestamp = Some(logward_core::Timestamp {
        unix: t,
        nanos: 0,
        offset: 0,
    });
    e.set_source(ip.to_owned().into(), Some(40000));
    e.user_name = Some(user.to_owned().into());
    e.auth_method = Some("publickey");
    e.enrichment = Some(Box::new(logward_core::enrich::Enrichment {
        geo: Some(logward_core::enrich::Geo {
            country_iso_code: Some(country.into()),
            location: Some(at),
            accuracy_radius_km: Some(10),
            ..Default::default()
        }),
        asn: None,
        dnsbl: None,
    }));
    common::event_line(seq, &e)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_on_two_hosts_far_apart_is_fleet_impossible_travel_and_the_profile_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(config(dir.path(), FleetRules::None)).await.unwrap();
    let t = now() - 3600;
    // London on web01, then half an hour later Changchun on web02: each host alone saw one
    // login; only the fleet sees both.
    let v = send(
        &run,
        "web01",
        "POST",
        "/v1/events",
        login(1, t, "alice", "81.2.69.142", "GB", (51.5142, -0.0931)),
    )
    .await;
    assert_eq!(v["accepted"], 1, "{v}");
    assert!(fleet_alerts(dir.path(), "impossible-travel").is_empty());
    send(
        &run,
        "web02",
        "POST",
        "/v1/events",
        login(
            1,
            t + 1800,
            "alice",
            "175.16.199.37",
            "CN",
            (43.88, 125.3228),
        ),
    )
    .await;
    let travel = fleet_alerts(dir.path(), "impossible-travel");
    assert_eq!(travel.len(), 1, "{travel:#?}");
    let a = &travel[0];
    assert_eq!(a["host"]["name"], "fleet");
    assert_eq!(a["labels"]["event_host"], "web02", "{a:#}");
    assert_eq!(a["labels"]["scope"], "fleet", "{a:#}");
    assert_eq!(a["source"]["ip"], "175.16.199.37");
    run.stop().await;
    let mut s = SqliteStore::open_dir(dir.path()).unwrap();
    let key = logward_engine::anomaly::Detector::key("", "alice");
    let p = String::from_utf8(s.profile(&key).unwrap().unwrap()).unwrap();
    assert!(
        p.contains("81.2.69.142") && p.contains("175.16.199.37"),
        "{p}"
    );

    // `anomaly: {enabled: false}` turns it off.
    let c = logward_collector::config::parse("c.yaml", "anomaly: {enabled: false}\n", dir.path())
        .unwrap();
    assert!(c.anomaly.is_none());
    let e = logward_collector::config::parse("c.yaml", "anomaly:\n  threshold: 3\n", dir.path())
        .unwrap_err();
    assert_eq!((e[0].line, e[0].column), (2, 14), "{e:?}");
}
