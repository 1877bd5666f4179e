//! The DNS check end to end in a real `logward run`: a Zeek JSON dns.log the test writes, a
//! threat list file, the intel API and a WeCom application API played by one HTTP server on
//! 127.0.0.1 (in the test). Exactly the expected alerts: a listed name once however often it
//! is asked (dedup), the API's malicious verdict arriving after the query went by, nothing for
//! the trusted client or domain; the list reloaded when its file changes (and kept when the
//! new file is broken); the owner of the client messaged over WeCom, nobody else.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logward_test_support::daemon::Daemon;
use logward_test_support::wait_for;
use serde_json::{json, Value};

#[path = "support/webhook.rs"]
mod webhook;

const BIN: &str = env!("CARGO_BIN_EXE_logward");
const TOKEN: &str = "INTEL-T0KEN-9f8e7d";

/// What the server saw: intel API domains asked (with the token they came with) and WeCom
/// messages sent.
#[derive(Default)]
struct Seen {
    asked: Vec<(String, String)>,
    wecom: Vec<Value>,
    /// The intel API answers only after this long.
    delay: Duration,
}

/// One HTTP/1.1 request per connection, answered and closed.
fn serve(mut s: TcpStream, seen: &Mutex<Seen>) {
    let Some((target, _, body)) = webhook::read_request(&s) else {
        return;
    };
    let url = reqwest::Url::parse(&format!("http://x{target}")).unwrap();
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let answer = match url.path() {
        "/api" => {
            let domain = q.get("param").cloned().unwrap_or_default();
            let token = q.get("token").cloned().unwrap_or_default();
            let delay = {
                let mut s = seen.lock().unwrap();
                s.asked.push((domain.clone(), token));
                s.delay
            };
            std::thread::sleep(delay);
            let verdict = if domain.contains("apibad") {
                "malicious"
            } else {
                "clean"
            };
            json!({"code": 0, "data": {"verdict": verdict, "reason": "test feed"}})
        }
        "/cgi-bin/gettoken" => {
            json!({"errcode": 0, "access_token": "wecom-tok", "expires_in": 7200})
        }
        "/cgi-bin/message/send" => {
            seen.lock()
                .unwrap()
                .wecom
                .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
            json!({"errcode": 0, "errmsg": "ok"})
        }
        _ => json!({"errcode": 404}),
    };
    let text = answer.to_string();
    let _ = write!(
        s,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

fn server() -> (u16, Arc<Mutex<Seen>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = Arc::clone(&seen);
    std::thread::spawn(move || {
        for c in l.incoming().map_while(Result::ok) {
            let s = Arc::clone(&s);
            std::thread::spawn(move || serve(c, &s));
        }
    });
    (port, seen)
}

/// One Zeek JSON dns.log record, asked now.
fn zeek(client: &str, query: &str, qtype: &str, answers: &[&str]) -> String {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    json!({
        "ts": ts, "uid": "Ctest", "id.orig_h": client, "id.orig_p": 40000, "id.resp_h": "10.0.0.53",
        "id.resp_p": 53, "proto": "udp", "trans_id": 7, "query": query, "qclass": 1,
        "qclass_name": "C_INTERNET", "qtype_name": qtype, "rcode": 0, "rcode_name": "NOERROR",
        "answers": answers, "rejected": false
    })
    .to_string()
}

fn append(log: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(log).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// Replaces a file the way list downloads do: written beside it, renamed into place.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The value of an unlabelled metric.
fn metric(state: &Path, name: &str) -> Option<f64> {
    let o = Command::new(BIN)
        .args(["metrics", "--state-dir"])
        .arg(state)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == name).then(|| v.trim().parse().ok())?
    })
}

/// Alerts printed until `pred` holds for them (or the time is up).
fn alerts_until(agent: &Daemon, all: &mut Vec<Value>, pred: impl Fn(&[Value]) -> bool) {
    let t = Instant::now();
    while !pred(all) && t.elapsed() < Duration::from_secs(20) {
        if let Some(l) = agent.alert(Duration::from_millis(200)) {
            all.push(serde_json::from_str(&l).unwrap());
        }
    }
    assert!(pred(all), "{all:#?}\n{}", agent.log());
}

