//! docs/COLLECTOR.md and docs/DASHBOARD.md work as written (issue 13: the quickstart did not).
//! The shell blocks marked `<!-- quickstart:KIND -->` are taken from the markdown and run,
//! in order, with the real binary — verbatim but for what cannot be the same in a test:
//!
//! - paths: `/etc/…`, `/var/lib/…`, `/var/log/…` go under a temporary root, in the commands
//!   and in the `deploy/` files they copy (the commands run from a copy of `deploy/` there);
//! - the collector's name `collector.example.org` is `127.0.0.1`, its port `7650` a free one,
//!   and `0.0.0.0` is `127.0.0.1` (tests listen on loopback only);
//! - `scp root@collector.example.org:FILE DEST` is `cp FILE DEST` (one machine plays both
//!   hosts);
//! - one user plays all: the `user` block (`useradd`) is skipped, `sudo -u
//!   logward-collector` is dropped, and `-o`/`-g logward-collector` name the test's own
//!   user and group;
//! - systemd cannot run here: `systemctl daemon-reload` is skipped, `systemctl enable --now
//!   logward-collector` starts deploy/logward-collector.service's `ExecStart`, and
//!   `systemctl restart logward` deploy/logward.service's;
//! - the agent's state directory (root's default, `/var/lib/logward`) comes from
//!   `LOGWARD_STATE_DIR`, under the temporary root too;
//! - what an admin types or pastes: the token that `token create` printed goes to
//!   `--token-file -`, the password to `user add`.
//!
//! Then it checks what the docs promise: the collector serves, the agent enrolled and
//! forwards an alert, and the operator logs in and sees it.
#![allow(clippy::disallowed_methods)] // the test runs the documented commands and binaries
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use logward_test_support::{wait_for, wait_port, Proc};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_logward");
const PASSWORD: &str = "quickstart passphrase";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The marked shell blocks of a markdown file: `(kind, command lines)`.
fn quickstart_blocks(markdown: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut lines = markdown.lines();
    while let Some(l) = lines.next() {
        let Some(kind) = l
            .trim()
            .strip_prefix("<!-- quickstart:")
            .and_then(|k| k.strip_suffix("-->"))
        else {
            continue;
        };
        assert_eq!(
            lines.next().map(str::trim),
            Some("```sh"),
            "a quickstart marker must stand right above a ```sh block"
        );
        let mut cmds = Vec::new();
        for c in lines.by_ref() {
            if c.trim() == "```" {
                break;
            }
            let c = c.trim();
            if !c.is_empty() && !c.starts_with('#') {
                cmds.push(c.to_owned());
            }
        }
        out.push((kind.trim().to_owned(), cmds));
    }
    out
}

/// The test's rewriting (see the module comment), in one pass so nothing is rewritten twice.
struct Rewrite {
    root: String,
    port: u16,
    uid: u32,
    gid: u32,
}

impl Rewrite {
    fn apply(&self, text: &str) -> String {
        let text = text
            .replace("scp root@collector.example.org:", "cp ")
            .replace("sudo -u logward-collector ", "")
            .replace("-o logward-collector", &format!("-o {}", self.uid))
            .replace("-g logward-collector", &format!("-g {}", self.gid));
        let port = self.port;
        let rules: Vec<(&str, String, bool)> = vec![
            ("0.0.0.0:7650", format!("127.0.0.1:{port}"), false),
            (
                "collector.example.org:7650",
                format!("127.0.0.1:{port}"),
                false,
            ),
            ("collector.example.org", "127.0.0.1".into(), false),
            ("/etc/", format!("{}/etc/", self.root), true),
            ("/var/lib/", format!("{}/var/lib/", self.root), true),
            ("/var/log/", format!("{}/var/log/", self.root), true),
        ];
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        'outer: while i < text.len() {
            let rest = &text[i..];
            let prev = text[..i].chars().next_back();
            for (from, to, path) in &rules {
                let starts_token =
                    !path || prev.is_none_or(|c| c.is_whitespace() || "'\"=:{[,(".contains(c));
                if rest.starts_with(from) && starts_token {
                    out.push_str(to);
                    i += from.len();
                    continue 'outer;
                }
            }
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
        out
    }
}

/// Everything a documented command runs with.
struct Env {
    root: PathBuf,
    cwd: PathBuf,
    path: String,
}

impl Env {
    fn command(&self, line: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(line)
            .current_dir(&self.cwd)
            .env("PATH", &self.path)
            .env("LOGWARD_STATE_DIR", self.root.join("var/lib/logward"))
            .env("TZ", "UTC")
            .env_remove("CREDENTIALS_DIRECTORY");
        c
    }

