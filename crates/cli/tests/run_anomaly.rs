//! The live agent (`logward run`) runs the login anomaly detector: GeoIP from MaxMind's test
//! databases, DNSBL against dnsmasq on loopback, profiles learnt beforehand with `logward
//! learn`, and the profiles it changes saved in the state store.
//!
//! Needs ../shared/corpus/geoip and dnsmasq (dnsmasq-base): without them the test says why
//! and returns, except under `CI=true`, where that is a failure.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use logward_store::Store as _;
use logward_test_support::daemon::Daemon;
use serde_json::Value;

#[path = "../../agent/tests/support/dnsmasq.rs"]
mod dnsmasq;

const BIN: &str = env!("CARGO_BIN_EXE_logward");

/// Three weeks of weekday logins at 09:xx from London, the last on Monday 2026-11-23.
fn history() -> String {
    let mut out = String::new();
    for day in 0..22u32 {
        if day % 7 >= 5 {
            continue;
        }
        let d = 2 + day;
        out.push_str(&format!(
            "2026-11-{d:02}T09:{day:02}:00+00:00 web01 sshd[100]: Accepted publickey for alice from 81.2.69.142 port 5000 ssh2: ED25519 SHA256:laptop\n"
        ));
    }
    out
}

/// Profiles learnt from [`history`], an empty live log, and a config with GeoIP and DNSBL.
fn setup(
    g: &Path,
    nameserver: &str,
    timeout: &str,
) -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let hist = tmp.path().join("auth.log.1");
    std::fs::write(&hist, history()).unwrap();
    let o = Command::new(BIN)
        .args(["learn", "--state-dir"])
        .arg(&state)
        .arg("--geoip")
        .arg(g)
        .arg(&hist)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log = tmp.path().join("auth.log");
    std::fs::write(&log, "").unwrap();
    let cfg = tmp.path().join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - {{type: file, path: {}, start_at: beginning}}\n\
             output: {{format: ndjson}}\n\
             enrich:\n  geoip: {}\n  dnsbl:\n    zones: [bl.test]\n    nameservers: [\"{nameserver}\"]\n    timeout: {timeout}\n",
            log.display(),
            g.display(),
        ),
    )
    .unwrap();
    (tmp, state, log, cfg)
}

const STOLEN: &str = "2026-11-23T10:00:00+00:00 web01 sshd[200]: Accepted publickey for alice from 175.16.199.37 port 5001 ssh2: ED25519 SHA256:stolen";

fn append(log: &Path, line: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(log).unwrap();
    writeln!(f, "{line}").unwrap();
}

#[test]
fn live_agent_scores_logins_with_geoip_and_dnsbl_and_keeps_the_profiles() {
    let Some(g) = logward_test_support::corpus("geoip") else {
        return;
    };
    let Some(dns) = dnsmasq::dnsmasq() else {
        return;
    };
    let (tmp, state, log, cfg) = setup(&g, &dns.addr.to_string(), "1s");
    let mut agent = Daemon::start(BIN, &cfg, &state, tmp.path());

    // An hour after the last London login: the same user from Changchun, with a key never
    // seen, from an address bl.test lists.
    append(&log, STOLEN);
    let mut alerts: Vec<Value> = Vec::new();
    let t = Instant::now();
    let seen = |a: &[Value], id: &str| a.iter().any(|v| v["rule"]["id"] == id);
    while !(seen(&alerts, "impossible-travel") && seen(&alerts, "login-anomaly"))
        && t.elapsed() < Duration::from_secs(15)
    {
        if let Some(l) = agent.alert(Duration::from_millis(500)) {
            if let Ok(v) = serde_json::from_str::<Value>(&l) {
                alerts.push(v);
            }
        }
    }
    let rule = |id: &str| alerts.iter().find(|a| a["rule"]["id"] == id);
    let travel =
        rule("impossible-travel").unwrap_or_else(|| panic!("{alerts:#?}\n{}", agent.log()));
    let anomaly = rule("login-anomaly").unwrap_or_else(|| panic!("{alerts:#?}\n{}", agent.log()));
    for a in [travel, anomaly] {
        let src = &a["source"];
        assert_eq!(src["ip"], "175.16.199.37");
        assert_eq!(src["geo"]["country_iso_code"], "CN", "{a:#}");
        assert!(
            src["as"]["number"].is_u64() || src["geo"]["city_name"].is_string(),
            "{a:#}"
        );
        assert_eq!(a["logward"]["dnsbl"]["zones"][0], "bl.test", "{a:#}");
    }
    let reasons = anomaly["logward"]["reasons"].to_string() + &anomaly["message"].to_string();
    assert!(reasons.contains("blocklist"), "{anomaly:#}");

    let m = Command::new(BIN)
        .args(["metrics", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    let m = String::from_utf8_lossy(&m.stdout);
    assert!(m.contains("\nlogward_anomaly_logins_total 1\n"), "{m}");
    assert!(m.contains("\nlogward_anomaly_deferred_total 1\n"), "{m}");
    assert!(m.contains("\nlogward_dnsbl_listed_total 1\n"), "{m}");

    agent.terminate();
    // The login joined alice's profile in the store.
    let mut s = logward_store::SqliteStore::open_dir(&state).unwrap();
    let key = logward_engine::anomaly::Detector::key("web01", "alice");
    let p = String::from_utf8(s.profile(&key).unwrap().unwrap()).unwrap();
    assert!(p.contains("175.16.199.37"), "{p}");
}

/// A DNS server that never answers delays the login's score by the timeout, and nothing
/// else: the rules' alert for the same line, and the lines after it, come at once.
#[test]
fn a_silent_dns_server_never_stalls_the_pipeline() {
    let Some(g) = logward_test_support::corpus("geoip") else {
        return;
    };
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let (tmp, state, log, cfg) = setup(&g, &silent.local_addr().unwrap().to_string(), "3s");
    let mut agent = Daemon::start(BIN, &cfg, &state, tmp.path());
    let t = Instant::now();
    append(&log, STOLEN);
    let mut got: Vec<(Duration, Value)> = Vec::new();
    while !got.iter().any(|(_, v)| v["rule"]["id"] == "login-anomaly")
        && t.elapsed() < Duration::from_secs(15)
    {
        if let Some(l) = agent.alert(Duration::from_millis(200)) {
            if let Ok(v) = serde_json::from_str::<Value>(&l) {
                got.push((t.elapsed(), v));
            }
        }
    }
    let at = |id: &str| {
        got.iter()
            .find(|(_, v)| v["rule"]["id"] == id)
            .map(|(d, v)| (*d, v.clone()))
            .unwrap_or_else(|| panic!("no {id}: {got:#?}\n{}", agent.log()))
    };
    let (login_at, _) = at("ssh-login");
    let (scored_at, scored) = at("login-anomaly");
    assert!(
        login_at < Duration::from_secs(2),
        "the rules waited: {login_at:?}"
    );
    assert!(
        scored_at >= Duration::from_millis(2500) && scored_at < Duration::from_secs(8),
        "scored after {scored_at:?}, not after the 3 s timeout"
    );
    assert!(scored["logward"]["dnsbl"].is_null(), "{scored:#}");
    agent.terminate();
}
