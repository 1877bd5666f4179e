//! The sshd session correlator: fills in the peer that only earlier lines of the same sshd
//! process named, and settles lines whose peer is ambiguous.
//!
//! Keyed by (host name, pid) for `sshd`, `sshd-session` and `sshd-auth`. Bounded: at most
//! [`MAX_SESSIONS`] sessions, oldest first out; O(1) per line. It allocates only to remember
//! a new session's peer (and to copy a remembered peer into a line that lacks one). Host
//! names are compared as text, never resolved.
//!
//! **Ambiguous peers.** When a decoder found the peer in more than one place
//! ([`Found::ambiguous_peers`], an injection attempt in a user name or auth-info), the
//! correlator keeps the candidate this process is already known to talk to; when it knows
//! none (or none of them), it clears `source.*`: an event without a peer is better than an
//! event that blames an address the attacker chose.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

use logward_core::event::parse_ip;
use logward_core::{Action, Dataset, Event, Outcome};

use crate::conn_failures::{conn_number, ConnFailures};
#[cfg(doc)]
use crate::decoders::Found;
use crate::decoders::Peer;

/// How many sshd processes are remembered at once.
pub const MAX_SESSIONS: usize = 16_384;
/// How many distinct host names are interned; past that, all state starts over.
const MAX_HOSTS: usize = 4_096;
/// Peers longer than this are not remembered (no address or host name is that long).
const MAX_PEER: usize = 256;

/// Multiply-rotate hashing for the (host id, pid) keys: they are not attacker-chosen in a way
/// that matters (a pid and a small counter), and SipHash would dominate the per-line cost.
#[derive(Debug, Default, Clone, Copy)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

#[derive(Debug, Default)]
pub struct Correlator {
    hosts: HashMap<String, u32>,
    /// The last host looked up: lines of one input nearly always share it.
    last_host: Option<(String, u32)>,
    /// Where each remembered (host id, pid) lives in `slots`.
    index: HashMap<(u32, u32), u32, BuildHasherDefault<KeyHasher>>,
    /// The sessions, used as a ring in insertion order: once full, a new session takes the
    /// slot of the oldest (FIFO eviction, reusing its buffer). Entries leave `index` only
    /// that way or all at once.
    slots: Vec<Slot>,
    /// The slot the next new session takes once `slots` is full.
    next: usize,
    /// MongoDB connections with a failure that named no peer (`conn_failures`).
    conns: ConnFailures,
}

#[derive(Debug)]
struct Slot {
    key: (u32, u32),
    session: Session,
}

#[derive(Debug, Default)]
struct Session {
    /// Canonical `source.address`; empty while unknown.
    peer: String,
    ip: Option<IpAddr>,
    port: Option<u16>,
    /// The connection ended (a close or a pre-auth disconnect was seen): only the PAM
    /// session-close that follows may still take the peer, so a reused pid never inherits it.
    closed: bool,
    /// A probe seen before the peer was known (`kex_exchange_identification: …`); the close
    /// that names the peer becomes that probe (fail2ban's gh-3086).
    pending: Option<&'static str>,
}

fn is_sshd(program: Option<&str>) -> bool {
    matches!(program, Some("sshd" | "sshd-session" | "sshd-auth"))
}

fn clear_source(e: &mut Event<'_>) {
    e.source_address = None;
    e.source_ip = None;
    e.source_port = None;
}

/// Whether the line ends its connection. The ≥ 9.8 listener's lines about one connection
/// (`drop connection …`, `Timeout before authentication for connection from …`, a session
/// process's crash) end it too: the listener's pid serves many peers, so its next line without
/// one (`srclimit_penalise: …`) must not inherit the last.
fn ends(e: &Event<'_>) -> bool {
    match e.action {
        Some(Action::ConnectionClosed) => true,
        Some(Action::ConnectionProbe) => {
            matches!(
                e.reason,
                Some("preauth-disconnect" | "auth-timeout" | "max-startups" | "crash")
            ) || e.reason.is_some_and(|r| r.starts_with("penalty"))
        }
        _ => false,
    }
}

/// `a == b` for short texts (host names), eight bytes at a time, without a call to `memcmp`.
#[inline]
fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let (mut ca, mut cb) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut ca).zip(&mut cb) {
        if <[u8; 8]>::try_from(x).ok().map(u64::from_ne_bytes)
            != <[u8; 8]>::try_from(y).ok().map(u64::from_ne_bytes)
        {
            return false;
        }
    }
    ca.remainder()
        .iter()
        .zip(cb.remainder())
        .all(|(x, y)| x == y)
}

impl Session {
    fn knows(&self, addr: &str) -> bool {
        if self.peer.is_empty() {
            return false;
        }
        match (self.ip, parse_ip(addr)) {
            (Some(a), Some(b)) => a == b,
            _ => self.peer == addr,
        }
    }

