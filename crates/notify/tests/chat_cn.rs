//! The DingTalk, Feishu/Lark, WeCom robot and WeCom application notifiers against a real HTTP
//! receiver on 127.0.0.1 (`receivers/cn.py`, Python's standard library only) that checks the
//! signatures with its own implementation of each service's recipe, checks payload shapes and
//! size limits, records every request, and answers 429, 5xx, service error codes and delays
//! on demand.

#![allow(clippy::unwrap_used)]
// Spawning is kept to one module in the product; a test starts its own receiver.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::Duration;

use common::{check, notifier};

use logward_notify::message::Item;
use logward_notify::{Language, Message, Notifier, NotifierConfig, SendError};
use serde_json::Value;

const ALERT: &str = r#"{"@timestamp":"2026-11-22T10:05:22Z","message":"alice logged in over SSH from 192.0.2.10 (publickey)","event":{"severity":1,"kind":"alert"},"host":{"name":"web01"},"source":{"address":"192.0.2.10","ip":"192.0.2.10"},"user":{"name":"alice"},"logward":{"severity":"info","auth":{"method":"publickey"}},"rule":{"id":"ssh-login","name":"SSH login"}}"#;

/// The receiver (`cn.py`), killed when dropped.
struct Receiver {
    py: common::Receiver,
    base: String,
    http: reqwest::Client,
}

impl Receiver {
    fn start(args: &[&str]) -> Receiver {
        let py = common::Receiver::start("cn.py", &[&["--port", "0"], args].concat());
        Receiver {
            base: py.base(),
            py,
            http: reqwest::Client::new(),
        }
    }

    /// Every request the receiver saw, for one service.
    async fn requests(&self, service: &str) -> Vec<Value> {
        let all = self.py.recorded().await;
        all.into_iter()
            .filter(|r| r["service"] == service)
            .collect()
    }

    async fn last(&self, service: &str) -> Value {
        self.requests(service).await.pop().expect("a request")
    }

    /// The next answers of `service`, one per request.
    async fn next(&self, service: &str, answers: &str) {
        self.http
            .get(format!("{}/_next", self.base))
            .query(&[("service", service), ("answers", answers)])
            .send()
            .await
            .unwrap();
    }
}

fn alert_with(edit: impl FnOnce(&mut Value)) -> Value {
    let mut a: Value = serde_json::from_str(ALERT).unwrap();
    edit(&mut a);
    a
}

fn render(n: &Notifier, alerts: &[Value]) -> Message {
    let items: Vec<Item> = alerts
        .iter()
        .map(|a| Item::from_json(a.clone(), 1))
        .collect();
    Message::render(&items, &n.templates, "key-1".into()).unwrap()
}

fn sample(n: &Notifier) -> Message {
    render(n, &[serde_json::from_str(ALERT).unwrap()])
}

/// A long Chinese message that does not start on a 3-byte boundary.
fn long_chinese(chars: usize) -> String {
    format!("a{}", "登录失败".repeat(chars / 4))
}

#[tokio::test]
async fn dingtalk_signed_markdown_with_keyword_in_chinese() {
    let r = Receiver::start(&["--ding-secret", "SECtest", "--ding-keyword", "告警"]);
    let n = notifier(&format!(
        "type: dingtalk\nurl: {}/dingtalk/robot/send?access_token=DTOKEN\nsecret: SECtest\n\
         keyword: 告警\nlanguage: zh-CN\nat_mobiles: ['13800001111']\n",
        r.base
    ));
    assert_eq!(n.kind(), "dingtalk");
    let sent = n.send(&sample(&n)).await.unwrap();
    assert!(sent.answer.contains("\"errcode\": 0"), "{}", sent.answer);
    let req = r.last("dingtalk").await;
    assert_eq!(req["verdict"], "ok", "{req}");
    assert!(req["query"]["timestamp"].as_str().unwrap().len() >= 13);
    assert!(req["query"]["sign"].is_string());
    let body = &req["body"];
    assert_eq!(body["msgtype"], "markdown");
    let title = body["markdown"]["title"].as_str().unwrap();
    assert!(title.contains("【SSH 登录】web01"), "{title}");
    assert!(title.starts_with("告警"), "{title}");
    let text = body["markdown"]["text"].as_str().unwrap();
    assert!(text.contains("来源 IP：`192.0.2.10`"), "{text}");
    assert!(text.ends_with("@13800001111"), "{text}");
    assert_eq!(body["at"]["atMobiles"][0], "13800001111");
    assert_eq!(body["at"]["isAtAll"], false);

    // The text form, and a long one cut to DingTalk's limit.
    let n = notifier(&format!(
        "type: dingtalk\nurl: {}/dingtalk/robot/send?access_token=DTOKEN\nsecret: SECtest\n\
         keyword: 告警\nformat: text\ntemplates: {{text: '{{{{ alert.message }}}}'}}\n",
        r.base
    ));
    let m = render(
        &n,
        &[alert_with(|a| a["message"] = long_chinese(20_000).into())],
    );
    n.send(&m).await.unwrap();
    let req = r.last("dingtalk").await;
    assert_eq!(req["verdict"], "ok", "{req}");
    let content = req["body"]["text"]["content"].as_str().unwrap();
    assert!(content.len() <= 20_000 && content.ends_with('…'));
}

