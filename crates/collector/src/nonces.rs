//! The replay cache: the nonces of accepted signed requests, per agent, kept until their
//! request could no longer pass the freshness check (docs/COLLECTOR.md "Replay"). It is
//! saved at shutdown and read back at start (`export`, `import`).
//!
//! Each agent has its own bounded set, checked only after the request's signature and the
//! agent's rate limit passed: one agent flooding signed requests fills its own set (and is
//! told 503), never the others'. A global bound is the last resort against a fleet of such
//! agents.

use std::collections::HashMap;

use logward_core::wire;

/// The answer for one nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Not seen: now remembered.
    New,
    /// Seen within the window: a replay.
    Replayed,
    /// This agent holds its cap of nonces: refused (503) until some expire.
    AgentFull,
    /// The cache holds its global cap.
    Full,
}

#[derive(Debug, Default)]
struct AgentNonces {
    /// nonce → the Unix time after which its request is stale anyway.
    seen: HashMap<String, i64>,
    /// The size at which expired entries are next swept out.
    next_purge: usize,
    /// When they last were (an agent at its cap is swept at most once a second).
    purged_at: i64,
    /// The JetStream stream sequence of the message that brought a nonce (NATS only): the
    /// same message delivered again is not a replay, another message with it is.
    origins: HashMap<String, u64>,
}

/// The nonces of every agent.
#[derive(Debug)]
pub struct Nonces {
    agents: HashMap<String, AgentNonces>,
    /// Entries over all agents.
    total: usize,
    per_agent: usize,
    max_total: usize,
    /// When agents whose sets emptied are next dropped.
    next_sweep: i64,
}

impl Nonces {
    /// At most `per_agent` nonces per agent and `max_total` in all.
    pub fn new(per_agent: usize, max_total: usize) -> Nonces {
        Nonces {
            agents: HashMap::new(),
            total: 0,
            per_agent: per_agent.max(1),
            max_total: max_total.max(1),
            next_sweep: 0,
        }
    }

    /// Checks and remembers the nonce of a request signed at `ts`, accepted at `now`. It is
    /// kept until `ts + MAX_SKEW_SECS`: exactly as long as the same request could still pass
    /// the freshness check (at most `now` + twice the window, for a clock ahead).
    pub fn check(&mut self, agent: &str, nonce: &str, ts: i64, now: i64) -> Check {
        if now >= self.next_sweep {
            self.sweep(now);
        }
        let a = self.agents.entry(agent.to_owned()).or_default();
        if a.seen.len() >= a.next_purge && now > a.purged_at {
            let before = a.seen.len();
            a.seen.retain(|_, until| *until >= now);
            let AgentNonces { seen, origins, .. } = a;
            origins.retain(|n, _| seen.contains_key(n));
            self.total -= before - a.seen.len();
            a.next_purge = (a.seen.len() * 2).max(64).min(self.per_agent);
            a.purged_at = now;
        }
        if a.seen.get(nonce).is_some_and(|until| *until >= now) {
            return Check::Replayed;
        }
        if a.seen.len() >= self.per_agent {
            return Check::AgentFull;
        }
        if self.total >= self.max_total {
            return Check::Full;
        }
        if a.seen
            .insert(nonce.to_owned(), ts + wire::MAX_SKEW_SECS)
            .is_none()
        {
            self.total += 1;
        }
        Check::New
    }

    /// [`Nonces::check`] for a message stored in a JetStream stream at sequence `seq`: the
    /// nonce of a message seen before is accepted again when it comes with the same message
    /// (a redelivery: after a collector's or the server's restart, or a retry), refused as a
    /// replay when another message carries it.
    pub fn check_message(
        &mut self,
        agent: &str,
        nonce: &str,
        ts: i64,
        now: i64,
        seq: u64,
    ) -> Check {
        let same = self
            .agents
            .get(agent)
            .and_then(|a| a.origins.get(nonce))
            .is_some_and(|s| *s == seq);
        match self.check(agent, nonce, ts, now) {
            Check::Replayed if same => Check::New,
            Check::New => {
                if let Some(a) = self.agents.get_mut(agent) {
                    a.origins.insert(nonce.to_owned(), seq);
                }
                Check::New
            }
            other => other,
        }
    }

    /// Drops expired entries everywhere, and agents left with none (once a window).
    fn sweep(&mut self, now: i64) {
        let mut total = 0;
        let per_agent = self.per_agent;
        self.agents.retain(|_, a| {
            a.seen.retain(|_, until| *until >= now);
            let AgentNonces { seen, origins, .. } = a;
            origins.retain(|n, _| seen.contains_key(n));
            a.next_purge = (a.seen.len() * 2).max(64).min(per_agent);
            total += a.seen.len();
            !a.seen.is_empty()
        });
        self.total = total;
        self.next_sweep = now + wire::MAX_SKEW_SECS;
    }

