//! A message: one alert (seen `count` times within the dedup window) or a digest of several,
//! rendered in the four [`Form`]s by a notifier's [`Templates`].

use logward_core::Severity;
use serde::Serialize;
use serde_json::Value;

use crate::template::{Form, Templates};
use crate::zh;

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
    /// The message in Chinese for a built-in rule (else `message`).
    pub message_zh: String,
    pub host: Option<String>,
    /// `source.ip`, else `source.address`.
    pub source: Option<String>,
    pub user: Option<String>,
    /// `user.target.name`: the account a change acted on (`user` is then who acted).
    pub target_user: Option<String>,
    /// `logward.auth.method` (password, publickey …).
    pub method: Option<String>,
    /// `logward.auth.key.fingerprint` of a key login.
    pub fingerprint: Option<String>,
    /// A successful login (`event.action: user-login`, `event.outcome: success`): what an
    /// admin watches for, so never held by a dedup window.
    pub login: bool,
    /// `logward.anomaly.score` and its reasons, when the anomaly detector scored the login.
    pub score: Option<f64>,
    pub reasons: Vec<String>,
    /// `logward.llm.analysis`, when an LLM gave a second opinion.
    pub analysis: Option<String>,
    /// How many times this alert was raised within the dedup window.
    pub count: u32,
    /// The alert's page on the dashboard (`notify.dashboard_url`), when known.
    pub link: Option<String>,
    /// The time of the last of `count` repeats, when there were several.
    pub last_time: Option<String>,
    /// A Windows event's channel, event id, logon type and workstation.
    pub windows: Option<Windows>,
    /// A DNS query's client, name, answer and what the DNS check found.
    pub dns: Option<Dns>,
    pub alert: Value,
}

/// What a message says of a DNS query (`dns.*`, `client.ip`, `logward.dns.*`).
#[derive(Debug, Clone, Serialize)]
pub struct Dns {
    /// `client.ip`.
    pub client: Option<String>,
    /// `dns.question.name`.
    pub domain: String,
    /// `dns.question.type`.
    pub qtype: Option<String>,
    /// The answers: `dns.resolved_ip`, else each answer's data (CNAME targets, TXT …),
    /// joined by `, `; none for a query without its reply or with an empty one.
    pub answer: Option<String>,
    /// `dns.response_code`.
    pub rcode: Option<String>,
    /// `logward.dns.list` and the entry that matched.
    pub list: Option<String>,
    pub list_entry: Option<String>,
    /// `logward.dns.verdict`: the intel API's word.
    pub verdict: Option<String>,
    /// `logward.dns.owner`: whose client it is.
    pub owner: Option<String>,
    /// `logward.dns.reasons`.
    pub reasons: Vec<String>,
}

impl Dns {
    fn from_alert(alert: &Value) -> Option<Dns> {
        let d = alert.get("dns")?;
        let domain = text(d, &["question", "name"])?;
        let strings = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut answers = strings(d.get("resolved_ip"));
        if answers.is_empty() {
            answers = d
                .get("answers")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|x| text(x, &["data"])).collect())
                .unwrap_or_default();
        }
        let answer = distinct(answers.iter().map(String::as_str), 5);
        let intel = alert.pointer("/logward/dns");
        let i = |k: &str| intel.and_then(|x| text(x, &[k]));
        Some(Dns {
            client: text(alert, &["client", "ip"]).or_else(|| text(alert, &["source", "ip"])),
            domain,
            qtype: text(d, &["question", "type"]),
            answer: (!answer.is_empty()).then(|| answer.join(", ")),
            rcode: text(d, &["response_code"]),
            list: i("list"),
            list_entry: i("list_entry"),
            verdict: i("verdict"),
            owner: i("owner"),
            reasons: strings(intel.and_then(|x| x.get("reasons"))),
        })
    }
}

/// What a message says of a Windows event (its `winlog.*` fields); the rest of `winlog` is in
/// `alert.winlog` (and `winlog` in the context of a single alert).
#[derive(Debug, Clone, Serialize)]
pub struct Windows {
    /// `winlog.channel` (`Security` …).
    pub channel: Option<String>,
    /// `winlog.event_id`.
    pub event_id: Option<String>,
    /// `logward.windows.logon_type` (`network`, `remote-interactive` …).
    pub logon_type: Option<String>,
    /// The logon type in Chinese.
    pub logon_type_zh: Option<&'static str>,
    /// Where a logon came from: `winlog.event_data.WorkstationName` (4624/4625), or
    /// `Workstation` (4776).
    pub workstation: Option<String>,
}

