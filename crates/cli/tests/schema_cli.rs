//! `logward schema agent|collector|rules`: the checked-in copies under docs/schema/ are what
//! the binary prints (`UPDATE_GOLDEN=1` rewrites them), every example config of the project
//! validates against its schema with a real JSON Schema validator (python3-jsonschema), and
//! configs with deliberate mistakes do not.
#![allow(clippy::disallowed_methods)] // the test runs the binary under test and python3
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_logward");
const KINDS: [&str; 3] = ["agent", "collector", "rules"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn schema(kind: &str) -> String {
    let out = Command::new(BIN).args(["schema", kind]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn checked_in_schemas_are_up_to_date() {
    for kind in KINDS {
        let path = root().join(format!("docs/schema/{kind}.schema.json"));
        let now = schema(kind);
        if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
            std::fs::write(&path, &now).unwrap();
            continue;
        }
        let kept = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            kept == now,
            "docs/schema/{kind}.schema.json differs from `logward schema {kind}`: the config \
             types changed; refresh with UPDATE_GOLDEN=1 cargo test -p logward --test schema_cli"
        );
    }
}

/// Which schema a YAML file of the project follows: rules files have top-level `chains:`,
/// collector configs are named so, the rest are agent configs.
fn kind_of(path: &Path, text: &str) -> &'static str {
    if text.lines().any(|l| l.starts_with("chains:")) {
        "rules"
    } else if path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .contains("collector")
    {
        "collector"
    } else {
        "agent"
    }
}

/// Every YAML file in the places the project keeps example configs and rules.
fn example_configs() -> Vec<PathBuf> {
    let root = root();
    let mut dirs = vec![
        root.join("examples"),
        root.join("deploy"),
        root.join("rules"),
    ];
    for krate in std::fs::read_dir(root.join("crates")).unwrap() {
        let krate = krate.unwrap().path();
        dirs.push(krate.join("examples"));
        dirs.push(krate.join("rules"));
    }
    let mut files: Vec<PathBuf> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

/// The agent replaces `${NAME}` with the variable's value before parsing; every variable the
/// examples use stands for a string or a port, so a number is a valid stand-in for each.
fn substitute_env(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let name_end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let escaped = rest[..i].ends_with('$');
        if !escaped && name_end > 0 && after[name_end..].starts_with('}') {
            out.push('1');
            rest = &after[name_end + 1..];
        } else {
            out.push_str("${");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Validates YAML texts against `kind`'s schema; returns the validator's exit code and output.
fn validate(kind: &str, docs: &[(String, String)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let schema_path = dir.path().join("schema.json");
    std::fs::write(&schema_path, schema(kind)).unwrap();
    let mut args = vec![
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/support/schema_validate.py")
            .into_os_string(),
        schema_path.into_os_string(),
    ];
    for (i, (name, yaml)) in docs.iter().enumerate() {
        let path = dir
            .path()
            .join(format!("{i}-{}", name.replace(['/', ' '], "_")));
        std::fs::write(&path, substitute_env(yaml)).unwrap();
        args.push(path.into_os_string());
    }
    // Debian's python3-jsonschema and python3-yaml (scripts/test.sh) are for the system's
    // interpreter, which a python3 earlier on PATH may not be.
    let python = ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|p| !p.starts_with('/') || Path::new(p).exists())
        .unwrap();
    let out = Command::new(python).args(&args).output();
    let out = match out {
        Ok(out) => out,
        Err(e) => panic!("cannot run python3: {e}"),
    };
    let code = out.status.code().unwrap_or(-1);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if code == 2 {
        logward_test_support::skipped(format_args!("python3-jsonschema is not installed: {text}"));
    }
    (code, text)
}

fn validator_missing(code: i32) -> bool {
    code == 2
}

#[test]
fn every_example_config_validates_against_its_schema() {
    let files = example_configs();
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    for kind in KINDS {
        let docs: Vec<(String, String)> = files
            .iter()
            .filter_map(|p| {
                let text = std::fs::read_to_string(p).unwrap();
                let rel = p.strip_prefix(root()).unwrap().display().to_string();
                (kind_of(p, &text) == kind).then_some((rel, text))
            })
            .flat_map(|(rel, text)| {
                // `#~ ` lines are alternatives: the file with them switched on is checked too.
                let on = text.contains("#~ ").then(|| {
                    let on: String = text
                        .lines()
                        .map(|l| l.replacen("#~ ", "", 1) + "\n")
                        .collect();
                    (format!("{rel} (alternatives on)"), on)
                });
                std::iter::once((rel, text)).chain(on)
            })
            .collect();
        *seen.entry(kind).or_default() += docs.len();
        let (code, out) = validate(kind, &docs);
        if validator_missing(code) {
            return;
        }
        assert_eq!(code, 0, "{kind} examples fail their schema:\n{out}");
    }
    // deploy/ has an agent config (twice: its alternatives on) and a collector config,
    // examples/ two agent configs, crates/engine/rules the two rulesets.
    assert!(seen["agent"] >= 4, "{seen:?}");
    assert!(seen["collector"] >= 1, "{seen:?}");
    assert!(seen["rules"] >= 2, "{seen:?}");
}

#[test]
fn serde_aliases_validate() {
    let yaml = "notify:\n  language: zh\n  notifiers:\n    \
                lark: {type: lark, url: \"https://open.larksuite.com/hook/x\"}\n    \
                tg: {type: telegram, token: t, chat_id: 1, parse_mode: HTML, language: zh-cn}\n";
    let (code, out) = validate("agent", &[("aliases".into(), yaml.into())]);
    if validator_missing(code) {
        return;
    }
    assert_eq!(code, 0, "{out}");
}

#[test]
fn wrong_configs_fail_validation() {
    let cases = [
        (
            "agent",
            "bans: {enabled: true, ipv6_prefx: 64}\n",
            "'ipv6_prefx' was unexpected",
        ),
        (
            "agent",
            "sources:\n  - {type: file}\n",
            "'path' is a required",
        ),
        ("agent", "output: {format: xml}\n", "output/format"),
        (
            "collector",
            "listen: 0.0.0.0:7650\nlimits: {body_bytes: -1}\n",
            "-1",
        ),
        (
            "rules",
            "chains:\n  a:\n    - {type: equal, field: event.action, value: x}\n",
            "equal",
        ),
        ("rules", "networks: {}\n", "'chains' is a required"),
    ];
    for (kind, yaml, expect) in cases {
        let (code, out) = validate(kind, &[("wrong".into(), yaml.into())]);
        if validator_missing(code) {
            return;
        }
        assert_eq!(code, 1, "{kind} config {yaml:?} passed its schema: {out}");
        assert!(
            out.contains(expect),
            "{yaml:?}: expected {expect:?} in {out}"
        );
    }
}
