//! The notifiers: one module per service, one [`NotifierConfig`] variant per module (the
//! config's `type:` = the module's name = the variant), static dispatch through [`Notifier`].
//!
//! Every notifier's config takes, besides its own keys, the common ones that
//! [`notifier_config!`] adds: `rate` (its service's limits by default), `language`,
//! `templates` (overrides of the `title`/`text`/`markdown`/`html` forms) and `timeout`.

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::config::Language;
use crate::limit::Rate;
use crate::message::Message;
use crate::template::{is_form, Templates};
use logward_core::duration::parse_duration;
use outcome::{SendError, Sent};

/// Declares a notifier's config struct with the common keys added (strict: unknown keys are
/// errors, which `#[serde(flatten)]` would not allow).
macro_rules! notifier_config {
    ($(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($body)*
            /// Rate limits (`[20/1m]`); the service's own by default.
            #[serde(default)]
            pub rate: Option<Vec<$crate::limit::Rate>>,
            /// The built-in templates' language (the `notify.language` by default).
            #[serde(default)]
            pub language: Option<$crate::config::Language>,
            /// Overrides of the `title`, `text`, `markdown` and `html` templates.
            #[serde(default)]
            pub templates: std::collections::BTreeMap<String, String>,
            /// Per-request timeout (`10s` by default).
            #[serde(default)]
            pub timeout: Option<String>,
        }

        impl $crate::sinks::Common for $name {
            fn rate(&self) -> Option<&[$crate::limit::Rate]> {
                self.rate.as_deref()
            }
            fn language(&self) -> Option<$crate::config::Language> {
                self.language
            }
            fn templates(&self) -> &std::collections::BTreeMap<String, String> {
                &self.templates
            }
            fn timeout(&self) -> Option<&str> {
                self.timeout.as_deref()
            }
        }
    };
}

pub mod dingtalk;
pub mod email;
pub mod feishu;
pub mod file;
pub mod outcome;
pub mod slack;
pub mod syslog;
pub mod telegram;
pub mod webhook;
pub mod wecom;
pub mod wecom_app;

/// The default `format` of the robots that take text or markdown (DingTalk, WeCom).
pub(crate) fn markdown() -> String {
    "markdown".into()
}

/// Checks such a robot's `format`: `text` or `markdown`.
pub(crate) fn check_text_or_markdown(format: &str, errors: &mut Vec<String>) {
    if !matches!(format, "text" | "markdown") {
        errors.push(format!("format `{format}`: text or markdown"));
    }
}

/// A `key` that must be an http(s) URL (the value may hold a secret: never echoed).
pub(crate) fn check_http(key: &str, url: &str, errors: &mut Vec<String>) {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        errors.push(format!("{key} must start with http:// or https://"));
    }
}

/// The keys every notifier config has.
pub trait Common {
    fn rate(&self) -> Option<&[Rate]>;
    fn language(&self) -> Option<Language>;
    fn templates(&self) -> &BTreeMap<String, String>;
    fn timeout(&self) -> Option<&str>;
}

/// One configured notifier, by `type:`.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[schemars(transform = lark_alias)]
pub enum NotifierConfig {
    Webhook(webhook::Config),
    Dingtalk(dingtalk::Config),
    /// Lark is Feishu outside China: the same bots and API.
    #[serde(alias = "lark")]
    Feishu(feishu::Config),
    Wecom(wecom::Config),
    WecomApp(wecom_app::Config),
    Slack(slack::Config),
    Telegram(telegram::Config),
    File(file::Config),
    Syslog(syslog::Config),
    Email(email::Config),
}

fn lark_alias(schema: &mut schemars::Schema) {
    crate::config::accept_aliases(schema, "feishu", &["lark"]);
}

impl NotifierConfig {
    fn common(&self) -> &dyn Common {
        match self {
            NotifierConfig::Webhook(c) => c,
            NotifierConfig::Dingtalk(c) => c,
            NotifierConfig::Feishu(c) => c,
            NotifierConfig::Wecom(c) => c,
            NotifierConfig::WecomApp(c) => c,
            NotifierConfig::Slack(c) => c,
            NotifierConfig::Telegram(c) => c,
            NotifierConfig::File(c) => c,
            NotifierConfig::Syslog(c) => c,
            NotifierConfig::Email(c) => c,
        }
    }

