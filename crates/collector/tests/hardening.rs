//! Attacks on the collector's agent-facing request path (issue 13), each performed against
//! the real server on 127.0.0.1 with real signed requests, and each asserted to fail.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use logward_collector::config::{Config, Limits};
use logward_collector::{start, Running};
use logward_core::json::write_event;
use logward_core::{Action, Dataset, Event, Outcome};

mod common;
use common::{metric, Agent};

fn config(dir: &Path, limits: Limits) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: dir.to_path_buf(),
        limits,
        ..Config::default()
    }
}

async fn collector(dir: &Path, limits: Limits) -> Running {
    start(config(dir, limits)).await.unwrap()
}

/// An NDJSON line: a failed sshd login from `ip` as `user`, claiming `host` (or none).
fn failure(seq: u64, ip: &str, user: &str, host: Option<&str>) -> String {
    let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
    e.set_source(ip.to_owned().into(), Some(40000));
    e.user_name = Some(user.to_owned().into());
    e.host_name = host.map(|h| h.to_owned().into());
    let mut out = Vec::new();
    write_event(&mut out, &e);
    format!(
        "{{\"seq\":{seq},\"event\":{}}}\n",
        String::from_utf8(out).unwrap()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_agent_flooding_signed_heartbeats_does_not_stop_another_agents_ingest() {
    let dir = tempfile::tempdir().unwrap();
    // A replay cache small enough for a test to fill, as the flood filled the real one.
    let run = collector(
        dir.path(),
        Limits {
            requests_per_second: 5,
            replay_cache: 200,
            ..Limits::default()
        },
    )
    .await;
    let flooder = Arc::new(Agent::enrol_as(&run, "web01").await);
    let victim = Agent::enrol_as(&run, "web02").await;
    let mut statuses = BTreeMap::<u16, u32>::new();
    for _ in 0..10 {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..40 {
            let a = flooder.clone();
            set.spawn(async move { a.signed("POST", "/v1/heartbeat", b"{}".to_vec()).await });
        }
        while let Some(r) = set.join_next().await {
            *statuses.entry(r.unwrap().0).or_default() += 1;
        }
    }
    // The rate limit refused the flood before it reached the replay cache.
    assert!(
        statuses.get(&429).copied().unwrap_or(0) >= 300,
        "{statuses:?}"
    );
    assert_eq!(statuses.get(&503), None, "{statuses:?}");
    let v = victim.events(failure(1, "192.0.2.1", "root", None)).await;
    assert_eq!(v["accepted"], 1, "{v}");
    let m = victim.metrics().await;
    assert_eq!(metric(&m, "logward_collector_replay_cache_full_total"), 0);
    run.stop().await;
}
