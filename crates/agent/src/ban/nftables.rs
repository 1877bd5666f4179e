//! Bans with nftables: one executor owns one table and applies bans and unbans in batches.
//!
//! # The table
//!
//! ```text
//! table inet logward {
//!     set ipv4_addr { type ipv4_addr; flags timeout; }            # single IPv4 addresses
//!     set ipv6_addr { type ipv6_addr; flags timeout; }            # IPv6 addresses, or their /64
//!     set ipv4_net  { type ipv4_addr; flags interval, timeout; }  # IPv4 networks (CIDR bans)
//!     set ipv6_net  { type ipv6_addr; flags interval, timeout; }  # IPv6 networks wider than /64
//!     set ipv6_host { type ipv6_addr; flags timeout; }            # IPv6 addresses banned alone
//!     chain input {
//!         type filter hook input priority -10; policy accept;
//!         ip saddr @ipv4_addr counter drop
//!         ip saddr @ipv4_net counter drop
//!         ip6 saddr & ffff:ffff:ffff:ffff:: @ipv6_addr counter drop
//!         ip6 saddr @ipv6_net counter drop
//!         ip6 saddr @ipv6_host counter drop
//!     }
//! }
//! ```
//!
//! Addresses live in hash sets, networks in interval sets. Measured with nft 1.0.6: nft reads
//! back every element of an interval set before it changes a table, so with 100 k addresses in
//! an interval set, loading them took 1.7 s and every later one-address ban 2.9 s; in a hash set
//! the load takes 0.45 s and a later ban a few milliseconds, whatever the set's size. IPv6
//! prefix aggregation therefore needs no interval set either: the rule masks the source
//! address to the configured prefix (/64 by default) and looks the result up in `ipv6_addr`,
//! whose elements are the masked network addresses. With aggregation off (prefix 128) the rule
//! has no mask and the set holds whole addresses. Network bans (manual, rare) use the
//! interval sets; a network narrower than the aggregation prefix is widened to it. An IPv6
//! address whose prefix holds an ignored address is banned alone ([`Ban::exact`], the
//! `ipv6_host` hash set, matched without the mask; see `ban/guard.rs`).
//!
//! # Set-up: atomic replace
//!
//! [`Nftables::start`] sends, in one `nft -f -` transaction, `add table` (so the next line
//! cannot fail), `delete table`, the whole table, and the bans to re-apply with their remaining
//! time. nft applies a script atomically, so the kernel goes from the old table to the new one
//! in one step: no duplicated rules however often the daemon restarts, a changed priority or
//! aggregation prefix takes effect, elements left behind by a crash or a hand edit are gone,
//! and there is no instant when a banned address is let through. The state store, not the
//! kernel, is the record of who is banned. (`add`-ing each object and flushing the chain would
//! keep stale elements and fail on a changed set or hook definition.)
//!
//! # Batches
//!
//! Every change is one `nft -f -` run with the script on stdin: one transaction, all of it or
//! none, and nft's exit status and stderr belong to that batch alone. A long-lived `nft -i`
//! was rejected: it commits line by line (a batch would not be atomic), its error output is not
//! framed per command, and when it dies mid-stream the state is unknown; one process per batch
//! costs a few milliseconds, which batching amortises. Each statement lists many elements
//! (`add element inet logward ipv4_addr { a timeout 600s, b timeout 600s, … }`), one element
//! per line so an error message quotes one line, not a megabyte.
//!
//! A ban sets the element's timeout to exactly the requested time even when the element is
//! already there (`add` with a placeholder timeout — a no-op when present — then `delete`,
//! then `add` with the real timeout: nft 1.0.6 has no `destroy`). An unban is `add` then
//! `delete`, so lifting a ban that has already expired is not an error. Timeouts are whole
//! seconds, at least 1, at most [`MAX_TIMEOUT`] (the kernel refuses longer ones).
//!
//! [`BanExecutor`] is the long-lived owner: a task that takes ban and unban requests from a
//! channel and folds all that are waiting into one script. If a folded batch fails, each
//! request is retried on its own, so one bad request (a network overlapping a banned one) does
//! not fail the others, and each caller learns its own outcome.
//!
//! # Failures are never silent
//!
//! Every failure is an [`NftError`] carrying nft's stderr; the executor logs it at ERROR and
//! counts it ([`Stats`]). The caller (the daemon's action runner) turns it into a `ban-failed`
//! alert for the targets of the failed request and a metric; it keeps the ban in the store so
//! the next start re-applies it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::{v6_mask, Ban, BanTarget};
use crate::process::{self, ProcessError};

