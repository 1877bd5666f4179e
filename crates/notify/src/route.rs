//! Routes: which notifiers get an alert, from its severity, rule and tags.

use logward_core::{Alert, Field, Severity};

use crate::config::NotifyConfig;

#[derive(Debug, Clone)]
struct Route {
    notifiers: Vec<String>,
    min_severity: Severity,
    rules: Vec<String>,
    tags: Vec<String>,
    /// Each field must have one of its values.
    fields: Vec<(Field, Vec<String>)>,
    continue_: bool,
    also_when_forwarding: bool,
}

/// The routes of a checked config.
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<Route>,
    /// Every notifier.
    all: Vec<String>,
}

/// Notifier types that are alert logs: without routes they get every alert.
const LOG_KINDS: &[&str] = &["file", "syslog"];

/// Tags an admin wants in chat whatever the severity (logins, account changes, bans and
/// brute force, compromise, anomalous logins); everything high or critical goes there too.
pub const CHAT_TAGS: &[&str] = &["login", "iam", "ban", "bruteforce", "compromise", "anomaly"];

/// The routes used when none are configured: alert logs (`file`, `syslog`) get every alert,
/// every other notifier (chat, mail, webhook) the alerts tagged [`CHAT_TAGS`] and those of
/// severity high or above — not each logout or sudo.
fn default_routes(c: &NotifyConfig) -> Vec<Route> {
    let (logs, chat): (Vec<String>, Vec<String>) = {
        let (l, c): (Vec<_>, Vec<_>) = c
            .notifiers
            .iter()
            .partition(|(_, n)| LOG_KINDS.contains(&n.value.kind()));
        let names = |v: Vec<(&String, _)>| v.into_iter().map(|(n, _)| n.clone()).collect();
        (names(l), names(c))
    };
    let route = |notifiers: Vec<String>, min_severity, tags: &[&str]| Route {
        notifiers,
        min_severity,
        rules: Vec::new(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        fields: Vec::new(),
        continue_: true,
        also_when_forwarding: false,
    };
    [
        route(logs, Severity::Info, &[]),
        route(chat.clone(), Severity::Info, CHAT_TAGS),
        route(chat, Severity::High, &[]),
    ]
    .into_iter()
    .filter(|r| !r.notifiers.is_empty())
    .collect()
}

impl Router {
    pub fn new(c: &NotifyConfig) -> Router {
        if c.routes.is_empty() {
            return Router {
                routes: default_routes(c),
                all: c.notifiers.keys().cloned().collect(),
            };
        }
        Router {
            routes: c
                .routes
                .iter()
                .map(|r| Route {
                    notifiers: r.notifiers.iter().map(|n| n.value.clone()).collect(),
                    min_severity: r
                        .min_severity
                        .as_ref()
                        .and_then(|s| Severity::parse(&s.value))
                        .unwrap_or(Severity::Info),
                    rules: r.rules.clone(),
                    tags: r.tags.clone(),
                    // A name that is no field was refused by the config check.
                    fields: r
                        .fields
                        .iter()
                        .filter_map(|(k, v)| Some((Field::parse(k)?, v.value.clone())))
                        .collect(),
                    continue_: r.continue_.unwrap_or(true),
                    also_when_forwarding: r.also_when_forwarding,
                })
                .collect(),
            all: c.notifiers.keys().cloned().collect(),
        }
    }

    /// The router of an agent that forwards to a collector: the collector notifies, so only
    /// the routes marked `also_when_forwarding: true` are kept (none without routes).
    pub fn forwarding(c: &NotifyConfig) -> Router {
        let mut r = Router::new(c);
        r.routes.retain(|r| r.also_when_forwarding);
        if r.routes.is_empty() {
            r.all.clear();
        }
        r
    }

    /// Whether any alert can go anywhere.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// The notifiers for `a`, each once, in route order.
    pub fn notifiers(&self, a: &Alert) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in &self.routes {
            let matches = a.severity >= r.min_severity
                && (r.rules.is_empty() || r.rules.contains(&a.rule_id))
                && (r.tags.is_empty() || r.tags.iter().any(|t| a.tags.contains(t)))
                && r.fields.iter().all(|(f, values)| {
                    a.event
                        .get(f)
                        .is_some_and(|v| values.iter().any(|x| *x == v.to_string()))
                });
            if !matches {
                continue;
            }
            for n in &r.notifiers {
                if !out.contains(&n.as_str()) {
                    out.push(n);
                }
            }
            if !r.continue_ {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use logward_core::Event;

    fn config(yaml: &str) -> NotifyConfig {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn alert(rule: &str, sev: Severity, tags: &[&str]) -> Alert {
        let mut a = Alert::new(Event::default(), rule, rule, sev, "m".to_owned());
        a.tags = tags.iter().map(|t| (*t).to_owned()).collect();
        a
    }

    #[test]
    fn routes_by_severity_rule_and_tags() {
        let c = config(
            "notifiers:\n  a: {type: webhook, url: 'http://x'}\n  b: {type: webhook, url: 'http://y'}\n  c: {type: webhook, url: 'http://z'}\n\
             routes:\n  - {notifiers: [a], min_severity: high}\n  - {notifiers: [b], rules: [ssh-login]}\n  - {notifiers: [c, a], tags: [sudo], continue: false}\n  - {notifiers: [b]}\n",
        );
        assert!(c.check("t.yaml").is_empty(), "{:?}", c.check("t.yaml"));
        let r = Router::new(&c);
        assert_eq!(
            r.notifiers(&alert("ssh-bruteforce", Severity::High, &[])),
            ["a", "b"]
        );
        assert_eq!(r.notifiers(&alert("ssh-login", Severity::Info, &[])), ["b"]);
        // The sudo route stops the walk: the last route is not reached.
        assert_eq!(
            r.notifiers(&alert("sudo-failure", Severity::Medium, &["sudo"])),
            ["c", "a"]
        );
    }

    #[test]
    fn without_routes_chat_gets_what_an_admin_wants_and_the_alert_log_everything() {
        let c = config(
            "notifiers:\n  chat: {type: webhook, url: 'http://x'}\n  log: {type: file, path: /tmp/a.ndjson}\n",
        );
        let r = Router::new(&c);
        let both = ["log", "chat"];
        assert_eq!(
            r.notifiers(&alert("ssh-login", Severity::Info, &["ssh", "login"])),
            both
        );
        assert_eq!(
            r.notifiers(&alert("account-created", Severity::Medium, &["iam"])),
            both
        );
        assert_eq!(
            r.notifiers(&alert("ban-failed", Severity::High, &["ban"])),
            both
        );
        assert_eq!(
            r.notifiers(&alert("sudo-not-in-sudoers", Severity::High, &["sudo"])),
            both
        );
        assert_eq!(
            r.notifiers(&alert("user-logout", Severity::Info, &["session"])),
            ["log"]
        );
        assert_eq!(
            r.notifiers(&alert("su-root", Severity::Medium, &["su"])),
            ["log"]
        );
    }

    #[test]
    fn routes_match_event_fields_such_as_the_dns_owner() {
        let c = config(
            "notifiers:\n  netops: {type: webhook, url: 'http://x'}\n  soc: {type: webhook, url: 'http://y'}\n\
             routes:\n  - {notifiers: [netops], fields: {logward.dns.owner: [netops, noc]}}\n  - {notifiers: [soc], min_severity: high}\n",
        );
        assert!(c.check("t.yaml").is_empty(), "{:?}", c.check("t.yaml"));
        let r = Router::new(&c);
        let mut a = alert("dns-list-hit", Severity::High, &["dns"]);
        a.event.action = Some(logward_core::Action::DnsQuery);
        a.event.dns = Some(Box::new(logward_core::Dns {
            question_name: "evil.test".into(),
            intel: Some(Box::new(logward_core::DnsIntel {
                owner: Some("netops".into()),
                ..Default::default()
            })),
            ..Default::default()
        }));
        assert_eq!(r.notifiers(&a), ["netops", "soc"]);
        if let Some(i) = a.event.dns.as_mut().and_then(|d| d.intel.as_mut()) {
            i.owner = Some("alice".into());
        }
        assert_eq!(r.notifiers(&a), ["soc"], "another owner");
        a.event.dns = None;
        assert_eq!(r.notifiers(&a), ["soc"], "no owner at all");

        let bad = config(
            "notifiers:\n  n: {type: webhook, url: 'http://x'}\nroutes:\n  - {notifiers: [n], fields: {logward.dns.ownr: [a]}}\n  - {notifiers: [n], fields: {logward.dns.owner: []}}\n",
        );
        let errors: Vec<String> = bad.check("t.yaml").iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains("`logward.dns.ownr` is not a field"),
            "{errors:?}"
        );
        assert!(errors[0].starts_with("t.yaml:4:"), "{errors:?}");
        assert!(errors[1].contains("lists no values"), "{errors:?}");
    }

    #[test]
    fn a_forwarding_agent_keeps_only_routes_marked_also_when_forwarding() {
        let c = config(
            "notifiers:\n  a: {type: webhook, url: 'http://x'}\n  b: {type: webhook, url: 'http://y'}\n\
             routes:\n  - {notifiers: [a], min_severity: high, also_when_forwarding: true}\n  - {notifiers: [b]}\n",
        );
        assert!(c.check("t.yaml").is_empty(), "{:?}", c.check("t.yaml"));
        let high = alert("ssh-bruteforce", Severity::High, &[]);
        let low = alert("ssh-login", Severity::Info, &[]);
        assert_eq!(Router::new(&c).notifiers(&high), ["a", "b"]);
        let f = Router::forwarding(&c);
        assert_eq!(f.notifiers(&high), ["a"]);
        assert!(f.notifiers(&low).is_empty());
        // Without routes every notifier would get every alert: forwarding turns them all off.
        let none = config("notifiers:\n  a: {type: webhook, url: 'http://x'}\n");
        let f = Router::forwarding(&none);
        assert!(f.is_empty() && f.notifiers(&high).is_empty());
    }

    #[test]
    fn unknown_notifiers_and_severities_are_errors_with_places() {
        let c = config(
            "notifiers:\n  a: {type: webhook, url: 'ftp://x'}\nroutes:\n  - {notifiers: [a, nope], min_severity: loud}\ndedup: soon\n",
        );
        let errors = c.check_located();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(
            errors[0].contains("notifier `a`: url must start"),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("4:") && errors[1].contains("`nope`"),
            "{errors:?}"
        );
        assert!(errors[2].contains("`loud` is not a severity"), "{errors:?}");
        assert!(
            errors[3].starts_with("5:") && errors[3].contains("dedup"),
            "{errors:?}"
        );
    }
}
