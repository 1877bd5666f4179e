//! The anomaly detector's evaluation (docs/ANOMALY.md, "Evaluation") on the seed whose
//! mistakes were not read while the weights changed.

use logward_anomaly_eval::evaluate;
use logward_anomaly_eval::scenario::{AttackKind, Config, Scenario};
use logward_engine::anomaly::Settings;

/// Changes were chosen from seeds 1, 3 and 4; this one's table was printed along the way, its
/// mistakes were not read until the end (docs/ANOMALY.md, "Measured").
const HELD_OUT_SEED: u64 = 7;

#[test]
fn held_out_seed_meets_the_targets_with_and_without_the_lof() {
    let s = Scenario::generate(Config::new(HELD_OUT_SEED, 200));
    let (on, off) = evaluate::both(&s, &Settings::default());
    println!("{}", evaluate::table(&[("LOF on", &on), ("LOF off", &off)]));
    // Targets: recall ≥ 0.95 per attack type, ≤ 1 false alert per 1,000 normal logins.
    for (name, r) in [("LOF on", &on), ("LOF off", &off)] {
        for k in AttackKind::ALL {
            assert!(r.recall(k) >= 0.95, "{name} {k:?}: {}", r.recall(k));
        }
        assert!(r.false_per_1000() <= 1.0, "{name}: {}", r.false_per_1000());
    }
}

/// Other seeds than the held-out one, at five times the users: the figures are not one
/// lucky draw.
#[test]
fn other_seeds_and_more_users_meet_the_targets_too() {
    for seed in [2, 3, 4] {
        let s = Scenario::generate(Config::new(seed, 1000));
        let r = evaluate::run(&s, &Settings::default());
        for k in AttackKind::ALL {
            assert!(r.recall(k) >= 0.95, "seed {seed} {k:?}: {}", r.recall(k));
        }
        assert!(
            r.false_per_1000() <= 1.0,
            "seed {seed}: {}",
            r.false_per_1000()
        );
    }
}

/// The tuning run: `ANOMALY_SEED=1 cargo test -p logward-engine --test anomaly_eval -- --ignored --nocapture`.
#[test]
#[ignore = "prints the table of a chosen seed"]
fn print_table() {
    let seed = std::env::var("ANOMALY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let s = Scenario::generate(Config::new(seed, 200));
    let (on, off) = evaluate::both(&s, &Settings::default());
    println!(
        "seed {seed}\n{}",
        evaluate::table(&[("LOF on", &on), ("LOF off", &off)])
    );
}
