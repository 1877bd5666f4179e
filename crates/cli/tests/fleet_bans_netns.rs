//! Fleet rules and shared bans end to end, with real processes on 127.0.0.1: a collector
//! and two `logward run` agents, each following its own real log file and forwarding to it
//! (enrolled with `collector token create` + `logward enroll`).
//!
//! - A brute force spread over both hosts makes one fleet ban decision, and both agents apply
//!   it: each agent's `bans.nft` is `[ip, netns, exec, <its own test namespace>, nft]`, so the
//!   address shows up in both namespaces' sets (the host's ruleset is never touched);
//!   `collector decisions del` lifts it in both. Needs root, `nft` and `ip`: without them the
//!   test says why and returns, except under `CI=true`, where that is a failure.
//! - The collector is SIGKILLed for a while (`LOGWARD_TEST_OUTAGE_SECS`, default 3 s) while
//!   both agents keep writing: once it is back every line is stored exactly once per host,
//!   and a fleet window opened before the kill is completed after it (the counters are
//!   committed with the events).
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test, `ip`, `nft`
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use logward_store::{CollectorStore as _, DecisionOp, SqliteStore, Store};

use logward_test_support::netns::{self, Namespaces};
use logward_test_support::{free_port, spawn, wait_port, wait_until, Proc};

const BIN: &str = env!("CARGO_BIN_EXE_logward");

/// The attacker of the brute force (TEST-NET-2: not loopback, never ignored).
const ATTACKER: &str = "198.51.100.77";

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f.flush().unwrap();
}

fn failure(host: &str, i: usize, from: &str) -> String {
    format!(
        "Nov 23 10:{:02}:{:02} {host} sshd[{}]: Failed password for root from {from} port {} ssh2\n",
        i / 60 % 60,
        i % 60,
        1000 + i,
        20000 + i
    )
}

/// A collector and its files.
struct Fleet {
    dir: tempfile::TempDir,
    port: u16,
    ccfg: PathBuf,
    cstate: PathBuf,
}

