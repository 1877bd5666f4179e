//! The bodies of the agent ↔ collector requests and answers (docs/COLLECTOR.md), one type
//! per message, used by both sides so they cannot drift apart.
//!
//! The JSON they produce is the wire: field names, their order and which absent values are
//! sent as `null` or left out are pinned by the tests below, so an older agent and a newer
//! collector (or the reverse) still agree. Fields an older peer may leave out are `default`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// `POST /v1/enroll`: a one-time token redeemed for the agent's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrolRequest {
    pub token: String,
    /// The host the agent enrols as: every event it forwards is stored under this name.
    pub host: String,
    /// The agent's version, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The answer to a redeemed [`EnrolRequest`]: what signs the agent's requests from now on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrolAnswer {
    pub agent_id: String,
    pub secret: String,
    /// The public key (Ed25519, hex) that signs the fleet decisions published on NATS;
    /// absent from a collector without `nats:` (or an older one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decisions_key: Option<String>,
}

/// The answer to `GET /v1/decisions/key`: the public key agents pin to check the fleet
/// decisions published on NATS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecisionsKey {
    /// `ed25519`.
    pub algorithm: String,
    /// The public key, 64 hex digits.
    pub key: String,
}

/// One line of the NDJSON body of `POST /v1/events`: a spooled item and its seq. It carries
/// exactly one of `event` and `alert` (the collector rejects a line with both or neither),
/// as the ECS JSON text it is: neither side builds a tree of it here.
#[derive(Debug, Serialize, Deserialize)]
pub struct EventsLine<'a> {
    /// Increasing by one per item of the agent; lower or equal ones are duplicates.
    pub seq: u64,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub event: Option<&'a RawValue>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<&'a RawValue>,
}

/// The answer to `POST /v1/events` (a `200`). Every field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventsAnswer {
    /// Events and alerts stored.
    #[serde(default)]
    pub accepted: u64,
    /// Lines whose seq the collector already had (a retried batch).
    #[serde(default)]
    pub duplicates: u64,
    /// Lines refused: dropped, never retried.
    #[serde(default)]
    pub rejected: u64,
    /// Why, for the first few rejected lines.
    #[serde(default)]
    pub errors: Vec<LineError>,
}

/// Why one line of a `POST /v1/events` body was rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineError {
    /// Its number in the body, from 1.
    #[serde(default)]
    pub line: u64,
    #[serde(default)]
    pub error: String,
}

/// `POST /v1/heartbeat`. Every field is sent, `null` when unknown (`oldest_unsent` when the
/// spool is empty), and every field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatBody {
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub spool_items: Option<i64>,
    #[serde(default)]
    pub spool_bytes: Option<i64>,
    /// Unix time of the oldest item not yet sent.
    #[serde(default)]
    pub oldest_unsent: Option<i64>,
}

/// A place in the decisions change log: the collector sends a number; an agent also takes
/// it as text, and passes it back as `since=` as it came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Seq {
    Number(serde_json::Number),
    Text(String),
}

impl From<i64> for Seq {
    fn from(n: i64) -> Self {
        Self::Number(n.into())
    }
}

impl std::fmt::Display for Seq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(n) => n.fmt(f),
            Self::Text(s) => f.write_str(s),
        }
    }
}