/// The longest element timeout nft accepts here; longer bans are cut to it (the daemon
/// re-applies the remaining time at its next start).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// Longest stderr kept in an error.
const STDERR_MAX: usize = 4096;

/// The executor's settings.
#[derive(Debug, Clone)]
pub struct NftConfig {
    /// How to run nft, before `-f -`: `["nft"]` by default; a test puts
    /// `["ip", "netns", "exec", NS, "nft"]` here.
    pub argv: Vec<String>,
    /// The table (family `inet`) the executor owns, all of it.
    pub table: String,
    /// The input-hook chain's name.
    pub chain: String,
    /// The chain's priority; `filter` is 0, so -10 runs before a distribution's own filter
    /// chains.
    pub priority: i32,
    /// IPv6 bans cover this prefix around the address (64 by default; 128 turns it off).
    pub ipv6_prefix: u8,
    /// How long one nft run may take before it is killed.
    pub timeout: Duration,
    /// Drop only TCP to these destination ports (`bans.ports`); empty: all traffic.
    pub ports: Vec<u16>,
}

impl Default for NftConfig {
    fn default() -> Self {
        Self {
            argv: vec!["nft".to_owned()],
            table: "logward".to_owned(),
            chain: "input".to_owned(),
            priority: -10,
            ipv6_prefix: 64,
            timeout: Duration::from_secs(30),
            ports: Vec::new(),
        }
    }
}

/// Why nft did not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NftError {
    /// The configuration cannot be used (checked before anything runs).
    #[error("nftables config: {0}")]
    Config(String),
    /// nft could not be run (missing, not executable, timed out).
    #[error("running nft: {0}")]
    Process(#[from] ProcessError),
    /// nft ran and refused the batch; nothing of it was applied.
    #[error("nft failed ({status}) on a batch of {elements} elements: {stderr}")]
    Failed {
        status: String,
        stderr: String,
        elements: usize,
    },
    /// The executor task has stopped.
    #[error("the ban executor has stopped")]
    Stopped,
}

/// Counters for metrics.
#[derive(Debug, Default)]
pub struct Stats {
    /// nft runs that succeeded.
    pub batches_ok: AtomicU64,
    /// nft runs that failed (each is also an ERROR log line).
    pub batches_failed: AtomicU64,
    /// Elements sent in successful runs.
    pub elements_applied: AtomicU64,
}

/// Which set an element goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SetName {
    Ipv4Addr,
    Ipv6Addr,
    Ipv4Net,
    Ipv6Net,
    Ipv6Host,
}

impl SetName {
    const ALL: [SetName; 5] = [
        SetName::Ipv4Addr,
        SetName::Ipv6Addr,
        SetName::Ipv4Net,
        SetName::Ipv6Net,
        SetName::Ipv6Host,
    ];

    fn as_str(self) -> &'static str {
        match self {
            SetName::Ipv4Addr => "ipv4_addr",
            SetName::Ipv6Addr => "ipv6_addr",
            SetName::Ipv4Net => "ipv4_net",
            SetName::Ipv6Net => "ipv6_net",
            SetName::Ipv6Host => "ipv6_host",
        }
    }

    fn is_interval(self) -> bool {
        matches!(self, SetName::Ipv4Net | SetName::Ipv6Net)
    }
}

