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
