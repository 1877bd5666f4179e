//! Message templates (minijinja, the one template syntax of logward), with built-in wording
//! in English and Simplified Chinese.
//!
//! Four forms per message — `title`, `text`, `markdown`, `html` — each notifier uses the ones
//! its service shows. A notifier may override any of them. The context (see
//! [`crate::message`]) holds the alert's whole ECS JSON as `alert` (and a Windows event's
//! `winlog`), shortcuts (`rule`, `severity`, `host`, `time`, `source`, `user`, `method`,
//! `windows`), `count` (a deduplicated alert seen N times) and, for a digest,
//! `digest: true` with the folded `alerts`.

use std::collections::BTreeMap;

use minijinja::Environment;
use serde::Serialize;

use crate::config::Language;

/// The four forms a message is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Form {
    Title,
    Text,
    Markdown,
    Html,
}

impl Form {
    pub const ALL: [Form; 4] = [Form::Title, Form::Text, Form::Markdown, Form::Html];

    pub fn name(self) -> &'static str {
        match self {
            Form::Title => "title",
            Form::Text => "text",
            Form::Markdown => "markdown",
            Form::Html => "html",
        }
    }
}

const EN_TITLE: &str = "{% if digest %}[{{ severity|upper }}] logward: {{ alerts|length }} alerts ({{ total }} events){% if hosts %} on {{ hosts|join(\", \") }}{% endif %}{% else %}[{{ severity|upper }}] {{ rule.name }}{% if host %} on {{ host }}{% endif %}{% if count > 1 %} (x{{ count }}){% endif %}{% endif %}";

const EN_TEXT: &str = r#"{% macro one(a) -%}
{{ a.time }} [{{ a.severity|upper }}] {{ a.rule.name }} ({{ a.rule.id }}){% if a.count > 1 %} x{{ a.count }}{% if a.last_time %}, last at {{ a.last_time }}{% endif %}{% endif %}
{{ a.message }}
{%- if a.host %}
Host: {{ a.host }}{% endif %}
{%- if a.source %}
Source: {{ a.source }}{% endif %}
{%- if a.target_user %}
Account: {{ a.target_user }}{% if a.user %}
By: {{ a.user }}{% endif %}
{%- elif a.user %}
User: {{ a.user }}{% endif %}
{%- if a.windows %}
Windows event: {{ a.windows.channel }} {{ a.windows.event_id }}
{%- if a.windows.logon_type %}
Logon type: {{ a.windows.logon_type }}{% endif %}
{%- if a.windows.workstation %}
Workstation: {{ a.windows.workstation }}{% endif %}{% endif %}
{%- if a.dns %}
Client: {{ a.dns.client or "?" }}{% if a.dns.owner %} (owner: {{ a.dns.owner }}){% endif %}
Domain: {{ a.dns.domain }}{% if a.dns.qtype %} ({{ a.dns.qtype }}){% endif %}
{%- if a.dns.list %}
List: {{ a.dns.list }}{% if a.dns.list_entry %} ({{ a.dns.list_entry }}){% endif %}{% endif %}
{%- if a.dns.verdict %}
Intel API verdict: {{ a.dns.verdict }}{% endif %}
Answer: {{ a.dns.answer or a.dns.rcode or "(no reply seen)" }}
{%- if a.dns.reasons %}
Why: {{ a.dns.reasons|join("; ") }}{% endif %}{% endif %}
{%- if a.method %}
Method: {{ a.method }}{% endif %}
{%- if a.fingerprint %}
Key: {{ a.fingerprint }}{% endif %}
{%- if a.score is not none %}
Anomaly score: {{ a.score }}{% if a.reasons %} ({{ a.reasons|join(", ") }}){% endif %}{% endif %}
{%- if a.analysis %}
LLM opinion (advisory, not a verdict): {{ a.analysis }}{% endif %}
{%- if a.link %}
Dashboard: {{ a.link }}{% endif %}
{%- endmacro -%}
{% if digest %}{{ alerts|length }} alerts, {{ total }} events
{%- if users %}
Users: {{ users|join(", ") }}{% endif %}
{%- if sources %}
Sources: {{ sources|join(", ") }}{% endif %}
{%- if hosts %}
Hosts: {{ hosts|join(", ") }}{% endif %}
{% for a in alerts %}
{{ one(a) }}
{% endfor %}{% else %}{{ one(this) }}{% endif %}"#;

