//! The capture's kernel filter: a classic BPF program (SO_ATTACH_FILTER) that passes only
//! DNS packets, so the kernel copies nothing else to the agent.
//!
//! Written by hand in the shape `tcpdump -dd 'port 53'` prints, with two differences: the
//! socket is `SOCK_DGRAM`, so the packet starts at the IP header on every kind of interface
//! and the EtherType comes from the `proto` ancillary load (as libpcap does for `-i any`);
//! and fragments are let through as far as the decoder needs them to reassemble:
//!
//! - IPv4 UDP or TCP with a source or destination port in `ports`; a **non-first** IPv4
//!   fragment of UDP (it carries no UDP header, so its port cannot be seen; the decoder keeps
//!   it only when it belongs to a first fragment it kept);
//! - IPv6 UDP or TCP (no extension header) with a port in `ports`; an IPv6 fragment header
//!   followed by UDP: the first fragment by its ports, later ones all;
//! - on the loopback interface, only the received copy of a packet: everything sent on `lo`
//!   is also received on it, and both copies reach a packet socket (libpcap drops the
//!   outgoing one in user space; here the kernel does).
//!
//! Other IPv6 extension headers before UDP (hop-by-hop, routing) are not followed: DNS
//! traffic does not carry them.

use std::collections::HashMap;

/// What the program accepts a packet with: its length, capped (the largest IP packet).
const SNAPLEN: u32 = 0x40000;

// Instruction classes, sizes and modes (linux/bpf_common.h).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const W: u16 = 0x00;
const H: u16 = 0x08;
const B: u16 = 0x10;
const ABS: u16 = 0x20;
const IND: u16 = 0x40;
const MSH: u16 = 0xa0;
const JEQ: u16 = 0x10;
const JSET: u16 = 0x40;
const K: u16 = 0x00;

/// Ancillary loads (linux/filter.h): `SKF_AD_OFF` plus the datum's offset.
const AD_OFF: u32 = 0xffff_f000; // -0x1000
const AD_PROTOCOL: u32 = AD_OFF; // skb->protocol, host order: the EtherType
const AD_PKTTYPE: u32 = AD_OFF + 4; // PACKET_HOST, PACKET_OUTGOING …
const AD_IFINDEX: u32 = AD_OFF + 8; // the interface the packet was seen on

const PACKET_OUTGOING: u32 = 4;
const ETH_P_IP: u32 = 0x0800;
const ETH_P_IPV6: u32 = 0x86dd;
const IPPROTO_TCP: u32 = 6;
const IPPROTO_UDP: u32 = 17;
const IPV6_FRAGMENT: u32 = 44;

/// Which interface the filter keeps packets of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// Every interface (`any`): the outgoing copies on the loopback interface, whose index
    /// this is, are dropped.
    Any { loopback: u32 },
    /// The loopback interface itself, by index: its outgoing copies are dropped.
    Loopback(u32),
    /// Another interface, by index: outgoing packets are kept (the host's own queries).
    Other(u32),
}

