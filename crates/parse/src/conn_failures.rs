//! Failed logins that name no peer, settled by the connection's end that does: MongoDB's old
//! text log writes `[connN] Failed to authenticate U@DB …` without an address and only
//! `[connN] end connection A:P` names it. The end of a connection that had a failure becomes
//! that failure (`user-login` failure, its user, the peer), as fail2ban counts it; the
//! failure line itself keeps no source, so a per-source count sees each connection once.
//!
//! Keyed by (host id, connection number), at most [`MAX_CONNS`] at once (all forgotten when
//! full: a flood of failures that never end cannot grow it).

use std::collections::HashMap;

use logward_core::{Action, Event, Outcome};

/// How many connections with a pending failure are remembered at once.
pub const MAX_CONNS: usize = 16_384;
/// User names longer than this are not carried over.
const MAX_USER: usize = 256;

#[derive(Debug, Default)]
pub struct ConnFailures {
    pending: HashMap<(u32, u32), (Option<String>, &'static str)>,
}

/// The connection number of a MongoDB `connN` context.
pub fn conn_number(program: Option<&str>) -> Option<u32> {
    program?.strip_prefix("conn")?.parse().ok()
}

impl ConnFailures {
    /// Looks at one line of connection `conn` on host `host_id`.
    pub fn observe(&mut self, key: (u32, u32), e: &mut Event<'_>) {
        match e.action {
            Some(Action::UserLogin)
                if e.outcome == Outcome::Failure && e.source_address.is_none() =>
            {
                if self.pending.len() >= MAX_CONNS {
                    self.pending.clear();
                }
                let user = e
                    .user_name
                    .as_deref()
                    .filter(|u| u.len() <= MAX_USER)
                    .map(str::to_owned);
                self.pending
                    .insert(key, (user, e.reason.unwrap_or("auth-failed")));
            }
            Some(Action::ConnectionClosed) if e.source_address.is_some() => {
                if let Some((user, reason)) = self.pending.remove(&key) {
                    e.action = Some(Action::UserLogin);
                    e.category = Action::UserLogin.category();
                    e.outcome = Outcome::Failure;
                    e.reason = Some(reason);
                    if e.user_name.is_none() {
                        e.user_name = user.map(Into::into);
                    }
                }
            }
            // A new connection under a number still pending: the old one is gone.
            Some(Action::ConnectionOpened) => {
                self.pending.remove(&key);
            }
            _ => {}
        }
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoders::{db::mongodb, Decoded};

    fn dec(m: &str) -> Decoded<'_> {
        Decoded::run(|e| mongodb::decode(m, e)).unwrap()
    }

    #[test]
    fn the_end_of_a_failed_connection_is_the_failure() {
        let mut c = ConnFailures::default();
        let mut f = dec("Failed to authenticate root@admin with mechanism MONGODB-CR: AuthenticationFailed key mismatch");
        c.observe((0, 7), &mut f.event);
        assert_eq!(c.len(), 1);
        let mut other = dec("end connection 192.0.2.9:1 (0 connections now open)");
        c.observe((0, 8), &mut other.event);
        assert_eq!(other.event.action(), Action::ConnectionClosed);
        let mut end = dec("end connection 192.0.2.1:53276 (0 connections now open)");
        c.observe((0, 7), &mut end.event);
        assert_eq!(end.event.action(), Action::UserLogin);
        assert_eq!(end.event.outcome, Outcome::Failure);
        assert_eq!(end.event.user_name.as_deref(), Some("root"));
        assert!(c.is_empty());
        let mut again = dec("end connection 192.0.2.1:53276 (0 connections now open)");
        c.observe((0, 7), &mut again.event);
        assert_eq!(again.event.action(), Action::ConnectionClosed);
    }

    #[test]
    fn bounded() {
        let mut c = ConnFailures::default();
        for n in 0..(MAX_CONNS as u32 + 10) {
            let mut f = dec("Failed to authenticate a@b with mechanism X: y");
            c.observe((0, n), &mut f.event);
        }
        assert!(c.len() <= MAX_CONNS);
    }
}
