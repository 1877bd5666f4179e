//! The daily report (Pyruse's and Epylog's): what the rules' `report` action recorded over a
//! window, in three sections — WARN, INFO, OTHER — with identical messages grouped into one
//! line with a count and the times they happened.
//!
//! [`build`] groups the store's entries; [`Report::message`] words the result as a
//! [`Message`] (title, text, Markdown, HTML, JSON) that any notifier sends. The layout is
//! fixed rather than templated: it is a table, not one alert, and it must stay bounded (see
//! [`MAX_MESSAGES_PER_SECTION`]) whatever a template would do.

use std::collections::HashMap;
use std::fmt::Write as _;

use logward_core::Severity;
use logward_store::{ReportSection, StoredReportEntry, UnixTime};
use serde_json::{json, Value};

use crate::config::{Language, ReportZone};
use crate::message::Message;

/// Distinct messages shown per section; the rest are counted in one line. A flood of unknown
/// lines (OTHER) must not turn the report into a 50 MB mail.
pub const MAX_MESSAGES_PER_SECTION: usize = 200;
/// A message seen at most this many times lists every time; more shows the first and last.
pub const ALL_TIMES_UP_TO: u64 = 5;
/// Longer message texts are cut (with `…`): one huge line must not make the mail huge.
pub const MAX_TEXT_CHARS: usize = 1000;

/// The sections in the order the report shows them.
pub const SECTIONS: [ReportSection; 3] = [
    ReportSection::Warn,
    ReportSection::Info,
    ReportSection::Other,
];

/// One distinct message of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The text (cut at [`MAX_TEXT_CHARS`]).
    pub text: String,
    /// How many times it was recorded.
    pub count: u64,
    /// Every time, sorted, when `count <= ALL_TIMES_UP_TO`; else the first and the last.
    pub times: Vec<UnixTime>,
}

impl Group {
    /// Whether `times` holds every time (else only the first and the last).
    pub fn all_times(&self) -> bool {
        self.count <= ALL_TIMES_UP_TO
    }

    fn first(&self) -> UnixTime {
        self.times.first().copied().unwrap_or_default()
    }
}

/// One section of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub section: ReportSection,
    /// Entries recorded in the section.
    pub total: u64,
    /// Distinct messages among them.
    pub distinct: usize,
    /// The messages shown, in order of first occurrence.
    pub groups: Vec<Group>,
    /// Distinct messages left out by the cap (the least frequent), and their entries.
    pub omitted: usize,
    pub omitted_entries: u64,
}

/// A report, ready to be worded with [`Report::message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub host: String,
    /// The window: `from <= time < to`.
    pub from: UnixTime,
    pub to: UnixTime,
    pub language: Language,
    /// The zone times are shown in (the host's local time unless [`Report::in_zone`]).
    pub zone: ReportZone,
    /// WARN, INFO, OTHER — always all three.
    pub sections: Vec<Section>,
}

