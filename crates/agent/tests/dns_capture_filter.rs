//! The DNS capture's kernel filter, run by the kernel: a real packet socket on `lo` with the
//! filter attached, and packets this test sends on loopback — UDP and TCP to the captured
//! port and to others, IPv4 and IPv6, and hand-built fragments through raw IP sockets. What
//! the filter passes arrives; what it must not pass never does (checked with a marker packet
//! sent after it: the socket keeps order, so once the marker is read, anything before it
//! that passed would have been read first).
//!
//! Each test captures its own free port, so concurrent tests and other traffic on `lo` do
//! not reach it. Needs root (CAP_NET_RAW): without it the tests say why and return, except
//! under `CI=true`, where that is a failure.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use logward_agent::sources::dns_capture::socket::Capture;
use logward_test_support::netns;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

fn root() -> bool {
    netns::prerequisites("dns capture filter test", &[], "none")
}

fn capture(ports: &[u16]) -> Capture {
    Capture::open("lo", ports, 1 << 20, Duration::from_millis(100)).expect("capture on lo")
}

/// Every packet captured until one satisfies `last` (within 5 s), that one included.
fn until(cap: &Capture, last: impl Fn(&[u8]) -> bool) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Some(n) = cap.recv(&mut buf).expect("recv") {
            let p = buf[..n].to_vec();
            let done = last(&p);
            got.push(p);
            if done {
                return got;
            }
        }
    }
    panic!("the marker never arrived; captured {got:?}");
}

fn ends_with(p: &[u8], tail: &[u8]) -> bool {
    p.ends_with(tail)
}

/// A UDP datagram with `payload` from a fresh socket to `to`.
fn udp(to: SocketAddr, payload: &[u8]) {
    let bind: SocketAddr = if to.is_ipv4() {
        "127.0.0.1:0".parse().unwrap()
    } else {
        "[::1]:0".parse().unwrap()
    };
    let s = UdpSocket::bind(bind).expect("udp bind");
    s.send_to(payload, to).expect("udp send");
}

fn free_port() -> u16 {
    logward_test_support::free_udp_port()
}

fn v6_loopback() -> bool {
    UdpSocket::bind("[::1]:0").is_ok()
}

#[test]
fn udp_to_the_port_is_captured_once_and_other_ports_not_at_all() {
    if !root() {
        return;
    }
    let port = free_port();
    let other = free_port();
    let cap = capture(&[port]);
    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    udp(
        SocketAddr::from((Ipv4Addr::LOCALHOST, other)),
        b"other-port",
    );
    udp(v4, b"query-1");
    udp(v4, b"marker-1");
    let got = until(&cap, |p| ends_with(p, b"marker-1"));
    assert!(got.iter().all(|p| !ends_with(p, b"other-port")), "{got:?}");
    // Once each: lo's outgoing copy is dropped in the kernel.
    assert_eq!(got.iter().filter(|p| ends_with(p, b"query-1")).count(), 1);
    let q = got.iter().find(|p| ends_with(p, b"query-1")).unwrap();
    assert_eq!(q[0] >> 4, 4, "raw IPv4 from its header");
    assert_eq!(q[9], 17);
    assert_eq!(u16::from_be_bytes([q[22], q[23]]), port, "destination port");
    if v6_loopback() {
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
        udp(
            SocketAddr::from((Ipv6Addr::LOCALHOST, other)),
            b"other-port6",
        );
        udp(v6, b"query-6");
        let got = until(&cap, |p| ends_with(p, b"query-6"));
        assert!(got.iter().all(|p| !ends_with(p, b"other-port6")));
        let q = got.last().unwrap();
        assert_eq!(q[0] >> 4, 6);
        assert_eq!(q[6], 17);
    }
    // Replies come *from* the port: captured by the source port.
    let server = UdpSocket::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, other))).unwrap();
    let client = UdpSocket::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).unwrap();
    client
        .send_to(b"reply-like", server.local_addr().unwrap())
        .unwrap();
    let got = until(&cap, |p| ends_with(p, b"reply-like"));
    assert_eq!(got.len(), 1, "{got:?}");
}

#[test]
fn tcp_to_the_port_is_captured() {
    if !root() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let cap = capture(&[port]);
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (mut s, _) = listener.accept().unwrap();
    use std::io::Write;
    c.write_all(b"\x00\x0ctcp-query-12").unwrap();
    s.write_all(b"\x00\x0ctcp-answer-1").unwrap();
    let got = until(&cap, |p| ends_with(p, b"tcp-answer-1"));
    assert!(got.iter().any(|p| ends_with(p, b"tcp-query-12")), "{got:?}");
    assert!(got.iter().all(|p| p[9] == 6), "TCP only");
}

