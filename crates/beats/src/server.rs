//! The Beats listener: accepts connections (plain or TLS), reads one window at a time with
//! the [`Reader`](crate::codec::Reader), hands it to the consumer as a [`Batch`] and ACKs it
//! once the consumer has completed it.
//!
//! Back-pressure is the window: a connection reads nothing while its window is with the
//! consumer, so a connection holds at most one window (and one read's worth of the next).
//! While the consumer works, the connection sends keep-alive ACKs (seq 0, as Logstash and
//! go-lumber do) so the client's ACK timeout does not fire. A batch dropped without
//! [`Done::complete`] is never ACKed: the connection closes and the client resends the
//! window on its next connection.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{timeout, timeout_at, Instant};
use tokio_rustls::TlsAcceptor;
use tracing::warn;

use crate::codec::{self, Event, Limits, Reader, Version, Window};
use crate::metrics::{Closed, Metrics};
use crate::tls::{self, TlsConfig};
use crate::Error;

/// How much one read takes from the socket.
const READ_CHUNK: usize = 64 << 10;

/// The listener's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (Beats' `output.logstash.hosts`; Logstash uses port 5044).
    pub listen: SocketAddr,
    /// TLS, or plain TCP when `None`.
    pub tls: Option<TlsConfig>,
    /// The frame reader's bounds.
    pub limits: Limits,
    /// Connections served at once; more are closed at accept (and counted).
    pub max_connections: usize,
    /// Connections that may hold a window (being read, or with the consumer) at once. Each
    /// may hold up to the [`Limits`]' three bounds, so this, not `max_connections`, bounds
    /// the server's memory: a compressed frame of a few KiB can fill a window's 32 MiB, and
    /// 256 connections doing so would hold 8 GiB. The others wait, unread, for a turn
    /// (up to `read_timeout`).
    pub max_open_windows: usize,
    /// The most a TLS handshake may take.
    pub handshake_timeout: Duration,
    /// The most a connection may stay silent between windows (Logstash's
    /// `client_inactivity_timeout`).
    pub idle_timeout: Duration,
    /// The most a window may take to arrive whole from its first byte, so a client that
    /// trickles a frame (slowloris) is cut off.
    pub read_timeout: Duration,
    /// The interval of keep-alive ACKs while the consumer holds a window; under the Beats'
    /// `timeout` (30 s by default).
    pub keepalive: Duration,
}

impl Config {
    /// Defaults on `listen`: plain TCP, default limits, 256 connections, 16 of them holding a
    /// window at once, 10 s handshake,
    /// 60 s idle, 30 s per window, 5 s keep-alives.
    pub fn new(listen: SocketAddr) -> Config {
        Config {
            listen,
            tls: None,
            limits: Limits::default(),
            max_connections: 256,
            max_open_windows: 16,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            read_timeout: Duration::from_secs(30),
            keepalive: Duration::from_secs(5),
        }
    }
}

impl Config {
    /// Refuses values the server cannot run with (a zero interval would panic in tokio, a
    /// zero limit would refuse every client).
    fn check(&self) -> Result<(), Error> {
        let zero = |what: &str| Err(Error::Config(format!("{what} must be more than zero")));
        let durations = [
            ("handshake_timeout", self.handshake_timeout),
            ("idle_timeout", self.idle_timeout),
            ("read_timeout", self.read_timeout),
            ("keepalive", self.keepalive),
        ];
        if let Some((what, _)) = durations.iter().find(|(_, d)| d.is_zero()) {
            return zero(what);
        }
        let l = &self.limits;
        let limits = [
            ("max_frame_bytes", l.max_frame_bytes),
            ("max_inflated_bytes", l.max_inflated_bytes),
            ("max_window", l.max_window),
            ("max_window_bytes", l.max_window_bytes),
        ];
        if let Some((what, _)) = limits.iter().find(|(_, v)| *v == 0) {
            return zero(what);
        }
        if self.max_open_windows == 0 {
            return zero("max_open_windows");
        }
        if !(1..=MAX_CONNECTIONS).contains(&self.max_connections) {
            return Err(Error::Config(format!(
                "max_connections must be 1 to {MAX_CONNECTIONS}, not {}",
                self.max_connections
            )));
        }
        Ok(())
    }
}

/// The most `max_connections` may be (far above any file-descriptor limit).
pub const MAX_CONNECTIONS: usize = 1 << 20;