    /// Runs `line` to the end with `stdin`; its standard output.
    fn run(&self, line: &str, stdin: &str) -> String {
        let mut child = self
            .command(line)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "`{line}` failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Starts a daemon from `line`, its standard error into `log`.
    fn spawn(&self, line: &str, log: &Path) -> Proc {
        let err = std::fs::File::create(log).unwrap();
        Proc(
            self.command(&format!("exec {line}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(err)
                .spawn()
                .unwrap(),
        )
    }
}

/// `ExecStart=` of a unit in deploy/, without the binary's path (`logward …`).
fn exec_start(unit: &str) -> String {
    let text = std::fs::read_to_string(repo().join("deploy").join(unit)).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    let (bin, args) = line.split_once(' ').unwrap();
    assert!(bin.ends_with("/logward"), "{line}");
    format!("logward {args}")
}

#[test]
fn the_collector_and_dashboard_quickstarts_work_verbatim() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    let port = logward_test_support::free_port();
    let me = std::fs::metadata(d.path()).unwrap();
    let rw = Rewrite {
        root: root.to_str().unwrap().to_owned(),
        port,
        uid: std::os::unix::fs::MetadataExt::uid(&me),
        gid: std::os::unix::fs::MetadataExt::gid(&me),
    };
    // A checkout's deploy/, rewritten like the commands.
    let cwd = d.path().join("checkout");
    std::fs::create_dir_all(cwd.join("deploy")).unwrap();
    for f in std::fs::read_dir(repo().join("deploy")).unwrap() {
        let f = f.unwrap();
        if f.file_type().unwrap().is_file() {
            let text = std::fs::read_to_string(f.path()).unwrap();
            std::fs::write(cwd.join("deploy").join(f.file_name()), rw.apply(&text)).unwrap();
        }
    }
    // `logward` on the PATH is the binary under test.
    let bin = d.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(BIN, bin.join("logward")).unwrap();
    let env = Env {
        root: root.clone(),
        cwd,
        path: format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    };
    // A machine's base layout.
    for dir in ["var/log", "etc/systemd/system"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    // The agent host as docs/AGENT.md sets it up (not part of these pages): a config
    // following the auth log.
    let auth_log = root.join("var/log/auth.log");
    std::fs::write(&auth_log, "").unwrap();
    std::fs::create_dir_all(root.join("etc/logward")).unwrap();
    std::fs::write(
        root.join("etc/logward/agent.yaml"),
        format!(
            "sources:\n  - {{type: file, path: {}, start_at: beginning}}\n",
            auth_log.display()
        ),
    )
    .unwrap();

    let mut blocks =
        quickstart_blocks(&std::fs::read_to_string(repo().join("docs/COLLECTOR.md")).unwrap());
    blocks.extend(quickstart_blocks(
        &std::fs::read_to_string(repo().join("docs/DASHBOARD.md")).unwrap(),
    ));
    let kinds: Vec<&str> = blocks.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "user",
            "collector",
            "service",
            "collector",
            "agent",
            "dashboard"
        ],
        "the quickstart blocks this test knows how to run"
    );
    let mut token = String::new();
    let mut daemons = Vec::new();
    for (kind, cmds) in &blocks {
        if kind == "user" {
            // A test cannot add system users: it runs as its own (see the rewriting).
            assert!(cmds.iter().all(|c| c.starts_with("useradd ")), "{cmds:?}");
            continue;
        }
        for cmd in cmds {
            match cmd.as_str() {
                "systemctl daemon-reload" => continue,
                "systemctl enable --now logward-collector" => {
                    // The collector as its unit starts it.
                    let line = rw.apply(&exec_start("logward-collector.service"));
                    daemons.push(env.spawn(&line, &d.path().join("collector.err")));
                    assert!(
                        wait_port(port, Duration::from_secs(30)),
                        "timed out waiting for the collector"
                    );
                    continue;
                }
                "systemctl restart logward" => {
                    // The agent as its unit starts it.
                    let line = rw.apply(&exec_start("logward.service"));
                    daemons.push(env.spawn(&line, &d.path().join("agent.err")));
                    continue;
                }
                _ => assert!(!cmd.starts_with("systemctl"), "cannot run {cmd}"),
            }
            let stdin = if cmd.contains("--token-file -") {
                format!("{token}\n")
            } else if cmd.contains(" user add ") {
                format!("{PASSWORD}\n")
            } else {
                String::new()
            };
            let out = env.run(&rw.apply(cmd), &stdin);
            if cmd.contains(" token create") {
                token = out.trim().to_owned();
                assert_eq!(token.len(), 64, "{out}");
            }
        }
    }

    // What the pages promise. The collector serves over TLS with the certificate gen-cert
    // made for its name (pinned here, as the agent pins it).
    let ca = std::fs::read(root.join("etc/logward/collector/cert.pem")).unwrap();
    let http = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("https://127.0.0.1:{port}");
    let r = http.get(format!("{base}/")).send().unwrap();
    assert_eq!(r.status(), 303);
    // The operator logs in.
    let r = http
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "user=alice&password={}",
            PASSWORD.replace(' ', "+")
        ))
        .send()
        .unwrap();
    assert_eq!(r.status(), 303, "{:?}", r.text());
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    // An attack on the agent host reaches the dashboard through the enrolled agent.
    let lines: String = (0..6)
        .map(|i| {
            format!(
                "{} web01 sshd[{}]: Failed password for root from 203.0.113.9 port {} ssh2\n",
                (chrono::Utc::now() - chrono::Duration::seconds(30 - i)).format("%b %e %H:%M:%S"),
                900 + i,
                40000 + i
            )
        })
        .collect();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&auth_log)
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let get = |path: &str| -> Value {
        let r = http
            .get(format!("{base}{path}"))
            .header("cookie", &cookie)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        serde_json::from_str(&r.text().unwrap()).unwrap()
    };
    let alerts = wait_for("the forwarded alert", Duration::from_secs(60), || {
        let v = get("/v1/alerts");
        let list = v["alerts"].as_array()?.clone();
        list.iter()
            .any(|a| a["source_address"] == "203.0.113.9")
            .then_some(list)
    });
    assert!(!alerts.is_empty());
    let agents = get("/v1/agents");
    assert_eq!(agents["agents"].as_array().unwrap().len(), 1, "{agents}");
    // The agent pinned the collector's certificate at enrolment.
    let creds: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("var/lib/logward/collector.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(creds["collector"], base.as_str());
    assert!(creds["ca"]
        .as_str()
        .unwrap()
        .ends_with("etc/logward/collector-ca.pem"));
    drop(daemons);
}
