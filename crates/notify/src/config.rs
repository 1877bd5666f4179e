//! `notify:` — notifiers by name, the routes that pick them, dedup, quiet hours, retries.
//!
//! ```yaml
//! notify:
//!   language: zh-CN              # en (default) | zh-CN
//!   notifiers:
//!     ops-robot: {type: dingtalk, url: "${DINGTALK_URL}", secret: "${DINGTALK_SECRET}"}
//!     soc:       {type: webhook, url: "https://siem.example/hook", secret: "${WEBHOOK_SECRET}"}
//!   routes:
//!     - {notifiers: [ops-robot], min_severity: high}
//!     - {notifiers: [soc]}                   # everything
//!   dedup: 10m                   # same rule + source + host + user within 10 min → one message
//!   dashboard_url: "https://logward.example:8443"   # messages link to the alert there
//!   quiet_hours: {from: "23:00", to: "07:00"}  # hold all but critical
//!   report:                      # the daily report (docs/REPORT.md)
//!     at: "08:00"
//!     timezone: Asia/Shanghai    # IANA name; the host's local time by default
//!     notifiers: [ops-robot]
//!     since: 24h
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Local, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use logward_core::config_error::ConfigError;
use logward_core::duration::parse_duration;
use logward_core::Severity;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::sinks::NotifierConfig;

/// The wording of built-in templates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[schemars(transform = language_aliases)]
pub enum Language {
    #[default]
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN", alias = "zh", alias = "zh-cn")]
    ZhCn,
}

fn language_aliases(schema: &mut schemars::Schema) {
    accept_aliases(schema, "zh-CN", &["zh", "zh-cn"]);
}

/// Adds serde `alias`es, which schemars does not list, beside `name` wherever the schema
/// allows `name` as a constant (`const` or `enum`), so editors accept what the loader does.
pub(crate) fn accept_aliases(schema: &mut schemars::Schema, name: &str, aliases: &[&str]) {
    use serde_json::{Map, Value};
    fn object(map: &mut Map<String, Value>, name: &str, aliases: &[&str]) {
        if map.get("const").and_then(Value::as_str) == Some(name) {
            map.remove("const");
            let all = std::iter::once(name).chain(aliases.iter().copied());
            map.insert("enum".into(), all.collect::<Vec<_>>().into());
        } else if let Some(Value::Array(values)) = map.get_mut("enum") {
            if values.iter().any(|x| x.as_str() == Some(name)) {
                values.extend(aliases.iter().map(|a| Value::from(*a)));
            }
        }
        for child in map.values_mut() {
            value(child, name, aliases);
        }
    }
    fn value(v: &mut Value, name: &str, aliases: &[&str]) {
        match v {
            Value::Object(map) => object(map, name, aliases),
            Value::Array(items) => items.iter_mut().for_each(|c| value(c, name, aliases)),
            _ => {}
        }
    }
    if let Some(map) = schema.as_object_mut() {
        object(map, name, aliases);
    }
}

/// The whole `notify:` section.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Default language of every notifier's built-in templates.
    #[serde(default)]
    pub language: Language,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, NotifierConfig>")]
    pub notifiers: BTreeMap<String, Spanned<NotifierConfig>>,
    /// Which notifiers get which alerts; no routes = the default routes (alert logs get every
    /// alert, chat and mail what an admin wants: see `route::CHAT_TAGS`).
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// The same rule from the same source within this window → one message with a count
    /// (`0s` turns it off).
    #[serde(default = "default_dedup")]
    #[schemars(with = "String")]
    pub dedup: Spanned<String>,
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
    #[serde(default)]
    pub retry: RetryConfig,
    /// The daily report; none unless configured.
    #[serde(default)]
    pub report: Option<ReportConfig>,
    /// The collector dashboard's address (`https://logward.example:8443`): messages link to
    /// the alert there.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub dashboard_url: Option<Spanned<String>>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            language: Language::default(),
            notifiers: BTreeMap::new(),
            routes: Vec::new(),
            dedup: default_dedup(),
            quiet_hours: None,
            retry: RetryConfig::default(),
            report: None,
            dashboard_url: None,
        }
    }
}

fn default_dedup() -> Spanned<String> {
    Spanned::new(
        "10m".to_owned(),
        serde_saphyr::Location::UNKNOWN,
        serde_saphyr::Location::UNKNOWN,
    )
}

