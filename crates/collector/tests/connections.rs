//! Attacks on the collector's connections against the real server on 127.0.0.1: idle
//! sockets, a TLS client that never finishes its handshake, slowloris headers, idle
//! keep-alives over HTTP/1.1 and HTTP/2, and the connection caps — while a legitimate agent
//! is still served. Source addresses vary over 127/8 (all loopback on Linux).
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use logward_collector::config::{Config, TlsFiles};
use logward_collector::listener::Connections;
use logward_collector::{start, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

mod common;

struct Fixture {
    _dir: tempfile::TempDir,
    run: Running,
}

async fn fixture(tls: bool, connections: Connections) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let tls = tls.then(|| {
        let (cert, key) =
            logward_collector::gen_cert(&dir.path().join("tls"), &["127.0.0.1".into()]).unwrap();
        TlsFiles { cert, key }
    });
    let run = start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: dir.path().join("state"),
        tls,
        connections,
        ..Config::default()
    })
    .await
    .unwrap();
    Fixture { _dir: dir, run }
}

/// Short deadlines so the attacks end within a test's time.
fn short() -> Connections {
    Connections {
        handshake_secs: 1,
        header_secs: 1,
        idle_secs: 2,
        ..Connections::default()
    }
}

/// A TCP connection to `to` from the loopback address `from`.
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(format!("{from}:0").parse().unwrap()).unwrap();
    s.connect(to).await.unwrap()
}

/// Reads until the server closes the connection (or `limit` passes); how long it took.
async fn closed_after(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let t = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((t + limit).into(), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(t.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => return None,
        }
    }
}

/// A connection from `from` that the server closes within a second (refused at a cap).
async fn closed_at_once(from: &str, to: SocketAddr) {
    let mut s = connect_from(from, to).await;
    let took = closed_after(&mut s, Duration::from_secs(5)).await.unwrap();
    assert!(took < Duration::from_secs(1), "{from}: {took:?}");
}

/// The agent's alert `seq` is accepted: it is still served.
async fn served(agent: &common::Agent, seq: u64) {
    let line = common::alert_line(seq, "r", logward_core::Severity::High, "192.0.2.1", "root");
    let v = agent.events(line).await;
    assert_eq!(v["accepted"], 1, "{v}");
}

async fn metrics(run: &Running) -> String {
    run.state.metrics.render()
}

fn metric(text: &str, line_prefix: &str) -> u64 {
    common::metric(text, line_prefix)
}