/// Elements of one change, per set, deduplicated: target → timeout in seconds (None: none).
type Elements = BTreeMap<SetName, BTreeMap<BanTarget, Option<u64>>>;

/// The nftables backend: renders scripts for one table and runs them.
#[derive(Debug)]
pub struct Nftables {
    cfg: NftConfig,
    stats: Stats,
}

impl Nftables {
    /// Checks the configuration; runs nothing.
    pub fn new(cfg: NftConfig) -> Result<Self, NftError> {
        if cfg.argv.is_empty() {
            return Err(NftError::Config("argv is empty".into()));
        }
        for (what, name) in [("table", &cfg.table), ("chain", &cfg.chain)] {
            if !is_identifier(name) {
                return Err(NftError::Config(format!(
                    "{what} name {name:?} must be 1-32 ASCII letters, digits or '_', \
                     starting with a letter"
                )));
            }
        }
        if !(super::MIN_PREFIX_V6..=128).contains(&cfg.ipv6_prefix) {
            return Err(NftError::Config(format!(
                "ipv6_prefix {} is outside {}..=128",
                cfg.ipv6_prefix,
                super::MIN_PREFIX_V6
            )));
        }
        if cfg.ports.contains(&0) {
            return Err(NftError::Config("port 0 cannot be matched".into()));
        }
        if !(-1000..=1000).contains(&cfg.priority) {
            return Err(NftError::Config(format!(
                "priority {} is outside -1000..=1000",
                cfg.priority
            )));
        }
        Ok(Self {
            cfg,
            stats: Stats::default(),
        })
    }

    pub fn config(&self) -> &NftConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// (Re)creates the table and applies `bans` (the store's bans with their remaining time),
    /// all in one atomic transaction. Returns the number of elements sent.
    pub async fn start(&self, bans: &[Ban]) -> Result<usize, NftError> {
        let mut script = String::new();
        self.write_setup(&mut script);
        let elements = self.elements(bans.iter().map(|b| (b.target, b.timeout, b.exact)));
        let n = count(&elements);
        self.write_elements(&mut script, "add", &elements, ElementTimeout::Given);
        self.run(&script, n).await?;
        Ok(n)
    }

    /// Bans `bans`, setting each element's timeout to exactly the one given.
    pub async fn ban(&self, bans: &[Ban]) -> Result<(), NftError> {
        let mut script = String::new();
        let n = self.write_ban(&mut script, bans);
        self.run(&script, n).await
    }

    /// Lifts the bans on `targets` (an IPv6 address lifts its aggregated prefix); lifting one
    /// that is not there is not an error.
    pub async fn unban(&self, targets: &[BanTarget]) -> Result<(), NftError> {
        let mut script = String::new();
        let n = self.write_unban(&mut script, targets);
        self.run(&script, n).await
    }