impl Windows {
    fn from_alert(alert: &Value) -> Option<Windows> {
        let w = alert.get("winlog")?;
        let logon_type = text(alert, &["logward", "windows", "logon_type"]);
        let workstation = ["WorkstationName", "Workstation"]
            .iter()
            .filter_map(|k| text(w, &["event_data", k]))
            .map(|v| v.trim().to_owned())
            .find(|v| !v.is_empty() && v != "-");
        Some(Windows {
            channel: text(w, &["channel"]),
            event_id: text(w, &["event_id"]),
            logon_type_zh: logon_type.as_deref().and_then(zh::logon_type),
            logon_type,
            workstation,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub id: String,
    pub name: String,
    /// The Chinese name of a built-in rule (the English name for others).
    pub name_zh: String,
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
        let name_zh = zh::rule_name(&id).map_or_else(|| name.clone(), str::to_owned);
        let message = text(&alert, &["message"]).unwrap_or_default();
        let message_zh = zh::message(&id, &alert).unwrap_or_else(|| message.clone());
        let anomaly = alert.pointer("/logward/anomaly");
        Item {
            time: text(&alert, &["@timestamp"])
                .map(|t| local_time(&t))
                .unwrap_or_default(),
            severity: level.as_str(),
            severity_zh: zh::severity(level),
            level,
            rule: Rule { id, name, name_zh },
            message_zh,
            message,
            host: text(&alert, &["host", "name"]),
            source: text(&alert, &["source", "ip"])
                .or_else(|| text(&alert, &["source", "address"])),
            user: text(&alert, &["user", "name"]),
            target_user: text(&alert, &["user", "target", "name"]),
            method: text(&alert, &["logward", "auth", "method"]),
            fingerprint: text(&alert, &["logward", "auth", "key", "fingerprint"]),
            login: text(&alert, &["event", "action"]).as_deref() == Some("user-login")
                && text(&alert, &["event", "outcome"]).as_deref() == Some("success"),
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
            last_time: None,
            link: None,
            windows: Windows::from_alert(&alert),
            dns: Dns::from_alert(&alert),
            alert,
        }
    }

    /// Counts one more repeat of this alert (same rule, source, host and user) raised at the
    /// time of `repeat`'s `@timestamp`.
    pub fn repeat(&mut self, repeat: &Value) {
        self.count = self.count.saturating_add(1);
        if let Some(t) = text(repeat, &["@timestamp"]) {
            self.last_time = Some(local_time(&t));
        }
    }

    /// Whether this alert goes out at once, never held back by a dedup window: a successful
    /// login or a critical alert.
    pub fn immediate(&self) -> bool {
        self.login || self.level >= Severity::Critical
    }
}

/// The distinct `values`, in order; past `max`, the last entry says how many more there are.
fn distinct<'a>(values: impl Iterator<Item = &'a str>, max: usize) -> Vec<String> {
    let mut out: Vec<&str> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    let more = out.len().saturating_sub(max);
    let mut shown: Vec<String> = out.into_iter().take(max).map(str::to_owned).collect();
    if more > 0 {
        shown.push(format!("+{more}"));
    }
    shown
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
    /// Its `winlog` (a Windows event's own fields: `winlog.event_data.X`); undefined else.
    #[serde(skip_serializing_if = "Option::is_none")]
    winlog: Option<&'a Value>,
    rule: &'a Rule,
    severity: &'static str,
    severity_zh: &'static str,
    host: Option<&'a str>,
    count: u32,
    /// What a digest merged: its distinct hosts, users (and accounts acted on) and sources.
    hosts: Vec<String>,
    users: Vec<String>,
    sources: Vec<String>,
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
    /// "severity", "hosts", "users", "sources", "alerts": [...]}` for a digest (webhook
    /// bodies, syslog and file lines).
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
            winlog: first.alert.get("winlog"),
            rule: &first.rule,
            severity: severity.as_str(),
            severity_zh: zh::severity(severity),
            host,
            count: first.count,
            hosts: distinct(items.iter().filter_map(|i| i.host.as_deref()), 5),
            users: distinct(
                items.iter().flat_map(|i| {
                    [i.user.as_deref(), i.target_user.as_deref()]
                        .into_iter()
                        .flatten()
                }),
                10,
            ),
            sources: distinct(items.iter().filter_map(|i| i.source.as_deref()), 10),
        };
        let json = if digest {
            serde_json::json!({
                "digest": true,
                "count": ctx.total,
                "severity": severity.as_str(),
                "hosts": ctx.hosts,
                "users": ctx.users,
                "sources": ctx.sources,
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

impl Message {
    /// The markdown form without its leading heading, for services that show the title in a
    /// header of their own (Slack's header block, a Feishu card's header): the title once.
    pub fn markdown_under_header(&self) -> &str {
        let md = self.markdown.trim_start();
        let first = md.lines().next().unwrap_or("");
        if first.starts_with('#') && first.trim_start_matches('#').starts_with(' ') {
            md[first.len()..].trim_start()
        } else {
            md
        }
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
        // The title carries the highest severity and the hosts; the body names what was
        // merged.
        assert_eq!(m.title, "[HIGH] logward: 2 alerts (3 events) on web01");
        assert!(
            m.text.contains("Users: alice, <script>x</script>"),
            "{}",
            m.text
        );
        assert!(m.text.contains("Sources: 192.0.2.10"), "{}", m.text);
        assert_eq!(m.severity, Severity::High);
        assert!(m.text.contains("x2"), "{}", m.text);
        assert!(m.html.contains("&lt;script&gt;"), "{}", m.html);
        assert!(!m.html.contains("<script>"));
        assert_eq!(m.json["count"], 3);
        assert_eq!(m.json["alerts"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn templates_read_a_windows_events_winlog_fields() {
        let win: Value = serde_json::from_str(
            r#"{"@timestamp":"2026-11-22T10:05:22Z","message":"m","host":{"name":"DC01"},"user":{"name":"administrator"},"logward":{"severity":"high","windows":{"logon_type":"remote-interactive"}},"winlog":{"channel":"Security","event_id":"4624","event_data":{"WorkstationName":"-","Workstation":"WS7","LogonProcessName":"User32"}},"rule":{"id":"r","name":"R"}}"#,
        )
        .unwrap();
        let mut o = BTreeMap::new();
        o.insert(
            "title".to_owned(),
            "{{ winlog.event_data.LogonProcessName }}/{{ this.windows.workstation }}/{{ alert.winlog.event_id }}".to_owned(),
        );
        let t = Templates::new(Language::En, &o).unwrap();
        let m = Message::render(&[Item::from_json(win.clone(), 1)], &t, "k".into()).unwrap();
        // `-` is Windows' "no value": the 4776-style Workstation is taken instead.
        assert_eq!(m.title, "User32/WS7/4624");
        assert!(
            m.text.contains("Logon type: remote-interactive"),
            "{}",
            m.text
        );
        // Not a Windows event: the same template renders, with nothing in those places.
        let m = Message::render(&[item(1)], &t, "k".into()).unwrap();
        assert_eq!(m.title, "//");
        assert!(!m.text.contains("Windows event"), "{}", m.text);
        let zh = Templates::new(Language::ZhCn, &BTreeMap::new()).unwrap();
        let m = Message::render(&[Item::from_json(win, 1)], &zh, "k".into()).unwrap();
        assert!(m.text.contains("登录类型：远程交互式（RDP）"), "{}", m.text);
    }

    #[test]
    fn dns_messages_name_client_owner_domain_list_verdict_and_answer() {
        let hit: Value = serde_json::from_str(
            r#"{"@timestamp":"2026-12-07T02:00:00Z","message":"m","source":{"ip":"10.1.2.3"},"client":{"ip":"10.1.2.3"},"dns":{"question":{"name":"a.evil.test","type":"A"},"response_code":"NOERROR","resolved_ip":["203.0.113.66"]},"logward":{"severity":"high","dns":{"list":"badd-boyz","list_entry":"evil.test","verdict":"malicious","owner":"netops","reasons":["listed by badd-boyz as evil.test"]}},"rule":{"id":"dns-list-hit","name":"DNS query for a listed domain"}}"#,
        )
        .unwrap();
        for (lang, wants) in [
            (
                Language::En,
                [
                    "Client: 10.1.2.3 (owner: netops)",
                    "Domain: a.evil.test (A)",
                    "List: badd-boyz (evil.test)",
                    "Intel API verdict: malicious",
                    "Answer: 203.0.113.66",
                ],
            ),
            (
                Language::ZhCn,
                [
                    "客户端：10.1.2.3（负责人：netops）",
                    "域名：a.evil.test（A）",
                    "威胁名单：badd-boyz（evil.test）",
                    "情报接口判定：malicious",
                    "解析结果：203.0.113.66",
                ],
            ),
        ] {
            let t = Templates::new(lang, &BTreeMap::new()).unwrap();
            let m = Message::render(&[Item::from_json(hit.clone(), 1)], &t, "k".into()).unwrap();
            for w in wants {
                assert!(m.text.contains(w), "{lang:?}: {w} not in {}", m.text);
            }
            assert!(m.markdown.contains("a.evil.test"), "{}", m.markdown);
            assert!(m.html.contains("203.0.113.66"), "{}", m.html);
        }
        // Without the reply: the answer says so.
        let mut q = hit;
        q["dns"] = serde_json::json!({"question": {"name": "x.test"}});
        let t = Templates::new(Language::En, &BTreeMap::new()).unwrap();
        let m = Message::render(&[Item::from_json(q, 1)], &t, "k".into()).unwrap();
        assert!(m.text.contains("Answer: (no reply seen)"), "{}", m.text);
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