const EN_MARKDOWN: &str = r#"{% macro one(a) -%}
{{ a.message }}

- Time: {{ a.time }}{% if a.count > 1 %} (x{{ a.count }}{% if a.last_time %}, last at {{ a.last_time }}{% endif %}){% endif %}
{%- if a.host %}
- Host: {{ a.host }}{% endif %}
{%- if a.source %}
- Source: `{{ a.source }}`{% endif %}
{%- if a.target_user %}
- Account: `{{ a.target_user }}`{% if a.user %}
- By: `{{ a.user }}`{% endif %}
{%- elif a.user %}
- User: `{{ a.user }}`{% endif %}
{%- if a.windows %}
- Windows event: {{ a.windows.channel }} {{ a.windows.event_id }}
{%- if a.windows.logon_type %}
- Logon type: {{ a.windows.logon_type }}{% endif %}
{%- if a.windows.workstation %}
- Workstation: `{{ a.windows.workstation }}`{% endif %}{% endif %}
{%- if a.dns %}
- Client: `{{ a.dns.client or "?" }}`{% if a.dns.owner %} (owner: {{ a.dns.owner }}){% endif %}
- Domain: `{{ a.dns.domain }}`{% if a.dns.qtype %} ({{ a.dns.qtype }}){% endif %}
{%- if a.dns.list %}
- List: {{ a.dns.list }}{% if a.dns.list_entry %} (`{{ a.dns.list_entry }}`){% endif %}{% endif %}
{%- if a.dns.verdict %}
- Intel API verdict: {{ a.dns.verdict }}{% endif %}
- Answer: {{ a.dns.answer or a.dns.rcode or "(no reply seen)" }}
{%- if a.dns.reasons %}
- Why: {{ a.dns.reasons|join("; ") }}{% endif %}{% endif %}
{%- if a.method %}
- Method: {{ a.method }}{% endif %}
{%- if a.fingerprint %}
- Key: `{{ a.fingerprint }}`{% endif %}
{%- if a.score is not none %}
- Anomaly score: {{ a.score }}{% if a.reasons %} ({{ a.reasons|join(", ") }}){% endif %}{% endif %}
{%- if a.analysis %}
- LLM opinion (advisory, not a verdict): {{ a.analysis }}{% endif %}
{%- if a.link %}
- [Open in the dashboard]({{ a.link }}){% endif %}
{%- endmacro -%}
{% if digest %}### [{{ severity|upper }}] {{ alerts|length }} alerts ({{ total }} events)
{%- if users %}
- Users: {{ users|join(", ") }}{% endif %}
{%- if sources %}
- Sources: {{ sources|join(", ") }}{% endif %}
{%- if hosts %}
- Hosts: {{ hosts|join(", ") }}{% endif %}
{% for a in alerts %}
**{{ a.rule.name }}**{% if a.count > 1 %} ×{{ a.count }}{% endif %} · {{ a.severity }}

{{ one(a) }}
{% endfor %}{% else %}### [{{ severity|upper }}] {{ rule.name }}

{{ one(this) }}{% endif %}"#;