/// A route: alerts that match every condition given go to `notifiers`.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    #[schemars(with = "Vec<String>")]
    pub notifiers: Vec<Spanned<String>>,
    /// Lowest severity (`info` … `critical`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub min_severity: Option<Spanned<String>>,
    /// Only these rule ids.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Alerts carrying at least one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Alerts whose event fields have one of the values listed for each field
    /// (`{logward.dns.owner: [netops]}`: the DNS check's owner of the client; any rule field).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Vec<String>>")]
    pub fields: BTreeMap<String, Spanned<Vec<String>>>,
    /// Stop at this route when it matched (later routes are not tried).
    #[serde(default, rename = "continue")]
    pub continue_: Option<bool>,
    /// Keep this route when the agent forwards to a collector (which then notifies): without
    /// it, a forwarding agent's own notifiers stay off.
    #[serde(default)]
    pub also_when_forwarding: bool,
}

/// Hours during which only critical alerts go out; the rest wait for the end.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM`, local time.
    #[schemars(with = "String")]
    pub from: Spanned<String>,
    /// `HH:MM`, local time (before `from` = over midnight).
    #[schemars(with = "String")]
    pub to: Spanned<String>,
}

/// Backoff between failed attempts: exponential from `min` to `max`, with jitter; a row is
/// marked failed after `give_up_after`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    #[serde(default = "default_retry_min")]
    pub min: String,
    #[serde(default = "default_retry_max")]
    pub max: String,
    #[serde(default = "default_give_up")]
    pub give_up_after: String,
}

fn default_retry_min() -> String {
    "5s".into()
}
fn default_retry_max() -> String {
    "1h".into()
}
fn default_give_up() -> String {
    "3d".into()
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            min: default_retry_min(),
            max: default_retry_max(),
            give_up_after: default_give_up(),
        }
    }
}

/// `report:` — when the daily report goes out, to whom, and the window it covers.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// `HH:MM`, wall-clock time in `timezone`.
    #[serde(default = "default_report_at")]
    #[schemars(with = "String")]
    pub at: Spanned<String>,
    /// An IANA zone name (`Asia/Shanghai`, `Europe/Paris`, `UTC`); the host's local time
    /// when absent.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub timezone: Option<Spanned<String>>,
    /// The configured notifiers that get the report.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub notifiers: Vec<Spanned<String>>,
    /// The window the report covers, ending when it is sent.
    #[serde(default = "default_report_since")]
    #[schemars(with = "String")]
    pub since: Spanned<String>,
}

fn unlocated(s: &str) -> Spanned<String> {
    Spanned::new(
        s.to_owned(),
        serde_saphyr::Location::UNKNOWN,
        serde_saphyr::Location::UNKNOWN,
    )
}

fn default_report_at() -> Spanned<String> {
    unlocated("08:00")
}

fn default_report_since() -> Spanned<String> {
    unlocated("24h")
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            at: default_report_at(),
            timezone: None,
            notifiers: Vec::new(),
            since: default_report_since(),
        }
    }
}

/// The zone the report is scheduled and worded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportZone {
    /// The host's local time (`TZ`, `/etc/localtime`).
    #[default]
    Local,
    Iana(chrono_tz::Tz),
}

impl ReportZone {
    /// An IANA name; `None` when unknown.
    pub fn parse(name: &str) -> Option<ReportZone> {
        name.parse::<chrono_tz::Tz>().ok().map(ReportZone::Iana)
    }

    /// The zone's name as the report shows it.
    pub fn name(&self) -> String {
        match self {
            ReportZone::Local => "local time".into(),
            ReportZone::Iana(tz) => tz.name().into(),
        }
    }

    /// `t` (Unix seconds) formatted with `fmt` in this zone.
    pub fn format(&self, t: i64, fmt: &str) -> String {
        let Some(utc) = DateTime::<Utc>::from_timestamp(t, 0) else {
            return t.to_string();
        };
        match self {
            ReportZone::Local => utc.with_timezone(&Local).format(fmt).to_string(),
            ReportZone::Iana(tz) => utc.with_timezone(tz).format(fmt).to_string(),
        }
    }
}

impl ReportConfig {
    /// Minutes after midnight of `at` (a checked config; 08:00 otherwise).
    pub fn at_minutes(&self) -> u32 {
        parse_hhmm(&self.at.value).unwrap_or(8 * 60)
    }

