//! Live DNS capture (`type: dns_capture`), for real: dnsmasq serves DNS on port 53 inside a
//! network namespace this test creates; `logward run`, in the same namespace, captures the
//! veth interface `fw0` while `dig`, in a peer namespace, asks over UDP and TCP, IPv4 and
//! IPv6, for names that answer, fail and carry TXT; each question reaches the rules as a
//! `dns-query` event with its client, server, response code and answers; the kernel dropped
//! nothing. `tcpdump -i fw0 -w` records the same traffic in the same run, and `logward scan`
//! of that file gives the same events as the live capture. Without CAP_NET_RAW (dropped with `setpriv`), the source does not start and its
//! error names the capability.
//!
//! Needs root and the `iproute2`, `dnsmasq-base`, `bind9-dnsutils`, `tcpdump` and
//! `util-linux` packages (scripts/test.sh installs them): without them the test says why and
//! returns, except under `CI=true`, where that is a failure.
#![allow(clippy::disallowed_methods)] // the test spawns dnsmasq, dig, tcpdump and logward
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use logward_test_support::daemon::Daemon;
use logward_test_support::netns::{self, cmd, Lab};
use logward_test_support::{spawn, wait_until, Proc};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_logward");

const SERVER4: &str = "10.201.17.1";
const CLIENT4: &str = "10.201.17.2";
const SERVER6: &str = "fd00:17::1";
const CLIENT6: &str = "fd00:17::2";

fn prerequisites(test: &str) -> bool {
    netns::prerequisites(
        test,
        &[
            ("ip", "-V"),
            ("dnsmasq", "--version"),
            ("dig", "-v"),
            ("tcpdump", "--version"),
            ("setpriv", "--version"),
        ],
        "iproute2, dnsmasq-base, bind9-dnsutils, tcpdump, util-linux",
    )
}

fn lab() -> Lab {
    Lab::new(
        "dnscap",
        &[format!("{SERVER4}/24"), format!("{SERVER6}/64")],
        &[format!("{CLIENT4}/24"), format!("{CLIENT6}/64")],
    )
}

/// `argv` inside namespace `ns`, stderr into `dir/<name>.stderr`.
fn inside(ns: &str, dir: &Path, name: &str, argv: &[&str]) -> Proc {
    let mut all = vec!["netns", "exec", ns];
    all.extend_from_slice(argv);
    spawn("ip", &all, &dir.join(format!("{name}.stderr")))
}

/// dnsmasq on port 53 of the server's addresses: `listed.test` A, `v6.test` AAAA,
/// `nx.test` NXDOMAIN, `txt.test` a TXT record; nothing forwarded.
fn dnsmasq(lab: &Lab, dir: &Path) -> Proc {
    let p = inside(
        &lab.fw,
        dir,
        "dnsmasq",
        &[
            "dnsmasq",
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            &format!("--listen-address={SERVER4}"),
            &format!("--listen-address={SERVER6}"),
            "--except-interface=lo",
            "--user=root",
            "--pid-file=",
            "--log-facility=-",
            "--local-ttl=300",
            "--port=53",
            "--address=/listed.test/192.0.2.7",
            "--address=/v6.test/2001:db8::7",
            "--address=/nx.test/",
            "--txt-record=txt.test,hello world",
        ],
    );
    let up = wait_until(Duration::from_secs(10), || {
        dig(lab, &[&format!("@{SERVER4}"), "listed.test"]).contains("192.0.2.7")
    });
    assert!(up, "dnsmasq did not answer: {}", log(dir, "dnsmasq.stderr"));
    p
}

fn log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// `dig` from the client's namespace; its answer section.
fn dig(lab: &Lab, args: &[&str]) -> String {
    let mut argv = vec![
        "ip", "netns", "exec", &lab.peer, "dig", "+short", "+tries=1", "+time=2",
    ];
    argv.extend_from_slice(args);
    String::from_utf8_lossy(&cmd(&argv).stdout).into_owned()
}

