//! The DNS page's answers: `GET /v1/dns/stats` (hits over time, top domains, top clients,
//! per finding) and `GET /v1/dns/hits` (the newest hits, of one client or domain).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use logward_store::{CollectorStore, DnsHitFilter};
use serde_json::{json, Value};

use crate::api::{
    api_auth, bad, counts_json, json_reply, non_empty, parse_time, query, series_json, stats_reply,
    store_error,
};
use crate::server::AppState;

/// Entries per ranking of `GET /v1/dns/stats`.
const TOP: usize = 10;
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

/// `GET /v1/dns/stats?since=&until=` (default: the last 7 days).
pub async fn dns_stats(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let figures = |s: &mut dyn CollectorStore, since, until| s.dns_stats(since, until, TOP);
    let (h, q) = (req.headers(), req.uri().query());
    stats_reply(
        &state,
        "dns_stats",
        h,
        q,
        7 * 86_400,
        figures,
        |since, until, st| {
            json!({
                "since": since, "until": until, "total": st.total,
                "per_day": series_json(&st.per_day, "day"),
                "per_hour": series_json(&st.per_hour, "hour"),
                "top_domains": counts_json(&st.top_domains),
                "top_clients": counts_json(&st.top_clients),
                "per_finding": counts_json(&st.per_finding),
            })
        },
    )
    .await
}

/// The filter and limit of `GET /v1/dns/hits`.
pub fn hit_filter(q: Option<&str>) -> Result<(DnsHitFilter, usize), String> {
    let mut f = DnsHitFilter::default();
    let mut limit = DEFAULT_LIMIT;
    for (k, v) in &query(q, &["since", "until", "client", "domain", "limit"])? {
        match k.as_str() {
            "since" => f.since = Some(parse_time(k, v)?),
            "until" => f.until = Some(parse_time(k, v)?),
            "client" => {
                let ip: std::net::IpAddr = v
                    .parse()
                    .map_err(|_| format!("client: {v:?} is not an IP address"))?;
                f.client = Some(ip.to_string());
            }
            "domain" => {
                let d = non_empty(k, v)?;
                f.domain = Some(d.trim_end_matches('.').to_ascii_lowercase());
            }
            _ => {
                limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| format!("limit: {v:?} is not a number from 1 to {MAX_LIMIT}"))?
            }
        }
    }
    Ok((f, limit))
}

/// `GET /v1/dns/hits?client=&domain=&since=&until=&limit=`.
pub async fn dns_hits(State(state): State<Arc<AppState>>, req: Request) -> Response {
    const EP: &str = "dns_hits";
    if let Err(r) = api_auth(&state, EP, req.headers()).await {
        return r;
    }
    let (f, limit) = match hit_filter(req.uri().query()) {
        Ok(x) => x,
        Err(msg) => return bad(&state, EP, StatusCode::BAD_REQUEST, &msg),
    };
    match state.store.call(move |s| s.dns_hits(&f, limit)).await {
        Ok(Ok(hits)) => {
            let hits: Vec<Value> = hits
                .iter()
                .map(|h| {
                    let x = &h.hit;
                    json!({
                        "alert_id": h.alert_id, "time": h.time, "host": h.host,
                        "client": x.client, "domain": x.domain, "type": x.qtype,
                        "finding": x.finding, "list": x.list, "verdict": x.verdict,
                        "severity": x.severity, "answer": x.answer, "owner": x.owner,
                    })
                })
                .collect();
            json_reply(&state, EP, StatusCode::OK, json!({ "hits": hits }))
        }
        _ => store_error(&state, EP),
    }
}
