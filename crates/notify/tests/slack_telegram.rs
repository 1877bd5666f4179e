//! Slack and Telegram notifiers against `receivers/intl.py`, which checks each request the way
//! the service documents it and answers as the service would (ok, 429, 5xx, the services'
//! own errors, a hang past the timeout).
#![allow(clippy::unwrap_used)]
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use common::{alert, check, message, notifier, render, Receiver};
use logward_notify::config::Language;
use logward_notify::SendError;
use serde_json::Value;

fn receiver() -> Receiver {
    Receiver::start("intl.py", &[])
}

/// The requests the receiver recorded, bodies parsed as JSON.
async fn requests(r: &Receiver) -> Vec<(String, Value)> {
    let all = r.recorded().await;
    all.into_iter()
        .map(|v| {
            let body = serde_json::from_str(v["body"].as_str().unwrap()).unwrap();
            (v["path"].as_str().unwrap().to_owned(), body)
        })
        .collect()
}

/// The text of each Telegram message as the receiver's HTML parser read it.
async fn shown(r: &Receiver) -> Vec<String> {
    let all = r.recorded().await;
    all.iter()
        .filter_map(|v| v["shown"].as_str().map(str::to_owned))
        .collect()
}

fn slack(r: &Receiver, mode: &str) -> logward_notify::Notifier {
    notifier(&format!(
        "type: slack\nurl: http://127.0.0.1:{}/slack/{mode}/T0SECRET/B0SECRET\ntimeout: 1s\n",
        r.port()
    ))
}

#[tokio::test]
async fn slack_posts_block_kit_with_mrkdwn() {
    let r = receiver();
    let m = message();
    let sent = slack(&r, "ok").send(&m).await.unwrap();
    assert_eq!((sent.status, sent.answer.as_str()), (200, "ok"));
    let reqs = requests(&r).await;
    assert_eq!(reqs.len(), 1);
    let body = &reqs[0].1;
    assert_eq!(body["text"], "[HIGH] SSH login on web01");
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "[HIGH] SSH login on web01");
    assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
    let section = blocks[1]["text"]["text"].as_str().unwrap();
    assert!(
        // The header block shows the title: the section does not repeat it.
        section.starts_with("alice logged in over SSH from 192.0.2.10 (publickey)\n"),
        "{section}"
    );
    assert!(section.contains("- User: `alice`"), "{section}");
    assert_eq!(blocks[2]["type"], "context");
    assert_eq!(blocks[2]["elements"][0]["text"], "logward · high");
}