    /// The configured zone (a checked config; local time otherwise).
    pub fn zone(&self) -> ReportZone {
        self.timezone
            .as_ref()
            .and_then(|z| ReportZone::parse(&z.value))
            .unwrap_or_default()
    }

    /// The window (a checked config; 24 h otherwise).
    pub fn window(&self) -> Duration {
        parse_duration(&self.since.value).unwrap_or(Duration::from_secs(86_400))
    }

    fn check(
        &self,
        file: &str,
        notifiers: &BTreeMap<String, Spanned<NotifierConfig>>,
    ) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if parse_hhmm(&self.at.value).is_none() {
            errors.push(at(
                file,
                &self.at,
                format!("report.at `{}` is not a time of day (HH:MM)", self.at.value),
            ));
        }
        if let Some(z) = &self.timezone {
            if ReportZone::parse(&z.value).is_none() {
                errors.push(at(
 file,
                    z,
                    format!(
                        "report.timezone `{}` is not an IANA time zone (Asia/Shanghai, Europe/Paris, UTC)",
                        z.value
                    ),
                ));
            }
        }
        match parse_duration(&self.since.value) {
            Some(d) if !d.is_zero() => {}
            _ => errors.push(at(
                file,
                &self.since,
                format!(
                    "report.since `{}` is not a positive duration (24h, 1d, 7d)",
                    self.since.value
                ),
            )),
        }
        if self.notifiers.is_empty() {
            errors.push(at(
                file,
                &self.at,
                "report lists no notifiers: nobody would get it".into(),
            ));
        }
        for n in &self.notifiers {
            if !notifiers.contains_key(&n.value) {
                errors.push(at(
                    file,
                    n,
                    format!(
                        "report names notifier `{}`, which is not configured (configured: {})",
                        n.value,
                        configured(notifiers)
                    ),
                ));
            }
        }
        errors
    }
}

/// When the report configured by `c` next goes out after `now` (strictly later): the next
/// `at` on the wall clock of its zone. On the day a DST change skips `at` (a gap), it runs
/// when the clocks jump (the first minute that exists after `at`); on the day `at` happens
/// twice (an overlap), only at the first.
pub fn next_run(now: DateTime<Utc>, c: &ReportConfig) -> DateTime<Utc> {
    let at = c.at_minutes();
    match c.zone() {
        ReportZone::Local => next_run_in(now, at, &Local),
        ReportZone::Iana(tz) => next_run_in(now, at, &tz),
    }
}

fn next_run_in<Z: TimeZone>(now: DateTime<Utc>, at: u32, tz: &Z) -> DateTime<Utc> {
    let today = now.with_timezone(tz).date_naive();
    // Yesterday too: a zone east of UTC may still be on the previous date at `now`.
    let mut day = today.pred_opt().unwrap_or(today);
    for _ in 0..5 {
        if let Some(t) = run_on(day, at, tz) {
            if t > now {
                return t;
            }
        }
        day = day.succ_opt().unwrap_or(day);
    }
    // Unreachable for real zones (no zone skips days in a row); a day later is a safe answer.
    now + chrono::Duration::days(1)
}

/// The instant of `at` on `day` in `tz`, resolved through gaps and overlaps.
fn run_on<Z: TimeZone>(day: NaiveDate, at: u32, tz: &Z) -> Option<DateTime<Utc>> {
    let start: NaiveDateTime = day.and_hms_opt(at / 60, at % 60, 0)?;
    // A gap lasts at most a day (Samoa skipped 2011-12-30): look minute by minute.
    for step in 0..=24 * 60 {
        let wall = start + chrono::Duration::minutes(step);
        match tz.from_local_datetime(&wall) {
            LocalResult::Single(t) => return Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, _) => return Some(first.with_timezone(&Utc)),
            LocalResult::None => {}
        }
    }
    None
}

