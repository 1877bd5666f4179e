//! The accept loop and each connection's life (docs/COLLECTOR.md, "Connections"): caps on
//! open connections in total and per client address, the TLS handshake deadline, and a
//! watchdog per connection that closes it when a request head takes too long (slowloris),
//! when a kept-alive connection sits idle, or when a request makes no progress at all.
//!
//! hyper's own header timeout also runs while an HTTP/1.1 connection waits for its next
//! request, and HTTP/2 has none, so the deadlines are kept here, the same for both
//! protocols: the connection's bytes go through [`Watched`] and its requests through
//! [`Tracked`], which tell the watchdog when the connection is busy, idle or reading a head.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderValue, Request, Response};
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio_rustls::TlsAcceptor;

/// `connections:` in the collector's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Connections {
    /// A TLS handshake must finish within this. Default 10.
    #[serde(default = "default_handshake")]
    pub handshake_secs: u64,
    /// A request head (line and headers) must arrive within this from its first byte, and
    /// a new connection must send its first request within it. Default 10.
    #[serde(default = "default_header")]
    pub header_secs: u64,
    /// A kept-alive connection with no request for this long is closed, and so is one whose
    /// request makes no progress (no byte read or written) for this long. Default 60.
    #[serde(default = "default_idle")]
    pub idle_secs: u64,
    /// Open connections at most (lowered to fit the process's file descriptor limit).
    /// Default 4096.
    #[serde(default = "default_max")]
    pub max: usize,
    /// Open connections per client address (IPv6: per /64) at most. Default 128.
    #[serde(default = "default_per_address")]
    pub per_address: usize,
}

fn default_handshake() -> u64 {
    10
}
fn default_header() -> u64 {
    10
}
fn default_idle() -> u64 {
    60
}
fn default_max() -> usize {
    4096
}
fn default_per_address() -> usize {
    128
}

impl Default for Connections {
    fn default() -> Connections {
        Connections {
            handshake_secs: default_handshake(),
            header_secs: default_header(),
            idle_secs: default_idle(),
            max: default_max(),
            per_address: default_per_address(),
        }
    }
}

impl Connections {
    /// The first value that is 0, by its key.
    pub fn zero_key(&self) -> Option<&'static str> {
        [
            ("handshake_secs", self.handshake_secs == 0),
            ("header_secs", self.header_secs == 0),
            ("idle_secs", self.idle_secs == 0),
            ("max", self.max == 0),
            ("per_address", self.per_address == 0),
        ]
        .into_iter()
        .find_map(|(k, zero)| zero.then_some(k))
    }
}

/// Why a connection was closed or refused by the collector (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    HandshakeTimeout,
    HandshakeFailed,
    HeaderTimeout,
    IdleTimeout,
}

const CLOSED: [(Closed, &str); 4] = [
    (Closed::HandshakeTimeout, "handshake_timeout"),
    (Closed::HandshakeFailed, "handshake_failed"),
    (Closed::HeaderTimeout, "header_timeout"),
    (Closed::IdleTimeout, "idle_timeout"),
];

/// The connection counters of `/metrics`.
#[derive(Debug, Default)]
pub struct ConnMetrics {
    open: AtomicUsize,
    accepted: AtomicU64,
    refused_total: AtomicU64,
    refused_per_address: AtomicU64,
    closed: [AtomicU64; 4],
    accept_errors: AtomicU64,
}

impl ConnMetrics {
    fn closed(&self, why: Closed) {
        if let Some(i) = CLOSED.iter().position(|(c, _)| *c == why) {
            self.closed[i].fetch_add(1, Relaxed);
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Relaxed)
    }

    /// Failed `accept()` calls so far.
    pub fn accept_errors(&self) -> u64 {
        self.accept_errors.load(Relaxed)
    }