/// Groups `entries` (those within `from <= time < to`) into the report of `host`.
pub fn build(
    entries: &[StoredReportEntry],
    from: UnixTime,
    to: UnixTime,
    host: &str,
    language: Language,
) -> Report {
    #[derive(Default)]
    struct Acc {
        count: u64,
        first: UnixTime,
        last: UnixTime,
        /// Every time while there are few; dropped once there are too many to list.
        few: Vec<UnixTime>,
        /// Order of appearance among the entries, the tie-breaker.
        seen: usize,
    }
    let mut by_section: [HashMap<&str, Acc>; 3] = Default::default();
    for (seen, e) in entries.iter().enumerate() {
        let e = &e.entry;
        if e.time < from || e.time >= to {
            continue;
        }
        let acc = by_section[index(e.section)]
            .entry(e.text.as_str())
            .or_insert_with(|| Acc {
                first: e.time,
                last: e.time,
                seen,
                ..Acc::default()
            });
        acc.count += 1;
        acc.first = acc.first.min(e.time);
        acc.last = acc.last.max(e.time);
        if acc.count <= ALL_TIMES_UP_TO {
            acc.few.push(e.time);
        } else if !acc.few.is_empty() {
            acc.few = Vec::new();
        }
    }
    let sections = SECTIONS
        .iter()
        .zip(by_section)
        .map(|(&section, map)| {
            let distinct = map.len();
            let mut groups: Vec<(&str, Acc)> = map.into_iter().collect();
            let total = groups.iter().map(|(_, a)| a.count).sum();
            let mut omitted_entries = 0;
            if groups.len() > MAX_MESSAGES_PER_SECTION {
                // Keep the most frequent (earliest first among equals).
                groups.select_nth_unstable_by_key(MAX_MESSAGES_PER_SECTION, |(_, a)| {
                    (std::cmp::Reverse(a.count), a.first, a.seen)
                });
                omitted_entries = groups[MAX_MESSAGES_PER_SECTION..]
                    .iter()
                    .map(|(_, a)| a.count)
                    .sum();
                groups.truncate(MAX_MESSAGES_PER_SECTION);
            }
            groups.sort_by_key(|(_, a)| (a.first, a.seen));
            let groups: Vec<Group> = groups
                .into_iter()
                .map(|(text, mut a)| {
                    let times = if a.count <= ALL_TIMES_UP_TO {
                        a.few.sort_unstable();
                        a.few
                    } else {
                        vec![a.first, a.last]
                    };
                    // zh-CN: the built-in rules' entries in Chinese (they are stored as
                    // the rules worded them, in English).
                    let text = match language {
                        Language::ZhCn => {
                            crate::zh::report_entry(text).map_or_else(|| cut(text), |t| cut(&t))
                        }
                        Language::En => cut(text),
                    };
                    Group {
                        text,
                        count: a.count,
                        times,
                    }
                })
                .collect();
            Section {
                section,
                total,
                distinct,
                omitted: distinct - groups.len(),
                omitted_entries,
                groups,
            }
        })
        .collect();
    Report {
        host: host.to_owned(),
        from,
        to,
        language,
        zone: ReportZone::Local,
        sections,
    }
}

fn index(s: ReportSection) -> usize {
    match s {
        ReportSection::Warn => 0,
        ReportSection::Info => 1,
        ReportSection::Other => 2,
    }
}

