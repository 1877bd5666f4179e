//! Real DNS queries at a steady rate, for the live-capture benchmark (bench/dns_capture.sh):
//! `dns_blast SERVER:PORT RATE SECONDS [answer]` sends RATE A queries a second (each a new
//! name and id) from one UDP socket to SERVER:PORT for SECONDS, paced per millisecond; with
//! `answer` it also binds SERVER:PORT and answers each query (the query echoed with QR set
//! and an A record), so the capture sees query and reply. Prints one JSON line: queries
//! sent, answers sent, seconds taken.
#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

fn usage() -> ! {
    eprintln!("usage: dns_blast SERVER:PORT RATE SECONDS [answer]");
    std::process::exit(2)
}

/// An A query for `q<n>.blast.test` with id `n`.
fn query(n: u64, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&(n as u16).to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD, one question
    let label = format!("q{n}");
    out.push(label.len() as u8);
    out.extend_from_slice(label.as_bytes());
    for l in ["blast", "test"] {
        out.push(l.len() as u8);
        out.extend_from_slice(l.as_bytes());
    }
    out.extend_from_slice(&[0, 0, 1, 0, 1]); // root, A, IN
}

/// Answers every query on `sock` until `until`: the question echoed, QR/RA set, one A
/// record 192.0.2.1 (a pointer to the question's name). Returns how many it answered.
fn responder(sock: UdpSocket, until: Instant) -> u64 {
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 512];
    let mut n = 0;
    while Instant::now() < until {
        let Ok((len, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        if len < 12 || len + 16 > buf.len() {
            continue;
        }
        buf[2] |= 0x80; // QR
        buf[3] |= 0x80; // RA
        buf[7] = 1; // one answer
        let answer = [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1];
        buf[len..len + 16].copy_from_slice(&answer);
        if sock.send_to(&buf[..len + 16], from).is_ok() {
            n += 1;
        }
    }
    n
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        usage();
    }
    let server: SocketAddr = args[0].parse().unwrap_or_else(|_| usage());
    let rate: u64 = args[1].parse().unwrap_or_else(|_| usage());
    let secs: u64 = args[2].parse().unwrap_or_else(|_| usage());
    let answer = args.get(3).map(String::as_str) == Some("answer");
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let answering = answer.then(|| {
        let sock = UdpSocket::bind(server).unwrap();
        // Replies still in flight when the blast ends are answered too.
        std::thread::spawn(move || responder(sock, end + Duration::from_secs(1)))
    });
    let bind: SocketAddr = if server.is_ipv4() {
        "127.0.0.1:0".parse().unwrap()
    } else {
        "[::1]:0".parse().unwrap()
    };
    let sock = UdpSocket::bind(bind).unwrap();
    // Replies are read by nobody here: a small buffer that overflows is fine.
    let mut pkt = Vec::with_capacity(64);
    let mut sent = 0u64;
    let mut failed = 0u64;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        // Catch up to where the rate says we should be by now, then sleep a millisecond.
        let due = rate * (now - start).as_micros() as u64 / 1_000_000;
        while sent + failed < due {
            query(sent + failed, &mut pkt);
            if sock.send_to(&pkt, server).is_ok() {
                sent += 1;
            } else {
                failed += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let took = start.elapsed().as_secs_f64();
    let answered = answering.map_or(0, |h| h.join().unwrap_or(0));
    println!(
        "{{\"queries\": {sent}, \"failed\": {failed}, \"answers\": {answered}, \"seconds\": {took:.3}}}"
    );
}