const EN_HTML: &str = r#"{% macro one(a) -%}
<h3>{{ a.rule.name }}{% if a.count > 1 %} &times;{{ a.count }}{% endif %} <small>({{ a.severity }})</small></h3>
<p>{{ a.message }}</p>
<table>
<tr><th align="left">Time</th><td>{{ a.time }}{% if a.last_time %} (last at {{ a.last_time }}){% endif %}</td></tr>
{%- if a.host %}<tr><th align="left">Host</th><td>{{ a.host }}</td></tr>{% endif %}
{%- if a.source %}<tr><th align="left">Source</th><td>{{ a.source }}</td></tr>{% endif %}
{%- if a.target_user %}<tr><th align="left">Account</th><td>{{ a.target_user }}</td></tr>{% if a.user %}<tr><th align="left">By</th><td>{{ a.user }}</td></tr>{% endif %}
{%- elif a.user %}<tr><th align="left">User</th><td>{{ a.user }}</td></tr>{% endif %}
{%- if a.windows %}<tr><th align="left">Windows event</th><td>{{ a.windows.channel }} {{ a.windows.event_id }}</td></tr>
{%- if a.windows.logon_type %}<tr><th align="left">Logon type</th><td>{{ a.windows.logon_type }}</td></tr>{% endif %}
{%- if a.windows.workstation %}<tr><th align="left">Workstation</th><td>{{ a.windows.workstation }}</td></tr>{% endif %}{% endif %}
{%- if a.dns %}<tr><th align="left">Client</th><td>{{ a.dns.client or "?" }}{% if a.dns.owner %} (owner: {{ a.dns.owner }}){% endif %}</td></tr><tr><th align="left">Domain</th><td>{{ a.dns.domain }}{% if a.dns.qtype %} ({{ a.dns.qtype }}){% endif %}</td></tr>
{%- if a.dns.list %}<tr><th align="left">List</th><td>{{ a.dns.list }}{% if a.dns.list_entry %} ({{ a.dns.list_entry }}){% endif %}</td></tr>{% endif %}
{%- if a.dns.verdict %}<tr><th align="left">Intel API verdict</th><td>{{ a.dns.verdict }}</td></tr>{% endif %}<tr><th align="left">Answer</th><td>{{ a.dns.answer or a.dns.rcode or "(no reply seen)" }}</td></tr>
{%- if a.dns.reasons %}<tr><th align="left">Why</th><td>{{ a.dns.reasons|join("; ") }}</td></tr>{% endif %}{% endif %}
{%- if a.method %}<tr><th align="left">Method</th><td>{{ a.method }}</td></tr>{% endif %}
{%- if a.fingerprint %}<tr><th align="left">Key</th><td>{{ a.fingerprint }}</td></tr>{% endif %}
{%- if a.score is not none %}<tr><th align="left">Anomaly score</th><td>{{ a.score }}{% if a.reasons %} ({{ a.reasons|join(", ") }}){% endif %}</td></tr>{% endif %}
{%- if a.analysis %}<tr><th align="left">LLM opinion (advisory, not a verdict)</th><td>{{ a.analysis }}</td></tr>{% endif %}
{%- if a.link %}<tr><th align="left">Dashboard</th><td><a href="{{ a.link }}">{{ a.link }}</a></td></tr>{% endif %}
</table>
{%- endmacro -%}
<html><body>
{% if digest %}<h2>[{{ severity|upper }}] {{ alerts|length }} alerts ({{ total }} events)</h2>
<p>{% if users %}Users: {{ users|join(", ") }}<br>{% endif %}{% if sources %}Sources: {{ sources|join(", ") }}<br>{% endif %}{% if hosts %}Hosts: {{ hosts|join(", ") }}{% endif %}</p>
{% for a in alerts %}{{ one(a) }}
{% endfor %}{% else %}{{ one(this) }}{% endif %}
</body></html>"#;

const ZH_TITLE: &str = "{% if digest %}【logward】{{ severity_zh }} {{ alerts|length }} 条告警（共 {{ total }} 次）{% if hosts %} {{ hosts|join(\"、\") }}{% endif %}{% else %}【{{ rule.name_zh }}】{% if host %}{{ host }} {% endif %}{{ severity_zh }}{% if count > 1 %}（{{ count }} 次）{% endif %}{% endif %}";

