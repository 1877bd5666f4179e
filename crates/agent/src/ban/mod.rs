//! Bans: the firewall side. What may be banned ([`BanTarget`]) is validated in
//! `logward_core::ban`; the firewall backend is [`nftables`].

pub mod guard;
pub mod nftables;

use std::time::Duration;

pub use logward_core::ban::{v6_mask, BanTarget, InvalidTarget, MIN_PREFIX_V4, MIN_PREFIX_V6};

/// One ban: a target and how long it lasts (`None`: until it is lifted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ban {
    pub target: BanTarget,
    pub timeout: Option<Duration>,
    /// An IPv6 address banned alone, not as its `ipv6_prefix` (the guard narrowed it:
    /// an ignored address shares the prefix).
    pub exact: bool,
}

impl Ban {
    pub fn new(target: BanTarget, timeout: Option<Duration>) -> Self {
        Self {
            target,
            timeout,
            exact: false,
        }
    }
}

/// The bans to re-apply at start-up, read from the store's rows.
#[derive(Debug, Default)]
pub struct RestoreList {
    /// Bans still running, with their remaining time.
    pub bans: Vec<Ban>,
    /// Rows whose address did not validate (never sent to the firewall).
    pub rejected: Vec<InvalidTarget>,
    /// Rows whose time had run out.
    pub expired: usize,
}

impl RestoreList {
    /// Builds the list from `(address, remaining seconds)` rows; `None` seconds is a ban
    /// without end. A row that does not validate is kept aside (reported, not applied) rather
    /// than failing the whole restore: one bad row must not leave every other address unbanned.
    pub fn from_rows<'a>(rows: impl IntoIterator<Item = (&'a str, Option<u64>)>) -> Self {
        let mut list = RestoreList::default();
        for (text, remaining) in rows {
            match (BanTarget::parse(text), remaining) {
                (Err(e), _) => list.rejected.push(e),
                (Ok(_), Some(0)) => list.expired += 1,
                (Ok(target), secs) => list
                    .bans
                    .push(Ban::new(target, secs.map(Duration::from_secs))),
            }
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_list_keeps_bad_rows_aside() {
        let rows = [
            ("192.0.2.1", Some(600)),
            ("evil }; flush ruleset", Some(600)),
            ("192.0.2.2", Some(0)),
            ("2001:db8::/48", None),
        ];
        let list = RestoreList::from_rows(rows);
        assert_eq!(list.bans.len(), 2);
        assert_eq!(list.rejected.len(), 1);
        assert_eq!(list.expired, 1);
        assert_eq!(list.bans[1].timeout, None);
    }
}