/// Waits (up to 10 s) until the metric line reaches `at_least`.
async fn wait_metric(run: &Running, line_prefix: &str, at_least: u64) {
    let end = Instant::now() + Duration::from_secs(10);
    while metric(&metrics(run).await, line_prefix) < at_least {
        assert!(
            Instant::now() < end,
            "{line_prefix} never reached {at_least}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const CLOSED: &str = "logward_collector_connections_closed_total{reason=";

#[tokio::test]
async fn idle_tcp_sockets_are_closed_after_the_header_timeout() {
    let f = fixture(false, short()).await;
    let mut idle = connect_from("127.0.0.1", f.run.addr).await;
    let took = closed_after(&mut idle, Duration::from_secs(5))
        .await
        .expect("an idle socket is closed");
    assert!(took >= Duration::from_millis(900), "{took:?}");
    wait_metric(&f.run, &format!("{CLOSED}\"header_timeout\"}}"), 1).await;
    f.run.stop().await;
}

#[tokio::test]
async fn slowloris_headers_are_closed_after_the_header_timeout() {
    let f = fixture(false, short()).await;
    let s = connect_from("127.0.0.1", f.run.addr).await;
    let (mut r, mut w) = s.into_split();
    // One header line every 200 ms: each byte keeps the socket busy, the head never ends.
    let trickle = tokio::spawn(async move {
        let _ = w.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").await;
        for i in 0..50 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if w.write_all(format!("X-{i}: y\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let t = Instant::now();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), r.read(&mut buf))
        .await
        .expect("closed before the trickle ended")
        .unwrap_or(0);
    assert_eq!(n, 0, "no answer: {:?}", String::from_utf8_lossy(&buf[..n]));
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    trickle.abort();
    wait_metric(&f.run, &format!("{CLOSED}\"header_timeout\"}}"), 1).await;
    f.run.stop().await;
}

#[tokio::test]
async fn a_tls_client_that_never_finishes_the_handshake_is_closed() {
    let f = fixture(true, short()).await;
    let mut s = connect_from("127.0.0.1", f.run.addr).await;
    // The start of a ClientHello record, then nothing.
    s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .unwrap();
    let took = closed_after(&mut s, Duration::from_secs(5))
        .await
        .expect("the handshake is given up");
    assert!(took >= Duration::from_millis(900), "{took:?}");
    wait_metric(&f.run, &format!("{CLOSED}\"handshake_timeout\"}}"), 1).await;
    f.run.stop().await;
}

#[tokio::test]
async fn an_idle_http1_keep_alive_is_closed_after_the_idle_timeout() {
    let f = fixture(false, short()).await;
    let mut s = connect_from("127.0.0.1", f.run.addr).await;
    s.write_all(b"GET /v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // Read the whole answer (Content-Length), then sit idle.
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            if body.len() >= len {
                break;
            }
        }
    }
    let took = closed_after(&mut s, Duration::from_secs(6))
        .await
        .expect("an idle keep-alive is closed");
    // The idle timeout (2 s), not the header timeout (1 s): the next request may wait.
    assert!(took >= Duration::from_millis(1800), "{took:?}");
    wait_metric(&f.run, &format!("{CLOSED}\"idle_timeout\"}}"), 1).await;
    f.run.stop().await;
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_the_idle_timeout_and_tls_has_hsts() {
    let f = fixture(true, short()).await;
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let r = client
        .get(format!("https://{}/login", f.run.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    assert_eq!(r.headers()["cross-origin-opener-policy"], "same-origin");
    r.text().await.unwrap();
    let t = Instant::now();
    assert_eq!(f.run.state.metrics.conn.open(), 1);
    // Idle, it is closed after idle_secs (2), not before.
    let end = t + Duration::from_secs(6);
    while f.run.state.metrics.conn.open() > 0 {
        assert!(
            Instant::now() < end,
            "the idle HTTP/2 connection is still open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        t.elapsed() >= Duration::from_millis(1800),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(
        metric(
            &metrics(&f.run).await,
            &format!("{CLOSED}\"idle_timeout\"}}")
        ),
        1
    );
    f.run.stop().await;

    // Plain HTTP gets no HSTS (a browser would ignore it there anyway).
    let f = fixture(false, short()).await;
    let r = reqwest::get(format!("http://{}/login", f.run.addr))
        .await
        .unwrap();
    assert!(r.headers().get("strict-transport-security").is_none());
    f.run.stop().await;
}

#[tokio::test]
async fn connection_caps_refuse_the_next_one_at_once_and_an_agent_is_still_served() {
    let f = fixture(
        false,
        Connections {
            header_secs: 30,
            per_address: 4,
            max: 13,
            ..Connections::default()
        },
    )
    .await;
    let addr = f.run.addr;
    let agent = common::Agent::enrol(&f.run).await;
    let refused = |text: &str, why: &str| {
        metric(
            text,
            &format!("logward_collector_connections_refused_total{{reason=\"{why}\"}}"),
        )
    };
    // Four idle sockets from one address: the fifth is closed at once.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from("127.0.0.2", addr).await);
    }
    wait_metric(&f.run, "logward_collector_connections_open", 5).await;
    closed_at_once("127.0.0.2", addr).await;
    assert_eq!(refused(&metrics(&f.run).await, "per_address"), 1);
    // Another address is still served, over the keep-alive the agent already has.
    served(&agent, 1).await;
    // Up to the total cap (13, the agent's connection included), then refused.
    for i in 3..5 {
        for _ in 0..4 {
            held.push(connect_from(&format!("127.0.0.{i}"), addr).await);
        }
    }
    wait_metric(&f.run, "logward_collector_connections_open", 13).await;
    closed_at_once("127.0.0.9", addr).await;
    assert_eq!(refused(&metrics(&f.run).await, "total"), 1);
    // The agent's own connection was kept: it is still served at the cap.
    served(&agent, 2).await;
    // Sockets closed by their clients give their places back.
    drop(held);
    let end = Instant::now() + Duration::from_secs(10);
    while f.run.state.metrics.conn.open() > 1 {
        assert!(Instant::now() < end, "places not given back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut again = connect_from("127.0.0.2", addr).await;
    again
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    again.read_exact(&mut buf).await.unwrap();
    assert!(buf.starts_with(b"HTTP/1.1 200"));
    f.run.stop().await;
}
