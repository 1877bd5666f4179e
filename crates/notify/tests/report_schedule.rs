//! The scheduled daily report: a report missed while the agent was stopped goes out at once
//! through every named notifier (each in its language), the window is recorded, older
//! entries are forgotten, and a notifier that cannot be reached does not stop the others.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use logward_notify::config::Language;
use logward_notify::deliver::SharedStore;
use logward_notify::schedule::{ReportStats, Reporter, LAST_TO};
use logward_notify::{Notifier, NotifierConfig, ReportConfig};
use logward_store::{AgentStore as _, Batch, ReportEntry, ReportSection, SqliteStore, Store as _};
use serde_json::Value;

fn notifier(name: &str, yaml: &str) -> Arc<Notifier> {
    let cfg: NotifierConfig = serde_saphyr::from_str(yaml).unwrap();
    assert!(cfg.check(Language::En).is_empty());
    Arc::new(Notifier::build(name, &cfg, Language::En).unwrap())
}

fn config(yaml: &str) -> ReportConfig {
    serde_saphyr::from_str(yaml).unwrap()
}

fn entry(time: i64, section: ReportSection, text: &str) -> ReportEntry {
    ReportEntry {
        time,
        section,
        text: text.to_owned(),
    }
}

#[tokio::test]
async fn a_missed_report_goes_out_at_start_through_every_notifier() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open_dir(dir.path()).unwrap();
    let now = Utc::now().timestamp();
    store
        .commit_batch(&Batch {
            report: vec![
                entry(now - 3 * 86_400, ReportSection::Info, "too old to report"),
                entry(
                    now - 3600,
                    ReportSection::Warn,
                    "5 failures from 203.0.113.5",
                ),
                entry(
                    now - 1800,
                    ReportSection::Info,
                    "alice logged in from 192.0.2.10",
                ),
                entry(
                    now - 900,
                    ReportSection::Info,
                    "alice logged in from 192.0.2.10",
                ),
            ],
            ..Batch::default()
        })
        .unwrap();
    // The last report went out two days ago: today's is overdue.
    store
        .set_meta(LAST_TO, &(now - 2 * 86_400).to_string())
        .unwrap();
    let store: SharedStore = Arc::new(Mutex::new(store));

    let en = dir.path().join("en.log");
    let zh = dir.path().join("zh.log");
    // Nothing listens there: refused at once, a transient error.
    let port = logward_test_support::free_port();
    let notifiers = vec![
        notifier("en", &format!("type: file\npath: {}\n", en.display())),
        notifier(
            "zh",
            &format!("type: file\npath: {}\nlanguage: zh-CN\n", zh.display()),
        ),
        notifier(
            "down",
            &format!("type: webhook\nurl: http://127.0.0.1:{port}/hook\n"),
        ),
        notifier("unnamed", "type: file\npath: /nonexistent/never.log\n"),
    ];
    let stats = Arc::new(ReportStats::default());
    let mut reporter = Reporter::new(
        config("at: '08:00'\ntimezone: UTC\nnotifiers: [en, zh, down]\n"),
        notifiers,
        Arc::clone(&store),
        "web01".into(),
        Arc::clone(&stats),
    );
    reporter.retry_min = Duration::from_millis(20);
    reporter.attempts = 3;
    assert_eq!(reporter.notifiers.len(), 3, "only the named notifiers");
    let task = tokio::spawn(reporter.run());

    for _ in 0..500 {
        if stats.sent.load(Ordering::Relaxed) + stats.failed.load(Ordering::Relaxed) == 3
            && store.lock().unwrap().meta(LAST_TO).unwrap() != Some((now - 2 * 86_400).to_string())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stats.sent.load(Ordering::Relaxed), 2);
    assert_eq!(stats.failed.load(Ordering::Relaxed), 1);

    let read = |p: &std::path::Path| -> Value {
        let text = std::fs::read_to_string(p).unwrap();
        let mut lines = text.lines();
        let v = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert!(lines.next().is_none(), "one report, sent once");
        v
    };
    let en = read(&en);
    let r = &en["report"];
    assert_eq!(r["host"], "web01");
    assert_eq!(r["timezone"], "UTC");
    assert_eq!(r["total"], 3, "{r}");
    let sections = r["sections"].as_array().unwrap();
    assert_eq!(sections[0]["section"], "WARN");
    assert_eq!(
        sections[0]["messages"][0]["text"],
        "5 failures from 203.0.113.5"
    );
    assert_eq!(sections[1]["messages"][0]["count"], 2);
    assert!(!en.to_string().contains("too old"));
    let zh = read(&zh);
    assert_eq!(zh["report"]["total"], 3);

    // The window is recorded; the entry older than it is gone, the others stay.
    let last: i64 = store
        .lock()
        .unwrap()
        .meta(LAST_TO)
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    assert!((now..now + 60).contains(&last), "{last} vs {now}");
    let kept = store.lock().unwrap().report_entries(0, now + 60).unwrap();
    assert_eq!(kept.len(), 3);

    // Not again until tomorrow's 08:00.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stats.sent.load(Ordering::Relaxed), 2);
    task.abort();
}

#[test]
fn the_first_start_waits_for_the_schedule_and_later_ones_follow_the_last_report() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Mutex::new(SqliteStore::open_dir(dir.path()).unwrap()));
    let r = Reporter::new(
        config("at: '08:00'\ntimezone: Asia/Shanghai\nnotifiers: [a]\n"),
        Vec::new(),
        store,
        "h".into(),
        Arc::default(),
    );
    // 2026-11-23 10:00 in Shanghai (02:00 UTC).
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap();
    // Never sent: the next 08:00, tomorrow.
    assert_eq!(
        r.due(None, now),
        Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap()
    );
    // Last sent yesterday at 08:00: today's 08:00 is due (missed while stopped).
    let yesterday = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
    assert_eq!(
        r.due(Some(yesterday.timestamp()), now),
        Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap()
    );
    // Sent today at 08:00: tomorrow's.
    let today = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
    assert_eq!(
        r.due(Some(today.timestamp()), now),
        Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap()
    );
}