    /// Writes the connection metrics.
    pub fn write(
        &self,
        w: &mut logward_core::exposition::Writer<'_>,
    ) -> logward_core::exposition::Result {
        w.gauge(
            "logward_collector_connections_open",
            "Client connections open now.",
            self.open() as u64,
        )?;
        w.counter(
            "logward_collector_connections_accepted_total",
            "Client connections accepted.",
            self.accepted.load(Relaxed),
        )?;
        w.counters(
            "logward_collector_connections_refused_total",
            "Connections closed at once: over the cap in total or per address.",
            [
                ([("reason", "total")], self.refused_total.load(Relaxed)),
                (
                    [("reason", "per_address")],
                    self.refused_per_address.load(Relaxed),
                ),
            ],
        )?;
        w.counters(
            "logward_collector_connections_closed_total",
            "Connections the collector closed, by reason.",
            CLOSED
                .iter()
                .zip(&self.closed)
                .map(|((_, name), n)| ([("reason", *name)], n.load(Relaxed))),
        )?;
        w.counter(
            "logward_collector_accept_errors_total",
            "Failed accept() calls (e.g. out of file descriptors).",
            self.accept_errors.load(Relaxed),
        )
    }
}

/// Open connections, in total and per address key.
#[derive(Debug)]
struct Caps {
    max: usize,
    per_address: usize,
    by_addr: Mutex<HashMap<IpAddr, usize>>,
    metrics: Arc<crate::metrics::Metrics>,
}

/// One admitted connection; gives its place back when dropped.
#[derive(Debug)]
struct Slot {
    caps: Arc<Caps>,
    addr: IpAddr,
}

impl Caps {
    fn admit(caps: &Arc<Caps>, ip: IpAddr) -> Option<Slot> {
        let m = &caps.metrics.conn;
        let addr = crate::auth::address_key(ip);
        let mut by = caps.by_addr.lock().unwrap_or_else(|p| p.into_inner());
        if m.open.load(Relaxed) >= caps.max {
            m.refused_total.fetch_add(1, Relaxed);
            return None;
        }
        let n = by.entry(addr).or_insert(0);
        if *n >= caps.per_address {
            m.refused_per_address.fetch_add(1, Relaxed);
            return None;
        }
        *n += 1;
        m.open.fetch_add(1, Relaxed);
        m.accepted.fetch_add(1, Relaxed);
        Some(Slot {
            caps: Arc::clone(caps),
            addr,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut by = self.caps.by_addr.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = by.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                by.remove(&self.addr);
            }
        }
        self.caps.metrics.conn.open.fetch_sub(1, Relaxed);
    }
}

/// The process's soft limit on open files (`None`: unknown).
fn fd_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// File descriptors kept for everything but client connections (the store, its WAL,
/// notifier and LLM connections, logs).
const FD_RESERVE: usize = 64;

/// Accepts connections until `stop`, serving each on its own task.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    acceptor: Option<TlsAcceptor>,
    conf: Connections,
    metrics: Arc<crate::metrics::Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut max = conf.max;
    if let Some(fds) = fd_limit() {
        let fit = fds.saturating_sub(FD_RESERVE).max(1);
        if fit < max {
            tracing::warn!(
                configured = max,
                open_files_limit = fds,
                "connections.max lowered to {fit} to stay under the open files limit"
            );
            max = fit;
        }
    }
    let caps = Arc::new(Caps {
        max,
        per_address: conf.per_address,
        by_addr: Mutex::new(HashMap::new()),
        metrics: Arc::clone(&metrics),
    });
    let mut last_warning: Option<Instant> = None;
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors (EMFILE) and the like: back off instead of
                    // spinning on a listener that stays readable, and keep serving.
                    metrics.conn.accept_errors.fetch_add(1, Relaxed);
                    if last_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                        tracing::warn!("accept failed: {e} (retrying)");
                        last_warning = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        // Over a cap the socket is dropped (closed) at once, before any byte is read.
        let Some(slot) = Caps::admit(&caps, peer.ip()) else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone().layer(axum::Extension(crate::api::Peer(peer)));
        let acceptor = acceptor.clone();
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            connection(tcp, peer, app, acceptor, conf, &metrics).await;
            drop(slot);
        });
    }
}