fn ids(all: &[Value]) -> Vec<(String, String, String)> {
    all.iter()
        .map(|a| {
            (
                a["rule"]["id"].as_str().unwrap_or("").to_owned(),
                a["client"]["ip"].as_str().unwrap_or("").to_owned(),
                a["dns"]["question"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn queries_checked_by_a_running_agent_raise_exactly_the_expected_alerts_and_reach_the_owner() {
    let (port, seen) = server();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let state = dir.join("state");
    let log = dir.join("dns.log");
    std::fs::write(&log, "").unwrap();
    std::fs::create_dir(dir.join("lists")).unwrap();
    let list = dir.join("lists/hosts.txt");
    std::fs::write(
        &list,
        "# test list\n0.0.0.0 evil.test\n0.0.0.0 bad.corp.example\n0.0.0.0 old.evil3.test\n",
    )
    .unwrap();
    std::fs::write(dir.join("intel.token"), format!("{TOKEN}\n")).unwrap();
    let cfg = dir.join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - {{type: file, path: dns.log, start_at: beginning}}\n\
             output: {{format: ndjson}}\n\
             dns:\n\
             \x20 trusted: {{clients: [10.9.9.9], domains: [corp.example]}}\n\
             \x20 owners: [{{network: 10.1.0.0/16, owner: netops}}]\n\
             \x20 lists: [{{name: badd-boyz, path: lists/hosts.txt, severity: high}}]\n\
             \x20 lists_check: 100ms\n\
             \x20 api:\n\
             \x20   url: http://127.0.0.1:{port}/api\n\
             \x20   token_file: intel.token\n\
             \x20   verdict: data.verdict\n\
             \x20   reason: data.reason\n\
             \x20   timeout: 2s\n\
             notify:\n\
             \x20 notifiers:\n\
             \x20   wecom-netops: {{type: wecom_app, corpid: corp1, secret: app-secret-1, agentid: 1000002, touser: zhangsan, api: 'http://127.0.0.1:{port}'}}\n\
             \x20 routes:\n\
             \x20   - {{notifiers: [wecom-netops], fields: {{logward.dns.owner: [netops]}}}}\n\
             \x20 dedup: 0s\n"
        ),
    )
    .unwrap();
    let o = Command::new(BIN)
        .arg("check")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let mut agent = Daemon::start(BIN, &cfg, &state, dir);
    assert!(agent.up(), "{}", agent.log());

    // 50 look-ups of a listed name by one client; a trusted client asking it; a trusted
    // domain the list names; a name the API calls malicious, one it calls clean.
    let mut lines: Vec<String> = (0..50)
        .map(|_| zeek("10.1.2.3", "a.evil.test", "A", &["203.0.113.5"]))
        .collect();
    lines.push(zeek("10.9.9.9", "evil.test", "A", &[]));
    lines.push(zeek("10.1.2.3", "bad.corp.example", "A", &[]));
    lines.push(zeek("10.2.0.7", "c2.apibad.test", "A", &["198.51.100.66"]));
    lines.push(zeek("10.2.0.7", "www.good.test", "AAAA", &[]));
    append(&log, &lines);
    let mut all = Vec::new();
    alerts_until(&agent, &mut all, |a| a.len() >= 2);
    // Everything was read and every look-up came back: nothing more is on its way.
    wait_for("the API's two verdicts", Duration::from_secs(20), || {
        (metric(&state, "logward_dns_api_verdicts_total") == Some(2.0)
            && metric(&state, "logward_dns_api_pending") == Some(0.0)
            && metric(&state, "logward_dns_queries_total") == Some(54.0))
        .then_some(())
    });
    let mut got = ids(&all);
    got.sort();
    assert_eq!(
        got,
        [
            (
                "dns-api-verdict".into(),
                "10.2.0.7".into(),
                "c2.apibad.test".into()
            ),
            (
                "dns-list-hit".into(),
                "10.1.2.3".into(),
                "a.evil.test".into()
            ),
        ],
        "{all:#?}"
    );
    let hit = all
        .iter()
        .find(|a| a["rule"]["id"] == "dns-list-hit")
        .unwrap();
    assert_eq!(hit["logward"]["dns"]["list"], "badd-boyz");
    assert_eq!(hit["logward"]["dns"]["list_entry"], "evil.test");
    assert_eq!(hit["logward"]["dns"]["owner"], "netops");
    assert_eq!(hit["dns"]["resolved_ip"], json!(["203.0.113.5"]));
    assert_eq!(
        hit["message"],
        "10.1.2.3 looked up a.evil.test, listed by badd-boyz (evil.test)"
    );
    let api = all
        .iter()
        .find(|a| a["rule"]["id"] == "dns-api-verdict")
        .unwrap();
    assert_eq!(api["logward"]["dns"]["verdict"], "malicious");
    assert!(
        api["logward"]["dns"].get("owner").is_none(),
        "10.2.0.7 has no owner"
    );
    // The API was asked about the two unlisted, untrusted names only, with the token.
    let mut asked = seen.lock().unwrap().asked.clone();
    asked.sort();
    assert_eq!(
        asked,
        [
            ("c2.apibad.test".to_owned(), TOKEN.to_owned()),
            ("www.good.test".to_owned(), TOKEN.to_owned())
        ]
    );
    assert_eq!(metric(&state, "logward_dns_deduped_total"), Some(49.0));
    assert_eq!(metric(&state, "logward_dns_checked_total"), Some(3.0));

    // The list changes: a new name is listed from the next look at the file.
    replace(&list, "0.0.0.0 evil.test\n0.0.0.0 new.evil2.test\n");
    assert!(
        logward_test_support::wait_until(Duration::from_secs(10), || {
            agent.log().matches("list badd-boyz").count() >= 2
        }),
        "not read again: {}",
        agent.log()
    );
    assert!(agent.log().contains(": 2 domains"), "{}", agent.log());
    append(&log, &[zeek("10.1.2.4", "new.evil2.test", "A", &[])]);
    alerts_until(&agent, &mut all, |a| a.len() >= 3);
    // A broken download (an error page) keeps the last good copy.
    replace(&list, "<html><body>502 Bad Gateway</body></html>\n");
    assert!(
        agent.wait_log("keeping the last good copy", Duration::from_secs(10)),
        "{}",
        agent.log()
    );
    append(&log, &[zeek("10.1.2.5", "x.evil.test", "A", &[])]);
    alerts_until(&agent, &mut all, |a| a.len() >= 4);
    let got = ids(&all[2..]);
    assert_eq!(
        got,
        [
            (
                "dns-list-hit".into(),
                "10.1.2.4".into(),
                "new.evil2.test".into()
            ),
            (
                "dns-list-hit".into(),
                "10.1.2.5".into(),
                "x.evil.test".into()
            ),
        ]
    );

    // The owner's WeCom messages: the three hits of netops' clients, none of 10.2.0.7's.
    let msgs = wait_for("three WeCom messages", Duration::from_secs(20), || {
        let w = seen.lock().unwrap().wecom.clone();
        (w.len() >= 3).then_some(w)
    });
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    let mut domains = Vec::new();
    for m in &msgs {
        assert_eq!(m["touser"], "zhangsan");
        assert_eq!(m["agentid"], 1000002);
        let content = m["markdown"]["content"].as_str().unwrap();
        assert!(content.contains("owner: netops"), "{content}");
        assert!(content.contains("List: badd-boyz"), "{content}");
        for d in ["a.evil.test", "new.evil2.test", "x.evil.test"] {
            if content.contains(d) {
                domains.push(d);
            }
        }
    }
    domains.sort_unstable();
    assert_eq!(domains, ["a.evil.test", "new.evil2.test", "x.evil.test"]);
    assert!(!agent.log().contains(TOKEN), "the token is never logged");
    // Stopped (its last commit made): nothing more was printed.
    agent.terminate();
    let mut late = Vec::new();
    while let Some(l) = agent.alert(Duration::from_millis(100)) {
        late.push(l);
    }
    assert!(late.is_empty(), "{late:#?}");
}

#[test]
fn a_stalled_intel_api_does_not_hold_up_the_queries_behind_it() {
    let (port, seen) = server();
    seen.lock().unwrap().delay = Duration::from_secs(30);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let state = dir.join("state");
    let log = dir.join("dns.log");
    std::fs::write(&log, "").unwrap();
    std::fs::write(dir.join("hosts.txt"), "0.0.0.0 evil.test\n").unwrap();
    let cfg = dir.join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - {{type: file, path: dns.log, start_at: beginning}}\n\
             output: {{format: ndjson}}\n\
             dns:\n\
             \x20 lists: [{{name: l, path: hosts.txt}}]\n\
             \x20 api: {{url: 'http://127.0.0.1:{port}/api', timeout: 300ms, concurrency: 2, retry: {{wait: 100ms, attempts: 2}}}}\n"
        ),
    )
    .unwrap();
    let agent = Daemon::start(BIN, &cfg, &state, dir);
    assert!(agent.up(), "{}", agent.log());
    // 2 000 names nobody listed (each one for the API, which answers none in time), then a
    // listed one: its alert is printed without waiting for any of them.
    let mut lines: Vec<String> = (0..2000)
        .map(|i| zeek("10.3.0.1", &format!("host{i}.unlisted.test"), "A", &[]))
        .collect();
    lines.push(zeek("10.3.0.1", "www.evil.test", "A", &[]));
    let t = Instant::now();
    append(&log, &lines);
    let mut all = Vec::new();
    alerts_until(&agent, &mut all, |a| !a.is_empty());
    let took = t.elapsed();
    assert_eq!(
        ids(&all),
        [(
            "dns-list-hit".into(),
            "10.3.0.1".into(),
            "www.evil.test".into()
        )]
    );
    assert!(
        took < Duration::from_secs(10),
        "the listed query waited {took:?}"
    );
    agent.wait_lines(&state, 2001);
    // The API is being asked all the while, timing out, and retried.
    wait_for("timeouts and retries", Duration::from_secs(20), || {
        (metric(&state, "logward_dns_api_timeouts_total").unwrap_or(0.0) >= 2.0
            && metric(&state, "logward_dns_api_retries_total").unwrap_or(0.0) >= 1.0)
            .then_some(())
    });
    assert!(metric(&state, "logward_dns_api_pending").unwrap_or(0.0) > 100.0);
    agent.stop();
}

/// RITA's threat-intel feed (a mixed list of names and addresses) loaded as a threat list,
/// and RITA's Zeek JSON dns.log followed by a real agent: every query the feed names — a
/// listed name or a parent of it, an answer or the server asked at a listed address — raises
/// one `dns-list-hit` per client and name (a repeated dnscat2 query is deduplicated), and
/// nothing else does. The expected set is worked out here from the two files.
#[test]
fn ritas_threat_intel_feed_flags_the_traffic_it_names() {
    let Some(rita) = logward_test_support::corpus("dns/rita") else {
        return;
    };
    let feed = rita.join("threat_intel_feeds/feed.txt");
    let source = std::fs::read_to_string(rita.join("json_with_all_fields/dns.log")).unwrap();
    let (mut names, mut ips) = (Vec::new(), Vec::new());
    for l in std::fs::read_to_string(&feed).unwrap().lines() {
        let l = l.trim();
        match l.parse::<std::net::IpAddr>() {
            Ok(ip) => ips.push(ip.to_string()),
            Err(_) if !l.is_empty() => names.push(l.to_ascii_lowercase()),
            Err(_) => {}
        }
    }
    let mut want = std::collections::BTreeSet::new();
    for l in source.lines() {
        let r: Value = serde_json::from_str(l).unwrap();
        let name = r["query"].as_str().unwrap_or("").to_ascii_lowercase();
        let listed = names
            .iter()
            .any(|d| name == *d || name.ends_with(&format!(".{d}")));
        let answers = r["answers"].as_array().cloned().unwrap_or_default();
        let at_listed = |v: &Value| v.as_str().is_some_and(|s| ips.iter().any(|ip| ip == s));
        if listed || answers.iter().any(at_listed) || at_listed(&r["id.resp_h"]) {
            want.insert((
                "dns-list-hit".to_owned(),
                r["id.orig_h"].as_str().unwrap().to_owned(),
                name,
            ));
        }
    }
    assert!(
        want.len() > 20,
        "the feed names RITA's dnscat2 traffic: {want:?}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("dns.log"), &source).unwrap();
    let cfg = dir.join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - {{type: file, path: dns.log, start_at: beginning}}\n\
             output: {{format: ndjson}}\n\
             dns:\n\
             \x20 lists: [{{name: rita-feed, path: '{}', severity: high}}]\n",
            feed.display()
        ),
    )
    .unwrap();
    let state = dir.join("state");
    let agent = Daemon::start(BIN, &cfg, &state, dir);
    assert!(agent.up(), "{}", agent.log());
    let records = source.lines().count() as f64;
    wait_for("every record checked", Duration::from_secs(20), || {
        (metric(&state, "logward_dns_queries_total") == Some(records)).then_some(())
    });
    let mut all = Vec::new();
    alerts_until(&agent, &mut all, |a| a.len() >= want.len());
    // Nothing more comes: every record was read before the count above was reached.
    while let Some(l) = agent.alert(Duration::from_millis(500)) {
        all.push(serde_json::from_str(&l).unwrap());
    }
    let got: std::collections::BTreeSet<_> = ids(&all).into_iter().collect();
    assert_eq!(
        got.len(),
        all.len(),
        "one alert per client and name: {all:#?}"
    );
    assert_eq!(got, want);
    assert!(all
        .iter()
        .all(|a| a["logward"]["dns"]["list"] == "rita-feed"));
}
