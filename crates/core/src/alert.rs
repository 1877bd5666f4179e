//! [`Alert`]: an event a rule (or, later, a detector) judged worth telling someone about,
//! and its [`Severity`].
//!
//! An alert is the owned event that caused it plus `rule.id`, `rule.name`, `event.severity`,
//! `logward.severity`, `tags` and a rendered `message`. Its JSON is the event's own nested ECS
//! object ([`crate::json::write_event`]) with `event.kind: alert` and those fields added.

use std::borrow::Cow;

use crate::event::Event;
use crate::json::{write_event, write_str};
use crate::vocab::Kind;

/// `event.severity` (1–5) and `logward.severity` (its word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Severity {
    Info = 1,
    Low = 2,
    #[default]
    Medium = 3,
    High = 4,
    Critical = 5,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// 1 (info) … 5 (critical).
    pub const fn code(self) -> u8 {
        self as u8
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// From the word (`high`) or the code (`4`).
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s || s.parse::<u8>().ok() == Some(v.code()))
    }

    pub fn from_code(code: u8) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.code() == code)
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert. `event` is the event that caused it (detached from its line); its `message`
/// is replaced by the alert's rendered message when written out.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The event that caused the alert.
    pub event: Event<'static>,
    /// `rule.id`: stable, what routes and suppressions refer to.
    pub rule_id: String,
    /// `rule.name`: for people.
    pub rule_name: String,
    /// `event.severity`, `logward.severity`.
    pub severity: Severity,
    /// `tags`.
    pub tags: Vec<String>,
    /// `message`: the rendered message template.
    pub message: String,
    /// `labels.*`: values the rule computed on the way (counts, captured fields).
    pub labels: Vec<(String, String)>,
    /// `logward.score` (0–100), set by later analysis.
    pub score: Option<u8>,
    /// `logward.reasons`: why the score is what it is.
    pub reasons: Vec<String>,
}

impl Alert {
    /// An alert for `event` with no tags, labels or score.
    pub fn new(
        event: Event<'static>,
        rule_id: impl Into<String>,
        rule_name: impl Into<String>,
        severity: Severity,
        message: impl Into<String>,
    ) -> Alert {
        Alert {
            event,
            rule_id: rule_id.into(),
            rule_name: rule_name.into(),
            severity,
            tags: Vec::new(),
            message: message.into(),
            labels: Vec::new(),
            score: None,
            reasons: Vec::new(),
        }
    }
}

/// Appends the alert as one nested ECS JSON object (no trailing newline).
///
/// The event part is [`write_event`]'s output for the event with `event.kind: alert` and the
/// alert's message; `event.severity` opens the `event` object, `logward.severity` (with score
/// and reasons) joins the `logward` object, and `rule`, `tags` and `labels` follow.
pub fn write_alert(out: &mut Vec<u8>, a: &Alert) {
    let e = &a.event;
    // A shallow view of the event: borrowed fields, alert kind and message.
    let view = Event {
        kind: Kind::Alert,
        message: Some(Cow::Borrowed(a.message.as_str())),
        original: e.original.as_deref().map(Cow::Borrowed),
        host_name: e.host_name.as_deref().map(Cow::Borrowed),
        process_name: e.process_name.as_deref().map(Cow::Borrowed),
        command_line: e.command_line.as_deref().map(Cow::Borrowed),
        source_address: e.source_address.as_deref().map(Cow::Borrowed),
        user_name: e.user_name.as_deref().map(Cow::Borrowed),
        user_target_name: e.user_target_name.as_deref().map(Cow::Borrowed),
        group_name: e.group_name.as_deref().map(Cow::Borrowed),
        auth_key_type: e.auth_key_type.as_deref().map(Cow::Borrowed),
        auth_key_fingerprint: e.auth_key_fingerprint.as_deref().map(Cow::Borrowed),
        systemd_unit: e.systemd_unit.as_deref().map(Cow::Borrowed),
        file_path: e.file_path.as_deref().map(Cow::Borrowed),
        agent_id: e.agent_id.as_deref().map(Cow::Borrowed),
        claimed_host: e.claimed_host.as_deref().map(Cow::Borrowed),
        claimed_program: e.claimed_program.as_deref().map(Cow::Borrowed),
        enrichment: e.enrichment.clone(),
        winlog: e.winlog.as_ref().map(|w| Box::new(w.borrowed())),
        dns: e.dns.as_ref().map(|d| Box::new(d.borrowed())),
        journald: e
            .journald
            .iter()
            .map(|(k, v)| (Cow::Borrowed(k.as_ref()), Cow::Borrowed(v.as_ref())))
            .collect(),
        ..e.clone_scalars()
    };
    let start = out.len();
    write_event(out, &view);
    // write_event's output is one object: `{…,"event":{"kind":…},…}`. Keys only ever appear
    // unescaped outside string values, so these searches cannot land inside a value.
    let mut extra = Vec::with_capacity(32);
    extra.extend_from_slice(b"\"severity\":");
    extra.extend_from_slice(a.severity.code().to_string().as_bytes());
    extra.push(b',');
    if let Some(at) = find(&out[start..], b"\"event\":{") {
        let at = start + at + b"\"event\":{".len();
        out.splice(at..at, extra);
    }
    let mut lw = Vec::with_capacity(64);
    lw.extend_from_slice(b"\"severity\":");
    write_str(&mut lw, a.severity.as_str());
    if let Some(score) = a.score {
        lw.extend_from_slice(b",\"score\":");
        lw.extend_from_slice(score.to_string().as_bytes());
    }
    if !a.reasons.is_empty() {
        lw.extend_from_slice(b",\"reasons\":");
        write_list(&mut lw, &a.reasons);
    }
    match find(&out[start..], b",\"logward\":{") {
        Some(at) => {
            let at = start + at + b",\"logward\":{".len();
            lw.push(b',');
            out.splice(at..at, lw);
        }
        None => {
            out.pop();
            out.extend_from_slice(b",\"logward\":{");
            out.extend_from_slice(&lw);
            out.extend_from_slice(b"}}");
        }
    }
    // Close-brace of the whole object comes last; add rule, tags and labels before it.
    out.pop();
    out.extend_from_slice(b",\"rule\":{\"id\":");
    write_str(out, &a.rule_id);
    out.extend_from_slice(b",\"name\":");
    write_str(out, &a.rule_name);
    out.push(b'}');
    if !a.tags.is_empty() {
        out.extend_from_slice(b",\"tags\":");
        write_list(out, &a.tags);
    }
    if !a.labels.is_empty() {
        out.extend_from_slice(b",\"labels\":{");
        for (i, (k, v)) in a.labels.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, k);
            out.push(b':');
            write_str(out, v);
        }
        out.push(b'}');
    }
    out.push(b'}');
}