fn configured(notifiers: &BTreeMap<String, Spanned<NotifierConfig>>) -> String {
    if notifiers.is_empty() {
        "none".into()
    } else {
        notifiers
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `HH:MM` as minutes after midnight.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// A semantic error in the `notify:` section, at the place of `s` in `file`.
fn at<T>(file: &str, s: &Spanned<T>, message: String) -> ConfigError {
    ConfigError {
        file: file.to_owned(),
        line: s.referenced.line(),
        column: s.referenced.column(),
        message,
    }
}

/// Severity words for error messages.
fn severity_words() -> String {
    Severity::ALL
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl NotifyConfig {
    /// The second pass: names, durations, severities, templates and each notifier's own
    /// settings. Every error, at its place in `file`.
    pub fn check(&self, file: &str) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for (name, n) in &self.notifiers {
            for e in n.value.check(self.language) {
                errors.push(at(file, n, format!("notifier `{name}`: {e}")));
            }
        }
        for r in &self.routes {
            if r.notifiers.is_empty() {
                errors.push(ConfigError {
                    file: file.to_owned(),
                    line: 0,
                    column: 0,
                    message: "a route lists no notifiers".into(),
                });
            }
            for n in &r.notifiers {
                if !self.notifiers.contains_key(&n.value) {
                    errors.push(at(
                        file,
                        n,
                        format!(
                            "route names notifier `{}`, which is not configured (configured: {})",
                            n.value,
                            configured(&self.notifiers)
                        ),
                    ));
                }
            }
            for (name, values) in &r.fields {
                if logward_core::Field::parse(name).is_none() {
                    errors.push(at(
                        file,
                        values,
                        format!("route field `{name}` is not a field (docs/RULES.md lists them)"),
                    ));
                } else if values.value.is_empty() {
                    errors.push(at(
                        file,
                        values,
                        format!("route field `{name}` lists no values: it would match nothing"),
                    ));
                }
            }
            if let Some(s) = &r.min_severity {
                if Severity::parse(&s.value).is_none() {
                    errors.push(at(
                        file,
                        s,
                        format!("`{}` is not a severity ({})", s.value, severity_words()),
                    ));
                }
            }
        }
        if let Some(u) = &self.dashboard_url {
            let v = u.value.as_str();
            let host = v
                .strip_prefix("https://")
                .or_else(|| v.strip_prefix("http://"))
                .unwrap_or("");
            if host.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
                errors.push(at(
                    file,
                    u,
                    format!("dashboard_url `{v}` is not an http:// or https:// address"),
                ));
            }
        }
        if parse_duration(&self.dedup.value).is_none() {
            errors.push(at(
                file,
                &self.dedup,
                format!(
                    "dedup `{}` is not a duration (10m, 1h, 0s)",
                    self.dedup.value
                ),
            ));
        }
        if let Some(q) = &self.quiet_hours {
            for t in [&q.from, &q.to] {
                if parse_hhmm(&t.value).is_none() {
                    errors.push(at(
                        file,
                        t,
                        format!("`{}` is not a time of day (HH:MM)", t.value),
                    ));
                }
            }
        }
        for (what, v) in [
            ("retry.min", &self.retry.min),
            ("retry.max", &self.retry.max),
            ("retry.give_up_after", &self.retry.give_up_after),
        ] {
            if parse_duration(v).is_none() {
                errors.push(ConfigError {
                    file: file.to_owned(),
                    line: 0,
                    column: 0,
                    message: format!("{what} `{v}` is not a duration"),
                });
            }
        }
        if let Some(r) = &self.report {
            errors.extend(r.check(file, &self.notifiers));
        }
        errors
    }

    /// The dashboard address without a trailing `/` (a checked config).
    pub fn dashboard(&self) -> Option<String> {
        self.dashboard_url
            .as_ref()
            .map(|u| u.value.trim_end_matches('/').to_owned())
    }

    /// The dedup window (a checked config).
    pub fn dedup_window(&self) -> Duration {
        parse_duration(&self.dedup.value).unwrap_or(Duration::from_secs(600))
    }
}

#[cfg(test)]
impl NotifyConfig {
    /// [`Self::check`]'s errors as `line:column message`, what the tests compare.
    pub(crate) fn check_located(&self) -> Vec<String> {
        self.check("t.yaml")
            .iter()
            .map(|e| format!("{}:{} {}", e.line, e.column, e.message))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn report(at: &str, tz: &str) -> ReportConfig {
        let c: NotifyConfig = serde_saphyr::from_str(&format!(
            "notifiers:\n  a: {{type: webhook, url: 'http://x'}}\nreport: {{at: '{at}', timezone: {tz}, notifiers: [a]}}\n"
        ))
        .unwrap();
        assert!(c.check("t.yaml").is_empty(), "{:?}", c.check("t.yaml"));
        c.report.unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn report_defaults_and_located_errors() {
        let c: NotifyConfig = serde_saphyr::from_str(
            "notifiers:\n  a: {type: webhook, url: 'http://x'}\nreport:\n  notifiers: [a]\n",
        )
        .unwrap();
        assert!(c.check("t.yaml").is_empty(), "{:?}", c.check("t.yaml"));
        let r = c.report.unwrap();
        assert_eq!(r.at_minutes(), 8 * 60);
        assert_eq!(r.zone(), ReportZone::Local);
        assert_eq!(r.window(), Duration::from_secs(86_400));

        let c: NotifyConfig = serde_saphyr::from_str(
            "notifiers:\n  a: {type: webhook, url: 'http://x'}\nreport:\n  at: '8h'\n  timezone: Mars/Olympus\n  notifiers: [a, mail]\n  since: soon\n",
        )
        .unwrap();
        let errors = c.check_located();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].starts_with("4:") && errors[0].contains("report.at"));
        assert!(errors[1].starts_with("5:") && errors[1].contains("Mars/Olympus"));
        assert!(errors[2].starts_with("7:") && errors[2].contains("report.since"));
        assert!(
            errors[3].starts_with("6:")
                && errors[3].contains("`mail`, which is not configured (configured: a)"),
            "{errors:?}"
        );

        let c: NotifyConfig = serde_saphyr::from_str("report: {at: '07:00'}\n").unwrap();
        let errors = c.check("t.yaml");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("no notifiers"));
    }

    #[test]
    fn next_run_in_a_zone_without_dst() {
        let r = report("08:00", "Asia/Shanghai");
        // 08:00 in Shanghai is 00:00 UTC.
        assert_eq!(
            next_run(utc("2026-11-22T23:59:59Z"), &r),
            utc("2026-11-23T00:00:00Z")
        );
        // Exactly at the run time: the next one (a run never repeats itself).
        assert_eq!(
            next_run(utc("2026-11-23T00:00:00Z"), &r),
            utc("2026-11-24T00:00:00Z")
        );
        // Shanghai's date is already a day ahead of UTC's.
        assert_eq!(
            next_run(utc("2026-11-22T18:00:00Z"), &r),
            utc("2026-11-23T00:00:00Z")
        );
        let r = report("23:30", "UTC");
        assert_eq!(
            next_run(utc("2026-12-31T23:45:00Z"), &r),
            utc("2027-01-01T23:30:00Z")
        );
    }

    #[test]
    fn next_run_across_paris_dst_changes() {
        // 2026-03-29: at 02:00 CET clocks jump to 03:00 CEST; 02:30 does not exist, the
        // report goes when the clocks jump (03:00 CEST = 01:00 UTC).
        let r = report("02:30", "Europe/Paris");
        assert_eq!(
            next_run(utc("2026-03-28T12:00:00Z"), &r),
            utc("2026-03-29T01:00:00Z")
        );
        // The day after: 02:30 CEST again.
        assert_eq!(
            next_run(utc("2026-03-29T01:00:00Z"), &r),
            utc("2026-03-30T00:30:00Z")
        );
        // 08:00 on either side of the change: 07:00 UTC before, 06:00 UTC after.
        let r = report("08:00", "Europe/Paris");
        assert_eq!(
            next_run(utc("2026-03-28T07:00:00Z"), &r),
            utc("2026-03-29T06:00:00Z")
        );
        // 2026-10-25: at 03:00 CEST clocks go back to 02:00 CET; 02:30 happens twice and the
        // report goes once, at the first (00:30 UTC), not again at 01:30 UTC.
        let r = report("02:30", "Europe/Paris");
        assert_eq!(
            next_run(utc("2026-10-24T12:00:00Z"), &r),
            utc("2026-10-25T00:30:00Z")
        );
        assert_eq!(
            next_run(utc("2026-10-25T00:30:00Z"), &r),
            utc("2026-10-26T01:30:00Z")
        );
        assert_eq!(
            next_run(utc("2026-10-25T01:00:00Z"), &r),
            utc("2026-10-26T01:30:00Z")
        );
    }

    #[test]
    fn times() {
        // The duration assertions moved with the parser to logward_core::duration.
        assert_eq!(parse_hhmm("07:30"), Some(450));
        assert_eq!(parse_hhmm("24:00"), None);
        assert_eq!(parse_hhmm("7:30"), None);
    }
}