    /// Takes the line's peer (a new one is a new connection).
    fn learn(&mut self, addr: &str, ip: Option<IpAddr>, port: Option<u16>) {
        // Both sides are canonical already: compare without parsing again.
        let same = match (self.ip, ip) {
            (Some(a), Some(b)) => a == b,
            _ => !self.peer.is_empty() && self.peer == addr,
        };
        if !same {
            // A different peer for this pid is a new connection (pid reuse): forget the old
            // one. A first peer keeps the pending probe it completes.
            if !self.peer.is_empty() {
                self.pending = None;
            }
            self.peer.clear();
            self.peer.push_str(addr);
            self.ip = ip;
            self.port = port;
        }
        self.port = port.or(self.port);
        self.closed = false;
    }

    /// A close that names the peer becomes the probe that was pending.
    fn settle_close(&mut self, e: &mut Event<'_>) {
        if e.action == Some(Action::ConnectionClosed) {
            if let Some(reason) = self.pending.take() {
                e.action = Some(Action::ConnectionProbe);
                e.category = Action::ConnectionProbe.category();
                e.outcome = Outcome::Failure;
                e.reason = Some(reason);
            }
        }
    }

    /// A probe before any peer is known: remember it for the close that names the peer.
    fn await_peer(&mut self, reason: &'static str) {
        self.peer.clear();
        self.ip = None;
        self.port = None;
        self.closed = false;
        self.pending = Some(reason);
    }

    fn end(&mut self) {
        self.closed = true;
        self.pending = None;
    }
}

impl Correlator {
    /// Looks at one decoded line of `program[pid]` on `host` (its event and the ambiguous
    /// peers its decoder reported), filling or settling its peer and remembering what it
    /// names. One session lookup per line.
    pub fn observe<'a>(
        &mut self,
        host: Option<&str>,
        program: Option<&str>,
        pid: Option<u32>,
        e: &mut Event<'a>,
        ambiguous_peers: &[Peer<'a>],
    ) {
        if e.dataset == Some(Dataset::Mongodb) {
            if let Some(conn) = conn_number(program) {
                let key = (self.host_id(host.unwrap_or("")), conn);
                self.conns.observe(key, e);
            }
            return;
        }
        let key = match pid {
            Some(pid) if is_sshd(program) => (self.host_id(host.unwrap_or("")), pid),
            _ => {
                // No session to ask: an ambiguous peer is withheld.
                if !ambiguous_peers.is_empty() {
                    clear_source(e);
                }
                return;
            }
        };

        if !ambiguous_peers.is_empty() {
            let known = self
                .get(key)
                .filter(|s| !s.closed)
                .and_then(|s| ambiguous_peers.iter().find(|(a, _)| s.knows(a)));
            match known {
                Some((addr, port)) => e.set_source(addr.clone(), *port),
                None => clear_source(e),
            }
            // Nothing is learnt from an ambiguous line.
            return;
        }

        match e.source_address.as_deref() {
            Some(addr) => {
                if addr.len() > MAX_PEER {
                    return;
                }
                let (ip, port) = (e.source_ip, e.source_port);
                let at = self.slot(key);
                if let Some(slot) = self.slots.get_mut(at) {
                    slot.session.learn(addr, ip, port);
                    slot.session.settle_close(e);
                    if ends(e) {
                        slot.session.end();
                    }
                }
            }
            None => {
                let Some(slot) = self
                    .index
                    .get(&key)
                    .and_then(|&at| self.slots.get_mut(at as usize))
                else {
                    if e.action == Some(Action::ConnectionProbe) {
                        if let Some(reason) = e.reason {
                            let at = self.slot(key);
                            if let Some(slot) = self.slots.get_mut(at) {
                                slot.session.await_peer(reason);
                            }
                        }
                    }
                    return;
                };
                let s = &mut slot.session;
                if !s.peer.is_empty() && (!s.closed || e.action == Some(Action::UserLogout)) {
                    e.source_address = Some(s.peer.clone().into());
                    e.source_ip = s.ip;
                    e.source_port = s.port;
                } else if e.action == Some(Action::ConnectionProbe) {
                    if let Some(reason) = e.reason {
                        s.await_peer(reason);
                    }
                    return;
                }
                if ends(e) {
                    s.end();
                }
            }
        }
    }

    fn host_id(&mut self, host: &str) -> u32 {
        if let Some((h, id)) = &self.last_host {
            if same_text(h, host) {
                return *id;
            }
        }
        let id = self.intern(host);
        match &mut self.last_host {
            Some((h, i)) => {
                h.clear();
                h.push_str(host);
                *i = id;
            }
            None => self.last_host = Some((host.to_owned(), id)),
        }
        id
    }