const ZH_TEXT: &str = r#"{% macro one(a) -%}
【{{ a.rule.name_zh }}】{% if a.count > 1 %}（{{ a.count }} 次{% if a.last_time %}，最近一次 {{ a.last_time }}{% endif %}）{% endif %}
时间：{{ a.time }}
级别：{{ a.severity_zh }}
{%- if a.source %}
来源 IP：{{ a.source }}{% endif %}
{%- if a.dns %}
客户端：{{ a.dns.client or "?" }}{% if a.dns.owner %}（负责人：{{ a.dns.owner }}）{% endif %}
域名：{{ a.dns.domain }}{% if a.dns.qtype %}（{{ a.dns.qtype }}）{% endif %}
{%- if a.dns.list %}
威胁名单：{{ a.dns.list }}{% if a.dns.list_entry %}（{{ a.dns.list_entry }}）{% endif %}{% endif %}
{%- if a.dns.verdict %}
情报接口判定：{{ a.dns.verdict }}{% endif %}
解析结果：{{ a.dns.answer or a.dns.rcode or "（未见应答）" }}
{%- if a.dns.reasons %}
原因：{{ a.dns.reasons|join("；") }}{% endif %}{% endif %}
{%- if a.method %}
认证方式：{{ a.method }}{% endif %}
{%- if a.fingerprint %}
密钥指纹：{{ a.fingerprint }}{% endif %}
{%- if a.target_user %}
账户：{{ a.target_user }}{% if a.user %}
操作者：{{ a.user }}{% endif %}
{%- elif a.user %}
用户：{{ a.user }}{% endif %}
{%- if a.windows %}
Windows 事件：{{ a.windows.channel }} {{ a.windows.event_id }}
{%- if a.windows.logon_type %}
登录类型：{{ a.windows.logon_type_zh or a.windows.logon_type }}{% endif %}
{%- if a.windows.workstation %}
工作站：{{ a.windows.workstation }}{% endif %}{% endif %}
{%- if a.host %}
主机：{{ a.host }}{% endif %}
{%- if a.score is not none %}
异常评分：{{ a.score }}{% if a.reasons %}（{{ a.reasons|join("，") }}）{% endif %}{% endif %}
{%- if a.analysis %}
LLM 意见（仅供参考，并非结论）：{{ a.analysis }}{% endif %}
详情：{{ a.message_zh }}
{%- if a.link %}
查看：{{ a.link }}{% endif %}
{%- endmacro -%}
{% if digest %}{{ alerts|length }} 条告警，共 {{ total }} 次
{%- if users %}
用户：{{ users|join("、") }}{% endif %}
{%- if sources %}
来源 IP：{{ sources|join("、") }}{% endif %}
{%- if hosts %}
主机：{{ hosts|join("、") }}{% endif %}
{% for a in alerts %}
{{ one(a) }}
{% endfor %}{% else %}{{ one(this) }}{% endif %}"#;

