//! The capture socket: `AF_PACKET`/`SOCK_DGRAM` on every protocol, the [`bpf`](super::bpf)
//! filter attached in the kernel, a large receive buffer, and the kernel's drop counter.
//!
//! `SOCK_DGRAM` hands over packets from their IP header on whatever the interface's link
//! layer is (Ethernet, VLAN, tun, loopback, `any`), so every frame read is raw IP. The
//! socket is not bound: the filter picks the interface by index, which also works for `any`.
//! It needs `CAP_NET_RAW`, nothing else.
//!
//! The drop counter is the socket's `sk_drops` — what the kernel counts when a packet the
//! filter passed finds the receive buffer full (the same drops as `PACKET_STATISTICS`'
//! `tp_drops`, without resetting them on read) — asked of the kernel over `NETLINK_SOCK_DIAG`
//! (`ss -0 -m` shows it as `d`).

use std::io::{self, Read};
use std::os::fd::AsFd;
use std::time::Duration;

use socket2::{Domain, Protocol, SockFilter, Socket, Type};

use super::bpf::{self, Interface};

const ETH_P_ALL: u16 = 0x0003;

/// Why the capture could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("a packet socket needs CAP_NET_RAW (run as root, or give the service AmbientCapabilities=CAP_NET_RAW; docs/DNS.md, Live capture): {0}")]
    Capability(io::Error),
    #[error("no interface {name:?}: {error}")]
    Interface { name: String, error: io::Error },
    #[error("{0}")]
    Filter(String),
    #[error("{0}")]
    Config(String),
    #[error("{what}: {error}")]
    Io {
        what: &'static str,
        error: io::Error,
    },
}

fn io(what: &'static str) -> impl FnOnce(io::Error) -> OpenError {
    move |error| OpenError::Io { what, error }
}

/// An open capture.
#[derive(Debug)]
pub struct Capture {
    sock: Socket,
    /// The socket's inode: how the drop counter finds it among the host's packet sockets.
    inode: u64,
    /// The receive buffer the kernel granted (bytes).
    pub rcvbuf: usize,
}

impl Capture {
    /// Opens a capture of `ports` on `interface` (a name, or `any`), asking for a receive
    /// buffer of `rcvbuf` bytes; reads wait at most `timeout`.
    pub fn open(
        interface: &str,
        ports: &[u16],
        rcvbuf: usize,
        timeout: Duration,
    ) -> Result<Capture, OpenError> {
        let protocol = Protocol::from(i32::from(ETH_P_ALL.to_be()));
        let sock = Socket::new(Domain::PACKET, Type::DGRAM, Some(protocol)).map_err(|e| match e
            .kind()
        {
            io::ErrorKind::PermissionDenied => OpenError::Capability(e),
            _ => OpenError::Io {
                what: "packet socket",
                error: e,
            },
        })?;
        let index = |name: &str| {
            rustix::net::netdevice::name_to_index(sock.as_fd(), name).map_err(|e| {
                OpenError::Interface {
                    name: name.to_owned(),
                    error: e.into(),
                }
            })
        };
        let iface = match interface {
            "any" => Interface::Any {
                loopback: index("lo")?,
            },
            "lo" => Interface::Loopback(index("lo")?),
            name => Interface::Other(index(name)?),
        };
        let filter: Vec<SockFilter> = bpf::program(iface, ports)
            .map_err(OpenError::Filter)?
            .iter()
            .map(|i| SockFilter::new(i.code, i.jt, i.jf, i.k))
            .collect();
        sock.attach_filter(&filter)
            .map_err(io("attaching the filter"))?;
        // With CAP_NET_ADMIN past net.core.rmem_max; without, up to it.
        if rustix::net::sockopt::set_socket_recv_buffer_size_force(&sock, rcvbuf).is_err() {
            sock.set_recv_buffer_size(rcvbuf)
                .map_err(io("setting SO_RCVBUF"))?;
        }
        sock.set_read_timeout(Some(timeout))
            .map_err(io("setting SO_RCVTIMEO"))?;
        let rcvbuf = sock.recv_buffer_size().map_err(io("reading SO_RCVBUF"))?;
        let inode = rustix::fs::fstat(&sock)
            .map_err(|e| io("fstat of the socket")(e.into()))?
            .st_ino;
        Ok(Capture {
            sock,
            inode,
            rcvbuf,
        })
    }

