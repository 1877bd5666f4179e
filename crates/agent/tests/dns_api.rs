//! The DNS check's intel API client against a real HTTP server on loopback (axum, started
//! in the test) implementing the seed's shape, `GET /api?token=…&param=<domain>` → JSON:
//! verdicts, the cache, slow answers, errors and 429 rate limiting — and the stage never
//! waits for any of it.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use logward_agent::dns_check::api::{Answer, ApiSettings, Verdicts};
use logward_agent::dns_check::{DnsCheck, Outcome, Settings, API_MALICIOUS};
use logward_core::{Action, Dns, Event};
use logward_notify::Secret;
use logward_test_support::eventually;
use tokio::sync::mpsc;

const TOKEN: &str = "T0KEN-s3cret";

/// What the server does for a domain (by its first label).
#[derive(Default)]
struct Intel {
    /// Every request's domain, in order.
    asked: Mutex<Vec<String>>,
    /// Requests that failed so far, per domain (for `flaky-` and `limited-` names).
    failures: Mutex<HashMap<String, u32>>,
    bad_token: Mutex<u32>,
}

async fn api(State(s): State<Arc<Intel>>, uri: Uri) -> Response {
    let url = reqwest::Url::parse(&format!("http://x{uri}")).unwrap();
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    if q.get("token").map(String::as_str) != Some(TOKEN) {
        *s.bad_token.lock().unwrap() += 1;
        return (StatusCode::FORBIDDEN, "bad token").into_response();
    }
    let domain = q.get("param").cloned().unwrap_or_default();
    s.asked.lock().unwrap().push(domain.clone());
    let n = {
        let mut f = s.failures.lock().unwrap();
        let n = f.entry(domain.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let label = domain.split('.').next().unwrap_or("");
    if label.starts_with("slow") {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    if label.starts_with("flaky") && n <= 2 {
        return (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response();
    }
    if label.starts_with("limited") && n <= 1 {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            "slow down",
        )
            .into_response();
    }
    if label.starts_with("garbage") {
        return (StatusCode::OK, "<html>not json</html>").into_response();
    }
    let verdict = if domain.contains("evil") {
        "malicious"
    } else {
        "clean"
    };
    let body = serde_json::json!({"code": 0, "data": {"verdict": verdict, "reason": format!("seen in campaign {label}")}});
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn server() -> (SocketAddr, Arc<Intel>) {
    let state = Arc::new(Intel::default());
    let app = axum::Router::new()
        .route("/api", get(api))
        .with_state(Arc::clone(&state));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (addr, state)
}

fn settings(addr: SocketAddr) -> Settings {
    let mut a = ApiSettings::new(format!("http://{addr}/api"));
    a.token = Secret::new(TOKEN);
    a.verdict_path = "data.verdict".into();
    a.reason_path = Some("data.reason".into());
    a.verdicts = Verdicts::new(["malicious"]);
    a.timeout = Duration::from_millis(300);
    a.retry_wait = Duration::from_millis(100);
    a.retry_max_wait = Duration::from_millis(400);
    a.attempts = 4;
    a.per_second = 1000;
    Settings {
        enabled: true,
        api: Some(a),
        ..Settings::default()
    }
}

fn query(client: &str, name: &str) -> Event<'static> {
    let mut e = Event {
        action: Some(Action::DnsQuery),
        source_ip: Some(client.parse::<IpAddr>().unwrap()),
        ..Event::default()
    };
    e.dns = Some(Box::new(Dns {
        question_name: name.to_owned().into(),
        question_type: Some("A".into()),
        ..Dns::default()
    }));
    e
}

/// Collects answers until `n` came in, resuming each into the stage; the events to run
/// again, by domain.
async fn answers(
    check: &mut DnsCheck,
    rx: &mut mpsc::UnboundedReceiver<Answer>,
    n: usize,
    within: Duration,
) -> Vec<(String, Option<bool>, Vec<Event<'static>>)> {
    let mut out = Vec::new();
    let end = tokio::time::Instant::now() + within;
    while out.len() < n {
        let a = tokio::time::timeout_at(end, rx.recv())
            .await
            .expect("answers within the time")
            .expect("the API task runs");
        let (domain, verdict) = (a.domain.clone(), a.verdict.as_ref().map(|v| v.malicious));
        out.push((domain, verdict, check.resume(a)));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_come_back_malicious_ones_resume_their_queries_and_the_cache_answers_repeats() {
    let (addr, intel) = server().await;
    let mut s = settings(addr);
    s.owners = vec![(
        logward_agent::dns_check::trust::Net::parse("10.1.0.0/16").unwrap(),
        "netops".into(),
    )];
    let mut check = DnsCheck::new(&s).unwrap();
    let mut rx = check.start_api().unwrap();
    for (c, n) in [
        ("10.1.0.5", "c2.evil.test"),
        ("10.9.0.7", "c2.evil.test"),
        ("10.1.0.5", "www.good.test"),
    ] {
        let mut e = query(c, n);
        assert_eq!(check.check("s", &mut e), Outcome::Checked);
        assert_eq!(
            e.reason, None,
            "no verdict yet: the event goes on without one"
        );
    }
    let got = answers(&mut check, &mut rx, 2, Duration::from_secs(10)).await;
    assert_eq!(got[0].0, "c2.evil.test");
    assert_eq!(got[0].1, Some(true));
    // Both clients that asked about it raise the alert, each with its own owner.
    let resumed = &got[0].2;
    assert_eq!(resumed.len(), 2);
    for e in resumed {
        assert_eq!(e.reason, Some(API_MALICIOUS));
        let i = e.dns.as_ref().unwrap().intel.as_ref().unwrap();
        assert_eq!(i.verdict.as_deref(), Some("malicious"));
        assert_eq!(i.severity.as_deref(), Some("high"));
        assert_eq!(i.reasons, ["intel API: malicious (seen in campaign c2)"]);
    }
    let owners: Vec<_> = resumed
        .iter()
        .map(|e| {
            e.dns
                .as_ref()
                .unwrap()
                .intel
                .as_ref()
                .unwrap()
                .owner
                .clone()
        })
        .collect();
    assert_eq!(owners, [Some("netops".to_owned()), None]);
    assert_eq!(
        got[1],
        ("www.good.test".to_owned(), Some(false), Vec::new())
    );
    let mut asked = intel.asked.lock().unwrap().clone();
    asked.sort();
    assert_eq!(
        asked,
        ["c2.evil.test", "www.good.test"],
        "each domain asked once"
    );

    // Now cached: a third client's query is answered at once, without a request.
    let mut e = query("10.1.7.7", "c2.evil.test");
    check.check("s", &mut e);
    assert_eq!(e.reason, Some(API_MALICIOUS));
    assert_eq!(
        e.dns
            .as_ref()
            .unwrap()
            .intel
            .as_ref()
            .unwrap()
            .owner
            .as_deref(),
        Some("netops")
    );
    let mut clean = query("10.1.7.7", "www.good.test");
    check.check("s", &mut clean);
    assert_eq!(clean.reason, None);
    let c = check.api().unwrap().stats.counts();
    assert_eq!(
        (c.requests, c.verdicts, c.malicious, c.cache_hits),
        (2, 2, 1, 2),
        "{c:?}"
    );
    assert_eq!(intel.asked.lock().unwrap().len(), 2);
    assert_eq!(*intel.bad_token.lock().unwrap(), 0);
    assert_eq!(check.pending(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_answers_errors_and_429_never_stall_the_stage_and_a_late_verdict_still_alerts() {
    let (addr, intel) = server().await;
    let mut s = settings(addr);
    if let Some(a) = &mut s.api {
        // 20 000 names and room for 64 to wait: the rest are counted, not asked about.
        a.queue = 64;
    }
    let mut check = DnsCheck::new(&s).unwrap();
    let mut rx = check.start_api().unwrap();
    let names = [
        "slow.evil.test",
        "flaky.evil.test",
        "limited.evil.test",
        "garbage.evil.test",
    ];
    let started = Instant::now();
    for n in names {
        let mut e = query("10.0.0.1", n);
        check.check("s", &mut e);
    }
    // Meanwhile the stream flows: 20 000 more queries (other names, other clients) take no
    // longer than the stage's own work, whatever the API does.
    for i in 0..20_000 {
        let mut e = query(
            &format!("10.2.{}.{}", i / 250, i % 250),
            &format!("n{i}.ok.test"),
        );
        check.check("s", &mut e);
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "the stage waited: {took:?}");

    // Answers, in time: a 500 twice then a verdict, a 429 then a verdict — malicious, so
    // their queries run again; the slow and the garbled ones are given up on after four
    // attempts each (asked again when next seen).
    let mut got = Vec::new();
    let end = tokio::time::Instant::now() + Duration::from_secs(30);
    while got
        .iter()
        .filter(|(d, _, _): &&(String, _, _)| names.contains(&d.as_str()))
        .count()
        < names.len()
    {
        let a = tokio::time::timeout_at(end, rx.recv())
            .await
            .unwrap()
            .unwrap();
        let (domain, verdict) = (a.domain.clone(), a.verdict.as_ref().map(|v| v.malicious));
        let events = check.resume(a);
        got.push((domain, verdict, events.len()));
    }
    let of = |d: &str| got.iter().find(|g| g.0 == d).map(|g| (g.1, g.2));
    assert_eq!(of("flaky.evil.test"), Some((Some(true), 1)));
    assert_eq!(of("limited.evil.test"), Some((Some(true), 1)));
    assert_eq!(of("slow.evil.test"), Some((None, 0)));
    assert_eq!(of("garbage.evil.test"), Some((None, 0)));
    let c = check.api().unwrap().stats.counts();
    assert!(c.timeouts >= 4, "{c:?}");
    assert!(c.rate_limited >= 1, "{c:?}");
    assert!(c.errors >= 2 + 4, "500s and the garbled answers: {c:?}");
    assert!(c.retries >= 2 + 1 + 3 + 3, "{c:?}");
    assert_eq!(c.given_up, 2, "{c:?}");
    assert_eq!(c.queue_full, 20_000 - 60, "{c:?}");
    {
        let fails = intel.failures.lock().unwrap();
        assert_eq!(fails.get("flaky.evil.test"), Some(&3));
        assert_eq!(fails.get("limited.evil.test"), Some(&2));
    }
    // The remaining (clean) answers drain; nothing stays pending forever.
    eventually(Duration::from_secs(30), || {
        while let Ok(a) = rx.try_recv() {
            check.resume(a);
        }
        (check.pending() == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_of_domains_waiting_is_bounded_and_overflow_is_counted() {
    let (addr, _intel) = server().await;
    let mut s = settings(addr);
    if let Some(a) = &mut s.api {
        a.queue = 3;
    }
    let mut check = DnsCheck::new(&s).unwrap();
    let _rx = check.start_api().unwrap();
    for i in 0..10 {
        let mut e = query("10.0.0.1", &format!("slow{i}.test"));
        check.check("s", &mut e);
    }
    assert_eq!(check.pending(), 3);
    assert_eq!(check.api().unwrap().stats.counts().queue_full, 7);
}