/// An IPv4 header (checksum and, when 0, id filled in by the kernel) for a raw socket.
fn ipv4(proto: u8, id: u16, frag: u16, payload: &[u8]) -> Vec<u8> {
    let len = (20 + payload.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&frag.to_be_bytes());
    p.extend_from_slice(&[64, proto, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
    p.extend_from_slice(payload);
    p
}

#[test]
fn later_ipv4_fragments_of_udp_pass_and_of_tcp_do_not() {
    if !root() {
        return;
    }
    let port = free_port();
    let cap = capture(&[port]);
    let raw = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(255))).expect("raw");
    let to = SockAddr::from(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    // Offset 16 bytes (2 units), no more fragments: a UDP datagram's tail.
    raw.send_to(&ipv4(17, 0x5a01, 2, b"udp-tail"), &to).unwrap();
    raw.send_to(&ipv4(6, 0x5a02, 2, b"tcp-tail"), &to).unwrap();
    // A first fragment of UDP to another port (more fragments, offset 0): its ports decide.
    let mut head = (1000u16).to_be_bytes().to_vec();
    head.extend_from_slice(&(port ^ 1).to_be_bytes());
    head.extend_from_slice(&[0, 16, 0, 0]);
    head.extend_from_slice(b"udp-head");
    raw.send_to(&ipv4(17, 0x5a03, 0x2000, &head), &to).unwrap();
    udp(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), b"marker-f");
    let got = until(&cap, |p| ends_with(p, b"marker-f"));
    assert!(got.iter().any(|p| ends_with(p, b"udp-tail")), "{got:?}");
    assert!(got.iter().all(|p| !ends_with(p, b"tcp-tail")), "{got:?}");
    assert!(got.iter().all(|p| !ends_with(p, b"udp-head")), "{got:?}");
}

/// An IPv6 packet ::1 → ::1 with a fragment header (next header UDP) and `payload`.
fn ipv6_fragment(offset_units: u16, more: bool, payload: &[u8]) -> Vec<u8> {
    let len = (8 + payload.len()) as u16;
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(&[44, 64]);
    p.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
    p.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
    p.extend_from_slice(&[17, 0]);
    p.extend_from_slice(&((offset_units << 3) | u16::from(more)).to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

#[test]
fn ipv6_fragments_of_udp_pass_by_the_first_ones_ports() {
    if !root() || !v6_loopback() {
        return;
    }
    let port = free_port();
    let cap = capture(&[port]);
    let raw = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(255))).expect("raw6");
    let to = SockAddr::from(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)));
    let first = |dport: u16, tag: &[u8]| {
        let mut u = 1000u16.to_be_bytes().to_vec();
        u.extend_from_slice(&dport.to_be_bytes());
        u.extend_from_slice(&[0, 40, 0, 0]);
        u.extend_from_slice(tag);
        ipv6_fragment(0, true, &u)
    };
    raw.send_to(&first(port ^ 1, b"head-other"), &to).unwrap();
    raw.send_to(&first(port, b"head-mine!"), &to).unwrap();
    raw.send_to(&ipv6_fragment(2, false, b"tail-any"), &to)
        .unwrap();
    udp(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), b"marker-6");
    let got = until(&cap, |p| ends_with(p, b"marker-6"));
    assert!(got.iter().any(|p| ends_with(p, b"head-mine!")), "{got:?}");
    assert!(got.iter().any(|p| ends_with(p, b"tail-any")), "{got:?}");
    assert!(got.iter().all(|p| !ends_with(p, b"head-other")), "{got:?}");
}

#[test]
fn several_ports_and_the_drop_counter() {
    if !root() {
        return;
    }
    let (a, b) = (free_port(), free_port());
    let cap = capture(&[a, b]);
    udp(SocketAddr::from((Ipv4Addr::LOCALHOST, a)), b"to-a");
    udp(SocketAddr::from((Ipv4Addr::LOCALHOST, b)), b"to-b");
    let got = until(&cap, |p| ends_with(p, b"to-b"));
    assert!(got.iter().any(|p| ends_with(p, b"to-a")));
    // Read through the kernel's socket diagnostics: present and nothing dropped here.
    assert_eq!(cap.drops().expect("sock_diag"), Some(0));
    // The smallest buffer the kernel allows, never read: it fills and the kernel counts.
    let port = free_port();
    let full = Capture::open("lo", &[port], 1, Duration::from_millis(100)).expect("capture");
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..200 {
        s.send_to(&[0u8; 512], ("127.0.0.1", port)).unwrap();
    }
    let drops = full.drops().expect("sock_diag").expect("a counter");
    assert!(drops > 0 && drops < 200, "{drops} dropped of 200");
}

#[test]
fn an_unknown_interface_is_named() {
    if !root() {
        return;
    }
    let e = Capture::open("nosuch0", &[53], 1 << 20, Duration::from_millis(100))
        .expect_err("no such interface");
    assert!(e.to_string().contains("\"nosuch0\""), "{e}");
}