    fn intern(&mut self, host: &str) -> u32 {
        if let Some(&id) = self.hosts.get(host) {
            return id;
        }
        if self.hosts.len() >= MAX_HOSTS {
            self.last_host = None;
            self.hosts.clear();
            self.index.clear();
            self.slots.clear();
            self.conns = ConnFailures::default();
            self.next = 0;
        }
        let id = u32::try_from(self.hosts.len()).unwrap_or(u32::MAX);
        self.hosts.insert(host.to_owned(), id);
        id
    }

    fn get(&self, key: (u32, u32)) -> Option<&Session> {
        let &at = self.index.get(&key)?;
        self.slots.get(at as usize).map(|s| &s.session)
    }

    /// The slot of `key`'s session, made (fresh) if there is none: the next free slot, or
    /// the oldest session's once all [`MAX_SESSIONS`] are taken.
    fn slot(&mut self, key: (u32, u32)) -> usize {
        if let Some(&at) = self.index.get(&key) {
            return at as usize;
        }
        let at = if self.slots.len() < MAX_SESSIONS {
            self.slots.push(Slot {
                key,
                session: Session::default(),
            });
            self.slots.len() - 1
        } else {
            let at = self.next % MAX_SESSIONS;
            self.next = at + 1;
            if let Some(slot) = self.slots.get_mut(at) {
                self.index.remove(&slot.key);
                slot.key = key;
                let s = &mut slot.session;
                s.peer.clear();
                s.ip = None;
                s.port = None;
                s.closed = false;
                s.pending = None;
            }
            at
        };
        // `at` < MAX_SESSIONS, which fits.
        self.index.insert(key, at as u32);
        at
    }

    /// How many sessions are remembered (for tests and metrics).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::{self, Decoded};
    use std::borrow::Cow;