/// One instruction as `struct sock_filter` holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// Where a conditional jump goes: the next instruction or a label further on (classic BPF
/// only jumps forward).
#[derive(Debug, Clone, Copy)]
enum To {
    Next,
    L(&'static str),
}
use To::{Next, L};

/// A program being written: instructions with symbolic jumps, resolved by [`Asm::finish`].
#[derive(Debug, Default)]
struct Asm {
    code: Vec<(u16, To, To, u32)>,
    labels: HashMap<&'static str, usize>,
}

impl Asm {
    fn op(&mut self, code: u16, k: u32) {
        self.code.push((code, Next, Next, k));
    }
    fn jump(&mut self, code: u16, k: u32, jt: To, jf: To) {
        self.code.push((code, jt, jf, k));
    }
    fn label(&mut self, name: &'static str) {
        self.labels.insert(name, self.code.len());
    }
    /// `A == port` for any of `ports` → `hit`; else on to the next instruction.
    fn any_port(&mut self, ports: &[u16], hit: &'static str) {
        for &p in ports {
            self.jump(JMP | JEQ | K, u32::from(p), L(hit), Next);
        }
    }
    fn finish(self) -> Result<Vec<Insn>, String> {
        let offset = |at: usize, to: To| -> Result<u8, String> {
            let target = match to {
                Next => return Ok(0),
                L(name) => *self
                    .labels
                    .get(name)
                    .ok_or_else(|| format!("no label {name}"))?,
            };
            target
                .checked_sub(at + 1)
                .and_then(|d| u8::try_from(d).ok())
                .ok_or_else(|| format!("jump from {at} to {target} out of reach"))
        };
        self.code
            .iter()
            .enumerate()
            .map(|(i, &(code, jt, jf, k))| {
                Ok(Insn {
                    code,
                    jt: offset(i, jt)?,
                    jf: offset(i, jf)?,
                    k,
                })
            })
            .collect()
    }
}

/// The most ports one filter takes (each costs four instructions; jumps reach 255 ahead).
pub const MAX_PORTS: usize = 16;

/// The filter for `ports` on `interface`.
pub fn program(interface: Interface, ports: &[u16]) -> Result<Vec<Insn>, String> {
    if ports.is_empty() || ports.len() > MAX_PORTS {
        return Err(format!("1 to {MAX_PORTS} ports, not {}", ports.len()));
    }
    let mut a = Asm::default();
    // The interface, and the loopback's echo.
    match interface {
        Interface::Any { loopback } => {
            a.op(LD | W | ABS, AD_PKTTYPE);
            a.jump(JMP | JEQ | K, PACKET_OUTGOING, Next, L("proto"));
            a.op(LD | W | ABS, AD_IFINDEX);
            a.jump(JMP | JEQ | K, loopback, L("reject"), L("proto"));
        }
        Interface::Loopback(index) => {
            a.op(LD | W | ABS, AD_IFINDEX);
            a.jump(JMP | JEQ | K, index, Next, L("reject"));
            a.op(LD | W | ABS, AD_PKTTYPE);
            a.jump(JMP | JEQ | K, PACKET_OUTGOING, L("reject"), L("proto"));
        }
        Interface::Other(index) => {
            a.op(LD | W | ABS, AD_IFINDEX);
            a.jump(JMP | JEQ | K, index, L("proto"), L("reject"));
        }
    }
    a.label("proto");
    a.op(LD | W | ABS, AD_PROTOCOL);
    a.jump(JMP | JEQ | K, ETH_P_IP, L("ip4"), Next);
    a.jump(JMP | JEQ | K, ETH_P_IPV6, L("ip6"), L("reject"));

    // IPv4: protocol at 9, flags and fragment offset at 6, the header's length in 32-bit
    // words in the low nibble of byte 0.
    a.label("ip4");
    a.op(LD | B | ABS, 9);
    a.jump(JMP | JEQ | K, IPPROTO_UDP, L("ip4-udp"), Next);
    a.jump(JMP | JEQ | K, IPPROTO_TCP, L("ip4-first"), L("reject"));
    a.label("ip4-udp");
    a.op(LD | H | ABS, 6);
    // A later fragment of a UDP datagram: no ports in it, kept for reassembly.
    a.jump(JMP | JSET | K, 0x1fff, L("accept"), L("ip4-ports"));
    a.label("ip4-first");
    a.op(LD | H | ABS, 6);
    a.jump(JMP | JSET | K, 0x1fff, L("reject"), Next);
    a.label("ip4-ports");
    a.op(LDX | B | MSH, 0); // X = 4 * (byte 0 & 0xf): where UDP/TCP starts
    a.op(LD | H | IND, 0); // source port
    a.any_port(ports, "accept");
    a.op(LD | H | IND, 2); // destination port
    a.any_port(ports, "accept");
    a.jump(JMP | JEQ | K, 0, L("reject"), L("reject")); // either way: reject

    // IPv6: next header at 6, the fixed header 40 bytes long.
    a.label("ip6");
    a.op(LD | B | ABS, 6);
    a.jump(JMP | JEQ | K, IPPROTO_UDP, L("ip6-ports"), Next);
    a.jump(JMP | JEQ | K, IPPROTO_TCP, L("ip6-ports"), Next);
    a.jump(JMP | JEQ | K, IPV6_FRAGMENT, L("ip6-frag"), L("reject"));
    a.label("ip6-ports");
    a.op(LD | H | ABS, 40);
    a.any_port(ports, "accept");
    a.op(LD | H | ABS, 42);
    a.any_port(ports, "accept");
    a.jump(JMP | JEQ | K, 0, L("reject"), L("reject"));
    // The fragment header (8 bytes at 40): next header, reserved, offset << 3 | flags, id.
    a.label("ip6-frag");
    a.op(LD | B | ABS, 40);
    a.jump(JMP | JEQ | K, IPPROTO_UDP, Next, L("reject"));
    a.op(LD | H | ABS, 42);
    a.jump(JMP | JSET | K, 0xfff8, L("accept"), Next); // a later fragment
    a.op(LD | H | ABS, 48);
    a.any_port(ports, "accept");
    a.op(LD | H | ABS, 50);
    a.any_port(ports, "accept");

    a.label("reject");
    a.op(RET | K, 0);
    a.label("accept");
    a.op(RET | K, SNAPLEN);
    a.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_jump_is_forward_and_lands_inside() {
        for iface in [
            Interface::Any { loopback: 1 },
            Interface::Loopback(1),
            Interface::Other(7),
        ] {
            let ports: Vec<u16> = (0..MAX_PORTS as u16).map(|p| 5300 + p).collect();
            let prog = program(iface, &ports).expect("assembles");
            for (i, insn) in prog.iter().enumerate() {
                if insn.code & 0x07 == JMP {
                    assert!(i + 1 + usize::from(insn.jt.max(insn.jf)) < prog.len());
                }
            }
            assert_eq!(prog.last().map(|i| (i.code, i.k)), Some((RET | K, SNAPLEN)));
        }
        assert!(program(Interface::Other(1), &[]).is_err());
        assert!(program(Interface::Other(1), &[53; MAX_PORTS + 1]).is_err());
    }
}
