//! The collector notifies: alerts from the signed ingest get outbox rows in the ingest
//! transaction and are delivered to a real webhook receiver, following the routes.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use logward_core::Severity;
use logward_store::{OutboxState, SqliteStore, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingested_alerts_are_routed_delivered_and_marked_sent() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::default();
    // The first attempt fails (503): retried, then delivered.
    hook.statuses.lock().unwrap().push(503);
    let url = hook.start().await;
    let yaml = format!(
        "notify:\n  dedup: 0s\n  retry: {{min: 1s, max: 2s}}\n  notifiers:\n    soc: {{type: webhook, url: '{url}'}}\n  routes:\n    - {{notifiers: [soc], min_severity: high}}\n"
    );
    let run = collector(dir.path(), &yaml).await;
    let agent = Agent::enrol(&run).await;
    let v = agent
        .events(format!(
            "{}{}",
            alert_line(1, "ssh-bruteforce", Severity::High, "203.0.113.45", "root"),
            alert_line(2, "ssh-bruteforce", Severity::Low, "203.0.113.46", "bob"),
        ))
        .await;
    assert_eq!(v["accepted"], 2, "{v}");
    let got = hook.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got[0].2["source"]["ip"], "203.0.113.45");
    let mut s = SqliteStore::open_dir(&dir.path().join("state")).unwrap();
    let rows = s.outbox_list(None, 10).unwrap();
    // Only the high alert was routed to `soc`.
    assert_eq!(rows.len(), 1);
    let row = eventually(Duration::from_secs(5), || {
        let r = SqliteStore::open_dir(&dir.path().join("state"))
            .unwrap()
            .outbox_list(None, 10)
            .unwrap();
        r.into_iter().find(|r| r.state == OutboxState::Sent)
    })
    .await;
    assert_eq!(row.sink, "soc");
    let m = agent.metrics().await;
    assert_eq!(metric(&m, "logward_collector_deliveries_total "), 1);
    assert!(metric(&m, "logward_collector_delivery_retries_total ") >= 1);
    run.stop().await;
}

#[test]
fn notify_errors_have_their_place() {
    let e = logward_collector::config::parse(
        "c.yaml",
        "listen: 127.0.0.1:1\nnotify:\n  notifiers:\n    a: {type: webhook, url: 'http://x'}\n  routes:\n    - {notifiers: [b]}\n",
        std::path::Path::new("."),
    )
    .unwrap_err();
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].line, 6, "{}", e[0]);
    assert!(
        e[0].message.contains("`b`, which is not configured"),
        "{}",
        e[0]
    );
}

/// `alert_line` with the alert's time just now (the report covers the last 24 h).
fn alert_now(seq: u64, rule: &str, severity: Severity, ip: &str, user: &str) -> String {
    // A few seconds ago: the report's window ends (excluded) at the second it is made.
    let now = logward_core::Timestamp::from_unix_micros((now() - 5) * 1_000_000).to_string();
    alert_line(seq, rule, severity, ip, user).replace("2026-11-22T10:00:01Z", &now)
}

/// Issue 13: the collector had no fleet-wide daily report. It sends one from its store with
/// the agent's schedule options (`notify.report`): the alerts of every host, WARN for medium
/// and above, each line naming its host — here to a real webhook receiver, missed while the
/// collector was stopped, so sent once at its next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_sends_the_fleet_daily_report_from_its_store() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::default();
    let url = hook.start().await;
    let yaml = format!(
        "notify:\n  notifiers:\n    daily: {{type: webhook, url: '{url}'}}\n  \
         routes:\n    - {{notifiers: [daily], min_severity: critical}}\n  \
         report: {{at: '00:00', timezone: UTC, notifiers: [daily]}}\n"
    );
    let run = collector(dir.path(), &yaml).await;
    let web = Agent::enrol_as(&run, "web01").await;
    let db = Agent::enrol_as(&run, "db02").await;
    let v = web
        .events(format!(
            "{}{}",
            alert_now(1, "ssh-bruteforce", Severity::High, "203.0.113.45", "root"),
            alert_now(2, "ssh-bruteforce", Severity::High, "203.0.113.45", "root"),
        ))
        .await;
    assert_eq!(v["accepted"], 2, "{v}");
    let v = db
        .events(alert_now(
            1,
            "ssh-login",
            Severity::Info,
            "192.0.2.7",
            "alice",
        ))
        .await;
    assert_eq!(v["accepted"], 1, "{v}");
    run.stop().await;
    assert!(
        hook.received.lock().unwrap().is_empty(),
        "no report before its time, no alert under the critical route"
    );

    // The last report went out two days ago: the next start sends today's at once.
    let state = dir.path().join("state");
    let now = now();
    SqliteStore::open_dir(&state)
        .unwrap()
        .set_meta(
            logward_notify::schedule::LAST_TO,
            &(now - 2 * 86_400).to_string(),
        )
        .unwrap();
    let run = collector(dir.path(), &yaml).await;
    let got = hook.wait_for(1, Duration::from_secs(15)).await;
    let report = &got[0].2["report"];
    assert_eq!(report["host"], "fleet", "{report:#}");
    assert_eq!(report["total"], 3, "{report:#}");
    let sections = report["sections"].as_array().unwrap();
    assert_eq!(sections[0]["section"], "WARN");
    assert_eq!(
        sections[0]["messages"][0]["text"],
        "web01: 5 failures in 60s"
    );
    assert_eq!(sections[0]["messages"][0]["count"], 2);
    assert_eq!(sections[1]["section"], "INFO");
    assert_eq!(
        sections[1]["messages"][0]["text"],
        "db02: 5 failures in 60s"
    );
    // Recorded once sent: it does not go again.
    let last: i64 = eventually(Duration::from_secs(5), || {
        SqliteStore::open_dir(&state)
            .unwrap()
            .meta(logward_notify::schedule::LAST_TO)
            .unwrap()
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|&t| t >= now)
    })
    .await;
    assert!(last >= now);
    run.stop().await;
}

/// Issue 13: messages had no link to the alert on the dashboard. With
/// `notify.dashboard_url`, the collector's messages link to the alert's page (its id in the
/// collector's store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_link_to_the_alert_on_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::default();
    let url = hook.start().await;
    let yaml = format!(
        "notify:\n  dashboard_url: 'https://dash.example:8443/'\n  notifiers:\n    \
         soc: {{type: webhook, url: '{url}', body: '{{\"text\": {{{{ text|tojson }}}}}}'}}\n"
    );
    let run = collector(dir.path(), &yaml).await;
    let agent = Agent::enrol_as(&run, "web01").await;
    agent
        .events(alert_line(
            1,
            "ssh-bruteforce",
            Severity::High,
            "203.0.113.45",
            "root",
        ))
        .await;
    let got = hook.wait_for(1, Duration::from_secs(15)).await;
    let id = SqliteStore::open_dir(&dir.path().join("state"))
        .unwrap()
        .alerts_between(0, i64::MAX, 10)
        .unwrap()[0]
        .id;
    let text = got[0].2["text"].as_str().unwrap();
    assert!(
        text.contains(&format!(
            "Dashboard: https://dash.example:8443/#/alert/{id}"
        )),
        "{text}"
    );
    run.stop().await;
}
