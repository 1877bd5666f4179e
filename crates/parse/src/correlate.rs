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

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

use logward_core::event::parse_ip;
use logward_core::{Action, Event, Outcome};

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
    sessions: HashMap<(u32, u32), Session, BuildHasherDefault<KeyHasher>>,
    /// Insertion order, for FIFO eviction. Entries leave `sessions` only through it.
    order: VecDeque<(u32, u32)>,
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
}

impl Correlator {
    /// Looks at one decoded line of `program[pid]` on `host` (its event and the ambiguous
    /// peers its decoder reported), filling or settling its peer and remembering what it
    /// names.
    pub fn observe<'a>(
        &mut self,
        host: Option<&str>,
        program: Option<&str>,
        pid: Option<u32>,
        e: &mut Event<'a>,
        ambiguous_peers: &[Peer<'a>],
    ) {
        let key = match pid {
            Some(pid) if is_sshd(program) => Some((self.host_id(host.unwrap_or("")), pid)),
            _ => None,
        };
        let Some(key) = key else {
            // No session to ask: an ambiguous peer is withheld.
            if !ambiguous_peers.is_empty() {
                clear_source(e);
            }
            return;
        };

        if !ambiguous_peers.is_empty() {
            let known = self
                .sessions
                .get(&key)
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
                let session = self.session(key);
                // Both sides are canonical already: compare without parsing again.
                let same = match (session.ip, e.source_ip) {
                    (Some(a), Some(b)) => a == b,
                    _ => !session.peer.is_empty() && session.peer == addr,
                };
                if !same {
                    // A different peer for this pid is a new connection (pid reuse): forget
                    // the old one. A first peer keeps the pending probe it completes.
                    if !session.peer.is_empty() {
                        session.pending = None;
                    }
                    session.peer.clear();
                    session.peer.push_str(addr);
                    session.ip = e.source_ip;
                    session.port = e.source_port;
                }
                session.port = e.source_port.or(session.port);
                session.closed = false;
                if e.action == Some(Action::ConnectionClosed) {
                    if let Some(reason) = session.pending.take() {
                        e.action = Some(Action::ConnectionProbe);
                        e.category = Action::ConnectionProbe.category();
                        e.outcome = Outcome::Failure;
                        e.reason = Some(reason);
                    }
                }
            }
            None => {
                let known = self.sessions.get(&key).filter(|s| {
                    !s.peer.is_empty() && (!s.closed || e.action == Some(Action::UserLogout))
                });
                if let Some(s) = known {
                    e.source_address = Some(s.peer.clone().into());
                    e.source_ip = s.ip;
                    e.source_port = s.port;
                } else if e.action == Some(Action::ConnectionProbe) {
                    if let Some(reason) = e.reason {
                        let session = self.session(key);
                        session.peer.clear();
                        session.ip = None;
                        session.port = None;
                        session.closed = false;
                        session.pending = Some(reason);
                    }
                    return;
                }
            }
        }
        let ends = match e.action {
            Some(Action::ConnectionClosed) => true,
            Some(Action::ConnectionProbe) => e.reason == Some("preauth-disconnect"),
            _ => false,
        };
        if ends {
            if let Some(s) = self.sessions.get_mut(&key) {
                s.closed = true;
                s.pending = None;
            }
        }
    }

    fn host_id(&mut self, host: &str) -> u32 {
        if let Some((h, id)) = &self.last_host {
            if h == host {
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
            self.sessions.clear();
            self.order.clear();
        }
        let id = u32::try_from(self.hosts.len()).unwrap_or(u32::MAX);
        self.hosts.insert(host.to_owned(), id);
        id
    }

    fn session(&mut self, key: (u32, u32)) -> &mut Session {
        if !self.sessions.contains_key(&key) {
            while self.sessions.len() >= MAX_SESSIONS {
                match self.order.pop_front() {
                    Some(old) => {
                        self.sessions.remove(&old);
                    }
                    None => break,
                }
            }
            self.order.push_back(key);
        }
        self.sessions.entry(key).or_default()
    }

    /// How many sessions are remembered (for tests and metrics).
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
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
        assert_eq!(c.order.len(), MAX_SESSIONS);
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