    /// The `type:` word.
    pub fn kind(&self) -> &'static str {
        match self {
            NotifierConfig::Webhook(_) => "webhook",
            NotifierConfig::Dingtalk(_) => "dingtalk",
            NotifierConfig::Feishu(_) => "feishu",
            NotifierConfig::Wecom(_) => "wecom",
            NotifierConfig::WecomApp(_) => "wecom_app",
            NotifierConfig::Slack(_) => "slack",
            NotifierConfig::Telegram(_) => "telegram",
            NotifierConfig::File(_) => "file",
            NotifierConfig::Syslog(_) => "syslog",
            NotifierConfig::Email(_) => "email",
        }
    }

    /// Semantic errors of this notifier's settings.
    pub fn check(&self, default_lang: Language) -> Vec<String> {
        let mut errors = Vec::new();
        let c = self.common();
        for k in c.templates().keys() {
            if !is_form(k) {
                errors.push(format!(
                    "templates: `{k}` is not a template (title, text, markdown, html)"
                ));
            }
        }
        if let Err(e) = Templates::new(c.language().unwrap_or(default_lang), c.templates()) {
            errors.push(e.to_string());
        }
        if let Some(t) = c.timeout() {
            if parse_duration(t).is_none_or(|d| d.is_zero()) {
                errors.push(format!("timeout `{t}` is not a duration above zero"));
            }
        }
        let own = match self {
            NotifierConfig::Webhook(c) => c.check(),
            NotifierConfig::Dingtalk(c) => c.check(),
            NotifierConfig::Feishu(c) => c.check(),
            NotifierConfig::Wecom(c) => c.check(),
            NotifierConfig::WecomApp(c) => c.check(),
            NotifierConfig::Slack(c) => c.check(),
            NotifierConfig::Telegram(c) => c.check(),
            NotifierConfig::File(c) => c.check(),
            NotifierConfig::Syslog(c) => c.check(),
            NotifierConfig::Email(c) => c.check(),
        };
        errors.extend(own);
        errors
    }
}

/// A notifier ready to send: its service client, templates and rate limits.
#[derive(Debug)]
pub struct Notifier {
    pub name: String,
    pub templates: Templates,
    /// The language its messages (and the daily report) are worded in.
    pub language: Language,
    pub rates: Vec<Rate>,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Webhook(webhook::Webhook),
    Dingtalk(dingtalk::DingTalk),
    Feishu(feishu::Feishu),
    Wecom(wecom::WeCom),
    WecomApp(wecom_app::WeComApp),
    Slack(slack::Slack),
    Telegram(telegram::Telegram),
    File(file::File),
    Syslog(syslog::Syslog),
    Email(email::Email),
}

impl Notifier {
    /// Builds a checked config.
    pub fn build(
        name: &str,
        cfg: &NotifierConfig,
        default_lang: Language,
    ) -> Result<Notifier, String> {
        let c = cfg.common();
        let language = c.language().unwrap_or(default_lang);
        let templates = Templates::new(language, c.templates()).map_err(|e| e.to_string())?;
        let timeout = c
            .timeout()
            .and_then(parse_duration)
            .unwrap_or(crate::http::DEFAULT_TIMEOUT);
        let (kind, default_rates) = match cfg {
            NotifierConfig::Webhook(c) => (
                Kind::Webhook(webhook::Webhook::new(c, timeout)?),
                webhook::RATES,
            ),
            NotifierConfig::Dingtalk(c) => (
                Kind::Dingtalk(dingtalk::DingTalk::new(c, timeout)?),
                dingtalk::RATES,
            ),
            NotifierConfig::Feishu(c) => (
                Kind::Feishu(feishu::Feishu::new(c, timeout)?),
                feishu::RATES,
            ),
            NotifierConfig::Wecom(c) => (Kind::Wecom(wecom::WeCom::new(c, timeout)?), wecom::RATES),
            NotifierConfig::WecomApp(c) => (
                Kind::WecomApp(wecom_app::WeComApp::new(c, timeout)?),
                wecom_app::RATES,
            ),
            NotifierConfig::Slack(c) => (Kind::Slack(slack::Slack::new(c, timeout)?), slack::RATES),
            NotifierConfig::Telegram(c) => (
                Kind::Telegram(telegram::Telegram::new(c, timeout)?),
                telegram::RATES,
            ),
            NotifierConfig::File(c) => (Kind::File(file::File::new(c, timeout)?), file::RATES),
            NotifierConfig::Syslog(c) => (
                Kind::Syslog(syslog::Syslog::new(c, timeout)?),
                syslog::RATES,
            ),
            NotifierConfig::Email(c) => (Kind::Email(email::Email::new(c, timeout)?), email::RATES),
        };
        Ok(Notifier {
            name: name.to_owned(),
            templates,
            language,
            rates: c
                .rate()
                .map_or_else(|| default_rates.to_vec(), <[Rate]>::to_vec),
            kind,
        })
    }

    /// The `type:` word.
    pub fn kind(&self) -> &'static str {
        match self.kind {
            Kind::Webhook(_) => "webhook",
            Kind::Dingtalk(_) => "dingtalk",
            Kind::Feishu(_) => "feishu",
            Kind::Wecom(_) => "wecom",
            Kind::WecomApp(_) => "wecom_app",
            Kind::Slack(_) => "slack",
            Kind::Telegram(_) => "telegram",
            Kind::File(_) => "file",
            Kind::Syslog(_) => "syslog",
            Kind::Email(_) => "email",
        }
    }

    /// Delivers one message.
    pub async fn send(&self, m: &Message) -> Result<Sent, SendError> {
        match &self.kind {
            Kind::Webhook(w) => w.send(m).await,
            Kind::Dingtalk(d) => d.send(m).await,
            Kind::Feishu(f) => f.send(m).await,
            Kind::Wecom(w) => w.send(m).await,
            Kind::WecomApp(w) => w.send(m).await,
            Kind::Slack(s) => s.send(m).await,
            Kind::Telegram(t) => t.send(m).await,
            Kind::File(n) => n.send(m).await,
            Kind::Syslog(n) => n.send(m).await,
            Kind::Email(n) => n.send(m).await,
        }
    }
}
