//! Delivery end to end: the real daemon, a webhook receiver on 127.0.0.1 that is down while
//! 500 alerts queue, then comes up: every alert arrives (one by one or in digests), none
//! twice, within the configured rate limit; signatures check out.
#![allow(clippy::disallowed_methods)] // the test spawns the binary under test
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/webhook.rs"]
mod webhook;

use logward_test_support::{append, free_port, wait_until};
use webhook::{Hook, Request};

const BIN: &str = env!("CARGO_BIN_EXE_logward");
const SECRET: &str = "s3cret-for-the-test";

/// The HMAC-SHA256 the receiver expects, computed by Python's own hmac module: an
/// implementation independent of the one under test.
fn python_signatures(reqs: &[Request]) -> Vec<String> {
    let mut input = String::new();
    for r in reqs {
        let ts = r
            .headers
            .get("x-logward-timestamp")
            .cloned()
            .unwrap_or_default();
        input.push_str(&format!("{ts} {}\n", hex(&r.body)));
    }
    let script = format!(
        "import hmac,hashlib,sys\nfor l in sys.stdin:\n    ts,b=l.split()\n    print('sha256='+hmac.new(b'{SECRET}',ts.encode()+b'.'+bytes.fromhex(b),hashlib.sha256).hexdigest())\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn start(cfg: &Path, state: &Path) -> Child {
    Command::new(BIN)
        .args(["run", "--format", "none", "--config"])
        .arg(cfg)
        .arg("--state-dir")
        .arg(state)
        .env("TZ", "UTC")
        .env("LOGWARD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Whether the daemon has raised `alerts` alerts (its status) and a delivery has failed
/// (an outbox row with an attempt).
fn queued_and_failed(state: &Path, alerts: usize) -> bool {
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .arg("--state-dir")
            .arg(state)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    run(&["status"]).contains(&format!(" {alerts} alerts,"))
        && run(&["outbox", "list", "--limit", "1000"])
            .lines()
            .skip(1)
            .any(|row| row.split('\t').nth(4).is_some_and(|n| n != "0"))
}

/// The `user.name` of every alert a request carried (a digest carries several).
fn users(r: &Request) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let alerts = match v.get("alerts") {
        Some(a) => a.as_array().unwrap().clone(),
        None => vec![v],
    };
    alerts
        .iter()
        .map(|a| a["user"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn alerts_queued_through_an_outage_all_arrive_once_within_the_rate_limit() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("auth.log");
    std::fs::write(&log, "").unwrap();
    let port = free_port();
    let cfg = d.path().join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - {{type: file, path: {}, start_at: beginning}}\n\
             notify:\n  dedup: 0s\n  retry: {{min: 1s, max: 2s}}\n  notifiers:\n    \
             hook: {{type: webhook, url: 'http://127.0.0.1:{port}/alerts', secret: '{SECRET}', rate: [20/2s]}}\n",
            log.display()
        ),
    )
    .unwrap();
    let state = d.path().join("state");
    let mut daemon = start(&cfg, &state);
    // 500 successful logins: 500 `ssh-login` alerts, each with its own user.
    let lines: String = (0..500)
        .map(|i| {
            format!(
                "Jan 10 10:{:02}:{:02} web sshd[{}]: Accepted publickey for u{i} from 192.0.2.{} port 40000 ssh2: ED25519 SHA256:x\n",
                i / 60 % 60,
                i % 60,
                1000 + i,
                1 + i % 200
            )
        })
        .collect();
    append(&log, &lines);
    // The receiver is down until all 500 alerts are raised and a delivery has failed: they
    // are queued and retried.
    assert!(
        wait_until(Duration::from_secs(30), || queued_and_failed(&state, 500)),
        "no failed delivery of 500 alerts"
    );
    let (got, _) = Hook::start_on(port);
    let t = Instant::now();
    let expected: Vec<String> = (0..500).map(|i| format!("u{i}")).collect();
    loop {
        let seen: usize = got.accepted().iter().map(|r| users(r).len()).sum();
        if seen >= 500 || t.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(1500)); // anything sent twice would show now
    let _ = daemon.kill();
    let _ = daemon.wait();
    let reqs = got.accepted();
    let mut all: Vec<String> = reqs.iter().flat_map(users).collect();
    let total = all.len();
    all.sort();
    all.dedup();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(all, want, "every alert arrives");
    let ssh_login_only = total;
    assert_eq!(
        ssh_login_only,
        500,
        "no alert twice ({} requests)",
        reqs.len()
    );
    // Within 20 per 2 s, measured at the receiver (a little slack for scheduling).
    for (i, r) in reqs.iter().enumerate() {
        let in_window = reqs[i..]
            .iter()
            .take_while(|x| x.at.duration_since(r.at) < Duration::from_millis(1900))
            .count();
        assert!(in_window <= 20, "{in_window} requests within 2 s");
    }
    assert!(
        reqs.len() < 500,
        "the backlog was folded into digests: {}",
        reqs.len()
    );
    // Every request is signed, checked by an independent implementation, with a key.
    let want_sigs = python_signatures(&reqs);
    for (r, sig) in reqs.iter().zip(&want_sigs) {
        assert_eq!(r.headers.get("x-logward-signature"), Some(sig));
        assert!(r.headers.contains_key("idempotency-key"));
    }
    assert_eq!(want_sigs.len(), reqs.len());
}

/// Issue 13: after an outage, queued deliveries waited out their own backoff (up to an hour)
/// while a dead endpoint got ~10 requests a second. One circuit per notifier: while it fails,
/// one probe at a time with a growing delay; at its first success everything queued is due.
#[test]
fn a_failing_notifier_is_probed_one_request_at_a_time_and_its_queue_flows_when_it_answers() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("auth.log");
    std::fs::write(&log, "").unwrap();
    let (hook, port) = Hook::start_on(0);
    hook.set_down(true); // answers 503
    let cfg = d.path().join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - {{type: file, path: {}, start_at: beginning}}\n\
             notify:\n  dedup: 0s\n  retry: {{min: 1s, max: 1h}}\n  notifiers:\n    \
             hook: {{type: webhook, url: 'http://127.0.0.1:{port}/alerts'}}\n",
            log.display()
        ),
    )
    .unwrap();
    let mut daemon = start(&cfg, &d.path().join("state"));
    let lines: String = (0..50)
        .map(|i| {
            format!(
                "Jan 10 10:00:{i:02} web sshd[{}]: Accepted publickey for u{i} from 192.0.2.{} port 40000 ssh2: ED25519 SHA256:x\n",
                1000 + i,
                1 + i
            )
        })
        .collect();
    append(&log, &lines);
    // Wait for the first refused request, then let the outage last 5 s.
    let t = Instant::now();
    while hook.all().is_empty() && t.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(5));
    let refused = hook.all().len();
    // Probes after ~1 s, ~2 s, ~4 s (±20 %): at most 4 requests in those 5 s, not ~50.
    assert!(
        (1..=4).contains(&refused),
        "{refused} requests to a dead endpoint"
    );
    hook.set_down(false);
    let up = Instant::now();
    let got = hook.wait_for(Duration::from_secs(30), |r| {
        r.iter().map(|r| users(r).len()).sum::<usize>() >= 50
    });
    let took = up.elapsed();
    let _ = daemon.kill();
    let _ = daemon.wait();
    let mut all: Vec<String> = got.iter().flat_map(users).collect();
    all.sort();
    all.dedup();
    assert_eq!(
        all.len(),
        50,
        "every queued alert arrives once the endpoint answers"
    );
    // The next probe (≤ ~10 s after the first failure) succeeds and the whole queue follows
    // at once, not at each row's own backoff.
    assert!(took < Duration::from_secs(8), "{took:?}");
}