fn write_list(out: &mut Vec<u8>, items: &[String]) {
    out.push(b'[');
    for (i, t) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, t);
    }
    out.push(b']');
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{Action, Dataset, Outcome};

    fn sample() -> Alert {
        let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
        e.set_source(Cow::Borrowed("192.0.2.1"), Some(22));
        e.user_name = Some(Cow::Borrowed("root"));
        e.message = Some(Cow::Borrowed("Failed password for root"));
        let mut a = Alert::new(
            e.into_owned(),
            "ssh-bruteforce",
            "SSH brute force",
            Severity::High,
            "5 failures from 192.0.2.1",
        );
        a.tags = vec!["ssh".into(), "ban".into()];
        a.labels = vec![("failures".into(), "5".into())];
        a
    }

    #[test]
    fn severity_words_and_codes() {
        assert_eq!(Severity::parse("critical"), Some(Severity::Critical));
        assert_eq!(Severity::parse("2"), Some(Severity::Low));
        assert_eq!(Severity::parse("urgent"), None);
        assert_eq!(Severity::from_code(4).map(Severity::as_str), Some("high"));
        assert!(Severity::Critical > Severity::High);
    }

    #[test]
    fn alert_json_is_the_event_plus_rule_fields() {
        let mut out = Vec::new();
        write_alert(&mut out, &sample());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            concat!(
                r#"{"message":"5 failures from 192.0.2.1","event":{"severity":4,"kind":"alert","#,
                r#""category":["authentication"],"action":"user-login","outcome":"failure","#,
                r#""dataset":"sshd"},"source":{"address":"192.0.2.1","ip":"192.0.2.1","port":22},"#,
                r#""user":{"name":"root"},"logward":{"severity":"high"},"#,
                r#""rule":{"id":"ssh-bruteforce","name":"SSH brute force"},"tags":["ssh","ban"],"#,
                r#""labels":{"failures":"5"}}"#
            )
        );
    }

    #[test]
    fn alert_json_merges_into_an_existing_logward_object() {
        let mut a = sample();
        a.event.auth_method = Some("password");
        a.score = Some(80);
        a.reasons = vec!["new country".into()];
        // A message that looks like the keys searched for must not confuse the writer.
        a.message = r#","logward":{"event":{"#.into();
        let mut out = Vec::new();
        write_alert(&mut out, &a);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(r#""logward":{"severity":"high","score":80,"reasons":["new country"],"auth":{"method":"password"}}"#),
            "{text}"
        );
        assert!(
            text.contains(r#""event":{"severity":4,"kind":"alert""#),
            "{text}"
        );
        assert_eq!(text.matches("\"logward\":{").count(), 1, "{text}");
    }
}
