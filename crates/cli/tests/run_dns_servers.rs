//! Real DNS servers on loopback: Debian's dnsmasq, Unbound and BIND each started in a temp
//! folder on a free port with query logging to a file there, and no upstream (local zones,
//! `address=` answers; dnsmasq forwards to a second dnsmasq). `dig` asks each for listed,
//! unlisted, trusted and missing names; `logward run` following the server's real log stores
//! exactly one `dns-query` event per question (name, type, client, answers, response code),
//! the DNS check names exactly the listed ones (a repeat deduplicated, the trusted domain not
//! checked though listed), and `logward scan` of the same log gives the same queries. Needs root and the packages
//! dnsmasq, unbound, bind9 and dnsutils (scripts/test.sh installs them); skipped without,
//! except under CI. The three servers run in parallel, one test each.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test and the servers
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use logward_store::{SqliteStore, Store};
use logward_test_support::daemon::Daemon;
use logward_test_support::{free_port, netns, run_utc, spawn, text, wait_until};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_logward");

/// One alert per DNS query, whatever its source.
const RULES: &str = "chains:\n  dns:\n    - {type: equals, field: event.action, value: dns-query}\n    - {type: alert, id: dns-seen, name: dns query, severity: info, message: \"{{ client.ip }} asked {{ dns.question.name }}\"}\n";