/// One window's events, from one connection. Complete it (after committing the events)
/// with `batch.done.complete()`; the window is ACKed then, and the connection reads on.
#[derive(Debug)]
pub struct Batch {
    /// The client's address.
    pub peer: SocketAddr,
    /// The subject CN of the client's certificate, when it presented one.
    pub client_cn: Option<String>,
    /// The window's events in order; never empty.
    pub events: Vec<Event>,
    /// The completion handle.
    pub done: Done,
}

/// Completes a [`Batch`]. Dropping it instead means "not committed": no ACK, the
/// connection closes and the client sends the window again.
#[derive(Debug)]
pub struct Done(oneshot::Sender<()>);

impl Done {
    /// The batch's events are committed: ACK the window.
    pub fn complete(self) {
        // The connection may be gone; the client then resends, and nothing is lost.
        let _ = self.0.send(());
    }
}

/// A bound listener, ready to [`run`](Server::run).
pub struct Server {
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    cfg: Arc<Config>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .field("tls", &self.acceptor.is_some())
            .field("cfg", &self.cfg)
            .finish()
    }
}

impl Server {
    /// Binds `cfg.listen` and loads the TLS files, so a bad address or file fails here.
    pub async fn bind(cfg: Config) -> Result<Server, Error> {
        cfg.check()?;
        let acceptor = cfg.tls.as_ref().map(tls::acceptor).transpose()?;
        let listener = TcpListener::bind(cfg.listen)
            .await
            .map_err(|e| Error::Bind(cfg.listen, e))?;
        Ok(Server {
            listener,
            acceptor,
            cfg: Arc::new(cfg),
            metrics: Arc::default(),
        })
    }

    /// The address it listens on (the port when `listen` had port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Its counters, for `/metrics`.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Serves until the receiving side of `tx` is dropped; then every connection is closed
    /// (their unacknowledged windows are resent by the clients elsewhere or later).
    pub async fn run(self, tx: mpsc::Sender<Batch>) {
        let slots = Arc::new(Semaphore::new(self.cfg.max_connections));
        let windows = Arc::new(Semaphore::new(self.cfg.max_open_windows));
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                _ = tx.closed() => break,
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                r = self.listener.accept() => {
                    let (tcp, peer) = match r {
                        Ok(c) => c,
                        Err(e) => {
                            // Out of descriptors or a connection reset before accept: the
                            // listener itself is fine; give the others a moment to close.
                            warn!(error = %e, "beats: accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    self.metrics.connections.fetch_add(1, Relaxed);
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        self.metrics.closed(Closed::Full);
                        warn!(%peer, max = self.cfg.max_connections,
                            "beats: connection refused, the connection limit is reached");
                        continue;
                    };
                    let _ = tcp.set_nodelay(true);
                    self.metrics.open.fetch_add(1, Relaxed);
                    let conn = Conn {
                        peer,
                        cfg: self.cfg.clone(),
                        metrics: self.metrics.clone(),
                        tx: tx.clone(),
                        windows: windows.clone(),
                        _slot: slot,
                    };
                    conns.spawn(conn.run(tcp, self.acceptor.clone()));
                }
            }
        }
    }
}

/// One connection's context; counted open from accept until dropped (also when `run`
/// stops and aborts it).
struct Conn {
    peer: SocketAddr,
    cfg: Arc<Config>,
    metrics: Arc<Metrics>,
    tx: mpsc::Sender<Batch>,
    /// The turns to hold a window (`max_open_windows`).
    windows: Arc<Semaphore>,
    _slot: OwnedSemaphorePermit,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.metrics.open.fetch_sub(1, Relaxed);
    }
}

impl Conn {
    async fn run(self, tcp: TcpStream, acceptor: Option<TlsAcceptor>) {
        match acceptor {
            None => self.serve(tcp, None).await,
            Some(a) => match timeout(self.cfg.handshake_timeout, a.accept(tcp)).await {
                Ok(Ok(tls)) => {
                    let cn = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .and_then(|c| tls::subject_cn(c));
                    self.serve(tls, cn).await
                }
                Ok(Err(e)) => self.close(Closed::Tls, format!("TLS handshake failed: {e}")),
                Err(_) => self.close(Closed::Tls, "TLS handshake timed out".into()),
            },
        }
    }

