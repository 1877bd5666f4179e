//! `logward check` with the real binary: agent, collector and rules configs told apart by
//! their keys, every structural error at its key's own line:column with a suggestion, and
//! "ok" only when everything (GeoIP databases too) is fine. Also `default-config
//! --collector` and `notify test` on a collector config.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use logward_test_support::show;

const BIN: &str = env!("CARGO_BIN_EXE_logward");

fn run(args: &[&str], path: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg(path)
        .env_remove("LOGWARD_STATE_DIR")
        .output()
        .expect("run logward")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn deploy(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(name)
}

/// Checks `text` and returns the error lines (without the file name), asserting exit 1 and
/// nothing on stdout.
fn errors(text: &str) -> Vec<String> {
    let d = tempfile::tempdir().expect("tempdir");
    let p = write(d.path(), "c.yaml", text);
    let o = run(&["check", "--config"], &p);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(o.stdout.is_empty(), "{}", show(&o));
    let prefix = format!("{}:", p.display());
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter(|l| !l.starts_with(' '))
        .map(str::to_owned)
        .collect()
}

#[test]
fn agent_config_three_mistakes_three_errors_at_their_keys() {
    let e = errors(
        "sources:\n\
         \x20 - {type: file, path: /var/log/auth.log, strat_at: end}\n\
         output:\n\
         \x20 format: text\n\
         bans:\n\
         \x20 enabled: false\n\
         \x20 ipv6_prefx: 64\n\
         pipeline:\n\
         \x20 max_bach: 10\n",
    );
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(
        e[0].starts_with("2:43: unknown key `strat_at`, did you mean `start_at`?"),
        "{e:#?}"
    );
    assert!(
        e[1].starts_with("7:3: unknown key `ipv6_prefx`, did you mean `ipv6_prefix`?"),
        "{e:#?}"
    );
    assert!(
        e[2].starts_with("9:3: unknown key `max_bach`, did you mean `max_batch`?"),
        "{e:#?}"
    );
}

#[test]
fn collector_config_three_mistakes_three_errors_at_their_keys() {
    let e = errors(
        "listen: 127.0.0.1:7650\n\
         retention_dys: 30\n\
         limits:\n\
         \x20 body_bytes: 1000\n\
         \x20 sesion_secs: 60\n\
         notify:\n\
         \x20 notifiers:\n\
         \x20   log: {type: file, pth: /tmp/x}\n",
    );
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(
        e[0].starts_with("2:1: unknown key `retention_dys`, did you mean `retention_days`?"),
        "{e:#?}"
    );
    assert!(
        e[1].starts_with("5:3: unknown key `sesion_secs`, did you mean `session_secs`?"),
        "{e:#?}"
    );
    assert!(
        e[2].starts_with("8:23: unknown key `pth`, did you mean `path`?"),
        "{e:#?}"
    );
}

#[test]
fn rules_config_three_mistakes_three_errors_at_their_keys() {
    let e = errors(
        "counters:\n\
         \x20 max_key: 10\n\
         chains:\n\
         \x20 a:\n\
         \x20   - {type: equals, feild: event.action, value: user-login}\n\
         \x20   - type: alret\n\
         \x20     rule: x\n",
    );
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(
        e[0].starts_with("2:3: unknown key `max_key`, did you mean `max_keys`?"),
        "{e:#?}"
    );
    assert!(
        e[1].starts_with("5:22: unknown key `feild`, did you mean `field`?"),
        "{e:#?}"
    );
    assert!(
        e[2].starts_with("6:7: `type`: unknown variant `alret`")
            && e[2].contains("did you mean `alert`?"),
        "{e:#?}"
    );
}

#[test]
fn bans_errors_at_their_keys() {
    let e = errors("bans:\n  enabled: true\n  nft: []\n  table: 'a b'\n");
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(e[0].starts_with("3:8: `bans.nft`"), "{e:#?}");
    assert!(e[1].starts_with("4:10: `bans.table`"), "{e:#?}");
}

#[test]
fn collector_example_and_default_check_as_collector_configs() {
    let o = run(&["check", "--config"], &deploy("collector.example.yaml"));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(": ok, collector config (listen 0.0.0.0:7650"),
        "{}",
        show(&o)
    );
    let d = tempfile::tempdir().expect("tempdir");
    let o = Command::new(BIN)
        .args(["default-config", "--collector"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let p = d.path().join("collector.yaml");
    std::fs::write(&p, &o.stdout).expect("write");
    // By its keys, and with --collector.
    for args in [
        &["check", "--config"][..],
        &["check", "--collector", "--config"],
    ] {
        let o = run(args, &p);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout)
                .contains("ok, collector config (listen 127.0.0.1:7650, plain HTTP"),
            "{}",
            show(&o)
        );
    }
    // An agent config forced through --collector is refused with its keys named.
    let o = run(
        &["check", "--collector", "--config"],
        &deploy("agent.example.yaml"),
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unknown key `sources`"),
        "{}",
        show(&o)
    );
}

#[test]
fn mixed_config_names_the_collector_keys() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = write(d.path(), "m.yaml", "sources: []\nlisten: 127.0.0.1:7650\n");
    let o = run(&["check", "--config"], &p);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("m.yaml:2:1: unknown key `listen`") && err.contains("hint: listen"),
        "{}",
        show(&o)
    );
}

#[test]
fn check_says_ok_only_after_the_geoip_databases_open() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = write(
        d.path(),
        "a.yaml",
        "sources: []\nenrich:\n  geoip: no-such-dir\nanomaly: {enabled: true}\n",
    );
    let o = run(&["check", "--config"], &p);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("ok"),
        "{}",
        show(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("enrich.geoip"),
        "{}",
        show(&o)
    );
}

/// `notify test` through a collector config's file notifier: the test alert lands in the file.
#[test]
fn notify_test_takes_a_collector_config() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = d.path().join("fleet-alerts.ndjson");
    let p = write(
        d.path(),
        "collector.yaml",
        &format!(
            "listen: 127.0.0.1:7650\nstate_dir: state\nnotify:\n  notifiers:\n    \
             alert-log: {{type: file, path: {}}}\n",
            out.display()
        ),
    );
    let o = Command::new(BIN)
        .args(["notify", "test", "alert-log", "--config"])
        .arg(&p)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("alert-log (file): delivered"),
        "{}",
        show(&o)
    );
    let written = std::fs::read_to_string(&out).expect("the notifier wrote its file");
    assert!(written.contains("logward-test"), "{written}");
    // An unknown name lists the collector's notifiers.
    let o = Command::new(BIN)
        .args(["notify", "test", "slack", "--config"])
        .arg(&p)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("configured: alert-log"),
        "{}",
        show(&o)
    );
}
