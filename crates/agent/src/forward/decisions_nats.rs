//! `transport: nats`: fleet decisions watched on the collectors' JetStream stream instead of
//! polled (docs/AGENT.md, Forwarding over NATS).
//!
//! Each message is one change of the fleet's decisions log, as a poll answer carries it,
//! signed by the collectors with the fleet's Ed25519 key. Any NATS client that may publish
//! (every agent) could put a message on the subject, so a message counts only when its
//! signature verifies under the public key this agent pinned — from its enrolment answer, or
//! fetched once over the signed HTTP link (`GET /v1/decisions/key`) and kept in the store.
//! Until it has one (the collector's HTTP is out of reach) it polls as over HTTP.
//!
//! A verified change above the cursor is validated as a polled one ([`super::validate`]) and
//! handed to the daemon the same way, which stores the cursor once it applied it; changes at
//! or below it (a restart reads the stream from its start; several collectors may publish
//! one change twice) are skipped. A NATS outage reconnects with backoff and resumes where
//! the stream left off: nothing is lost while the stream keeps it (`decisions_max_age_secs`
//! on the collector).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt as _;
use logward_core::backoff::Backoff;
use logward_core::nats as lnats;
use logward_core::wire;
use reqwest::{Method, StatusCode};
use tokio::sync::mpsc;

use super::{db, endpoint, jittered, now, validate, Decisions, Link, DECISIONS_SINCE};
use crate::config::ForwardNats;

/// The store key of the pinned public key fetched from the collector.
pub const DECISIONS_KEY: &str = "decisions_key";

