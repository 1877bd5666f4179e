//! What the dashboard and the REST API read: alert filters and pages, an alert with its
//! events, deliveries and analysis, the charts' figures.

use super::analysis::Analysis;
use super::fleet::Decision;
use crate::error::Result;
use crate::types::{NewAlert, StoredAlert, UnixTime};

/// Which alerts to list. Every filter is optional; together they are ANDed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// `time >= since`.
    pub since: Option<UnixTime>,
    /// `time < until`.
    pub until: Option<UnixTime>,
    pub host: Option<String>,
    /// At least this severity (1–5).
    pub min_severity: Option<u8>,
    pub rule: Option<String>,
    pub user: Option<String>,
    /// `source.address`, exactly.
    pub address: Option<String>,
    /// Keyset cursor: only ids below this one (the `next` of the previous page).
    pub before: Option<i64>,
}

/// One page of alerts, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertPage {
    pub alerts: Vec<StoredAlert>,
    /// The cursor of the next page (`before`), when there may be one.
    pub next: Option<i64>,
}

/// One forwarded event shown with an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: i64,
    pub agent_id: String,
    pub time: UnixTime,
    pub host: Option<String>,
    pub action: String,
    pub outcome: String,
    pub source_ip: Option<String>,
    pub user: Option<String>,
    /// The event's ECS JSON (`event.original` holds the raw line when the agent sent it).
    pub json: String,
}

/// One notification queued for an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub sink: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub updated_at: UnixTime,
}

/// An alert with everything the alert page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertDetail {
    pub alert: StoredAlert,
    /// Events of the same host and source address (or user) in the hour up to the alert.
    pub events: Vec<EventRow>,
    /// Fleet ban decisions taken because of it.
    pub decisions: Vec<Decision>,
    /// Its notifications.
    pub deliveries: Vec<Delivery>,
    pub analysis: Option<Analysis>,
}

/// A label and its count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub key: String,
    pub count: i64,
}

/// The charts' figures over a time range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertStats {
    pub total: i64,
    /// (hour start, alerts), ascending, hours without alerts left out.
    pub per_hour: Vec<(UnixTime, i64)>,
    pub top_sources: Vec<Count>,
    pub top_users: Vec<Count>,
    pub per_host: Vec<Count>,
    pub per_severity: Vec<Count>,
}

/// How far before an alert its events are looked for.
pub const EVENT_WINDOW_SECS: i64 = 3600;
/// At most this many events are shown with an alert.
pub const MAX_ALERT_EVENTS: usize = 200;
/// The `host.name` of alerts the collector raises over the whole fleet (fleet rules, fleet
/// anomaly detection): their events are looked for on every host.
pub const FLEET_HOST: &str = "fleet";

/// The DNS page's figures over a time range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsStats {
    pub total: i64,
    /// (day start, hits), ascending, days without hits left out.
    pub per_day: Vec<(UnixTime, i64)>,
    /// (hour start, hits), ascending, hours without hits left out.
    pub per_hour: Vec<(UnixTime, i64)>,
    pub top_domains: Vec<Count>,
    pub top_clients: Vec<Count>,
    /// Hits per finding (`listed`, `api-malicious`, `tunnel`, `dga` …).
    pub per_finding: Vec<Count>,
}

/// Which DNS hits to list, newest first. Filters are ANDed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsHitFilter {
    pub since: Option<UnixTime>,
    pub until: Option<UnixTime>,
    /// The client's address, exactly.
    pub client: Option<String>,
    /// The domain, exactly.
    pub domain: Option<String>,
}

/// One stored DNS hit and the alert it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDnsHit {
    pub alert_id: i64,
    pub time: UnixTime,
    pub host: Option<String>,
    pub hit: crate::types::DnsHit,
}

impl AlertPage {
    /// A page from the rows of a query asking for one more than `n`: that one, when there,
    /// says a next page exists, which starts before the last alert kept.
    pub(crate) fn from_rows(mut alerts: Vec<StoredAlert>, n: usize) -> AlertPage {
        let next = if alerts.len() > n {
            alerts.truncate(n);
            alerts.last().map(|a| a.id)
        } else {
            None
        };
        AlertPage { alerts, next }
    }
}

/// The value of a filter condition.
pub(crate) enum FilterValue<'a> {
    Int(i64),
    /// For a column of 32-bit integers on PostgreSQL (the severity).
    Small(i32),
    Text(&'a str),
}

