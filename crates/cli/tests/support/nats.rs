//! What the NATS tests share, every part real on 127.0.0.1: Debian's `nats-server -js` with
//! its store in the test's folder (the same store across a restart), a collector binary
//! consuming it (HTTP for enrolment and `/metrics`), and enrolled `logward run` agents
//! following their own log with `transport: nats`.
#![allow(dead_code)] // each test file uses part of it

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use logward_store::{CollectorStore as _, SqliteStore};
use logward_test_support::{free_port, run_with_stdin, spawn, wait_port, wait_until, Proc};

pub const BIN: &str = env!("CARGO_BIN_EXE_logward");
pub const WAIT: Duration = Duration::from_secs(60);

/// `nats-server -js` on `port` with its store in `dir/nats-store` (the same store across
/// restarts), `extra` its further options; its stderr appended to `dir/nats.err`.
pub fn nats_server(dir: &Path, port: u16, extra: &[&str]) -> Proc {
    let found = Command::new("nats-server").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "nats-server is not installed: `apt-get install nats-server` (scripts/test.sh does)"
    );
    let store = dir.join("nats-store");
    let port_s = port.to_string();
    let mut args = vec![
        "-js",
        "-sd",
        store.to_str().unwrap(),
        "-a",
        "127.0.0.1",
        "-p",
        &port_s,
    ];
    args.extend_from_slice(extra);
    let p = spawn("nats-server", &args, &dir.join("nats.err"));
    assert!(wait_port(port, WAIT), "nats-server did not listen");
    p
}

/// A collector in `dir` (its config, stderr and state) on a loopback HTTP port, consuming
/// the stream.
pub struct Collector {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub port: u16,
    pub state: PathBuf,
}

impl Collector {
    /// A collector of `nats_port` (`ack_wait_secs: 2`), `extra` appended to its config
    /// (`store:`, `auth:`, `limits:` …).
    pub fn new(dir: &Path, nats_port: u16, extra: &str) -> Collector {
        let nats = format!("{{url: \"nats://127.0.0.1:{nats_port}\", ack_wait_secs: 2}}");
        Collector::with_nats(dir, &nats, extra)
    }

    /// A collector whose `nats:` section is `nats` (YAML flow).
    pub fn with_nats(dir: &Path, nats: &str, extra: &str) -> Collector {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let state = dir.join("collector");
        let config = dir.join("collector.yaml");
        std::fs::write(
            &config,
            format!(
                "listen: 127.0.0.1:{port}\nstate_dir: {}\nnats: {nats}\n{extra}",
                state.display()
            ),
        )
        .unwrap();
        Collector {
            dir: dir.to_path_buf(),
            config,
            port,
            state,
        }
    }