    /// The next packet (from its IP header) into `buf`: its length, `None` when none came
    /// within the timeout. A packet longer than `buf` is cut to it.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match (&self.sock).read(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Packets the kernel dropped for this socket so far (its receive buffer was full);
    /// `None` when the kernel has no packet socket diagnostics (`CONFIG_PACKET_DIAG`).
    pub fn drops(&self) -> io::Result<Option<u64>> {
        sock_diag_drops(self.inode)
    }
}

// NETLINK_SOCK_DIAG for packet sockets (linux/sock_diag.h, linux/packet_diag.h).
const AF_NETLINK: i32 = 16;
const AF_PACKET: u8 = 17;
const NETLINK_SOCK_DIAG: i32 = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const PACKET_SHOW_MEMINFO: u32 = 0x10;
const PACKET_DIAG_MEMINFO: u16 = 6;
/// `SK_MEMINFO_DROPS`: the index of `sk_drops` in the meminfo array of u32s.
const SK_MEMINFO_DROPS: usize = 8;

/// Dumps the packet sockets of this network namespace with their meminfo and returns the
/// drops of the one with `inode`.
fn sock_diag_drops(inode: u64) -> io::Result<Option<u64>> {
    let nl = Socket::new(
        Domain::from(AF_NETLINK),
        Type::DGRAM,
        Some(Protocol::from(NETLINK_SOCK_DIAG)),
    )?;
    nl.set_read_timeout(Some(Duration::from_secs(1)))?;
    // nlmsghdr (16) + packet_diag_req (20), native byte order.
    let mut req = Vec::with_capacity(36);
    req.extend_from_slice(&36u32.to_ne_bytes());
    req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    req.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
    req.extend_from_slice(&[AF_PACKET, 0, 0, 0]); // family, protocol, pad
    req.extend_from_slice(&0u32.to_ne_bytes()); // inode: dumps ignore it
    req.extend_from_slice(&PACKET_SHOW_MEMINFO.to_ne_bytes());
    req.extend_from_slice(&[0; 8]); // cookie
    nl.send(&req)?;
    let mut buf = vec![0u8; 32 * 1024];
    let mut found = None;
    loop {
        let n = (&nl).read(&mut buf)?;
        let mut msgs = &buf[..n];
        while msgs.len() >= 16 {
            let len = u32_at(msgs, 0).unwrap_or(0) as usize;
            let kind = u16_at(msgs, 4).unwrap_or(0);
            if len < 16 || len > msgs.len() {
                return Err(io::Error::other("sock_diag: a malformed reply"));
            }
            match kind {
                NLMSG_DONE => return Ok(found),
                NLMSG_ERROR => {
                    let errno = u32_at(msgs, 16).map_or(0, |e| (e as i32).unsigned_abs());
                    // No packet diagnostics in this kernel: no counter, not an error.
                    if errno == 2 || errno == 95 {
                        return Ok(None);
                    }
                    return Err(io::Error::from_raw_os_error(errno as i32));
                }
                SOCK_DIAG_BY_FAMILY => {
                    if let Some(d) = meminfo_drops(&msgs[16..len], inode) {
                        found = Some(d);
                    }
                }
                _ => {}
            }
            msgs = &msgs[align4(len).min(msgs.len())..];
        }
    }
}

/// The drops in one `packet_diag_msg` and its attributes, if it is the socket `inode`'s.
fn meminfo_drops(msg: &[u8], inode: u64) -> Option<u64> {
    // packet_diag_msg: family, type, num (u16), inode (u32), cookie (2 × u32).
    if u64::from(u32_at(msg, 4)?) != inode {
        return None;
    }
    let mut attrs = msg.get(16..)?;
    while attrs.len() >= 4 {
        let len = usize::from(u16_at(attrs, 0)?);
        let kind = u16_at(attrs, 2)?;
        if len < 4 || len > attrs.len() {
            return None;
        }
        if kind == PACKET_DIAG_MEMINFO {
            return u32_at(attrs, 4 + 4 * SK_MEMINFO_DROPS).map(u64::from);
        }
        attrs = &attrs[align4(len).min(attrs.len())..];
    }
    None
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