/// Issue 16: a Windows alert names its event, the logon type and the workstation, and an
/// account change the account acted on and who acted.
#[tokio::test]
async fn slack_names_a_windows_logon_type_workstation_and_target_account() {
    let r = receiver();
    for id in [4625, 4720] {
        let m = render(vec![common::windows_alert(id)], Language::En);
        assert_eq!(slack(&r, "ok").send(&m).await.unwrap().status, 200);
    }
    let reqs = requests(&r).await;
    let section = |i: usize| {
        reqs[i].1["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let logon = section(0);
    for want in [
        "- User: `administrator`",
        "- Source: `203.0.113.50`",
        "- Windows event: Security 4625",
        "- Logon type: network",
        "- Workstation: `KALI`",
    ] {
        assert!(logon.contains(want), "{want} in {logon}");
    }
    assert_eq!(reqs[0].1["text"], "[HIGH] Brute force on DC01");
    let created = section(1);
    for want in [
        "- Account: `mallory`",
        "- By: `alice`",
        "- Windows event: Security 4720",
    ] {
        assert!(created.contains(want), "{want} in {created}");
    }
    // No logon in an account change: no logon type or workstation line.
    assert!(!created.contains("Logon type"), "{created}");
    assert!(!created.contains("Workstation"), "{created}");
}

#[tokio::test]
async fn slack_fits_a_long_message_and_escapes_control_characters() {
    let r = receiver();
    let mut a = alert();
    a["message"] = Value::from(format!("<!channel> {}", "登录失败 & ".repeat(800)));
    let sent = slack(&r, "ok")
        .send(&render(vec![a], Language::En))
        .await
        .unwrap();
    assert_eq!(sent.status, 200);
    let section = requests(&r).await[0].1["blocks"][1]["text"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let chars = section.chars().count();
    assert!((2990..=3000).contains(&chars), "{chars}");
    assert!(section.ends_with('…'));
    assert!(
        section.contains("&lt;!channel&gt; 登录失败 &amp; "),
        "{section}"
    );
}

#[tokio::test]
async fn slack_answers_are_classified_and_the_url_stays_secret() {
    let r = receiver();
    let m = message();
    match slack(&r, "429").send(&m).await {
        Err(SendError::RateLimited { after, .. }) => {
            assert_eq!(after, Some(Duration::from_secs(7)))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        slack(&r, "500").send(&m).await,
        Err(SendError::Transient { .. })
    ));
    for code in ["invalid_payload", "no_service", "channel_is_archived"] {
        match slack(&r, code).send(&m).await {
            Err(e @ SendError::Permanent { .. }) => {
                let text = e.to_string();
                assert!(text.contains(code), "{text}");
                assert!(
                    !text.contains("SECRET") && !text.contains("127.0.0.1"),
                    "{text}"
                );
            }
            other => panic!("{code}: {other:?}"),
        }
    }
    let t0 = Instant::now();
    match slack(&r, "sleep").send(&m).await {
        Err(e @ SendError::Transient { .. }) => {
            assert!(e.to_string().contains("timed out"), "{e}");
            assert!(!e.to_string().contains("SECRET"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(t0.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn slack_connection_refused_is_transient() {
    let port = logward_test_support::free_port();
    let n = notifier(&format!(
        "type: slack\nurl: http://127.0.0.1:{port}/slack/ok\n"
    ));
    assert!(matches!(
        n.send(&message()).await,
        Err(SendError::Transient { .. })
    ));
    assert_eq!(n.kind(), "slack");
    assert_eq!(n.rates.len(), 1);
}

const TOKEN: &str = "110201543";

fn telegram(r: &Receiver, mode: &str, extra: &str) -> logward_notify::Notifier {
    notifier(&format!(
        "type: telegram\napi: http://127.0.0.1:{}\ntoken: \"{TOKEN}:{mode}\"\nchat_id: -1001234567890\ntimeout: 1s\n{extra}",
        r.port()
    ))
}

#[tokio::test]
async fn telegram_sends_escaped_html_to_an_integer_chat_id() {
    let r = receiver();
    let mut a = alert();
    a["user"]["name"] = Value::from("<b>eve</b> & co");
    let sent = telegram(&r, "ok", "")
        .send(&render(vec![a], Language::En))
        .await
        .unwrap();
    assert_eq!(sent.status, 200);
    let (path, body) = requests(&r).await.remove(0);
    assert_eq!(path, format!("/bot{TOKEN}:ok/sendMessage"));
    assert_eq!(body["chat_id"], -1_001_234_567_890_i64);
    assert_eq!(body["parse_mode"], "HTML");
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("<b>[HIGH] SSH login on web01</b>\n\n"),
        "{text}"
    );
    assert!(
        text.contains("User: &lt;b&gt;eve&lt;/b&gt; &amp; co"),
        "{text}"
    );
    // What the receiver's HTML parser saw: the user name as typed.
    let shown = shown(&r).await.remove(0);
    assert!(shown.contains("User: <b>eve</b> & co"), "{shown}");
}

#[tokio::test]
async fn telegram_fits_4096_characters_after_entity_parsing() {
    let r = receiver();
    let mut a = alert();
    a["message"] = Value::from("<&> 登录 ".repeat(1500));
    let n = telegram(&r, "ok", "");
    n.send(&render(vec![a.clone()], Language::En))
        .await
        .unwrap();
    let text = shown(&r).await.remove(0);
    assert_eq!(text.chars().count(), 4096, "{text}");
    assert!(text.ends_with('…'));
    // Plain text, to a channel by name.
    let n = notifier(&format!(
        "type: telegram\napi: http://127.0.0.1:{}/\ntoken: \"{TOKEN}:ok\"\nchat_id: \"@ops_alerts\"\nparse_mode: none\n",
        r.port()
    ));
    n.send(&render(vec![a], Language::ZhCn)).await.unwrap();
    let body = &requests(&r).await[1].1;
    assert_eq!(body["chat_id"], "@ops_alerts");
    assert!(body.get("parse_mode").is_none());
    assert!(body["text"].as_str().unwrap().starts_with("【SSH 登录】"));
}

#[tokio::test]
async fn telegram_errors_are_classified_without_the_token() {
    let r = receiver();
    let m = message();
    let no_token = |e: &SendError| {
        let s = format!("{e} {e:?}");
        assert!(!s.contains(TOKEN), "{s}");
    };
    match telegram(&r, "ratelimited", "").send(&m).await {
        Err(e @ SendError::RateLimited { .. }) => {
            no_token(&e);
            let SendError::RateLimited { after, .. } = e else {
                unreachable!()
            };
            assert_eq!(after, Some(Duration::from_secs(3)));
        }
        other => panic!("{other:?}"),
    }
    for (mode, want) in [
        ("badchat", "Telegram error 400: Bad Request: chat not found"),
        (
            "blocked",
            "Telegram error 403: Forbidden: bot was blocked by the user",
        ),
    ] {
        match telegram(&r, mode, "").send(&m).await {
            Err(e @ SendError::Permanent { .. }) => {
                no_token(&e);
                assert_eq!(e.to_string(), want);
            }
            other => panic!("{mode}: {other:?}"),
        }
    }
    match telegram(&r, "fail", "").send(&m).await {
        Err(e @ SendError::Transient { .. }) => no_token(&e),
        other => panic!("{other:?}"),
    }
    match telegram(&r, "sleep", "").send(&m).await {
        Err(e @ SendError::Transient { .. }) => {
            no_token(&e);
            assert!(e.to_string().contains("timed out"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn configs_are_checked() {
    assert!(check("type: slack\nurl: hooks.slack.com/x\n")[0].contains("http"));
    let errors = check("type: telegram\ntoken: \"\"\nchat_id: ops\napi: ftp://x\n");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(check("type: telegram\ntoken: \"1:a\"\nchat_id: 42\n").is_empty());
}
