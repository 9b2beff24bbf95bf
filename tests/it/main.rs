//! Integration tests, linked as one binary (one link instead of one per file):
//! - [`backprop`]: `grad --json` intermediates and tape, `--trace`, `--dot`; per-layer gradient
//!   flow in headless reports.
//! - [`cli`]: the real binary with a closed or full stdout, and command-line slips.
//! - [`docs`]: every YAML example of `docs/scenarios.md` loads and builds.
//! - [`engines`]: every gradient engine agrees on random expression trees.
//! - [`fuzz`]: generated and mutated expressions, scenarios and explorer input; nothing panics,
//!   hangs or is refused without a location.
//! - [`headless`]: the real binary without a terminal: scenarios, errors, exports, `grad`.
//! - [`inputs`]: the real binary against special files, oversized requests and multi-class data.
//! - [`layers`]: the module layering (no terminal or plotting code below the front ends).
//! - [`models`]: model objectives differentiate alike on every engine and train.
//! - [`optimizers`]: torch tuples with `None`, triples and named options in files and reports;
//!   optimizers that are not offered say why.
//! - [`plot`]: exported plots: valid files whatever the losses, every view, clean axes.
//! - [`schedules`]: every learning-rate schedule against torch's, step for step.
//! - [`session`]: sessions are deterministic, rewind exactly and obey commands.
//! - [`sgd`]: per-run batches, fixed-order minibatch training, gradient noise statistics.
//! - [`tui_pty`]: the real binary in a pseudo-terminal.

use std::process::{Command, Output};

use proptest::test_runner::{Config, RngSeed};

/// The seed every property test draws its cases from unless `PROPTEST_RNG_SEED` is set.
const PROPTEST_SEED: u64 = 0x6772_6164_7363_6f70;

/// `config` with a fixed seed, so a run checks the same cases every time and CI cannot go red
/// by chance. To explore, `PROPTEST_RNG_SEED=<u64>` draws other cases and `PROPTEST_CASES=<n>`
/// overrides the case count (the unit tests' `proptest_seed::fixed_seed` does the same).
fn fixed_seed(config: Config) -> Config {
    let from_env = Config::default();
    Config {
        rng_seed: match std::env::var_os("PROPTEST_RNG_SEED") {
            Some(_) => from_env.rng_seed,
            None => RngSeed::Fixed(PROPTEST_SEED),
        },
        cases: match std::env::var_os("PROPTEST_CASES") {
            Some(_) => from_env.cases,
            None => config.cases,
        },
        // The seed reproduces a failure; a hunt over seeds should not leave files behind.
        failure_persistence: None,
        ..config
    }
}

/// Runs the real binary from the crate root.
fn gradscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradscope"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

mod backprop;
mod cli;
mod docs;
mod engines;
mod fuzz;
mod headless;
mod inputs;
mod layers;
mod models;
mod optimizers;
mod plot;
mod schedules;
mod session;
mod sgd;
mod tui_pty;