impl AlertFilter {
    /// The filter's conditions (the cursor included), each a column and operator to which a
    /// backend appends its placeholder, with its value.
    pub(crate) fn conditions(&self) -> Vec<(&'static str, FilterValue<'_>)> {
        let ints = [("time >=", self.since), ("time <", self.until)];
        let texts = [
            ("host =", &self.host),
            ("rule_id =", &self.rule),
            ("user_name =", &self.user),
            ("source_address =", &self.address),
        ];
        let severity = self
            .min_severity
            .map(|s| ("severity >=", FilterValue::Small(s.into())));
        let int = |(col, v): (&'static str, Option<i64>)| v.map(|v| (col, FilterValue::Int(v)));
        ints.into_iter()
            .filter_map(int)
            .chain(
                texts
                    .into_iter()
                    .filter_map(|(col, v)| v.as_deref().map(|v| (col, FilterValue::Text(v)))),
            )
            .chain(severity)
            .chain(int(("id <", self.before)))
            .collect()
    }
}

/// The fleet events an alert's detail shows: those of its source address (else its user)
/// in the hour before it, from its host — any host for a fleet alert, made from several.
pub(crate) struct AlertEvents<'a> {
    /// `source_ip` or `user_name`: two statements, not one with an OR, so that each uses
    /// its index.
    pub by: &'static str,
    pub key: Option<&'a str>,
    pub host: Option<&'a str>,
    pub from: UnixTime,
    pub to: UnixTime,
}

impl<'a> AlertEvents<'a> {
    pub(crate) fn of(a: &'a NewAlert) -> AlertEvents<'a> {
        let (by, key) = match (&a.source_address, &a.user) {
            (Some(ip), _) => ("source_ip", Some(ip.as_str())),
            (None, user) => ("user_name", user.as_deref()),
        };
        AlertEvents {
            by,
            key,
            host: a.host.as_deref().filter(|h| *h != FLEET_HOST),
            from: a.time - EVENT_WINDOW_SECS,
            to: a.time,
        }
    }
}

/// The charts' figures as a backend counts them, over the rows of `table` with `time` in
/// `[since, until)`; [`AlertStats::read`] and [`DnsStats::read`] say which.
pub(crate) trait Figures {
    /// How many rows.
    fn count_rows(&mut self, table: &str, since: UnixTime, until: UnixTime) -> Result<i64>;

    /// (bucket start, rows) in buckets of `width` seconds, ascending; empty ones left out.
    fn count_buckets(
        &mut self,
        table: &str,
        width: i64,
        since: UnixTime,
        until: UnixTime,
    ) -> Result<Vec<(UnixTime, i64)>>;

    /// The `top` most frequent values of `col`, most frequent first, ties in byte order;
    /// NULLs left out.
    fn rank_values(
        &mut self,
        table: &str,
        col: &str,
        since: UnixTime,
        until: UnixTime,
        top: usize,
    ) -> Result<Vec<Count>>;
}

impl AlertStats {
    /// The dashboard's figures for alerts in `[since, until)`, `top` entries per ranking.
    pub(crate) fn read(
        f: &mut impl Figures,
        since: UnixTime,
        until: UnixTime,
        top: usize,
    ) -> Result<AlertStats> {
        Ok(AlertStats {
            total: f.count_rows("alerts", since, until)?,
            per_hour: f.count_buckets("alerts", 3600, since, until)?,
            top_sources: f.rank_values("alerts", "source_address", since, until, top)?,
            top_users: f.rank_values("alerts", "user_name", since, until, top)?,
            per_host: f.rank_values("alerts", "host", since, until, top)?,
            per_severity: f.rank_values("alerts", "severity", since, until, 5)?,
        })
    }
}

impl DnsStats {
    /// The DNS page's figures for hits in `[since, until)`, `top` entries per ranking.
    pub(crate) fn read(
        f: &mut impl Figures,
        since: UnixTime,
        until: UnixTime,
        top: usize,
    ) -> Result<DnsStats> {
        Ok(DnsStats {
            total: f.count_rows("dns_hits", since, until)?,
            per_day: f.count_buckets("dns_hits", 86_400, since, until)?,
            per_hour: f.count_buckets("dns_hits", 3600, since, until)?,
            top_domains: f.rank_values("dns_hits", "domain", since, until, top)?,
            top_clients: f.rank_values("dns_hits", "client", since, until, top)?,
            per_finding: f.rank_values("dns_hits", "finding", since, until, top)?,
        })
    }
}
