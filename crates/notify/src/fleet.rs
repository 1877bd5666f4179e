//! The collector's fleet-wide daily report: the alerts of every host in the window, as
//! report entries — WARN for medium and above, INFO for the rest — each `host: message`
//! (in Chinese for a built-in rule when the notifier speaks zh-CN), grouped and counted by
//! [`crate::report::build`] like an agent's report.

use logward_store::{ReportEntry, ReportSection, StoredAlert, StoredReportEntry};
use serde_json::Value;

use crate::config::Language;
use crate::zh;

/// The host name in a fleet report's title.
pub const FLEET: &str = "fleet";

/// Most alerts one report reads: a flood must not hold the collector's memory; the
/// report's own caps bound what is shown.
pub const MAX_ALERTS: usize = 200_000;

/// The report entries of `alerts` in `language`.
pub fn entries(alerts: &[StoredAlert], language: Language) -> Vec<StoredReportEntry> {
    alerts
        .iter()
        .map(|a| {
            let json: Value = serde_json::from_str(&a.alert.json).unwrap_or(Value::Null);
            let english = json
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or(&a.alert.rule_id)
                .to_owned();
            let message = match language {
                Language::En => english,
                Language::ZhCn => zh::message(&a.alert.rule_id, &json).unwrap_or(english),
            };
            let host = a.alert.host.as_deref().unwrap_or("?");
            StoredReportEntry {
                id: a.id,
                entry: ReportEntry {
                    time: a.alert.time,
                    // event.severity 3 is medium.
                    section: if a.alert.severity >= 3 {
                        ReportSection::Warn
                    } else {
                        ReportSection::Info
                    },
                    text: format!("{host}: {message}"),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use logward_store::NewAlert;

    fn alert(id: i64, rule: &str, severity: u8, host: &str, json: &str) -> StoredAlert {
        StoredAlert {
            id,
            alert: NewAlert {
                time: 100 + id,
                rule_id: rule.into(),
                severity,
                host: Some(host.into()),
                source_address: None,
                user: None,
                json: json.into(),
                dns: None,
            },
        }
    }

    #[test]
    fn alerts_become_host_prefixed_entries_by_severity() {
        let a = [
            alert(
                1,
                "ssh-login",
                1,
                "web01",
                r#"{"message":"alice logged in over SSH from 192.0.2.10 (publickey)","user":{"name":"alice"},"source":{"address":"192.0.2.10"},"logward":{"auth":{"method":"publickey"}}}"#,
            ),
            alert(
                2,
                "ssh-bruteforce",
                4,
                "db02",
                r#"{"message":"6 failed SSH logins from 203.0.113.5","source":{"ip":"203.0.113.5"},"user":{"name":"root"},"labels":{"failures":"6"}}"#,
            ),
        ];
        let en = entries(&a, Language::En);
        assert_eq!(en[0].entry.section, ReportSection::Info);
        assert_eq!(
            en[0].entry.text,
            "web01: alice logged in over SSH from 192.0.2.10 (publickey)"
        );
        assert_eq!(en[1].entry.section, ReportSection::Warn);
        assert_eq!(
            en[1].entry.text,
            "db02: 6 failed SSH logins from 203.0.113.5"
        );
        let zh = entries(&a, Language::ZhCn);
        assert_eq!(
            zh[0].entry.text,
            "web01: alice 从 192.0.2.10 SSH 登录（publickey）"
        );
        assert!(zh[1]
            .entry
            .text
            .starts_with("db02: 10 分钟内来自 203.0.113.5"));
    }
}