#[tokio::test]
async fn dingtalk_wrong_secret_or_missing_keyword_is_permanent_310000() {
    let r = Receiver::start(&["--ding-secret", "SECtest", "--ding-keyword", "告警"]);
    let url = format!("{}/dingtalk/robot/send?access_token=DTOKEN", r.base);
    let wrong = notifier(&format!(
        "type: dingtalk\nurl: {url}\nsecret: SECwrong\nkeyword: 告警\n"
    ));
    let err = wrong.send(&sample(&wrong)).await.unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    let shown = err.to_string();
    assert!(
        shown.contains("310000") && shown.contains("sign not match"),
        "{shown}"
    );
    // No key or secret in what an operator sees.
    for secret in ["DTOKEN", "SECwrong", "SECtest"] {
        assert!(!shown.contains(secret) && !format!("{err:?}").contains(secret));
    }
    let no_keyword = notifier(&format!("type: dingtalk\nurl: {url}\nsecret: SECtest\n"));
    let err = no_keyword.send(&sample(&no_keyword)).await.unwrap_err();
    assert!(
        err.is_permanent() && err.to_string().contains("keywords"),
        "{err}"
    );
}

#[tokio::test]
async fn dingtalk_throttle_errors_and_timeouts_are_classified() {
    let r = Receiver::start(&[]);
    let n = notifier(&format!(
        "type: dingtalk\nurl: {}/dingtalk/robot/send?access_token=DTOKEN\ntimeout: 1s\n",
        r.base
    ));
    let m = sample(&n);
    r.next("dingtalk", "code:130101,500,429,sleep:3").await;
    match n.send(&m).await.unwrap_err() {
        SendError::RateLimited { reason, after } => {
            assert!(reason.contains("130101"), "{reason}");
            assert_eq!(after, Some(Duration::from_secs(60)));
        }
        e => panic!("130101 must be a rate limit, not {e:?}"),
    }
    assert!(matches!(n.send(&m).await, Err(SendError::Transient { .. })));
    assert!(matches!(
        n.send(&m).await,
        Err(SendError::RateLimited { .. })
    ));
    let err = n.send(&m).await.unwrap_err();
    assert!(matches!(err, SendError::Transient { .. }), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(!err.to_string().contains("DTOKEN"));
    // Unsigned robots get no signature.
    let req = &r.requests("dingtalk").await[0];
    assert!(req["query"].get("sign").is_none(), "{req}");
}

#[tokio::test]
async fn feishu_signed_card_post_and_text() {
    let r = Receiver::start(&["--feishu-secret", "fsec"]);
    let url = format!("{}/feishu/open-apis/bot/v2/hook/abc", r.base);
    // `lark` is Feishu's other name.
    let card = notifier(&format!(
        "type: lark\nurl: {url}\nsecret: fsec\nlanguage: zh-CN\n"
    ));
    assert_eq!(card.kind(), "feishu");
    let high = alert_with(|a| a["logward"]["severity"] = "high".into());
    card.send(&render(&card, &[high])).await.unwrap();
    let req = r.last("feishu").await;
    assert_eq!(req["verdict"], "ok", "{req}");
    let body = &req["body"];
    assert_eq!(body["msg_type"], "interactive");
    assert!(
        body["timestamp"].as_str().unwrap().len() == 10,
        "seconds, as a string"
    );
    assert_eq!(body["card"]["header"]["template"], "red");
    let title = body["card"]["header"]["title"]["content"].as_str().unwrap();
    assert!(title.starts_with("【SSH 登录】web01 高"), "{title}");
    let md = &body["card"]["elements"][0]["text"];
    assert_eq!(md["tag"], "lark_md");
    assert!(md["content"].as_str().unwrap().contains("用户：`alice`"));

    let info = notifier(&format!("type: feishu\nurl: {url}\nsecret: fsec\n"));
    info.send(&sample(&info)).await.unwrap();
    assert_eq!(
        r.last("feishu").await["body"]["card"]["header"]["template"],
        "grey"
    );

    let post = notifier(&format!(
        "type: feishu\nurl: {url}\nsecret: fsec\nformat: post\n"
    ));
    post.send(&sample(&post)).await.unwrap();
    let req = r.last("feishu").await;
    assert_eq!(req["verdict"], "ok", "{req}");
    let p = &req["body"]["content"]["post"]["zh_cn"];
    assert_eq!(p["title"], "[INFO] SSH login on web01");
    assert_eq!(p["content"][0][0]["tag"], "text");

    let text = notifier(&format!(
        "type: feishu\nurl: {url}\nsecret: fsec\nformat: text\n"
    ));
    text.send(&sample(&text)).await.unwrap();
    let req = r.last("feishu").await;
    assert_eq!(req["verdict"], "ok", "{req}");
    assert!(req["body"]["content"]["text"]
        .as_str()
        .unwrap()
        .contains("User: alice"));
}

/// Issue 13: the card's `lark_md` has no headings, so none may be sent, and the title is in
/// the card's header only (it was there, in a `###` line and in a bold line); in zh-CN no
/// English sentence is left (详情 of built-in rules, fleet rule names).
#[tokio::test]
async fn feishu_card_has_no_headings_says_the_title_once_and_zh_cn_is_chinese() {
    let r = Receiver::start(&["--feishu-secret", "fsec"]);
    let url = format!("{}/feishu/open-apis/bot/v2/hook/abc", r.base);
    let content = |req: &Value| {
        req["body"]["card"]["elements"][0]["text"]["content"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let en = notifier(&format!("type: feishu\nurl: {url}\nsecret: fsec\n"));
    en.send(&sample(&en)).await.unwrap();
    let req = r.last("feishu").await;
    assert_eq!(req["verdict"], "ok", "{req}");
    let md = content(&req);
    assert!(!md.lines().any(|l| l.starts_with('#')), "{md}");
    assert!(
        !md.contains("SSH login"),
        "the title is in the header only: {md}"
    );
    assert_eq!(
        req["body"]["card"]["header"]["title"]["content"],
        "[INFO] SSH login on web01"
    );
    assert!(md.starts_with("alice logged in over SSH"), "{md}");

    let zh = notifier(&format!(
        "type: feishu\nurl: {url}\nsecret: fsec\nlanguage: zh-CN\n"
    ));
    let fleet = alert_with(|a| {
        a["rule"] = serde_json::json!({"id": "fleet-bruteforce", "name": "Fleet brute force"});
        a["message"] =
            "failed logins from 192.0.2.10 on 3 hosts in 10 minutes (last: web01, user alice)"
                .into();
        a["labels"] = serde_json::json!({"hosts": "3", "event_host": "web01"});
        a["host"]["name"] = "fleet".into();
        a["logward"]["severity"] = "high".into();
    });
    // A digest: its heading becomes a bold line.
    zh.send(&render(&zh, &[fleet.clone(), alert_with(|_| {})]))
        .await
        .unwrap();
    let req = r.last("feishu").await;
    assert_eq!(req["verdict"], "ok", "{req}");
    let md = content(&req);
    assert!(!md.lines().any(|l| l.starts_with('#')), "{md}");
    for want in [
        "**【全网暴力破解】**",
        "详情：10 分钟内来自 192.0.2.10 的登录失败出现在 3 台主机上（最后：web01，用户 alice）",
        "详情：alice 从 192.0.2.10 SSH 登录（publickey）",
    ] {
        assert!(md.contains(want), "{want} in {md}");
    }
    assert!(
        !md.contains("logged in") && !md.contains("failed logins"),
        "{md}"
    );
    let title = req["body"]["card"]["header"]["title"]["content"]
        .as_str()
        .unwrap();
    assert!(title.starts_with("【logward】高 2 条告警"), "{title}");
}

#[tokio::test]
async fn feishu_bad_signature_is_permanent_and_throttles_back_off() {
    let r = Receiver::start(&["--feishu-secret", "fsec"]);
    let url = format!("{}/feishu/open-apis/bot/v2/hook/abc", r.base);
    let wrong = notifier(&format!("type: feishu\nurl: {url}\nsecret: nope\n"));
    let err = wrong.send(&sample(&wrong)).await.unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert!(err.to_string().contains("19021"), "{err}");
    assert!(!err.to_string().contains("nope"));

    let n = notifier(&format!(
        "type: feishu\nurl: {url}\nsecret: fsec\ntimeout: 1s\n"
    ));
    let m = sample(&n);
    r.next("feishu", "code:11232,code:9499,500,sleep:3,code:19024")
        .await;
    let e = n.send(&m).await.unwrap_err();
    assert!(matches!(e, SendError::RateLimited { .. }) && e.to_string().contains("11232"));
    assert!(matches!(
        n.send(&m).await,
        Err(SendError::RateLimited { .. })
    ));
    assert!(matches!(n.send(&m).await, Err(SendError::Transient { .. })));
    assert!(matches!(n.send(&m).await, Err(SendError::Transient { .. })));
    assert!(n.send(&m).await.unwrap_err().is_permanent());
    n.send(&m).await.unwrap();
}

#[tokio::test]
async fn feishu_body_is_shrunk_to_20000_bytes() {
    let r = Receiver::start(&["--feishu-secret", "fsec"]);
    let url = format!("{}/feishu/open-apis/bot/v2/hook/abc", r.base);
    // Quotes and newlines grow under JSON escaping; Chinese is 3 bytes a character.
    // A custom rule: built-in ones are worded from their fields in zh-CN, a custom rule's
    // own message is shown.
    let huge = alert_with(|a| {
        a["rule"]["id"] = "my-rule".into();
        a["message"] = format!("\"q\"\n{}", long_chinese(30_000)).into();
    });
    for format in ["card", "post", "text"] {
        let n = notifier(&format!(
            "type: feishu\nurl: {url}\nsecret: fsec\nformat: {format}\nlanguage: zh-CN\n"
        ));
        n.send(&render(&n, std::slice::from_ref(&huge)))
            .await
            .unwrap();
        let req = r.last("feishu").await;
        assert_eq!(req["verdict"], "ok", "{format}: {}", req["verdict"]);
        let len = req["raw_len"].as_u64().unwrap();
        assert!(len <= 20_000 && len > 19_000, "{format}: {len} bytes");
    }
}

#[tokio::test]
async fn wecom_robot_cuts_chinese_on_character_boundaries() {
    let r = Receiver::start(&[]);
    let url = format!("{}/wecom/cgi-bin/webhook/send?key=WKEY", r.base);
    let long = alert_with(|a| {
        a["rule"] = serde_json::json!({"id": "my-rule", "name": "SSH 登录"});
        a["message"] = long_chinese(4_000).into();
    });
    let text = notifier(&format!(
        "type: wecom\nurl: {url}\nformat: text\nlanguage: zh-CN\nmentioned_list: [alice]\n"
    ));
    text.send(&render(&text, std::slice::from_ref(&long)))
        .await
        .unwrap();
    let req = r.last("wecom").await;
    assert_eq!(req["verdict"], "ok", "{req}");
    assert_eq!(req["body"]["msgtype"], "text");
    let content = req["body"]["text"]["content"].as_str().unwrap();
    assert!(
        content.len() <= 2048 && content.len() > 2040,
        "{}",
        content.len()
    );
    assert!(content.starts_with("【SSH 登录】web01 信息"), "{content}");
    assert!(
        content.ends_with("登…")
            || content.ends_with("录…")
            || content.ends_with("失…")
            || content.ends_with("败…")
    );
    assert_eq!(req["body"]["text"]["mentioned_list"][0], "alice");

    let md = notifier(&format!("type: wecom\nurl: {url}\nmentioned_list: [bob]\n"));
    md.send(&render(&md, &[long])).await.unwrap();
    let req = r.last("wecom").await;
    assert_eq!(req["verdict"], "ok", "{req}");
    let content = req["body"]["markdown"]["content"].as_str().unwrap();
    assert!(
        content.len() <= 4096 && content.len() > 4080,
        "{}",
        content.len()
    );
    assert!(content.ends_with("… <@bob>"), "{content}");
}

#[tokio::test]
async fn wecom_robot_answers_are_classified() {
    let r = Receiver::start(&[]);
    let good = notifier(&format!(
        "type: wecom\nurl: {}/wecom/cgi-bin/webhook/send?key=WKEY\n",
        r.base
    ));
    let m = sample(&good);
    r.next("wecom", "code:45009,500,429").await;
    let e = good.send(&m).await.unwrap_err();
    assert!(matches!(e, SendError::RateLimited { .. }) && e.to_string().contains("45009"));
    assert!(matches!(
        good.send(&m).await,
        Err(SendError::Transient { .. })
    ));
    assert!(matches!(
        good.send(&m).await,
        Err(SendError::RateLimited { .. })
    ));
    good.send(&m).await.unwrap();
    let bad = notifier(&format!(
        "type: wecom\nurl: {}/wecom/cgi-bin/webhook/send?key=OTHER\n",
        r.base
    ));
    let e = bad.send(&m).await.unwrap_err();
    assert!(e.is_permanent() && e.to_string().contains("93000"), "{e}");
    assert!(!e.to_string().contains("OTHER"));
}

fn wecom_app(r: &Receiver, extra: &str) -> Notifier {
    notifier(&format!(
        "type: wecom_app\napi: {}\ncorpid: ww-corp\nsecret: APPSECRET\nagentid: 1000002\n\
         touser: ops|sec\nlanguage: zh-CN\n{extra}",
        r.base
    ))
}

#[tokio::test]
async fn wecom_app_caches_the_token_and_refreshes_it_once_when_expired() {
    let r = Receiver::start(&[]);
    let n = wecom_app(&r, "");
    let m = sample(&n);
    n.send(&m).await.unwrap();
    n.send(&m).await.unwrap();
    let gets = |reqs: &[Value]| {
        reqs.iter()
            .filter(|q| q["path"] == "/cgi-bin/gettoken")
            .count()
    };
    let reqs = r.requests("wecom_app").await;
    assert_eq!(gets(&reqs), 1, "one token for two sends: {reqs:?}");
    let send = reqs.last().unwrap();
    assert_eq!(send["query"]["access_token"], "tok-1");
    assert_eq!(send["body"]["agentid"], 1000002);
    assert_eq!(send["body"]["msgtype"], "markdown");
    assert_eq!(send["body"]["touser"], "ops|sec");
    assert!(send["body"]["markdown"]["content"]
        .as_str()
        .unwrap()
        .contains("【SSH 登录】"));

    // The token expires early: one 42001, one new token, the send goes through.
    r.next("wecom_app", "expire").await;
    n.send(&m).await.unwrap();
    let reqs = r.requests("wecom_app").await;
    assert_eq!(gets(&reqs), 2);
    let tail: Vec<&Value> = reqs[reqs.len() - 3..].iter().collect();
    assert!(
        tail[0]["verdict"].as_str().unwrap().starts_with("42001"),
        "{tail:?}"
    );
    assert_eq!(tail[1]["path"], "/cgi-bin/gettoken");
    assert_eq!(tail[2]["query"]["access_token"], "tok-2");
    assert_eq!(tail[2]["verdict"], "ok");
    n.send(&m).await.unwrap();
    assert_eq!(gets(&r.requests("wecom_app").await), 2);
    // Neither the secret nor the cached token shows in Debug.
    let shown = format!("{n:?}");
    assert!(
        !shown.contains("APPSECRET") && !shown.contains("tok-2"),
        "{shown}"
    );

    // A wrong secret: permanent, and never in the error.
    let bad = notifier(&format!(
        "type: wecom_app\napi: {}\ncorpid: ww-corp\nsecret: WRONGSECRET\nagentid: 1000002\ntouser: '@all'\n",
        r.base
    ));
    let e = bad.send(&m).await.unwrap_err();
    assert!(e.is_permanent() && e.to_string().contains("40001"), "{e}");
    assert!(!e.to_string().contains("WRONGSECRET") && !format!("{e:?}").contains("WRONGSECRET"));
    // Throttled by WeCom.
    r.next("wecom_app", "code:45009").await;
    assert!(matches!(
        n.send(&m).await,
        Err(SendError::RateLimited { .. })
    ));
}

#[tokio::test]
async fn wecom_app_messages_the_owner_by_network_or_host() {
    let r = Receiver::start(&[]);
    let n = wecom_app(
        &r,
        "format: text\nowners:\n  - {match: 10.20.0.0/16, user: alice}\n  - {match: web01, user: bob}\n  \
         - {match: '*.db.example', user: carol}\n  - {match: '2001:db8::/32', user: dave}\n",
    );
    let cases = [
        // Both the network and the host match: the first entry wins.
        (
            alert_with(|a| a["source"]["ip"] = "10.20.3.4".into()),
            "alice",
        ),
        (alert_with(|_| {}), "bob"),
        (
            alert_with(|a| {
                a["host"]["name"] = "PG1.db.example".into();
                a["source"]["ip"] = "2001:db8:1::5".into();
            }),
            "carol",
        ),
        (
            alert_with(|a| {
                a["host"]["name"] = "other".into();
                a["source"]["ip"] = "2001:db8:1::5".into();
            }),
            "dave",
        ),
        (
            alert_with(|a| a["host"]["name"] = "db.example".into()),
            "ops|sec",
        ),
    ];
    for (alert, want) in &cases {
        n.send(&render(&n, std::slice::from_ref(alert)))
            .await
            .unwrap();
        let req = r.last("wecom_app").await;
        assert_eq!(req["verdict"], "ok", "{req}");
        assert_eq!(req["body"]["touser"], *want, "{alert}");
        assert_eq!(req["body"]["msgtype"], "text");
    }
    // A digest goes to every owner involved.
    let all: Vec<Value> = cases.iter().map(|(a, _)| a.clone()).collect();
    n.send(&render(&n, &all)).await.unwrap();
    assert_eq!(
        r.last("wecom_app").await["body"]["touser"],
        "alice|bob|carol|dave|ops|sec"
    );
}

#[test]
fn config_check_reports_every_error() {
    let errors = check(
        "type: wecom_app\ncorpid: ''\nsecret: s\nagentid: 0\ntouser: 'a b'\napi: ftp://x\n\
         format: card\nowners:\n  - {match: 10.0.0.1/8, user: x}\n  - {match: 10.0.0.300, user: yy}\n  \
         - {match: 'bad host', user: 'p|q'}\n",
    );
    for want in [
        "corpid",
        "agentid 0",
        "touser",
        "api must",
        "format `card`",
        "owners[0]: `10.0.0.1/8` has host bits set",
        "owners[1]",
        "owners[2]: `bad host`",
        "owners[2]: user `p|q`",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "{want} in {errors:?}"
        );
    }
    let errors = check("type: dingtalk\nurl: oapi.dingtalk.com\nformat: card\nat_mobiles: [x]\n");
    assert_eq!(errors.len(), 3, "{errors:?}");
    let errors = check("type: feishu\nurl: x\nformat: markdown\n");
    assert_eq!(errors.len(), 2, "{errors:?}");
    let errors = check("type: wecom\nurl: x\nformat: news\n");
    assert_eq!(errors.len(), 2, "{errors:?}");
    // Unknown keys are errors.
    assert!(serde_saphyr::from_str::<NotifierConfig>("type: wecom\nurl: x\nkey: y\n").is_err());
    // Defaults: the service's own rates.
    let n = Notifier::build(
        "f",
        &serde_saphyr::from_str::<NotifierConfig>(
            "type: lark\nurl: https://open.larksuite.com/open-apis/bot/v2/hook/x\n",
        )
        .unwrap(),
        Language::En,
    )
    .unwrap();
    assert_eq!(n.rates.len(), 2);
    assert_eq!(n.rates[0].to_string(), "5/1s");
    assert_eq!(n.rates[1].to_string(), "100/60s");
}
