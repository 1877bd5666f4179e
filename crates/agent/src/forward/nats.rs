//! `transport: nats`: the sender's batches as JetStream messages (docs/AGENT.md, Forwarding
//! over NATS). A message is exactly the request the agent would POST — the gzipped NDJSON
//! body and the `x-logward-*` headers signed over `POST /v1/events` — on the subject
//! `logward.events.<agent-id>`, with `Nats-Msg-Id: <agent>:<first seq>-<last seq>` so the
//! stream's duplicate window drops a batch published again after a lost ack. The answer is
//! shaped as HTTP's so the send loop treats both alike: the stream's ack is the `200` that
//! lets the spool drop the batch, a body over the server's payload limit the `413` that
//! halves it, anything else an error retried with backoff.

use async_nats::jetstream;
use logward_core::backoff::Backoff;
use logward_core::nats as lnats;
use logward_core::wire;
use reqwest::StatusCode;

use super::{jittered, ForwardError, Link, Reply};
use crate::config::ForwardNats;

/// Room left in a message for its headers, under the server's `max_payload`.
const HEADER_ROOM: usize = 1024;

/// A connected JetStream publisher.
pub(super) struct Publisher {
    client: async_nats::Client,
    js: jetstream::Context,
    subject: String,
    stream: Option<String>,
}

impl Publisher {
    /// Connects (in the background when the server is down: publishes fail until it is
    /// up). A configuration that cannot connect at all (an unreadable credentials file) is
    /// retried with backoff, logged once, and the spool keeps filling meanwhile.
    pub(super) async fn connect(link: &Link, n: &ForwardNats, backoff: &mut Backoff) -> Publisher {
        let name = format!("logward-agent {}", link.creds.agent_id);
        let mut logged = false;
        let client = loop {
            match lnats::connect(&n.connect, &name, true).await {
                Ok(c) => break c,
                Err(e) => {
                    if !logged {
                        tracing::error!(error = %e, "forward: cannot connect to NATS; events stay in the spool");
                        logged = true;
                    }
                    tokio::time::sleep(jittered(backoff)).await;
                }
            }
        };
        backoff.reset();
        Publisher {
            js: jetstream::new(client.clone()),
            client,
            subject: lnats::subject(&link.creds.agent_id),
            stream: n.stream.clone(),
        }
    }

    /// Publishes one batch (`n` items, seqs `first..=last`) and waits for the stream's ack.
    pub(super) async fn publish(
        &self,
        link: &Link,
        body: Vec<u8>,
        (first, last, n): (u64, u64, u64),
    ) -> Result<Reply, ForwardError> {
        let max = self.client.server_info().max_payload;
        if max > 0 && body.len() + HEADER_ROOM > max {
            return Ok(Reply {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                retry_after: None,
                body: format!(
                    "{} bytes over the NATS server's max_payload {max}",
                    body.len()
                ),
            });
        }
        let mut h = signed_headers(link, lnats::SIGNED_METHOD, lnats::SIGNED_PATH, &body)?;
        let agent = link.creds.agent_id.as_str();
        h.insert(lnats::HEADER_ENCODING, "gzip");
        h.insert(lnats::MSG_ID, lnats::msg_id(agent, first, last).as_str());
        let fail = |e: &dyn std::fmt::Display| ForwardError::Transport(format!("NATS: {e}"));
        let ack = self
            .js
            .publish_with_headers(self.subject.clone(), h, body.into())
            .await
            .map_err(|e| fail(&e))?
            .await
            .map_err(|e| fail(&e))?;
        if let Some(want) = &self.stream {
            if &ack.stream != want {
                return Err(ForwardError::Answer(format!(
                    "the batch was stored by stream {}, not {want}",
                    ack.stream
                )));
            }
        }
        // A duplicate: the stream already holds this very batch (an ack that was lost).
        let answer = wire::EventsAnswer {
            accepted: if ack.duplicate { 0 } else { n },
            duplicates: if ack.duplicate { n } else { 0 },
            ..Default::default()
        };
        Ok(Reply {
            status: StatusCode::OK,
            retry_after: None,
            body: serde_json::to_string(&answer).unwrap_or_default(),
        })
    }
}

/// The `x-logward-*` headers of a message signed as `method path` over `body` now: the
/// same an HTTP request carries, so the collector checks both alike.
fn signed_headers(
    link: &Link,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<async_nats::HeaderMap, ForwardError> {
    let sig = link.sign(method, path, body)?;
    let mut h = async_nats::HeaderMap::new();
    h.insert(wire::HEADER_AGENT, link.creds.agent_id.as_str());
    h.insert(wire::HEADER_TIMESTAMP, sig.ts.to_string().as_str());
    h.insert(wire::HEADER_NONCE, sig.nonce.as_str());
    h.insert(wire::HEADER_SIGNATURE, sig.signature.as_str());
    h.insert(wire::HEADER_CONTENT_SHA256, sig.digest.as_str());
    Ok(h)
}

/// Publishes one heartbeat body on `logward.heartbeat.<agent>` (core NATS: the collectors
/// subscribed now take it; one missed is made up by the next), signed as `POST
/// /v1/heartbeat` with the same headers.
pub(super) async fn publish_heartbeat(
    link: &Link,
    client: &async_nats::Client,
    body: Vec<u8>,
) -> Result<(), ForwardError> {
    let h = signed_headers(link, lnats::HEARTBEAT_METHOD, lnats::HEARTBEAT_PATH, &body)?;
    let agent = link.creds.agent_id.as_str();
    let fail = |e: &dyn std::fmt::Display| ForwardError::Transport(format!("NATS: {e}"));
    client
        .publish_with_headers(lnats::heartbeat_subject(agent), h, body.into())
        .await
        .map_err(|e| fail(&e))?;
    client.flush().await.map_err(|e| fail(&e))
}