    fn write_setup(&self, s: &mut String) {
        let t = &self.cfg.table;
        let c = &self.cfg.chain;
        // Writing to a String cannot fail; the results are ignored on purpose.
        let _ = writeln!(s, "add table inet {t}");
        let _ = writeln!(s, "delete table inet {t}");
        let _ = writeln!(s, "add table inet {t}");
        for set in SetName::ALL {
            let ty = match set {
                SetName::Ipv4Addr | SetName::Ipv4Net => "ipv4_addr",
                SetName::Ipv6Addr | SetName::Ipv6Net | SetName::Ipv6Host => "ipv6_addr",
            };
            let flags = if set.is_interval() {
                "interval, timeout"
            } else {
                "timeout"
            };
            let _ = writeln!(
                s,
                "add set inet {t} {} {{ type {ty}; flags {flags}; }}",
                set.as_str()
            );
        }
        let _ = writeln!(
            s,
            "add chain inet {t} {c} {{ type filter hook input priority {}; policy accept; }}",
            self.cfg.priority
        );
        // All traffic from a banned source, or only TCP to the configured ports.
        let ports = if self.cfg.ports.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = self.cfg.ports.iter().map(u16::to_string).collect();
            format!(" tcp dport {{ {} }}", list.join(", "))
        };
        let _ = writeln!(
            s,
            "add rule inet {t} {c} ip saddr @ipv4_addr{ports} counter drop"
        );
        let _ = writeln!(
            s,
            "add rule inet {t} {c} ip saddr @ipv4_net{ports} counter drop"
        );
        if self.cfg.ipv6_prefix < 128 {
            let _ = writeln!(
                s,
                "add rule inet {t} {c} ip6 saddr & {} @ipv6_addr{ports} counter drop",
                v6_mask(self.cfg.ipv6_prefix)
            );
        } else {
            let _ = writeln!(
                s,
                "add rule inet {t} {c} ip6 saddr @ipv6_addr{ports} counter drop"
            );
        }
        let _ = writeln!(
            s,
            "add rule inet {t} {c} ip6 saddr @ipv6_net{ports} counter drop"
        );
        let _ = writeln!(
            s,
            "add rule inet {t} {c} ip6 saddr @ipv6_host{ports} counter drop"
        );
    }

    fn write_ban(&self, s: &mut String, bans: &[Ban]) -> usize {
        let elements = self.elements(bans.iter().map(|b| (b.target, b.timeout, b.exact)));
        // Ensure present (no-op when it is), delete, add with the wanted timeout.
        self.write_elements(s, "add", &elements, ElementTimeout::Placeholder);
        self.write_elements(s, "delete", &elements, ElementTimeout::None);
        self.write_elements(s, "add", &elements, ElementTimeout::Given);
        count(&elements)
    }

    fn write_unban(&self, s: &mut String, targets: &[BanTarget]) -> usize {
        // An IPv6 address may have been banned alone (narrowed) or as its prefix: lift both.
        let exact = targets
            .iter()
            .filter(|t| t.addr().is_ipv6() && t.is_host() && self.cfg.ipv6_prefix < 128)
            .map(|t| (*t, None, true));
        let elements = self.elements(targets.iter().map(|t| (*t, None, false)).chain(exact));
        self.write_elements(s, "add", &elements, ElementTimeout::Placeholder);
        self.write_elements(s, "delete", &elements, ElementTimeout::None);
        count(&elements)
    }

    /// Sorts targets into sets (aggregating IPv6), merges duplicates keeping the longest
    /// timeout, and drops networks inside another network of the same change (nft refuses
    /// overlapping intervals), giving the outer one the longest timeout of the two.
    fn elements(
        &self,
        items: impl Iterator<Item = (BanTarget, Option<Duration>, bool)>,
    ) -> Elements {
        let agg = self.cfg.ipv6_prefix;
        let mut out = Elements::new();
        for (target, timeout, exact) in items {
            let (set, target) = match target.addr() {
                IpAddr::V4(_) if target.is_host() => (SetName::Ipv4Addr, target),
                IpAddr::V4(_) => (SetName::Ipv4Net, target),
                IpAddr::V6(_) if exact && target.is_host() && agg < 128 => {
                    (SetName::Ipv6Host, target)
                }
                IpAddr::V6(_) if target.prefix() >= agg => {
                    (SetName::Ipv6Addr, target.widened_to(agg))
                }
                IpAddr::V6(_) => (SetName::Ipv6Net, target),
            };
            let secs = timeout.map(timeout_secs);
            out.entry(set)
                .or_default()
                .entry(target)
                .and_modify(|t| *t = longer(*t, secs))
                .or_insert(secs);
        }
        for set in [SetName::Ipv4Net, SetName::Ipv6Net] {
            if let Some(nets) = out.get_mut(&set) {
                // BanTarget orders by address then prefix, so an outer network comes before
                // the ones inside it, and networks either nest or are disjoint: comparing with
                // the last kept one is enough.
                let mut kept: Vec<(BanTarget, Option<u64>)> = Vec::with_capacity(nets.len());
                for (target, secs) in std::mem::take(nets) {
                    match kept.last_mut() {
                        Some((outer, t)) if outer.contains(&target) => *t = longer(*t, secs),
                        _ => kept.push((target, secs)),
                    }
                }
                *nets = kept.into_iter().collect();
            }
        }
        out
    }

    fn write_elements(&self, s: &mut String, verb: &str, elements: &Elements, t: ElementTimeout) {
        let table = &self.cfg.table;
        for (set, items) in elements {
            if items.is_empty() {
                continue;
            }
            let _ = writeln!(s, "{verb} element inet {table} {} {{", set.as_str());
            let last = items.len() - 1;
            for (i, (target, secs)) in items.iter().enumerate() {
                // The element is rendered from the parsed address: nothing of the original
                // text reaches nft.
                let _ = match *set {
                    SetName::Ipv6Addr if !target.is_host() => write!(s, "{}", target.addr()),
                    _ => write!(s, "{target}"),
                };
                match (t, secs) {
                    (ElementTimeout::Given, Some(secs)) => {
                        let _ = write!(s, " timeout {secs}s");
                    }
                    (ElementTimeout::Placeholder, _) => s.push_str(" timeout 1s"),
                    _ => {}
                }
                s.push_str(if i == last { "\n" } else { ",\n" });
            }
            s.push_str("}\n");
        }
    }

    async fn run(&self, script: &str, elements: usize) -> Result<(), NftError> {
        let mut argv = self.cfg.argv.clone();
        argv.extend(["-f".to_owned(), "-".to_owned()]);
        let result = match process::run(&argv, script.as_bytes(), self.cfg.timeout).await {
            Err(e) => Err(NftError::Process(e)),
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(NftError::Failed {
                status: out.status.to_string(),
                stderr: out.stderr_text(STDERR_MAX),
                elements,
            }),
        };
        match &result {
            Ok(()) => {
                self.stats.batches_ok.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .elements_applied
                    .fetch_add(elements as u64, Ordering::Relaxed);
                tracing::debug!(table = %self.cfg.table, elements, "nft batch applied");
            }
            Err(e) => {
                self.stats.batches_failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(table = %self.cfg.table, elements, error = %e, "nft batch failed");
            }
        }
        result
    }
}