    /// The nonces still in force at `now`, one `agent \t nonce \t until` line each (saved at
    /// shutdown, so a graceful restart forgets none).
    pub fn export(&self, now: i64) -> String {
        let mut out = String::new();
        for (agent, a) in &self.agents {
            for (nonce, until) in &a.seen {
                if *until >= now {
                    out.push_str(&format!("{agent}\t{nonce}\t{until}\n"));
                }
            }
        }
        out
    }

    /// Takes back what [`Nonces::export`] wrote (expired and malformed lines are skipped,
    /// the caps still hold); returns how many were kept.
    pub fn import(&mut self, text: &str, now: i64) -> usize {
        let mut kept = 0;
        for line in text.lines() {
            let mut f = line.split('\t');
            let (Some(agent), Some(nonce), Some(Ok(until)), None) = (
                f.next(),
                f.next(),
                f.next().map(str::parse::<i64>),
                f.next(),
            ) else {
                continue;
            };
            if until < now || !wire::valid_nonce(nonce) {
                continue;
            }
            if self.check(agent, nonce, until - wire::MAX_SKEW_SECS, now) == Check::New {
                kept += 1;
            }
        }
        kept
    }

    /// Entries held for `agent` (tests and metrics).
    pub fn held(&self, agent: &str) -> usize {
        self.agents.get(agent).map_or(0, |a| a.seen.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_delivered_again_is_no_replay_but_another_with_its_nonce_is() {
        let mut n = Nonces::new(100, 1_000);
        let nonce = "00112233445566778899aabbccddeeff";
        assert_eq!(n.check_message("a", nonce, 1_000, 1_000, 7), Check::New);
        assert_eq!(n.check_message("a", nonce, 1_000, 1_001, 7), Check::New);
        assert_eq!(
            n.check_message("a", nonce, 1_000, 1_001, 8),
            Check::Replayed
        );
        assert_eq!(n.check("a", nonce, 1_000, 1_001), Check::Replayed);
        assert_eq!(n.check_message("b", nonce, 1_000, 1_001, 8), Check::New);
    }

    #[test]
    fn a_full_agent_does_not_refuse_another() {
        let mut n = Nonces::new(100, 1_000);
        for i in 0..100 {
            assert_eq!(n.check("a", &format!("{i:016x}"), 1_000, 1_000), Check::New);
        }
        assert_eq!(
            n.check("a", "ffffffffffffffff", 1_000, 1_000),
            Check::AgentFull
        );
        assert_eq!(n.check("b", "ffffffffffffffff", 1_000, 1_000), Check::New);
        assert_eq!(
            n.check("b", "ffffffffffffffff", 1_000, 1_001),
            Check::Replayed
        );
        // Past the window the agent's nonces expire and it is served again.
        let later = 1_000 + wire::MAX_SKEW_SECS + 1;
        assert_eq!(n.check("a", "eeeeeeeeeeeeeeee", later, later), Check::New);
        assert_eq!(n.held("a"), 1);
    }

    #[test]
    fn a_nonce_is_kept_while_its_timestamp_is_fresh() {
        let mut n = Nonces::new(100, 1_000);
        // Signed 200 s ahead of the collector's clock: fresh until ts + window.
        assert_eq!(n.check("a", "0000000000000001", 1_200, 1_000), Check::New);
        let end = 1_200 + wire::MAX_SKEW_SECS;
        assert_eq!(
            n.check("a", "0000000000000001", 1_200, end),
            Check::Replayed
        );
    }

    #[test]
    fn exported_nonces_come_back() {
        let mut n = Nonces::new(100, 1_000);
        n.check("a", "0000000000000001", 1_000, 1_000);
        n.check("b", "0000000000000002", 800, 1_000);
        let text = n.export(1_000);
        let mut m = Nonces::new(100, 1_000);
        assert_eq!(m.import(&text, 1_000), 2);
        assert_eq!(
            m.check("a", "0000000000000001", 1_000, 1_001),
            Check::Replayed
        );
        // Expired by the time it is read back: not kept.
        let mut late = Nonces::new(100, 1_000);
        assert_eq!(late.import(&text, 1_000 + wire::MAX_SKEW_SECS + 1), 0);
        assert_eq!(late.import("garbage\n", 1_000), 0);
    }

    #[test]
    fn the_global_cap_holds() {
        let mut n = Nonces::new(10, 15);
        for i in 0..10 {
            assert_eq!(n.check("a", &format!("{i:016x}"), 1, 1), Check::New);
        }
        for i in 0..5 {
            assert_eq!(n.check("b", &format!("{i:016x}"), 1, 1), Check::New);
        }
        assert_eq!(n.check("c", "0000000000000000", 1, 1), Check::Full);
    }
}