/// The text on one line (a report line never breaks the layout) and at most
/// [`MAX_TEXT_CHARS`] long.
fn cut(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_TEXT_CHARS + 3));
    for (i, c) in text.chars().enumerate() {
        if i == MAX_TEXT_CHARS {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// The words of a language.
struct Words {
    title: &'static str,
    heading: [&'static str; 3],
    nothing: &'static str,
    count: &'static str,
    message: &'static str,
    times: &'static str,
    zone: &'static str,
}

const EN: Words = Words {
    title: "logward daily report",
    heading: [
        "WARN — to look at",
        "INFO — what happened",
        "OTHER — lines no rule recognised",
    ],
    nothing: "Nothing to report.",
    count: "Count",
    message: "Message",
    times: "Times",
    zone: "Times in",
};

const ZH: Words = Words {
    title: "logward 日报",
    heading: ["警告", "信息", "其他（未识别的日志）"],
    nothing: "无。",
    count: "次数",
    message: "消息",
    times: "时间",
    zone: "时区：",
};

const TIME: &str = "%Y-%m-%d %H:%M:%S";
const MINUTE: &str = "%Y-%m-%d %H:%M";
const RFC3339: &str = "%Y-%m-%dT%H:%M:%S%:z";

impl Report {
    /// Shows times in `zone` (the configured `report.timezone`).
    pub fn in_zone(mut self, zone: ReportZone) -> Report {
        self.zone = zone;
        self
    }

    fn words(&self) -> &'static Words {
        match self.language {
            Language::En => &EN,
            Language::ZhCn => &ZH,
        }
    }

    fn time(&self, t: UnixTime) -> String {
        self.zone.format(t, TIME)
    }

    /// Entries in all sections.
    pub fn total(&self) -> u64 {
        self.sections.iter().map(|s| s.total).sum()
    }

    /// `logward daily report — web01 — 2026-11-22 08:00 → 2026-11-23 08:00`.
    pub fn title(&self) -> String {
        format!(
            "{} — {} — {} → {}",
            self.words().title,
            self.host,
            self.zone.format(self.from, MINUTE),
            self.zone.format(self.to, MINUTE)
        )
    }

    /// `Times in Asia/Shanghai (+08:00). 12 entries.`
    fn summary(&self) -> String {
        let zone = format!(
            "{} ({})",
            self.zone.name(),
            self.zone.format(self.to, "%:z")
        );
        match self.language {
            Language::En => format!(
                "{} {zone}. {} {}.",
                EN.zone,
                self.total(),
                plural(self.total(), "entry", "entries")
            ),
            Language::ZhCn => format!("{}{zone}。共 {} 条记录。", ZH.zone, self.total()),
        }
    }

    fn heading(&self, s: &Section) -> String {
        let name = self.words().heading[index(s.section)];
        if s.total == 0 {
            return name.to_owned();
        }
        match self.language {
            Language::En => format!(
                "{name} ({} {}, {} distinct)",
                s.total,
                plural(s.total, "entry", "entries"),
                s.distinct
            ),
            Language::ZhCn => format!("{name}（共 {} 条，{} 种）", s.total, s.distinct),
        }
    }

    /// The times of a group: all of them, or the first, the last and how many.
    fn times(&self, g: &Group) -> String {
        if g.all_times() {
            let t: Vec<String> = g.times.iter().map(|&t| self.time(t)).collect();
            return t.join(", ");
        }
        let first = self.time(g.first());
        let last = self.time(g.times.last().copied().unwrap_or_default());
        match self.language {
            Language::En => format!("first {first}, last {last} ({} times)", g.count),
            Language::ZhCn => format!("首次 {first}，末次 {last}（共 {} 次）", g.count),
        }
    }

    fn omitted(&self, s: &Section) -> Option<String> {
        (s.omitted > 0).then(|| match self.language {
            Language::En => format!(
                "… and {} more distinct {} ({} {}), the least frequent, not shown.",
                s.omitted,
                plural(s.omitted as u64, "message", "messages"),
                s.omitted_entries,
                plural(s.omitted_entries, "entry", "entries")
            ),
            Language::ZhCn => format!(
                "……另有 {} 种出现较少的消息（共 {} 条）未列出。",
                s.omitted, s.omitted_entries
            ),
        })
    }

    /// Plain text (mail bodies, syslog, files).
    pub fn text(&self) -> String {
        self.render(&Text)
    }

    /// Markdown (chat robots).
    pub fn markdown(&self) -> String {
        self.render(&Markdown)
    }

    /// HTML (mail), every text escaped.
    pub fn html(&self) -> String {
        self.render(&Html)
    }

    /// Walks the parts once for every form: the head, then each section's heading and its
    /// groups (or a line saying there are none) and what was left out.
    fn render(&self, form: &impl Form) -> String {
        let mut out = String::new();
        form.head(&mut out, &self.title(), &self.summary());
        for s in &self.sections {
            form.heading(&mut out, &self.heading(s));
            if s.groups.is_empty() {
                form.nothing(&mut out, self.words().nothing);
                continue;
            }
            form.groups_start(&mut out, self.words());
            for g in &s.groups {
                form.group(&mut out, g.count, &g.text, &self.times(g));
            }
            form.groups_end(&mut out);
            if let Some(o) = self.omitted(s) {
                form.omitted(&mut out, &o);
            }
        }
        form.end(&mut out);
        out
    }

    /// `{"report": {...}}` (webhook bodies, files): every shown message with its count and
    /// times (RFC 3339 in the report's zone).
    pub fn json(&self) -> Value {
        let t = |t: UnixTime| self.zone.format(t, RFC3339);
        let sections: Vec<Value> = self
            .sections
            .iter()
            .map(|s| {
                json!({
                    "section": section_name(s.section),
                    "total": s.total,
                    "distinct": s.distinct,
                    "omitted": s.omitted,
                    "omitted_entries": s.omitted_entries,
                    "messages": s.groups.iter().map(|g| json!({
                        "text": g.text,
                        "count": g.count,
                        "first": t(g.first()),
                        "last": t(g.times.last().copied().unwrap_or_default()),
                        "times": if g.all_times() {
                            g.times.iter().map(|&x| t(x)).collect::<Vec<_>>()
                        } else {
                            Vec::new()
                        },
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({"report": {
            "host": self.host,
            "from": t(self.from),
            "to": t(self.to),
            "timezone": self.zone.name(),
            "total": self.total(),
            "sections": sections,
        }})
    }

    /// The message every notifier sends. Its idempotency key names the host and the window,
    /// so a report re-sent after a crash is dropped by receivers that saw it.
    pub fn message(&self) -> Message {
        Message {
            title: self.title(),
            text: self.text(),
            markdown: self.markdown(),
            html: self.html(),
            severity: Severity::Info,
            json: self.json(),
            idempotency_key: format!(
                "logward-report-{}-{}-{}",
                self.host
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                        c
                    } else {
                        '_'
                    })
                    .collect::<String>(),
                self.from,
                self.to
            ),
            // Not alerts: report entries.
            alerts: 0,
        }
    }
}

/// The section's name in the rules' `report` action and in JSON.
pub fn section_name(s: ReportSection) -> &'static str {
    match s {
        ReportSection::Warn => "WARN",
        ReportSection::Info => "INFO",
        ReportSection::Other => "OTHER",
    }
}

fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// How one output form writes each part of a report ([`Report::render`] walks them); each
/// escapes what its syntax needs.
trait Form {
    fn head(&self, out: &mut String, title: &str, summary: &str);
    fn heading(&self, out: &mut String, heading: &str);
    fn nothing(&self, out: &mut String, nothing: &str);
    /// Before a section's groups (the HTML table's head).
    fn groups_start(&self, _out: &mut String, _w: &Words) {}
    fn group(&self, out: &mut String, count: u64, text: &str, times: &str);
    fn groups_end(&self, _out: &mut String) {}
    fn omitted(&self, out: &mut String, omitted: &str);
    fn end(&self, _out: &mut String) {}
}

struct Text;

impl Form for Text {
    fn head(&self, out: &mut String, title: &str, summary: &str) {
        let _ = writeln!(out, "{title}\n{summary}");
    }
    fn heading(&self, out: &mut String, heading: &str) {
        let _ = writeln!(out, "\n== {heading}\n");
    }
    fn nothing(&self, out: &mut String, nothing: &str) {
        let _ = writeln!(out, "  {nothing}");
    }
    fn group(&self, out: &mut String, count: u64, text: &str, times: &str) {
        let _ = writeln!(out, "{count:>7}  {text}");
        let _ = writeln!(out, "         {times}");
    }
    fn omitted(&self, out: &mut String, omitted: &str) {
        let _ = writeln!(out, "  {omitted}");
    }
}

struct Markdown;

impl Form for Markdown {
    fn head(&self, out: &mut String, title: &str, summary: &str) {
        let _ = writeln!(out, "## {}\n\n{}", md(title), md(summary));
    }
    fn heading(&self, out: &mut String, heading: &str) {
        let _ = writeln!(out, "\n### {}\n", md(heading));
    }
    fn nothing(&self, out: &mut String, nothing: &str) {
        let _ = writeln!(out, "_{nothing}_");
    }
    fn group(&self, out: &mut String, count: u64, text: &str, times: &str) {
        let _ = writeln!(out, "- **{count}×** {} — {times}", md(text));
    }
    fn omitted(&self, out: &mut String, omitted: &str) {
        let _ = writeln!(out, "\n_{}_", md(omitted));
    }
}

struct Html;

impl Form for Html {
    fn head(&self, out: &mut String, title: &str, summary: &str) {
        out.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n");
        let _ = writeln!(out, "<h2>{}</h2>\n<p>{}</p>", esc(title), esc(summary));
    }
    fn heading(&self, out: &mut String, heading: &str) {
        let _ = writeln!(out, "<h3>{}</h3>", esc(heading));
    }
    fn nothing(&self, out: &mut String, nothing: &str) {
        let _ = writeln!(out, "<p><em>{}</em></p>", esc(nothing));
    }
    fn groups_start(&self, out: &mut String, w: &Words) {
        let _ = writeln!(
            out,
            "<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\">\n<tr><th align=\"right\">{}</th><th align=\"left\">{}</th><th align=\"left\">{}</th></tr>",
            esc(w.count),
            esc(w.message),
            esc(w.times)
        );
    }
    fn group(&self, out: &mut String, count: u64, text: &str, times: &str) {
        let _ = writeln!(
            out,
            "<tr><td align=\"right\">{count}</td><td>{}</td><td>{}</td></tr>",
            esc(text),
            esc(times)
        );
    }
    fn groups_end(&self, out: &mut String) {
        out.push_str("</table>\n");
    }
    fn omitted(&self, out: &mut String, omitted: &str) {
        let _ = writeln!(out, "<p><em>{}</em></p>", esc(omitted));
    }
    fn end(&self, out: &mut String) {
        out.push_str("</body></html>\n");
    }
}

/// HTML-escapes text for element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes what Markdown would read as markup (log lines are full of `*`, `_` and `[`).
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use logward_store::ReportEntry;

    /// 2026-11-22 08:00:00 UTC.
    const FROM: UnixTime = 1_795_334_400;
    const TO: UnixTime = FROM + 86_400;

    fn entry(id: i64, secs: i64, section: ReportSection, text: &str) -> StoredReportEntry {
        StoredReportEntry {
            id,
            entry: ReportEntry {
                time: FROM + secs,
                section,
                text: text.to_owned(),
            },
        }
    }

    fn utc() -> ReportZone {
        ReportZone::parse("UTC").unwrap()
    }

    fn sample() -> Vec<StoredReportEntry> {
        use ReportSection::*;
        let mut v = vec![
            entry(1, 3600, Info, "alice logged in from 192.0.2.10"),
            entry(2, 60, Warn, "5 failures from 203.0.113.5"),
            entry(3, 7200, Info, "alice logged in from 192.0.2.10"),
            entry(4, 30, Info, "bob ran sudo"),
        ];
        // Seven of the same, out of order: first and last shown.
        for (i, s) in [500, 100, 700, 300, 200, 600, 400].iter().enumerate() {
            v.push(entry(10 + i as i64, *s, Warn, "root login refused"));
        }
        // Outside the window: ignored.
        v.push(entry(30, -1, Warn, "too early"));
        v.push(entry(31, 86_400, Warn, "too late"));
        v
    }

    #[test]
    fn groups_counts_and_orders_sections() {
        let r = build(&sample(), FROM, TO, "web01", Language::En).in_zone(utc());
        let names: Vec<_> = r.sections.iter().map(|s| section_name(s.section)).collect();
        assert_eq!(names, ["WARN", "INFO", "OTHER"]);
        let warn = &r.sections[0];
        assert_eq!((warn.total, warn.distinct), (8, 2));
        assert_eq!(warn.groups[0].text, "5 failures from 203.0.113.5");
        assert_eq!(warn.groups[1].count, 7);
        assert_eq!(warn.groups[1].times, [FROM + 100, FROM + 700]);
        let info = &r.sections[1];
        // In order of first occurrence; all times listed, sorted.
        assert_eq!(info.groups[0].text, "bob ran sudo");
        assert_eq!(info.groups[1].count, 2);
        assert_eq!(info.groups[1].times, [FROM + 3600, FROM + 7200]);
        assert_eq!(r.sections[2].total, 0);
        assert_eq!(r.total(), 11);

        let m = r.message();
        assert_eq!(
            m.title,
            "logward daily report — web01 — 2026-11-22 08:00 → 2026-11-23 08:00"
        );
        assert_eq!(m.severity, Severity::Info);
        assert_eq!(
            m.idempotency_key,
            format!("logward-report-web01-{FROM}-{TO}")
        );
        let t = &m.text;
        assert!(t.contains("Times in UTC (+00:00). 11 entries."), "{t}");
        assert!(
            t.contains("== WARN — to look at (8 entries, 2 distinct)"),
            "{t}"
        );
        assert!(t.contains("      7  root login refused\n         first 2026-11-22 08:01:40, last 2026-11-22 08:11:40 (7 times)"), "{t}");
        assert!(t.contains("      2  alice logged in from 192.0.2.10\n         2026-11-22 09:00:00, 2026-11-22 10:00:00"), "{t}");
        assert!(
            t.contains("== OTHER — lines no rule recognised\n\n  Nothing to report."),
            "{t}"
        );
        assert!(!t.contains("too early") && !t.contains("too late"));
        // WARN before INFO before OTHER in every form.
        for body in [&m.text, &m.markdown, &m.html] {
            let w = body.find("WARN").unwrap();
            let i = body.find("INFO").unwrap();
            let o = body.find("OTHER").unwrap();
            assert!(w < i && i < o, "{body}");
        }
        assert!(
            m.markdown
                .contains("- **7×** root login refused — first 2026-11-22 08:01:40"),
            "{}",
            m.markdown
        );
        assert!(m.markdown.contains("_Nothing to report._"));
        let j = &m.json["report"];
        assert_eq!(j["host"], "web01");
        assert_eq!(j["from"], "2026-11-22T08:00:00+00:00");
        assert_eq!(j["sections"][0]["messages"][1]["count"], 7);
        assert_eq!(
            j["sections"][0]["messages"][1]["times"],
            serde_json::json!([])
        );
        assert_eq!(
            j["sections"][1]["messages"][1]["times"],
            serde_json::json!(["2026-11-22T09:00:00+00:00", "2026-11-22T10:00:00+00:00"])
        );
    }

    #[test]
    fn five_times_are_listed_six_are_not() {
        let five: Vec<_> = (0..5)
            .map(|i| entry(i, i * 60, ReportSection::Info, "x"))
            .collect();
        let r = build(&five, FROM, TO, "h", Language::En).in_zone(utc());
        assert_eq!(r.sections[1].groups[0].times.len(), 5);
        assert!(r.text().contains("2026-11-22 08:00:00, 2026-11-22 08:01:00, 2026-11-22 08:02:00, 2026-11-22 08:03:00, 2026-11-22 08:04:00"));
        let mut six = five.clone();
        six.push(entry(6, 3600, ReportSection::Info, "x"));
        let r = build(&six, FROM, TO, "h", Language::En).in_zone(utc());
        assert!(r
            .text()
            .contains("first 2026-11-22 08:00:00, last 2026-11-22 09:00:00 (6 times)"));
    }

    #[test]
    fn a_flood_is_capped_to_the_most_frequent() {
        let mut v = Vec::new();
        for i in 0..100_000 {
            v.push(entry(
                i,
                i % 80_000,
                ReportSection::Other,
                &format!("junk {i}"),
            ));
        }
        // A frequent one late in the window still makes the cut.
        for i in 0..3 {
            v.push(entry(200_000 + i, 86_000, ReportSection::Other, "frequent"));
        }
        let r = build(&v, FROM, TO, "h", Language::En);
        let other = &r.sections[2];
        assert_eq!(other.total, 100_003);
        assert_eq!(other.distinct, 100_001);
        assert_eq!(other.groups.len(), MAX_MESSAGES_PER_SECTION);
        assert_eq!(other.omitted, 100_001 - MAX_MESSAGES_PER_SECTION);
        assert_eq!(
            other.omitted_entries,
            100_001 - MAX_MESSAGES_PER_SECTION as u64
        );
        assert!(other.groups.iter().any(|g| g.text == "frequent"));
        let m = r.message();
        assert!(
            m.text.contains("… and 99801 more distinct messages (99801 entries), the least frequent, not shown."),
            "{}",
            &m.text[m.text.len() - 300..]
        );
        for body in [&m.text, &m.markdown, &m.html] {
            assert!(body.len() < 100_000, "{}", body.len());
        }
        // One huge line is cut too.
        let huge = "A".repeat(1_000_000);
        let r = build(
            &[entry(1, 1, ReportSection::Warn, &huge)],
            FROM,
            TO,
            "h",
            Language::En,
        );
        assert!(r.message().html.len() < 10_000);
        assert!(r.text().contains("AAA…"));
    }

    #[test]
    fn html_and_markdown_are_escaped() {
        let evil = "<script>alert('x')</script> & *bold* [link](http://e)\nnext";
        let r = build(
            &[entry(1, 1, ReportSection::Other, evil)],
            FROM,
            TO,
            "<b>host</b>",
            Language::En,
        );
        let m = r.message();
        assert!(
            !m.html.contains("<script>") && !m.html.contains("<b>host"),
            "{}",
            m.html
        );
        assert!(m
            .html
            .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; *bold*"));
        assert!(
            m.markdown.contains(r"\*bold\* \[link\](http://e) next"),
            "{}",
            m.markdown
        );
        // The newline did not break the line layout.
        assert!(m.text.contains("(http://e) next"));
        assert_eq!(
            m.idempotency_key,
            format!("logward-report-_b_host__b_-{FROM}-{TO}")
        );
    }

    #[test]
    fn chinese_wording_and_zone() {
        let r = build(&sample(), FROM, TO, "web01", Language::ZhCn)
            .in_zone(ReportZone::parse("Asia/Shanghai").unwrap());
        let m = r.message();
        assert_eq!(
            m.title,
            "logward 日报 — web01 — 2026-11-22 16:00 → 2026-11-23 16:00"
        );
        for want in [
            "时区：Asia/Shanghai (+08:00)。共 11 条记录。",
            "== 警告（共 8 条，2 种）",
            "== 信息（共 3 条，2 种）",
            "== 其他（未识别的日志）\n\n  无。",
            "首次 2026-11-22 16:01:40，末次 2026-11-22 16:11:40（共 7 次）",
        ] {
            assert!(m.text.contains(want), "{want} in {}", m.text);
        }
        assert!(
            m.html.contains("<th align=\"right\">次数</th>"),
            "{}",
            m.html
        );
        assert_eq!(m.json["report"]["timezone"], "Asia/Shanghai");
        assert_eq!(m.json["report"]["to"], "2026-11-23T16:00:00+08:00");
        let r = build(
            &(0..300)
                .map(|i| entry(i, i, ReportSection::Other, &format!("l{i}")))
                .collect::<Vec<_>>(),
            FROM,
            TO,
            "h",
            Language::ZhCn,
        );
        assert!(r
            .text()
            .contains("……另有 100 种出现较少的消息（共 100 条）未列出。"));
    }

    #[test]
    fn an_empty_report_says_so() {
        let r = build(&[], FROM, TO, "h", Language::En).in_zone(utc());
        let t = r.text();
        assert_eq!(t.matches("Nothing to report.").count(), 3, "{t}");
        assert!(t.contains("0 entries"));
        assert_eq!(
            r.message()
                .html
                .matches("<em>Nothing to report.</em>")
                .count(),
            3
        );
    }
}
