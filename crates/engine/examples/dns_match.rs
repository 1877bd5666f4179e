//! Threat-list matching speed and memory (issue 17: ≥ 2 M look-ups/s on one core against a
//! 1 M-domain list, ≤ 64 MB). Run by bench/dns_match.sh, which generates the list and the
//! queries and runs `rg -F -x -f` beside it:
//!
//!     cargo run --release -p logward-engine --example dns_match -- LIST QUERIES [STRUCTURE] [PASSES]
//!
//! STRUCTURE is `domainset` (what the agent uses: `ListSet` over the file), or one of the
//! alternatives it was chosen against, built from the same names: `sorted` (reversed names
//! sorted, one binary search for the nearest listed prefix) or `hashset` (std `HashSet` of the
//! names, one probe per suffix). Each process builds one structure, so its RSS growth is its
//! own. Prints one line of `key=value`: load seconds, RSS growth, the structure's own bytes,
//! hits, and look-ups per second of this thread's CPU time (median of PASSES passes).

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Instant;

use logward_core::Severity;
use logward_engine::dns::{ListSet, ListSpec};

/// Nanoseconds this thread has spent on a CPU (Linux schedstat): not stretched while other
/// processes hold the cores of a shared machine.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Resident bytes of this process (statm's second field, in pages).
fn rss() -> u64 {
    let pages: u64 = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse().ok()))
        .unwrap_or(0);
    pages * 4096
}

/// Sorted reversed names (`moc.live.`), names under a listed parent dropped, so that the
/// greatest key ≤ a reversed query is the only candidate parent.
struct Sorted {
    arena: Vec<u8>,
    ends: Vec<u32>,
}

impl Sorted {
    fn build(names: &[String]) -> Sorted {
        let mut keys: Vec<Vec<u8>> = names
            .iter()
            .map(|n| {
                let mut k: Vec<u8> = n
                    .split('.')
                    .rev()
                    .collect::<Vec<_>>()
                    .join(".")
                    .into_bytes();
                k.push(b'.');
                k
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut arena = Vec::new();
        let mut ends = Vec::new();
        let mut last: Option<Vec<u8>> = None;
        for k in keys {
            if last.as_ref().is_some_and(|p| k.starts_with(p)) {
                continue;
            }
            arena.extend_from_slice(&k);
            ends.push(arena.len() as u32);
            last = Some(k);
        }
        arena.shrink_to_fit();
        ends.shrink_to_fit();
        Sorted { arena, ends }
    }

    fn key(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.arena[start..self.ends[i] as usize]
    }

    fn contains(&self, q: &str, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        for label in q.rsplit('.') {
            buf.extend_from_slice(label.as_bytes());
            buf.push(b'.');
        }
        let at = partition_point(self.ends.len(), |i| self.key(i) <= &buf[..]);
        at > 0 && buf.starts_with(self.key(at - 1))
    }

    fn bytes(&self) -> usize {
        self.arena.len() + self.ends.len() * 4
    }
}

fn partition_point(len: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

fn hashset_contains(set: &HashSet<String>, q: &str) -> bool {
    let mut s = q;
    loop {
        if set.contains(s) {
            return true;
        }
        match s.split_once('.') {
            Some((_, parent)) => s = parent,
            None => return false,
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [list, queries, rest @ ..] = args.as_slice() else {
        return Err("usage: dns_match LIST QUERIES [domainset|sorted|hashset] [PASSES]".into());
    };
    let structure = rest.first().map_or("domainset", String::as_str);
    let passes: usize = rest.get(1).and_then(|p| p.parse().ok()).unwrap_or(5);
    let text = std::fs::read_to_string(queries).map_err(|e| format!("{queries}: {e}"))?;
    let queries: Vec<&str> = text.lines().collect();

    let rss0 = rss();
    let t0 = Instant::now();
    let lookup: Box<dyn Fn(&str) -> bool>;
    let (entries, bytes);
    match structure {
        "domainset" => {
            let spec = ListSpec {
                name: "bench".into(),
                severity: Severity::High,
                path: list.into(),
                format: None,
            };
            let (set, outcomes) = ListSet::load([spec]);
            if let Some(o) = outcomes.iter().find(|o| o.is_problem()) {
                return Err(o.to_string());
            }
            entries = set.lists().map(|(_, d, _)| d).sum::<usize>();
            bytes = set.heap_bytes();
            lookup = Box::new(move |q| set.lookup(q).is_some());
        }
        "sorted" | "hashset" => {
            let names: Vec<String> = std::fs::read_to_string(list)
                .map_err(|e| format!("{list}: {e}"))?
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect();
            if structure == "sorted" {
                let s = Sorted::build(&names);
                drop(names);
                entries = s.ends.len();
                bytes = s.bytes();
                let buf = std::cell::RefCell::new(Vec::with_capacity(256));
                lookup = Box::new(move |q| s.contains(q, &mut buf.borrow_mut()));
            } else {
                let set: HashSet<String> = names.into_iter().collect();
                entries = set.len();
                // Buckets (a String and a control byte each) and the strings' own bytes.
                bytes = set.capacity() * (std::mem::size_of::<String>() + 1)
                    + set.iter().map(|s| s.capacity()).sum::<usize>();
                lookup = Box::new(move |q| hashset_contains(&set, q));
            }
        }
        other => return Err(format!("unknown structure {other:?}")),
    }
    let load_s = t0.elapsed().as_secs_f64();
    let rss_mb = rss().saturating_sub(rss0) as f64 / (1 << 20) as f64;

    let mut rates = Vec::new();
    let mut hits = 0usize;
    for _ in 0..passes.max(1) {
        let (w0, c0) = (Instant::now(), thread_cpu_ns());
        hits = 0;
        for q in &queries {
            if lookup(black_box(q)) {
                hits += 1;
            }
        }
        let secs = match (c0, thread_cpu_ns()) {
            (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
            _ => w0.elapsed().as_secs_f64(),
        };
        rates.push(queries.len() as f64 / secs);
    }
    println!(
        "structure={structure} entries={entries} load_s={load_s:.3} rss_mb={rss_mb:.1} heap_mb={:.1} queries={} hits={hits} lookups_per_cpu_s={:.0}",
        bytes as f64 / (1 << 20) as f64,
        queries.len(),
        median(rates)
    );
    Ok(())
}