#[derive(Debug, Clone, Copy)]
enum ElementTimeout {
    /// The element's own timeout (none for a ban without end).
    Given,
    /// `timeout 1s`: for the `add` that only makes sure the element exists.
    Placeholder,
    /// No timeout (`delete`).
    None,
}

fn timeout_secs(d: Duration) -> u64 {
    let d = d.min(MAX_TIMEOUT);
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// The longer of two timeouts; `None` (no end) is the longest.
fn longer(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    Option::zip(a, b).map(|(a, b)| a.max(b))
}

fn count(e: &Elements) -> usize {
    e.values().map(BTreeMap::len).sum()
}

fn is_identifier(name: &str) -> bool {
    let b = name.as_bytes();
    (1..=32).contains(&b.len())
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

enum Op {
    Ban(Vec<Ban>),
    Unban(Vec<BanTarget>),
}

impl Op {
    fn len(&self) -> usize {
        match self {
            Op::Ban(b) => b.len(),
            Op::Unban(t) => t.len(),
        }
    }
}

struct Request {
    op: Op,
    reply: oneshot::Sender<Result<(), NftError>>,
}

/// The long-lived owner of the table: a handle to a task that folds waiting ban and unban
/// requests into one nft batch. Cloning the handle shares the task.
#[derive(Debug, Clone)]
pub struct BanExecutor {
    tx: mpsc::Sender<Request>,
    nft: Arc<Nftables>,
}

impl BanExecutor {
    /// Starts the task. At most `max_batch` elements are folded into one script (a single
    /// larger request is still sent whole). Call [`Nftables::start`] first.
    pub fn spawn(nft: Arc<Nftables>, max_batch: usize) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(1024);
        let task = tokio::spawn(executor_loop(Arc::clone(&nft), rx, max_batch.max(1)));
        (Self { tx, nft }, task)
    }

    pub fn nftables(&self) -> &Nftables {
        &self.nft
    }

    /// Bans `bans`; resolves when the batch holding them has been applied or has failed.
    pub async fn ban(&self, bans: Vec<Ban>) -> Result<(), NftError> {
        self.request(Op::Ban(bans)).await
    }

    /// Lifts the bans on `targets`.
    pub async fn unban(&self, targets: Vec<BanTarget>) -> Result<(), NftError> {
        self.request(Op::Unban(targets)).await
    }

    async fn request(&self, op: Op) -> Result<(), NftError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request { op, reply })
            .await
            .map_err(|_| NftError::Stopped)?;
        rx.await.map_err(|_| NftError::Stopped)?
    }
}