/// An executable that runs logward inside `ns` (the test daemon helper starts a program by
/// path): `ip netns exec` replaces itself with logward, so the pid is logward's.
fn logward_in(ns: &str, dir: &Path) -> PathBuf {
    let path = dir.join("logward-in-ns");
    std::fs::write(
        &path,
        format!("#!/bin/sh\nexec ip netns exec {ns} {BIN} \"$@\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Every dns-query event raises an alert, so each can be read off stdout.
const RULES: &str = "chains:\n  dns:\n    - {type: equals, field: event.action, value: dns-query}\n    - {type: alert, id: dns-seen, name: dns query, severity: info, message: \"{{ source.ip }} asked {{ dns.question.name }}\"}\n";

fn config(dir: &Path, interface: &str) -> PathBuf {
    std::fs::write(dir.join("dns.rules.yaml"), RULES).unwrap();
    let cfg = dir.join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - {{type: dns_capture, interface: {interface}}}\nrules: dns.rules.yaml\n"
        ),
    )
    .unwrap();
    cfg
}

/// What identifies one question's event, from the live alert or from `logward scan`.
fn key(v: &Value) -> String {
    let s = |p: &str| v.pointer(p).map(|x| x.to_string()).unwrap_or_default();
    [
        "/source/ip",
        "/source/port",
        "/server/ip",
        "/server/port",
        "/network/transport",
        "/dns/id",
        "/dns/question/name",
        "/dns/question/type",
        "/dns/response_code",
        "/dns/answers",
        "/dns/resolved_ip",
        "/event/dataset",
    ]
    .map(s)
    .join(" ")
}

#[test]
fn live_capture_gives_each_query_with_its_answer_like_a_pcap_of_it() {
    if !prerequisites("live DNS capture test") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let lab = lab();
    let _dns = dnsmasq(&lab, dir);
    let pcap = dir.join("capture.pcap");
    let mut tcpdump = inside(
        &lab.fw,
        dir,
        "tcpdump",
        &[
            "tcpdump",
            "-i",
            "fw0",
            // Each packet written as it comes (no 1 s block timeout), as root.
            "--immediate-mode",
            "-U",
            "-Z",
            "root",
            "-n",
            "-w",
            pcap.to_str().unwrap(),
            "port",
            "53",
        ],
    );
    assert!(
        wait_until(Duration::from_secs(10), || log(dir, "tcpdump.stderr")
            .contains("listening on")),
        "tcpdump: {}",
        log(dir, "tcpdump.stderr")
    );
    let cfg = config(dir, "fw0");
    let state = dir.join("state");
    let bin = logward_in(&lab.fw, dir);
    let dm = Daemon::start_with(
        bin.to_str().unwrap(),
        &["--format", "ndjson"],
        &cfg,
        &state,
        dir,
    );
    assert!(dm.up(), "the daemon did not come up:\n{}", dm.log());
    assert!(dm.wait_log("dns_capture: capturing", Duration::from_secs(5)));

    assert!(dig(&lab, &[&format!("@{SERVER4}"), "Listed.Test", "A"]).contains("192.0.2.7"));
    assert!(dig(&lab, &[&format!("@{SERVER6}"), "v6.test", "AAAA"]).contains("2001:db8::7"));
    assert_eq!(
        dig(&lab, &[&format!("@{SERVER4}"), "nx.test", "A"]).trim(),
        ""
    );
    assert!(
        dig(&lab, &["+tcp", &format!("@{SERVER4}"), "txt.test", "TXT"]).contains("hello world")
    );

    let mut live = Vec::new();
    while live.len() < 4 {
        let Some(a) = dm.alert(Duration::from_secs(20)) else {
            panic!("alerts so far {live:#?}; daemon log:\n{}", dm.log());
        };
        live.push(serde_json::from_str::<Value>(&a).unwrap());
    }
    let by_name = |n: &str| {
        live.iter()
            .find(|v| v.pointer("/dns/question/name").and_then(Value::as_str) == Some(n))
            .unwrap_or_else(|| panic!("no event for {n}: {live:#?}"))
    };
    let listed = by_name("listed.test");
    assert_eq!(listed["event"]["action"], "dns-query");
    assert_eq!(listed["event"]["dataset"], "dns.capture");
    assert_eq!(listed["source"]["ip"], CLIENT4);
    assert_eq!(listed["server"]["ip"], SERVER4);
    assert_eq!(listed["server"]["port"], 53);
    assert_eq!(listed["network"]["transport"], "udp");
    assert_eq!(listed["dns"]["question"]["type"], "A");
    assert_eq!(listed["dns"]["response_code"], "NOERROR");
    assert_eq!(listed["dns"]["resolved_ip"][0], "192.0.2.7");
    let v6 = by_name("v6.test");
    assert_eq!(v6["source"]["ip"], CLIENT6);
    assert_eq!(v6["dns"]["question"]["type"], "AAAA");
    assert_eq!(v6["dns"]["resolved_ip"][0], "2001:db8::7");
    assert_eq!(by_name("nx.test")["dns"]["response_code"], "NXDOMAIN");
    let txt = by_name("txt.test");
    assert_eq!(txt["network"]["transport"], "tcp");
    assert!(
        txt["dns"]["answers"].to_string().contains("hello world"),
        "{txt}"
    );

    // The same run, recorded by tcpdump and read back by `logward scan`: the same events,
    // once tcpdump has written them all.
    let scan = || cmd(&[BIN, "scan", "--format", "ndjson", pcap.to_str().unwrap()]);
    let written = wait_until(Duration::from_secs(10), || {
        String::from_utf8_lossy(&scan().stdout).lines().count() >= live.len()
    });
    assert!(written, "tcpdump: {}", log(dir, "tcpdump.stderr"));
    let _ = cmd(&["kill", "-INT", &tcpdump.0.id().to_string()]);
    let _ = tcpdump.0.wait();
    let out = cmd(&[BIN, "scan", "--format", "ndjson", pcap.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut scanned: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| key(&serde_json::from_str(l).unwrap()))
        .collect();
    let mut captured: Vec<String> = live.iter().map(key).collect();
    scanned.sort();
    captured.sort();
    assert_eq!(captured, scanned);

    let metrics = cmd(&[
        bin.to_str().unwrap(),
        "metrics",
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&metrics.stdout);
    assert!(
        text.contains(
            "logward_source_dropped_total{source=\"dns_capture:fw0\",type=\"dns_capture\"} 0"
        ),
        "{text}"
    );
    dm.stop();
}

#[test]
fn without_cap_net_raw_the_capture_names_the_capability() {
    if !prerequisites("live DNS capture test") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cfg = config(dir, "lo");
    let state = dir.join("state");
    // Root, with CAP_NET_RAW gone from every set (so it cannot come back at exec).
    let wrapper = dir.join("logward-without-net-raw");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec setpriv --inh-caps=-net_raw --ambient-caps=-net_raw --bounding-set=-net_raw {BIN} \"$@\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dm = Daemon::start(wrapper.to_str().unwrap(), &cfg, &state, dir);
    assert!(dm.up(), "the daemon did not come up:\n{}", dm.log());
    let log = dm.log();
    assert!(
        log.lines()
            .any(|l| l.contains("dns_capture:lo") && l.contains("CAP_NET_RAW")),
        "the source's error does not name CAP_NET_RAW:\n{log}"
    );
    assert!(!log.contains("dns_capture: capturing"), "{log}");
    dm.stop();
}
