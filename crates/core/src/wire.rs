//! The agent ↔ collector wire: how a request is signed and checked (docs/COLLECTOR.md).
//!
//! Every request from an enrolled agent carries its id, a Unix timestamp, a random nonce and
//! an HMAC-SHA256 over the method, the path with its query, the timestamp, the nonce and the
//! SHA-256 of the body as sent (compressed or not). The collector rejects stale timestamps
//! and nonces it has seen; both sides build the signed text with [`canonical`], here only.
//! The bodies themselves are the types of `messages`, also shared by both sides.

mod messages;

pub use messages::{
    DecisionChange, DecisionsAnswer, DecisionsKey, EnrolAnswer, EnrolRequest, EventsAnswer,
    EventsLine, HeartbeatBody, LineError, Seq,
};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The agent's id.
pub const HEADER_AGENT: &str = "x-logward-agent";
/// Unix seconds when the request was signed.
pub const HEADER_TIMESTAMP: &str = "x-logward-timestamp";
/// A random value used once per request (hex, 16 to 64 characters).
pub const HEADER_NONCE: &str = "x-logward-nonce";
/// Lower-case hex HMAC-SHA256 of [`canonical`] under the agent's secret.
pub const HEADER_SIGNATURE: &str = "x-logward-signature";
/// Lower-case hex SHA-256 of the body as sent. The signature covers it (it is the last line
/// of [`canonical`]), so with it the collector checks the signature before it reads a byte of
/// the body, and then checks the body against it; without it the body must be read first.
pub const HEADER_CONTENT_SHA256: &str = "x-logward-content-sha256";
/// How far a request's timestamp may be from the collector's clock, either way.
pub const MAX_SKEW_SECS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// Lower-case hex SHA-256 of `body`.
pub fn body_digest(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

/// The text a request's signature covers: one field per line, no trailing newline.
pub fn canonical(
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> String {
    canonical_digest(method, path_and_query, timestamp, nonce, &body_digest(body))
}

/// [`canonical`] with the body's digest (lower-case hex SHA-256) already computed, as a
/// server does while the body streams in.
pub fn canonical_digest(
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    digest: &str,
) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path_and_query,
        timestamp,
        nonce,
        digest
    )
}

/// The signature header's value for a request.
pub fn sign(
    secret: &[u8],
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> String {
    sign_digest(
        secret,
        method,
        path_and_query,
        timestamp,
        nonce,
        &body_digest(body),
    )
}

/// [`sign`] for a body whose digest ([`body_digest`]) is already known, as an agent that
/// also sends it in [`HEADER_CONTENT_SHA256`] has it.
pub fn sign_digest(
    secret: &[u8],
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    digest: &str,
) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(canonical_digest(method, path_and_query, timestamp, nonce, digest).as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Whether `digest` has the shape of [`body_digest`]'s output (64 lower-case hex digits).
pub fn valid_digest(digest: &str) -> bool {
    digest.len() == 64
        && digest
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `signature` (hex) is the request's signature under `secret`. The comparison takes
/// the same time wherever the first difference is.
pub fn verify(
    secret: &[u8],
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
    signature: &str,
) -> bool {
    let digest = body_digest(body);
    verify_digest(
        secret,
        method,
        path_and_query,
        timestamp,
        nonce,
        &digest,
        signature,
    )
}

/// [`verify`] for a body whose SHA-256 (lower-case hex) was computed as it arrived.
pub fn verify_digest(
    secret: &[u8],
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    digest: &str,
    signature: &str,
) -> bool {
    let Some(given) = unhex(signature) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(canonical_digest(method, path_and_query, timestamp, nonce, digest).as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// Whether a request signed at `timestamp` is acceptable at `now` (both Unix seconds).
pub fn fresh(timestamp: i64, now: i64) -> bool {
    (now - timestamp).abs() <= MAX_SKEW_SECS
}

/// Whether a nonce has an acceptable shape (hex, 16 to 64 characters).
pub fn valid_nonce(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Bytes of a hex string (either case); `None` when it is not hex of whole bytes.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16);
    s.as_bytes()
        .chunks(2)
        .map(|p| Some((digit(p[0])? * 16 + digit(p[1])?) as u8))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_text_names_every_part() {
        let c = canonical("post", "/v1/events?x=1", 1_700_000_000, "00ff", b"abc");
        assert_eq!(
            c,
            "POST\n/v1/events?x=1\n1700000000\n00ff\n\
             ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let key: &[u8] = b"secret";
        let nonce = "0123456789abcdef";
        let sig = sign(key, "POST", "/v1/events", 10, nonce, b"body");
        let upper = sig.to_uppercase();
        // (key, method, path, ts, nonce, body, signature, verifies)
        type Case<'a> = (
            &'a [u8],
            &'a str,
            &'a str,
            i64,
            &'a str,
            &'a [u8],
            &'a str,
            bool,
        );
        let cases: [Case; 10] = [
            (key, "POST", "/v1/events", 10, nonce, b"body", &sig, true),
            (key, "POST", "/v1/events", 10, nonce, b"body", &upper, true),
            (
                b"other",
                "POST",
                "/v1/events",
                10,
                nonce,
                b"body",
                &sig,
                false,
            ),
            (key, "GET", "/v1/events", 10, nonce, b"body", &sig, false),
            (key, "POST", "/v1/event", 10, nonce, b"body", &sig, false),
            (key, "POST", "/v1/events", 11, nonce, b"body", &sig, false),
            (
                key,
                "POST",
                "/v1/events",
                10,
                "0123456789abcdee",
                b"body",
                &sig,
                false,
            ),
            (key, "POST", "/v1/events", 10, nonce, b"bodY", &sig, false),
            (key, "POST", "/v1/events", 10, nonce, b"body", "zz", false),
            (key, "POST", "/v1/events", 10, nonce, b"body", "", false),
        ];
        for (i, (k, method, path, ts, n, body, s, want)) in cases.into_iter().enumerate() {
            assert_eq!(verify(k, method, path, ts, n, body, s), want, "case {i}");
        }
    }

    #[test]
    fn freshness_and_nonce_shape() {
        assert!(fresh(1000, 1300) && fresh(1300, 1000));
        assert!(!fresh(1000, 1301) && !fresh(1301, 1000));
        assert!(valid_nonce("0123456789abcdef"));
        assert!(!valid_nonce("0123456789abcde"));
        assert!(!valid_nonce("0123456789abcdeg"));
        assert!(!valid_nonce(&"a".repeat(65)));
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        assert_eq!(unhex("000fFF"), Some(vec![0, 15, 255]));
        assert_eq!(unhex("0"), None);
    }
}
