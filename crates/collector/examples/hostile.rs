//! The collector under hostile connections: the real collector (TLS, default limits) runs as
//! a child process; this process opens HOSTILE connections from 40 loopback addresses —
//! a quarter each idle TCP sockets, TLS handshakes that never finish, slowloris request
//! heads and unauthenticated request bodies trickled a byte a second, each reconnecting
//! when the collector closes it — plus a login flood of wrong passwords, while one enrolled
//! agent (from 127.0.0.1) posts a signed batch every 200 ms. Prints the agent's latency
//! p50/p99/max and lost requests, the collector's peak RSS and its connection metrics.
//!
//! `cargo run --release -p logward-collector --example hostile -- [SECONDS] [HOSTILE]`
//! (defaults 20, 2000). bench/collector_hostile.sh runs it with a raised fd limit.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark; spawns itself

use std::io::{BufRead as _, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use logward_collector::config::{Config, TlsFiles};
use logward_collector::{add_user, create_token, gen_cert, random_hex, start};
use logward_core::clock::unix_now;
use logward_core::json::write_event;
use logward_core::{wire, Action, Dataset, Event, Outcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::rustls;

const SERVE: &str = "LOGWARD_HOSTILE_SERVE";

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    match std::env::var_os(SERVE) {
        Some(dir) => rt.block_on(serve(dir.into())),
        None => rt.block_on(drive()),
    }
}

/// Child: the collector with TLS on 127.0.0.1, an operator `admin`; prints its address.
async fn serve(dir: std::path::PathBuf) {
    let run = start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: dir.join("state"),
        tls: Some(TlsFiles {
            cert: dir.join("tls/cert.pem"),
            key: dir.join("tls/key.pem"),
        }),
        ..Config::default()
    })
    .await
    .unwrap();
    println!("listening {}", run.addr);
    run.wait().await;
}

async fn tcp_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind(SocketAddr::new(from, 0))?;
    s.connect(to).await
}

fn hostile_addr(i: usize) -> IpAddr {
    IpAddr::from([127, 0, 2, (i % 40) as u8 + 1])
}

/// Reads until the peer closes (or `stop`).
async fn until_closed<S: tokio::io::AsyncRead + Unpin>(s: &mut S, stop: &AtomicBool) {
    let mut buf = [0u8; 4096];
    while !stop.load(Relaxed) {
        match tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            _ => {}
        }
    }
}

/// Writes `head` then one byte of `trickle` a second until the peer closes (or `stop`).
async fn trickle<S: tokio::io::AsyncWrite + tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    head: &[u8],
    trickle: u8,
    stop: &AtomicBool,
) {
    if s.write_all(head).await.is_err() {
        return;
    }
    let mut buf = [0u8; 1024];
    while !stop.load(Relaxed) {
        if s.write_all(&[trickle]).await.is_err() {
            return;
        }
        // A read that ends (answer or close) ends the attack on this connection.
        match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => return,
            Err(_) => {}
        }
    }
}

struct Hostile {
    to: SocketAddr,
    tls: tokio_rustls::TlsConnector,
    agent: String,
    stop: AtomicBool,
    connects: AtomicU64,
}

