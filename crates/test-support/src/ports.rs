//! Free loopback ports, for a server a test starts later (or a receiver that must be down).

use std::net::{TcpListener, UdpSocket};

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("no free loopback TCP port: {e}"))
        .port()
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .unwrap_or_else(|e| panic!("no free loopback UDP port: {e}"))
        .port()
}

/// Waits until a server accepts connections on 127.0.0.1:`port` (a collector that started);
/// whether it did within `within`.
pub fn wait_port(port: u16, within: std::time::Duration) -> bool {
    crate::wait_until(within, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
}
