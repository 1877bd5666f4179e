//! Seeds a state directory with active bans, for the start-up re-apply benchmark
//! (bench/agent.sh): going through `logward bans add` would take one control call each.
//!
//!     cargo run --release -p logward-store --example seed_bans -- STATE_DIR N [SECONDS]
//!
//! Bans N distinct addresses for SECONDS (default 1 day) in one transaction: IPv4 addresses
//! spread over 10.0.0.0/8 and every tenth one an IPv6 address with its own /64 in
//! 2001:db8::/32, the shape of bench/gen_flood.py's addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::ExitCode;

use logward_store::{AgentStore, BanChange, BanTarget, Batch, NewBan, SqliteStore};

fn address(i: u32) -> IpAddr {
    if i % 10 == 9 {
        let hi = u16::try_from(i >> 16).unwrap_or(u16::MAX);
        let lo = u16::try_from(i & 0xffff).unwrap_or(0);
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, hi, lo, 0, 0, 0, 1))
    } else {
        // An odd multiplier is a bijection mod 2^24: distinct for every i below 2^24.
        let a = i.wrapping_mul(2_654_435_761) & 0x00ff_ffff;
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | a))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(Ok(n))) = (args.first(), args.get(1).map(|n| n.parse::<u32>())) else {
        eprintln!("usage: seed_bans STATE_DIR N [SECONDS]");
        return ExitCode::from(2);
    };
    let secs: i64 = match args.get(2).map(|s| s.parse()) {
        None => 86_400,
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            eprintln!("seed_bans: SECONDS: {e}");
            return ExitCode::from(2);
        }
    };
    if n >= 1 << 24 {
        eprintln!("seed_bans: at most 2^24 - 1 bans");
        return ExitCode::from(2);
    }
    let now = logward_core::clock::unix_now();
    let mut batch = Batch::default();
    for i in 0..n {
        let target = match BanTarget::host(address(i)) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("seed_bans: {e}");
                return ExitCode::from(2);
            }
        };
        batch.bans.push(BanChange::Add(NewBan {
            target,
            reason: "seeded by seed_bans".to_owned(),
            rule_id: Some("ssh-bruteforce".to_owned()),
            created_at: now,
            expires_at: Some(now + secs),
        }));
    }
    let result = SqliteStore::open_dir(&PathBuf::from(dir)).and_then(|mut s| {
        s.commit_batch(&batch)?;
        s.active_bans(now).map(|b| b.len())
    });
    match result {
        Ok(active) => {
            println!("{active} active bans in {dir}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seed_bans: {e}");
            ExitCode::FAILURE
        }
    }
}
