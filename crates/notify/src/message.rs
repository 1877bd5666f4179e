//! A message: one alert (seen `count` times within the dedup window) or a digest of several,
//! rendered in the four [`Form`]s by a notifier's [`Templates`].

use logward_core::Severity;
use serde::Serialize;
use serde_json::Value;

use crate::template::{Form, Templates};

/// One alert as the templates see it: shortcuts to what every message shows, and the whole
/// ECS JSON as `alert` for anything else.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `@timestamp` in the host's local time zone, `YYYY-MM-DD HH:MM:SS +hh:mm`.
    pub time: String,
    pub severity: &'static str,
    pub severity_zh: &'static str,
    #[serde(skip)]
    pub level: Severity,
    pub rule: Rule,
    pub message: String,
    pub host: Option<String>,
    /// `source.ip`, else `source.address`.
    pub source: Option<String>,
    pub user: Option<String>,
    /// `logward.auth.method` (password, publickey …).
    pub method: Option<String>,
    /// `logward.anomaly.score` and its reasons, when the anomaly detector scored the login.
    pub score: Option<f64>,
    pub reasons: Vec<String>,
    /// `logward.llm.analysis`, when an LLM gave a second opinion.
    pub analysis: Option<String>,
    /// How many times this alert was raised within the dedup window.
    pub count: u32,
    pub alert: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub id: String,
    pub name: String,
    /// The Chinese name of a built-in rule (the English name for others).
    pub name_zh: String,
}

fn severity_zh(s: Severity) -> &'static str {
    match s {
        Severity::Info => "信息",
        Severity::Low => "低",
        Severity::Medium => "中",
        Severity::High => "高",
        Severity::Critical => "严重",
    }
}

/// Chinese names of the built-in rules (the wording of the seed users' alerts).
fn rule_name_zh(id: &str) -> Option<&'static str> {
    Some(match id {
        "ssh-login" => "SSH 登录",
        "root-login" => "root 登录",
        "ssh-bruteforce" => "SSH 暴力破解",
        "ssh-slow-bruteforce" => "SSH 慢速暴力破解",
        "ssh-user-enumeration" => "SSH 用户名探测",
        "ssh-distributed-bruteforce" => "SSH 分布式暴力破解",
        "ssh-login-after-failures" => "多次失败后 SSH 登录成功",
        "ssh-login-burst" => "SSH 登录过于频繁",
        "account-created" => "新建账户",
        "account-deleted" => "删除账户",
        "account-modified" => "修改账户",
        "group-membership-changed" => "用户组变更",
        "password-changed" => "修改密码",
        "sudo-failure" => "sudo 失败",
        "sudo-not-in-sudoers" => "非 sudoers 用户尝试 sudo",
        "su-root" => "su 切换到 root",
        "user-logout" => "用户登出",
        "ban-failed" => "封禁失败",
        "logward-test" => "logward 测试",
        _ => return None,
    })
}

fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn local_time(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M:%S %:z")
            .to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

impl Item {
    /// From an alert's stored JSON.
    pub fn from_json(alert: Value, count: u32) -> Item {
        let level = text(&alert, &["logward", "severity"])
            .and_then(|s| Severity::parse(&s))
            .or_else(|| {
                alert
                    .pointer("/event/severity")
                    .and_then(Value::as_u64)
                    .and_then(|c| Severity::from_code(u8::try_from(c).ok()?))
            })
            .unwrap_or_default();
        let id = text(&alert, &["rule", "id"]).unwrap_or_else(|| "alert".into());
        let name = text(&alert, &["rule", "name"]).unwrap_or_else(|| id.clone());
        let name_zh = rule_name_zh(&id).map_or_else(|| name.clone(), str::to_owned);
        let anomaly = alert.pointer("/logward/anomaly");
        Item {
            time: text(&alert, &["@timestamp"])
                .map(|t| local_time(&t))
                .unwrap_or_default(),
            severity: level.as_str(),
            severity_zh: severity_zh(level),
            level,
            rule: Rule { id, name, name_zh },
            message: text(&alert, &["message"]).unwrap_or_default(),
            host: text(&alert, &["host", "name"]),
            source: text(&alert, &["source", "ip"])
                .or_else(|| text(&alert, &["source", "address"])),
            user: text(&alert, &["user", "name"]),
            method: text(&alert, &["logward", "auth", "method"]),
            score: anomaly.and_then(|a| a.get("score")).and_then(Value::as_f64),
            reasons: anomaly
                .and_then(|a| a.get("reasons"))
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            analysis: text(&alert, &["logward", "llm", "analysis"]),
            count: count.max(1),
            alert,
        }
    }
}

#[derive(Serialize)]
struct Context<'a> {
    digest: bool,
    /// Events in the message (the sum of the counts).
    total: u64,
    alerts: &'a [Item],
    this: &'a Item,
    /// The (first) alert's whole ECS JSON.
    alert: &'a Value,
    rule: &'a Rule,
    severity: &'static str,
    severity_zh: &'static str,
    host: Option<&'a str>,
    count: u32,
}