impl Fleet {
    /// `extra` goes into the collector's config.
    fn new(extra: &str) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let cstate = dir.path().join("collector");
        let ccfg = dir.path().join("collector.yaml");
        std::fs::write(
            &ccfg,
            format!(
                "listen: 127.0.0.1:{port}\nstate_dir: {}\n{extra}",
                cstate.display()
            ),
        )
        .unwrap();
        Fleet {
            dir,
            port,
            ccfg,
            cstate,
        }
    }

    /// A collector running the built-in fleet rules with the threshold at two hosts: the
    /// shipped rule wants three, these fleets have two (everything else as shipped).
    fn with_two_host_rules() -> Fleet {
        let shipped = include_str!("../../engine/rules/fleet.yaml");
        let two_hosts = shipped.replace(
            "{type: ge, field: hosts, value: 3, then: fleet-bruteforce}",
            "{type: ge, field: hosts, value: 2, then: fleet-bruteforce}",
        );
        assert_ne!(shipped, two_hosts, "the fleet rule's threshold line moved");
        let fleet = Fleet::new("rules: fleet-2hosts.yaml\n");
        std::fs::write(fleet.path("fleet-2hosts.yaml"), two_hosts).unwrap();
        fleet
    }

    /// The fleet alerts stored.
    fn fleet_alerts(&self) -> usize {
        self.store()
            .and_then(|mut s| s.alerts_between(0, i64::MAX, 100_000).ok())
            .map_or(0, |a| {
                a.iter()
                    .filter(|a| a.alert.rule_id == "fleet-bruteforce")
                    .count()
            })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn start_collector(&self) -> Proc {
        let c = spawn(
            BIN,
            &["collector", "--config", self.ccfg.to_str().unwrap()],
            &self.path("collector.err"),
        );
        assert!(
            wait_port(self.port, Duration::from_secs(30)),
            "the collector did not come up:\n{}",
            std::fs::read_to_string(self.path("collector.err")).unwrap_or_default()
        );
        c
    }

    /// `logward collector ARGS --config …`: its standard output.
    fn collector_cli(&self, args: &[&str]) -> String {
        let out = Command::new(BIN)
            .arg("collector")
            .args(args)
            .arg("--config")
            .arg(&self.ccfg)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "collector {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Enrols agent `name` (a token each) as `host` and starts it following `name.log`,
    /// forwarding, with `bans` (YAML) as its bans section. Returns the agent and its log.
    /// (The collector stores every event under the host its agent enrolled as.)
    fn start_agent(&self, name: &str, host: &str, bans: &str) -> (Proc, PathBuf) {
        let token = self.collector_cli(&["token", "create"]);
        let token = token.split_whitespace().last().unwrap().to_owned();
        let state = self.path(&format!("{name}.state"));
        let enrolled = Command::new(BIN)
            .args([
                "enroll",
                "--collector",
                &format!("http://127.0.0.1:{}", self.port),
                "--token",
                &token,
                "--host",
                host,
                "--state-dir",
            ])
            .arg(&state)
            .output()
            .unwrap();
        assert!(
            enrolled.status.success(),
            "{}",
            String::from_utf8_lossy(&enrolled.stderr)
        );
        let log = self.path(&format!("{name}.log"));
        std::fs::write(&log, "").unwrap();
        let cfg = self.path(&format!("{name}.yaml"));
        std::fs::write(
            &cfg,
            format!(
                "sources:\n  - {{type: file, path: {}, start_at: beginning}}\n\
                 forward:\n  batch: {{items: 200, age: 100ms}}\n  backoff: {{min: 100ms, max: 500ms}}\n\
                 \x20 decisions: {{enabled: true, poll: 200ms}}\n{bans}",
                log.display()
            ),
        )
        .unwrap();
        let agent = spawn(
            BIN,
            &[
                "run",
                "--config",
                cfg.to_str().unwrap(),
                "--state-dir",
                state.to_str().unwrap(),
            ],
            &self.path(&format!("{name}.err")),
        );
        (agent, log)
    }

    fn store(&self) -> Option<SqliteStore> {
        SqliteStore::open_dir(&self.cstate).ok()
    }

    fn events_of(&self, host: &str) -> u64 {
        self.store()
            .and_then(|mut s| s.count_fleet_events(Some(host)).ok())
            .unwrap_or(0)
    }

    fn logs(&self) -> String {
        ["collector.err", "a.err", "b.err"]
            .iter()
            .map(|f| {
                format!(
                    "--- {f}\n{}",
                    std::fs::read_to_string(self.path(f)).unwrap_or_default()
                )
            })
            .collect()
    }
}

#[test]
fn a_brute_force_over_two_hosts_is_one_fleet_ban_both_agents_apply_and_lift() {
    if !netns::prerequisites(
        "fleet bans netns test",
        &[("nft", "--version"), ("ip", "-V")],
        "nftables, iproute2",
    ) {
        return;
    }
    let ns = Namespaces::new("fleet", 2);
    let fleet = Fleet::with_two_host_rules();
    let _collector = fleet.start_collector();
    let (_a, log_a) = fleet.start_agent("a", "web01", &ns.bans_config(0));
    let (_b, log_b) = fleet.start_agent("b", "web02", &ns.bans_config(1));
    // Both agents have set up their tables (an empty set each).
    assert!(
        wait_until(Duration::from_secs(20), || ns
            .v4_set(0)
            .contains("ipv4_addr")
            && ns.v4_set(1).contains("ipv4_addr")),
        "{}",
        fleet.logs()
    );

    // Two failures on web01, one on web02: too few for either agent's own rules (5).
    append(
        &log_a,
        &(failure("web01", 0, ATTACKER) + &failure("web01", 1, ATTACKER)),
    );
    append(&log_b, &failure("web02", 2, ATTACKER));
    assert!(
        wait_until(Duration::from_secs(30), || ns.v4_set(0).contains(ATTACKER)
            && ns.v4_set(1).contains(ATTACKER)),
        "both namespaces ban {ATTACKER}\n{}\n{}\n{}",
        ns.v4_set(0),
        ns.v4_set(1),
        fleet.logs()
    );
    // One more failure after the ban: the rule is quiet for the window.
    append(&log_a, &failure("web01", 3, ATTACKER));
    assert!(wait_until(Duration::from_secs(20), || fleet
        .events_of("web01")
        == 3));
    // The rules' decisions are committed with the ingest that stored the event: no wait.
    let mut s = fleet.store().unwrap();
    let changes = s.decision_changes_after(0, 100).unwrap();
    assert_eq!(changes.len(), 1, "exactly one fleet decision: {changes:?}");
    let c = &changes[0];
    assert_eq!(
        (
            c.op,
            c.target.as_str(),
            c.rule_id.as_deref(),
            c.duration_secs
        ),
        (
            DecisionOp::Add,
            ATTACKER,
            Some("fleet-bruteforce"),
            Some(4 * 3600)
        )
    );
    let in_force = s.decisions_in_force(c.at).unwrap();
    assert_eq!(in_force.len(), 1);
    // The fleet alert it came from: host `fleet`, the completing host kept as a label.
    let alerts = s.alerts_between(0, i64::MAX, 1000).unwrap();
    let fleet_alerts: Vec<_> = alerts
        .iter()
        .filter(|a| a.alert.rule_id == "fleet-bruteforce")
        .collect();
    assert_eq!(fleet_alerts.len(), 1, "{alerts:?}");
    assert_eq!(Some(fleet_alerts[0].id), in_force[0].alert_id);
    let json: serde_json::Value = serde_json::from_str(&fleet_alerts[0].alert.json).unwrap();
    assert_eq!(json["host"]["name"], "fleet", "{json}");
    assert_eq!(json["source"]["ip"], ATTACKER, "{json}");
    drop(s);
    let listed = fleet.collector_cli(&["decisions", "list"]);
    assert!(listed.contains(ATTACKER), "{listed}");

    // Lifted at the collector: both agents unban.
    let out = fleet.collector_cli(&["decisions", "del", "--ip", ATTACKER]);
    assert!(out.contains("lifted"), "{out}");
    assert!(
        wait_until(Duration::from_secs(30), || !ns.v4_set(0).contains(ATTACKER)
            && !ns.v4_set(1).contains(ATTACKER)),
        "both namespaces lift {ATTACKER}\n{}\n{}\n{}",
        ns.v4_set(0),
        ns.v4_set(1),
        fleet.logs()
    );
    let ops: Vec<_> = fleet
        .store()
        .unwrap()
        .decision_changes_after(0, 100)
        .unwrap()
        .iter()
        .map(|c| c.op)
        .collect();
    assert_eq!(ops, [DecisionOp::Add, DecisionOp::Delete]);
    assert!(!fleet
        .collector_cli(&["decisions", "list"])
        .contains(ATTACKER));

    // A manual decision reaches both too, and a bad address is refused with a clear error.
    let out = fleet.collector_cli(&[
        "decisions",
        "add",
        "--ip",
        "192.0.2.200",
        "--duration",
        "1h",
    ]);
    assert!(out.contains("add"), "{out}");
    assert!(
        wait_until(Duration::from_secs(30), || ns
            .v4_set(0)
            .contains("192.0.2.200")
            && ns.v4_set(1).contains("192.0.2.200")),
        "{}",
        fleet.logs()
    );
    let bad = Command::new(BIN)
        .args([
            "collector",
            "decisions",
            "add",
            "--ip",
            "1.2.3.4; nft flush ruleset",
            "--config",
        ])
        .arg(&fleet.ccfg)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--ip"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// How long the collector stays down in the outage test (seconds).
fn outage() -> Duration {
    let secs = std::env::var("LOGWARD_TEST_OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

#[test]
fn a_collector_killed_while_two_agents_write_loses_and_repeats_nothing() {
    // Fleet rules on, so the kill also shows that a window survives it.
    let fleet = Fleet::with_two_host_rules();
    let collector = fleet.start_collector();
    let (_a, log_a) = fleet.start_agent("a", "web01", "");
    let (_b, log_b) = fleet.start_agent("b", "web02", "");
    let mut written = [0usize; 2];
    let logs = [(log_a.as_path(), "web01"), (log_b.as_path(), "web02")];
    let write = |written: &mut [usize; 2], n: usize| {
        for (k, (log, host)) in logs.iter().enumerate() {
            let text: String = (0..n)
                .map(|j| {
                    let i = written[k] + j;
                    // Each host's own addresses: no fleet rule fires on these.
                    let net = if k == 0 { "203.0.113" } else { "198.18.0" };
                    failure(host, i, &format!("{net}.{}", 1 + i % 200))
                })
                .collect();
            append(log, &text);
            written[k] += n;
        }
    };
    write(&mut written, 20);
    assert!(
        wait_until(Duration::from_secs(30), || fleet.events_of("web01") == 20
            && fleet.events_of("web02") == 20),
        "{}",
        fleet.logs()
    );

    // One failure from an attacker on web01, counted before the crash …
    append(&log_a, &failure("web01", 10_000, "192.0.2.99"));
    written[0] += 1;
    assert!(wait_until(Duration::from_secs(30), || fleet
        .events_of("web01")
        == 21));
    // Counters are saved within a second of changing (crates/collector/src/rules.rs).
    std::thread::sleep(Duration::from_secs(2));

    // SIGKILL, then both agents keep writing for the whole outage.
    drop(collector);
    let span = outage();
    let t = Instant::now();
    while t.elapsed() < span {
        write(&mut written, 7);
        std::thread::sleep(Duration::from_millis(100));
    }
    let during = written;
    let _collector = fleet.start_collector();
    write(&mut written, 13);
    // … and one on web02 after it: the window survived the crash, so this is a fleet ban.
    append(&log_b, &failure("web02", 10_000, "192.0.2.99"));
    written[1] += 1;
    let want = [written[0] as u64, written[1] as u64];
    assert!(during[0] > 20, "the agents wrote during the outage");
    assert!(
        wait_until(Duration::from_secs(60), || [
            fleet.events_of("web01"),
            fleet.events_of("web02")
        ] == want),
        "stored {:?}, written {want:?}\n{}",
        [fleet.events_of("web01"), fleet.events_of("web02")],
        fleet.logs()
    );
    // And nothing comes twice later (a retried batch is a duplicate, not a row).
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        [fleet.events_of("web01"), fleet.events_of("web02")],
        want,
        "nothing stored twice"
    );
    assert_eq!(fleet.fleet_alerts(), 1, "{}", fleet.logs());
    let mut s = fleet.store().unwrap();
    let d = s.decisions_in_force(0).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].target, "192.0.2.99");
    assert_eq!(s.count_fleet_events(None).unwrap(), want[0] + want[1]);
    // Every line of each file is there once: the stored raw lines, per host, are the file's.
    let mut stored: Vec<String> = s
        .fleet_event_json(1_000_000)
        .unwrap()
        .iter()
        .filter_map(|j| {
            serde_json::from_str::<serde_json::Value>(j).unwrap()["event"]["original"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    let mut lines: Vec<String> = [&log_a, &log_b]
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    stored.sort();
    lines.sort();
    assert_eq!(stored, lines);
    let _ = s.integrity_check();
}