/// One hostile connection of `kind`, reconnecting whenever the collector closes it.
async fn attacker(h: Arc<Hostile>, i: usize, kind: usize) {
    let from = hostile_addr(i);
    let name = rustls::pki_types::ServerName::IpAddress(IpAddr::from([127, 0, 0, 1]).into());
    while !h.stop.load(Relaxed) {
        let Ok(mut tcp) = tcp_from(from, h.to).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        h.connects.fetch_add(1, Relaxed);
        match kind {
            // An idle TCP socket.
            0 => until_closed(&mut tcp, &h.stop).await,
            // A TLS handshake that never finishes: the start of a ClientHello record.
            1 => {
                if tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]).await.is_ok() {
                    until_closed(&mut tcp, &h.stop).await;
                }
            }
            // Slowloris: a request head, one header byte a second.
            2 => {
                if let Ok(mut tls) = h.tls.connect(name.clone(), tcp).await {
                    let head = b"GET /v1/decisions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: ";
                    trickle(&mut tls, head, b'a', &h.stop).await;
                }
            }
            // An unauthenticated body: a known agent id, a made-up signature, 64 KiB
            // announced and sent a byte a second.
            _ => {
                if let Ok(mut tls) = h.tls.connect(name.clone(), tcp).await {
                    let head = format!(
                        "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n{}: {}\r\n{}: {}\r\n\
                         {}: {}\r\n{}: {}\r\nContent-Length: 65536\r\n\r\n",
                        wire::HEADER_AGENT,
                        h.agent,
                        wire::HEADER_TIMESTAMP,
                        unix_now(),
                        wire::HEADER_NONCE,
                        random_hex(16),
                        wire::HEADER_SIGNATURE,
                        random_hex(32),
                    );
                    trickle(&mut tls, head.as_bytes(), b'{', &h.stop).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Wrong passwords as fast as the collector answers, from 40 addresses in turn.
async fn login_flood(to: SocketAddr, cert: Vec<u8>, stop: Arc<AtomicBool>, w: usize) -> [u64; 4] {
    let root = reqwest::Certificate::from_pem(&cert).unwrap();
    let clients: Vec<reqwest::Client> = (0..40)
        .map(|k| {
            reqwest::Client::builder()
                .add_root_certificate(root.clone())
                .local_address(IpAddr::from([127, 0, 3, k as u8 + 1]))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
        })
        .collect();
    // 401, 429, 503, other.
    let mut seen = [0u64; 4];
    let mut i = w;
    while !stop.load(Relaxed) {
        let user = if i % 2 == 0 {
            "admin".to_owned()
        } else {
            format!("u{i}")
        };
        let r = clients[i % 40]
            .post(format!("https://{to}/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("user={user}&password=guess{i}"))
            .send()
            .await;
        let k = match r.map(|r| r.status().as_u16()) {
            Ok(401) => 0,
            Ok(429) => 1,
            Ok(503) => 2,
            _ => 3,
        };
        seen[k] += 1;
        i += 7;
    }
    seen
}

/// The collector's peak and current RSS in KiB (VmHWM, VmRSS).
/// The body of the answer to `r`: the enrolment and the metrics scrapes (a bench, so
/// failures panic).
async fn text(r: reqwest::RequestBuilder) -> String {
    r.send().await.unwrap().text().await.unwrap()
}

fn rss(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (kib("VmHWM:"), kib("VmRSS:"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn drive() {
    let args: Vec<String> = std::env::args().collect();
    let secs: u64 = args.get(1).map_or(20, |s| s.parse().unwrap());
    let hostile: usize = args.get(2).map_or(2000, |s| s.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = gen_cert(&dir.path().join("tls"), &["127.0.0.1".into()]).unwrap();
    let state = dir.path().join("state");
    add_user(&state, "admin", "the right passphrase", unix_now()).unwrap();
    let token = create_token(&state, unix_now(), 3600).unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env(SERVE, dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let to: SocketAddr = line
        .trim()
        .strip_prefix("listening ")
        .unwrap()
        .parse()
        .unwrap();
    let (idle_kib, _) = rss(pid);

    let cert_pem = std::fs::read(&cert).unwrap();
    let agent_client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert_pem).unwrap())
        .local_address(IpAddr::from([127, 0, 0, 1]))
        .build()
        .unwrap();
    let base = format!("https://{to}");
    let enrol = serde_json::json!({"token": token, "host": "bench01"}).to_string();
    let enrolled = text(agent_client.post(format!("{base}/v1/enroll")).body(enrol)).await;
    let v: serde_json::Value = serde_json::from_str(&enrolled).unwrap();
    let (id, secret) = (
        v["agent_id"].as_str().unwrap().to_owned(),
        v["secret"].as_str().unwrap().to_owned(),
    );

    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject as _;
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&cert_pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let h = Arc::new(Hostile {
        to,
        tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
        agent: id.clone(),
        stop: AtomicBool::new(false),
        connects: AtomicU64::new(0),
    });
    // HOSTILE_KINDS picks the attacks (default all four), HOSTILE_LOGINS the login flooders.
    let kinds: Vec<usize> = std::env::var("HOSTILE_KINDS")
        .unwrap_or_else(|_| "idle,handshake,slowloris,body".into())
        .split(',')
        .filter_map(|k| {
            ["idle", "handshake", "slowloris", "body"]
                .iter()
                .position(|x| *x == k)
        })
        .collect();
    let flooders: usize = std::env::var("HOSTILE_LOGINS").map_or(16, |v| v.parse().unwrap());
    let attackers: Vec<_> = (0..hostile)
        .map(|i| tokio::spawn(attacker(Arc::clone(&h), i, kinds[i % kinds.len()])))
        .collect();
    let flood_stop = Arc::new(AtomicBool::new(false));
    let floods: Vec<_> = (0..flooders)
        .map(|w| {
            tokio::spawn(login_flood(
                to,
                cert_pem.clone(),
                Arc::clone(&flood_stop),
                w,
            ))
        })
        .collect();
    // Let the attack build up before measuring.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut lat = Vec::new();
    let (mut sent, mut lost) = (0u64, 0u64);
    let mut peak_open = 0.0f64;
    let end = Instant::now() + Duration::from_secs(secs);
    let mut seq = 0u64;
    while Instant::now() < end {
        let tick = Instant::now();
        let mut body = String::new();
        for _ in 0..10 {
            seq += 1;
            let mut e = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
            e.set_source("198.51.100.7".into(), Some(40000));
            e.user_name = Some("bench".into());
            let mut line = Vec::new();
            write_event(&mut line, &e);
            body.push_str(&format!(
                "{{\"seq\":{seq},\"event\":{}}}\n",
                String::from_utf8(line).unwrap()
            ));
        }
        let (ts, nonce) = (unix_now(), random_hex(16));
        // Signed as `logward run` signs: the body's digest in the head too.
        let digest = wire::body_digest(body.as_bytes());
        let sig = wire::sign_digest(secret.as_bytes(), "POST", "/v1/events", ts, &nonce, &digest);
        sent += 1;
        let t = Instant::now();
        let r = agent_client
            .post(format!("{base}/v1/events"))
            .header(wire::HEADER_AGENT, &id)
            .header(wire::HEADER_TIMESTAMP, ts.to_string())
            .header(wire::HEADER_NONCE, nonce)
            .header(wire::HEADER_SIGNATURE, sig)
            .header(wire::HEADER_CONTENT_SHA256, digest)
            .timeout(Duration::from_secs(30))
            .body(body)
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 200 => {
                let text = r.text().await.unwrap_or_default();
                let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                if v["accepted"] != 10 {
                    lost += 1;
                    eprintln!("answer without all 10 accepted: {v}");
                }
            }
            Ok(r) => {
                lost += 1;
                let status = r.status();
                eprintln!(
                    "agent request: {status} {}",
                    r.text().await.unwrap_or_default()
                );
            }
            Err(e) => {
                lost += 1;
                eprintln!("agent request: {e}");
            }
        }
        if sent % 10 == 0 {
            let m = text(agent_client.get(format!("{base}/metrics"))).await;
            if let Some(v) = m
                .lines()
                .find_map(|l| l.strip_prefix("logward_collector_connections_open "))
            {
                peak_open = peak_open.max(v.trim().parse().unwrap_or(0.0));
            }
        }
        if let Some(rest) = Duration::from_millis(200).checked_sub(tick.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
    let metrics = text(agent_client.get(format!("{base}/metrics"))).await;
    let (peak_kib, now_kib) = rss(pid);
    h.stop.store(true, Relaxed);
    flood_stop.store(true, Relaxed);
    let mut logins = [0u64; 4];
    for f in floods {
        for (a, b) in logins.iter_mut().zip(f.await.unwrap()) {
            *a += b;
        }
    }
    for a in attackers {
        a.abort();
    }
    let _ = child.kill();
    let _ = child.wait();

    lat.sort_by(|a, b| a.total_cmp(b));
    let names = [
        "idle",
        "stalled TLS handshake",
        "slowloris",
        "slow unauthenticated body",
    ];
    let kinds: Vec<&str> = kinds.iter().map(|k| names[*k]).collect();
    println!(
        "hostile: {hostile} connections ({}; {} connects in all) + {flooders} login \
         flooders, {secs} s",
        kinds.join(", "),
        h.connects.load(Relaxed)
    );
    println!(
        "agent: {sent} requests, {lost} lost; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "collector RSS: peak {} MiB (idle at start {} MiB, at the end {} MiB); open \
         connections seen up to {peak_open}",
        peak_kib / 1024,
        idle_kib / 1024,
        now_kib / 1024
    );
    println!(
        "logins: {} x 401, {} x 429, {} x 503, {} other",
        logins[0], logins[1], logins[2], logins[3]
    );
    for l in metrics.lines().filter(|l| {
        l.starts_with("logward_collector_connections_")
            || l.starts_with("logward_collector_accept_errors_total")
    }) {
        println!("  {l}");
    }
}