    fn close(&self, why: Closed, what: String) {
        self.metrics.closed(why);
        warn!(peer = %self.peer, "beats: {what}; connection closed");
    }

    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(&self, mut s: S, cn: Option<String>) {
        let mut reader = Reader::new(self.cfg.limits.clone());
        let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
        let mut chunk = vec![0u8; READ_CHUNK];
        // When the window being read (or the frame begun) got its first byte.
        let mut started: Option<Instant> = None;
        // This connection's turn to hold a window: taken with its first byte, given back
        // once it is ACKed and nothing of the next one has arrived.
        let mut turn: Option<OwnedSemaphorePermit> = None;
        loop {
            if turn.is_some() && buf.is_empty() && !reader.in_window() {
                turn = None;
            }
            if turn.is_none() && !buf.is_empty() {
                let wait = self.windows.clone().acquire_owned();
                match timeout(self.cfg.read_timeout, wait).await {
                    Ok(Ok(t)) => turn = Some(t),
                    _ => {
                        return self.close(
                            Closed::Busy,
                            format!(
                                "no turn to send a window within {:?} ({} connections hold theirs)",
                                self.cfg.read_timeout, self.cfg.max_open_windows
                            ),
                        )
                    }
                }
                // Its time to send the window counts from now.
                started = Some(Instant::now());
            }
            let (used, window) = match reader.feed(&buf) {
                Ok(r) => r,
                Err(e) => {
                    self.metrics.malformed(e.kind());
                    warn!(peer = %self.peer, kind = %e.kind(),
                        "beats: malformed frame: {e}; connection closed");
                    return;
                }
            };
            buf.drain(..used);
            if let Some(w) = window {
                started = (!buf.is_empty()).then(Instant::now);
                if let Err((why, what)) = self.deliver(&mut s, w, &cn).await {
                    return self.close(why, what);
                }
                if buf.capacity() > 4 * READ_CHUNK && buf.len() <= READ_CHUNK {
                    buf.shrink_to(READ_CHUNK);
                }
                continue;
            }
            if started.is_none() && (reader.in_window() || !buf.is_empty()) {
                started = Some(Instant::now());
            }
            let deadline = match started {
                Some(t) => t + self.cfg.read_timeout,
                None => Instant::now() + self.cfg.idle_timeout,
            };
            match timeout_at(deadline, s.read(&mut chunk)).await {
                Err(_) if started.is_some() => {
                    return self.close(Closed::Timeout, "window not complete in time".into())
                }
                Err(_) => return self.close(Closed::Timeout, "idle for too long".into()),
                Ok(Err(e)) => return self.close(Closed::Io, format!("read failed: {e}")),
                Ok(Ok(0)) => {
                    if let Err(e) = reader.finish(buf.len()) {
                        self.metrics.malformed(e.kind());
                        warn!(peer = %self.peer, kind = %e.kind(), "beats: {e}");
                    }
                    return;
                }
                Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Hands the window on, keeps the client waiting with keep-alives, ACKs once completed.
    async fn deliver<S: AsyncWrite + Unpin>(
        &self,
        s: &mut S,
        w: Window,
        cn: &Option<String>,
    ) -> Result<(), (Closed, String)> {
        let (version, seq, n) = (w.version, w.last_seq(), w.events.len());
        self.metrics.windows.fetch_add(1, Relaxed);
        self.metrics.events.fetch_add(n as u64, Relaxed);
        let (done, committed) = oneshot::channel();
        let batch = Batch {
            peer: self.peer,
            client_cn: cn.clone(),
            events: w.events,
            done: Done(done),
        };
        let work = async {
            self.tx.send(batch).await.map_err(|_| ())?;
            committed.await.map_err(|_| ())
        };
        tokio::pin!(work);
        let every = self.cfg.keepalive;
        let mut tick = tokio::time::interval_at(Instant::now() + every, every);
        // A slow ACK write must not be followed by a burst of catch-up keep-alives.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                r = &mut work => match r {
                    Ok(()) => break,
                    Err(()) => return Err((Closed::Dropped, format!(
                        "the window of {n} events (last seq {seq}) was not committed, \
                         not acknowledged"))),
                },
                _ = tick.tick() => {
                    self.write_ack(s, version, 0).await?;
                    self.metrics.keepalives.fetch_add(1, Relaxed);
                }
            }
        }
        self.write_ack(s, version, seq).await?;
        self.metrics.acks.fetch_add(1, Relaxed);
        Ok(())
    }

    async fn write_ack<S: AsyncWrite + Unpin>(
        &self,
        s: &mut S,
        version: Version,
        seq: u32,
    ) -> Result<(), (Closed, String)> {
        let frame = codec::ack(version, seq);
        let write = async {
            s.write_all(&frame).await?;
            s.flush().await
        };
        match timeout(self.cfg.idle_timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err((Closed::Io, format!("writing the ACK failed: {e}"))),
            Err(_) => Err((Closed::Timeout, "the client does not read its ACKs".into())),
        }
    }
}
