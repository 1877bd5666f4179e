//! A real collector over TLS for browser tests, and an agent identity speaking to it the way a
//! forwarding `logward run` does: enrolled with a one-time token, its events and alerts sent
//! through the signed `POST /v1/events`.
#![allow(dead_code)] // each test file uses part of it

use std::path::{Path, PathBuf};
use std::time::Duration;

use logward_core::wire;
use logward_test_support::{free_port, run_with_stdin, spawn, wait_port};
use serde_json::{json, Value};

use crate::store::Store;

pub const BIN: &str = env!("CARGO_BIN_EXE_logward");
/// The operator `alice`'s password.
pub const PASSWORD: &str = "dashboard test passphrase";

/// `logward ARGS` with `stdin`; its stdout, the test failing when it fails.
pub fn logward(args: &[&str], stdin: &str) -> String {
    let o = run_with_stdin(BIN, args, stdin);
    assert!(
        o.status.success(),
        "logward {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// A `logward collector` process serving HTTPS (a `gen-cert` pair) on a free loopback port,
/// with the operator `alice`, its state in `store`.
pub struct Collector {
    _child: logward_test_support::Proc,
    pub state_dir: PathBuf,
    /// After the process (fields drop in order): a PostgreSQL database outlives its user.
    pub store: Store,
    pub url: String,
    pub config: PathBuf,
    pub http: reqwest::blocking::Client,
}

impl Collector {
    pub fn start(dir: &Path, store: Store) -> Collector {
        let port = free_port();
        let cfg = dir.join("collector.yaml");
        let certs = dir.join("tls");
        let certs_s = certs.to_str().unwrap();
        logward(
            &[
                "collector",
                "gen-cert",
                "--out",
                certs_s,
                "--name",
                "127.0.0.1",
            ],
            "",
        );
        std::fs::write(
            &cfg,
            format!(
                "listen: 127.0.0.1:{port}\nstate_dir: {}\ntls: {{cert: {}, key: {}}}\n{}",
                dir.join("collector").display(),
                certs.join("cert.pem").display(),
                certs.join("key.pem").display(),
                store.yaml()
            ),
        )
        .unwrap();
        let cfg_s = cfg.to_str().unwrap();
        logward(
            &["collector", "user", "add", "alice", "--config", cfg_s],
            &format!("{PASSWORD}\n"),
        );
        let child = spawn(
            BIN,
            &["collector", "--config", cfg_s],
            &dir.join("collector.err"),
        );
        assert!(
            wait_port(port, Duration::from_secs(30)),
            "timed out waiting for the collector"
        );
        Collector {
            _child: child,
            state_dir: dir.join("collector"),
            store,
            url: format!("https://127.0.0.1:{port}"),
            config: cfg,
            http: reqwest::blocking::Client::builder()
                .danger_accept_invalid_certs(true)
                .build()
                .unwrap(),
        }
    }

    /// An agent identity for `host`, enrolled with a one-time token as `logward enroll`
    /// does: (agent id, secret).
    pub fn enroll(&self, host: &str) -> (String, String) {
        let cfg = self.config.to_str().unwrap();
        let token = logward(&["collector", "token", "create", "--config", cfg], "");
        let enrolled: Value = serde_json::from_str(
            &self
                .http
                .post(format!("{}/v1/enroll", self.url))
                .body(json!({"token": token.trim(), "host": host}).to_string())
                .send()
                .unwrap()
                .text()
                .unwrap(),
        )
        .unwrap();
        (
            enrolled["agent_id"].as_str().unwrap().to_owned(),
            enrolled["secret"].as_str().unwrap().to_owned(),
        )
    }

    /// A signed `POST /v1/events` of `body` (lines of [`line`]), as `logward run`
    /// forwards; the answer's body.
    pub fn post_events(&self, agent: &str, secret: &str, body: String) -> String {
        // Any nonce of 16-64 hex digits the collector has not seen will do.
        let nonce = format!(
            "{:032x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let ts = logward_core::clock::unix_now();
        let digest = wire::body_digest(body.as_bytes());
        let r = self
            .http
            .post(format!("{}/v1/events", self.url))
            .header(wire::HEADER_AGENT, agent)
            .header(wire::HEADER_TIMESTAMP, ts.to_string())
            .header(wire::HEADER_NONCE, &nonce)
            .header(wire::HEADER_CONTENT_SHA256, &digest)
            .header(
                wire::HEADER_SIGNATURE,
                wire::sign_digest(secret.as_bytes(), "POST", "/v1/events", ts, &nonce, &digest),
            )
            .body(body)
            .send()
            .unwrap();
        let status = r.status();
        let answer = r.text().unwrap();
        assert_eq!(status, 200, "{answer}");
        answer
    }
}

/// One line of an events body: `{"seq":N,"event"|"alert":JSON}`.
pub fn line(seq: u64, kind: &str, json: Vec<u8>) -> String {
    format!(
        "{{\"seq\":{seq},\"{kind}\":{}}}\n",
        String::from_utf8(json).unwrap()
    )
}