/// Polls until the key is known, then watches the stream for good.
pub(super) async fn watch_loop(link: Arc<Link>, n: ForwardNats, tx: mpsc::Sender<Decisions>) {
    let mut since = match db(&link.store, |s| s.forward_state(DECISIONS_SINCE)).await {
        Ok(s) => s.unwrap_or_else(|| "0".into()),
        Err(e) => {
            tracing::error!(error = %e, "forward: cannot read the decisions cursor; not watching decisions");
            return;
        }
    };
    let mut tick = tokio::time::interval(link.settings.decisions_poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut said = false;
    let key = loop {
        if let Some(k) = key(&link).await {
            break k;
        }
        if !said {
            tracing::warn!("forward: no decisions key from the collector yet; polling decisions over HTTP meanwhile");
            said = true;
        }
        tick.tick().await;
        if !super::poll_once(&link, &mut since, &tx).await {
            return;
        }
    };
    let mut cursor = since.trim().parse::<i64>().unwrap_or(0);
    let mut backoff = Backoff::new(link.settings.backoff_min, link.settings.backoff_max);
    let mut next_seq = 1u64;
    loop {
        match watch(&link, &n, &key, &mut cursor, &mut next_seq, &tx).await {
            Ok(()) => return,
            Err(e) => {
                let wait = jittered(&mut backoff);
                tracing::warn!(error = %e, wait_ms = wait.as_millis() as u64, "forward: watching decisions on NATS failed; reconnecting");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// The pinned key: from the store, the enrolment, or the collector (then stored).
async fn key(link: &Link) -> Option<String> {
    match db(&link.store, |s| s.forward_state(DECISIONS_KEY)).await {
        Ok(Some(k)) if lnats::valid_public_key(&k) => return Some(k),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "forward: cannot read the pinned decisions key"),
    }
    if let Some(k) = link.creds.decisions_key.clone() {
        if lnats::valid_public_key(&k) {
            return Some(k);
        }
    }
    let url = endpoint(&link.base, "/v1/decisions/key").ok()?;
    let r = match link.request(Method::GET, url, Vec::new(), "", false).await {
        Ok(r) if r.status == StatusCode::OK => r,
        Ok(r) => {
            tracing::debug!(status = %r.status, "forward: the decisions key was refused");
            return None;
        }
        Err(e) => {
            tracing::debug!(error = %e, "forward: cannot fetch the decisions key");
            return None;
        }
    };
    let a: wire::DecisionsKey = serde_json::from_str(&r.body).ok()?;
    if a.algorithm != "ed25519" || !lnats::valid_public_key(&a.key) {
        tracing::warn!(algorithm = %a.algorithm, "forward: the collector's decisions key is not an Ed25519 public key");
        return None;
    }
    let k = a.key.clone();
    if let Err(e) = db(&link.store, move |s| s.set_forward_state(DECISIONS_KEY, &k)).await {
        tracing::warn!(error = %e, "forward: cannot pin the decisions key (fetched again next start)");
    }
    tracing::info!("forward: pinned the fleet's decisions key");
    Some(a.key)
}

/// What one message is worth.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// A change to hand on, its id.
    Apply(wire::DecisionChange, i64),
    /// Already applied (at or below the cursor).
    Old,
    /// Not signed by the fleet's key.
    Forged,
    /// Signed, but not a change (a collector bug): refused too.
    Malformed(String),
}

/// Judges one message's body and signature against the pinned key and the cursor.
pub(super) fn judge(key: &str, body: &[u8], signature: Option<&str>, cursor: i64) -> Verdict {
    if !signature.is_some_and(|s| lnats::verify_decision(key, body, s)) {
        return Verdict::Forged;
    }
    let change: wire::DecisionChange = match serde_json::from_slice(body) {
        Ok(c) => c,
        Err(e) => return Verdict::Malformed(e.to_string()),
    };
    let Some(id) = change
        .id
        .as_ref()
        .and_then(|i| i.to_string().trim().parse::<i64>().ok())
    else {
        return Verdict::Malformed("no numeric id".into());
    };
    if id <= cursor {
        return Verdict::Old;
    }
    Verdict::Apply(change, id)
}

/// Watches from stream sequence `next_seq` until an error (`Ok`: the daemon is gone).
async fn watch(
    link: &Link,
    n: &ForwardNats,
    key: &str,
    cursor: &mut i64,
    next_seq: &mut u64,
    tx: &mpsc::Sender<Decisions>,
) -> Result<(), String> {
    let name = format!("logward-agent {} decisions", link.creds.agent_id);
    let client = lnats::connect(&n.connect, &name, false).await?;
    let js = jetstream::new(client);
    let stream = js
        .get_stream(&n.decisions_stream)
        .await
        .map_err(|e| format!("stream {}: {e}", n.decisions_stream))?;
    let deliver_policy = match *next_seq {
        0 | 1 => consumer::DeliverPolicy::All,
        s => consumer::DeliverPolicy::ByStartSequence { start_sequence: s },
    };
    let mut messages = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: lnats::DECISIONS_SUBJECT.to_owned(),
            deliver_policy,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("consumer on {}: {e}", n.decisions_stream))?
        .messages()
        .await
        .map_err(|e| format!("messages of {}: {e}", n.decisions_stream))?;
    tracing::info!(stream = %n.decisions_stream, since = *cursor, "forward: watching fleet decisions on NATS");
    let stats = &link.stats;
    while let Some(m) = messages.next().await {
        let m = m.map_err(|e| format!("messages: {e}"))?;
        if let Ok(i) = m.info() {
            *next_seq = i.stream_sequence + 1;
        }
        let sig = m
            .headers
            .as_ref()
            .and_then(|h| h.get(lnats::HEADER_DECISION_SIGNATURE))
            .map(|v| v.as_str().to_owned());
        match judge(key, &m.payload, sig.as_deref(), *cursor) {
            Verdict::Old => {}
            Verdict::Forged => {
                stats.decisions_invalid.fetch_add(1, Ordering::Relaxed);
                stats.decisions_forged.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    subject = %m.subject,
                    signed = sig.is_some(),
                    "forward: a decision message on NATS is not signed by the fleet's key; ignored"
                );
            }
            Verdict::Malformed(why) => {
                stats.decisions_invalid.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %why, "forward: a signed decision message is not a decision change; ignored");
            }
            Verdict::Apply(change, id) => {
                let answer = wire::DecisionsAnswer {
                    decisions: vec![change],
                    next: Some(id.into()),
                };
                let Some(batch) = validate(answer, now(), stats) else {
                    continue;
                };
                stats
                    .decisions
                    .fetch_add(batch.decisions.len() as u64, Ordering::Relaxed);
                *cursor = id;
                if tx.send(batch).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
    Err("the decisions stream ended".into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use logward_core::nats::DecisionKey;

    #[test]
    fn only_changes_signed_by_the_fleet_key_and_above_the_cursor_count() {
        let fleet = DecisionKey::from_secret([1; 32]);
        let other = DecisionKey::from_secret([2; 32]);
        let key = fleet.public_hex();
        let body = br#"{"id":7,"action":"add","target":"192.0.2.7","duration_secs":60}"#;
        let sig = fleet.sign(body);
        assert!(matches!(
            judge(&key, body, Some(&sig), 6),
            Verdict::Apply(_, 7)
        ));
        assert_eq!(judge(&key, body, Some(&sig), 7), Verdict::Old);
        assert_eq!(judge(&key, body, None, 0), Verdict::Forged);
        assert_eq!(
            judge(&key, body, Some(&other.sign(body)), 0),
            Verdict::Forged
        );
        // A real signature over another target.
        let moved = br#"{"id":7,"action":"add","target":"192.0.2.8","duration_secs":60}"#;
        assert_eq!(judge(&key, moved, Some(&sig), 0), Verdict::Forged);
        let not_a_change = br#"{"id":8}"#;
        assert!(matches!(
            judge(&key, not_a_change, Some(&fleet.sign(not_a_change)), 0),
            Verdict::Malformed(_)
        ));
    }
}
