//! Reading request bodies before their signature is checked (docs/COLLECTOR.md "Limits").
//!
//! Knowing an agent id (not a secret) is enough to send a body, so what such bodies may
//! hold is budgeted: a cap on bodies being read at once, on them per client address, and on
//! their bytes together (over any: 503 with `Retry-After`), and a deadline for the whole
//! body (408). The body is hashed (SHA-256) as it streams in, so its signature is checked
//! without a second pass; its budget is given back once the request is answered or
//! verified. A request whose signed head carries the body's digest is verified before its
//! body is read ([`Unverified::read_signed`]): it is outside this budget, so hostile
//! unauthenticated bodies can never crowd out an agent that signs its head.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use hyper::body::Body as _;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Over the size limit (413).
    TooLarge,
    /// Too many unverified bodies at once, from this address or in all (503).
    Busy,
    /// Not complete within the deadline (408).
    Timeout,
    /// The connection failed while reading.
    Broken,
}

/// A body read in full, with its SHA-256 and the budget it holds until dropped.
#[derive(Debug)]
pub struct ReadBody {
    pub bytes: Bytes,
    /// Lower-case hex SHA-256 of `bytes`.
    pub digest: String,
    _held: Option<Held>,
}

impl ReadBody {
    /// Gives the budget back (after the signature was checked).
    pub fn release(self) -> Bytes {
        self.bytes
    }
}

/// Unverified bodies being read, per client address.
type ByAddress = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// One address's slot and the bytes a body holds.
#[derive(Debug)]
struct Held {
    /// Held for the budget it stands for, given back on drop.
    _body: OwnedSemaphorePermit,
    bytes: Option<OwnedSemaphorePermit>,
    address: Option<(IpAddr, ByAddress)>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some((ip, map)) = self.address.take() {
            let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = m.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&ip);
                }
            }
        }
    }
}

/// The budget of unverified bodies.
#[derive(Debug)]
pub struct Unverified {
    bodies: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    per_address: usize,
    by_address: ByAddress,
    deadline: Duration,
}

impl Unverified {
    pub fn new(bodies: usize, bytes: usize, per_address: usize, deadline: Duration) -> Unverified {
        Unverified {
            bodies: Arc::new(Semaphore::new(bodies)),
            bytes: Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))),
            per_address: per_address.max(1),
            by_address: Arc::default(),
            deadline,
        }
    }

    /// Reads `body` (at most `limit` bytes) from `peer`, hashing it as it comes.
    pub async fn read(
        &self,
        peer: Option<IpAddr>,
        body: Body,
        limit: usize,
    ) -> Result<ReadBody, BodyError> {
        let permit = Arc::clone(&self.bodies)
            .try_acquire_owned()
            .map_err(|_| BodyError::Busy)?;
        let mut held = Held {
            _body: permit,
            bytes: None,
            address: None,
        };
        if let Some(ip) = peer {
            let mut m = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
            let n = m.entry(ip).or_default();
            if *n >= self.per_address {
                return Err(BodyError::Busy);
            }
            *n += 1;
            held.address = Some((ip, Arc::clone(&self.by_address)));
        }
        let read = self.stream(body, limit, Some(&mut held));
        let (bytes, digest) = tokio::time::timeout(self.deadline, read)
            .await
            .map_err(|_| BodyError::Timeout)??;
        Ok(ReadBody {
            bytes,
            digest,
            _held: Some(held),
        })
    }

    /// Reads the body of a request whose head was already authenticated (its signature
    /// covers the digest it declares): the same size limit and deadline, no share of the
    /// unverified budget. The caller compares the digest with the declared one.
    pub async fn read_signed(&self, body: Body, limit: usize) -> Result<ReadBody, BodyError> {
        let (bytes, digest) = tokio::time::timeout(self.deadline, self.stream(body, limit, None))
            .await
            .map_err(|_| BodyError::Timeout)??;
        Ok(ReadBody {
            bytes,
            digest,
            _held: None,
        })
    }

    async fn stream(
        &self,
        mut body: Body,
        limit: usize,
        mut held: Option<&mut Held>,
    ) -> Result<(Bytes, String), BodyError> {
        let mut buf = Vec::new();
        let mut hash = Sha256::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.map_err(|_| BodyError::Broken)?;
            let Ok(chunk) = frame.into_data() else {
                continue; // trailers
            };
            if buf.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge);
            }
            if let Some(held) = held.as_deref_mut() {
                let n = u32::try_from(chunk.len()).map_err(|_| BodyError::TooLarge)?;
                let more = Arc::clone(&self.bytes)
                    .try_acquire_many_owned(n)
                    .map_err(|_| BodyError::Busy)?;
                match &mut held.bytes {
                    Some(p) => p.merge(more),
                    None => held.bytes = Some(more),
                }
            }
            hash.update(&chunk);
            buf.extend_from_slice(&chunk);
        }
        Ok((Bytes::from(buf), logward_core::wire::hex(&hash.finalize())))
    }
}
