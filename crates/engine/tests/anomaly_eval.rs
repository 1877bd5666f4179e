//! The anomaly detector's evaluation (docs/ANOMALY.md, "Evaluation") on the held-out seed.

use logward_engine::anomaly::evaluate;
use logward_engine::anomaly::scenario::{AttackKind, Config, Scenario};
use logward_engine::anomaly::Settings;

/// Tuned on seed 1; this one was not looked at while tuning.
const HELD_OUT_SEED: u64 = 7;

#[test]
fn held_out_seed_recall_and_measured_false_alert_floor_with_the_lof() {
    let s = Scenario::generate(Config::new(HELD_OUT_SEED, 200));
    let (on, off) = evaluate::both(&s, &Settings::default());
    println!("{}", evaluate::table(&[("LOF on", &on), ("LOF off", &off)]));
    for k in AttackKind::ALL {
        assert!(on.recall(k) >= 0.95, "{k:?}: {}", on.recall(k));
    }
    // The target is ≤ 1 false alert per 1,000 normal logins; it is NOT met (docs/ANOMALY.md,
    // "Evaluation": first business trips to a new country, and the real user's next login
    // after an attack from far away). This asserts the measured floor (5.58 on seed 7), so a
    // change that makes it worse fails.
    assert!(on.false_per_1000() <= 6.0, "{}", on.false_per_1000());
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