/// A query as the test compares it: `client name type rcode [answers]`, and what the DNS
/// check found (`event.reason` and the list entry that matched) when `intel`.
fn summary(v: &Value, intel: bool) -> String {
    let d = &v["dns"];
    let mut answers: Vec<String> = d["answers"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    format!(
                        "{} {}",
                        x["type"].as_str().unwrap_or(""),
                        x["data"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    answers.sort();
    let q = format!(
        "{} {} {} {} [{}]",
        v["client"]["ip"].as_str().unwrap_or("-"),
        d["question"]["name"].as_str().unwrap_or("-"),
        d["question"]["type"].as_str().unwrap_or("-"),
        d["response_code"].as_str().unwrap_or("-"),
        answers.join(", ")
    );
    if !intel {
        return q;
    }
    format!(
        "{q} {} {}",
        v["event"]["reason"].as_str().unwrap_or("-"),
        v["logward"]["dns"]["list_entry"].as_str().unwrap_or("-")
    )
}

/// `dig` asks `name`/`qtype` at 127.0.0.1:`port` once (`+tcp` when `tcp`); its short answer.
fn dig(port: u16, name: &str, qtype: &str, tcp: bool) -> String {
    let p = port.to_string();
    let mut args = vec![
        "+tries=1",
        "+time=3",
        "+short",
        "-p",
        &p,
        "@127.0.0.1",
        name,
        qtype,
    ];
    if tcp {
        args.insert(0, "+tcp");
    }
    let out = Command::new("dig").args(&args).output().expect("dig");
    text(&out.stdout)
}

/// Waits until the server at `port` answers `probe`.
fn wait_answering(port: u16, probe: &str, dir: &Path, stderr: &str) {
    let ok = wait_until(Duration::from_secs(15), || {
        !dig(port, probe, "A", false).is_empty()
    });
    assert!(
        ok,
        "the server did not answer: {}",
        std::fs::read_to_string(dir.join(stderr)).unwrap_or_default()
    );
}

/// The queries `logward run` stored as alerts, but the probes that waited for the server
/// (asked until it answered: how many reached its log is the server's start-up race).
fn stored(state: &Path) -> Vec<String> {
    let Ok(mut s) = SqliteStore::open_dir(state) else {
        return Vec::new();
    };
    s.alerts_between(0, i64::MAX, 10_000)
        .unwrap_or_default()
        .iter()
        .map(|a| summary(&serde_json::from_str(&a.alert.json).unwrap(), true))
        .filter(|q| !q.contains(" probe."))
        .collect()
}

/// The DNS check's part of the agent's config: corp.test trusted, and a threat list naming
/// evil.example and corp.test (the trusted domain wins: its queries are not checked).
const DNS_CHECK: &str = "dns:\n  trusted:\n    domains: [corp.test]\n  \
     lists: [{name: threats, path: threats.txt, severity: high}]\n";
const THREATS: &str = "# a plain list\nevil.example\ncorp.test\n";

/// Follows `log` with `logward run` (the DNS check on, [`DNS_CHECK`]) until it stored
/// `want.len()` queries; they must be exactly `want` (in any order; each `… reason
/// list_entry`), and `logward scan` of the log must give the same queries.
fn check_run_and_scan(dir: &Path, log: &Path, want: &[&str]) {
    std::fs::write(dir.join("rules.yaml"), RULES).unwrap();
    std::fs::write(dir.join("threats.txt"), THREATS).unwrap();
    let cfg = dir.join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - {{type: file, path: {}, start_at: beginning}}\nrules: rules.yaml\n{DNS_CHECK}",
            log.display()
        ),
    )
    .unwrap();
    let state = dir.join("state");
    let dm = Daemon::start(BIN, &cfg, &state, dir);
    assert!(dm.up(), "{}", dm.log());
    let mut want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    // The last query of a dnsmasq or Unbound log is complete after a quiet second.
    wait_until(Duration::from_secs(20), || {
        stored(&state).len() >= want.len()
    });
    // And no more come.
    std::thread::sleep(Duration::from_millis(1500));
    let mut got = stored(&state);
    got.sort();
    let server_log = std::fs::read_to_string(log).unwrap_or_default();
    assert_eq!(got, want, "{server_log}\n{}", dm.log());
    dm.stop();

    // `logward scan` runs no DNS check: the same queries without its findings.
    let mut want: Vec<String> = want
        .iter()
        .map(|w| w.rsplitn(3, ' ').nth(2).unwrap_or(w).to_owned())
        .collect();
    want.sort();
    let out = run_utc(BIN, &["scan", "--format", "ndjson", log.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut scanned: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event"]["action"] == "dns-query")
        .map(|v| summary(&v, false))
        .filter(|q| !q.contains(" probe."))
        .collect();
    scanned.sort();
    assert_eq!(scanned, want);
}

#[test]
fn dnsmasq_queries_followed_live() {
    if !netns::prerequisites(
        "real dnsmasq test",
        &[("dnsmasq", "--version"), ("dig", "-v")],
        "dnsmasq dnsutils",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("hosts"), "192.0.2.10 trusted.corp.test\n").unwrap();
    let (port, upstream) = (free_port(), free_port());
    let d = dir.display();
    let common = |p: u16, name: &str| -> Vec<String> {
        vec![
            "--keep-in-foreground".into(),
            "--conf-file=/dev/null".into(),
            format!("--port={p}"),
            "--listen-address=127.0.0.1".into(),
            "--bind-interfaces".into(),
            "--no-resolv".into(),
            "--no-hosts".into(),
            "--user=root".into(),
            format!("--pid-file={d}/{name}.pid"),
        ]
    };
    // The upstream: answers unlisted.example itself, cacheable for a minute.
    let mut up = common(upstream, "upstream");
    up.extend([
        "--address=/unlisted.example/198.51.100.7".into(),
        "--local-ttl=60".into(),
    ]);
    let up: Vec<&str> = up.iter().map(String::as_str).collect();
    let _upstream = spawn("dnsmasq", &up, &dir.join("upstream.stderr"));
    // The server under test: `log-queries=extra` to its own file.
    let mut args = common(port, "dnsmasq");
    args.extend([
        format!("--addn-hosts={d}/hosts"),
        "--log-queries=extra".into(),
        format!("--log-facility={d}/dnsmasq.log"),
        "--address=/evil.example/203.0.113.66".into(),
        "--address=/nx.example/".into(),
        "--address=/probe.test/192.0.2.1".into(),
        format!("--server=127.0.0.1#{upstream}"),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _server = spawn("dnsmasq", &args, &dir.join("dnsmasq.stderr"));
    wait_answering(port, "probe.test", dir, "dnsmasq.stderr");
    wait_answering(upstream, "unlisted.example", dir, "upstream.stderr");

    assert_eq!(dig(port, "evil.example", "A", false).trim(), "203.0.113.66");
    assert_eq!(
        dig(port, "unlisted.example", "A", false).trim(),
        "198.51.100.7"
    );
    // Again: from dnsmasq's cache this time.
    assert_eq!(
        dig(port, "unlisted.example", "A", false).trim(),
        "198.51.100.7"
    );
    assert_eq!(
        dig(port, "trusted.corp.test", "A", false).trim(),
        "192.0.2.10"
    );
    assert_eq!(dig(port, "nx.example", "A", false).trim(), "");
    // Over TCP (a forked child answers it).
    assert_eq!(dig(port, "evil.example", "A", true).trim(), "203.0.113.66");

    let log = dir.join("dnsmasq.log");
    check_run_and_scan(
        dir,
        &log,
        &[
            "127.0.0.1 evil.example A NOERROR [A 203.0.113.66] listed evil.example",
            "127.0.0.1 unlisted.example A NOERROR [A 198.51.100.7] - -",
            "127.0.0.1 unlisted.example A NOERROR [A 198.51.100.7] - -",
            "127.0.0.1 trusted.corp.test A NOERROR [A 192.0.2.10] - -",
            "127.0.0.1 nx.example A NXDOMAIN [] - -",
            "127.0.0.1 evil.example A NOERROR [A 203.0.113.66] - -",
        ],
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(" forwarded unlisted.example to 127.0.0.1#"),
        "{text}"
    );
    assert!(
        text.contains(" cached unlisted.example is 198.51.100.7"),
        "{text}"
    );
}

#[test]
fn unbound_queries_followed_live() {
    if !netns::prerequisites(
        "real Unbound test",
        &[("unbound", "-V"), ("dig", "-v")],
        "unbound dnsutils",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let port = free_port();
    let d = dir.display();
    // Local zones only; everything else refused. Queries, replies and local actions logged.
    let conf = format!(
        "server:\n  interface: 127.0.0.1@{port}\n  port: {port}\n  do-daemonize: no\n  \
         username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"{d}/unbound.pid\"\n  \
         logfile: \"{d}/unbound.log\"\n  use-syslog: no\n  log-queries: yes\n  log-replies: yes\n  \
         log-local-actions: yes\n  verbosity: 1\n  access-control: 127.0.0.0/8 allow\n  \
         module-config: \"iterator\"\n  do-not-query-localhost: yes\n  \
         local-zone: \"evil.example.\" redirect\n  local-data: \"evil.example. 300 IN A 203.0.113.66\"\n  \
         local-zone: \"blocked.example.\" always_nxdomain\n  local-zone: \"corp.test.\" static\n  \
         local-data: \"trusted.corp.test. 300 IN A 192.0.2.10\"\n  local-data: \"probe.corp.test. 300 IN A 192.0.2.1\"\n  \
         local-zone: \".\" refuse\nremote-control:\n  control-enable: no\n"
    );
    let cfg = dir.join("unbound.conf");
    std::fs::write(&cfg, conf).unwrap();
    let _server = spawn(
        "unbound",
        &["-d", "-c", cfg.to_str().unwrap()],
        &dir.join("unbound.stderr"),
    );
    wait_answering(port, "probe.corp.test", dir, "unbound.stderr");

    assert_eq!(
        dig(port, "www.evil.example", "A", false).trim(),
        "203.0.113.66"
    );
    assert_eq!(
        dig(port, "trusted.corp.test", "A", false).trim(),
        "192.0.2.10"
    );
    assert_eq!(dig(port, "blocked.example", "A", false).trim(), "");
    assert_eq!(dig(port, "unlisted.example", "A", false).trim(), "");
    assert_eq!(dig(port, "nx.corp.test", "AAAA", true).trim(), "");

    check_run_and_scan(
        dir,
        &dir.join("unbound.log"),
        &[
            "127.0.0.1 www.evil.example A NOERROR [] listed evil.example",
            "127.0.0.1 trusted.corp.test A NOERROR [] - -",
            "127.0.0.1 blocked.example A NXDOMAIN [] - -",
            "127.0.0.1 unlisted.example A REFUSED [] - -",
            "127.0.0.1 nx.corp.test AAAA NXDOMAIN [] - -",
        ],
    );
}

#[test]
fn bind_queries_followed_live() {
    if !netns::prerequisites(
        "real BIND test",
        &[("named", "-v"), ("dig", "-v")],
        "bind9 dnsutils",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let port = free_port();
    let d = dir.display();
    let soa = "$TTL 300\n@ IN SOA ns.corp.test. admin.corp.test. 1 3600 600 86400 300\n@ IN NS ns.corp.test.\n";
    std::fs::write(
        dir.join("corp.db"),
        format!("{soa}ns IN A 127.0.0.1\ntrusted IN A 192.0.2.10\nprobe IN A 192.0.2.1\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("evil.db"),
        format!("{soa}@ IN A 203.0.113.66\nwww IN A 203.0.113.66\nprobe IN A 192.0.2.1\n"),
    )
    .unwrap();
    // Authoritative only; the query log to a file channel of its own.
    let conf = format!(
        "options {{\n  directory \"{d}\";\n  pid-file \"{d}/named.pid\";\n  \
         session-keyfile \"{d}/session.key\";\n  listen-on port {port} {{ 127.0.0.1; }};\n  \
         listen-on-v6 {{ none; }};\n  recursion no;\n  dnssec-validation no;\n  querylog yes;\n}};\n\
         controls {{ }};\n\
         logging {{\n  channel q {{ file \"{d}/query.log\"; print-time yes; severity info; }};\n  \
         category queries {{ q; }};\n  category query-errors {{ q; }};\n  category default {{ q; }};\n}};\n\
         zone \"corp.test\" {{ type primary; file \"{d}/corp.db\"; }};\n\
         zone \"evil.example\" {{ type primary; file \"{d}/evil.db\"; }};\n"
    );
    let cfg = dir.join("named.conf");
    std::fs::write(&cfg, conf).unwrap();
    let _server = spawn(
        "named",
        &["-f", "-u", "root", "-c", cfg.to_str().unwrap()],
        &dir.join("named.stderr"),
    );
    // Zones load one by one: both must answer.
    wait_answering(port, "probe.corp.test", dir, "named.stderr");
    wait_answering(port, "probe.evil.example", dir, "named.stderr");

    assert_eq!(
        dig(port, "www.evil.example", "A", false).trim(),
        "203.0.113.66"
    );
    assert_eq!(
        dig(port, "trusted.corp.test", "A", false).trim(),
        "192.0.2.10"
    );
    assert_eq!(dig(port, "nx.corp.test", "TXT", false).trim(), "");
    assert_eq!(dig(port, "unlisted.example", "A", false).trim(), "");
    assert_eq!(dig(port, "evil.example", "AAAA", true).trim(), "");

    // BIND 9.18 logs the question only: no code, no answers.
    check_run_and_scan(
        dir,
        &dir.join("query.log"),
        &[
            "127.0.0.1 www.evil.example A - [] listed evil.example",
            "127.0.0.1 trusted.corp.test A - [] - -",
            "127.0.0.1 nx.corp.test TXT - [] - -",
            "127.0.0.1 unlisted.example A - [] - -",
            "127.0.0.1 evil.example AAAA - [] listed evil.example",
        ],
    );
}
