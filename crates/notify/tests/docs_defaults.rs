//! docs/NOTIFY.md's defaults are the code's: each notifier type's default rate (the
//! Notifiers table) and the retry and dedup defaults its prose gives.

use logward_core::duration::parse_duration;
use logward_notify::limit::Rate;
use logward_notify::{sinks, NotifyConfig};

fn doc() -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/NOTIFY.md");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn default_rates(kind: &str) -> &'static [Rate] {
    match kind {
        "dingtalk" => sinks::dingtalk::RATES,
        "feishu" => sinks::feishu::RATES,
        "wecom" => sinks::wecom::RATES,
        "wecom_app" => sinks::wecom_app::RATES,
        "slack" => sinks::slack::RATES,
        "telegram" => sinks::telegram::RATES,
        "webhook" => sinks::webhook::RATES,
        "email" => sinks::email::RATES,
        "syslog" => sinks::syslog::RATES,
        "file" => sinks::file::RATES,
        other => panic!("NOTIFY.md lists a notifier type `{other}` the code does not know"),
    }
}

#[test]
fn notify_md_default_rates_are_the_notifiers() {
    let doc = doc();
    let table = doc
        .split("| `type:` | service | signing / auth | default rate |")
        .nth(1)
        .and_then(|t| t.split("\n\n").next())
        .expect("NOTIFY.md's Notifiers table");
    let mut checked = Vec::new();
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        // `\|` is a pipe inside a cell (`tls: starttls\|implicit\|none`).
        let row = row.replace("\\|", "/");
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let kind = cells[1].split('`').nth(1).expect("a type");
        let written: Vec<Rate> = cells[4]
            .split(" and ")
            .map(|r| r.parse().unwrap_or_else(|e| panic!("{kind}: `{r}`: {e:?}")))
            .collect();
        assert_eq!(written, default_rates(kind), "NOTIFY.md's rate of `{kind}`");
        checked.push(kind.to_owned());
    }
    assert_eq!(checked.len(), 10, "{checked:?}");
}

#[test]
fn notify_md_retry_and_dedup_defaults_are_the_configs() {
    let doc = doc().replace('\n', " ");
    let c = NotifyConfig::default();
    for (key, value) in [
        ("retry.min", &c.retry.min),
        ("retry.max", &c.retry.max),
        ("retry.give_up_after", &c.retry.give_up_after),
    ] {
        // "`retry.min` (5 s)", "`retry.give_up_after`, 3 d)".
        let after = doc
            .split(&format!("`{key}`"))
            .nth(1)
            .unwrap_or_else(|| panic!("NOTIFY.md names `{key}`"));
        let written = after
            .trim_start_matches([' ', '(', ','])
            .split([')', ';'])
            .next()
            .unwrap_or_default()
            .replace(' ', "");
        assert_eq!(
            parse_duration(&written),
            parse_duration(value),
            "NOTIFY.md says `{key}` defaults to {written}, the code {value}"
        );
    }
    let dedup = doc
        .split("**Dedup** (default `")
        .nth(1)
        .and_then(|d| d.split('`').next())
        .expect("NOTIFY.md gives the dedup default");
    assert_eq!(dedup, c.dedup.value);
    assert!(
        doc.contains(&format!("dedup: {dedup}  ")),
        "the routes example's dedup is the default"
    );
}
