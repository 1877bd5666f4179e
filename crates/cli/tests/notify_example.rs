//! examples/notify.yaml checks clean with its environment variables set, and `notify test`
//! reports a receiver that is down as not delivered (exit 1).
#![allow(clippy::disallowed_methods)] // the test runs the binary under test

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_logward");

fn with_env(args: &[&str]) -> std::process::Output {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/notify.yaml");
    let down = "http://127.0.0.1:9";
    Command::new(BIN)
        .args(args)
        .args(["--config", example])
        .env("DINGTALK_URL", format!("{down}/robot/send?access_token=t"))
        .env("DINGTALK_SECRET", "SECabc")
        .env("FEISHU_URL", format!("{down}/hook/x"))
        .env("FEISHU_SECRET", "fs")
        .env("WECOM_URL", format!("{down}/cgi-bin/webhook/send?key=k"))
        .env("SLACK_URL", format!("{down}/services/x"))
        .env("TELEGRAM_API", down)
        .env("TELEGRAM_TOKEN", "123:abc")
        .env("TELEGRAM_CHAT", "42")
        .env("WEBHOOK_URL", format!("{down}/alerts"))
        .env("WEBHOOK_SECRET", "ws")
        .env("SMTP_HOST", "127.0.0.1")
        .env("SMTP_PORT", "2525")
        .env("MAIL_TO", "root@localhost")
        .output()
        .expect("run logward")
}

#[test]
fn the_example_checks_and_notify_test_reports_what_happened() {
    let o = with_env(&["check"]);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let o = with_env(&["notify", "test", "webhook"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("NOT delivered, transient"), "{out}");
    assert!(!out.contains("127.0.0.1:9"), "the URL is not shown: {out}");
    let o = with_env(&["notify", "test", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("configured: alert-log, dingtalk"));
}