    /// Starts it and waits until it consumes.
    pub fn start(&self) -> Proc {
        let p = spawn(
            BIN,
            &["collector", "--config", self.config.to_str().unwrap()],
            &self.dir.join("collector.err"),
        );
        assert!(wait_port(self.port, WAIT), "the collector did not listen");
        assert!(
            wait_until(WAIT, || self.metric("logward_collector_nats_up") == 1),
            "the collector did not consume NATS:\n{}",
            self.log()
        );
        p
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("collector.err")).unwrap_or_default()
    }

    /// `/metrics` as text; empty while it is down.
    pub fn metrics(&self) -> String {
        reqwest::blocking::get(format!("http://127.0.0.1:{}/metrics", self.port))
            .and_then(|r| r.text())
            .unwrap_or_default()
    }

    /// The value of the sample `name` (with its labels, as printed); 0 when absent or
    /// unreachable.
    pub fn metric(&self, name: &str) -> u64 {
        sample(&self.metrics(), name)
    }

    /// Whether it leads the fleet rules now.
    pub fn leads(&self) -> bool {
        self.metric("logward_collector_rules_leader") == 1
    }

    /// A one-time enrolment token from `logward collector token create`.
    pub fn token(&self) -> String {
        let out = Command::new(BIN)
            .args(["collector", "token", "create", "--config"])
            .arg(&self.config)
            .output()
            .unwrap();
        assert!(out.status.success());
        let t = String::from_utf8(out.stdout).unwrap();
        t.split_whitespace().last().unwrap().to_owned()
    }

    /// `logward enroll` into `state` (over HTTP: enrolment stays there).
    pub fn enroll(&self, state: &Path) {
        self.enroll_as(state, &[]);
    }

    /// `logward enroll` into `state` with the further arguments `extra` (`--host H`).
    pub fn enroll_as(&self, state: &Path, extra: &[&str]) {
        let url = format!("http://127.0.0.1:{}", self.port);
        let mut args = vec![
            "enroll",
            "--collector",
            &url,
            "--token-file",
            "-",
            "--state-dir",
            state.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = run_with_stdin(BIN, &args, &format!("{}\n", self.token()));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    /// The `event.original` of every fleet event in its SQLite store (none while the store
    /// is not there yet).
    pub fn originals(&self) -> Vec<String> {
        let Ok(mut s) = SqliteStore::open_dir(&self.state) else {
            return Vec::new();
        };
        s.fleet_event_json(1_000_000)
            .unwrap_or_default()
            .iter()
            .filter_map(|j| {
                let v: serde_json::Value = serde_json::from_str(j).ok()?;
                v["event"]["original"].as_str().map(str::to_owned)
            })
            .collect()
    }

    /// How many fleet events its SQLite store holds.
    pub fn count(&self) -> u64 {
        SqliteStore::open_dir(&self.state)
            .ok()
            .and_then(|mut s| s.count_fleet_events(None).ok())
            .unwrap_or(0)
    }
}

/// The value of the sample `name` (labels as printed) in a Prometheus text, 0 when absent.
pub fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

/// An agent enrolled with a collector, following its own `auth.log` with `transport: nats`.
pub struct Agent {
    pub log: PathBuf,
    pub config: PathBuf,
    pub state: PathBuf,
    pub err: PathBuf,
}

impl Agent {
    /// Agent `i` in `dir/agent<i>` publishing to `nats_port`, fleet decisions off.
    pub fn new(dir: &Path, i: usize, nats_port: u16, c: &Collector) -> Agent {
        let nats = format!("{{url: \"nats://127.0.0.1:{nats_port}\", stream: LOGWARD_EVENTS}}");
        Agent::with_nats(dir, i, &nats, c)
    }

    /// An agent whose `forward.nats` is `nats` (YAML flow), fleet decisions off.
    pub fn with_nats(dir: &Path, i: usize, nats: &str, c: &Collector) -> Agent {
        Agent::with(dir, i, nats, "  decisions: {enabled: false}\n", "", c)
    }

    /// An agent whose `forward.nats` is `nats`, `forward` lines appended to its `forward:`
    /// section and `extra` to its config; enrolled as host `agent<i>`.
    pub fn with(
        dir: &Path,
        i: usize,
        nats: &str,
        forward: &str,
        extra: &str,
        c: &Collector,
    ) -> Agent {
        let d = dir.join(format!("agent{i}"));
        std::fs::create_dir_all(&d).unwrap();
        let log = d.join("auth.log");
        std::fs::write(&log, "").unwrap();
        let config = d.join("agent.yaml");
        std::fs::write(
            &config,
            format!(
                "sources:\n  - {{type: file, path: {}, start_at: beginning}}\n\
                 forward:\n  transport: nats\n  nats: {nats}\n  \
                 batch: {{items: 50, age: 100ms}}\n  heartbeat: 1s\n{forward}  \
                 backoff: {{min: 100ms, max: 500ms}}\n{extra}",
                log.display()
            ),
        )
        .unwrap();
        let state = d.join("state");
        c.enroll_as(&state, &["--host", &format!("agent{i}")]);
        Agent {
            log,
            config,
            state,
            err: d.join("agent.err"),
        }
    }

    pub fn start(&self) -> Proc {
        spawn(
            BIN,
            &[
                "run",
                "--config",
                self.config.to_str().unwrap(),
                "--state-dir",
                self.state.to_str().unwrap(),
            ],
            &self.err,
        )
    }

    /// Whether the agent has read `n` lines (and so spooled their events).
    pub fn has_read(&self, n: usize) -> bool {
        Command::new(BIN)
            .args(["status", "--state-dir"])
            .arg(&self.state)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("running: {n} lines,")))
            .unwrap_or(false)
    }

    /// `logward metrics` of its state, as text.
    pub fn metrics(&self) -> String {
        let o = Command::new(BIN)
            .args(["metrics", "--state-dir"])
            .arg(&self.state)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Its metric `name` (labels as printed), 0 when absent.
    pub fn metric(&self, name: &str) -> u64 {
        sample(&self.metrics(), name)
    }
}