/// One row of `GET /v1/decisions`: a change of a fleet decision. Absent values are `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecisionChange {
    /// The change's own seq.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub id: Option<Seq>,
    /// The decision it changes (0 when a peer left it out).
    #[serde(default)]
    pub decision_id: i64,
    /// `add`, `extend`, `delete` or `expire`; absent (an older collector): `add`.
    #[serde(default)]
    pub action: Option<String>,
    /// An address or network, as text: the agent validates it before acting on it.
    pub target: String,
    /// The ban's length (`None`: permanent); 0 for a lift.
    #[serde(default)]
    pub duration_secs: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub rule_id: Option<String>,
    /// When the change was made (0 when a peer left it out).
    #[serde(default)]
    pub created_at: i64,
    /// When the ban ends (`None`: never); for a lift, when it ended.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// The answer to `GET /v1/decisions?since=`: the changes after `since`, and where to poll next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecisionsAnswer {
    pub decisions: Vec<DecisionChange>,
    /// `None` only from a broken peer (`null`): the agent then keeps its cursor.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub next: Option<Seq>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde::de::DeserializeOwned;

    /// `value` serializes to exactly `json` and reads back as itself.
    fn pinned<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
        value: &T,
        json: &str,
    ) {
        assert_eq!(serde_json::to_string(value).unwrap(), json);
        assert_eq!(&serde_json::from_str::<T>(json).unwrap(), value);
    }

    #[test]
    fn the_enrol_request_and_answer_keep_their_json_shape() {
        let mut req = EnrolRequest {
            token: "t0k".into(),
            host: "web-1".into(),
            version: Some("0.1.0".into()),
        };
        pinned(&req, r#"{"token":"t0k","host":"web-1","version":"0.1.0"}"#);
        req.version = None;
        pinned(&req, r#"{"token":"t0k","host":"web-1"}"#);
        let answer = EnrolAnswer {
            agent_id: "a1".into(),
            secret: "s3".into(),
            decisions_key: None,
        };
        pinned(&answer, r#"{"agent_id":"a1","secret":"s3"}"#);
    }

    #[test]
    fn an_events_line_keeps_its_json_shape_and_its_event_text() {
        let ev: &RawValue = serde_json::from_str(r#"{"event":{"action":"x"},"n":1.5}"#).unwrap();
        let line = EventsLine {
            seq: 7,
            event: Some(ev),
            alert: None,
        };
        let json = r#"{"seq":7,"event":{"event":{"action":"x"},"n":1.5}}"#;
        assert_eq!(serde_json::to_string(&line).unwrap(), json);
        let back: EventsLine<'_> = serde_json::from_str(json).unwrap();
        assert_eq!(back.seq, 7);
        assert_eq!(back.event.map(RawValue::get), Some(ev.get()));
        assert!(back.alert.is_none());
        let al: EventsLine<'_> = serde_json::from_str(r#"{"seq":8,"alert":{"a":1}}"#).unwrap();
        assert_eq!(
            (al.event.is_none(), al.alert.map(RawValue::get)),
            (true, Some(r#"{"a":1}"#))
        );
        assert_eq!(
            serde_json::to_string(&al).unwrap(),
            r#"{"seq":8,"alert":{"a":1}}"#
        );
    }

    #[test]
    fn the_events_answer_keeps_its_json_shape() {
        let answer = EventsAnswer {
            accepted: 2,
            duplicates: 1,
            rejected: 1,
            errors: vec![LineError {
                line: 3,
                error: "seq: too large".into(),
            }],
        };
        pinned(
            &answer,
            r#"{"accepted":2,"duplicates":1,"rejected":1,"errors":[{"line":3,"error":"seq: too large"}]}"#,
        );
        assert_eq!(
            serde_json::from_str::<EventsAnswer>("{}").unwrap(),
            EventsAnswer::default()
        );
    }

    #[test]
    fn the_heartbeat_keeps_its_json_shape_and_takes_an_empty_body() {
        let hb = HeartbeatBody {
            version: Some("0.1.0".into()),
            host: Some("web-1".into()),
            spool_items: Some(3),
            spool_bytes: Some(120),
            oldest_unsent: None,
        };
        pinned(
            &hb,
            r#"{"version":"0.1.0","host":"web-1","spool_items":3,"spool_bytes":120,"oldest_unsent":null}"#,
        );
        assert_eq!(
            serde_json::from_str::<HeartbeatBody>("{}").unwrap(),
            HeartbeatBody::default()
        );
    }

    #[test]
    fn the_decisions_answer_keeps_its_json_shape() {
        let answer = DecisionsAnswer {
            decisions: vec![DecisionChange {
                id: Some(Seq::from(7)),
                decision_id: 3,
                action: Some("add".into()),
                target: "192.0.2.7".into(),
                duration_secs: Some(3600),
                reason: Some("ssh brute force".into()),
                rule_id: None,
                created_at: 1_750_000_000,
                expires_at: Some(1_750_003_600),
            }],
            next: Some(Seq::from(7)),
        };
        pinned(
            &answer,
            r#"{"decisions":[{"id":7,"decision_id":3,"action":"add","target":"192.0.2.7","duration_secs":3600,"reason":"ssh brute force","rule_id":null,"created_at":1750000000,"expires_at":1750003600}],"next":7}"#,
        );
    }

    #[test]
    fn an_older_collectors_decisions_still_read() {
        // Text seqs, no action, no decision_id or created_at.
        let a: DecisionsAnswer =
            serde_json::from_str(r#"{"decisions":[{"id":"7","target":"192.0.2.7"}],"next":"7"}"#)
                .unwrap();
        assert_eq!(a.next.unwrap().to_string(), "7");
        let d = &a.decisions[0];
        assert_eq!(d.id.as_ref().unwrap().to_string(), "7");
        assert_eq!((d.action.as_deref(), d.decision_id), (None, 0));
        // A row without a target is not a decision.
        assert!(
            serde_json::from_str::<DecisionsAnswer>(r#"{"decisions":[{"id":1}],"next":1}"#)
                .is_err()
        );
    }
}