const ZH_MARKDOWN: &str = r#"{% macro one(a) -%}
- 时间：{{ a.time }}{% if a.count > 1 %}（{{ a.count }} 次{% if a.last_time %}，最近一次 {{ a.last_time }}{% endif %}）{% endif %}
{%- if a.source %}
- 来源 IP：`{{ a.source }}`{% endif %}
{%- if a.dns %}
- 客户端：`{{ a.dns.client or "?" }}`{% if a.dns.owner %}（负责人：{{ a.dns.owner }}）{% endif %}
- 域名：`{{ a.dns.domain }}`{% if a.dns.qtype %}（{{ a.dns.qtype }}）{% endif %}
{%- if a.dns.list %}
- 威胁名单：{{ a.dns.list }}{% if a.dns.list_entry %}（`{{ a.dns.list_entry }}`）{% endif %}{% endif %}
{%- if a.dns.verdict %}
- 情报接口判定：{{ a.dns.verdict }}{% endif %}
- 解析结果：{{ a.dns.answer or a.dns.rcode or "（未见应答）" }}
{%- if a.dns.reasons %}
- 原因：{{ a.dns.reasons|join("；") }}{% endif %}{% endif %}
{%- if a.method %}
- 认证方式：{{ a.method }}{% endif %}
{%- if a.fingerprint %}
- 密钥指纹：`{{ a.fingerprint }}`{% endif %}
{%- if a.target_user %}
- 账户：`{{ a.target_user }}`{% if a.user %}
- 操作者：`{{ a.user }}`{% endif %}
{%- elif a.user %}
- 用户：`{{ a.user }}`{% endif %}
{%- if a.windows %}
- Windows 事件：{{ a.windows.channel }} {{ a.windows.event_id }}
{%- if a.windows.logon_type %}
- 登录类型：{{ a.windows.logon_type_zh or a.windows.logon_type }}{% endif %}
{%- if a.windows.workstation %}
- 工作站：`{{ a.windows.workstation }}`{% endif %}{% endif %}
{%- if a.host %}
- 主机：{{ a.host }}{% endif %}
{%- if a.score is not none %}
- 异常评分：{{ a.score }}{% if a.reasons %}（{{ a.reasons|join("，") }}）{% endif %}{% endif %}
{%- if a.analysis %}
- LLM 意见（仅供参考，并非结论）：{{ a.analysis }}{% endif %}
- 详情：{{ a.message_zh }}
{%- if a.link %}
- [在控制台查看]({{ a.link }}){% endif %}
{%- endmacro -%}
{% if digest %}### 【{{ severity_zh }}】{{ alerts|length }} 条告警（共 {{ total }} 次）
{%- if users %}
- 用户：{{ users|join("、") }}{% endif %}
{%- if sources %}
- 来源 IP：{{ sources|join("、") }}{% endif %}
{%- if hosts %}
- 主机：{{ hosts|join("、") }}{% endif %}
{% for a in alerts %}
**【{{ a.rule.name_zh }}】**{% if a.count > 1 %}（{{ a.count }} 次）{% endif %} {{ a.severity_zh }}

{{ one(a) }}
{% endfor %}{% else %}### 【{{ rule.name_zh }}】{{ severity_zh }}

{{ one(this) }}{% endif %}"#;

const ZH_HTML: &str = r#"{% macro one(a) -%}
<h3>【{{ a.rule.name_zh }}】{% if a.count > 1 %}（{{ a.count }} 次）{% endif %} <small>{{ a.severity_zh }}</small></h3>
<table>
<tr><th align="left">时间</th><td>{{ a.time }}{% if a.last_time %}（最近一次 {{ a.last_time }}）{% endif %}</td></tr>
{%- if a.source %}<tr><th align="left">来源 IP</th><td>{{ a.source }}</td></tr>{% endif %}
{%- if a.dns %}<tr><th align="left">客户端</th><td>{{ a.dns.client or "?" }}{% if a.dns.owner %}（负责人：{{ a.dns.owner }}）{% endif %}</td></tr><tr><th align="left">域名</th><td>{{ a.dns.domain }}{% if a.dns.qtype %}（{{ a.dns.qtype }}）{% endif %}</td></tr>
{%- if a.dns.list %}<tr><th align="left">威胁名单</th><td>{{ a.dns.list }}{% if a.dns.list_entry %}（{{ a.dns.list_entry }}）{% endif %}</td></tr>{% endif %}
{%- if a.dns.verdict %}<tr><th align="left">情报接口判定</th><td>{{ a.dns.verdict }}</td></tr>{% endif %}<tr><th align="left">解析结果</th><td>{{ a.dns.answer or a.dns.rcode or "（未见应答）" }}</td></tr>
{%- if a.dns.reasons %}<tr><th align="left">原因</th><td>{{ a.dns.reasons|join("；") }}</td></tr>{% endif %}{% endif %}
{%- if a.method %}<tr><th align="left">认证方式</th><td>{{ a.method }}</td></tr>{% endif %}
{%- if a.fingerprint %}<tr><th align="left">密钥指纹</th><td>{{ a.fingerprint }}</td></tr>{% endif %}
{%- if a.target_user %}<tr><th align="left">账户</th><td>{{ a.target_user }}</td></tr>{% if a.user %}<tr><th align="left">操作者</th><td>{{ a.user }}</td></tr>{% endif %}
{%- elif a.user %}<tr><th align="left">用户</th><td>{{ a.user }}</td></tr>{% endif %}
{%- if a.windows %}<tr><th align="left">Windows 事件</th><td>{{ a.windows.channel }} {{ a.windows.event_id }}</td></tr>
{%- if a.windows.logon_type %}<tr><th align="left">登录类型</th><td>{{ a.windows.logon_type_zh or a.windows.logon_type }}</td></tr>{% endif %}
{%- if a.windows.workstation %}<tr><th align="left">工作站</th><td>{{ a.windows.workstation }}</td></tr>{% endif %}{% endif %}
{%- if a.host %}<tr><th align="left">主机</th><td>{{ a.host }}</td></tr>{% endif %}
{%- if a.score is not none %}<tr><th align="left">异常评分</th><td>{{ a.score }}{% if a.reasons %}（{{ a.reasons|join("，") }}）{% endif %}</td></tr>{% endif %}
{%- if a.analysis %}<tr><th align="left">LLM 意见（仅供参考，并非结论）</th><td>{{ a.analysis }}</td></tr>{% endif %}
<tr><th align="left">详情</th><td>{{ a.message_zh }}</td></tr>
{%- if a.link %}<tr><th align="left">查看</th><td><a href="{{ a.link }}">{{ a.link }}</a></td></tr>{% endif %}
</table>
{%- endmacro -%}
<html><body>
{% if digest %}<h2>【{{ severity_zh }}】{{ alerts|length }} 条告警（共 {{ total }} 次）</h2>
<p>{% if users %}用户：{{ users|join("、") }}<br>{% endif %}{% if sources %}来源 IP：{{ sources|join("、") }}<br>{% endif %}{% if hosts %}主机：{{ hosts|join("、") }}{% endif %}</p>
{% for a in alerts %}{{ one(a) }}
{% endfor %}{% else %}{{ one(this) }}{% endif %}
</body></html>"#;