/// One connection: the TLS handshake under its deadline, then HTTP under the watchdog.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    acceptor: Option<TlsAcceptor>,
    conf: Connections,
    metrics: &crate::metrics::Metrics,
) {
    let Some(acceptor) = acceptor else {
        return http(tcp, peer, app, false, conf, metrics).await;
    };
    let handshake = Duration::from_secs(conf.handshake_secs);
    match tokio::time::timeout(handshake, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => http(tls, peer, app, true, conf, metrics).await,
        Ok(Err(e)) => {
            metrics.conn.closed(Closed::HandshakeFailed);
            tracing::debug!(%peer, "TLS handshake failed: {e}");
        }
        Err(_) => {
            metrics.conn.closed(Closed::HandshakeTimeout);
            tracing::debug!(%peer, "TLS handshake timed out");
        }
    }
}

async fn http<IO>(
    io: IO,
    peer: SocketAddr,
    app: Router,
    tls: bool,
    conf: Connections,
    metrics: &crate::metrics::Metrics,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = Arc::new(Conn::new());
    let io = TokioIo::new(Watched {
        io,
        conn: Arc::clone(&conn),
    });
    let service = Tracked {
        inner: TowerToHyperService::new(app),
        conn: Arc::clone(&conn),
        tls,
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's header timeout also covers the wait for the next request; the watchdog's
    // deadlines are shorter, this is only a backstop.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(conf.header_secs + conf.idle_secs))
        .max_buf_size(256 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(64)
        .max_header_list_size(64 * 1024);
    let serving = builder.serve_connection(io, service);
    tokio::select! {
        r = serving => {
            if let Err(e) = r {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        }
        why = watchdog(&conn, conf) => {
            metrics.conn.closed(why);
            tracing::debug!(%peer, reason = ?why, "connection closed by the collector");
        }
    }
}

/// What the watchdog knows of a connection.
#[derive(Debug)]
struct Conn {
    state: Mutex<ConnState>,
    /// Woken when a deadline may have moved earlier (a head began, a request ended).
    wake: Notify,
}

#[derive(Debug)]
struct ConnState {
    /// Requests whose response has not been sent in full.
    in_flight: usize,
    /// Requests so far.
    requests: u64,
    /// Since when nothing is in flight (the connection's start at first).
    idle_since: Instant,
    /// The last byte read or written.
    last_io: Instant,
    /// HTTP/1.1: when the first byte of a request head not yet complete arrived.
    head_since: Option<Instant>,
    /// Whether anything was read yet, and whether it was the HTTP/2 preface.
    read_any: bool,
    h2: bool,
}

impl Conn {
    fn new() -> Conn {
        let now = Instant::now();
        Conn {
            state: Mutex::new(ConnState {
                in_flight: 0,
                requests: 0,
                idle_since: now,
                last_io: now,
                head_since: None,
                read_any: false,
                h2: false,
            }),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ConnState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self, bytes: &[u8]) {
        let now = Instant::now();
        let mut s = self.lock();
        s.last_io = now;
        if !s.read_any {
            s.read_any = true;
            s.h2 = bytes.starts_with(b"PRI ");
        }
        // HTTP/2 reads control frames (pings, window updates) while idle: only HTTP/1.1's
        // bytes between requests are the start of a head.
        if !s.h2 && s.in_flight == 0 && s.head_since.is_none() {
            s.head_since = Some(now);
            drop(s);
            self.wake.notify_one();
        }
    }

    fn wrote(&self) {
        self.lock().last_io = Instant::now();
    }

    fn request_started(&self) {
        let mut s = self.lock();
        s.in_flight += 1;
        s.requests += 1;
        s.head_since = None;
    }

    fn request_done(&self) {
        let now = Instant::now();
        let mut s = self.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        if s.in_flight == 0 {
            s.idle_since = now;
            s.head_since = None;
        }
        drop(s);
        self.wake.notify_one();
    }

    /// When the connection is to be closed and why, as things stand.
    fn deadline(&self, c: &Connections) -> (Instant, Closed) {
        let header = Duration::from_secs(c.header_secs);
        let idle = Duration::from_secs(c.idle_secs);
        let s = self.lock();
        if s.in_flight > 0 {
            (s.last_io + idle, Closed::IdleTimeout)
        } else if let Some(h) = s.head_since {
            (h + header, Closed::HeaderTimeout)
        } else if s.requests == 0 {
            (s.idle_since + header, Closed::HeaderTimeout)
        } else {
            (s.idle_since + idle, Closed::IdleTimeout)
        }
    }
}

/// Returns when the connection is past one of its deadlines.
async fn watchdog(conn: &Conn, c: Connections) -> Closed {
    loop {
        let (at, why) = conn.deadline(&c);
        if Instant::now() >= at {
            return why;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(at.into()) => {}
            _ = conn.wake.notified() => {}
        }
    }
}

/// The connection's bytes, reported to its [`Conn`].
struct Watched<IO> {
    io: IO,
    conn: Arc<Conn>,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.read(&buf.filled()[before..]);
        }
        r
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.wrote();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.wrote();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The connection's requests, reported to its [`Conn`] from the moment the head is complete
/// until the response body is sent (or dropped); over TLS the answers get HSTS.
#[derive(Clone)]
struct Tracked<S> {
    inner: S,
    conn: Arc<Conn>,
    tls: bool,
}

/// A request in flight; ends it when dropped.
struct InFlight(Arc<Conn>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_done();
    }
}

/// A response body that keeps its request in flight until it is sent.
struct GuardedBody {
    inner: axum::body::Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for GuardedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// One year: browsers then refuse plain HTTP to this host:port's name for that long.
const HSTS: &str = "max-age=31536000";

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> hyper::service::Service<Request<Incoming>> for Tracked<S>
where
    S: hyper::service::Service<
        Request<Incoming>,
        Response = Response<axum::body::Body>,
        Error = std::convert::Infallible,
    >,
    S::Future: Send + 'static,
{
    type Response = Response<GuardedBody>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        self.conn.request_started();
        let in_flight = InFlight(Arc::clone(&self.conn));
        let fut = self.inner.call(req);
        let tls = self.tls;
        Box::pin(async move {
            let r = fut.await?;
            let (mut parts, body) = r.into_parts();
            let h = &mut parts.headers;
            if tls {
                h.entry(header::STRICT_TRANSPORT_SECURITY)
                    .or_insert(HeaderValue::from_static(HSTS));
            }
            // No other site's window may keep a handle on ours, nor embed our answers.
            h.entry("cross-origin-opener-policy")
                .or_insert(HeaderValue::from_static("same-origin"));
            h.entry("cross-origin-resource-policy")
                .or_insert(HeaderValue::from_static("same-origin"));
            Ok(Response::from_parts(
                parts,
                GuardedBody {
                    inner: body,
                    _in_flight: in_flight,
                },
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_follow_the_connection_state() {
        let c = Connections {
            header_secs: 10,
            idle_secs: 60,
            ..Connections::default()
        };
        let conn = Conn::new();
        let (at, why) = conn.deadline(&c);
        assert_eq!(why, Closed::HeaderTimeout, "a new connection must ask soon");
        assert!(at <= Instant::now() + Duration::from_secs(10));
        conn.request_started();
        assert_eq!(conn.deadline(&c).1, Closed::IdleTimeout, "stalled request");
        conn.request_done();
        let (at, why) = conn.deadline(&c);
        assert_eq!(why, Closed::IdleTimeout);
        assert!(at > Instant::now() + Duration::from_secs(50));
        conn.read(b"GET / HTTP/1.1\r\n");
        assert_eq!(conn.deadline(&c).1, Closed::HeaderTimeout, "a head began");
        let h2 = Conn::new();
        h2.read(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        h2.request_started();
        h2.request_done();
        h2.read(b"\0\0\x08\x06\0\0\0\0\0");
        assert_eq!(
            h2.deadline(&c).1,
            Closed::IdleTimeout,
            "an h2 ping is no head"
        );
        assert_eq!(Connections::default().zero_key(), None);
        let zero = Connections {
            idle_secs: 0,
            ..Connections::default()
        };
        assert_eq!(zero.zero_key(), Some("idle_secs"));
    }
}