async fn executor_loop(nft: Arc<Nftables>, mut rx: mpsc::Receiver<Request>, max_batch: usize) {
    while let Some(first) = rx.recv().await {
        let mut size = first.op.len();
        let mut batch = vec![first];
        while size < max_batch {
            match rx.try_recv() {
                Ok(req) => {
                    size += req.op.len();
                    batch.push(req);
                }
                Err(_) => break,
            }
        }
        let mut script = String::new();
        let mut elements = 0;
        for req in &batch {
            elements += write_op(&nft, &mut script, &req.op);
        }
        match nft.run(&script, elements).await {
            Ok(()) => {
                for req in batch {
                    // A caller that stopped waiting does not care about the answer.
                    let _ = req.reply.send(Ok(()));
                }
            }
            Err(e) if batch.len() == 1 => {
                for req in batch {
                    let _ = req.reply.send(Err(e.clone()));
                }
            }
            Err(_) => {
                // Find out whose request failed: each on its own.
                for req in batch {
                    let mut script = String::new();
                    let n = write_op(&nft, &mut script, &req.op);
                    let _ = req.reply.send(nft.run(&script, n).await);
                }
            }
        }
    }
}

fn write_op(nft: &Nftables, script: &mut String, op: &Op) -> usize {
    match op {
        Op::Ban(bans) => nft.write_ban(script, bans),
        Op::Unban(targets) => nft.write_unban(script, targets),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nft(prefix: u8) -> Nftables {
        Nftables::new(NftConfig {
            ipv6_prefix: prefix,
            ..NftConfig::default()
        })
        .unwrap()
    }

    fn ban(text: &str, secs: Option<u64>) -> Ban {
        Ban::new(
            BanTarget::parse(text).unwrap(),
            secs.map(Duration::from_secs),
        )
    }

    #[test]
    fn setup_replaces_the_table_atomically() {
        let mut s = String::new();
        nft(64).write_setup(&mut s);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(
            &lines[..3],
            [
                "add table inet logward",
                "delete table inet logward",
                "add table inet logward"
            ]
        );
        assert!(s.contains("add set inet logward ipv4_addr { type ipv4_addr; flags timeout; }"));
        assert!(s.contains(
            "add set inet logward ipv6_net { type ipv6_addr; flags interval, timeout; }"
        ));
        assert!(s.contains("type filter hook input priority -10; policy accept;"));
        assert!(s.contains("ip6 saddr & ffff:ffff:ffff:ffff:: @ipv6_addr counter drop"));
        let mut s = String::new();
        nft(128).write_setup(&mut s);
        assert!(s.contains("add rule inet logward input ip6 saddr @ipv6_addr counter drop"));
    }

    #[test]
    fn ban_script_sets_exact_timeouts_in_one_statement_per_set() {
        let mut s = String::new();
        let n = nft(64).write_ban(
            &mut s,
            &[
                ban("192.0.2.1", Some(600)),
                ban("192.0.2.2", None),
                ban("192.0.2.1", Some(60)),
                ban("2001:db8:1:2::5", Some(30)),
                ban("2001:db8:1:2::6", Some(90)),
            ],
        );
        assert_eq!(n, 3);
        let expected = "\
add element inet logward ipv4_addr {
192.0.2.1 timeout 1s,
192.0.2.2 timeout 1s
}
add element inet logward ipv6_addr {
2001:db8:1:2:: timeout 1s
}
delete element inet logward ipv4_addr {
192.0.2.1,
192.0.2.2
}
delete element inet logward ipv6_addr {
2001:db8:1:2::
}
add element inet logward ipv4_addr {
192.0.2.1 timeout 600s,
192.0.2.2
}
add element inet logward ipv6_addr {
2001:db8:1:2:: timeout 90s
}
";
        assert_eq!(s, expected);
    }

    #[test]
    fn networks_and_aggregation_pick_their_sets() {
        let n = nft(64);
        let e = n.elements(
            [
                ban("10.0.0.0/8", Some(10)),
                ban("10.1.0.0/16", Some(99)),
                ban("10.1.2.3", Some(5)),
                ban("2001:db8::/32", None),
                ban("2001:db8:0:1::/80", Some(7)),
            ]
            .iter()
            .map(|b| (b.target, b.timeout, b.exact)),
        );
        let v4net: Vec<_> = e[&SetName::Ipv4Net].iter().collect();
        assert_eq!(v4net.len(), 1, "the /16 inside the /8 is folded into it");
        assert_eq!(v4net[0].0.to_string(), "10.0.0.0/8");
        assert_eq!(*v4net[0].1, Some(99));
        assert_eq!(e[&SetName::Ipv4Addr].len(), 1);
        // The /80 is narrower than the aggregation prefix: it becomes its /64.
        let v6: Vec<String> = e[&SetName::Ipv6Addr]
            .keys()
            .map(|t| t.to_string())
            .collect();
        assert_eq!(v6, ["2001:db8:0:1::/64"]);
        assert_eq!(e[&SetName::Ipv6Net].len(), 1);

        // Without aggregation an IPv6 address stays itself.
        let e = nft(128).elements(std::iter::once((
            BanTarget::parse("2001:db8::5").unwrap(),
            None,
            false,
        )));
        let mut s = String::new();
        nft(128).write_elements(&mut s, "add", &e, ElementTimeout::Given);
        assert_eq!(s, "add element inet logward ipv6_addr {\n2001:db8::5\n}\n");
    }

    #[test]
    fn unban_never_fails_on_a_missing_element() {
        let mut s = String::new();
        nft(64).write_unban(&mut s, &[BanTarget::parse("198.51.100.4").unwrap()]);
        assert_eq!(
            s,
            "add element inet logward ipv4_addr {\n198.51.100.4 timeout 1s\n}\n\
             delete element inet logward ipv4_addr {\n198.51.100.4\n}\n"
        );
    }

    #[test]
    fn timeouts_are_whole_seconds_within_bounds() {
        assert_eq!(timeout_secs(Duration::from_millis(1)), 1);
        assert_eq!(timeout_secs(Duration::from_millis(1500)), 2);
        assert_eq!(timeout_secs(Duration::ZERO), 1);
        assert_eq!(
            timeout_secs(Duration::from_secs(u64::MAX)),
            MAX_TIMEOUT.as_secs()
        );
        assert_eq!(longer(Some(3), None), None);
        assert_eq!(longer(Some(3), Some(9)), Some(9));
    }

    #[test]
    fn config_is_checked() {
        let bad = |cfg: NftConfig| Nftables::new(cfg).is_err();
        assert!(bad(NftConfig {
            table: "log ward; flush ruleset".into(),
            ..NftConfig::default()
        }));
        assert!(bad(NftConfig {
            chain: "".into(),
            ..NftConfig::default()
        }));
        assert!(bad(NftConfig {
            argv: vec![],
            ..NftConfig::default()
        }));
        assert!(bad(NftConfig {
            ipv6_prefix: 129,
            ..NftConfig::default()
        }));
        assert!(Nftables::new(NftConfig::default()).is_ok());
    }
}