    fn dec(msg: &str) -> Decoded<'_> {
        Decoded::run(|e| decoders::decode("sshd", msg, e)).unwrap_or_else(|| panic!("{msg}"))
    }

    fn observe<'a>(
        c: &mut Correlator,
        host: &str,
        program: &str,
        pid: Option<u32>,
        d: &mut Decoded<'a>,
    ) {
        c.observe(
            Some(host),
            Some(program),
            pid,
            &mut d.event,
            &d.ambiguous_peers,
        );
    }

    fn run<'a>(c: &mut Correlator, pid: u32, msg: &'a str) -> Decoded<'a> {
        let mut d = dec(msg);
        observe(c, "h", "sshd", Some(pid), &mut d);
        d
    }

    fn src<'a>(d: &'a Decoded<'_>) -> Option<&'a str> {
        d.event.source_address.as_deref()
    }

    #[test]
    fn fills_the_peer_from_earlier_lines() {
        let mut c = Correlator::default();
        run(
            &mut c,
            1,
            "Connection from 192.0.2.123 port 38980 on 192.168.1.95 port 22",
        );
        let d = run(
            &mut c,
            1,
            "fatal: Unable to negotiate a key exchange method [preauth]",
        );
        assert_eq!(src(&d), Some("192.0.2.123"));
        assert_eq!(d.event.source_port, Some(38980));
        let d = run(
            &mut c,
            2,
            "Disconnecting: Too many authentication failures for root [preauth]",
        );
        assert_eq!(src(&d), None, "another pid knows nothing");
        let mut d = dec("Disconnecting: Too many authentication failures [preauth]");
        observe(&mut c, "other", "sshd", Some(1), &mut d);
        assert_eq!(src(&d), None, "another host knows nothing");
    }

    #[test]
    fn listener_lines_do_not_lend_their_peer() {
        let mut c = Correlator::default();
        for line in [
            "drop connection #3 from [192.0.2.7]:4 on [198.51.100.1]:22 penalty: failed authentication",
            "Timeout before authentication for connection from 192.0.2.8 to 198.51.100.1, pid = 4242",
            "session process 4242 for connection from 192.0.2.9 to 198.51.100.1 killed by signal 11",
            "drop connection #10 from [192.0.2.10]:3 on [198.51.100.1]:22 past MaxStartups",
        ] {
            assert!(src(&run(&mut c, 1, line)).is_some(), "{line}");
            let d = run(
                &mut c,
                1,
                "srclimit_penalise: ipv4: new 192.0.2.0/24 active penalty of 30.000 seconds for penalty: failed authentication",
            );
            assert_eq!(src(&d), None, "after {line}");
        }
    }

    #[test]
    fn ambiguous_peer_is_settled_by_the_session_or_withheld() {
        let line = "Failed password for invalid user test from 127.0.0.49 port 23856 ssh2: from 10.10.1.86 port 50119 ssh2";
        let mut c = Correlator::default();
        let d = run(&mut c, 7, line);
        assert_eq!(src(&d), None, "no session knowledge: never a guessed peer");
        run(
            &mut c,
            8,
            "Failed password for root from 10.10.1.86 port 1 ssh2",
        );
        let d = run(&mut c, 8, line);
        assert_eq!(src(&d), Some("10.10.1.86"));
        assert_eq!(d.event.source_port, Some(50119));
        run(
            &mut c,
            9,
            "Connection from ::ffff:127.0.0.49 port 5 on 1.1.1.49 port 22",
        );
        let d = run(&mut c, 9, line);
        assert_eq!(src(&d), Some("127.0.0.49"));
        // Non-sshd programs have no sessions.
        let m = "pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=x ruser= rhost=192.0.2.86 user=test rhost=192.0.2.136";
        let mut d = Decoded::run(|e| decoders::decode("daemon", m, e)).unwrap();
        assert_eq!(d.ambiguous_peers.len(), 2);
        observe(&mut c, "h", "daemon", None, &mut d);
        assert_eq!(src(&d), None);
    }

    #[test]
    fn ambiguous_line_teaches_nothing() {
        let mut c = Correlator::default();
        run(
            &mut c,
            3,
            "Failed password for x from 6.6.6.234 port 1 ssh2: from 7.7.7.21 port 2 ssh2",
        );
        let d = run(
            &mut c,
            3,
            "Disconnecting: Too many authentication failures [preauth]",
        );
        assert_eq!(src(&d), None);
    }

    #[test]
    fn closed_sessions_only_lend_to_the_session_close() {
        let mut c = Correlator::default();
        run(
            &mut c,
            4,
            "Accepted password for bob from 192.0.2.95 port 5 ssh2",
        );
        run(
            &mut c,
            4,
            "Received disconnect from 192.0.2.95 port 5:11: disconnected by user",
        );
        let mut d = dec("pam_unix(sshd:session): session closed for user bob");
        observe(&mut c, "h", "sshd", Some(4), &mut d);
        assert_eq!(src(&d), Some("192.0.2.95"));
        // pid reused by a scanner: no stale peer.
        let d = run(
            &mut c,
            4,
            "error: kex_exchange_identification: Connection closed by remote host",
        );
        assert_eq!(src(&d), None);
        // … and the close that names it becomes the probe.
        let d = run(&mut c, 4, "Connection closed by 192.0.2.67 port 58698");
        assert_eq!(d.event.action(), Action::ConnectionProbe);
        assert_eq!(d.event.outcome, Outcome::Failure);
        assert_eq!(d.event.reason, Some("no-identification"));
        assert_eq!(src(&d), Some("192.0.2.67"));
    }

    #[test]
    fn hosts_are_bounded_and_kept_apart() {
        let mut c = Correlator::default();
        let mut name = String::new();
        for i in 0..(MAX_HOSTS + 10) {
            name.clear();
            name.push_str(&format!("h{i}"));
            let mut d = Decoded::from(Event::default());
            d.event.set_source(Cow::Borrowed("192.0.2.1"), None);
            observe(&mut c, &name, "sshd", Some(1), &mut d);
        }
        assert!(c.hosts.len() <= MAX_HOSTS);
        // A host seen before the reset must not inherit another host's session.
        let mut d = Decoded::from(Event::new(
            logward_core::Dataset::Sshd,
            Action::ConnectionProbe,
            Outcome::Failure,
        ));
        observe(&mut c, "h0", "sshd", Some(1), &mut d);
        assert_eq!(src(&d), None);
    }

    #[test]
    fn memory_is_bounded() {
        let mut c = Correlator::default();
        let mut line = String::new();
        for pid in 0..(MAX_SESSIONS as u32 + 100) {
            line.clear();
            line.push_str("Connection from 192.0.2.49 port 1");
            let mut d = Decoded::from(Event::default());
            d.event.set_source(Cow::Borrowed("192.0.2.49"), Some(1));
            observe(&mut c, "h", "sshd", Some(pid), &mut d);
        }
        assert_eq!(c.len(), MAX_SESSIONS);
        assert_eq!(c.slots.len(), MAX_SESSIONS);
        // The oldest went first.
        let mut d = Decoded::from(Event::new(
            logward_core::Dataset::Sshd,
            Action::ConnectionProbe,
            Outcome::Failure,
        ));
        observe(&mut c, "h", "sshd", Some(0), &mut d);
        assert_eq!(src(&d), None);
        let mut d = Decoded::from(Event::new(
            logward_core::Dataset::Sshd,
            Action::ConnectionProbe,
            Outcome::Failure,
        ));
        observe(&mut c, "h", "sshd", Some(MAX_SESSIONS as u32 + 99), &mut d);
        assert_eq!(src(&d), Some("192.0.2.49"));
    }
}