/// A rendered message, ready for any notifier.
#[derive(Debug, Clone)]
pub struct Message {
    pub title: String,
    pub text: String,
    pub markdown: String,
    pub html: String,
    /// The highest severity in the message.
    pub severity: Severity,
    /// The alerts as JSON: the alert itself for one, `{"digest": true, "count": N,
    /// "alerts": [...]}` for a digest (webhook bodies, syslog and file lines).
    pub json: Value,
    /// Stable across retries of the same delivery: receivers drop repeats by it.
    pub idempotency_key: String,
    /// Alerts folded in.
    pub alerts: usize,
}

impl Message {
    /// Renders `items` (one alert, or a digest of several) with `t`.
    pub fn render(items: &[Item], t: &Templates, idempotency_key: String) -> Option<Message> {
        let first = items.first()?;
        let severity = items.iter().map(|i| i.level).max().unwrap_or_default();
        let digest = items.len() > 1;
        let host = first
            .host
            .as_deref()
            .filter(|h| items.iter().all(|i| i.host.as_deref() == Some(*h)));
        let ctx = Context {
            digest,
            total: items.iter().map(|i| u64::from(i.count)).sum(),
            alerts: items,
            this: first,
            alert: &first.alert,
            rule: &first.rule,
            severity: severity.as_str(),
            severity_zh: severity_zh(severity),
            host,
            count: first.count,
        };
        let json = if digest {
            serde_json::json!({
                "digest": true,
                "count": ctx.total,
                "alerts": items.iter().map(|i| with_count(&i.alert, i.count)).collect::<Vec<_>>(),
            })
        } else {
            with_count(&first.alert, first.count)
        };
        Some(Message {
            title: t.render(Form::Title, &ctx),
            text: t.render(Form::Text, &ctx),
            markdown: t.render(Form::Markdown, &ctx),
            html: t.render(Form::Html, &ctx),
            severity,
            json,
            idempotency_key,
            alerts: items.len(),
        })
    }
}

/// The alert with `logward.count` set when it was seen more than once.
fn with_count(alert: &Value, count: u32) -> Value {
    let mut a = alert.clone();
    if count > 1 {
        if let Some(obj) = a.as_object_mut() {
            let lw = obj
                .entry("logward")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(lw) = lw.as_object_mut() {
                lw.insert("count".into(), Value::from(count));
            }
        }
    }
    a
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::Language;
    use std::collections::BTreeMap;

    const ALERT: &str = r#"{"@timestamp":"2026-11-22T10:05:22Z","message":"alice logged in over SSH from 192.0.2.10 (publickey)","event":{"severity":1,"kind":"alert"},"host":{"name":"web01"},"source":{"address":"192.0.2.10","ip":"192.0.2.10"},"user":{"name":"alice"},"logward":{"severity":"info","auth":{"method":"publickey"}},"rule":{"id":"ssh-login","name":"SSH login"}}"#;

    fn item(count: u32) -> Item {
        Item::from_json(serde_json::from_str(ALERT).unwrap(), count)
    }

    #[test]
    fn one_alert_in_english_and_chinese() {
        let en = Templates::new(Language::En, &BTreeMap::new()).unwrap();
        let m = Message::render(&[item(1)], &en, "k".into()).unwrap();
        assert_eq!(m.title, "[INFO] SSH login on web01");
        assert!(m.text.contains("User: alice"), "{}", m.text);
        assert!(m.text.contains("Source: 192.0.2.10"));
        assert!(m.markdown.contains("- Method: publickey"), "{}", m.markdown);
        assert!(m.html.contains("<td>alice</td>"), "{}", m.html);
        let zh = Templates::new(Language::ZhCn, &BTreeMap::new()).unwrap();
        let m = Message::render(&[item(3)], &zh, "k".into()).unwrap();
        assert_eq!(m.title, "【SSH 登录】web01 信息（3 次）");
        for want in [
            "来源 IP：192.0.2.10",
            "认证方式：publickey",
            "用户：alice",
            "主机：web01",
        ] {
            assert!(m.text.contains(want), "{want} in {}", m.text);
        }
        assert_eq!(m.json["logward"]["count"], 3);
    }

    #[test]
    fn a_digest_lists_every_alert_and_html_is_escaped() {
        let mut evil = serde_json::from_str::<Value>(ALERT).unwrap();
        evil["user"]["name"] = Value::from("<script>x</script>");
        evil["logward"]["severity"] = Value::from("high");
        let items = [item(2), Item::from_json(evil, 1)];
        let en = Templates::new(Language::En, &BTreeMap::new()).unwrap();
        let m = Message::render(&items, &en, "k".into()).unwrap();
        assert_eq!(m.title, "[logward] 2 alerts (3 events) on web01");
        assert_eq!(m.severity, Severity::High);
        assert!(m.text.contains("x2"), "{}", m.text);
        assert!(m.html.contains("&lt;script&gt;"), "{}", m.html);
        assert!(!m.html.contains("<script>"));
        assert_eq!(m.json["count"], 3);
        assert_eq!(m.json["alerts"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn overrides_replace_a_form() {
        let mut o = BTreeMap::new();
        o.insert(
            "title".to_owned(),
            "{{ rule.id }}/{{ alert.user.name }}".to_owned(),
        );
        let t = Templates::new(Language::En, &o).unwrap();
        let m = Message::render(&[item(1)], &t, "k".into()).unwrap();
        assert_eq!(m.title, "ssh-login/alice");
        o.insert("text".to_owned(), "{% if %}".to_owned());
        assert!(Templates::new(Language::En, &o).is_err());
    }
}
