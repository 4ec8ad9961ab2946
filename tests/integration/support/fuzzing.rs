//! Shared by the fuzz tests: run a proptest property over and over until a
//! deadline (`OJSCOG_FUZZ_SECS`, default 3 s so `cargo test` stays fast; the
//! full run in RELIABILITY.md uses 600), then print what was run.
//!
//! Each round is a fresh proptest runner on a seed derived from the run's
//! seed (`OJSCOG_FUZZ_SEED`, default: the clock), so a failure prints the
//! seed and the shrunk input, and `OJSCOG_FUZZ_SEED=<seed>` replays it.

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use std::time::{Duration, Instant};

/// Cases per proptest round (the deadline is checked between rounds).
const ROUND: u32 = 16;

/// Seconds each fuzz target runs for.
pub fn budget() -> Duration {
    let secs = std::env::var("OJSCOG_FUZZ_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

fn base_seed() -> u64 {
    std::env::var("OJSCOG_FUZZ_SEED")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        })
}

/// Runs `property` on inputs from `strategy` until the budget is spent (at
/// least one round). Panics with the seed and the shrunk input on the first
/// failure or panic. Returns the number of cases run.
pub fn fuzz<S, F>(name: &str, strategy: S, property: F) -> u64
where
    S: Strategy,
    S::Value: std::fmt::Debug,
    F: Fn(S::Value) -> Result<(), TestCaseError>,
{
    let budget = budget();
    let seed = base_seed();
    let started = Instant::now();
    let mut cases: u64 = 0;
    let mut round: u64 = 0;
    while round == 0 || started.elapsed() < budget {
        let round_seed = seed.wrapping_add(round.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&round_seed.to_le_bytes());
        let config = Config {
            cases: ROUND,
            failure_persistence: None,
            max_shrink_iters: 2000,
            ..Config::default()
        };
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
        if let Err(e) = runner.run(&strategy, &property) {
            panic!(
                "fuzz {name}: failure after {cases} cases (OJSCOG_FUZZ_SEED={seed}, round {round}): {e}"
            );
        }
        cases += u64::from(ROUND);
        round += 1;
    }
    eprintln!(
        "fuzz {name}: {cases} cases in {:.0} s, 0 crashes (seed {seed})",
        started.elapsed().as_secs_f64()
    );
    cases
}
