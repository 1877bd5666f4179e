//! The Beats input under attack, against a real `logward run`: senders that cost the
//! attacker little and the server much.
#![allow(clippy::disallowed_methods)] // the test starts the agent
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use logward_test_support::daemon::Daemon;
use logward_test_support::{free_port, wait_port};

const WITHIN: Duration = Duration::from_secs(60);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_logward")
}

/// A `W` frame announcing `size` events, then a `C` frame holding `events` `J` frames of
/// `bytes` bytes each (the same text over and over: zlib shrinks it a thousandfold).
fn window(size: u32, events: u32, bytes: usize) -> Vec<u8> {
    let doc = format!(r#"{{"message":"{}"}}"#, "x".repeat(bytes - 14));
    let mut inner = Vec::with_capacity(events as usize * (bytes + 10));
    for seq in 1..=events {
        inner.extend_from_slice(b"2J");
        inner.extend_from_slice(&seq.to_be_bytes());
        inner.extend_from_slice(&(doc.len() as u32).to_be_bytes());
        inner.extend_from_slice(doc.as_bytes());
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&inner).unwrap();
    let body = z.finish().unwrap();
    let mut f = b"2W".to_vec();
    f.extend_from_slice(&size.to_be_bytes());
    f.extend_from_slice(b"2C");
    f.extend_from_slice(&(body.len() as u32).to_be_bytes());
    f.extend_from_slice(&body);
    f
}

/// The resident memory of `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap();
    kb << 10
}

/// Each connection could hold a window of events for a few KiB of zlib: 40 connections
/// held 240 MB (256 of them, 8 GiB with the default limits) before the windows held at once
/// were bounded (16 by default).
#[test]
fn beats_compressed_windows_held_open_by_many_connections_do_not_exhaust_memory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let cfg = d.join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - type: beats\n    listen: 127.0.0.1:{port}\n    \
             limits: {{max_inflated_bytes: 9000000, max_window_bytes: 9000000}}\n\
             output: {{format: ndjson}}\n"
        ),
    )
    .unwrap();
    let daemon = Daemon::start(bin(), &cfg, &d.join("state"), d);
    assert!(daemon.up(), "{}", daemon.log());
    assert!(wait_port(port, WITHIN));
    let pid = daemon.child.id();
    let before = rss(pid);

    // 6 000 events of 1 KiB announced as a window of 6 001: it never completes, so each
    // connection would hold its 6 MB until the window's read timeout.
    let attack = window(6001, 6000, 1024);
    assert!(attack.len() < 64 << 10, "{} bytes", attack.len());
    let conns: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(&attack).unwrap();
            s
        })
        .collect();
    // The server reads what it is given within a few seconds; sample its memory meanwhile.
    let bound = before + (160 << 20);
    let mut most = before;
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until && most <= bound {
        most = most.max(rss(pid));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        most <= bound,
        "{} MiB resident after {} MiB (40 windows of 6 MB held open)",
        most >> 20,
        before >> 20
    );
    drop(conns);

    // The attackers gone, an honest window of the same size is read and ACKed.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WITHIN)).unwrap();
    s.write_all(&window(6000, 6000, 1024)).unwrap();
    let mut ack = [0u8; 6];
    loop {
        s.read_exact(&mut ack).unwrap();
        // Keep-alives (seq 0) while the agent commits.
        if ack[2..] != [0, 0, 0, 0] {
            break;
        }
    }
    assert_eq!(&ack, b"2A\x00\x00\x17\x70", "{}", daemon.log());
}