fn builtin(lang: Language, form: Form) -> &'static str {
    match (lang, form) {
        (Language::En, Form::Title) => EN_TITLE,
        (Language::En, Form::Text) => EN_TEXT,
        (Language::En, Form::Markdown) => EN_MARKDOWN,
        (Language::En, Form::Html) => EN_HTML,
        (Language::ZhCn, Form::Title) => ZH_TITLE,
        (Language::ZhCn, Form::Text) => ZH_TEXT,
        (Language::ZhCn, Form::Markdown) => ZH_MARKDOWN,
        (Language::ZhCn, Form::Html) => ZH_HTML,
    }
}

/// A template that does not compile, for the config's error report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template `{form}`: {detail}")]
pub struct TemplateError {
    pub form: &'static str,
    pub detail: String,
}

/// One notifier's templates: the built-in ones of its language, with its overrides.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Compiles the built-ins of `lang` with `overrides` (form name → template source) on top.
    pub fn new(
        lang: Language,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        // Text for chat robots and mail bodies; HTML escaping only in the html form.
        env.set_auto_escape_callback(|name| {
            if name == "html" {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for form in Form::ALL {
            let src = overrides
                .get(form.name())
                .cloned()
                .unwrap_or_else(|| builtin(lang, form).to_owned());
            env.add_template_owned(form.name(), src)
                .map_err(|e| TemplateError {
                    form: form.name(),
                    detail: e.to_string(),
                })?;
        }
        Ok(Templates { env })
    }

    /// Renders one form. A template that fails at render time (a filter on the wrong type)
    /// yields the error text rather than no message: the alert still goes out.
    pub fn render<S: Serialize>(&self, form: Form, ctx: &S) -> String {
        let r = self
            .env
            .get_template(form.name())
            .and_then(|t| t.render(ctx));
        match r {
            Ok(s) => s.trim().to_owned(),
            Err(e) => {
                tracing::warn!(form = form.name(), error = %e, "a notification template failed");
                format!("(template {} failed: {e})", form.name())
            }
        }
    }
}

/// The forms a message's override may name.
pub fn is_form(name: &str) -> bool {
    Form::ALL.iter().any(|f| f.name() == name)
}
